//! The golden cases: proxy snapshots built by hand, chains compiled from
//! config entries by the real compiler, fixed certificates.
//!
//! Every case is a sidecar for `web` (`web-sidecar-proxy`) in dc1.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use skein_chain::{CompileRequest, CompiledDiscoveryChain, EntrySet, compile};
use skein_config_entry::{ConfigEntry, parse_request};
use skein_intention::{Action, HeaderPermission, HttpPermission, Intention, IntentionPermission};
use skein_proxycfg::{
    Endpoint, EndpointHealth, LeafCert, ProxyKind, ProxySnapshot, UpstreamSnapshot,
};

/// The trust domain of the fixture certificates.
pub(crate) const TRUST_DOMAIN: &str = "11111111-2222-3333-4444-555555555555.consul";

const ROOT1: &str = include_str!("../fixtures/root1.pem");
const ROOT2: &str = include_str!("../fixtures/root2.pem");
const LEAF: &str = include_str!("../fixtures/leaf-web.pem");
const LEAF_KEY: &str = include_str!("../fixtures/leaf-web.key.pem");

/// A TCP `web` sidecar, no upstreams, no intentions, default allow.
fn base(protocol: &str) -> ProxySnapshot {
    ProxySnapshot {
        kind: ProxyKind::ConnectProxy,
        proxy_id: "web-sidecar-proxy".into(),
        proxy_service: "web-sidecar-proxy".into(),
        destination: "web".into(),
        destination_id: "web".into(),
        bind_address: "0.0.0.0".into(),
        bind_port: 21000,
        local_service_address: "127.0.0.1".into(),
        local_service_port: 8080,
        config: Map::new(),
        protocol: protocol.into(),
        datacenter: "dc1".into(),
        trust_domain: TRUST_DOMAIN.into(),
        leaf: LeafCert {
            cert_pem: LEAF.into(),
            key_pem: LEAF_KEY.into(),
        },
        roots: vec![ROOT1.into()],
        intentions: Vec::new(),
        default_allow: true,
        access_logs: Default::default(),
        upstreams: Vec::new(),
        endpoints: BTreeMap::new(),
    }
}

/// The chain of `service` in `dc`, compiled from entry request bodies.
fn chain(service: &str, dc: &str, bodies: &[Value]) -> CompiledDiscoveryChain {
    let entries: Vec<ConfigEntry> = bodies
        .iter()
        .map(|b| parse_request(b).unwrap_or_else(|e| panic!("{b}: {e}")))
        .collect();
    let set = EntrySet::new(&entries);
    compile(&CompileRequest::new(service, dc, TRUST_DOMAIN, &set))
        .unwrap_or_else(|e| panic!("compiling {service}: {e}"))
}

/// An upstream of `service` on 127.0.0.1:`port`.
fn upstream(
    service: &str,
    dc: &str,
    port: u16,
    config: Value,
    bodies: &[Value],
) -> UpstreamSnapshot {
    let envoy_id = if dc == "dc1" {
        service.to_owned()
    } else {
        format!("{service}?dc={dc}")
    };
    UpstreamSnapshot {
        envoy_id,
        destination_name: service.into(),
        datacenter: if dc == "dc1" {
            String::new()
        } else {
            dc.into()
        },
        local_bind_address: "127.0.0.1".into(),
        local_bind_port: port,
        config: config.as_object().cloned().unwrap_or_default(),
        chain: chain(service, dc, bodies),
    }
}

/// A sidecar instance of a target.
fn instance(node: &str, address: &str, health: EndpointHealth, weight: u32) -> Endpoint {
    Endpoint {
        address: address.into(),
        port: 21000,
        health,
        weight,
        node: node.into(),
        service_id: format!("{node}-sidecar-proxy"),
    }
}

fn healthy(node: &str, address: &str) -> Endpoint {
    instance(node, address, EndpointHealth::Healthy, 1)
}

fn protocol(service: &str, protocol: &str) -> Value {
    json!({"Kind": "service-defaults", "Name": service, "Protocol": protocol})
}

