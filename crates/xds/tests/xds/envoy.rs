//! Loads generated resources into the real Envoy (`--mode validate`).
//!
//! For validation only, the dynamic parts become static: EDS clusters turn
//! STATIC with their load assignment inlined, and RDS route configurations
//! are inlined into their connection managers.

use std::path::PathBuf;
use std::process::Command;

use envoy_types::pb::envoy::config::bootstrap::v3::{Bootstrap, bootstrap};
use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use prost::{Message, Name};
use skein_ads::{CLUSTER, ENDPOINT, LISTENER, ROUTE, ResourceSet};
use skein_proxycfg::ProxySnapshot;

/// Validates `set` with Envoy: exit 0 and no deprecation warning.
pub(crate) fn validate(snapshot: &ProxySnapshot, set: &ResourceSet) {
    let (ok, text) = run(snapshot, set);
    assert!(ok, "envoy rejected the config:\n{text}");
    assert!(
        !text.to_lowercase().contains("deprecated"),
        "envoy warned about deprecated fields:\n{text}"
    );
}

/// Runs `envoy --mode validate` on the bootstrap of `set`: success and
/// the combined output.
pub(crate) fn run(snapshot: &ProxySnapshot, set: &ResourceSet) -> (bool, String) {
    let envoy = envoy_binary();
    let bootstrap = bootstrap(snapshot, set);
    let file = tempfile::Builder::new()
        .prefix("skein-xds-")
        .suffix(".pb")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), bootstrap.encode_to_vec()).expect("write bootstrap");
    let out = Command::new(&envoy)
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(file.path())
        .args(["--disable-hot-restart", "--log-level", "warn"])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", envoy.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `$SKEIN_ENVOY`, else `<repo>/.venv/bin/envoy`; missing is a failure.
fn envoy_binary() -> PathBuf {
    let path = std::env::var_os("SKEIN_ENVOY").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/envoy"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "Envoy not found at {}: run `cargo xtask test`, which installs it (or point SKEIN_ENVOY at an envoy binary)",
        path.display()
    );
    path
}

fn decode_all<T: Message + Name + Default>(set: &ResourceSet, type_url: &str) -> Vec<T> {
    set.of_type(type_url)
        .map(|r| T::decode(r.body.value.as_slice()).expect("decode resource"))
        .collect()
}

fn bootstrap(snapshot: &ProxySnapshot, set: &ResourceSet) -> Bootstrap {
    let assignments: Vec<ClusterLoadAssignment> = decode_all(set, ENDPOINT);
    let routes: Vec<RouteConfiguration> = decode_all(set, ROUTE);
    let clusters = decode_all::<Cluster>(set, CLUSTER)
        .into_iter()
        .map(|c| static_cluster(c, &assignments))
        .collect();
    let listeners = decode_all::<Listener>(set, LISTENER)
        .into_iter()
        .map(|l| inline_routes(l, &routes))
        .collect();
    Bootstrap {
        node: Some(Node {
            id: snapshot.proxy_id.clone(),
            cluster: snapshot.destination.clone(),
            ..Node::default()
        }),
        static_resources: Some(bootstrap::StaticResources {
            listeners,
            clusters,
            ..bootstrap::StaticResources::default()
        }),
        ..Bootstrap::default()
    }
}

/// An EDS cluster as STATIC with its assignment inlined.
fn static_cluster(mut c: Cluster, assignments: &[ClusterLoadAssignment]) -> Cluster {
    let eds = cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Eds as i32);
    if c.cluster_discovery_type != Some(eds) {
        return c;
    }
    let cla = assignments
        .iter()
        .find(|a| a.cluster_name == c.name)
        .unwrap_or_else(|| panic!("no load assignment for EDS cluster {}", c.name));
    c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
        cluster::DiscoveryType::Static as i32,
    ));
    c.eds_cluster_config = None;
    c.load_assignment = Some(cla.clone());
    c
}

/// Every RDS connection manager with its route configuration inlined.
fn inline_routes(mut l: Listener, routes: &[RouteConfiguration]) -> Listener {
    for chain in &mut l.filter_chains {
        for f in &mut chain.filters {
            if let Some(filter::ConfigType::TypedConfig(any)) = &mut f.config_type
                && any.type_url == HttpConnectionManager::type_url()
            {
                *any = inline_hcm_routes(any, routes);
            }
        }
    }
    l
}

fn inline_hcm_routes(any: &Any, routes: &[RouteConfiguration]) -> Any {
    let mut hcm = HttpConnectionManager::decode(any.value.as_slice()).expect("decode HCM");
    if let Some(RouteSpecifier::Rds(rds)) = &hcm.route_specifier {
        let route = routes
            .iter()
            .find(|r| r.name == rds.route_config_name)
            .unwrap_or_else(|| panic!("no route configuration {}", rds.route_config_name));
        hcm.route_specifier = Some(RouteSpecifier::RouteConfig(route.clone()));
    }
    pack_any(hcm)
}
