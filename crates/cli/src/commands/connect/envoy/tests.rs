//! Tests of `connect envoy`: proxy lookup, the bootstrap document, running
//! Envoy, and validation of the printed bootstrap by the real Envoy binary.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::bootstrap::{self, AgentAddr};
use super::{envoy_args, parse_grpc_addr, split_host_port, write_bootstrap};
use crate::commands::testing::{Canned, Output, reply, run_against, run_against_env, run_cli};

/// A connect-proxy registration as the agent returns it.
fn proxy(id: &str, dest_id: &str, dest_name: &str, config: Value) -> Value {
    json!({
        "ID": id,
        "Service": format!("{dest_name}-sidecar-proxy"),
        "Kind": "connect-proxy",
        "Port": 21000,
        "Address": "",
        "Datacenter": "dc1",
        "Proxy": {
            "DestinationServiceName": dest_name,
            "DestinationServiceID": dest_id,
            "LocalServiceAddress": "127.0.0.1",
            "LocalServicePort": 8080,
            "Config": config,
        },
    })
}

fn plain(id: &str) -> Value {
    json!({"ID": id, "Service": id, "Port": 8080, "Address": "", "Datacenter": "dc1"})
}

fn json_reply(v: &Value) -> Canned {
    reply(200, v.to_string().as_bytes())
}

/// `GET /v1/agent/services` answering with `services`.
fn services(list: &[Value]) -> Canned {
    let map: serde_json::Map<String, Value> = list
        .iter()
        .map(|s| (s["ID"].as_str().unwrap().to_owned(), s.clone()))
        .collect();
    json_reply(&Value::Object(map))
}

fn parsed(out: &Output) -> Value {
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn tag<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["stats_config"]["stats_tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag_name"] == name)
}

const BOOTSTRAP_WEB: &[&str] = &[
    "connect",
    "envoy",
    "-sidecar-for",
    "web",
    "-grpc-addr",
    "127.0.0.1:8502",
    "-bootstrap",
];

// --- -sidecar-for lookup ---

#[test]
fn sidecar_for_finds_the_one_proxy_of_the_instance() {
    let web_proxy = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let list = [
        plain("web"),
        plain("db"),
        web_proxy.clone(),
        proxy("db-sidecar-proxy", "db", "db", json!({})),
    ];
    let (out, reqs) = run_against(BOOTSTRAP_WEB, vec![services(&list), json_reply(&web_proxy)]);
    let doc = parsed(&out);
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/v1/agent/services", "/v1/agent/service/web-sidecar-proxy"]
    );
    assert_eq!(doc["node"]["id"], "web-sidecar-proxy");
    assert_eq!(doc["node"]["cluster"], "web");
}

#[test]
fn sidecar_for_matches_the_destination_id_without_case() {
    let p = proxy("p1", "WEB", "web", json!(null));
    let (out, _) = run_against(
        BOOTSTRAP_WEB,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    assert_eq!(parsed(&out)["node"]["id"], "p1");
}

#[test]
fn sidecar_for_fails_without_a_proxy() {
    // A plain service and a proxy of another instance do not count.
    let list = [plain("web"), proxy("db-proxy", "db", "db", json!({}))];
    let (out, reqs) = run_against(BOOTSTRAP_WEB, vec![services(&list)]);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (out.code, out.stderr.as_str(), out.stdout.as_str()),
        (1, "No sidecar proxy registered for web\n", "")
    );
}

#[test]
fn sidecar_for_fails_with_two_proxies() {
    let list = [
        proxy("web-proxy-b", "web", "web", json!({})),
        proxy("web-proxy-a", "web", "web", json!({})),
    ];
    let (out, _) = run_against(BOOTSTRAP_WEB, vec![services(&list)]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "More than one sidecar proxy registered for web.\n    Start proxy with \
             -proxy-id and one of the following IDs: web-proxy-a, web-proxy-b\n"
        )
    );
}

#[test]
fn sidecar_for_reports_agent_errors() {
    let (out, _) = run_against(BOOTSTRAP_WEB, vec![reply(403, b"Permission denied")]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed looking up sidecar proxy info for web: Unexpected response code: 403 \
             (Permission denied)\n"
        )
    );
}

#[test]
fn sidecar_for_can_come_from_the_environment() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, reqs) = run_against_env(
        &["connect", "envoy", "-bootstrap"],
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
        &[
            ("CONNECT_SIDECAR_FOR", "web"),
            ("CONSUL_GRPC_ADDR", "127.0.0.1:8502"),
        ],
    );
    assert_eq!(parsed(&out)["node"]["id"], "web-sidecar-proxy");
    assert_eq!(reqs.len(), 2);
}

