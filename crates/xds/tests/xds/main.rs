//! skein-xds resources from hand-built snapshots: golden files for every
//! case, determinism, and validation by the real Envoy.

mod cases;
mod envoy;
mod golden;
mod render;

use skein_ads::ResourceSet;
use skein_proxycfg::ProxySnapshot;

fn build(snapshot: &ProxySnapshot) -> ResourceSet {
    skein_xds::build(snapshot).unwrap_or_else(|e| panic!("build: {e}"))
}

/// One golden test per case.
macro_rules! golden_cases {
    ($($case:ident),* $(,)?) => {
        mod golden_cases {
            $(#[test]
            fn $case() {
                let set = super::build(&super::cases::$case());
                super::golden::check(stringify!($case), &set);
            })*
        }
    };
}

golden_cases!(
    l4_default,
    l4_with_intentions_default_deny,
    l4_default_allow_with_deny,
    upstream_with_failover,
    unhealthy_endpoint,
    http_router,
    http_splitter,
    http_l7_intentions,
    grpc_upstream,
    access_logs,
    http_redirect_ring_hash,
);

/// Envoy 1.40 accepts the resources of these cases, with no deprecation
/// warning.
macro_rules! envoy_cases {
    ($($case:ident),* $(,)?) => {
        mod envoy_validates {
            $(#[test]
            fn $case() {
                let snapshot = super::cases::$case();
                let set = super::build(&snapshot);
                super::envoy::validate(&snapshot, &set);
            })*
        }
    };
}

envoy_cases!(
    l4_default,
    l4_with_intentions_default_deny,
    l4_default_allow_with_deny,
    unhealthy_endpoint,
    upstream_with_failover,
    http_router,
    http_splitter,
    http_l7_intentions,
    grpc_upstream,
    access_logs,
    http_redirect_ring_hash,
);

/// The harness is not vacuous: a route to a cluster that does not exist
/// is rejected.
#[test]
fn envoy_rejects_a_route_to_a_missing_cluster() {
    let snapshot = cases::http_router();
    let mut set = build(&snapshot);
    let clusters = set.by_type.get_mut(skein_ads::CLUSTER).expect("clusters");
    clusters.retain(|name, _| !name.starts_with("api-admin."));
    let (ok, text) = envoy::run(&snapshot, &set);
    assert!(!ok, "envoy accepted a route to a missing cluster:\n{text}");
    assert!(text.contains("api-admin"), "{text}");
}

#[test]
fn same_snapshot_same_bytes() {
    for snapshot in [cases::http_l7_intentions(), cases::http_router()] {
        let first = build(&snapshot);
        for _ in 0..5 {
            assert_eq!(build(&snapshot), first);
        }
    }
}

#[test]
fn every_referenced_cluster_exists() {
    use skein_ads::CLUSTER;
    for snapshot in [
        cases::upstream_with_failover(),
        cases::http_router(),
        cases::http_splitter(),
    ] {
        let set = build(&snapshot);
        let listeners = golden::render(&set, skein_ads::LISTENER).pretty();
        let routes = golden::render(&set, skein_ads::ROUTE).pretty();
        for text in [listeners, routes] {
            for name in referenced_clusters(&text) {
                assert!(set.get(CLUSTER, &name).is_some(), "unknown cluster {name}");
            }
        }
    }
}

/// Values of `"cluster"` and weighted-cluster `"name"` keys in rendered
/// listeners and routes.
fn referenced_clusters(text: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(text).expect("rendered JSON parses");
    let mut out = Vec::new();
    collect(&value, &mut out);
    out
}

fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("cluster", serde_json::Value::String(s)) => out.push(s.clone()),
                    ("weighted_clusters", w) => {
                        for c in w["clusters"].as_array().into_iter().flatten() {
                            out.extend(c["name"].as_str().map(str::to_owned));
                        }
                    }
                    _ => collect(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}
