//! Key normalization: Consul accepts `PascalCase`, `camelCase`, lower-case and
//! `snake_case` spellings of every field (mapstructure matches field names
//! case-insensitively and `HookTranslateKeys` maps `snake_case` aliases).
//! This module rewrites every key in a struct position to its canonical
//! spelling before serde sees it; keys of free-form maps are left alone.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Every field name of every entry struct, as rendered.
const CANONICAL: &[&str] = &[
    // common
    "Kind",
    "Name",
    "Namespace",
    "Partition",
    "Meta",
    "CreateIndex",
    "ModifyIndex",
    "Hash",
    // service-defaults / proxy-defaults
    "Protocol",
    "Mode",
    "TransparentProxy",
    "MutualTLSMode",
    "MeshGateway",
    "Expose",
    "ExternalSNI",
    "UpstreamConfig",
    "Destination",
    "MaxInboundConnections",
    "LocalConnectTimeoutMs",
    "LocalRequestTimeoutMs",
    "BalanceInboundConnections",
    "RateLimits",
    "EnvoyExtensions",
    "OutboundListenerPort",
    "DialedDirectly",
    "Checks",
    "Paths",
    "ListenerPort",
    "Path",
    "LocalPathPort",
    "ParsedFromCheck",
    "Overrides",
    "Defaults",
    "Peer",
    "EnvoyListenerJSON",
    "EnvoyClusterJSON",
    "ConnectTimeoutMs",
    "Limits",
    "PassiveHealthCheck",
    "BalanceOutboundConnections",
    "MaxConnections",
    "MaxPendingRequests",
    "MaxConcurrentRequests",
    "Interval",
    "MaxFailures",
    "EnforcingConsecutive5xx",
    "MaxEjectionPercent",
    "BaseEjectionTime",
    "Addresses",
    "Port",
    "InstanceLevel",
    "RequestsPerSecond",
    "RequestsMaxBurst",
    "Required",
    "Arguments",
    "ConsulVersion",
    "EnvoyVersion",
    "Config",
    "AccessLogs",
    "FailoverPolicy",
    "PrioritizeByLocality",
    "Enabled",
    "DisableListenerLogs",
    "Type",
    "JSONFormat",
    "TextFormat",
    "Regions",
    // service-router
    "Routes",
    "Match",
    "HTTP",
    "PathExact",
    "PathPrefix",
    "PathRegex",
    "Header",
    "QueryParam",
    "Methods",
    "Present",
    "Exact",
    "Prefix",
    "Suffix",
    "Regex",
    "Invert",
    "Service",
    "ServiceSubset",
    "PrefixRewrite",
    "RequestTimeout",
    "IdleTimeout",
    "NumRetries",
    "RetryOnConnectFailure",
    "RetryOn",
    "RetryOnStatusCodes",
    "RequestHeaders",
    "ResponseHeaders",
    "Add",
    "Set",
    "Remove",
    // service-splitter
    "Splits",
    "Weight",
    // service-resolver
    "DefaultSubset",
    "Subsets",
    "Redirect",
    "Failover",
    "ConnectTimeout",
    "LoadBalancer",
    "Filter",
    "OnlyPassing",
    "SamenessGroup",
    "Datacenter",
    "Datacenters",
    "Targets",
    "Policy",
    "RingHashConfig",
    "LeastRequestConfig",
    "HashPolicies",
    "MinimumRingSize",
    "MaximumRingSize",
    "ChoiceCount",
    "Field",
    "FieldValue",
    "CookieConfig",
    "SourceIP",
    "Terminal",
    "Session",
    "TTL",
    // mesh
    "MeshDestinationsOnly",
    "AllowEnablingPermissiveMutualTLS",
    "ValidateClusters",
    "TLS",
    "Incoming",
    "Outgoing",
    "TLSMinVersion",
    "TLSMaxVersion",
    "CipherSuites",
    "SanitizeXForwardedClientCert",
    "RequestNormalization",
    "InsecureDisablePathNormalization",
    "MergeSlashes",
    "PathWithEscapedSlashesAction",
    "HeadersWithUnderscoresAction",
    "Peering",
    "PeerThroughMeshGateways",
    // gateways
    "Listeners",
    "SDS",
    "ClusterName",
    "CertResource",
    "Services",
    "Hosts",
    "CAFile",
    "CertFile",
    "KeyFile",
    "SNI",
    // service-intentions
    "Sources",
    "Action",
    "Permissions",
    "Precedence",
    "Description",
    "LegacyID",
    "LegacyMeta",
    "LegacyCreateTime",
    "LegacyUpdateTime",
    "JWT",
    "Providers",
    "VerifyClaims",
    "Value",
    "Contains",
    "IgnoreCase",
    "ID",
];

