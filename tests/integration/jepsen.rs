//! Linearizability under faults: concurrent clients write, compare-and-set
//! and read (`?consistent`) a few keys of a 3-server cluster while a
//! nemesis kills -9 and restarts servers, pauses the leader past the
//! election timeout (SIGSTOP/SIGCONT) and partitions a server away
//! (iptables rules between the servers' loopback addresses). The history is
//! checked by `skein-linearizability`; every acknowledged write to a unique
//! key must be present at the end.
//!
//! `SKEIN_JEPSEN_SECONDS` sets how long the clients run (the suite runs a
//! short pass; `cargo xtask jepsen` a long one).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::Rng;
use skein_linearizability::{Op, Outcome, Output, Recorder, Verdict, check};

use crate::harness::{Agent, get, wait_until};

const KEYS: [&str; 3] = ["jx", "jy", "jz"];

/// One server: its address, data dir and process (if running).
struct Node {
    index: usize,
    ip: String,
    dir: PathBuf,
    agent: Option<Agent>,
    paused: bool,
}

impl Node {
    fn url(&self) -> String {
        format!("http://{}:8500", self.ip)
    }
}

fn start(index: usize, base: u8, dir: &Path) -> Agent {
    let ip = format!("127.0.0.{}", base + index as u8);
    let extra = vec![
        "-bootstrap-expect=3".to_owned(),
        "-server-port=8300".to_owned(),
        "-serf-lan-port=8301".to_owned(),
        "-http-port=8500".to_owned(),
        format!("-retry-join=127.0.0.{base}:8301"),
        // Election timeout 300-600 ms: still well under the 2.5 s pause and
        // most partitions, but heartbeats (100 ms) survive the scheduling
        // delays of a loaded 2-core machine, where 50 ms ones kept the
        // group electing after the heal.
        "-hcl=performance { raft_multiplier = 2 }".to_owned(),
    ];
    Agent::cluster_server(
        &format!("j{index}"),
        &ip,
        &dir.join(format!("j{index}")),
        &extra,
    )
}

fn cluster(base: u8, dir: &Path) -> Vec<Node> {
    (0..3)
        .map(|i| Node {
            index: i,
            ip: format!("127.0.0.{}", base + i as u8),
            dir: dir.to_owned(),
            agent: Some(start(i, base, dir)),
            paused: false,
        })
        .collect()
}

fn leader_of(nodes: &[Node]) -> Option<usize> {
    let any = nodes.iter().find(|n| n.agent.is_some() && !n.paused)?;
    let r = http()
        .get(&format!("{}/v1/status/leader", any.url()))
        .call()
        .ok()?;
    let leader: String = serde_json::from_str(&r.into_body().read_to_string().ok()?).ok()?;
    nodes
        .iter()
        .position(|n| leader == format!("{}:8300", n.ip))
}

fn wait_for_leader(nodes: &[Node]) {
    wait_until(Duration::from_secs(60), "a leader", || {
        leader_of(nodes).is_some()
            && nodes
                .iter()
                .filter(|n| n.agent.is_some() && !n.paused)
                .all(|n| get(&format!("{}/v1/status/leader", n.url())).body.len() > 2)
    });
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .new_agent()
}

/// iptables rules that cut one server off from the others, removed on drop.
struct Partition {
    rules: Vec<Vec<String>>,
}

