//! The agent's own services and checks: TTL checks, anti-entropy repair,
//! maintenance, and checks it runs itself.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, get, put, wait_until};

fn check_status(agent: &Agent, id: &str) -> Option<String> {
    let checks = get(&agent.url("/v1/health/state/any")).json();
    checks
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == id)
        .map(|c| c["Status"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn ttl_checks_start_critical_pass_on_update_and_expire() {
    let agent = Agent::dev(&[]);
    let def = r#"{"Name": "web", "Port": 80, "Check": {"TTL": "500ms"}}"#;
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), def).status,
        200
    );
    assert_eq!(
        check_status(&agent, "service:web").as_deref(),
        Some("critical"),
        "new TTL checks start critical"
    );
    assert_eq!(
        put(&agent.url("/v1/agent/check/pass/service:web?note=ok"), "").status,
        200
    );
    assert_eq!(
        check_status(&agent, "service:web").as_deref(),
        Some("passing"),
        "the catalog has the pass when the call returns"
    );
    wait_until(Duration::from_secs(5), "the TTL to expire", || {
        check_status(&agent, "service:web").as_deref() == Some("critical")
    });
    let output = get(&agent.url("/v1/agent/checks")).json()["service:web"]["Output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(output.contains("TTL expired"), "{output}");
}

#[test]
fn anti_entropy_restores_what_was_removed_from_the_catalog() {
    let agent = Agent::dev(&[]);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "api", "ID": "api-1", "Port": 9000}"#,
    );
    let node = get(&agent.url("/v1/agent/self")).json()["Config"]["NodeName"]
        .as_str()
        .unwrap()
        .to_owned();
    let dereg = format!(r#"{{"Node": "{node}", "ServiceID": "api-1"}}"#);
    assert_eq!(
        put(&agent.url("/v1/catalog/deregister"), dereg).body.trim(),
        "true"
    );
    wait_until(Duration::from_secs(5), "the service to come back", || {
        get(&agent.url("/v1/catalog/service/api"))
            .json()
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    let intruder = format!(
        r#"{{"Node": "{node}", "Address": "127.0.0.1", "Service": {{"Service": "ghost"}}}}"#
    );
    put(&agent.url("/v1/catalog/register"), intruder);
    wait_until(
        Duration::from_secs(5),
        "the unknown service to be removed",
        || get(&agent.url("/v1/catalog/service/ghost")).json() == Value::Array(vec![]),
    );
}

#[test]
fn maintenance_mode_adds_and_removes_a_critical_check() {
    let agent = Agent::dev(&[]);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "db"}"#,
    );
    put(
        &agent.url("/v1/agent/service/maintenance/db?enable=true&reason=upgrade"),
        "",
    );
    assert_eq!(
        check_status(&agent, "_service_maintenance:db").as_deref(),
        Some("critical")
    );
    let passing = get(&agent.url("/v1/health/service/db?passing")).json();
    assert_eq!(
        passing,
        Value::Array(vec![]),
        "an instance in maintenance is not passing"
    );
    put(
        &agent.url("/v1/agent/service/maintenance/db?enable=false"),
        "",
    );
    assert_eq!(check_status(&agent, "_service_maintenance:db"), None);
}

#[test]
fn tcp_and_http_checks_run_against_real_listeners() {
    let agent = Agent::dev(&[]);
    let http = agent.url("/v1/status/leader");
    let def = format!(
        r#"{{"Name": "probe", "Checks": [{{"HTTP": "{http}", "Interval": "200ms"}}, {{"TCP": "{}", "Interval": "200ms"}}, {{"TCP": "127.0.0.1:1", "Interval": "200ms"}}]}}"#,
        agent.http
    );
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), def).status,
        200
    );
    wait_until(
        Duration::from_secs(5),
        "HTTP and TCP checks to pass",
        || {
            check_status(&agent, "service:probe:1").as_deref() == Some("passing")
                && check_status(&agent, "service:probe:2").as_deref() == Some("passing")
        },
    );
    assert_eq!(
        check_status(&agent, "service:probe:3").as_deref(),
        Some("critical"),
        "nothing listens on port 1"
    );
}