/// Keys whose value is a free-form map: kept verbatim, not descended into.
const OPAQUE_MAPS: &[&str] = &["Meta", "Config", "Arguments", "Add", "Set", "LegacyMeta"];

/// Keys whose value maps user-chosen names to structs.
const NAMED_STRUCT_MAPS: &[&str] = &["Subsets", "Failover"];

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn table() -> &'static HashMap<String, &'static str> {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| CANONICAL.iter().map(|k| (fold(k), *k)).collect())
}

/// The canonical spelling of `key`, when it is a known field name.
pub(crate) fn canonical(key: &str) -> Option<&'static str> {
    table().get(&fold(key)).copied()
}

/// Rewrites the keys of a struct-shaped object (and everything below it).
pub(crate) fn normalize_object(obj: Map<String, Value>, path: &str) -> Result<Map<String, Value>> {
    let mut out = Map::with_capacity(obj.len());
    for (key, value) in obj {
        // mapstructure leaves a field at its zero value when given null.
        if value.is_null() {
            continue;
        }
        let canon = canonical(&key).map_or_else(|| key.clone(), str::to_string);
        let child_path = join(path, &canon);
        if out.contains_key(&canon) {
            return Err(Error::UnknownKey {
                key: join(path, &key),
            });
        }
        let value = normalize_field(&canon, value, &child_path)?;
        out.insert(canon, value);
    }
    Ok(out)
}

fn normalize_field(key: &str, value: Value, path: &str) -> Result<Value> {
    if OPAQUE_MAPS.contains(&key) {
        return Ok(value);
    }
    match value {
        Value::Object(map) if NAMED_STRUCT_MAPS.contains(&key) => {
            let mut out = Map::with_capacity(map.len());
            for (name, inner) in map {
                let inner_path = format!("{path}.{name}");
                let inner = match inner {
                    Value::Null => Value::Object(Map::new()),
                    other => normalize_value(other, &inner_path)?,
                };
                out.insert(name, inner);
            }
            Ok(Value::Object(out))
        }
        other => normalize_value(other, path),
    }
}

fn normalize_value(value: Value, path: &str) -> Result<Value> {
    match value {
        Value::Object(map) => normalize_object(map, path).map(Value::Object),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| normalize_value(v, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_and_lower_case_map_to_canonical() {
        assert_eq!(canonical("connect_timeout"), Some("ConnectTimeout"));
        assert_eq!(canonical("service_subset"), Some("ServiceSubset"));
        assert_eq!(canonical("sni"), Some("SNI"));
        assert_eq!(canonical("ca_file"), Some("CAFile"));
        assert_eq!(canonical("source_ip"), Some("SourceIP"));
        assert_eq!(
            canonical("enforcing_consecutive_5xx"),
            Some("EnforcingConsecutive5xx")
        );
        assert_eq!(canonical("bogus"), None);
    }

    #[test]
    fn free_maps_keep_their_keys() {
        let input = serde_json::json!({
            "meta": {"connect_timeout": "x"},
            "subsets": {"v1": {"only_passing": true}},
        });
        let Value::Object(obj) = input else { panic!() };
        let out = normalize_object(obj, "").unwrap();
        assert_eq!(
            Value::Object(out),
            serde_json::json!({
                "Meta": {"connect_timeout": "x"},
                "Subsets": {"v1": {"OnlyPassing": true}},
            })
        );
    }
}
