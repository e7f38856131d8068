//! CAS races and session locks.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::harness::{Agent, get, put, wait_until};

#[test]
fn two_cas_writers_race_and_exactly_one_wins() {
    let agent = Agent::dev(&[]);
    for round in 0..10 {
        let key = format!("/v1/kv/race{round}");
        put(&agent.url(&key), "start");
        let index = get(&agent.url(&key)).index.unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|who| {
                let url = agent.url(&format!("{key}?cas={index}"));
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (who, put(&url, who).body.trim() == "true")
                })
            })
            .collect();
        let results: Vec<(&str, bool)> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let winners: Vec<&str> = results
            .iter()
            .filter(|(_, won)| *won)
            .map(|(w, _)| *w)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let value = get(&agent.url(&format!("{key}?raw"))).body;
        assert_eq!(value, winners[0], "the winner's value is stored");
    }
}

fn create_session(agent: &Agent, body: &str) -> String {
    let resp = put(&agent.url("/v1/session/create"), body);
    assert_eq!(resp.status, 200, "{}", resp.body);
    resp.json()["ID"].as_str().unwrap().to_owned()
}

fn holder(agent: &Agent, key: &str) -> Option<String> {
    get(&agent.url(&format!("/v1/kv/{key}"))).json()[0]["Session"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn destroying_a_session_releases_its_lock() {
    let agent = Agent::dev(&[]);
    let s = create_session(&agent, r#"{"LockDelay": "0s"}"#);
    assert_eq!(
        put(&agent.url(&format!("/v1/kv/lock?acquire={s}")), "me")
            .body
            .trim(),
        "true"
    );
    assert_eq!(holder(&agent, "lock").as_deref(), Some(s.as_str()));
    let other = create_session(&agent, r#"{"LockDelay": "0s"}"#);
    assert_eq!(
        put(&agent.url(&format!("/v1/kv/lock?acquire={other}")), "x")
            .body
            .trim(),
        "false"
    );
    assert_eq!(
        put(&agent.url(&format!("/v1/session/destroy/{s}")), "").status,
        200
    );
    assert_eq!(holder(&agent, "lock"), None);
    assert_eq!(
        put(&agent.url(&format!("/v1/kv/lock?acquire={other}")), "x")
            .body
            .trim(),
        "true"
    );
}

#[test]
fn a_lock_is_released_when_its_session_ttl_expires() {
    let agent = Agent::dev(&["-hcl", "session_ttl_min = \"1s\""]);
    let s = create_session(&agent, r#"{"TTL": "1s", "LockDelay": "0s"}"#);
    assert_eq!(
        put(&agent.url(&format!("/v1/kv/ttl-lock?acquire={s}")), "v")
            .body
            .trim(),
        "true"
    );
    wait_until(Duration::from_secs(10), "the TTL to expire", || {
        holder(&agent, "ttl-lock").is_none()
    });
    let info = get(&agent.url(&format!("/v1/session/info/{s}")));
    assert_eq!(info.json(), serde_json::json!([]), "the session is gone");
}

#[test]
fn lock_delay_keeps_a_released_key_from_being_reacquired() {
    let agent = Agent::dev(&[]);
    let s = create_session(&agent, r#"{"LockDelay": "15s"}"#);
    put(&agent.url(&format!("/v1/kv/delayed?acquire={s}")), "v");
    put(&agent.url(&format!("/v1/session/destroy/{s}")), "");
    let other = create_session(&agent, "");
    assert_eq!(
        put(&agent.url(&format!("/v1/kv/delayed?acquire={other}")), "x")
            .body
            .trim(),
        "false"
    );
}