#[test]
fn script_checks_need_permission_and_map_exit_codes() {
    let agent = Agent::dev(&[]);
    let def = r#"{"Name": "s", "Check": {"Args": ["/bin/true"], "Interval": "1s"}}"#;
    let refused = put(&agent.url("/v1/agent/service/register"), def);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("enable_script_checks"));

    let agent = Agent::dev(&["-enable-script-checks"]);
    let def = r#"{"Name": "s", "Checks": [{"Args": ["/bin/true"], "Interval": "200ms"}, {"Args": ["sh", "-c", "exit 1"], "Interval": "200ms"}, {"Args": ["sh", "-c", "exit 2"], "Interval": "200ms"}]}"#;
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), def).status,
        200
    );
    wait_until(Duration::from_secs(5), "scripts to run", || {
        check_status(&agent, "service:s:1").as_deref() == Some("passing")
            && check_status(&agent, "service:s:2").as_deref() == Some("warning")
    });
    assert_eq!(
        check_status(&agent, "service:s:3").as_deref(),
        Some("critical")
    );
}

#[test]
fn api_registrations_survive_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (http, rpc) = (crate::harness::free_port(), crate::harness::free_port());
    let agent = Agent::server(dir.path(), http, rpc);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "kept", "Port": 7000, "Check": {"TTL": "30s"}}"#,
    );
    put(
        &agent.url("/v1/agent/check/register"),
        r#"{"Name": "disk", "TTL": "30s"}"#,
    );
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "gone"}"#,
    );
    put(&agent.url("/v1/agent/service/deregister/gone"), "");
    put(
        &agent.url("/v1/agent/check/pass/service:kept?note=fine"),
        "",
    );
    agent.kill9();
    let agent = Agent::server(dir.path(), http, rpc);
    let services = get(&agent.url("/v1/agent/services")).json();
    assert_eq!(services["kept"]["Port"], 7000, "{services}");
    assert!(
        services.get("gone").is_none(),
        "a deregistered service stays gone: {services}"
    );
    let checks = get(&agent.url("/v1/agent/checks")).json();
    assert!(
        checks.get("service:kept").is_some() && checks.get("disk").is_some(),
        "{checks}"
    );
    assert_eq!(
        checks["service:kept"]["Status"], "passing",
        "the TTL check's state survives: {checks}"
    );
    assert_eq!(checks["service:kept"]["Output"], "fine");
    assert_eq!(
        checks["disk"]["Status"], "critical",
        "a check never updated stays critical"
    );
}

#[test]
fn config_file_services_register_at_start_and_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("a.hcl"),
        "service {\n  name = \"from-file\"\n  port = 5000\n}\n",
    )
    .unwrap();
    let agent = Agent::dev(&[&format!("-config-dir={}", conf.display())]);
    assert_eq!(
        get(&agent.url("/v1/agent/services")).json()["from-file"]["Port"],
        5000
    );
    std::fs::write(
        conf.join("a.hcl"),
        "services {\n  name = \"replacement\"\n}\n",
    )
    .unwrap();
    assert_eq!(put(&agent.url("/v1/agent/reload"), "").status, 200);
    let services = get(&agent.url("/v1/agent/services")).json();
    assert!(
        services.get("replacement").is_some() && services.get("from-file").is_none(),
        "{services}"
    );
    let catalog = get(&agent.url("/v1/catalog/services")).json();
    assert!(
        catalog.get("replacement").is_some() && catalog.get("from-file").is_none(),
        "{catalog}"
    );
}

