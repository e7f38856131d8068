//! User events, coordinates and the agent's local health endpoints.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Agent, get, put};

#[test]
fn a_blocking_event_list_wakes_on_a_new_event() {
    let agent = Agent::dev(&[]);
    let fired = put(&agent.url("/v1/event/fire/deploy?node=it.*"), "v1").json();
    assert_eq!(
        (
            fired["Name"].clone(),
            fired["NodeFilter"].clone(),
            fired["LTime"].clone()
        ),
        (json!("deploy"), json!("it.*"), json!(1))
    );
    let first = get(&agent.url("/v1/event/list?name=deploy"));
    let index = first.index.unwrap();
    assert_eq!(first.json()[0]["Payload"], "djE=");
    let url = agent.url(&format!("/v1/event/list?index={index}&wait=30s"));
    let waiter = std::thread::spawn(move || get(&url));
    std::thread::sleep(Duration::from_millis(200));
    put(&agent.url("/v1/event/fire/restart"), "");
    let woke = waiter.join().unwrap();
    assert_ne!(woke.index, Some(index));
    assert_eq!(woke.json().as_array().unwrap().len(), 2);
    assert_eq!(put(&agent.url("/v1/event/fire/_internal"), "").status, 400);
}

#[test]
fn coordinates_are_published_and_updated_through_raft() {
    let agent = Agent::dev(&[]);
    let dcs = get(&agent.url("/v1/coordinate/datacenters")).json();
    assert_eq!(dcs[0]["Coordinates"][0]["Node"], "itest.dc1");
    let coord = json!({"Node": "itest", "Coord": {"Vec": [1, 0, 0, 0, 0, 0, 0, 0], "Error": 0.5, "Adjustment": 0, "Height": 0.001}});
    assert_eq!(
        put(&agent.url("/v1/coordinate/update"), coord.to_string()).status,
        200
    );
    let node = get(&agent.url("/v1/coordinate/node/itest")).json();
    assert_eq!(node[0]["Coord"]["Vec"][0], 1);
    let bad = json!({"Node": "itest", "Coord": {"Vec": [1, 2], "Error": 0.5}});
    assert_eq!(
        put(&agent.url("/v1/coordinate/update"), bad.to_string()).status,
        400
    );
    assert_eq!(get(&agent.url("/v1/coordinate/node/nobody")).status, 404);
}

#[test]
fn near_orders_nodes_and_instances_by_estimated_round_trip() {
    let agent = Agent::dev(&[]);
    for (node, x) in [
        ("far", Some(0.050)),
        ("close", Some(0.002)),
        ("unknown", None),
    ] {
        let reg = json!({"Node": node, "Address": "10.0.0.9", "Service": {"Service": "web"}});
        assert_eq!(
            put(&agent.url("/v1/catalog/register"), reg.to_string()).status,
            200
        );
        if let Some(x) = x {
            let coord = json!({"Node": node, "Coord": {"Vec": [x, 0, 0, 0, 0, 0, 0, 0], "Error": 0.2, "Adjustment": 0, "Height": 0.0001}});
            assert_eq!(
                put(&agent.url("/v1/coordinate/update"), coord.to_string()).status,
                200
            );
        }
    }
    let origin = json!({"Node": "itest", "Coord": {"Vec": [0, 0, 0, 0, 0, 0, 0, 0], "Error": 0.2, "Adjustment": 0, "Height": 0.0001}});
    put(&agent.url("/v1/coordinate/update"), origin.to_string());
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "web"}"#,
    );
    let names = |url: &str, pick: fn(&serde_json::Value) -> &serde_json::Value| -> Vec<String> {
        get(&agent.url(url))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|row| pick(row).as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names("/v1/catalog/nodes?near=_agent", |r| &r["Node"]),
        ["itest", "close", "far", "unknown"]
    );
    assert_eq!(
        names("/v1/catalog/service/web?near=far", |r| &r["Node"]),
        ["far", "close", "itest", "unknown"]
    );
    assert_eq!(
        names("/v1/health/service/web?near=close", |r| &r["Node"]["Node"]),
        ["close", "itest", "far", "unknown"]
    );
    assert_eq!(
        names("/v1/catalog/nodes", |r| &r["Node"]),
        ["close", "far", "itest", "unknown"],
        "without near, nodes are in name order"
    );
}

#[test]
fn agent_health_endpoints_answer_with_the_aggregated_status() {
    let agent = Agent::dev(&[]);
    put(
        &agent.url("/v1/agent/service/register"),
        r#"{"Name": "api", "ID": "api-1", "Check": {"TTL": "30s"}}"#,
    );
    let critical = get(&agent.url("/v1/agent/health/service/id/api-1?format=text"));
    assert_eq!((critical.status, critical.body.as_str()), (503, "critical"));
    put(&agent.url("/v1/agent/check/warn/service:api-1"), "");
    assert_eq!(
        get(&agent.url("/v1/agent/health/service/name/api")).status,
        429
    );
    put(&agent.url("/v1/agent/check/pass/service:api-1"), "");
    let ok = get(&agent.url("/v1/agent/health/service/name/api"));
    assert_eq!(
        (ok.status, ok.json()[0]["AggregatedStatus"].clone()),
        (200, json!("passing"))
    );
    assert_eq!(
        get(&agent.url("/v1/agent/health/service/id/nope")).status,
        404
    );
}

#[test]
fn monitor_streams_log_lines_and_rejects_unknown_levels() {
    use std::io::{BufRead, BufReader};
    let agent = Agent::dev(&[]);
    assert_eq!(
        get(&agent.url("/v1/agent/monitor?loglevel=not-a-real-level")).status,
        400
    );
    let url = agent.url("/v1/agent/monitor?loglevel=info");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let resp = ureq::get(&url).call().unwrap();
        let reader = BufReader::new(resp.into_body().into_reader());
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        put(&agent.url("/v1/agent/reload"), "");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(300))
            && line.contains("configuration reloaded")
        {
            assert!(line.starts_with("[INFO]"), "{line}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line reached the monitor"
        );
    }
}

#[test]
fn agent_leave_stops_the_agent() {
    let mut agent = Agent::dev(&[]);
    assert_eq!(put(&agent.url("/v1/agent/leave"), "").status, 200);
    let status = agent.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "the agent should exit cleanly after a leave, got {status:?}"
    );
}

#[test]
fn monitor_streams_json_lines_with_logjson() {
    use std::io::BufRead;
    let agent = Agent::dev(&[]);
    let url = agent.url("/v1/agent/monitor?loglevel=info&logjson");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let resp = ureq::get(&url).call().expect("monitor");
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let found = loop {
        assert!(std::time::Instant::now() < deadline, "no JSON reload line");
        put(&agent.url("/v1/agent/reload"), "");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if v["@message"].as_str().is_some_and(|m| m.contains("reload")) {
                break v;
            }
        }
    };
    assert_eq!(found["@level"], "info");
    assert!(found["@timestamp"].is_string() && found["@module"].is_string());
}
