//! End-to-end tests: flags + files through the builder.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;

use crate::{Builder, ConfigError, MemoryEnvironment, RuntimeConfig, parse_flags};

const FULL_JSON: &str = include_str!("../testdata/full-config.json");
const FULL_HCL: &str = include_str!("../testdata/full-config.hcl");

fn env() -> MemoryEnvironment {
    MemoryEnvironment::new()
        .with_hostname("host-1")
        .with_private_ipv4(Ipv4Addr::new(10, 1, 2, 3))
}

fn build_in(env: &MemoryEnvironment, args: &[&str]) -> Result<RuntimeConfig, ConfigError> {
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Builder::build(&parse_flags(&owned)?, env)
}

fn build(env: &MemoryEnvironment, args: &[&str]) -> RuntimeConfig {
    build_in(env, args).unwrap_or_else(|e| panic!("build failed: {e}"))
}

fn build_err(env: &MemoryEnvironment, args: &[&str]) -> String {
    match build_in(env, args) {
        Ok(_) => panic!("expected an error for {args:?}"),
        Err(e) => e.to_string(),
    }
}

/// Builds from one config file with the given name and contents.
fn from_file(name: &str, text: &str, extra: &[&str]) -> Result<RuntimeConfig, ConfigError> {
    let env = env().with_file(format!("/etc/skein/{name}"), text);
    let path = format!("/etc/skein/{name}");
    let mut args = vec!["-data-dir=/d", "-config-file", path.as_str()];
    args.extend_from_slice(extra);
    build_in(&env, &args)
}