fn l4(source: &str, action: Action) -> Intention {
    Intention::l4(source, "web", action)
}

fn l7(source: &str, permissions: Vec<IntentionPermission>) -> Intention {
    Intention {
        action: None,
        permissions,
        ..l4(source, Action::Allow)
    }
}

fn permission(action: Action, http: HttpPermission) -> IntentionPermission {
    IntentionPermission::new(action, http)
}

/// TCP service, default allow, one upstream with the default chain.
pub(crate) fn l4_default() -> ProxySnapshot {
    let mut s = base("tcp");
    s.upstreams = vec![upstream("db", "dc1", 9191, json!({}), &[])];
    s.endpoints.insert(
        "db.default.default.dc1".into(),
        vec![healthy("node-b", "10.0.0.2"), healthy("node-a", "10.0.0.1")],
    );
    s
}

/// Access logs from proxy-defaults: a file with Consul's default JSON
/// format on every filter, none on the listeners themselves; and an HTTP
/// upstream logging to stdout in a text format is covered by the same
/// code path.
pub(crate) fn access_logs() -> ProxySnapshot {
    let mut s = l4_default();
    s.access_logs = skein_config_entry::AccessLogsConfig {
        enabled: true,
        disable_listener_logs: true,
        r#type: "file".into(),
        path: "/dev/null".into(),
        ..Default::default()
    };
    s
}

/// Default deny: allow `*` and `api`, deny `evil`, and an L7 intention
/// (a deny on a TCP service).
pub(crate) fn l4_with_intentions_default_deny() -> ProxySnapshot {
    let mut s = base("tcp");
    s.default_allow = false;
    let admin_only = HttpPermission {
        path_prefix: "/admin".into(),
        ..HttpPermission::default()
    };
    s.intentions = vec![
        l4("*", Action::Allow),
        l4("evil", Action::Deny),
        l4("api", Action::Allow),
        l7("ops", vec![permission(Action::Allow, admin_only)]),
    ];
    s
}

/// Default allow: deny `legacy` and `*` except `admin`.
pub(crate) fn l4_default_allow_with_deny() -> ProxySnapshot {
    let mut s = base("tcp");
    s.intentions = vec![
        l4("admin", Action::Allow),
        l4("*", Action::Deny),
        l4("legacy", Action::Deny),
    ];
    s
}

/// A TCP upstream failing over to dc2, and a default-chain upstream in
/// dc2 with its own connect timeout and limits; two CA roots.
pub(crate) fn upstream_with_failover() -> ProxySnapshot {
    let mut s = base("tcp");
    s.roots = vec![ROOT1.into(), ROOT2.into()];
    let resolver = json!({
        "Kind": "service-resolver", "Name": "db", "ConnectTimeout": "3s",
        "Failover": {"*": {"Datacenters": ["dc2"]}}
    });
    let cache_config = json!({
        "connect_timeout_ms": 2500,
        "limits": {"max_connections": 100, "max_pending_requests": 50, "max_concurrent_requests": 10}
    });
    s.upstreams = vec![
        upstream("db", "dc1", 9191, json!({}), &[resolver]),
        upstream("cache", "dc2", 9292, cache_config, &[]),
    ];
    s.endpoints.insert(
        "db.default.default.dc1".into(),
        vec![healthy("node-a", "10.0.0.1")],
    );
    s.endpoints.insert(
        "db.default.default.dc2".into(),
        vec![healthy("node-x", "10.1.0.1")],
    );
    s.endpoints.insert(
        "cache.default.default.dc2".into(),
        vec![healthy("node-y", "10.1.0.2")],
    );
    s
}

/// Mixed health and weights, listed out of order.
pub(crate) fn unhealthy_endpoint() -> ProxySnapshot {
    let mut s = base("tcp");
    s.upstreams = vec![upstream("db", "dc1", 9191, json!({}), &[])];
    s.endpoints.insert(
        "db.default.default.dc1".into(),
        vec![
            instance("node-c", "10.0.0.3", EndpointHealth::Healthy, 5),
            instance("node-b", "10.0.0.2", EndpointHealth::Unhealthy, 1),
            instance("node-a", "10.0.0.1", EndpointHealth::Healthy, 1),
        ],
    );
    s
}