impl Partition {
    fn isolate(ip: &str, others: &[String]) -> Partition {
        let mut rules = Vec::new();
        for other in others {
            for (src, dst) in [(ip, other.as_str()), (other.as_str(), ip)] {
                let rule: Vec<String> = ["INPUT", "-s", src, "-d", dst, "-j", "DROP"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                iptables("-A", &rule);
                rules.push(rule);
            }
        }
        Partition { rules }
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        for rule in &self.rules {
            iptables("-D", rule);
        }
    }
}

fn iptables(action: &str, rule: &[String]) {
    let status = Command::new("iptables")
        .arg(action)
        .args(rule)
        .status()
        .expect("iptables is installed (cargo xtask test installs it) and runs as root");
    assert!(status.success(), "iptables {action} {rule:?} failed");
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

/// A consistent read: the value and its ModifyIndex, or `None` when the
/// key is absent; `Err` when the request failed.
fn read(url: &str, key: &str) -> Result<Option<(String, u64)>, ()> {
    let resp = http()
        .get(&format!("{url}/v1/kv/{key}?consistent"))
        .call()
        .map_err(|_| ())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().read_to_string().map_err(|_| ())?;
    match status {
        404 => Ok(None),
        200 => {
            let rows: serde_json::Value = serde_json::from_str(&body).map_err(|_| ())?;
            let raw = rows[0]["Value"].as_str().unwrap_or_default();
            let value = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| ())?;
            let index = rows[0]["ModifyIndex"].as_u64().ok_or(())?;
            Ok(Some((String::from_utf8_lossy(&value).into_owned(), index)))
        }
        _ => Err(()),
    }
}

/// A PUT: `Some(true|false)` from the answer, `None` when unknown.
fn put(url: &str) -> impl FnOnce(String) -> Option<bool> {
    let url = url.to_owned();
    move |body| {
        let resp = http().put(&url).send(body.as_bytes()).ok()?;
        if resp.status().as_u16() != 200 {
            return None;
        }
        match resp.into_body().read_to_string().ok()?.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// One client's loop until `stop`.
fn client(
    id: u32,
    urls: Vec<String>,
    rec: Recorder,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let mut rng = rand::thread_rng();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let url = &urls[rng.gen_range(0..urls.len())];
        let key = KEYS[rng.gen_range(0..KEYS.len())];
        let value = format!("c{id}-{seq}");
        match rng.gen_range(0..10) {
            0..=3 => {
                let op = rec.invoke(id, Op::write(key, value.clone()));
                let outcome = match put(&format!("{url}/v1/kv/{key}"))(value) {
                    Some(true) => Outcome::Ok(Output::Ok),
                    _ => Outcome::Unknown,
                };
                rec.complete(op, outcome).expect("complete");
            }
            4..=5 => {
                let op = rec.invoke(id, Op::read(key));
                let outcome = match read(url, key) {
                    Ok(found) => Outcome::Ok(Output::read(found.as_ref().map(|(v, _)| v.as_str()))),
                    Err(()) => Outcome::Failed,
                };
                rec.complete(op, outcome).expect("complete");
                let Ok(found) = read(url, key) else { continue };
                let (expect, index) = found.map_or((None, 0), |(v, i)| (Some(v), i));
                let op = rec.invoke(id, Op::cas(key, expect.as_deref(), value.clone()));
                let outcome = match put(&format!("{url}/v1/kv/{key}?cas={index}"))(value) {
                    Some(swapped) => Outcome::Ok(Output::Cas(swapped)),
                    None => Outcome::Unknown,
                };
                rec.complete(op, outcome).expect("complete");
            }
            6 => {
                let unique = format!("ju/{value}");
                if put(&format!("{url}/v1/kv/{unique}"))(value) == Some(true) {
                    acked.lock().expect("acked").push(unique);
                }
            }
            _ => {
                let op = rec.invoke(id, Op::read(key));
                let outcome = match read(url, key) {
                    Ok(found) => Outcome::Ok(Output::read(found.as_ref().map(|(v, _)| v.as_str()))),
                    Err(()) => Outcome::Failed,
                };
                rec.complete(op, outcome).expect("complete");
            }
        }
    }
}

/// Faults until `deadline`; returns what was injected.
fn nemesis(nodes: &mut [Node], base: u8, deadline: Instant) -> Vec<String> {
    let mut rng = rand::thread_rng();
    let mut faults = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(rng.gen_range(500..1500)));
        let victim = rng.gen_range(0..nodes.len());
        match rng.gen_range(0..3) {
            0 => {
                if let Some(agent) = nodes[victim].agent.take() {
                    agent.kill9();
                    faults.push(format!("kill -9 j{victim}"));
                    std::thread::sleep(Duration::from_millis(rng.gen_range(500..2000)));
                    nodes[victim].agent = Some(start(victim, base, &nodes[victim].dir));
                }
            }
            1 => {
                let Some(leader) = leader_of(nodes) else {
                    continue;
                };
                let Some(agent) = &nodes[leader].agent else {
                    continue;
                };
                let pid = agent.pid();
                signal(pid, "-STOP");
                nodes[leader].paused = true;
                faults.push(format!("pause leader j{leader}"));
                std::thread::sleep(Duration::from_millis(2500));
                signal(pid, "-CONT");
                nodes[leader].paused = false;
            }
            _ => {
                let others: Vec<String> = nodes
                    .iter()
                    .filter(|n| n.index != victim)
                    .map(|n| n.ip.clone())
                    .collect();
                let cut = Partition::isolate(&nodes[victim].ip, &others);
                faults.push(format!("partition j{victim}"));
                std::thread::sleep(Duration::from_millis(rng.gen_range(1000..3000)));
                drop(cut);
            }
        }
    }
    faults
}

