//! Validation: one row per rule, each rejected with Consul's message.

use serde_json::{Value, json};

use super::{parse, rejection};

fn resolver(extra: Value) -> Value {
    let mut body = json!({"Kind": "service-resolver", "Name": "web"});
    merge(&mut body, extra);
    body
}

fn router_route(route: Value) -> Value {
    json!({"Kind": "service-router", "Name": "web", "Routes": [route]})
}

fn ingress(listeners: Value) -> Value {
    json!({"Kind": "ingress-gateway", "Name": "igw", "Listeners": listeners})
}

fn merge(body: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (body, extra) {
        b.extend(e);
    }
}

/// `(body, expected message)`; a message ending in `…` is a prefix.
fn table() -> Vec<(Value, &'static str)> {
    vec![
        // proxy-defaults / mesh
        (
            json!({"Kind": "proxy-defaults", "Name": "foo"}),
            "invalid name (\"foo\"), only \"global\" is supported",
        ),
        (
            json!({"Kind": "proxy-defaults", "AccessLogs": {"Type": "syslog"}}),
            "invalid access log type: syslog",
        ),
        (
            json!({"Kind": "proxy-defaults", "AccessLogs": {"Type": "file"}}),
            "path must be specified when using file type access logs",
        ),
        (
            json!({"Kind": "proxy-defaults", "MeshGateway": {"Mode": "sideways"}}),
            "Invalid Mesh Gateway Mode: \"sideways\"",
        ),
        (
            json!({"Kind": "proxy-defaults", "Mode": "opaque"}),
            "Invalid Proxy Mode: \"opaque\"",
        ),
        (
            json!({"Kind": "mesh", "TLS": {"Incoming": {"TLSMinVersion": "TLSv1_3", "TLSMaxVersion": "TLSv1_2"}}}),
            "error in incoming TLS configuration: configuring max version TLSv1_2 less than the configured min version TLSv1_3 is invalid",
        ),
        (
            json!({"Kind": "mesh", "HTTP": {"Incoming": {"RequestNormalization": {"HeadersWithUnderscoresAction": "EAT"}}}}),
            "error in HTTP incoming request normalization configuration: no matching HeadersWithUnderscoresAction value found for EAT…",
        ),
        // service-defaults
        (json!({"Kind": "service-defaults"}), "Name is required"),
        (
            json!({"Kind": "service-defaults", "Name": "*"}),
            "service-defaults name must be the name of a service, and not a wildcard",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "BalanceInboundConnections": "fair"}),
            "invalid value for balance_inbound_connections: fair",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "MutualTLSMode": "loose"}),
            "Invalid MutualTLSMode \"loose\". Must be one of \"\", \"strict\", or \"permissive\".",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "UpstreamConfig": {}, "Destination": {"Addresses": ["a.com"], "Port": 443}}),
            "UpstreamConfig and Destination are mutually exclusive for service defaults",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "Destination": {"Addresses": ["*.com"], "Port": 443}}),
            "Destination address '*.com' is invalid…",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "Destination": {"Addresses": ["a.com"], "Port": 0}}),
            "Invalid Port number 0",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "UpstreamConfig": {"Defaults": {"Name": "db"}}}),
            "error in upstream defaults: Name must be empty",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "UpstreamConfig": {"Overrides": [{"Protocol": "http"}]}}),
            "error in upstream override for : Name is required",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "Meta": {"k".repeat(129): "v"}}),
            "Meta key \"kkkk…",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "EnvoyExtensions": [{"Name": "custom/thing"}]}),
            "invalid EnvoyExtensions[0][custom/thing]: not a built-in extension",
        ),
        // service-router
        (
            router_route(json!({"Match": {"HTTP": {"PathExact": "admin"}}})),
            "Route[0] PathExact doesn't start with '/': \"admin\"",
        ),
        (
            router_route(json!({"Match": {"HTTP": {"PathPrefix": "/a", "PathRegex": "/b.*"}}})),
            "Route[0] should only contain at most one of PathExact, PathPrefix, or PathRegex",
        ),
        (
            router_route(json!({"Match": {"HTTP": {"Header": [{"Exact": "x"}]}}})),
            "Route[0] Header[0] missing required Name field",
        ),
        (
            router_route(
                json!({"Match": {"HTTP": {"Header": [{"Name": "h", "Exact": "x", "Prefix": "y"}]}}}),
            ),
            "Route[0] Header[0] should only contain one of Present, Exact, Prefix, Suffix, or Regex",
        ),
        (
            router_route(json!({"Match": {"HTTP": {"QueryParam": [{"Name": "q"}]}}})),
            "Route[0] QueryParam[0] should only contain one of Present, Exact, or Regex",
        ),
        (
            router_route(json!({"Match": {"HTTP": {"Methods": ["FETCH"]}}})),
            "Route[0] Methods contains an invalid method \"FETCH\"",
        ),
        (
            router_route(json!({"Match": {"HTTP": {"Methods": ["GET", "get"]}}})),
            "Route[0] Methods contains \"GET\" more than once",
        ),
        (
            router_route(
                json!({"Match": {"HTTP": {"PathRegex": "/a.*"}}, "Destination": {"PrefixRewrite": "/"}}),
            ),
            "Route[0] cannot make use of PrefixRewrite without configuring either PathExact or PathPrefix",
        ),
        (
            router_route(json!({"Destination": {"RetryOn": ["sometimes"]}})),
            "Route[0] contains an invalid retry condition: \"sometimes\"",
        ),
        // service-splitter
        (
            json!({"Kind": "service-splitter", "Name": "web"}),
            "no splits configured",
        ),
        (
            json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 90}]}),
            "the sum of all split weights must be 100, not 90.000000",
        ),
        (
            json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 50}, {"Weight": 50, "Service": "web"}]}),
            "split destination occurs more than once: service=\"web\", subset=\"\", namespace=\"\", partition=\"\"",
        ),
        // service-resolver
        (
            resolver(json!({"Subsets": {"V1": {}}})),
            "Subset \"V1\" is invalid: must be 63 characters or fewer, begin or end with lower case alphanumeric characters, and contain lower case alphanumeric characters or '-' in between",
        ),
        (
            resolver(json!({"Subsets": {"v1": {"Filter": "Service.Meta.version =="}}})),
            "Filter for subset \"v1\" is not a valid expression: …",
        ),
        (
            resolver(json!({"DefaultSubset": "v9"})),
            "DefaultSubset \"v9\" is not a valid subset",
        ),
        (
            resolver(json!({"Redirect": {"Service": "b"}, "Failover": {"*": {"Service": "c"}}})),
            "Redirect and Failover cannot both be set",
        ),
        (resolver(json!({"Redirect": {}})), "Redirect is empty"),
        (
            resolver(json!({"Redirect": {"Service": "b", "Namespace": "ns"}})),
            "Redirect: Setting Namespace requires Consul Enterprise",
        ),
        (
            resolver(json!({"Redirect": {"ServiceSubset": "v1"}})),
            "Redirect.ServiceSubset defined without Redirect.Service",
        ),
        (
            resolver(json!({"Redirect": {"Service": "web", "ServiceSubset": "v1"}})),
            "Redirect.ServiceSubset \"v1\" is not a valid subset of \"web\"",
        ),
        (
            resolver(json!({"Redirect": {"Service": "b", "Peer": "p", "Datacenter": "dc2"}})),
            "Redirect.Peer cannot be set with Redirect.Datacenter",
        ),
        (
            resolver(json!({"Failover": {"v1": {"Service": "b"}}})),
            "Bad Failover[\"v1\"]: not a valid subset subset",
        ),
        (
            resolver(json!({"Failover": {"*": {}}})),
            "Bad Failover[\"*\"]: one of Service, ServiceSubset, Namespace, Targets, or Datacenters is required",
        ),
        (
            resolver(
                json!({"Failover": {"*": {"Datacenters": ["dc2"], "Targets": [{"Datacenter": "dc3"}]}}}),
            ),
            "Bad Failover[\"*\"]: Targets cannot be set with Datacenters",
        ),
        (
            resolver(json!({"Failover": {"*": {"Datacenters": [""]}}})),
            "Bad Failover[\"*\"].Datacenters: found empty datacenter",
        ),
        (
            resolver(json!({"Failover": {"*": {"Targets": [{"Peer": "p", "Datacenter": "dc2"}]}}})),
            "Bad Failover[\"*\"].Targets[0]: Peer cannot be set with Datacenter",
        ),
        (
            resolver(json!({"ConnectTimeout": "-5s"})),
            "Bad ConnectTimeout '-5s', must be >= 0",
        ),
        (
            resolver(json!({"RequestTimeout": "-1ms"})),
            "Bad RequestTimeout '-1ms', must be >= 0",
        ),
        (
            resolver(json!({"LoadBalancer": {"Policy": "fastest"}})),
            "Bad LoadBalancer policy: \"fastest\" is not supported",
        ),
        (
            resolver(
                json!({"LoadBalancer": {"Policy": "least_request", "RingHashConfig": {"MinimumRingSize": 1}}}),
            ),
            "Bad LoadBalancer configuration. RingHashConfig specified for incompatible load balancing policy \"least_request\"",
        ),
        (
            resolver(
                json!({"LoadBalancer": {"Policy": "round_robin", "HashPolicies": [{"SourceIP": true}]}}),
            ),
            "Bad LoadBalancer configuration: HashPolicies specified for non-hash-based Policy: \"round_robin\"",
        ),
        (
            resolver(
                json!({"LoadBalancer": {"Policy": "maglev", "HashPolicies": [{"SourceIP": true, "Field": "header", "FieldValue": "x"}]}}),
            ),
            "Bad LoadBalancer HashPolicy[0]: A single hash policy cannot hash both a source address and a \"header\"",
        ),
        (
            resolver(
                json!({"LoadBalancer": {"Policy": "maglev", "HashPolicies": [{"Field": "cookie", "FieldValue": "c", "CookieConfig": {"Session": true, "TTL": "5s"}}]}}),
            ),
            "Bad LoadBalancer HashPolicy[0]: a session cookie cannot have an associated TTL",
        ),
        (
            resolver(json!({"PrioritizeByLocality": {"Mode": "failover"}})),
            "Prioritize-by-locality requires Consul Enterprise ",
        ),
        // ingress-gateway
        (
            ingress(
                json!([{"Port": 80, "Services": [{"Name": "a"}]}, {"Port": 80, "Services": [{"Name": "b"}]}]),
            ),
            "port 80 declared on two listeners",
        ),
        (
            ingress(json!([{"Port": 80, "Protocol": "udp", "Services": [{"Name": "a"}]}])),
            "protocol must be 'tcp', 'http', 'http2', or 'grpc'. 'udp' is an unsupported protocol",
        ),
        (
            ingress(json!([{"Port": 80}])),
            "No service declared for listener with port 80",
        ),
        (
            ingress(json!([{"Port": 80, "Services": [{"Name": "a"}, {"Name": "b"}]}])),
            "Multiple services per listener are only supported for L7 protocols, 'http', 'grpc' and 'http2' (listener on port 80)",
        ),
        (
            ingress(json!([{"Port": 80, "Services": [{"Name": "*"}]}])),
            "Wildcard service name is only valid for protocol = 'http' (listener on port 80)",
        ),
        (
            ingress(json!([{"Port": 80, "Services": [{"Name": "a", "Hosts": ["a.com"]}]}])),
            "Associating hosts to a service is not supported for the tcp protocol (listener on port 80)",
        ),
        (
            ingress(
                json!([{"Port": 80, "Services": [{"Name": "a", "RequestHeaders": {"Add": {"x": "y"}}}]}]),
            ),
            "request headers only valid for http, http2 and grpc protocols (service \"a\" on listener on port 80)",
        ),
        (
            ingress(
                json!([{"Port": 80, "Protocol": "http", "Services": [{"Name": "a", "Hosts": ["x.*.com"]}]}]),
            ),
            "Host \"x.*.com\" is not valid, a wildcard specifier is only allowed as the leftmost label",
        ),
        // terminating-gateway
        (
            json!({"Kind": "terminating-gateway", "Name": "t", "Services": [{"Name": "a", "CertFile": "c"}]}),
            "Service \"a\" must have a CertFile, CAFile, and KeyFile specified for TLS origination",
        ),
        (
            json!({"Kind": "terminating-gateway", "Name": "t", "Services": [{"Name": "a"}, {"Name": "a"}]}),
            "Service \"a\" was specified more than once within a namespace",
        ),
        (
            json!({"Kind": "terminating-gateway", "Name": "t", "Services": [{"SNI": "x"}]}),
            "Service name cannot be blank.",
        ),
    ]
}