/// HTTP service; an upstream with a router (path, header, query and
/// method matches, rewrite, timeouts, retries, header edits) and a
/// ring-hash resolver; and an HTTP upstream with the default chain.
pub(crate) fn http_router() -> ProxySnapshot {
    let mut s = base("http");
    s.config
        .insert("local_request_timeout_ms".into(), json!(15000));
    let router = json!({
        "Kind": "service-router", "Name": "api",
        "Routes": [
            {
                "Match": {"HTTP": {"PathPrefix": "/admin", "Header": [{"Name": "x-debug", "Present": true}]}},
                "Destination": {
                    "Service": "api-admin", "PrefixRewrite": "/", "RequestTimeout": "10s",
                    "NumRetries": 3, "RetryOnConnectFailure": true, "RetryOnStatusCodes": [503],
                    "RequestHeaders": {"Set": {"x-routed": "admin"}, "Remove": ["x-debug"]},
                    "ResponseHeaders": {"Add": {"x-served-by": "api-admin"}}
                }
            },
            {
                "Match": {"HTTP": {
                    "PathExact": "/health", "Methods": ["GET", "HEAD"],
                    "QueryParam": [{"Name": "verbose", "Present": true}, {"Name": "format", "Exact": "json"}]
                }},
                "Destination": {"IdleTimeout": "30s"}
            },
            {
                "Match": {"HTTP": {"PathRegex": "/v[0-9]+/.*", "Header": [{"Name": "x-version", "Exact": "2", "Invert": true}]}},
                "Destination": {"Service": "api", "RetryOn": ["5xx", "reset"]}
            }
        ]
    });
    let resolver = json!({
        "Kind": "service-resolver", "Name": "api",
        "LoadBalancer": {
            "Policy": "ring_hash",
            "RingHashConfig": {"MinimumRingSize": 1024, "MaximumRingSize": 8192},
            "HashPolicies": [
                {"Field": "cookie", "FieldValue": "session-id", "CookieConfig": {"Session": true}},
                {"Field": "cookie", "FieldValue": "sticky", "CookieConfig": {"TTL": "1h", "Path": "/"}},
                {"Field": "header", "FieldValue": "x-user-id"},
                {"SourceIP": true, "Terminal": true}
            ]
        }
    });
    let bodies = [
        protocol("api", "http"),
        protocol("api-admin", "http"),
        router,
        resolver,
    ];
    s.upstreams = vec![
        upstream("api", "dc1", 9191, json!({}), &bodies),
        upstream("static", "dc1", 9292, json!({"protocol": "http"}), &[]),
    ];
    s.endpoints.insert(
        "api.default.default.dc1".into(),
        vec![healthy("node-a", "10.0.0.1")],
    );
    s.endpoints.insert(
        "api-admin.default.default.dc1".into(),
        vec![healthy("node-b", "10.0.0.2")],
    );
    s.endpoints.insert(
        "static.default.default.dc1".into(),
        vec![healthy("node-c", "10.0.0.3")],
    );
    s
}

/// An HTTP upstream split 66.67/33.33 between two resolver subsets, with
/// header edits per leg and a least-request balancer.
pub(crate) fn http_splitter() -> ProxySnapshot {
    let mut s = base("http2");
    let splitter = json!({
        "Kind": "service-splitter", "Name": "api",
        "Splits": [
            {"Weight": 66.67, "ServiceSubset": "v1"},
            {"Weight": 33.33, "ServiceSubset": "v2",
             "RequestHeaders": {"Set": {"x-split-leg": "v2"}},
             "ResponseHeaders": {"Remove": ["x-internal"]}}
        ]
    });
    let resolver = json!({
        "Kind": "service-resolver", "Name": "api",
        "Subsets": {
            "v1": {"Filter": "Service.Meta.version == v1"},
            "v2": {"Filter": "Service.Meta.version == v2", "OnlyPassing": true}
        },
        "LoadBalancer": {"Policy": "least_request", "LeastRequestConfig": {"ChoiceCount": 3}}
    });
    let bodies = [protocol("api", "http"), splitter, resolver];
    s.upstreams = vec![upstream("api", "dc1", 9191, json!({}), &bodies)];
    s.endpoints.insert(
        "v1.api.default.default.dc1".into(),
        vec![healthy("node-a", "10.0.0.1")],
    );
    s.endpoints.insert(
        "v2.api.default.default.dc1".into(),
        vec![healthy("node-b", "10.0.0.2")],
    );
    s
}

