//! The Envoy bootstrap document of `connect envoy`.
//!
//! The document only tells Envoy how to reach the local agent's xDS server
//! (the static `local_agent` cluster and ADS over delta gRPC); listeners and
//! clusters of the mesh arrive over xDS. On top of that come the admin
//! server, the stats tag rules, and whatever the proxy's `Proxy.Config`
//! asks for through its `envoy_*` keys (see [`Options`]).
//!
//! The fields are the current v3 forms accepted by Envoy 1.40 without
//! deprecation warnings: `admin.access_log` (not `access_log_path`) and
//! `typed_extension_protocol_options` (not `http2_protocol_options` /
//! `http_protocol_options` on the cluster).

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::env::Env;
use crate::error::{Error, Result};

/// The name of the static cluster pointing at the agent's gRPC port.
pub(crate) const LOCAL_AGENT_CLUSTER: &str = "local_agent";

/// The cluster the metrics listeners forward to: Envoy's own admin server.
const SELF_ADMIN_CLUSTER: &str = "self_admin";

/// The cluster the Prometheus listener forwards to with `-prometheus-backend-port`.
const PROMETHEUS_BACKEND_CLUSTER: &str = "prometheus_backend";

/// The key of the upstream HTTP options in `typed_extension_protocol_options`.
const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// Where Envoy reaches the agent's xDS (gRPC) server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentAddr {
    /// A TCP address; the host is already resolved (the cluster is STATIC).
    Tcp {
        /// The agent's IP.
        ip: IpAddr,
        /// The gRPC port.
        port: u16,
    },
    /// A unix socket path.
    Unix(String),
}

/// Everything the bootstrap is built from apart from `Proxy.Config`.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    /// The proxy's service ID: Envoy's `node.id`, which keys the xDS stream.
    pub(crate) proxy_id: String,
    /// Envoy's `node.cluster`: the destination service name of a sidecar.
    pub(crate) cluster: String,
    /// The `consul.source.service` tag (empty: no tag).
    pub(crate) source_service: String,
    /// The `consul.source.namespace` tag and `node.metadata.namespace`.
    pub(crate) namespace: String,
    /// The `consul.source.partition` tag and `node.metadata.partition`.
    pub(crate) partition: String,
    /// The `consul.source.datacenter` tag (empty: no tag).
    pub(crate) datacenter: String,
    /// The ACL token sent as `x-consul-token` gRPC metadata (may be empty).
    pub(crate) token: String,
    /// The admin server's IP.
    pub(crate) admin_ip: IpAddr,
    /// The admin server's port.
    pub(crate) admin_port: u16,
    /// Where the admin server writes its access log.
    pub(crate) admin_access_log_path: String,
    /// The agent's xDS address.
    pub(crate) agent: AgentAddr,
    /// Leaves out the tag rules deprecated since Consul 1.9 (`consul.service`, …).
    pub(crate) omit_deprecated_tags: bool,
    /// The path the Prometheus listener serves (`-prometheus-scrape-path`).
    pub(crate) prometheus_scrape_path: String,
    /// Sends Prometheus scrapes to this local port instead of the admin server.
    pub(crate) prometheus_backend_port: Option<u16>,
}

/// The `envoy_*` keys of `Proxy.Config` that shape the bootstrap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `envoy_statsd_url`: a statsd sink (`udp://ip:port` or `$ENV_VAR`).
    pub(crate) statsd_url: String,
    /// `envoy_dogstatsd_url`: a DogStatsD sink (`udp://…`, `unix://…` or `$ENV_VAR`).
    pub(crate) dogstatsd_url: String,
    /// `envoy_stats_tags`: extra fixed tags, `name=value` or a bare `name` (value 1).
    pub(crate) stats_tags: Vec<String>,
    /// `envoy_prometheus_bind_addr`: `ip:port` of a listener serving only the scrape path.
    pub(crate) prometheus_bind_addr: String,
    /// `envoy_stats_bind_addr`: `ip:port` of a listener serving only `/stats…`.
    pub(crate) stats_bind_addr: String,
    /// `envoy_extra_static_clusters_json`: clusters appended to the static ones.
    pub(crate) extra_static_clusters_json: String,
    /// `envoy_extra_static_listeners_json`: listeners appended to the static ones.
    pub(crate) extra_static_listeners_json: String,
    /// `envoy_extra_stats_sinks_json`: stats sinks appended to the generated ones.
    pub(crate) extra_stats_sinks_json: String,
    /// `envoy_stats_config_json`: replaces the whole `stats_config`.
    pub(crate) stats_config_json: String,
    /// `envoy_stats_flush_interval`: `stats_flush_interval`, e.g. `"5s"`.
    pub(crate) stats_flush_interval: String,
    /// `envoy_tracing_json`: the `tracing` object.
    pub(crate) tracing_json: String,
}