#[test]
fn proxy_id_skips_the_lookup() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, reqs) = run_against_env(
        &[
            "connect",
            "envoy",
            "-bootstrap",
            "-grpc-addr=127.0.0.1:8502",
        ],
        vec![json_reply(&p)],
        &[("CONNECT_PROXY_ID", "web-sidecar-proxy")],
    );
    assert_eq!(parsed(&out)["node"]["cluster"], "web");
    assert_eq!(reqs[0].target, "/v1/agent/service/web-sidecar-proxy");
}

#[test]
fn a_proxy_id_or_sidecar_is_required() {
    let out = run_cli(&["connect", "envoy", "-bootstrap"], "127.0.0.1:1", b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "No proxy ID specified. One of -proxy-id or -sidecar-for is required\n"
        )
    );
}

#[test]
fn registration_must_be_a_proxy() {
    let (out, _) = run_against(
        &[
            "connect",
            "envoy",
            "-proxy-id=web",
            "-grpc-addr=127.0.0.1:8502",
            "-bootstrap",
        ],
        vec![json_reply(&plain("web"))],
    );
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "service is not a Connect proxy or gateway\n")
    );
    let (out, _) = run_against(
        &[
            "connect",
            "envoy",
            "-proxy-id=nope",
            "-grpc-addr=127.0.0.1:8502",
            "-bootstrap",
        ],
        vec![reply(404, b"unknown service ID: nope")],
    );
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "failed fetch proxy config from local agent: Unexpected response code: 404 \
             (unknown service ID: nope)\n"
        )
    );
}

// --- the bootstrap document ---

#[test]
fn bootstrap_has_every_field_envoy_needs() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, reqs) = run_against(
        &[
            "connect",
            "envoy",
            "-proxy-id",
            "web-sidecar-proxy",
            "-grpc-addr",
            "http://localhost:8502",
            "-admin-bind",
            "127.0.0.1:19005",
            "-token",
            "s3cr3t",
            "-bootstrap",
        ],
        vec![json_reply(&p)],
    );
    let doc = parsed(&out);
    assert_eq!(reqs[0].header("X-Consul-Token"), Some("s3cr3t"));
    assert!(out.stdout.starts_with("{\n  \""), "two-space indent");
    assert!(out.stdout.ends_with("}\n"));

    assert_eq!(
        doc["admin"],
        json!({
            "access_log": [{
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": "/dev/null",
                },
            }],
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 19005}},
        })
    );
    assert_eq!(
        doc["node"],
        json!({
            "cluster": "web",
            "id": "web-sidecar-proxy",
            "metadata": {"namespace": "default", "partition": "default"},
        })
    );
    assert_eq!(
        doc["layered_runtime"],
        json!({"layers": [{"name": "base", "static_layer": {"re2.max_program_size.error_level": 1048576}}]})
    );
    assert_eq!(
        doc["static_resources"],
        json!({"clusters": [{
            "name": "local_agent",
            "ignore_health_on_host_removal": false,
            "connect_timeout": "1s",
            "type": "STATIC",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}},
                },
            },
            "load_assignment": {
                "cluster_name": "local_agent",
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                    "socket_address": {"address": "127.0.0.1", "port_value": 8502},
                }}}]}],
            },
        }]})
    );
    let ads = json!({"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"});
    assert_eq!(
        doc["dynamic_resources"],
        json!({
            "lds_config": ads,
            "cds_config": ads,
            "ads_config": {
                "api_type": "DELTA_GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{
                    "initial_metadata": [{"key": "x-consul-token", "value": "s3cr3t"}],
                    "envoy_grpc": {"cluster_name": "local_agent"},
                }],
            },
        })
    );
    assert_eq!(doc["stats_config"]["use_all_default_tags"], true);
    for key in ["stats_sinks", "stats_flush_interval", "tracing"] {
        assert!(doc.get(key).is_none(), "{key}");
    }
    assert!(doc["static_resources"].get("listeners").is_none());
    // No deprecated forms.
    for word in [
        "access_log_path",
        "\"http2_protocol_options\": {}\n    }",
        "\"hosts\"",
    ] {
        assert!(!out.stdout.contains(word), "{word}");
    }
}