fn file_err(name: &str, text: &str) -> String {
    match from_file(name, text, &[]) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn full_expected() -> RuntimeConfig {
    let mut e = RuntimeConfig::base();
    e.server = true;
    e.bootstrap_expect = 3;
    e.node_name = "node-a".into();
    e.node_id = Some("a1b2c3d4-0000-4000-8000-0123456789ab".into());
    e.node_meta = BTreeMap::from([("rack".into(), "r1".into()), ("zone".into(), "z2".into())]);
    e.disable_host_node_id = true;
    e.datacenter = "east-1".into();
    e.primary_datacenter = "west-1".into();
    e.bind_addr = ip("10.0.0.5");
    e.advertise_addr = ip("10.0.0.6");
    e.client_addrs = vec![ip("127.0.0.1"), ip("10.0.0.5")];
    e.addresses.http = vec![ip("0.0.0.0")];
    e.addresses.https = e.client_addrs.clone();
    e.addresses.dns = vec![ip("127.0.0.2")];
    e.addresses.grpc = e.client_addrs.clone();
    e.addresses.grpc_tls = e.client_addrs.clone();
    e.data_dir = Some("/var/lib/skein".into());
    e.pid_file = Some("/run/skein.pid".into());
    e.log_level = crate::LogLevel::Warn;
    e.log_json = true;
    e.ports = crate::Ports {
        http: Some(18500),
        https: Some(18501),
        dns: None,
        grpc: Some(18502),
        grpc_tls: Some(18503),
        serf_lan: Some(18301),
        serf_wan: Some(18302),
        server: Some(18300),
        sidecar_min_port: Some(22000),
        sidecar_max_port: Some(22255),
        expose_min_port: Some(23000),
        expose_max_port: Some(23255),
    };
    e.raft_multiplier = 2;
    e.leave_drain_time = Duration::from_millis(1500);
    e.rpc_hold_timeout = secs(9);
    e.enable_script_checks = true;
    e.enable_local_script_checks = true;
    e.enable_debug = true;
    full_expected_acl(&mut e);
    e.limits.kv_max_value_size = 1_048_576;
    e.limits.txn_max_req_len = 2_097_152;
    e.limits.http_max_conns_per_client = 300;
    e.limits.rpc_rate = 50.5;
    e.limits.rpc_max_burst = 99;
    e.default_query_time = secs(90);
    e.max_query_time = secs(900);
    e.domain = "example.".into();
    e.alt_domain = Some("alt.example.".into());
    full_expected_cluster(&mut e);
    full_expected_rest(&mut e);
    e
}

fn full_expected_acl(e: &mut RuntimeConfig) {
    e.acl.enabled = true;
    e.acl.default_policy = "deny".into();
    e.acl.down_policy = "async-cache".into();
    e.acl.enable_token_persistence = true;
    e.acl.token_ttl = secs(60);
    e.acl.policy_ttl = secs(120);
    e.acl.role_ttl = secs(180);
    e.acl.tokens = crate::AclTokens {
        initial_management: Some("mgmt-token".into()),
        agent: Some("agent-token".into()),
        agent_recovery: Some("recovery-token".into()),
        default: Some("default-token".into()),
        replication: Some("repl-token".into()),
        dns: Some("dns-token".into()),
        config_file_service_registration: Some("reg-token".into()),
    };
}

fn full_expected_cluster(e: &mut RuntimeConfig) {
    e.start_join = vec!["10.0.0.9".into()];
    e.retry_join = vec!["10.0.0.7".into(), "10.0.0.8".into()];
    e.retry_join_wan = vec!["192.168.0.1".into()];
    e.retry_interval = secs(15);
    e.rejoin_after_leave = true;
    e.leave_on_terminate = true;
    e.skip_leave_on_interrupt = false;
    e.disable_update_check = true;
    e.disable_anonymous_signature = true;
    e.disable_remote_exec = false;
    e.recursors = vec!["8.8.8.8".into(), "1.1.1.1".into()];
    e.encrypt = Some("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=".into());
    e.encrypt_verify_incoming = false;
    e.encrypt_verify_outgoing = false;
    e.services = vec![
        json!({"name": "web", "port": 80, "token": "svc-token"}),
        json!({"name": "db", "port": 5432}),
        json!({"name": "cache", "port": 6379}),
    ];
    e.checks = vec![
        json!({"id": "mem", "name": "Memory", "ttl": "30s"}),
        json!({"id": "disk", "name": "Disk", "ttl": "1m"}),
    ];
    e.session_ttl_min = secs(5);
    e.check_update_interval = secs(120);
    e.reconnect_timeout = secs(8 * 3600);
    e.raft_snapshot_threshold = 8192;
    e.raft_snapshot_interval = secs(45);
    e.raft_trailing_logs = 20000;
    e.autopilot.cleanup_dead_servers = false;
    e.autopilot.last_contact_threshold = Duration::from_millis(300);
    e.autopilot.max_trailing_logs = 500;
    e.autopilot.server_stabilization_time = secs(20);
}

fn full_expected_rest(e: &mut RuntimeConfig) {
    e.connect_enabled = true;
    e.connect_ca_provider = Some("consul".into());
    e.connect_ca_config = json_object(json!({"leaf_cert_ttl": "72h", "private_key": "secret-key"}));
    e.peering_enabled = false;
    e.ui = true;
    e.ui_content_path = "/console/".into();
    e.telemetry =
        json_object(json!({"disable_hostname": true, "statsd_address": "127.0.0.1:8125"}));
    e.dns.allow_stale = false;
    e.dns.max_stale = secs(10);
    e.dns.node_ttl = secs(30);
    e.dns.service_ttl = BTreeMap::from([("*".into(), secs(5)), ("web".into(), secs(10))]);
    e.dns.udp_answer_limit = 5;
    e.dns.a_record_limit = 7;
    e.dns.enable_truncate = true;
    e.dns.only_passing = true;
    e.dns.recursor_timeout = secs(4);
    e.dns.enable_additional_node_meta_txt = false;
    e.dns.soa = crate::Soa {
        expire: 1,
        min_ttl: 2,
        refresh: 3,
        retry: 4,
    };
    e.tls = crate::TlsConfig {
        verify_incoming: true,
        verify_outgoing: true,
        verify_server_hostname: false,
        ca_file: Some("/etc/skein/ca.pem".into()),
        cert_file: Some("/etc/skein/cert.pem".into()),
        key_file: Some("/etc/skein/key.pem".into()),
        server_name: Some("server.east-1.consul".into()),
        tls: json_object(json!({"defaults": {"verify_incoming": true}})),
    };
    e.experiments = vec!["resource-apis".into()];
}

fn json_object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn full_config_json_matches_expected() {
    let env = env().with_file("/c/full.json", FULL_JSON);
    let got = build(&env, &["-config-file", "/c/full.json"]);
    assert_eq!(got, full_expected());
}

#[test]
fn full_config_hcl_equals_json() {
    let env = env()
        .with_file("/c/full.json", FULL_JSON)
        .with_file("/c/full.hcl", FULL_HCL);
    let from_json = build(&env, &["-config-file", "/c/full.json"]);
    let from_hcl = build(&env, &["-config-file", "/c/full.hcl"]);
    assert_eq!(from_hcl, from_json);
}

#[test]
fn py_consul_configs_parse() {
    let base = r#"{"ports": {"https": -1, "dns": -1, "grpc_tls": -1},
        "performance": {"raft_multiplier": 1}, "enable_script_checks": true}"#;
    let c = from_file("a.json", base, &["-dev"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (c.ports.https, c.ports.dns, c.ports.grpc_tls),
        (None, None, None)
    );
    assert_eq!(c.ports.http, Some(8500));
    assert_eq!(c.raft_multiplier, 1);
    assert!(c.enable_script_checks);
    let acl = r#"{"ports": {"https": -1, "dns": -1, "grpc_tls": -1},
        "performance": {"raft_multiplier": 1}, "enable_script_checks": true,
        "primary_datacenter": "dc1",
        "acl": {"enabled": true, "tokens": {"initial_management": "abc"}}}"#;
    let c = from_file("a.json", acl, &["-dev"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.acl.enabled);
    assert_eq!(c.acl.tokens.initial_management.as_deref(), Some("abc"));
    assert_eq!(c.primary_datacenter, "dc1");
}

#[test]
fn legacy_acl_keys_map_to_modern_ones() {
    let legacy = r#"{"acl_master_token": "m", "acl_agent_master_token": "r",
        "acl_token": "d", "acl_agent_token": "a", "acl_default_policy": "deny",
        "acl_down_policy": "deny", "acl_datacenter": "DC9", "acl_enforce_version_8": true}"#;
    let c = from_file("a.json", legacy, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.acl.tokens.initial_management.as_deref(), Some("m"));
    assert_eq!(c.acl.tokens.agent_recovery.as_deref(), Some("r"));
    assert_eq!(c.acl.tokens.default.as_deref(), Some("d"));
    assert_eq!(c.acl.tokens.agent.as_deref(), Some("a"));
    assert_eq!(
        (c.acl.default_policy.as_str(), c.acl.down_policy.as_str()),
        ("deny", "deny")
    );
    assert_eq!(c.primary_datacenter, "dc9");
    assert!(c.acl.enabled, "acl_datacenter implies ACLs on");

    let master = "acl {\n  tokens {\n    master = \"x\"\n  }\n}";
    let c = from_file("a.hcl", master, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.acl.tokens.initial_management.as_deref(), Some("x"));
    // The modern key wins when both are given in one file.
    let both = r#"{"acl_master_token": "old", "acl": {"tokens": {"master": "mid", "initial_management": "new"}}}"#;
    let c = from_file("a.json", both, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.acl.tokens.initial_management.as_deref(), Some("new"));
}

