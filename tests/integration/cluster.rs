//! Several real `skein agent -server` processes, each on its own loopback
//! address, forming one datacenter through `-retry-join` and gossip.

use std::time::{Duration, Instant};

use crate::harness::{Agent, get, post, put, wait_until};

/// Starts `n` servers with `-bootstrap-expect=n`, each joining the first.
fn cluster(n: usize, dir: &std::path::Path) -> Vec<Agent> {
    let mut agents: Vec<Agent> = Vec::new();
    for i in 0..n {
        let ip = format!("127.0.0.{}", 21 + i);
        let mut extra = vec![format!("-bootstrap-expect={n}")];
        if let Some(first) = agents.first() {
            extra.push(format!(
                "-retry-join={}",
                first.serf_lan.clone().expect("serf address")
            ));
        }
        let data = dir.join(format!("s{i}"));
        agents.push(Agent::cluster_server(&format!("s{i}"), &ip, &data, &extra));
    }
    agents
}

fn leader(agent: &Agent) -> String {
    let r = get(&agent.url("/v1/status/leader"));
    if r.status != 200 {
        return String::new();
    }
    r.json().as_str().unwrap_or_default().to_owned()
}

fn members(agent: &Agent) -> Vec<(String, u64)> {
    let m = get(&agent.url("/v1/agent/members")).json();
    m.as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["Name"].as_str().unwrap_or_default().to_owned(),
                        m["Status"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `PUT /v1/agent/leave`, then the process exits cleanly.
fn leave(mut agent: Agent) {
    assert_eq!(put(&agent.url("/v1/agent/leave"), "").status, 200);
    let status = agent.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after leave: {status:?}"
    );
}

fn serf_health(agent: &Agent, node: &str) -> Option<String> {
    let checks = get(&agent.url(&format!("/v1/health/node/{node}"))).json();
    checks
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == "serfHealth")?["Status"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn three_servers_form_a_cluster_replicate_and_survive_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = cluster(3, dir.path());
    wait_until(
        Duration::from_secs(20),
        "one leader known to every server",
        || {
            let leaders: Vec<String> = servers.iter().map(leader).collect();
            !leaders[0].is_empty() && leaders.iter().all(|l| *l == leaders[0])
        },
    );
    wait_until(Duration::from_secs(10), "three voters", || {
        let peers = get(&servers[0].url("/v1/status/peers")).json();
        peers.as_array().map(Vec::len) == Some(3)
    });
    wait_until(
        Duration::from_secs(10),
        "every member alive everywhere",
        || {
            servers.iter().all(|s| {
                let m = members(s);
                m.len() == 3 && m.iter().all(|(_, status)| *status == 1)
            })
        },
    );

    // A write through any server is read through every other.
    assert_eq!(put(&servers[2].url("/v1/kv/hello"), "world").body, "true");
    for s in &servers {
        let r = get(&s.url("/v1/kv/hello?consistent&raw"));
        assert_eq!((r.status, r.body.as_str()), (200, "world"));
    }
    put(
        &servers[1].url("/v1/agent/service/register"),
        r#"{"Name": "web", "Port": 80}"#,
    );
    wait_until(Duration::from_secs(10), "the service everywhere", || {
        servers
            .iter()
            .all(|s| get(&s.url("/v1/catalog/service/web")).json()[0]["Node"] == "s1")
    });

    // Hand leadership to a chosen follower, asking through another server.
    let before = leader(&servers[0]);
    let config = get(&servers[0].url("/v1/operator/raft/configuration")).json();
    let target = config["Servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["Leader"] == false)
        .expect("a follower")
        .clone();
    // Ask a server that neither leads nor is the target.
    let asked = servers
        .iter()
        .find(|s| {
            let info = get(&s.url("/v1/agent/self")).json();
            let rpc = format!(
                "{}:{}",
                info["Member"]["Addr"].as_str().unwrap_or_default(),
                info["Member"]["Tags"]["port"].as_str().unwrap_or_default()
            );
            rpc != before && Some(rpc.as_str()) != target["Address"].as_str()
        })
        .expect("a third server");
    let started = Instant::now();
    let r = post(
        &asked.url(&format!(
            "/v1/operator/raft/transfer-leader?id={}",
            target["ID"].as_str().expect("id")
        )),
        "",
    );
    assert_eq!(
        (r.status, r.json()["Success"].clone()),
        (200, true.into()),
        "{}",
        r.body
    );
    let wanted = target["Address"].as_str().expect("address").to_owned();
    wait_until(
        Duration::from_secs(10),
        "the chosen leader everywhere",
        || servers.iter().all(|s| leader(s) == wanted),
    );
    println!("leadership transferred in {:?}", started.elapsed());
    assert_eq!(put(&servers[0].url("/v1/kv/moved"), "yes").body, "true");
    let bogus = post(
        &servers[0].url("/v1/operator/raft/transfer-leader?id=no-such-server"),
        "",
    );
    assert_eq!(bogus.status, 500, "{}", bogus.body);

    // Keep dead servers in the configuration for now, so the dead one
    // below stays until force-leave (autopilot would remove it otherwise).
    let r = put(
        &servers[0].url("/v1/operator/autopilot/configuration"),
        r#"{"CleanupDeadServers": false}"#,
    );
    assert_eq!((r.status, r.body.as_str()), (200, "true"));

    // Kill -9 the leader: a new one is elected and writes continue.
    let old = leader(&servers[0]);
    let at = servers
        .iter()
        .position(|s| {
            let info = get(&s.url("/v1/agent/self")).json();
            let rpc = format!(
                "{}:{}",
                info["Member"]["Addr"].as_str().unwrap_or_default(),
                info["Member"]["Tags"]["port"].as_str().unwrap_or_default()
            );
            rpc == old
        })
        .expect("the leader is one of the servers");
    let killed = servers.remove(at);
    let killed_name = format!("s{at}");
    killed.kill9();
    let started = Instant::now();
    wait_until(Duration::from_secs(30), "a new leader", || {
        let l = leader(&servers[0]);
        !l.is_empty() && l != old && servers.iter().all(|s| leader(s) == l)
    });
    println!("new leader after {:?}", started.elapsed());
    assert_eq!(
        put(&servers[0].url("/v1/kv/after"), "failover").body,
        "true"
    );
    let r = get(&servers[1].url("/v1/kv/after?consistent&raw"));
    assert_eq!(r.body, "failover");

    // Gossip notices the dead server and the leader marks it critical.
    wait_until(
        Duration::from_secs(30),
        "the dead server to be failed",
        || {
            members(&servers[0])
                .iter()
                .any(|(name, status)| *name == killed_name && *status == 4)
        },
    );
    println!("failure detected {:?} after the kill", started.elapsed());
    wait_until(Duration::from_secs(15), "serfHealth critical", || {
        serf_health(&servers[0], &killed_name).as_deref() == Some("critical")
    });

    let health = get(&servers[0].url("/v1/operator/autopilot/health"));
    assert_eq!(
        health.status, 429,
        "a dead voter makes the cluster unhealthy"
    );
    assert_eq!(health.json()["FailureTolerance"], 0);

    // force-leave turns the dead server into a departed one: out of the
    // catalog and out of the Raft configuration.
    let r = put(
        &servers[1].url(&format!("/v1/agent/force-leave/{killed_name}")),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(Duration::from_secs(15), "the dead server removed", || {
        let left = members(&servers[0])
            .iter()
            .any(|(name, status)| *name == killed_name && *status == 3);
        let peers = get(&servers[0].url("/v1/status/peers")).json();
        left && peers.as_array().map(Vec::len) == Some(2)
            && get(&servers[0].url(&format!("/v1/catalog/node/{killed_name}")))
                .json()
                .is_null()
    });
    assert_eq!(
        put(&servers[1].url("/v1/kv/after-force-leave"), "ok").body,
        "true"
    );
    // -prune forgets it everywhere instead of listing it as left.
    let r = put(
        &servers[0].url(&format!("/v1/agent/force-leave/{killed_name}?prune")),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(10),
        "the pruned server forgotten",
        || {
            servers
                .iter()
                .all(|s| !members(s).iter().any(|(name, _)| *name == killed_name))
        },
    );
    wait_until(Duration::from_secs(10), "autopilot healthy again", || {
        get(&servers[0].url("/v1/operator/autopilot/health")).status == 200
    });
}

#[test]
fn a_server_that_leaves_gracefully_is_deregistered_and_leaves_raft() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = cluster(3, dir.path());
    wait_until(Duration::from_secs(20), "a leader", || {
        servers.iter().all(|s| !leader(s).is_empty())
    });
    wait_until(Duration::from_secs(10), "all members alive", || {
        members(&servers[0])
            .iter()
            .filter(|(_, st)| *st == 1)
            .count()
            == 3
    });
    // The first leader of a cluster formed by -bootstrap-expect creates the
    // Connect CA, and every server serves the same root.
    wait_until(
        Duration::from_secs(10),
        "one CA root on every server",
        || {
            let ids: Vec<String> = servers
                .iter()
                .map(|s| get(&s.url("/v1/connect/ca/roots")).json()["ActiveRootID"].to_string())
                .collect();
            ids.iter().all(|id| id.len() > 2 && *id == ids[0])
        },
    );
    // s2 leaves gracefully.
    leave(servers.remove(2));
    wait_until(
        Duration::from_secs(15),
        "s2 seen as left and deregistered",
        || {
            members(&servers[0])
                .iter()
                .any(|(n, st)| n == "s2" && *st == 3)
                && get(&servers[0].url("/v1/catalog/node/s2")).json().is_null()
                && get(&servers[0].url("/v1/status/peers"))
                    .json()
                    .as_array()
                    .map(Vec::len)
                    == Some(2)
        },
    );
    assert_eq!(
        put(&servers[1].url("/v1/kv/after-leave"), "ok").body,
        "true"
    );
    let unknown = put(&servers[0].url("/v1/agent/force-leave/nobody"), "");
    assert_eq!(unknown.status, 500);
    assert!(unknown.body.contains("No node found"), "{}", unknown.body);
}

/// A server on its own address with Consul's fixed ports, so that a
/// restart keeps its Raft address, and small snapshots.
fn fixed_server(i: usize, dir: &std::path::Path, join: Option<&str>) -> Agent {
    let ip = format!("127.0.0.{}", 41 + i);
    let mut extra = vec![
        "-bootstrap-expect=3".to_owned(),
        "-server-port=8300".to_owned(),
        "-serf-lan-port=8301".to_owned(),
        "-hcl=raft_snapshot_threshold = 64".to_owned(),
        "-hcl=raft_trailing_logs = 16".to_owned(),
        "-hcl=autopilot { server_stabilization_time = \"2s\" }".to_owned(),
    ];
    if let Some(join) = join {
        extra.push(format!("-retry-join={join}"));
    }
    Agent::cluster_server(&format!("f{i}"), &ip, &dir.join(format!("f{i}")), &extra)
}

fn raft_stat(agent: &Agent, key: &str) -> u64 {
    let me = get(&agent.url("/v1/agent/self")).json();
    me["Stats"]["raft"][key]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_server_that_was_down_catches_up_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let seed = "127.0.0.41:8301";
    let mut servers: Vec<Option<Agent>> = (0..3)
        .map(|i| Some(fixed_server(i, dir.path(), (i > 0).then_some(seed))))
        .collect();
    let live = |servers: &[Option<Agent>]| -> Vec<usize> {
        (0..servers.len())
            .filter(|i| servers[*i].is_some())
            .collect()
    };
    wait_until(Duration::from_secs(20), "a leader everywhere", || {
        servers.iter().flatten().all(|s| !leader(s).is_empty())
    });
    let follower = live(&servers)
        .into_iter()
        .find(|i| {
            let s = servers[*i].as_ref().unwrap();
            get(&s.url("/v1/agent/self")).json()["Stats"]["raft"]["state"] == "Follower"
        })
        .expect("a follower");
    let behind = raft_stat(servers[follower].as_ref().unwrap(), "last_log_index");
    servers[follower].take().unwrap().kill9();

    let writer = live(&servers)[0];
    for i in 0..300 {
        let w = servers[writer].as_ref().unwrap();
        assert_eq!(
            put(&w.url(&format!("/v1/kv/k{i}")), format!("v{i}")).body,
            "true"
        );
    }
    wait_until(
        Duration::from_secs(10),
        "the others to compact their logs",
        || {
            live(&servers)
                .iter()
                .all(|i| raft_stat(servers[*i].as_ref().unwrap(), "purged_index") > behind)
        },
    );

    // Autopilot removes the dead voter (dead-server cleanup is on by
    // default) ...
    let voters = |s: &Agent| {
        get(&s.url("/v1/status/peers"))
            .json()
            .as_array()
            .map_or(0, Vec::len)
    };
    let at_writer = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "autopilot to remove the dead server",
        || voters(servers[writer].as_ref().unwrap()) == 2,
    );
    println!(
        "dead server removed {:?} after the writes",
        at_writer.elapsed()
    );

    // It restarts with no join address at all: the members in its gossip
    // snapshot (`serf/local.snapshot` in its data dir) bring it back.
    let restarted = fixed_server(follower, dir.path(), None);
    wait_until(
        Duration::from_secs(20),
        "the restarted server to catch up",
        || {
            let r = get(&restarted.url("/v1/kv/k299?stale&raw"));
            r.status == 200 && r.body == "v299"
        },
    );
    assert!(
        raft_stat(&restarted, "last_snapshot_index") > behind,
        "the restarted server installed a snapshot past what it had"
    );
    // ... and makes it a voter again once it has been stable for the
    // configured 2 s.
    let back = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "the restarted server voting again",
        || voters(&restarted) == 3,
    );
    println!("voter again after {:?}", back.elapsed());
    let r = get(&restarted.url("/v1/kv/k0?consistent&raw"));
    assert_eq!(r.body, "v0");
}