#[test]
fn stats_tags_are_the_rules_then_the_fixed_tags() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, _) = run_against(
        BOOTSTRAP_WEB,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    let tags = doc["stats_config"]["stats_tags"].as_array().unwrap();
    let names: Vec<&str> = tags
        .iter()
        .map(|t| t["tag_name"].as_str().unwrap())
        .collect();
    let rules = bootstrap::tag_specifiers(false);
    assert_eq!(rules.len(), 11 + 5 + 9);
    for (i, (name, regex)) in rules.iter().enumerate() {
        assert_eq!(tags[i], json!({"tag_name": name, "regex": regex}));
    }
    assert_eq!(
        names[rules.len()..],
        [
            "local_cluster",
            "consul.source.service",
            "consul.source.namespace",
            "consul.source.partition",
            "consul.source.datacenter"
        ]
    );
    assert_eq!(tag(&doc, "local_cluster").unwrap()["fixed_value"], "web");
    assert_eq!(
        tag(&doc, "consul.source.service").unwrap()["fixed_value"],
        "web"
    );
    assert_eq!(
        tag(&doc, "consul.source.namespace").unwrap()["fixed_value"],
        "default"
    );
    assert_eq!(
        tag(&doc, "consul.source.datacenter").unwrap()["fixed_value"],
        "dc1"
    );
    assert!(tag(&doc, "consul.service").is_some());
    assert!(tag(&doc, "consul.destination.peer").is_some());
}

#[test]
fn omit_deprecated_tags_drops_the_old_names() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let mut args = BOOTSTRAP_WEB.to_vec();
    args.push("-omit-deprecated-tags");
    let (out, _) = run_against(
        &args,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    let tags = doc["stats_config"]["stats_tags"].as_array().unwrap();
    assert_eq!(tags.len(), 11 + 5 + 5);
    assert!(tags.iter().all(|t| {
        let name = t["tag_name"].as_str().unwrap();
        !name.starts_with("consul.")
            || name.starts_with("consul.destination.")
            || name.starts_with("consul.upstream.")
            || name.starts_with("consul.source.")
    }));
}

/// Runs each rule as Envoy does (RE2 syntax, which `regex` shares here) on
/// real stat names: the inner group is the tag value.
#[test]
fn tag_rules_extract_the_parts_of_stat_names() {
    let rules = bootstrap::tag_specifiers(false);
    let value = |tag: &str, stat: &str| -> Option<String> {
        let (_, re) = rules.iter().find(|(n, _)| n == tag).unwrap();
        let re = regex::Regex::new(re).unwrap();
        re.captures(stat)
            .and_then(|c| c.get(2))
            .map(|m| m.as_str().to_owned())
    };
    let td = "e5b08d03-bfc3-c870-1833-baddb116e648";
    let sub = format!("cluster.f8f8f8f8~v2.pong.default.dc2.internal.{td}.consul.bind_errors");
    assert_eq!(
        value("consul.destination.custom_hash", &sub).as_deref(),
        Some("f8f8f8f8")
    );
    assert_eq!(
        value("consul.destination.service_subset", &sub).as_deref(),
        Some("v2")
    );
    assert_eq!(
        value("consul.destination.service", &sub).as_deref(),
        Some("pong")
    );
    assert_eq!(
        value("consul.destination.namespace", &sub).as_deref(),
        Some("default")
    );
    assert_eq!(
        value("consul.destination.datacenter", &sub).as_deref(),
        Some("dc2")
    );
    assert_eq!(
        value("consul.destination.routing_type", &sub).as_deref(),
        Some("internal")
    );
    assert_eq!(
        value("consul.destination.trust_domain", &sub).as_deref(),
        Some(td)
    );
    assert_eq!(
        value("consul.destination.target", &sub).as_deref(),
        Some("f8f8f8f8~v2.pong.default.dc2")
    );
    assert_eq!(value("consul.service", &sub).as_deref(), Some("pong"));
    // With a partition the subset is needed to tell the segments apart (the
    // optional subset group is tried first, as in RE2).
    let part = format!("cluster.v2.pong.default.partA.dc2.internal-v1.{td}.consul.bind_errors");
    assert_eq!(
        value("consul.destination.partition", &part).as_deref(),
        Some("partA")
    );
    assert_eq!(
        value("consul.destination.datacenter", &part).as_deref(),
        Some("dc2")
    );
    assert_eq!(
        value("consul.destination.service", &part).as_deref(),
        Some("pong")
    );
    let pass = format!("cluster.passthrough~pong.default.dc2.internal.{td}.consul.bind_errors");
    assert_eq!(
        value("consul.destination.service", &pass).as_deref(),
        Some("pong")
    );
    let peer = format!("cluster.pong.default.cloudpeer.external.{td}.consul.bind_errors");
    assert_eq!(
        value("consul.destination.peer", &peer).as_deref(),
        Some("cloudpeer")
    );
    let up = "http.upstream.web.frontend.west.dc1.downstream_cx_total";
    assert_eq!(value("consul.upstream.service", up).as_deref(), Some("web"));
    assert_eq!(
        value("consul.upstream.namespace", up).as_deref(),
        Some("frontend")
    );
    assert_eq!(
        value("consul.upstream.partition", up).as_deref(),
        Some("west")
    );
    assert_eq!(
        value("consul.upstream.datacenter", up).as_deref(),
        Some("dc1")
    );
    let tcp = "tcp.upstream.db.dc1.downstream_cx_total";
    assert_eq!(value("consul.upstream.service", tcp).as_deref(), Some("db"));
    assert_eq!(
        value("consul.upstream.datacenter", tcp).as_deref(),
        Some("dc1")
    );
    let peered = "http.upstream_peered.web.frontend.cloudpeer.downstream_cx_total";
    assert_eq!(
        value("consul.upstream.peer", peered).as_deref(),
        Some("cloudpeer")
    );
}

