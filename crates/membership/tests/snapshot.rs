//! The pool's snapshot: a restarted member finds the pool again through
//! the members it knew, not through its join addresses.

mod support;

use std::path::Path;
use std::sync::Arc;

use skein_membership::{GossipPool, Membership};

use support::*;

async fn with_snapshot(name: &str, dir: &Path, rejoin_after_leave: bool) -> Arc<GossipPool> {
    let path = dir.join(name).join("local.snapshot");
    start_config(name, |c| {
        c.snapshot_file = Some(path);
        c.rejoin_after_leave = rejoin_after_leave;
    })
    .await
}

/// The seed every member joined through is killed and restarts on a new
/// port with no join address at all: its snapshot brings it back, and a
/// member joining through it afterwards joins the whole pool, not a pool
/// of one.
#[tokio::test]
async fn a_restarted_seed_rejoins_the_members_it_knew() {
    trace_init();
    let dir = tempfile::tempdir().unwrap();
    let seed = with_snapshot("s1", dir.path(), false).await;
    let c1 = with_snapshot("c1", dir.path(), false).await;
    let c2 = with_snapshot("c2", dir.path(), false).await;
    form(&[seed.clone(), c1.clone(), c2.clone()]).await;

    tracing::info!("--- the seed stops without leaving, and c2 with it");
    seed.shutdown().await;
    c2.shutdown().await;
    drop((seed, c2));

    tracing::info!("--- the seed restarts and joins nobody itself");
    let seed = with_snapshot("s1", dir.path(), false).await;
    wait_until(&seed, "c1 alive again", |m| {
        all_alive(&["s1", "c1"], m) || all_alive(&["s1", "c1", "c2"], m)
    })
    .await;

    tracing::info!("--- c2 restarts and joins through the seed: one pool");
    let c2 = start_config("c2", |_| {}).await;
    assert_eq!(c2.join(vec![seed.addr()]).await.unwrap(), 1);
    for pool in [&seed, &c1, &c2] {
        wait_until(pool, "one pool of three", |m| {
            all_alive(&["s1", "c1", "c2"], m)
        })
        .await;
    }
}

/// After a graceful leave the snapshot still names the members; with
/// `rejoin_after_leave` the member rejoins them on its own.
#[tokio::test]
async fn rejoin_after_leave_uses_the_snapshot() {
    trace_init();
    let dir = tempfile::tempdir().unwrap();
    let s1 = with_snapshot("s1", dir.path(), true).await;
    let c1 = with_snapshot("c1", dir.path(), true).await;
    form(&[s1.clone(), c1.clone()]).await;

    c1.leave().await.unwrap();
    c1.shutdown().await;
    drop(c1);
    let written = std::fs::read_to_string(dir.path().join("c1").join("local.snapshot")).unwrap();
    assert!(written.contains("\"left\":true"), "{written}");

    let c1 = with_snapshot("c1", dir.path(), true).await;
    wait_until(&c1, "s1 alive", |m| all_alive(&["s1", "c1"], m)).await;
    wait_until(&s1, "c1 alive again", |m| all_alive(&["s1", "c1"], m)).await;
}
