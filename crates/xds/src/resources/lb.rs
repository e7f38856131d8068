//! Service-resolver load balancers: the cluster's `lb_policy` (and its
//! config) and, for hash-based policies, the route's `hash_policy`.

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::route::v3::route_action::{HashPolicy, hash_policy};
use envoy_types::pb::google::protobuf::UInt64Value;
use skein_config_entry::{HashPolicy as ConsulHashPolicy, LoadBalancer};

use super::proto;
use crate::error::{Error, Result};

/// Sets the cluster's load balancing from the resolver's `LoadBalancer`.
pub(crate) fn apply_to_cluster(lb: Option<&LoadBalancer>, c: &mut Cluster) -> Result<()> {
    use cluster::LbPolicy;
    let Some(lb) = lb else { return Ok(()) };
    let (policy, config) = match lb.policy.as_str() {
        "" => return Ok(()),
        "least_request" => (LbPolicy::LeastRequest, least_request(lb)),
        "round_robin" => (LbPolicy::RoundRobin, None),
        "random" => (LbPolicy::Random, None),
        "ring_hash" => (LbPolicy::RingHash, ring_hash(lb)),
        "maglev" => (LbPolicy::Maglev, None),
        other => {
            return Err(Error::UnsupportedLbPolicy {
                policy: other.to_owned(),
                cluster: c.name.clone(),
            });
        }
    };
    c.lb_policy = policy as i32;
    c.lb_config = config;
    Ok(())
}

/// The route's hash policies, for hash-based load balancers only.
pub(crate) fn hash_policies(lb: Option<&LoadBalancer>) -> Result<Vec<HashPolicy>> {
    match lb {
        Some(lb) if lb.is_hash_based() => lb.hash_policies.iter().map(hash_policy).collect(),
        _ => Ok(Vec::new()),
    }
}

fn least_request(lb: &LoadBalancer) -> Option<cluster::LbConfig> {
    let config = lb.least_request_config.as_ref()?;
    Some(cluster::LbConfig::LeastRequestLbConfig(
        cluster::LeastRequestLbConfig {
            choice_count: Some(proto::uint32(config.choice_count)),
            ..cluster::LeastRequestLbConfig::default()
        },
    ))
}

fn ring_hash(lb: &LoadBalancer) -> Option<cluster::LbConfig> {
    let config = lb.ring_hash_config.as_ref()?;
    let size = |value| Some(UInt64Value { value });
    Some(cluster::LbConfig::RingHashLbConfig(
        cluster::RingHashLbConfig {
            minimum_ring_size: size(config.minimum_ring_size),
            maximum_ring_size: size(config.maximum_ring_size),
            ..cluster::RingHashLbConfig::default()
        },
    ))
}

fn hash_policy(p: &ConsulHashPolicy) -> Result<HashPolicy> {
    use hash_policy::PolicySpecifier;
    let specifier = if p.source_ip {
        PolicySpecifier::ConnectionProperties(hash_policy::ConnectionProperties { source_ip: true })
    } else {
        match p.field.as_str() {
            "header" => PolicySpecifier::Header(hash_policy::Header {
                header_name: p.field_value.clone(),
                ..hash_policy::Header::default()
            }),
            "cookie" => PolicySpecifier::Cookie(cookie(p)),
            "query_parameter" => PolicySpecifier::QueryParameter(hash_policy::QueryParameter {
                name: p.field_value.clone(),
            }),
            other => {
                return Err(Error::UnsupportedHashPolicy {
                    field: other.to_owned(),
                });
            }
        }
    };
    Ok(HashPolicy {
        terminal: p.terminal,
        policy_specifier: Some(specifier),
    })
}

/// A hashing cookie; a session cookie has a zero TTL (Envoy then issues a
/// session cookie).
fn cookie(p: &ConsulHashPolicy) -> hash_policy::Cookie {
    let mut cookie = hash_policy::Cookie {
        name: p.field_value.clone(),
        ..hash_policy::Cookie::default()
    };
    if let Some(config) = &p.cookie_config {
        cookie.path.clone_from(&config.path);
        if !config.ttl.is_zero() {
            cookie.ttl = Some(proto::go_duration(config.ttl));
        }
        if config.session {
            cookie.ttl = Some(proto::millis(0));
        }
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(policy: &str) -> LoadBalancer {
        LoadBalancer {
            policy: policy.to_owned(),
            ..LoadBalancer::default()
        }
    }

    #[test]
    fn unknown_policies_are_errors() {
        let mut c = Cluster::default();
        let err = apply_to_cluster(Some(&lb("fastest")), &mut c);
        assert!(matches!(err, Err(Error::UnsupportedLbPolicy { .. })));
    }

    #[test]
    fn hash_policies_only_for_hash_based_balancers() {
        let mut rr = lb("round_robin");
        rr.hash_policies = vec![ConsulHashPolicy {
            source_ip: true,
            ..ConsulHashPolicy::default()
        }];
        assert!(hash_policies(Some(&rr)).unwrap().is_empty());
        rr.policy = "maglev".to_owned();
        assert_eq!(hash_policies(Some(&rr)).unwrap().len(), 1);
    }
}