#[test]
fn client_agents_join_serve_the_catalog_and_are_reconciled() {
    let dir = tempfile::tempdir().unwrap();
    let servers = cluster(3, dir.path());
    let seed = servers[0].serf_lan.clone().expect("serf address");
    let join = vec![format!("-retry-join={seed}")];
    let mut clients: Vec<Agent> = (0..2)
        .map(|i| {
            let ip = format!("127.0.0.{}", 51 + i);
            Agent::cluster_client(
                &format!("c{i}"),
                &ip,
                &dir.path().join(format!("c{i}")),
                &join,
            )
        })
        .collect();
    wait_until(
        Duration::from_secs(20),
        "a leader known to every agent",
        || {
            servers
                .iter()
                .chain(&clients)
                .all(|a| !leader(a).is_empty())
        },
    );
    wait_until(Duration::from_secs(10), "five members alive", || {
        members(&servers[0])
            .iter()
            .filter(|(_, st)| *st == 1)
            .count()
            == 5
    });
    let peers = get(&clients[0].url("/v1/status/peers")).json();
    assert_eq!(
        peers.as_array().map(Vec::len),
        Some(3),
        "clients are not raft peers"
    );

    ca_keys_stay_on_the_servers(&servers, &clients, dir.path());

    // A service registered on a client is visible through every agent.
    let r = put(
        &clients[0].url("/v1/agent/service/register"),
        r#"{"Name": "api", "Port": 9000}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(10),
        "the client's service everywhere",
        || {
            servers
                .iter()
                .chain(&clients)
                .all(|a| get(&a.url("/v1/catalog/service/api?stale")).json()[0]["Node"] == "c0")
        },
    );
    // Writes and consistent reads through a client go through the servers.
    assert_eq!(
        put(&clients[1].url("/v1/kv/from-client"), "yes").body,
        "true"
    );
    let r = get(&servers[2].url("/v1/kv/from-client?consistent&raw"));
    assert_eq!(r.body, "yes");
    let r = get(&clients[0].url("/v1/kv/from-client?consistent&raw"));
    assert_eq!(r.body, "yes");

    // A killed client turns critical; one that leaves is deregistered.
    let killed = clients.remove(1);
    killed.kill9();
    let started = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "the killed client's serfHealth critical",
        || serf_health(&servers[0], "c1").as_deref() == Some("critical"),
    );
    println!(
        "client failure reached the catalog {:?} after the kill",
        started.elapsed()
    );
    leave(clients.remove(0));
    wait_until(
        Duration::from_secs(15),
        "the client that left deregistered",
        || {
            get(&servers[1].url("/v1/catalog/node/c0")).json().is_null()
                && get(&servers[1].url("/v1/catalog/service/api")).json() == serde_json::json!([])
        },
    );
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

