//! Every key the renderer writes must be translatable from snake_case, so
//! every rendered struct key has to be in the canonical key table.

use serde_json::{Value, json};

use super::parse;
use crate::keys::canonical;

/// Entries with (nearly) every field set.
fn kitchen_sinks() -> Vec<Value> {
    vec![
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http", "Mode": "transparent",
            "TransparentProxy": {"OutboundListenerPort": 1, "DialedDirectly": true},
            "MutualTLSMode": "strict", "MeshGateway": {"Mode": "local"},
            "Expose": {"Checks": true, "Paths": [{"ListenerPort": 1, "Path": "/h", "LocalPathPort": 2, "Protocol": "http", "ParsedFromCheck": true}]},
            "ExternalSNI": "x.example",
            "UpstreamConfig": {"Overrides": [{"Name": "db", "Peer": "p", "EnvoyListenerJSON": "{}", "EnvoyClusterJSON": "{}",
                "Protocol": "tcp", "ConnectTimeoutMs": 5, "Limits": {"MaxConnections": 1, "MaxPendingRequests": 2, "MaxConcurrentRequests": 3},
                "PassiveHealthCheck": {"Interval": "1s", "MaxFailures": 1, "EnforcingConsecutive5xx": 2, "MaxEjectionPercent": 3, "BaseEjectionTime": "2s"},
                "MeshGateway": {"Mode": "remote"}, "BalanceOutboundConnections": "exact_balance"}],
                "Defaults": {"Protocol": "http"}},
            "MaxInboundConnections": 1, "LocalConnectTimeoutMs": 2, "LocalRequestTimeoutMs": 3,
            "BalanceInboundConnections": "exact_balance",
            "RateLimits": {"InstanceLevel": {"RequestsPerSecond": 1, "RequestsMaxBurst": 2,
                "Routes": [{"PathExact": "/x", "PathPrefix": "", "PathRegex": "", "RequestsPerSecond": 1, "RequestsMaxBurst": 1}]}},
            "EnvoyExtensions": [{"Name": "builtin/lua", "Required": true, "Arguments": {"Script": "x"}, "ConsulVersion": ">1", "EnvoyVersion": ">1"}],
            "Meta": {"a": "b"}}),
        json!({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"},
            "AccessLogs": {"Enabled": true, "DisableListenerLogs": true, "Type": "file", "Path": "/l", "JSONFormat": "{}"},
            "FailoverPolicy": {"Mode": "default", "Regions": ["r"]}}),
        json!({"Kind": "mesh", "TransparentProxy": {"MeshDestinationsOnly": true},
            "AllowEnablingPermissiveMutualTLS": true, "ValidateClusters": true,
            "TLS": {"Incoming": {"TLSMinVersion": "TLSv1_2", "TLSMaxVersion": "TLSv1_3", "CipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]},
                    "Outgoing": {"TLSMinVersion": "TLS_AUTO"}},
            "HTTP": {"SanitizeXForwardedClientCert": true, "Incoming": {"RequestNormalization": {
                "InsecureDisablePathNormalization": true, "MergeSlashes": true,
                "PathWithEscapedSlashesAction": "KEEP_UNCHANGED", "HeadersWithUnderscoresAction": "ALLOW"}}},
            "Peering": {"PeerThroughMeshGateways": true}}),
        json!({"Kind": "ingress-gateway", "Name": "igw",
            "TLS": {"Enabled": true, "SDS": {"ClusterName": "c", "CertResource": "r"}, "TLSMinVersion": "TLSv1_2", "TLSMaxVersion": "TLSv1_3", "CipherSuites": ["x"]},
            "Defaults": {"MaxConnections": 1, "MaxPendingRequests": 2, "MaxConcurrentRequests": 3, "PassiveHealthCheck": {"MaxFailures": 1}},
            "Listeners": [{"Port": 80, "Protocol": "http", "TLS": {"Enabled": true},
                "Services": [{"Name": "web", "Hosts": ["web.example"], "TLS": {"SDS": {"CertResource": "w"}},
                    "RequestHeaders": {"Add": {"a": "b"}, "Set": {"c": "d"}, "Remove": ["e"]},
                    "ResponseHeaders": {"Remove": ["f"]},
                    "MaxConnections": 1, "MaxPendingRequests": 2, "MaxConcurrentRequests": 3,
                    "PassiveHealthCheck": {"Interval": "2s"}, "Meta": {"m": "n"}}]}]}),
        json!({"Kind": "terminating-gateway", "Name": "t", "Services": [
            {"Name": "a", "CAFile": "ca", "CertFile": "c", "KeyFile": "k", "SNI": "s"}]}),
        json!({"Kind": "service-router", "Name": "web", "Routes": [{
            "Match": {"HTTP": {"PathPrefix": "/a", "Header": [{"Name": "h", "Regex": "x", "Invert": true}, {"Name": "p", "Present": true},
                {"Name": "s", "Suffix": "z"}, {"Name": "e", "Exact": "q"}, {"Name": "f", "Prefix": "q"}],
                "QueryParam": [{"Name": "q", "Present": true}, {"Name": "r", "Exact": "1"}, {"Name": "s", "Regex": "."}], "Methods": ["GET"]}},
            "Destination": {"Service": "b", "ServiceSubset": "v1", "PrefixRewrite": "/", "RequestTimeout": "1s", "IdleTimeout": "2s",
                "NumRetries": 1, "RetryOnConnectFailure": true, "RetryOn": ["5xx"], "RetryOnStatusCodes": [503],
                "RequestHeaders": {"Set": {"a": "b"}}, "ResponseHeaders": {"Add": {"c": "d"}}}}]}),
        json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 100, "Service": "b", "ServiceSubset": "v1",
            "RequestHeaders": {"Set": {"a": "b"}}, "ResponseHeaders": {"Remove": ["x"]}}]}),
        json!({"Kind": "service-resolver", "Name": "web", "DefaultSubset": "v1",
            "Subsets": {"v1": {"Filter": "Service.Meta.v == 1", "OnlyPassing": true}},
            "Failover": {"*": {"Targets": [{"Service": "b", "ServiceSubset": "s", "Datacenter": "dc2"}, {"Service": "c", "Peer": "p"}]},
                         "v1": {"Service": "d", "ServiceSubset": "x", "Datacenters": ["dc3"]}},
            "ConnectTimeout": "1s", "RequestTimeout": "2s",
            "LoadBalancer": {"Policy": "ring_hash", "RingHashConfig": {"MinimumRingSize": 1, "MaximumRingSize": 2},
                "HashPolicies": [{"Field": "cookie", "FieldValue": "c", "CookieConfig": {"TTL": "1s", "Path": "/"}, "Terminal": true}, {"SourceIP": true}]}}),
        json!({"Kind": "service-resolver", "Name": "web2",
            "Redirect": {"Service": "b", "ServiceSubset": "v1", "Datacenter": "dc2"},
            "LoadBalancer": {"Policy": "least_request", "LeastRequestConfig": {"ChoiceCount": 3}}}),
    ]
}

