//! The CLI against a real agent, addressed through `CONSUL_HTTP_ADDR`.

use std::process::Command;

use crate::harness::Agent;

fn skein(agent: &Agent, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(args)
        .env("CONSUL_HTTP_ADDR", &agent.http)
        .env_remove("SKEIN_HTTP_ADDR")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn kv_snapshot_and_raft_commands_work_against_an_agent() {
    let agent = Agent::dev(&[]);
    let (ok, out, _) = skein(&agent, &["kv", "put", "app/config", "hello"]);
    assert!(
        ok && out.contains("Success! Data written to: app/config"),
        "{out}"
    );
    let (ok, out, _) = skein(&agent, &["kv", "get", "app/config"]);
    assert_eq!((ok, out.trim()), (true, "hello"));
    let (ok, export, _) = skein(&agent, &["kv", "export", "app/"]);
    assert!(ok && export.contains("\"key\": \"app/config\""), "{export}");

    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("backup.snap");
    let (ok, out, err) = skein(&agent, &["snapshot", "save", snap.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    skein(&agent, &["kv", "put", "app/config", "changed"]);
    let (ok, _, err) = skein(&agent, &["snapshot", "restore", snap.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        skein(&agent, &["kv", "get", "app/config"]).1.trim(),
        "hello"
    );

    let (ok, _, _) = skein(&agent, &["kv", "delete", "app/config"]);
    assert!(ok);
    let (ok, _, err) = skein(&agent, &["kv", "get", "app/config"]);
    assert!(!ok && err.contains("No key exists at: app/config"), "{err}");
    let (ok, out, _) = skein(&agent, &["kv", "import", &export]);
    assert!(ok && out.contains("Imported: app/config"), "{out}");

    let (ok, out, _) = skein(&agent, &["operator", "raft", "list-peers"]);
    assert!(
        ok && out.contains("itest") && out.contains("leader"),
        "{out}"
    );
}

#[test]
fn service_catalog_member_and_maintenance_commands_work_against_an_agent() {
    let agent = Agent::dev(&[]);
    let (ok, out, err) = skein(
        &agent,
        &["services", "register", "-name=web", "-port=8080", "-tag=v1"],
    );
    assert!(ok && out.contains("Registered service: web"), "{out}{err}");
    let (ok, out, _) = skein(&agent, &["catalog", "services", "-tags"]);
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("web") && l.contains("v1")),
        "{out}"
    );
    let (ok, out, _) = skein(&agent, &["catalog", "nodes"]);
    assert!(ok && out.contains("itest"), "{out}");
    let (ok, out, _) = skein(&agent, &["members"]);
    assert!(
        ok && out.contains("itest") && out.contains("alive") && out.contains("server"),
        "{out}"
    );
    let (ok, out, _) = skein(
        &agent,
        &["maint", "-enable", "-service=web", "-reason=upgrade"],
    );
    assert!(
        ok && out.contains("Service maintenance is now enabled"),
        "{out}"
    );
    let (ok, out, _) = skein(&agent, &["maint"]);
    assert!(ok && out.contains("upgrade"), "{out}");
    let (ok, out, _) = skein(&agent, &["info"]);
    assert!(
        ok && out.contains("consul:") && out.contains("leader_addr"),
        "{out}"
    );
    let (ok, out, _) = skein(&agent, &["watch", "-type=services"]);
    assert!(ok && out.contains("\"web\""), "{out}");
    let (ok, out, _) = skein(&agent, &["services", "deregister", "-id=web"]);
    assert!(ok && out.contains("Deregistered service: web"), "{out}");
}
