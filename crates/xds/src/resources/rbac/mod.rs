//! Intentions → Envoy RBAC: the network filter of L4 services and the HTTP
//! filter of HTTP-like ones.
//!
//! With default deny the RBAC action is ALLOW and the policies list what
//! allow intentions grant; with default allow it is DENY and the policies
//! list what deny intentions refuse. No policy at all under ALLOW denies
//! everything. Policies: `consul-intentions-layer4` (every L4 principal,
//! any permission) and `consul-intentions-layer7-<i>` (one per L7
//! intention, `<i>` its index among the rules).

mod intentions;
mod matchers;
mod stable;

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::listener::v3::Filter;
use envoy_types::pb::envoy::config::rbac::v3::Policy;
use envoy_types::pb::envoy::config::rbac::v3::rbac::Action;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use skein_proxycfg::ProxySnapshot;

use self::intentions::Verdict;
use self::stable::StableRules;
use super::{names, proto};
use crate::error::Result;

pub(crate) use self::matchers::methods as methods_header;

/// The L4 policy's name.
const LAYER4_POLICY: &str = "consul-intentions-layer4";

/// `envoy.filters.network.rbac` for an L4 public listener.
pub(crate) fn network_filter(s: &ProxySnapshot) -> Result<Filter> {
    let config = stable::network_config(rules(s, false)?, names::CONNECT_AUTHZ);
    Ok(proto::network_filter(names::NETWORK_RBAC, config))
}

/// `envoy.filters.http.rbac` for an HTTP-like public listener.
pub(crate) fn http_filter(s: &ProxySnapshot) -> Result<HttpFilter> {
    let config = stable::http_config(rules(s, true)?);
    Ok(proto::http_filter(names::HTTP_RBAC, config))
}

/// The RBAC rules of the snapshot's intentions.
fn rules(s: &ProxySnapshot, http: bool) -> Result<StableRules> {
    let action = if s.default_allow {
        Action::Deny
    } else {
        Action::Allow
    };
    let mut policies = BTreeMap::new();
    let mut layer4 = Vec::new();
    for (i, rule) in intentions::rules(s, http)?.iter().enumerate() {
        let principal = matchers::rule_principal(&s.trust_domain, rule);
        if rule.verdict == Verdict::Layer7 {
            let policy = Policy {
                principals: vec![principal],
                permissions: rule.permissions.clone(),
                ..Policy::default()
            };
            policies.insert(format!("consul-intentions-layer7-{i}"), policy);
        } else {
            layer4.push(principal);
        }
    }
    if !layer4.is_empty() {
        let policy = Policy {
            principals: layer4,
            permissions: vec![matchers::any_permission()],
            ..Policy::default()
        };
        policies.insert(LAYER4_POLICY.to_owned(), policy);
    }
    Ok(StableRules {
        action: action as i32,
        policies,
    })
}