fn assert_keys_canonical(value: &Value, path: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                let opaque = ["Meta", "Config", "Arguments", "Add", "Set"].contains(&key.as_str());
                let named = ["Subsets", "Failover"].contains(&key.as_str());
                assert_eq!(
                    canonical(key),
                    Some(key.as_str()),
                    "{here} is not in the key table"
                );
                if named {
                    if let Value::Object(m) = inner {
                        m.values().for_each(|v| assert_keys_canonical(v, &here));
                    }
                } else if !opaque {
                    assert_keys_canonical(inner, &here);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_keys_canonical(v, path)),
        _ => {}
    }
}

#[test]
fn every_rendered_key_is_canonical() {
    for body in kitchen_sinks() {
        let entry = parse(body);
        assert_keys_canonical(&entry.to_json(), "");
    }
}

/// `PascalCase` → `snake_case` the way HCL files spell keys.
fn snake(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let boundary = i > 0
            && c.is_uppercase()
            && (prev_lower || (chars[i - 1].is_uppercase() && next_lower));
        if boundary {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn snake_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let opaque =
                        ["Meta", "Config", "Arguments", "Add", "Set"].contains(&k.as_str());
                    let named = ["Subsets", "Failover"].contains(&k.as_str());
                    let inner = match v {
                        _ if opaque => v.clone(),
                        Value::Object(m) if named => Value::Object(
                            m.iter().map(|(n, x)| (n.clone(), snake_keys(x))).collect(),
                        ),
                        _ => snake_keys(v),
                    };
                    (snake(k), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(snake_keys).collect()),
        other => other.clone(),
    }
}

#[test]
fn hcl_style_snake_case_decodes_identically() {
    assert_eq!(snake("TLSMinVersion"), "tls_min_version");
    assert_eq!(snake("EnforcingConsecutive5xx"), "enforcing_consecutive5xx");
    for body in kitchen_sinks() {
        let snaked = snake_keys(&body);
        assert_eq!(parse(snaked), parse(body));
    }
}
