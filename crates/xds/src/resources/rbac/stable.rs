//! RBAC configs with a stable encoding.
//!
//! `envoy.config.rbac.v3.RBAC.policies` is a protobuf map, which the
//! generated type holds in a `HashMap`: its entries encode in a random
//! order, so the bytes (and the resource version) would change between
//! builds. These mirrors carry the same fields under the same tags with a
//! `BTreeMap`, so policies encode in name order; Envoy decodes them as the
//! real messages.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::rbac::v3::Policy;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac as HttpRbac;
use envoy_types::pb::envoy::extensions::filters::network::rbac::v3::Rbac as NetworkRbac;
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};

/// `envoy.config.rbac.v3.RBAC`: action and policies.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct StableRules {
    /// `RBAC.Action` (ALLOW = 0, DENY = 1).
    #[prost(int32, tag = "1")]
    pub(crate) action: i32,
    /// Policies by name.
    #[prost(btree_map = "string, message", tag = "2")]
    pub(crate) policies: BTreeMap<String, Policy>,
}

/// `envoy.extensions.filters.network.rbac.v3.RBAC`: rules and stat prefix.
#[derive(Clone, PartialEq, Message)]
struct StableNetworkRbac {
    #[prost(message, optional, tag = "1")]
    rules: Option<StableRules>,
    #[prost(string, tag = "3")]
    stat_prefix: String,
}

/// `envoy.extensions.filters.http.rbac.v3.RBAC`: rules.
#[derive(Clone, PartialEq, Message)]
struct StableHttpRbac {
    #[prost(message, optional, tag = "1")]
    rules: Option<StableRules>,
}

/// The network RBAC filter config, packed.
pub(crate) fn network_config(rules: StableRules, stat_prefix: &str) -> Any {
    let config = StableNetworkRbac {
        rules: Some(rules),
        stat_prefix: stat_prefix.to_owned(),
    };
    Any {
        type_url: NetworkRbac::type_url(),
        value: config.encode_to_vec(),
    }
}

/// The HTTP RBAC filter config, packed.
pub(crate) fn http_config(rules: StableRules) -> Any {
    let config = StableHttpRbac { rules: Some(rules) };
    Any {
        type_url: HttpRbac::type_url(),
        value: config.encode_to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::rbac::v3::Rbac;
    use envoy_types::pb::envoy::config::rbac::v3::rbac::Action;

    use super::*;
    use crate::resources::rbac::matchers::any_permission;

    fn rules(n: usize) -> StableRules {
        let policies = (0..n)
            .map(|i| {
                let policy = Policy {
                    permissions: vec![any_permission()],
                    ..Policy::default()
                };
                (format!("p{i}"), policy)
            })
            .collect();
        StableRules {
            action: Action::Deny as i32,
            policies,
        }
    }

    #[test]
    fn decodes_as_the_real_messages() {
        let any = network_config(rules(5), "connect_authz");
        let real = NetworkRbac::decode(any.value.as_slice()).unwrap();
        assert_eq!(real.stat_prefix, "connect_authz");
        let decoded: Rbac = real.rules.unwrap();
        assert_eq!(decoded.action, Action::Deny as i32);
        assert_eq!(decoded.policies.len(), 5);
        let http = HttpRbac::decode(http_config(rules(2)).value.as_slice()).unwrap();
        assert_eq!(http.rules.unwrap().policies.len(), 2);
    }

    #[test]
    fn encoding_is_stable() {
        let first = network_config(rules(8), "x");
        for _ in 0..10 {
            assert_eq!(network_config(rules(8), "x"), first);
        }
    }

    #[test]
    fn empty_rules_are_still_present() {
        let any = http_config(StableRules::default());
        let real = HttpRbac::decode(any.value.as_slice()).unwrap();
        assert_eq!(real.rules, Some(Rbac::default()));
    }
}