#[test]
fn kv_histories_stay_linearizable_under_kills_pauses_and_partitions() {
    let seconds: u64 = std::env::var("SKEIN_JEPSEN_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let base = 61;
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(base, dir.path());
    wait_for_leader(&nodes);
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    let rec = Recorder::new();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|id| {
            let (urls, rec, stop, acked) = (urls.clone(), rec.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || client(id, urls, rec, stop, acked))
        })
        .collect();
    let started = Instant::now();
    let faults = nemesis(&mut nodes, base, started + Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    // Heal: every server back, a leader, then one final read per key.
    for node in nodes.iter_mut().filter(|n| n.agent.is_none()) {
        node.agent = Some(start(node.index, base, &node.dir));
    }
    wait_for_leader(&nodes);
    for key in KEYS {
        let op = rec.invoke(99u32, Op::read(key));
        // Elections may still settle after the heal; a consistent read
        // waits for them (or its client times out), so retry. Failed reads
        // change nothing, and the recorded interval spans every attempt.
        let deadline = Instant::now() + Duration::from_secs(30);
        let found = loop {
            match read(&urls[0], key) {
                Ok(found) => break found,
                Err(()) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(()) => panic!("the final read of {key} kept failing for 30 s"),
            }
        };
        let output = Output::read(found.as_ref().map(|(v, _)| v.as_str()));
        rec.complete(op, Outcome::Ok(output)).expect("complete");
    }
    let missing: Vec<String> = {
        let listed = get(&format!("{}/v1/kv/ju/?keys&consistent", urls[0])).json();
        let listed: Vec<String> = listed
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        acked
            .lock()
            .expect("acked")
            .iter()
            .filter(|k| !listed.contains(k))
            .cloned()
            .collect()
    };
    let history = rec.finish();
    let report = check(&history, Duration::from_secs(60));
    println!(
        "jepsen: {} operations, {} acknowledged unique writes, faults {:?}, {} s of load; {report}",
        history.len(),
        acked.lock().expect("acked").len(),
        faults,
        seconds
    );
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    assert!(
        report.is_linearizable(),
        "not linearizable: {report}\nhistory: {}",
        history.to_json().unwrap_or_default()
    );
    assert!(!faults.is_empty(), "the nemesis injected faults");
}

#[test]
fn the_checker_catches_stale_reads_from_a_cut_off_follower() {
    let base = 71;
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(base, dir.path());
    wait_for_leader(&nodes);
    let leader = leader_of(&nodes).expect("leader");
    let follower = (0..3).find(|i| *i != leader).expect("follower");
    let majority = nodes[leader].url();
    let rec = Recorder::new();
    let write = |value: &str| {
        let op = rec.invoke(1u32, Op::write("k", value));
        let ok = put(&format!("{majority}/v1/kv/k"))(value.to_owned()) == Some(true);
        rec.complete(
            op,
            if ok {
                Outcome::Ok(Output::Ok)
            } else {
                Outcome::Unknown
            },
        )
        .expect("complete");
    };
    write("v1");
    wait_until(Duration::from_secs(5), "the follower to have v1", || {
        get(&format!("{}/v1/kv/k?stale&raw", nodes[follower].url())).body == "v1"
    });
    let others: Vec<String> = nodes
        .iter()
        .filter(|n| n.index != follower)
        .map(|n| n.ip.clone())
        .collect();
    let cut = Partition::isolate(&nodes[follower].ip, &others);
    write("v2");
    // The broken read path: a "consistent" read served from the follower's
    // own copy, without the leader's read index.
    let op = rec.invoke(2u32, Op::read("k"));
    let stale = get(&format!("{}/v1/kv/k?stale&raw", nodes[follower].url())).body;
    rec.complete(op, Outcome::Ok(Output::read(Some(&stale))))
        .expect("complete");
    drop(cut);
    assert_eq!(stale, "v1", "the cut-off follower still has the old value");
    let report = check(&rec.finish(), Duration::from_secs(10));
    assert!(
        matches!(report.verdict, Verdict::NotLinearizable(_)),
        "the checker must reject a stale read: {report}"
    );
}
