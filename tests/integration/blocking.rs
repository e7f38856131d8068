//! Blocking reads: KV keys and service health.

use std::time::{Duration, Instant};

use crate::harness::{Agent, get, put};

#[test]
fn blocking_read_returns_promptly_after_a_write() {
    let agent = Agent::dev(&[]);
    assert!(
        put(&agent.url("/v1/kv/watched"), "v1")
            .body
            .contains("true")
    );
    let first = get(&agent.url("/v1/kv/watched"));
    let index = first.index.expect("index header");
    let url = agent.url(&format!("/v1/kv/watched?index={index}&wait=30s"));
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        (get(&url), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    put(&agent.url("/v1/kv/unrelated"), "x");
    put(&agent.url("/v1/kv/watched"), "v2");
    let (resp, elapsed) = waiter.join().unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.index.unwrap() > index, "index advanced");
    assert!(
        resp.body.contains(&base64("v2")),
        "sees the new value: {}",
        resp.body
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "woke on the write, took {elapsed:?}"
    );
}

#[test]
fn blocking_read_times_out_after_wait_with_the_same_index() {
    let agent = Agent::dev(&[]);
    put(&agent.url("/v1/kv/quiet"), "v");
    let index = get(&agent.url("/v1/kv/quiet")).index.unwrap();
    let started = Instant::now();
    let resp = get(&agent.url(&format!("/v1/kv/quiet?index={index}&wait=1s")));
    let elapsed = started.elapsed();
    assert_eq!(resp.index, Some(index));
    assert!(
        elapsed >= Duration::from_secs(1),
        "waited the full wait: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "wait plus at most 1/16 jitter: {elapsed:?}"
    );
}

#[test]
fn blocking_read_of_a_missing_key_wakes_when_it_is_created() {
    let agent = Agent::dev(&[]);
    let missing = get(&agent.url("/v1/kv/later"));
    assert_eq!(missing.status, 404);
    let index = missing.index.expect("404 carries X-Consul-Index");
    assert!(index >= 1);
    let url = agent.url(&format!("/v1/kv/later?index={index}&wait=30s"));
    let waiter = std::thread::spawn(move || get(&url));
    std::thread::sleep(Duration::from_millis(200));
    put(&agent.url("/v1/kv/later"), "now");
    let resp = waiter.join().unwrap();
    assert_eq!(resp.status, 200);
}

pub(crate) fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn register(agent: &Agent, node: &str, service: &str) {
    let body = format!(
        r#"{{"Node":"{node}","Address":"127.0.0.9","Service":{{"Service":"{service}","Port":80}}}}"#
    );
    let resp = put(&agent.url("/v1/catalog/register"), &body);
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[test]
fn a_service_blocking_read_ignores_writes_to_other_services() {
    let agent = Agent::dev(&[]);
    register(&agent, "n-web", "web");
    let web_index = get(&agent.url("/v1/health/service/web"))
        .index
        .expect("index");
    let url = agent.url(&format!("/v1/health/service/web?index={web_index}&wait=2s"));
    let waiter = std::thread::spawn(move || get(&url));
    for i in 0..5 {
        register(&agent, &format!("n-db{i}"), "db");
    }
    let catalog_index = get(&agent.url("/v1/catalog/nodes")).index.expect("index");
    assert!(catalog_index > web_index, "the catalog moved on");
    let resp = waiter.join().expect("waiter");
    assert_eq!(
        resp.index,
        Some(web_index),
        "web's index is its own: db writes neither wake it nor move it"
    );

    let url = agent.url(&format!(
        "/v1/health/service/web?index={web_index}&wait=30s"
    ));
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        (get(&url), started.elapsed())
    });
    register(&agent, "n-web2", "web");
    let (resp, elapsed) = waiter.join().expect("waiter");
    assert!(resp.index.expect("index") > web_index);
    assert!(resp.body.contains("n-web2"), "{}", resp.body);
    assert!(
        elapsed < Duration::from_secs(20),
        "woke on web's write: {elapsed:?}"
    );
}

/// `curl --http2-prior-knowledge`: status, `X-Consul-Index` and body.
fn curl_h2(url: &str) -> (u16, u64, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-D", "-", url])
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    assert!(head.starts_with("HTTP/2 "), "answered over HTTP/2: {head}");
    let status = head[7..10].parse().expect("status");
    let index = head
        .lines()
        .find_map(|l| l.strip_prefix("x-consul-index: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (status, index, body.to_owned())
}

#[test]
fn identical_blocking_reads_over_http2_share_one_answer_per_change() {
    let agent = Agent::dev(&[]);
    put(&agent.url("/v1/kv/shared"), "v1");
    let (status, index, _) = curl_h2(&agent.url("/v1/kv/shared"));
    assert_eq!(status, 200);
    let url = agent.url(&format!("/v1/kv/shared?index={index}&wait=30s"));
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl_h2(&url))
        })
        .collect();
    put(&agent.url("/v1/kv/shared"), "v2");
    let answers: Vec<_> = waiters
        .into_iter()
        .map(|w| w.join().expect("waiter"))
        .collect();
    for (status, i, body) in &answers {
        assert_eq!(*status, 200);
        assert!(*i > index, "woke past {index}: {i}");
        assert!(body.contains(&base64("v2")), "{body}");
    }
    // A write between two identical reads is never hidden by a shared answer.
    put(&agent.url("/v1/kv/shared"), "v3");
    let (_, after, body) = curl_h2(&agent.url(&format!("/v1/kv/shared?index={index}")));
    assert!(body.contains(&base64("v3")), "{body}");
    assert!(after > answers[0].1);
    let (status, _, _) = curl_h2(&agent.url("/v1/kv/missing-key"));
    assert_eq!(status, 404);
}
