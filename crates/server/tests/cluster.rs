//! Several servers in one process on loopback: a cluster forms from
//! `initialize_cluster`, followers forward writes and serve consistent
//! reads through the leader's read index, a new leader takes over when the
//! old one stops, and a voter added later catches up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein_server::{Consistency, Server, ServerOptions};
use skein_state::{Op, Outcome};

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn start(name: &str) -> Arc<Server> {
    let mut options = ServerOptions::dev(name, free_addr());
    options.bootstrap = false;
    options.rpc_hold_timeout = Duration::from_secs(10);
    Server::start(options).await.expect("server starts")
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn set(key: &str, value: &str) -> Op {
    Op::KvSet {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
    }
}

fn value(server: &Server, key: &str) -> Option<String> {
    let store = server.store().read().expect("store");
    store
        .kv_get(key)
        .1
        .map(|e| String::from_utf8_lossy(&e.value).into_owned())
}

fn members(servers: &[&Arc<Server>]) -> BTreeMap<u64, String> {
    servers
        .iter()
        .map(|s| (s.options().raft_id, s.options().rpc_advertise.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_forward_writes_and_a_new_leader_takes_over() {
    let (a, b, c) = (start("a").await, start("b").await, start("c").await);
    assert!(!b.is_initialized().await);
    assert!(
        a.initialize_cluster(members(&[&a, &b, &c]))
            .await
            .expect("forms")
    );
    let all = [a.clone(), b.clone(), c.clone()];
    wait_for("one leader known to all", || {
        all.iter().all(|s| s.leader_addr().is_some())
    })
    .await;
    assert_eq!(all.iter().filter(|s| s.is_leader()).count(), 1);

    let follower = all.iter().find(|s| !s.is_leader()).expect("a follower");
    assert_eq!(
        follower
            .write(set("k", "v1"))
            .await
            .expect("forwarded write"),
        Outcome::Bool(true)
    );
    follower
        .read_barrier(Consistency::Consistent)
        .await
        .expect("read index through the leader");
    assert_eq!(
        value(follower, "k").as_deref(),
        Some("v1"),
        "a consistent read sees the write"
    );

    let leader = all.iter().find(|s| s.is_leader()).expect("leader").clone();
    let rest: Vec<Arc<Server>> = all
        .iter()
        .filter(|s| !Arc::ptr_eq(s, &leader))
        .cloned()
        .collect();
    leader.shutdown().await;
    wait_for("a new leader", || {
        rest.iter().any(|s| s.is_leader())
            && rest
                .iter()
                .all(|s| s.leader_addr() != Some(leader.options().rpc_advertise.to_string()))
    })
    .await;
    let survivor = rest.iter().find(|s| !s.is_leader()).expect("a follower");
    survivor
        .write(set("k", "v2"))
        .await
        .expect("writes continue after the leader stopped");
    survivor
        .read_barrier(Consistency::Default)
        .await
        .expect("default read");
    assert_eq!(value(survivor, "k").as_deref(), Some("v2"));

    let d = start("d").await;
    let new_leader = rest.iter().find(|s| s.is_leader()).expect("leader");
    new_leader
        .add_voter(d.options().raft_id, &d.options().rpc_advertise.to_string())
        .await
        .expect("adds a voter");
    wait_for("the new voter to catch up", || {
        value(&d, "k").as_deref() == Some("v2")
    })
    .await;
    assert!(
        new_leader
            .peers()
            .iter()
            .any(|p| p.id == d.options().raft_id && p.voter)
    );
    for s in rest.iter().chain([&d]) {
        s.shutdown().await;
    }
}