// === impl Options ===

impl Options {
    /// Reads the bootstrap keys of a `Proxy.Config` map. Keys match without
    /// regard to case; numbers and booleans are taken as their text, and a
    /// single `envoy_stats_tags` string counts as a list of one.
    pub(crate) fn from_proxy_config(config: &Map<String, Value>) -> Result<Self> {
        let text = |key: &str| config_text(config, key);
        Ok(Self {
            statsd_url: text("envoy_statsd_url")?,
            dogstatsd_url: text("envoy_dogstatsd_url")?,
            stats_tags: config_list(config, "envoy_stats_tags")?,
            prometheus_bind_addr: text("envoy_prometheus_bind_addr")?,
            stats_bind_addr: text("envoy_stats_bind_addr")?,
            extra_static_clusters_json: text("envoy_extra_static_clusters_json")?,
            extra_static_listeners_json: text("envoy_extra_static_listeners_json")?,
            extra_stats_sinks_json: text("envoy_extra_stats_sinks_json")?,
            stats_config_json: text("envoy_stats_config_json")?,
            stats_flush_interval: text("envoy_stats_flush_interval")?,
            tracing_json: text("envoy_tracing_json")?,
        })
    }
}

fn config_value<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    config.get(key).or_else(|| {
        config
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn config_error(key: &str, expected: &str) -> Error {
    Error::msg(format!(
        "failed parsing Proxy.Config: '{key}' expected {expected}"
    ))
}

fn config_text(config: &Map<String, Value>, key: &str) -> Result<String> {
    match config_value(config, key) {
        None => Ok(String::new()),
        Some(v) => scalar_text(v).ok_or_else(|| config_error(key, "a string")),
    }
}

fn config_list(config: &Map<String, Value>, key: &str) -> Result<Vec<String>> {
    match config_value(config, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| scalar_text(v).ok_or_else(|| config_error(key, "a list of strings")))
            .collect(),
        Some(v) => scalar_text(v)
            .map(|s| vec![s])
            .ok_or_else(|| config_error(key, "a list of strings")),
    }
}

/// Builds the bootstrap document.
pub(crate) fn generate(args: &Args, opts: &Options, env: &Env<'_>) -> Result<Value> {
    let mut clusters = vec![local_agent_cluster(&args.agent)];
    clusters.extend(json_list(
        "envoy_extra_static_clusters_json",
        &opts.extra_static_clusters_json,
    )?);
    let mut listeners = json_list(
        "envoy_extra_static_listeners_json",
        &opts.extra_static_listeners_json,
    )?;
    if !opts.prometheus_bind_addr.is_empty() {
        let backend = match args.prometheus_backend_port {
            Some(port) => (PROMETHEUS_BACKEND_CLUSTER, port),
            None => (SELF_ADMIN_CLUSTER, args.admin_port),
        };
        let route = MetricsRoute {
            name: "envoy_prometheus_metrics",
            match_key: "path",
            match_value: &args.prometheus_scrape_path,
            rewrite: "/stats/prometheus",
        };
        add_metrics_listener(
            args,
            &opts.prometheus_bind_addr,
            &route,
            backend,
            &mut clusters,
            &mut listeners,
        )?;
    }
    if !opts.stats_bind_addr.is_empty() {
        let route = MetricsRoute {
            name: "envoy_metrics",
            match_key: "prefix",
            match_value: "/stats",
            rewrite: "/stats",
        };
        add_metrics_listener(
            args,
            &opts.stats_bind_addr,
            &route,
            (SELF_ADMIN_CLUSTER, args.admin_port),
            &mut clusters,
            &mut listeners,
        )?;
    }
    let stats_config = if opts.stats_config_json.trim().is_empty() {
        json!({
            "stats_tags": stats_tags(args, &opts.stats_tags),
            "use_all_default_tags": true,
        })
    } else {
        json_object("envoy_stats_config_json", &opts.stats_config_json)?
    };

    let mut static_resources = Map::new();
    static_resources.insert("clusters".into(), Value::Array(clusters));
    if !listeners.is_empty() {
        static_resources.insert("listeners".into(), Value::Array(listeners));
    }

    let mut root = Map::new();
    root.insert("admin".into(), admin(args));
    root.insert("node".into(), node(args));
    root.insert(
        "layered_runtime".into(),
        json!({"layers": [{
            "name": "base",
            "static_layer": {"re2.max_program_size.error_level": 1_048_576},
        }]}),
    );
    root.insert("static_resources".into(), Value::Object(static_resources));
    let sinks = stats_sinks(opts, env)?;
    if !sinks.is_empty() {
        root.insert("stats_sinks".into(), Value::Array(sinks));
    }
    root.insert("stats_config".into(), stats_config);
    if !opts.stats_flush_interval.is_empty() {
        root.insert(
            "stats_flush_interval".into(),
            json!(opts.stats_flush_interval),
        );
    }
    if !opts.tracing_json.trim().is_empty() {
        root.insert(
            "tracing".into(),
            json_object("envoy_tracing_json", &opts.tracing_json)?,
        );
    }
    root.insert("dynamic_resources".into(), dynamic_resources(args));
    Ok(Value::Object(root))
}

fn admin(args: &Args) -> Value {
    json!({
        "access_log": [{
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": args.admin_access_log_path,
            },
        }],
        "address": socket_address(&args.admin_ip.to_string(), args.admin_port),
    })
}

