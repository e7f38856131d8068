//! Malformed requests get a 4xx with a message and change nothing.

use crate::harness::{Agent, Resp, delete, get, put};

fn state(agent: &Agent) -> (String, String) {
    let kv = get(&agent.url("/v1/kv/?recurse")).body;
    let sessions = get(&agent.url("/v1/session/list")).body;
    (kv, sessions)
}

#[test]
fn bad_requests_get_a_clear_4xx_and_change_nothing() {
    let agent = Agent::dev(&[]);
    put(&agent.url("/v1/kv/existing"), "v");
    let before = state(&agent);
    let big = vec![b'x'; 512 * 1024 + 1];
    let missing_session = "5b2f3f2a-0000-4000-8000-000000000000";
    let cases: Vec<(&str, Resp, u16, &str)> = vec![
        (
            "txn broken JSON",
            put(&agent.url("/v1/txn"), "[{"),
            400,
            "Failed to parse body",
        ),
        (
            "txn wrong types",
            put(
                &agent.url("/v1/txn"),
                r#"[{"KV": {"Verb": "set", "Key": 5}}]"#,
            ),
            400,
            "Failed to parse body",
        ),
        (
            "txn unknown verb",
            put(
                &agent.url("/v1/txn"),
                r#"[{"KV": {"Verb": "explode", "Key": "a"}}]"#,
            ),
            400,
            "Unknown KV verb",
        ),
        (
            "txn unknown field",
            put(
                &agent.url("/v1/txn"),
                r#"[{"KV": {"Verb": "set", "Key": "a", "Bogus": 1}}]"#,
            ),
            400,
            "unknown field",
        ),
        (
            "txn bad base64",
            put(
                &agent.url("/v1/txn"),
                r#"[{"KV": {"Verb": "set", "Key": "a", "Value": "%%%"}}]"#,
            ),
            400,
            "base64",
        ),
        (
            "session broken JSON",
            put(&agent.url("/v1/session/create"), "{"),
            400,
            "Request decode failed",
        ),
        (
            "session bad behavior",
            put(
                &agent.url("/v1/session/create"),
                r#"{"Behavior": "explode"}"#,
            ),
            400,
            "Invalid Behavior",
        ),
        (
            "session bad TTL",
            put(&agent.url("/v1/session/create"), r#"{"TTL": "1s"}"#),
            400,
            "Invalid Session TTL",
        ),
        (
            "kv empty key",
            put(&agent.url("/v1/kv/"), "v"),
            400,
            "Missing key name",
        ),
        (
            "kv get empty key",
            get(&agent.url("/v1/kv/")),
            400,
            "Missing key name",
        ),
        (
            "kv oversized value",
            put(&agent.url("/v1/kv/big"), &big),
            413,
            "too large",
        ),
        (
            "kv bad flags",
            put(&agent.url("/v1/kv/a?flags=abc"), "v"),
            400,
            "Invalid flags",
        ),
        (
            "kv bad cas",
            put(&agent.url("/v1/kv/a?cas=-1"), "v"),
            400,
            "Invalid cas",
        ),
        (
            "kv bad index",
            get(&agent.url("/v1/kv/existing?index=abc")),
            400,
            "Invalid index",
        ),
        (
            "kv bad wait",
            get(&agent.url("/v1/kv/existing?index=1&wait=forever")),
            400,
            "Invalid wait",
        ),
        (
            "kv stale+consistent",
            get(&agent.url("/v1/kv/existing?stale&consistent")),
            400,
            "conflicting",
        ),
        (
            "session destroy bad id",
            put(&agent.url("/v1/session/destroy/not-a-uuid"), ""),
            400,
            "invalid",
        ),
        (
            "session renew unknown",
            put(
                &agent.url(&format!("/v1/session/renew/{missing_session}")),
                "",
            ),
            404,
            "not found",
        ),
        (
            "kv delete empty key",
            delete(&agent.url("/v1/kv/")),
            400,
            "Missing key name",
        ),
        (
            "wrong method",
            crate::harness::delete(&agent.url("/v1/txn")),
            405,
            "",
        ),
        (
            "unknown datacenter",
            get(&agent.url("/v1/kv/existing?dc=nowhere")),
            500,
            "No path to datacenter",
        ),
    ];
    for (name, resp, status, message) in &cases {
        assert_eq!(resp.status, *status, "{name}: {}", resp.body);
        assert!(
            resp.body.contains(message),
            "{name}: body {:?} lacks {message:?}",
            resp.body
        );
    }
    let cas_missing = put(&agent.url("/v1/kv/nothere?cas=5"), "v");
    assert_eq!(
        (cas_missing.status, cas_missing.body.trim()),
        (200, "false"),
        "CAS on a missing key fails"
    );
    let acquire = put(
        &agent.url(&format!("/v1/kv/a?acquire={missing_session}")),
        "v",
    );
    assert_eq!(acquire.status, 500, "unknown session: {}", acquire.body);
    assert!(acquire.body.contains("invalid session"));
    assert_eq!(state(&agent), before, "bad requests changed nothing");
}
