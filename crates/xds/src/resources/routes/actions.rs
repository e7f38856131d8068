//! Route actions: a cluster, or weighted clusters for a splitter; the
//! router destination's rewrite, timeouts, retries and header edits.

use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, header_value_option,
};
use envoy_types::pb::envoy::config::route::v3::{
    RetryPolicy, Route, RouteAction, WeightedCluster, route_action, weighted_cluster,
};
use skein_chain::DiscoveryGraphNode;
use skein_config_entry::{HttpHeaderModifiers, ServiceRouteDestination, scale_weight};
use skein_proxycfg::UpstreamSnapshot;

use crate::error::{Error, Result};
use crate::resources::{plan, proto};

/// Sends every request to `cluster`.
pub(crate) fn to_cluster(cluster: String) -> RouteAction {
    RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster)),
        ..RouteAction::default()
    }
}

/// A splitter's legs as weighted clusters, weights in units of 0.01%
/// (so they sum to 10000).
pub(crate) fn split(u: &UpstreamSnapshot, node: &DiscoveryGraphNode) -> Result<RouteAction> {
    let mut clusters = Vec::with_capacity(node.splits.len());
    for leg in &node.splits {
        let next = plan::node(u, &leg.next_node)?;
        let resolver = plan::resolution(u, next, "after a split")?;
        let mut weighted = weighted_cluster::ClusterWeight {
            name: plan::resolver_cluster(u, resolver)?,
            weight: Some(proto::uint32(leg_weight(leg.weight))),
            ..weighted_cluster::ClusterWeight::default()
        };
        if let Some(def) = &leg.definition {
            let (add, remove) = header_edits(def.request_headers.as_ref());
            weighted.request_headers_to_add = add;
            weighted.request_headers_to_remove = remove;
            let (add, remove) = header_edits(def.response_headers.as_ref());
            weighted.response_headers_to_add = add;
            weighted.response_headers_to_remove = remove;
        }
        clusters.push(weighted);
    }
    if clusters.is_empty() {
        return Err(Error::EmptySplitter {
            upstream: u.envoy_id.clone(),
            node: node.map_key(),
        });
    }
    Ok(RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(
            WeightedCluster {
                clusters,
                ..WeightedCluster::default()
            },
        )),
        ..RouteAction::default()
    })
}

fn leg_weight(weight: f32) -> u32 {
    u32::try_from(scale_weight(weight)).unwrap_or(0)
}

/// Prefix rewrite, timeouts (negative disables: 0s) and retries.
pub(crate) fn apply_destination(dest: &ServiceRouteDestination, action: &mut RouteAction) {
    action.prefix_rewrite.clone_from(&dest.prefix_rewrite);
    if !dest.request_timeout.is_zero() {
        action.timeout = Some(proto::go_duration(dest.request_timeout));
    }
    if !dest.idle_timeout.is_zero() {
        action.idle_timeout = Some(proto::go_duration(dest.idle_timeout));
    }
    if has_retries(dest) {
        action.retry_policy = Some(retry_policy(dest));
    }
}

/// The destination's request and response header edits, on the route.
pub(crate) fn apply_headers(dest: &ServiceRouteDestination, route: &mut Route) {
    let (add, remove) = header_edits(dest.request_headers.as_ref());
    route.request_headers_to_add = add;
    route.request_headers_to_remove = remove;
    let (add, remove) = header_edits(dest.response_headers.as_ref());
    route.response_headers_to_add = add;
    route.response_headers_to_remove = remove;
}

fn has_retries(d: &ServiceRouteDestination) -> bool {
    d.num_retries > 0
        || d.retry_on_connect_failure
        || !d.retry_on.is_empty()
        || !d.retry_on_status_codes.is_empty()
}

/// `retry_on` joins the conditions; `connect-failure` once at most;
/// status codes add `retriable-status-codes`.
fn retry_policy(d: &ServiceRouteDestination) -> RetryPolicy {
    let mut on = d.retry_on.clone();
    if d.retry_on_connect_failure && !on.iter().any(|r| r == "connect-failure") {
        on.push("connect-failure".to_owned());
    }
    if !d.retry_on_status_codes.is_empty() {
        on.push("retriable-status-codes".to_owned());
    }
    RetryPolicy {
        retry_on: on.join(","),
        num_retries: (d.num_retries > 0).then(|| proto::uint32(d.num_retries)),
        retriable_status_codes: d.retry_on_status_codes.clone(),
        ..RetryPolicy::default()
    }
}

/// `Add` appends, `Set` overwrites; both in name order.
fn header_edits(m: Option<&HttpHeaderModifiers>) -> (Vec<HeaderValueOption>, Vec<String>) {
    use header_value_option::HeaderAppendAction::{AppendIfExistsOrAdd, OverwriteIfExistsOrAdd};
    let Some(m) = m else {
        return (Vec::new(), Vec::new());
    };
    let add = m.add.iter().map(|kv| header_value(kv, AppendIfExistsOrAdd));
    let set = m
        .set
        .iter()
        .map(|kv| header_value(kv, OverwriteIfExistsOrAdd));
    (add.chain(set).collect(), m.remove.clone())
}

fn header_value(
    (key, value): (&String, &String),
    action: header_value_option::HeaderAppendAction,
) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.clone(),
            value: value.clone(),
            ..HeaderValue::default()
        }),
        append_action: action as i32,
        ..HeaderValueOption::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_join_conditions_once() {
        let dest = ServiceRouteDestination {
            num_retries: 3,
            retry_on_connect_failure: true,
            retry_on: vec!["connect-failure".into(), "5xx".into()],
            retry_on_status_codes: vec![503],
            ..ServiceRouteDestination::default()
        };
        let p = retry_policy(&dest);
        assert_eq!(p.retry_on, "connect-failure,5xx,retriable-status-codes");
        assert_eq!(p.num_retries, Some(proto::uint32(3)));
        assert_eq!(p.retriable_status_codes, vec![503]);
    }

    #[test]
    fn weights_scale_to_ten_thousandths() {
        assert_eq!(leg_weight(33.33), 3333);
        assert_eq!(leg_weight(66.67), 6667);
        assert_eq!(leg_weight(100.0), 10000);
    }
}