fn node(args: &Args) -> Value {
    json!({
        "cluster": args.cluster,
        "id": args.proxy_id,
        "metadata": {
            "namespace": args.namespace,
            "partition": args.partition,
        },
    })
}

fn socket_address(ip: &str, port: u16) -> Value {
    json!({"socket_address": {"address": ip, "port_value": port}})
}

/// A cluster with one static endpoint.
fn static_cluster(name: &str, connect_timeout: &str, address: Value, http: Value) -> Value {
    json!({
        "name": name,
        "ignore_health_on_host_removal": false,
        "connect_timeout": connect_timeout,
        "type": "STATIC",
        "typed_extension_protocol_options": {
            HTTP_PROTOCOL_OPTIONS: {
                "@type": format!("type.googleapis.com/{HTTP_PROTOCOL_OPTIONS}"),
                "explicit_http_config": http,
            },
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    })
}

/// The agent's gRPC server, spoken to over HTTP/2.
fn local_agent_cluster(agent: &AgentAddr) -> Value {
    let address = match agent {
        AgentAddr::Tcp { ip, port } => socket_address(&ip.to_string(), *port),
        AgentAddr::Unix(path) => json!({"pipe": {"path": path}}),
    };
    static_cluster(
        LOCAL_AGENT_CLUSTER,
        "1s",
        address,
        json!({"http2_protocol_options": {}}),
    )
}

fn dynamic_resources(args: &Args) -> Value {
    let ads_source = json!({
        "ads": {},
        "initial_fetch_timeout": "0s",
        "resource_api_version": "V3",
    });
    json!({
        "lds_config": ads_source,
        "cds_config": ads_source,
        "ads_config": {
            "api_type": "DELTA_GRPC",
            "transport_api_version": "V3",
            "grpc_services": [{
                "initial_metadata": [{"key": "x-consul-token", "value": args.token}],
                "envoy_grpc": {"cluster_name": LOCAL_AGENT_CLUSTER},
            }],
        },
    })
}

/// What one metrics listener serves.
struct MetricsRoute<'a> {
    /// Listener `<name>_listener` and the HCM's stat prefix.
    name: &'a str,
    /// `path` (exact) or `prefix`.
    match_key: &'a str,
    match_value: &'a str,
    /// The path the request is rewritten to before it reaches the backend.
    rewrite: &'a str,
}

/// Adds a plain-HTTP listener on `bind_addr` that forwards one route to
/// `backend` (added as a cluster unless one of that name exists) and answers
/// everything else with 404, so metrics can be exposed without the admin API.
fn add_metrics_listener(
    args: &Args,
    bind_addr: &str,
    route: &MetricsRoute<'_>,
    backend: (&str, u16),
    clusters: &mut Vec<Value>,
    listeners: &mut Vec<Value>,
) -> Result<()> {
    let (host, port) = super::split_host_port(bind_addr)
        .map_err(|e| Error::msg(format!("invalid {} bind address: {e}", route.name)))?;
    let (cluster, cluster_port) = backend;
    let exists = clusters
        .iter()
        .any(|c| c.get("name").and_then(Value::as_str) == Some(cluster));
    if !exists {
        clusters.push(static_cluster(
            cluster,
            "5s",
            socket_address(&args.admin_ip.to_string(), cluster_port),
            json!({"http_protocol_options": {}}),
        ));
    }
    listeners.push(json!({
        "name": format!("{}_listener", route.name),
        "address": socket_address(&host, port),
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": route.name,
                "codec_type": "HTTP1",
                "route_config": {
                    "name": "self_admin_route",
                    "virtual_hosts": [{
                        "name": "self_admin",
                        "domains": ["*"],
                        "routes": [
                            {
                                "match": {route.match_key: route.match_value},
                                "route": {"cluster": cluster, "prefix_rewrite": route.rewrite},
                            },
                            {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
                        ],
                    }],
                },
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                    },
                }],
            },
        }]}],
    }));
    Ok(())
}