#[test]
fn legacy_token_in_later_file_overrides_modern_in_earlier() {
    let env = env()
        .with_file(
            "/c/1.json",
            r#"{"acl": {"tokens": {"initial_management": "one"}}}"#,
        )
        .with_file("/c/2.json", r#"{"acl_master_token": "two"}"#);
    let c = build(&env, &["-data-dir=/d", "-config-dir", "/c"]);
    assert_eq!(c.acl.tokens.initial_management.as_deref(), Some("two"));
}

#[test]
fn merge_order_flag_beats_file_beats_default() {
    let env = env()
        .with_file("/c/a.json", r#"{"datacenter": "file-a", "log_level": "debug", "ports": {"http": 1111}, "retry_join": ["a"], "node_meta": {"x": "1"}}"#)
        .with_file("/c/b.hcl", "datacenter = \"file-b\"\nretry_join = [\"b\"]\nnode_meta { y = \"2\" }")
        .with_file("/c/skip.txt", "not config at all");
    let c = build(
        &env,
        &[
            "-config-dir=/c",
            "-data-dir",
            "/d",
            "-datacenter",
            "flag-dc",
            "-retry-join",
            "f",
        ],
    );
    assert_eq!(c.datacenter, "flag-dc");
    assert_eq!(c.primary_datacenter, "flag-dc");
    assert_eq!(c.log_level, crate::LogLevel::Debug);
    assert_eq!(c.ports.http, Some(1111));
    assert_eq!(c.ports.dns, Some(8600));
    assert_eq!(c.retry_join, vec!["a", "b", "f"]);
    assert_eq!(c.node_meta.len(), 2);
    let c = build(&env, &["-config-dir=/c", "-data-dir", "/d"]);
    assert_eq!(c.datacenter, "file-b", "later file in lexical order wins");
}

#[test]
fn config_files_in_command_line_order_then_hcl_then_flags() {
    let env = env()
        .with_file(
            "/c/z.json",
            r#"{"node_name": "from-z", "log_level": "err"}"#,
        )
        .with_file(
            "/c/a.json",
            r#"{"node_name": "from-a", "log_level": "warn"}"#,
        );
    let c = build(
        &env,
        &[
            "-data-dir=/d",
            "-config-file=/c/z.json",
            "-config-file=/c/a.json",
        ],
    );
    assert_eq!(c.node_name, "from-a");
    let c = build(
        &env,
        &[
            "-data-dir=/d",
            "-config-file=/c/z.json",
            "-hcl",
            "node_name = \"hcl\"",
            "-log-level",
            "TRACE",
        ],
    );
    assert_eq!(c.node_name, "hcl");
    assert_eq!(c.log_level, crate::LogLevel::Trace);
}

#[test]
fn dev_mode_matches_dev_default() {
    let c = build(&env(), &["-dev", "-node", "dev"]);
    assert_eq!(c, RuntimeConfig::dev_default());
    assert!(c.server && c.bootstrap && c.connect_enabled && c.ui);
    assert_eq!(c.ports.grpc, Some(8502));
    assert_eq!(c.advertise_addr, ip("127.0.0.1"));
    // A file overrides the dev defaults.
    let env = env().with_file("/c/a.hcl", "log_level = \"info\"\nports { grpc = -1 }");
    let c = build(&env, &["-dev", "-config-file", "/c/a.hcl"]);
    assert_eq!(c.log_level, crate::LogLevel::Info);
    assert_eq!(c.ports.grpc, None);
    assert_eq!(c.node_name, "host-1");
}

#[test]
fn minus_one_disables_listeners() {
    let c = from_file("p.hcl", "ports {\n http = -1\n dns = -1\n}", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((c.ports.http, c.ports.dns), (None, None));
    let c = build(&env(), &["-dev", "-http-port=-1", "-https-port", "8501"]);
    assert_eq!((c.ports.http, c.ports.https), (None, Some(8501)));
}

#[test]
fn unknown_keys_are_named() {
    assert_eq!(
        file_err("a.json", r#"{"foo": 1}"#),
        "config file /etc/skein/a.json: unknown key \"foo\" at line 1 column 6"
    );
    assert_eq!(
        file_err("a.json", "{\n  \"ports\": {\"foo\": 1}\n}"),
        "config file /etc/skein/a.json: unknown key \"ports.foo\" at line 2 column 17"
    );
    assert_eq!(
        file_err("a.hcl", "acl {\n tokens {\n bogus = \"x\"\n }\n}"),
        "config file /etc/skein/a.hcl: unknown key \"acl.tokens.bogus\""
    );
}

#[test]
fn bad_values_are_named() {
    assert_eq!(
        file_err("a.hcl", "ports { http = \"abc\" }"),
        "config file /etc/skein/a.hcl: invalid value \"abc\" for ports.http: expected integer"
    );
    assert_eq!(
        file_err("a.json", r#"{"ports": {"http": 70000}}"#),
        "config file /etc/skein/a.json: invalid value \"70000\" for ports.http: port must be between 0 and 65535, or -1 to disable"
    );
    assert!(
        file_err("a.json", r#"{"server": "yes"}"#)
            .contains("invalid value \"yes\" for server: expected boolean")
    );
    assert!(
        file_err("a.json", r#"{"max_query_time": "soon"}"#)
            .contains("invalid value \"soon\" for max_query_time")
    );
    assert!(
        file_err("a.json", r#"{"log_level": "loud"}"#)
            .contains("invalid value \"loud\" for log_level")
    );
    assert!(file_err("a.json", r#"{"datacenter": "dc.1"}"#).contains("\"dc.1\" for datacenter"));
    assert!(
        file_err("a.json", r#"{"performance": {"raft_multiplier": 11}}"#)
            .contains("performance.raft_multiplier")
    );
    assert!(file_err("a.json", r#"{"bind_addr": "nope"}"#).contains("\"nope\" for bind_addr"));
    assert!(
        file_err("a.json", "{\"datacenter\": ")
            .starts_with("config file /etc/skein/a.json: syntax error")
    );
    assert!(
        file_err("a.hcl", "datacenter = ")
            .starts_with("config file /etc/skein/a.hcl: syntax error")
    );
    assert!(
        build_err(&env(), &["-dev", "-http-port", "abc"])
            .contains("invalid value \"abc\" for flag -http-port")
    );
}

#[test]
fn hcl_service_blocks_become_a_list() {
    let hcl = r#"
        services {
          name = "a"
          checks { ttl = "10s" }
        }
        service {
          name = "b"
        }
        service {
          name = "c"
        }
        check {
          id = "k"
        }
    "#;
    let c = from_file("s.hcl", hcl, &[]).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = c
        .services
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["a", "b", "c"]);
    assert_eq!(c.services[0]["checks"], json!([{"ttl": "10s"}]));
    assert_eq!(c.checks, vec![json!({"id": "k"})]);
    let list = r#"services = [{ name = "x" }, { name = "y" }]"#;
    let c = from_file("s.hcl", list, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.services.len(), 2);
}

#[test]
fn validation_errors() {
    let e = env();
    assert_eq!(build_err(&e, &[]), "data_dir cannot be empty");
    assert!(build_err(&e, &["-data-dir=/d", "-bootstrap-expect=3"]).contains("client mode"));
    assert!(
        build_err(
            &e,
            &[
                "-data-dir=/d",
                "-server",
                "-bootstrap",
                "-bootstrap-expect=3"
            ]
        )
        .contains("mutually exclusive")
    );
    let no_host = MemoryEnvironment::new().with_private_ipv4(Ipv4Addr::new(10, 0, 0, 1));
    assert!(build_err(&no_host, &["-data-dir=/d"]).contains("hostname"));
    let no_ip = MemoryEnvironment::new().with_hostname("h");
    assert!(build_err(&no_ip, &["-data-dir=/d"]).contains("private IPv4"));
    assert_eq!(
        build(&no_ip, &["-data-dir=/d", "-bind", "10.9.9.9"]).advertise_addr,
        ip("10.9.9.9")
    );
}

#[test]
fn defaults_for_a_plain_client() {
    let c = build(&env(), &["-data-dir", "/d"]);
    assert_eq!(c.node_name, "host-1");
    assert_eq!(c.datacenter, "dc1");
    assert_eq!(c.bind_addr, ip("0.0.0.0"));
    assert_eq!(c.advertise_addr, ip("10.1.2.3"));
    assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
    assert_eq!(
        (c.ports.http, c.ports.https, c.ports.grpc),
        (Some(8500), None, None)
    );
    assert_eq!(
        (c.ports.serf_lan, c.ports.serf_wan, c.ports.server),
        (Some(8301), Some(8302), Some(8300))
    );
    assert_eq!(c.raft_multiplier, 5);
    assert_eq!(c.acl.default_policy, "allow");
    assert_eq!(c.acl.down_policy, "extend-cache");
    assert_eq!(c.limits.kv_max_value_size, 512 * 1024);
    assert_eq!(c.default_query_time, secs(300));
    assert_eq!(c.domain, "consul.");
    assert!(c.leave_on_terminate && !c.skip_leave_on_interrupt);
}

#[test]
fn config_file_formats() {
    let env = env().with_file("/c/a.conf", r#"{"node_name": "n"}"#);
    let err = build_err(&env, &["-data-dir=/d", "-config-file", "/c/a.conf"]);
    assert!(
        err.starts_with("config file /c/a.conf: unknown config format"),
        "{err}"
    );
    let c = build(
        &env,
        &[
            "-data-dir=/d",
            "-config-format=json",
            "-config-file",
            "/c/a.conf",
        ],
    );
    assert_eq!(c.node_name, "n");
    assert!(build_err(&env, &["-config-file", "/c/missing.json"]).contains("/c/missing.json"));
    assert!(build_err(&env, &["-config-dir", "/nope"]).contains("config dir /nope"));
}

#[test]
fn durations_accept_integers_as_nanoseconds() {
    let c = from_file("a.json", r#"{"session_ttl_min": 2000000000}"#, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.session_ttl_min, secs(2));
}

#[test]
fn sanitized_hides_secrets() {
    let env = env().with_file("/c/full.json", FULL_JSON);
    let s = build(&env, &["-config-file", "/c/full.json"]).sanitized();
    assert_eq!(s["acl"]["tokens"]["initial_management"], "hidden");
    assert_eq!(
        s["acl"]["tokens"]["config_file_service_registration"],
        "hidden"
    );
    assert_eq!(s["encrypt"], "hidden");
    assert_eq!(s["services"][0]["token"], "hidden");
    assert_eq!(s["connect_ca_config"]["private_key"], "hidden");
    assert_eq!(s["connect_ca_config"]["leaf_cert_ttl"], "72h");
    assert_eq!(s["max_query_time"], "15m0s");
    assert_eq!(s["node_name"], "node-a");
    let text = s.to_string();
    assert!(!text.contains("mgmt-token") && !text.contains("svc-token"));
}

#[test]
fn default_intention_policy_is_allow_deny_or_unset() {
    let c = from_file(
        "a.json",
        r#"{"default_intention_policy": "deny"}"#,
        &["-dev"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.default_intention_policy.as_deref(), Some("deny"));
    let c = from_file("a.json", "{}", &["-dev"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.default_intention_policy, None);
    let err = from_file(
        "a.json",
        r#"{"default_intention_policy": "maybe"}"#,
        &["-dev"],
    )
    .expect_err("an unknown policy is refused");
    assert!(
        err.to_string().contains("default_intention_policy"),
        "{err}"
    );
}