#[test]
fn every_rule_rejects_with_its_message() {
    for (body, expected) in table() {
        let got = rejection(&body);
        match expected.strip_suffix('…') {
            Some(prefix) => assert!(
                got.starts_with(prefix),
                "{body}\n got: {got}\nwant: {expected}"
            ),
            None => assert_eq!(got, expected, "{body}"),
        }
    }
}

#[test]
fn intentions_use_the_intention_crates_rules() {
    let got = rejection(&json!({
        "Kind": "service-intentions", "Name": "db",
        "Sources": [{"Name": "web", "Action": "allow", "Permissions": [{"Action": "deny", "HTTP": {"PathExact": "/x"}}]}]
    }));
    assert!(!got.is_empty());
}

#[test]
fn valid_entries_pass() {
    let bodies = [
        json!({"Kind": "service-splitter", "Name": "web", "Splits": [
            {"Weight": 33.33}, {"Weight": 33.33, "ServiceSubset": "v2"}, {"Weight": 33.34, "Service": "other"}
        ]}),
        json!({"Kind": "service-splitter", "Name": "web", "Splits": [
            {"Weight": 50.004}, {"Weight": 49.996, "ServiceSubset": "v2"}
        ]}),
        resolver(
            json!({"Subsets": {"v1": {}, "v2": {}}, "DefaultSubset": "v1",
            "Failover": {"v1": {"ServiceSubset": "v2"}, "*": {"Targets": [{"Service": "b"}, {"Datacenter": "dc2"}]}}}),
        ),
        resolver(json!({"Redirect": {"Service": "b", "ServiceSubset": "v9", "Datacenter": "dc2"}})),
        ingress(
            json!([{"Port": 80, "Protocol": "HTTP", "Services": [{"Name": "*"}, {"Name": "a", "Hosts": ["a.com", "*.b.com"]}]}]),
        ),
        json!({"Kind": "service-defaults", "Name": "web", "Destination": {"Addresses": ["10.0.0.1", "api.example.com"], "Port": 443}}),
    ];
    for body in bodies {
        parse(body);
    }
}