/// An escape-hatch value holding zero or more JSON objects: either a JSON
/// array, or objects separated by commas (ready to be put inside `[…]`).
fn json_list(key: &str, text: &str) -> Result<Vec<Value>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) => serde_json::from_str(&format!("[{text}]"))
            .map_err(|e| Error::json(format!("failed parsing Proxy.Config: '{key}'"), e))?,
    };
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    if items.iter().any(|v| !v.is_object()) {
        return Err(config_error(key, "JSON objects"));
    }
    Ok(items)
}

/// An escape-hatch value holding one JSON object.
fn json_object(key: &str, text: &str) -> Result<Value> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::json(format!("failed parsing Proxy.Config: '{key}'"), e))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(config_error(key, "a JSON object"))
    }
}

fn stats_sinks(opts: &Options, env: &Env<'_>) -> Result<Vec<Value>> {
    let mut sinks = Vec::new();
    if !opts.statsd_url.is_empty() {
        sinks.push(stats_sink(
            "envoy.stat_sinks.statsd",
            "type.googleapis.com/envoy.config.metrics.v3.StatsdSink",
            &opts.statsd_url,
            env,
        )?);
    }
    if !opts.dogstatsd_url.is_empty() {
        sinks.push(stats_sink(
            "envoy.stat_sinks.dog_statsd",
            "type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink",
            &opts.dogstatsd_url,
            env,
        )?);
    }
    sinks.extend(json_list(
        "envoy_extra_stats_sinks_json",
        &opts.extra_stats_sinks_json,
    )?);
    Ok(sinks)
}

/// A statsd-style sink. `addr` is `udp://ip:port` or `unix:///path`, or
/// `$NAME` to read that from the environment; `$HOST_IP` / `${HOST_IP}`
/// inside an address is replaced by that variable.
fn stats_sink(name: &str, type_url: &str, addr: &str, env: &Env<'_>) -> Result<Value> {
    let addr = match addr.strip_prefix('$') {
        Some(var) if addr.len() > 2 && !var.starts_with('{') => env.var(var).unwrap_or_default(),
        _ => expand_host_ip(addr, env),
    };
    let bad = || Error::msg(format!("failed to parse {name} sink address {addr:?}"));
    let (scheme, rest) = addr.split_once("://").ok_or_else(bad)?;
    let address = match scheme.to_ascii_lowercase().as_str() {
        "udp" => {
            let (host, port) = super::split_host_port(rest).map_err(|_| bad())?;
            socket_address(&host, port)
        }
        "unix" => json!({"pipe": {"path": rest}}),
        other => {
            return Err(Error::msg(format!(
                "unsupported address protocol {other:?} for {name} sink"
            )));
        }
    };
    Ok(json!({"name": name, "typed_config": {"@type": type_url, "address": address}}))
}

fn expand_host_ip(addr: &str, env: &Env<'_>) -> String {
    let ip = env.var("HOST_IP").unwrap_or_default();
    addr.replace("${HOST_IP}", &ip).replace("$HOST_IP", &ip)
}

/// The `stats_tags` list: the fixed tags from `envoy_stats_tags`, the rules
/// that turn parts of cluster and listener stat names into tags, then the
/// fixed tags describing this proxy (unless already set by the user).
fn stats_tags(args: &Args, custom: &[String]) -> Vec<Value> {
    let mut tags = Vec::new();
    let mut names = Vec::new();
    for tag in custom {
        let (name, value) = tag.split_once('=').unwrap_or((tag.as_str(), "1"));
        let name = name.to_lowercase();
        tags.push(json!({"tag_name": name, "fixed_value": value}));
        names.push(name);
    }
    for (name, regex) in tag_specifiers(args.omit_deprecated_tags) {
        tags.push(json!({"tag_name": name, "regex": regex}));
    }
    let fixed = [
        ("local_cluster", &args.cluster),
        ("consul.source.service", &args.source_service),
        ("consul.source.namespace", &args.namespace),
        ("consul.source.partition", &args.partition),
        ("consul.source.datacenter", &args.datacenter),
    ];
    for (name, value) in fixed {
        if value.is_empty() || names.iter().any(|n| n == name) {
            continue;
        }
        tags.push(json!({"tag_name": name, "fixed_value": value}));
    }
    tags
}

/// One path segment of a stat name.
const SEG: &str = "[^.]+";

