//! `config`, `intention` and `connect ca` commands of the real binary against
//! a dev agent, addressed through `CONSUL_HTTP_ADDR`.

use std::process::Command;
use std::time::Duration;

use crate::harness::{Agent, get, wait_until};

/// The outcome of one CLI run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn skein(agent: &Agent, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(args)
        .env("CONSUL_HTTP_ADDR", &agent.http)
        .env_remove("SKEIN_HTTP_ADDR")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

#[test]
fn config_write_read_list_cas_and_delete() {
    let agent = Agent::dev(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.hcl");
    std::fs::write(
        &file,
        "Kind = \"service-defaults\"\nName = \"web\"\nProtocol = \"http\"\nmeta {\n  \"owner\" = \"team-a\"\n}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let w = skein(&agent, &["config", "write", file]);
    assert_eq!(
        (w.code, w.stdout.as_str()),
        (0, "Config entry written: service-defaults/web\n"),
        "{}",
        w.stderr
    );

    let r = skein(
        &agent,
        &[
            "config",
            "read",
            "-kind",
            "service-defaults",
            "-name",
            "web",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("{\n    \""), "{}", r.stdout);
    assert!(
        r.stdout.contains("\n    \"Protocol\": \"http\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\"owner\": \"team-a\""), "{}", r.stdout);

    let l = skein(&agent, &["config", "list", "-kind", "service-defaults"]);
    assert_eq!((l.code, l.stdout.as_str()), (0, "web\n"), "{}", l.stderr);

    // A check-and-set write with a stale index fails with exit 1.
    let entry = get(&agent.url("/v1/config/service-defaults/web")).json();
    let modify = entry["ModifyIndex"].as_u64().unwrap();
    let stale = format!("-modify-index={}", modify - 1);
    let c = skein(&agent, &["config", "write", "-cas", &stale, file]);
    assert_eq!(
        (c.code, c.stderr.as_str()),
        (1, "Config entry not updated: service-defaults/web\n")
    );
    let current = format!("-modify-index={modify}");
    let c = skein(&agent, &["config", "write", "-cas", &current, file]);
    assert_eq!(c.code, 0, "{}", c.stderr);

    let d = skein(&agent, &["config", "delete", "-filename", file]);
    assert_eq!(
        (d.code, d.stdout.as_str()),
        (0, "Config entry deleted: service-defaults/web\n"),
        "{}",
        d.stderr
    );
    let l = skein(&agent, &["config", "list", "-kind", "service-defaults"]);
    assert_eq!((l.code, l.stdout.as_str()), (0, ""));
    let r = skein(
        &agent,
        &[
            "config",
            "read",
            "-kind",
            "service-defaults",
            "-name",
            "web",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(
            "Error reading config entry service-defaults/web: Unexpected response code: 404"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn intention_create_check_match_get_and_delete() {
    let agent = Agent::dev(&[]);
    let c = skein(
        &agent,
        &["intention", "create", "-meta", "team=a", "web", "db"],
    );
    assert_eq!(
        (c.code, c.stdout.as_str()),
        (0, "Created: web => db (allow)\n"),
        "{}",
        c.stderr
    );
    let ok = skein(&agent, &["intention", "check", "web", "db"]);
    assert_eq!((ok.code, ok.stdout.as_str()), (0, "Allowed\n"));

    let c = skein(
        &agent,
        &["intention", "create", "-deny", "-replace", "web", "db"],
    );
    assert_eq!(c.code, 0, "{}", c.stderr);
    let denied = skein(&agent, &["intention", "check", "web", "db"]);
    assert_eq!((denied.code, denied.stdout.as_str()), (1, "Denied\n"));
    let bad = skein(&agent, &["intention", "check", "web"]);
    assert_eq!(bad.code, 2);

    let m = skein(&agent, &["intention", "match", "db"]);
    assert_eq!(
        (m.code, m.stdout.as_str()),
        (0, "web => db (deny)\n"),
        "{}",
        m.stderr
    );
    let m = skein(&agent, &["intention", "match", "-source", "web"]);
    assert_eq!(m.stdout, "web => db (deny)\n");

    let g = skein(&agent, &["intention", "get", "web", "db"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(
        g.stdout
            .starts_with("Source:       web\nDestination:  db\nAction:       deny\nID:  "),
        "{}",
        g.stdout
    );
    let id = g
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .unwrap()
        .trim()
        .to_owned();
    let by_id = skein(&agent, &["intention", "get", &id]);
    assert_eq!(by_id.stdout, g.stdout);
    let list = skein(&agent, &["intention", "list"]);
    assert!(
        list.stdout.starts_with("ID  ") && list.stdout.contains(&id),
        "{}",
        list.stdout
    );

    let d = skein(&agent, &["intention", "delete", "web", "db"]);
    assert_eq!(
        (d.code, d.stdout.as_str()),
        (0, "Intention deleted.\n"),
        "{}",
        d.stderr
    );
    let g = skein(&agent, &["intention", "get", "web", "db"]);
    assert_eq!(
        (g.code, g.stderr.as_str()),
        (
            1,
            "Intention not found with source \"web\" and destination \"db\"\n"
        )
    );
    let list = skein(&agent, &["intention", "list"]);
    assert_eq!(
        (list.code, list.stderr.as_str()),
        (2, "There are no intentions.\n")
    );
}

#[test]
fn connect_ca_get_and_set_config() {
    let agent = Agent::dev(&[]);
    let mut got = skein(&agent, &["connect", "ca", "get-config"]);
    wait_until(Duration::from_secs(10), "the CA configuration", || {
        got = skein(&agent, &["connect", "ca", "get-config"]);
        got.code == 0
    });
    assert!(
        got.stdout.contains("\n\t\"Provider\": \"consul\","),
        "{}",
        got.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.json");
    std::fs::write(
        &file,
        r#"{"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}"#,
    )
    .unwrap();
    let flag = format!("-config-file={}", file.display());
    let set = skein(&agent, &["connect", "ca", "set-config", &flag]);
    assert_eq!(
        (set.code, set.stdout.as_str()),
        (0, "Configuration updated!\n"),
        "{}",
        set.stderr
    );
    let got = skein(&agent, &["connect", "ca", "get-config"]);
    assert!(
        got.stdout.contains("\t\t\"LeafCertTTL\": \"24h\""),
        "{}",
        got.stdout
    );
}
