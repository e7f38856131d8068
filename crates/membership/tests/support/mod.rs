//! Helpers shared by the pool test targets: pools on 127.0.0.1 with
//! `Timing::fast()`, and waits on conditions with a deadline.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein_membership::{GossipPool, Member, MemberStatus, Membership, PoolConfig, Timing};

/// Upper bound for any condition to become true.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn trace_init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn tags_of(name: &str, role: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("role".to_owned(), role.to_owned()),
        ("dc".to_owned(), "dc1".to_owned()),
        (
            "id".to_owned(),
            format!("00000000-0000-0000-0000-00000000000{}", name.len()),
        ),
        ("vsn".to_owned(), "2".to_owned()),
    ])
}

pub async fn start_with(name: &str, timing: Timing) -> Arc<GossipPool> {
    let role = if name.starts_with('s') {
        "consul"
    } else {
        "node"
    };
    let mut config = PoolConfig::new(name, "127.0.0.1:0".parse().expect("addr"));
    config.tags = tags_of(name, role);
    config.timing = timing;
    GossipPool::start(config).await.expect("start")
}

pub async fn start(name: &str) -> Arc<GossipPool> {
    start_with(name, Timing::fast()).await
}

pub fn status_of(members: &[Member], name: &str) -> Option<MemberStatus> {
    members.iter().find(|m| m.name == name).map(|m| m.status)
}

pub fn all_alive(names: &[&str], members: &[Member]) -> bool {
    members.len() == names.len()
        && names
            .iter()
            .all(|n| status_of(members, n) == Some(MemberStatus::Alive))
}

/// Waits until `cond` holds on `pool`'s member list; returns how long it took.
pub async fn wait_until(
    pool: &GossipPool,
    what: &str,
    cond: impl Fn(&[Member]) -> bool,
) -> Duration {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut changes = pool.changes();
    loop {
        let members = pool.members();
        if cond(&members) {
            return started.elapsed();
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(_) => panic!(
                "{}: no {what} after {WAIT:?}; members: {members:#?}",
                pool.local().name
            ),
        }
    }
}

/// Starts `names`, the first as the seed the others join, and waits until
/// every pool sees every member alive.
pub async fn cluster(names: &[&str]) -> Vec<Arc<GossipPool>> {
    let mut pools = Vec::new();
    for name in names {
        pools.push(start(name).await);
    }
    let seed = pools[0].addr();
    for pool in &pools[1..] {
        assert_eq!(pool.join(vec![seed]).await.expect("join"), 1);
    }
    for pool in &pools {
        wait_until(pool, "all alive", |m| all_alive(names, m)).await;
    }
    pools
}

/// Starts a pool from a config, with `name`'s tags and fast timing.
pub async fn start_config(name: &str, edit: impl FnOnce(&mut PoolConfig)) -> Arc<GossipPool> {
    let mut config = PoolConfig::new(name, "127.0.0.1:0".parse().expect("addr"));
    config.tags = tags_of(name, "node");
    config.timing = Timing::fast();
    edit(&mut config);
    GossipPool::start(config).await.expect("start")
}

/// Joins `pools[1..]` through `pools[0]` and waits until all see all alive.
pub async fn form(pools: &[Arc<GossipPool>]) {
    let names: Vec<String> = pools.iter().map(|p| p.local().name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for pool in &pools[1..] {
        assert_eq!(pool.join(vec![pools[0].addr()]).await.expect("join"), 1);
    }
    for pool in pools {
        wait_until(pool, "all alive", |m| all_alive(&names, m)).await;
    }
}
