//! The Connect CA through a dev agent: leaf certificates verified with
//! `openssl verify`, blocking on the leaf's index, root rotation with a
//! cross-signed intermediate, and the CSR rate limit's 429.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Agent, get, put};

/// `openssl verify` of `leaf` (a PEM chain: leaf first, then
/// intermediates) against `roots`.
fn openssl_verifies(dir: &Path, roots: &str, leaf_chain: &str) -> bool {
    let certs: Vec<String> = leaf_chain
        .split_inclusive("-----END CERTIFICATE-----")
        .map(|c| c.trim().to_owned())
        .filter(|c| c.starts_with("-----BEGIN"))
        .collect();
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let roots = write("roots.pem", roots);
    let leaf = write("leaf.pem", &certs[0]);
    let mut cmd = Command::new("openssl");
    cmd.arg("verify").arg("-CAfile").arg(&roots);
    if certs.len() > 1 {
        cmd.arg("-untrusted")
            .arg(write("chain.pem", &certs[1..].join("\n")));
    }
    cmd.arg(&leaf).output().unwrap().status.success()
}

fn san_uri(dir: &Path, cert: &str) -> String {
    let p = dir.join("san.pem");
    std::fs::write(&p, cert).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn leaf(agent: &Agent, service: &str, query: &str) -> (u64, Value) {
    let r = get(&agent.url(&format!("/v1/agent/connect/ca/leaf/{service}{query}")));
    assert_eq!(r.status, 200, "{}", r.body);
    (r.index.expect("index"), r.json())
}

fn roots_pem(agent: &Agent) -> String {
    get(&agent.url("/v1/connect/ca/roots?pem=true")).body
}

#[test]
fn leaves_verify_and_survive_a_root_rotation() {
    let agent = Agent::dev(&[]);
    let dir = tempfile::tempdir().unwrap();
    let roots = get(&agent.url("/v1/connect/ca/roots")).json();
    let td = roots["TrustDomain"]
        .as_str()
        .expect("trust domain")
        .to_owned();
    assert_eq!(roots["Roots"].as_array().map(Vec::len), Some(1));
    let old_root = roots_pem(&agent);

    let (index, first) = leaf(&agent, "web", "");
    let cert = first["CertPEM"].as_str().unwrap().to_owned();
    assert!(
        first["PrivateKeyPEM"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let want = format!("URI:spiffe://{td}/ns/default/dc/dc1/svc/web");
    assert!(
        san_uri(dir.path(), &cert).contains(&want),
        "{}",
        san_uri(dir.path(), &cert)
    );
    assert!(
        openssl_verifies(dir.path(), &old_root, &cert),
        "leaf verifies against the root"
    );

    // The same certificate while nothing changes.
    let (again, same) = leaf(&agent, "web", &format!("?index={index}&wait=1s"));
    assert_eq!(
        (again, &same["SerialNumber"]),
        (index, &first["SerialNumber"])
    );

    // Rotate (new key size) while a blocking read waits for the next leaf.
    let url = agent.url(&format!(
        "/v1/agent/connect/ca/leaf/web?index={index}&wait=60s"
    ));
    let waiter = std::thread::spawn(move || get(&url));
    let r = put(
        &agent.url("/v1/connect/ca/configuration"),
        json!({"Provider": "consul", "Config": {"PrivateKeyBits": 384}}).to_string(),
    );
    assert_eq!((r.status, r.body.trim()), (200, "true"), "{}", r.body);
    let renewed = waiter.join().unwrap();
    assert_eq!(renewed.status, 200);
    assert!(
        renewed.index.unwrap() > index,
        "the blocking read woke with a newer leaf"
    );
    let new = renewed.json();
    assert_ne!(new["SerialNumber"], first["SerialNumber"]);
    let new_cert = new["CertPEM"].as_str().unwrap();

    let roots = get(&agent.url("/v1/connect/ca/roots")).json();
    assert_eq!(
        roots["Roots"].as_array().map(Vec::len),
        Some(2),
        "old and new roots advertised"
    );
    let both = roots_pem(&agent);
    assert!(
        openssl_verifies(dir.path(), &both, &cert),
        "the old leaf still verifies"
    );
    assert!(
        openssl_verifies(dir.path(), &both, new_cert),
        "the new leaf verifies"
    );
    assert!(
        openssl_verifies(dir.path(), &old_root, new_cert),
        "the new leaf chains to the old root through the cross-signed certificate"
    );
}

#[test]
fn csr_rate_limit_answers_429() {
    let agent = Agent::dev(&[]);
    let r = put(
        &agent.url("/v1/connect/ca/configuration"),
        json!({"Provider": "consul", "Config": {"CSRMaxPerSecond": 0.05}}).to_string(),
    );
    assert_eq!(r.body.trim(), "true", "{}", r.body);
    assert_eq!(get(&agent.url("/v1/agent/connect/ca/leaf/a")).status, 200);
    let limited = get(&agent.url("/v1/agent/connect/ca/leaf/b"));
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(
        limited.body.contains("Rate limit reached"),
        "{}",
        limited.body
    );
    let bad = put(
        &agent.url("/v1/connect/ca/configuration"),
        json!({"Provider": "vault", "Config": {}}).to_string(),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
}