#[test]
fn alias_checks_follow_the_aliased_service() {
    let agent = Agent::dev(&[]);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "web", "Check": {"TTL": "30s"}}"#,
    );
    let alias = r#"{"Name": "web-alias", "Check": {"AliasService": "web"}}"#;
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), alias).status,
        200
    );
    wait_until(
        Duration::from_secs(5),
        "the alias to mirror critical",
        || check_status(&agent, "service:web-alias").as_deref() == Some("critical"),
    );
    put(&agent.url("/v1/agent/check/pass/service:web"), "");
    wait_until(
        Duration::from_secs(5),
        "the alias to follow to passing",
        || check_status(&agent, "service:web-alias").as_deref() == Some("passing"),
    );
}

#[test]
fn h2ping_and_grpc_checks_probe_real_http2_servers() {
    let agent = Agent::dev(&[]);
    let rpc = get(&agent.url("/v1/status/leader"))
        .json()
        .as_str()
        .unwrap()
        .to_owned();
    let def = format!(
        r#"{{"Name": "h2", "Checks": [
            {{"H2PING": "{rpc}", "H2PingUseTLS": false, "Interval": "200ms"}},
            {{"H2PING": "127.0.0.1:1", "H2PingUseTLS": false, "Interval": "200ms"}},
            {{"GRPC": "{rpc}/no.such.Service", "Interval": "200ms"}}
        ]}}"#
    );
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), def).status,
        200
    );
    wait_until(
        Duration::from_secs(5),
        "the ping to the server RPC port to pass",
        || check_status(&agent, "service:h2:1").as_deref() == Some("passing"),
    );
    let checks = get(&agent.url("/v1/agent/checks")).json();
    assert_eq!(checks["service:h2:2"]["Status"], "critical");
    wait_until(Duration::from_secs(5), "the gRPC check to run", || {
        let checks = get(&agent.url("/v1/agent/checks")).json();
        checks["service:h2:3"]["Output"]
            .as_str()
            .is_some_and(|o| o.contains("Unimplemented"))
    });
    // H2PING speaks TLS unless told otherwise; the server RPC port is
    // plaintext, so the handshake fails and the check is critical.
    let tls = format!(r#"{{"Name": "tls", "Check": {{"H2PING": "{rpc}", "Interval": "200ms"}}}}"#);
    assert_eq!(
        put(&agent.url("/v1/agent/service/register"), tls).status,
        200
    );
    wait_until(
        Duration::from_secs(5),
        "the TLS ping to fail its handshake",
        || {
            let checks = get(&agent.url("/v1/agent/checks")).json();
            checks["service:tls"]["Output"]
                .as_str()
                .is_some_and(|o| o.contains("tls"))
        },
    );
    assert_eq!(
        check_status(&agent, "service:tls").as_deref(),
        Some("critical")
    );
}

#[test]
fn node_meta_selects_nodes_in_catalog_and_health_reads() {
    let agent = Agent::dev(&["-node-meta", "rack:r1"]);
    put(
        &agent.url("/v1/catalog/register"),
        r#"{"Node": "other", "Address": "10.0.0.2", "NodeMeta": {"rack": "r2"}, "Service": {"Service": "db"}}"#,
    );
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "db"}"#,
    );
    let nodes = get(&agent.url("/v1/catalog/nodes?node-meta=rack:r2")).json();
    assert_eq!(nodes.as_array().map(Vec::len), Some(1));
    assert_eq!(nodes[0]["Node"], "other");
    let db = get(&agent.url("/v1/catalog/service/db?node-meta=rack:r1")).json();
    assert_eq!(
        (db.as_array().map(Vec::len), db[0]["Node"].clone()),
        (Some(1), serde_json::json!("itest"))
    );
    let health = get(&agent.url("/v1/health/service/db?node-meta=rack:r2")).json();
    assert_eq!(health[0]["Node"]["Node"], "other");
    assert_eq!(
        get(&agent.url("/v1/catalog/nodes?node-meta=rack")).status,
        400
    );
}