/// Cluster stat names look like
/// `cluster.[<hash>~][<subset>.]<svc>.<ns>.[<partition>.]<dc>.internal[-<v>].<trust domain>.consul.<stat>`
/// (an optional `passthrough~` first), or for peers
/// `cluster.[<subset>.]<svc>.<ns>.<peer>.external.<trust domain>.consul.<stat>`.
/// In every rule the outer group is cut out of the stat name and the inner
/// group becomes the tag value. `{s}` stands for one segment.
const DESTINATION_RULES: &[(&str, &str)] = &[
    (
        "custom_hash",
        r"^cluster\.(?:passthrough~)?((?:({s})~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?{s}\.{s}\.{s}\.consul\.)",
    ),
    (
        "service_subset",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:({s})\.)?{s}\.{s}\.(?:{s}\.)?{s}\.{s}\.{s}\.consul\.)",
    ),
    (
        "service",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?({s})\.{s}\.(?:{s}\.)?{s}\.{s}\.{s}\.consul\.)",
    ),
    (
        "namespace",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?{s}\.({s})\.(?:{s}\.)?{s}\.{s}\.{s}\.consul\.)",
    ),
    (
        "partition",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:({s})\.)?{s}\.internal[^.]*\.{s}\.consul\.)",
    ),
    (
        "datacenter",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?({s})\.internal[^.]*\.{s}\.consul\.)",
    ),
    (
        "peer",
        r"^cluster\.({s}\.(?:{s}\.)?({s})\.external\.{s}\.consul\.)",
    ),
    (
        "routing_type",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?{s}\.({s})\.{s}\.consul\.)",
    ),
    (
        "trust_domain",
        r"^cluster\.(?:passthrough~)?((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?{s}\.{s}\.({s})\.consul\.)",
    ),
    (
        "target",
        r"^cluster\.(?:passthrough~)?(((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?{s})\.{s}\.{s}\.consul\.)",
    ),
    (
        "full_target",
        r"^cluster\.(?:passthrough~)?(((?:{s}~)?(?:{s}\.)?{s}\.{s}\.(?:{s}\.)?{s}\.{s}\.{s})\.consul\.)",
    ),
];

/// Upstream listener stat names look like
/// `<tcp|http>.upstream.<svc>[.<ns>][.<partition>].<dc>.<stat>` or
/// `<tcp|http>.upstream_peered.<svc>[.<ns>].<peer>.<stat>`.
const UPSTREAM_RULES: &[(&str, &str)] = &[
    (
        "service",
        r"^(?:tcp|http)\.upstream(?:_peered)?\.(({s})(?:\.{s})?(?:\.{s})?\.{s}\.)",
    ),
    (
        "datacenter",
        r"^(?:tcp|http)\.upstream\.({s}(?:\.{s})?(?:\.{s})?\.({s})\.)",
    ),
    (
        "peer",
        r"^(?:tcp|http)\.upstream_peered\.({s}(?:\.{s})?\.({s})\.)",
    ),
    (
        "namespace",
        r"^(?:tcp|http)\.upstream(?:_peered)?\.({s}(?:\.({s}))?(?:\.{s})?\.{s}\.)",
    ),
    (
        "partition",
        r"^(?:tcp|http)\.upstream\.({s}(?:\.{s})?(?:\.({s}))?\.{s}\.)",
    ),
];

/// The destination tags Consul 1.9 renamed; their old `consul.<name>` forms
/// (without the `passthrough~` allowance) are still emitted unless omitted.
const DEPRECATED_NAMES: &[&str] = &[
    "custom_hash",
    "service_subset",
    "service",
    "namespace",
    "datacenter",
    "routing_type",
    "trust_domain",
    "target",
    "full_target",
];

/// The `(tag name, regex)` rules, in the order they are listed.
pub(crate) fn tag_specifiers(omit_deprecated: bool) -> Vec<(String, String)> {
    let expand = |pattern: &str| pattern.replace("{s}", SEG);
    let mut rules: Vec<(String, String)> = DESTINATION_RULES
        .iter()
        .map(|(name, p)| (format!("consul.destination.{name}"), expand(p)))
        .chain(
            UPSTREAM_RULES
                .iter()
                .map(|(name, p)| (format!("consul.upstream.{name}"), expand(p))),
        )
        .collect();
    if !omit_deprecated {
        for name in DEPRECATED_NAMES {
            if let Some((_, p)) = DESTINATION_RULES.iter().find(|(n, _)| n == name) {
                let pattern = expand(p).replacen("(?:passthrough~)?", "", 1);
                rules.push((format!("consul.{name}"), pattern));
            }
        }
    }
    rules
}