/// A `Proxy.Config` using every supported `envoy_*` key.
fn rich_config() -> Value {
    json!({
        "protocol": "http",
        "envoy_stats_tags": ["Team=payments", "canary", "local_cluster=override"],
        "envoy_prometheus_bind_addr": "127.0.0.1:19101",
        "envoy_stats_bind_addr": "127.0.0.1:19102",
        "envoy_stats_flush_interval": "7s",
        "envoy_statsd_url": "udp://127.0.0.1:8125",
        "envoy_dogstatsd_url": "$DOGSTATSD_URL",
        "envoy_extra_static_clusters_json": r#"{
            "name": "zipkin",
            "type": "STATIC",
            "connect_timeout": "2s",
            "load_assignment": {"cluster_name": "zipkin", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9411}}}}
            ]}]}
        }"#,
        "envoy_extra_static_listeners_json": r#"{
            "name": "extra_listener",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 19103}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                    "stat_prefix": "extra",
                    "cluster": "zipkin"
                }
            }]}]
        }"#,
    })
}

/// `envoy_tracing_json` for the `zipkin` cluster of [`rich_config`].
const TRACING: &str = r#"{"http": {"name": "envoy.tracers.zipkin", "typed_config": {
    "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
    "collector_cluster": "zipkin",
    "collector_endpoint": "/api/v2/spans",
    "collector_endpoint_version": "HTTP_JSON"
}}}"#;

fn rich_bootstrap(config: Value) -> Output {
    let p = proxy("web-sidecar-proxy", "web", "web", config);
    let (out, _) = run_against_env(
        BOOTSTRAP_WEB,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
        &[("DOGSTATSD_URL", "unix:///var/run/dogstatsd.sock")],
    );
    out
}

#[test]
fn proxy_config_options_shape_the_bootstrap() {
    let mut config = rich_config();
    config["envoy_tracing_json"] = json!(TRACING);
    let out = rich_bootstrap(config);
    let doc = parsed(&out);
    assert_eq!(
        out.stderr,
        "Warning: envoy_tracing_json sets the bootstrap's top-level tracing, which \
         Envoy reports as deprecated\n"
    );
    assert_eq!(tag(&doc, "team").unwrap()["fixed_value"], "payments");
    assert_eq!(tag(&doc, "canary").unwrap()["fixed_value"], "1");
    assert_eq!(
        tag(&doc, "local_cluster").unwrap()["fixed_value"],
        "override"
    );
    let local = doc["stats_config"]["stats_tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tag_name"] == "local_cluster")
        .count();
    assert_eq!(local, 1, "a user tag replaces the default");
    assert_eq!(doc["stats_flush_interval"], "7s");
    assert_eq!(doc["tracing"]["http"]["name"], "envoy.tracers.zipkin");

    let clusters = doc["static_resources"]["clusters"].as_array().unwrap();
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local_agent", "zipkin", "self_admin"]);
    let admin = &clusters[2];
    assert_eq!(admin["connect_timeout"], "5s");
    assert_eq!(
        admin["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"],
        json!({"socket_address": {"address": "127.0.0.1", "port_value": 19000}})
    );
    assert_eq!(
        admin["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
            ["explicit_http_config"],
        json!({"http_protocol_options": {}})
    );

    let listeners = doc["static_resources"]["listeners"].as_array().unwrap();
    let names: Vec<&str> = listeners
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "extra_listener",
            "envoy_prometheus_metrics_listener",
            "envoy_metrics_listener"
        ]
    );
    let routes = |l: &Value| {
        l["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]
            ["routes"]
            .clone()
    };
    assert_eq!(
        routes(&listeners[1]),
        json!([
            {"match": {"path": "/metrics"}, "route": {"cluster": "self_admin", "prefix_rewrite": "/stats/prometheus"}},
            {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
        ])
    );
    assert_eq!(
        routes(&listeners[2])[0],
        json!({"match": {"prefix": "/stats"}, "route": {"cluster": "self_admin", "prefix_rewrite": "/stats"}})
    );
    assert_eq!(
        listeners[1]["address"],
        json!({"socket_address": {"address": "127.0.0.1", "port_value": 19101}})
    );

    assert_eq!(
        doc["stats_sinks"],
        json!([
            {"name": "envoy.stat_sinks.statsd", "typed_config": {
                "@type": "type.googleapis.com/envoy.config.metrics.v3.StatsdSink",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 8125}}}},
            {"name": "envoy.stat_sinks.dog_statsd", "typed_config": {
                "@type": "type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink",
                "address": {"pipe": {"path": "/var/run/dogstatsd.sock"}}}},
        ])
    );
}

