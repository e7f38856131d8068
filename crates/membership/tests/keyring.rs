//! Gossip encryption and keyring operations on pools over 127.0.0.1 with
//! `Timing::fast()`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use skein_membership::{
    GossipPool, Keyring, KeyringOp, KeyringResponse, Membership, MembershipError,
};

use support::*;

const K1: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
const K2: &str = "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=";
const K3: &str = "QXBP8LbSuAtq6HdJLjd1CA==";

async fn encrypted(name: &str, keys: &[&str]) -> Arc<GossipPool> {
    let keyring = Keyring::from_base64(keys).expect("keys");
    start_config(name, |c| c.keyring = Some(keyring)).await
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

async fn op(pool: &GossipPool, op: KeyringOp) -> KeyringResponse {
    pool.keyring(op).await.expect("keyring operation")
}

#[tokio::test]
async fn pools_with_the_same_key_form_and_others_cannot_join() {
    trace_init();
    let pools = vec![encrypted("s1", &[K1]).await, encrypted("c1", &[K1]).await];
    form(&pools).await;

    tracing::info!("--- a pool with another key cannot join");
    let stranger = encrypted("c2", &[K2]).await;
    assert!(matches!(
        stranger.join(vec![pools[0].addr()]).await,
        Err(MembershipError::JoinFailed { .. })
    ));
    assert_eq!(stranger.members().len(), 1);

    tracing::info!("--- nor can an unencrypted one, either way");
    let plain = start("c3").await;
    assert!(plain.join(vec![pools[0].addr()]).await.is_err());
    assert!(pools[1].join(vec![plain.addr()]).await.is_err());
    assert_eq!(plain.members().len(), 1);
    assert_eq!(pools[0].members().len(), 2);
}

#[tokio::test]
async fn install_use_remove_rotates_the_pool() {
    trace_init();
    let pools = vec![
        encrypted("s1", &[K1]).await,
        encrypted("c1", &[K1]).await,
        encrypted("c2", &[K1]).await,
    ];
    form(&pools).await;
    let names = ["s1", "c1", "c2"];

    let listed = op(&pools[1], KeyringOp::List).await;
    assert_eq!(listed.failure(), None, "{listed:?}");
    assert_eq!((listed.num_nodes, listed.num_resp), (3, 3));
    assert_eq!(listed.keys, counts(&[(K1, 3)]));
    assert_eq!(listed.primary_keys, counts(&[(K1, 3)]));

    tracing::info!("--- use of a key nobody has fails on every member");
    let failed = op(&pools[0], KeyringOp::Use(K2.into())).await;
    assert_eq!(failed.num_err, 3);
    assert_eq!(failed.messages["c2"], "requested key is not in the keyring");
    assert_eq!(
        failed.failure().as_deref(),
        Some("3/3 nodes reported failure")
    );

    tracing::info!("--- install, use, remove");
    assert_eq!(
        op(&pools[0], KeyringOp::Install(K2.into())).await.failure(),
        None
    );
    let listed = op(&pools[2], KeyringOp::List).await;
    assert_eq!(listed.keys, counts(&[(K1, 3), (K2, 3)]));
    assert_eq!(listed.primary_keys, counts(&[(K1, 3)]));
    assert_eq!(
        op(&pools[0], KeyringOp::Use(K2.into())).await.failure(),
        None
    );
    let removed = op(&pools[0], KeyringOp::Remove(K2.into())).await;
    assert_eq!(removed.num_err, 3);
    assert_eq!(
        removed.messages["s1"],
        "removing the primary key is not allowed"
    );
    assert_eq!(
        op(&pools[1], KeyringOp::Remove(K1.into())).await.failure(),
        None
    );
    let listed = op(&pools[0], KeyringOp::List).await;
    assert_eq!(listed.keys, counts(&[(K2, 3)]));
    assert_eq!(listed.primary_keys, counts(&[(K2, 3)]));

    tracing::info!("--- nobody was lost, and only the new key joins now");
    for pool in &pools {
        assert!(all_alive(&names, &pool.members()), "{:?}", pool.members());
    }
    let old = encrypted("c3", &[K1]).await;
    assert!(old.join(vec![pools[0].addr()]).await.is_err());
    let new = encrypted("c4", &[K2]).await;
    new.join(vec![pools[0].addr()]).await.unwrap();
    wait_until(&pools[0], "c4 alive", |m| {
        all_alive(&["s1", "c1", "c2", "c4"], m)
    })
    .await;
}

#[tokio::test]
async fn keyring_operations_without_encryption_fail() {
    trace_init();
    let pool = start("c1").await;
    let err = pool.keyring(KeyringOp::List).await.unwrap_err();
    assert_eq!(err.to_string(), "Keyring is empty (encryption not enabled)");
    let err = pool
        .keyring(KeyringOp::Install(K1.into()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "No keyring to modify (encryption not enabled)"
    );
    let keyed = encrypted("c2", &[K1]).await;
    let err = keyed
        .keyring(KeyringOp::Install("not base64!".into()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "illegal base64 data at input byte 3");
}

#[tokio::test]
async fn keyring_file_is_kept_and_preferred() {
    trace_init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.keyring");
    let read = || -> Vec<String> {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let keyring = Keyring::from_base64(&[K1]).unwrap();
    let file = path.clone();
    let pool = start_config("s1", |c| {
        c.keyring = Some(keyring);
        c.keyring_file = Some(file);
    })
    .await;
    assert_eq!(read(), [K1]);
    op(&pool, KeyringOp::Install(K3.into())).await;
    op(&pool, KeyringOp::Use(K3.into())).await;
    assert_eq!(read(), [K3, K1]);
    pool.shutdown().await;

    tracing::info!("--- a restart with another configured key uses the file");
    let other = Keyring::from_base64(&[K2]).unwrap();
    let file = path.clone();
    let again = start_config("s1", |c| {
        c.keyring = Some(other);
        c.keyring_file = Some(file);
    })
    .await;
    let listed = op(&again, KeyringOp::List).await;
    assert_eq!(listed.keys, counts(&[(K1, 1), (K3, 1)]));
    assert_eq!(listed.primary_keys, counts(&[(K3, 1)]));
}