/// An HTTP upstream whose resolver redirects to another service, balanced
/// by a ring hash over a header and the source IP, with a connect timeout.
pub(crate) fn http_redirect_ring_hash() -> ProxySnapshot {
    let mut s = base("http");
    let redirect = json!({
        "Kind": "service-resolver", "Name": "api",
        "Redirect": {"Service": "api-next"}
    });
    let next = json!({
        "Kind": "service-resolver", "Name": "api-next",
        "ConnectTimeout": "3s",
        "LoadBalancer": {
            "Policy": "ring_hash",
            "RingHashConfig": {"MinimumRingSize": 1024, "MaximumRingSize": 8192},
            "HashPolicies": [
                {"Field": "header", "FieldValue": "x-user-id", "Terminal": true},
                {"SourceIP": true}
            ]
        }
    });
    let bodies = [
        protocol("api", "http"),
        protocol("api-next", "http"),
        redirect,
        next,
    ];
    s.upstreams = vec![upstream("api", "dc1", 9191, json!({}), &bodies)];
    s.endpoints.insert(
        "api-next.default.default.dc1".into(),
        vec![healthy("node-a", "10.0.0.1"), healthy("node-b", "10.0.0.2")],
    );
    s
}

/// HTTP service, default deny, L7 intentions with path, header and method
/// permissions, plus L4 allow `*` and deny `evil`.
pub(crate) fn http_l7_intentions() -> ProxySnapshot {
    let mut s = base("http");
    s.default_allow = false;
    let secret = HttpPermission {
        path_exact: "/admin/secret".into(),
        ..HttpPermission::default()
    };
    let admin = HttpPermission {
        path_prefix: "/admin".into(),
        methods: vec!["GET".into(), "POST".into()],
        ..HttpPermission::default()
    };
    let team = HttpPermission {
        header: vec![
            HeaderPermission {
                name: "x-team".into(),
                prefix: "ops".into(),
                ignore_case: true,
                ..HeaderPermission::default()
            },
            HeaderPermission {
                name: "x-canary".into(),
                present: true,
                invert: true,
                ..HeaderPermission::default()
            },
        ],
        ..HttpPermission::default()
    };
    let api = HttpPermission {
        path_regex: "/api/v[0-9]+/.*".into(),
        header: vec![HeaderPermission {
            name: "x-auth".into(),
            regex: "Bearer .+".into(),
            ..HeaderPermission::default()
        }],
        ..HttpPermission::default()
    };
    s.intentions = vec![
        l7(
            "web-admin",
            vec![
                permission(Action::Deny, secret),
                permission(Action::Allow, admin),
                permission(Action::Allow, team),
            ],
        ),
        l7("frontend", vec![permission(Action::Allow, api)]),
        l4("*", Action::Allow),
        l4("evil", Action::Deny),
    ];
    s
}

/// gRPC service and a gRPC upstream whose resolver sets a request timeout.
pub(crate) fn grpc_upstream() -> ProxySnapshot {
    let mut s = base("grpc");
    let resolver = json!({
        "Kind": "service-resolver", "Name": "billing",
        "ConnectTimeout": "2s", "RequestTimeout": "20s"
    });
    let bodies = [protocol("billing", "grpc"), resolver];
    s.upstreams = vec![upstream("billing", "dc1", 9191, json!({}), &bodies)];
    s.endpoints.insert(
        "billing.default.default.dc1".into(),
        vec![healthy("node-a", "10.0.0.1")],
    );
    s
}