/// The CA roots' private keys are on every voter and on no client agent
/// (clients hold the replicated state as Raft learners); a client still
/// gets leaves signed, and so does a new leader after a transfer.
fn ca_keys_stay_on_the_servers(servers: &[Agent], clients: &[Agent], dir: &std::path::Path) {
    wait_until(Duration::from_secs(10), "the CA on a client", || {
        get(&clients[0].url("/v1/connect/ca/roots?stale")).json()["ActiveRootID"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    });
    let leaf = get(&clients[0].url("/v1/agent/connect/ca/leaf/api"));
    assert_eq!(leaf.status, 200, "{}", leaf.body);
    let root = get(&clients[0].url("/v1/connect/ca/roots?stale")).json()["ActiveRootID"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..servers.len() {
        let keys = dir.join(format!("s{i}/raft/connect-ca-keys.json"));
        wait_until(
            Duration::from_secs(10),
            "the root key on every voter",
            || std::fs::read_to_string(&keys).is_ok_and(|k| k.contains(&root)),
        );
    }
    for i in 0..clients.len() {
        let leaked = files_containing(&dir.join(format!("c{i}")), b"PRIVATE KEY");
        assert!(
            leaked.is_empty(),
            "a private key on client c{i}: {leaked:?}"
        );
    }
    let before = leader(&servers[0]);
    let r = post(&servers[0].url("/v1/operator/raft/transfer-leader"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(Duration::from_secs(10), "a new leader", || {
        let now = leader(&servers[0]);
        !now.is_empty() && now != before
    });
    let leaf = get(&clients[1].url("/v1/agent/connect/ca/leaf/web"));
    assert_eq!(leaf.status, 200, "the new leader signs: {}", leaf.body);
}
