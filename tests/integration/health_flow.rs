//! Health flowing from real check targets to the catalog and to blocked
//! readers, and malformed registrations.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Agent, get, put, wait_until};

/// A tiny HTTP server answering every request with the status in `code`.
fn status_server(code: Arc<AtomicU16>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let status = code.load(Ordering::SeqCst);
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}/health")
}

fn passing_nodes(agent: &Agent, service: &str) -> usize {
    get(&agent.url(&format!("/v1/health/service/{service}?passing")))
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn an_http_target_that_fails_leaves_passing_results_and_comes_back() {
    let agent = Agent::dev(&[]);
    let code = Arc::new(AtomicU16::new(200));
    let url = status_server(code.clone());
    let def = format!(r#"{{"Name": "web", "Check": {{"HTTP": "{url}", "Interval": "100ms"}}}}"#);
    put(&agent.url("/v1/agent/service/register"), def);
    wait_until(Duration::from_secs(5), "web to pass", || {
        passing_nodes(&agent, "web") == 1
    });
    code.store(500, Ordering::SeqCst);
    wait_until(
        Duration::from_secs(5),
        "web to drop out of ?passing",
        || passing_nodes(&agent, "web") == 0,
    );
    code.store(429, Ordering::SeqCst);
    wait_until(Duration::from_secs(5), "429 to mean warning", || {
        get(&agent.url("/v1/agent/checks")).json()["service:web"]["Status"] == "warning"
    });
    code.store(204, Ordering::SeqCst);
    wait_until(Duration::from_secs(5), "web to come back", || {
        passing_nodes(&agent, "web") == 1
    });
}

#[test]
fn a_blocked_health_read_returns_promptly_after_a_status_change() {
    let agent = Agent::dev(&[]);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "api", "Check": {"TTL": "60s"}}"#,
    );
    let index = get(&agent.url("/v1/health/service/api")).index.unwrap();
    let url = agent.url(&format!("/v1/health/service/api?index={index}&wait=30s"));
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let resp = get(&url);
        (resp, started)
    });
    std::thread::sleep(Duration::from_millis(300));
    let changed_at = Instant::now();
    put(&agent.url("/v1/agent/check/pass/service:api"), "");
    let (resp, _) = waiter.join().unwrap();
    let latency = changed_at.elapsed();
    eprintln!("blocked /v1/health/service returned {latency:?} after the status change");
    assert_eq!(
        resp.json()[0]["Checks"][1]["Status"],
        "passing",
        "{}",
        resp.body
    );
    assert!(resp.index.unwrap() > index);
}

#[test]
fn script_timeouts_and_deregister_critical_service_after() {
    let agent = Agent::dev(&["-enable-script-checks"]);
    let slow = r#"{"Name": "slow", "Check": {"Args": ["sleep", "5"], "Interval": "200ms", "Timeout": "300ms"}}"#;
    put(&agent.url("/v1/agent/service/register"), slow);
    wait_until(Duration::from_secs(5), "the script to time out", || {
        get(&agent.url("/v1/agent/checks")).json()["service:slow"]["Output"]
            .as_str()
            .is_some_and(|o| o.contains("Timed out"))
    });
    let doomed = r#"{"Name": "doomed", "Check": {"TCP": "127.0.0.1:1", "Interval": "100ms", "DeregisterCriticalServiceAfter": "500ms"}}"#;
    put(&agent.url("/v1/agent/service/register"), doomed);
    wait_until(
        Duration::from_secs(10),
        "the critical service to be deregistered",
        || {
            get(&agent.url("/v1/catalog/service/doomed")).json() == Value::Array(vec![])
                && get(&agent.url("/v1/agent/services"))
                    .json()
                    .get("doomed")
                    .is_none()
        },
    );
}

#[test]
fn malformed_registrations_are_refused_and_register_nothing() {
    let agent = Agent::dev(&[]);
    let cases = [
        (
            r#"{"Name": "a", "Check": {"HTTP": "http://x"}}"#,
            "Interval",
        ),
        (r#"{"Name": "a", "Check": {"TTL": "ten seconds"}}"#, "TTL"),
        (
            r#"{"Name": "a", "Check": {"TCP": "x:1", "Interval": "5"}}"#,
            "Interval",
        ),
        (
            r#"{"Name": "a", "Check": {"Args": ["/bin/true"], "Interval": "1s"}}"#,
            "enable_script_checks",
        ),
        (r#"{"Name": "a", "Port": "eighty"}"#, "Port"),
        (r#"{"Port": 80}"#, "Missing service name"),
        (r#"{"Name": "a", "ID": "bad\nid"}"#, "Invalid"),
        (
            r#"{"Name": "a", "Check": {"TTL": "1s", "Status": "sideways"}}"#,
            "Status",
        ),
        ("{", "decode"),
    ];
    for (body, message) in cases {
        let resp = put(&agent.url("/v1/agent/service/register"), body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.body);
        assert!(
            resp.body.contains(message),
            "{body}: {:?} lacks {message:?}",
            resp.body
        );
    }
    assert_eq!(
        get(&agent.url("/v1/agent/services")).json(),
        serde_json::json!({})
    );
    assert_eq!(
        get(&agent.url("/v1/catalog/service/a")).json(),
        Value::Array(vec![])
    );
}