#[test]
fn prometheus_backend_port_and_scrape_path() {
    let config = json!({"envoy_prometheus_bind_addr": "0.0.0.0:20200"});
    let p = proxy("web-sidecar-proxy", "web", "web", config);
    let mut args = BOOTSTRAP_WEB.to_vec();
    args.extend([
        "-prometheus-backend-port=20100",
        "-prometheus-scrape-path=/scrape",
    ]);
    let (out, _) = run_against(
        &args,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    let clusters = doc["static_resources"]["clusters"].as_array().unwrap();
    assert_eq!(clusters[1]["name"], "prometheus_backend");
    assert_eq!(
        clusters[1]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
            ["port_value"],
        20100
    );
    let route = &doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        ["route_config"]["virtual_hosts"][0]["routes"][0];
    assert_eq!(
        *route,
        json!({"match": {"path": "/scrape"}, "route": {"cluster": "prometheus_backend", "prefix_rewrite": "/stats/prometheus"}})
    );
}

#[test]
fn no_central_config_ignores_proxy_config() {
    let p = proxy("web-sidecar-proxy", "web", "web", rich_config());
    let mut args = BOOTSTRAP_WEB.to_vec();
    args.push("-no-central-config");
    let (out, _) = run_against(
        &args,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    assert_eq!(
        doc["static_resources"]["clusters"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(doc.get("stats_flush_interval").is_none());
}

#[test]
fn bad_proxy_config_is_reported() {
    let cases = [
        (
            json!({"envoy_extra_static_clusters_json": "{nope"}),
            "failed parsing Proxy.Config: 'envoy_extra_static_clusters_json': ",
        ),
        (
            json!({"envoy_prometheus_bind_addr": "no-port"}),
            "invalid envoy_prometheus_metrics bind address: missing port in address \"no-port\"",
        ),
        (
            json!({"envoy_statsd_url": "tcp://1.2.3.4:1"}),
            "unsupported address protocol \"tcp\" for envoy.stat_sinks.statsd sink",
        ),
        (
            json!({"envoy_stats_flush_interval": {"a": 1}}),
            "failed parsing Proxy.Config: 'envoy_stats_flush_interval' expected a string",
        ),
    ];
    for (config, want) in cases {
        let p = proxy("web-sidecar-proxy", "web", "web", config);
        let (out, _) = run_against(
            BOOTSTRAP_WEB,
            vec![services(std::slice::from_ref(&p)), json_reply(&p)],
        );
        assert_eq!(out.code, 1);
        assert!(out.stderr.starts_with(want), "{want}\n{}", out.stderr);
    }
}

#[test]
fn proxy_config_reading_is_lenient() {
    let config = json!({
        "ENVOY_STATS_TAGS": "solo",
        "envoy_stats_flush_interval": 5,
        "envoy_extra_static_clusters_json": "[{\"name\": \"a\"}, {\"name\": \"b\"}]",
    });
    let opts = bootstrap::Options::from_proxy_config(config.as_object().unwrap()).unwrap();
    assert_eq!(opts.stats_tags, ["solo"]);
    assert_eq!(opts.stats_flush_interval, "5");
    let p = proxy("web-sidecar-proxy", "web", "web", config);
    let (out, _) = run_against(
        BOOTSTRAP_WEB,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    let clusters = doc["static_resources"]["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 3);
}

// --- the agent's gRPC address ---

#[test]
fn grpc_port_comes_from_the_agent() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let me = json!({
        "Config": {"Datacenter": "dc1"},
        "DebugConfig": {"GRPCPort": 8600},
        "xDS": {"Port": 8503, "Ports": {"Plaintext": 8503, "TLS": -1}},
    });
    let (out, reqs) = run_against(
        &["connect", "envoy", "-sidecar-for=web", "-bootstrap"],
        vec![
            services(std::slice::from_ref(&p)),
            json_reply(&me),
            json_reply(&p),
        ],
    );
    let doc = parsed(&out);
    assert_eq!(reqs[1].target, "/v1/agent/self");
    let endpoint = &doc["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        [0]["endpoint"]["address"]["socket_address"];
    assert_eq!(
        *endpoint,
        json!({"address": "127.0.0.1", "port_value": 8503})
    );
    assert_eq!(out.stderr, "");

    // Older agents: only DebugConfig.GRPCPort.
    let me = json!({"DebugConfig": {"GRPCPort": 8600}});
    let (out, _) = run_against(
        &["connect", "envoy", "-sidecar-for=web", "-bootstrap"],
        vec![
            services(std::slice::from_ref(&p)),
            json_reply(&me),
            json_reply(&p),
        ],
    );
    let doc = parsed(&out);
    let endpoint = &doc["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        [0]["endpoint"]["address"]["socket_address"];
    assert_eq!(endpoint["port_value"], 8600);
}

#[test]
fn grpc_port_defaults_to_8502_with_a_warning() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    // What skein's agent reports while it serves no xDS.
    let me = json!({
        "DebugConfig": {"NodeName": "n1"},
        "xDS": {"SupportedProxies": {"envoy": ["1.40.0"]}, "Port": -1, "Ports": {"Plaintext": -1, "TLS": -1}},
    });
    let (out, _) = run_against(
        &["connect", "envoy", "-sidecar-for=web", "-bootstrap"],
        vec![
            services(std::slice::from_ref(&p)),
            json_reply(&me),
            json_reply(&p),
        ],
    );
    let doc = parsed(&out);
    let endpoint = &doc["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        [0]["endpoint"]["address"]["socket_address"];
    assert_eq!(
        *endpoint,
        json!({"address": "127.0.0.1", "port_value": 8502})
    );
    assert_eq!(
        out.stderr,
        "-grpc-addr not provided and unable to discover a gRPC address for xDS. \
         Defaulting to 127.0.0.1:8502\n"
    );
}

#[test]
fn grpc_addr_from_the_environment() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, reqs) = run_against_env(
        &[
            "connect",
            "envoy",
            "-proxy-id=web-sidecar-proxy",
            "-bootstrap",
        ],
        vec![json_reply(&p)],
        &[("CONSUL_GRPC_ADDR", "unix:///run/consul/grpc.sock")],
    );
    let doc = parsed(&out);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        doc["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
            [0]["endpoint"]["address"],
        json!({"pipe": {"path": "/run/consul/grpc.sock"}})
    );
}

#[test]
fn grpc_addresses_parse_like_consul() {
    let v4 = |a: [u8; 4], port| AgentAddr::Tcp {
        ip: IpAddr::V4(Ipv4Addr::from(a)),
        port,
    };
    assert_eq!(
        parse_grpc_addr("127.0.0.1:8502").unwrap(),
        v4([127, 0, 0, 1], 8502)
    );
    assert_eq!(
        parse_grpc_addr("http://10.1.2.3:9000/").unwrap(),
        v4([10, 1, 2, 3], 9000)
    );
    assert_eq!(
        parse_grpc_addr("HTTP://localhost:8502").unwrap(),
        v4([127, 0, 0, 1], 8502)
    );
    assert_eq!(
        parse_grpc_addr("[::1]:8502").unwrap(),
        AgentAddr::Tcp {
            ip: "::1".parse().unwrap(),
            port: 8502
        }
    );
    assert_eq!(
        parse_grpc_addr("unix:///tmp/a.sock").unwrap(),
        AgentAddr::Unix("/tmp/a.sock".into())
    );
    let err = |a: &str| parse_grpc_addr(a).unwrap_err().to_string();
    assert!(err("https://127.0.0.1:8503").contains("TLS"));
    assert!(err("127.0.0.1").contains("missing port"));
    assert!(err("127.0.0.1:http").contains("invalid port"));
    assert!(err("ftp://h:1").contains("unsupported"));
    assert_eq!(
        split_host_port("localhost:19000").unwrap(),
        ("localhost".into(), 19000)
    );
    assert!(
        split_host_port("::1:80")
            .unwrap_err()
            .contains("too many colons")
    );
}

#[test]
fn admin_bind_is_resolved_and_checked() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let mut args = BOOTSTRAP_WEB.to_vec();
    args.push("-admin-bind=localhost:19123");
    args.push("-admin-access-log-path=/tmp/admin.log");
    let (out, _) = run_against(
        &args,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    let doc = parsed(&out);
    assert_eq!(
        doc["admin"]["address"],
        json!({"socket_address": {"address": "127.0.0.1", "port_value": 19123}})
    );
    assert_eq!(
        doc["admin"]["access_log"][0]["typed_config"]["path"],
        "/tmp/admin.log"
    );

    let mut args = BOOTSTRAP_WEB.to_vec();
    args.push("-admin-bind=localhost");
    let (out, _) = run_against(&args, vec![services(std::slice::from_ref(&p))]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Invalid admin bind address \"localhost\": missing port"),
        "{}",
        out.stderr
    );
}

// --- running Envoy ---

#[test]
fn envoy_arguments() {
    let file = Path::new("/tmp/x/bootstrap.json");
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        envoy_args(file, &[]),
        [
            "--config-path",
            "/tmp/x/bootstrap.json",
            "--disable-hot-restart"
        ]
    );
    assert_eq!(
        envoy_args(file, &strings(&["--log-level", "debug"])),
        [
            "--config-path",
            "/tmp/x/bootstrap.json",
            "--disable-hot-restart",
            "--log-level",
            "debug"
        ]
    );
    for hot in [
        &["--restart-epoch", "1"][..],
        &["--hot-restart-version"],
        &["--drain-time-s=5"],
        &["--parent-shutdown-time-s", "9"],
    ] {
        let args = envoy_args(file, &strings(hot));
        assert!(
            !args.contains(&"--disable-hot-restart".to_owned()),
            "{hot:?}"
        );
        assert!(args.ends_with(&strings(hot)));
    }
    // Only whole option names count.
    let args = envoy_args(file, &strings(&["--restart-epochs"]));
    assert!(args.contains(&"--disable-hot-restart".to_owned()));
}

#[cfg(unix)]
#[test]
fn bootstrap_file_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let base = tempfile::tempdir().unwrap();
    let (dir, file) = write_bootstrap(base.path(), "{}").unwrap();
    assert_eq!(dir.parent(), Some(base.path()));
    assert_eq!(file.parent(), Some(dir.as_path()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}\n");
    let (dir2, _) = write_bootstrap(base.path(), "{}").unwrap();
    assert_ne!(dir, dir2, "every run gets a fresh directory");
}

/// Only the checks before `exec` are tested here: a failed `exec` resets
/// the signal dispositions of the (test) process.
#[test]
fn a_missing_binary_is_named_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-envoy");
    let not_exec = tmp.path().join("envoy.txt");
    std::fs::write(&not_exec, "").unwrap();
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    for (binary, why) in [
        (&missing, "No such file or directory"),
        (&not_exec, "not an executable file"),
    ] {
        let flag = format!("-envoy-binary={}", binary.display());
        let (out, _) = run_against_env(
            &[
                "connect",
                "envoy",
                "-proxy-id=web-sidecar-proxy",
                "-grpc-addr=127.0.0.1:8502",
                &flag,
            ],
            vec![json_reply(&p)],
            &[("TMPDIR", tmp.path().to_str().unwrap())],
        );
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "");
        let want = format!("Failed to run the envoy binary \"{}\": ", binary.display());
        assert!(out.stderr.starts_with(&want), "{}", out.stderr);
        assert!(out.stderr.contains(why), "{}", out.stderr);
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no bootstrap directory was left: {left:?}");
}

#[test]
fn envoy_must_be_on_the_path() {
    let empty = tempfile::tempdir().unwrap();
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let (out, _) = run_against_env(
        &[
            "connect",
            "envoy",
            "-proxy-id=web-sidecar-proxy",
            "-grpc-addr=127.0.0.1:8502",
        ],
        vec![json_reply(&p)],
        &[
            ("PATH", empty.path().to_str().unwrap()),
            ("TMPDIR", empty.path().to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "Couldn't find envoy binary: exec: \"envoy\": executable file not found in $PATH"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn help_and_noun_listing() {
    let out = run_cli(&["connect", "envoy", "-h"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .starts_with("Usage: skein connect envoy [options] [-- envoy options]\n")
    );
    for flag in [
        "-proxy-id=<value>",
        "-sidecar-for=<value>",
        "-admin-bind=<value>",
        "-admin-access-log-path=<value>",
        "-grpc-addr=<value>",
        "-envoy-binary=<value>",
        "  -bootstrap\n",
        "  -omit-deprecated-tags\n",
        "-token=<value>",
    ] {
        assert!(out.stdout.contains(flag), "{flag}");
    }
    let out = run_cli(&["connect"], "127.0.0.1:1", b"");
    assert!(
        out.stderr
            .contains("    envoy    Runs or configures Envoy as a Connect proxy\n"),
        "{}",
        out.stderr
    );
}

// --- the real Envoy ---

/// The Envoy binary: `$SKEIN_ENVOY`, else `<repo>/.venv/bin/envoy`.
fn envoy_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SKEIN_ENVOY").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/envoy");
    assert!(
        path.exists(),
        "Envoy is needed to validate the bootstrap but was not found at {} and \
         SKEIN_ENVOY is not set: run `cargo xtask test`, which installs it",
        path.display()
    );
    path
}

/// `envoy --mode validate` on `bootstrap`: must pass, and every line
/// mentioning a deprecation must name one of `allowed`.
fn envoy_validates(bootstrap: &str, allowed: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bootstrap.json");
    std::fs::write(&file, bootstrap).unwrap();
    let envoy = envoy_binary();
    let out = std::process::Command::new(&envoy)
        .args(["--mode", "validate", "-c"])
        .arg(&file)
        .arg("--disable-hot-restart")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", envoy.display()));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "envoy rejected the bootstrap:\n{log}\n{bootstrap}"
    );
    let unexpected: Vec<&str> = log
        .lines()
        .filter(|l| l.to_lowercase().contains("deprecated"))
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "envoy warned about deprecated fields:\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn envoy_accepts_the_default_bootstrap() {
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let mut args = BOOTSTRAP_WEB.to_vec();
    args.push("-token=abc");
    let (out, _) = run_against(
        &args,
        vec![services(std::slice::from_ref(&p)), json_reply(&p)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    envoy_validates(&out.stdout, &[]);
}

#[test]
fn envoy_accepts_the_bootstrap_with_every_option() {
    let out = rich_bootstrap(rich_config());
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    envoy_validates(&out.stdout, &[]);
}

/// Top-level `tracing` still works, but Envoy flags it (and only it).
#[test]
fn envoy_accepts_tracing_json() {
    let mut config = rich_config();
    config["envoy_tracing_json"] = json!(TRACING);
    let out = rich_bootstrap(config);
    assert_eq!(out.code, 0, "{}", out.stderr);
    envoy_validates(&out.stdout, &["Bootstrap.tracing"]);
}

// --- exec, in a child process ---

/// Set in the child: the CLI arguments (JSON) for [`exec_child`].
const CHILD_ENV: &str = "SKEIN_TEST_CONNECT_ENVOY_CHILD";

/// Does nothing unless started by [`exec_in_child`]: then runs `connect
/// envoy`, which replaces the process with the chosen binary.
#[test]
fn exec_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&spec).unwrap();
    let lookup = |k: &str| std::env::var(k).ok();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = crate::run_with(&args, &lookup, &mut &b""[..], &mut out, &mut err);
    panic!("connect envoy returned (exit code {code}) instead of running Envoy");
}

/// Runs [`exec_child`] in a new test process with `args`, the agent faked
/// with `responses` and `vars` set; returns its output.
fn exec_in_child(
    args: &[&str],
    responses: Vec<Canned>,
    vars: &[(&str, &str)],
) -> std::process::Output {
    let server = crate::commands::testing::FakeServer::start(responses);
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "commands::connect::envoy::tests::exec_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, serde_json::to_string(args).unwrap())
        .env("CONSUL_HTTP_ADDR", &server.addr)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert_eq!(server.requests().len(), 1);
    output
}

#[cfg(unix)]
#[test]
fn exec_replaces_the_process_with_envoy() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let record = tmp.path().join("args.txt");
    let script = tmp.path().join("fake-envoy");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let boot = tmp.path().join("boot");
    std::fs::create_dir(&boot).unwrap();
    let p = proxy("web-sidecar-proxy", "web", "web", json!({}));
    let binary = format!("-envoy-binary={}", script.display());
    let out = exec_in_child(
        &[
            "connect",
            "envoy",
            "-proxy-id=web-sidecar-proxy",
            "-grpc-addr=127.0.0.1:8502",
            "-token=t0ken",
            &binary,
            "--",
            "--log-level",
            "debug",
        ],
        vec![json_reply(&p)],
        &[("TMPDIR", boot.to_str().unwrap())],
    );
    assert!(out.status.success(), "{out:?}");
    let recorded = std::fs::read_to_string(&record).unwrap();
    let argv: Vec<&str> = recorded.lines().collect();
    assert_eq!(argv.len(), 5, "{argv:?}");
    assert_eq!(argv[0], "--config-path");
    assert_eq!(argv[2..], ["--disable-hot-restart", "--log-level", "debug"]);
    let file = Path::new(argv[1]);
    let dir = file.parent().unwrap();
    assert_eq!(dir.parent(), Some(boot.as_path()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(dir), mode(file)), (0o700, 0o600));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(doc["node"]["id"], "web-sidecar-proxy");
    assert_eq!(
        doc["dynamic_resources"]["ads_config"]["grpc_services"][0]["initial_metadata"][0]["value"],
        "t0ken"
    );
}

/// The whole path with the real Envoy: `-- --mode validate` makes it check
/// the file it was given and exit.
#[test]
fn exec_runs_the_real_envoy() {
    let tmp = tempfile::tempdir().unwrap();
    let p = proxy("web-sidecar-proxy", "web", "web", rich_config());
    let binary = format!("-envoy-binary={}", envoy_binary().display());
    let out = exec_in_child(
        &[
            "connect",
            "envoy",
            "-proxy-id=web-sidecar-proxy",
            "-grpc-addr=127.0.0.1:8502",
            &binary,
            "--",
            "--mode",
            "validate",
        ],
        vec![json_reply(&p)],
        &[
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("DOGSTATSD_URL", "unix:///var/run/dogstatsd.sock"),
        ],
    );
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("bootstrap.json' OK"), "{log}");
    assert!(!log.to_lowercase().contains("deprecated"), "{log}");
}
