//! Gossip pools on real UDP sockets on 127.0.0.1 with `Timing::fast()`.
//!
//! Every wait is on a condition with a deadline; nothing sleeps for a fixed
//! time and then asserts.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein_membership::{GossipPool, Member, MemberStatus, Membership, MembershipError, Timing};
use tokio::net::UdpSocket;

use support::*;

#[tokio::test]
async fn three_pools_join_through_one_seed() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;
    {
        tracing::info!("--- every pool sees the others with their addresses and tags");
        for pool in &pools {
            let members = pool.members();
            assert_eq!(members.len(), 3);
            for other in &pools {
                let me = other.local();
                let seen = members.iter().find(|m| m.name == me.name).unwrap();
                assert_eq!(seen, &me, "{} as seen by {}", me.name, pool.local().name);
                assert_eq!(seen.addr, other.addr());
            }
        }
        let s1 = pools[2]
            .members()
            .into_iter()
            .find(|m| m.name == "s1")
            .unwrap();
        assert_eq!(s1.tags["role"], "consul");
        assert_eq!(s1.tags["dc"], "dc1");
        assert_eq!(s1.status.code(), 1);
    }
    {
        tracing::info!("--- the trait object works the same");
        let dyn_pool: Arc<dyn Membership> = pools[1].clone();
        assert_eq!(dyn_pool.members().len(), 3);
        assert_eq!(dyn_pool.join(vec![]).await.unwrap(), 0);
        assert_eq!(dyn_pool.join(vec![pools[2].addr()]).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn set_tags_propagates() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;
    let mut tags = pools[1].local().tags;
    tags.insert("build".into(), "1.17.0:deadbeef".into());
    tags.insert("vsn".into(), "3".into());
    pools[1].set_tags(tags.clone()).unwrap();
    assert_eq!(pools[1].local().tags, tags);
    for pool in &pools {
        wait_until(pool, "c1's new tags", |members| {
            members
                .iter()
                .any(|m| m.name == "c1" && m.tags == tags && m.status == MemberStatus::Alive)
        })
        .await;
    }
    for pool in &pools {
        wait_until(pool, "all alive after the update", |m| {
            all_alive(&["s1", "c1", "c2"], m)
        })
        .await;
    }

    tracing::info!("--- tags too large for a packet are refused");
    let mut huge = tags.clone();
    huge.insert("blob".into(), "x".repeat(1000));
    assert!(matches!(
        pools[1].set_tags(huge),
        Err(MembershipError::IdentityTooLarge { .. })
    ));
    assert_eq!(pools[1].local().tags, tags);
}

#[tokio::test]
async fn shutdown_without_leaving_is_failed() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;
    let started = Instant::now();
    pools[2].shutdown().await;
    let failed = |m: &[Member]| status_of(m, "c2") == Some(MemberStatus::Failed);
    let (on_s1, on_c1) = tokio::join!(
        wait_until(&pools[0], "c2 failed", failed),
        wait_until(&pools[1], "c2 failed", failed),
    );
    println!(
        "failure detection with Timing::fast() (probe 200ms, timeout 100ms, suspicion x4): \
         s1 after {on_s1:?}, c1 after {on_c1:?}; {:?} from the shutdown call",
        started.elapsed()
    );
    assert_eq!(pools[2].join(vec![pools[0].addr()]).await.ok(), None);
    assert!(matches!(
        pools[2].set_tags(BTreeMap::new()),
        Err(MembershipError::Stopped)
    ));
}

#[tokio::test]
async fn graceful_leave_is_left_not_failed() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;

    // Record every status of c2 the others report until it is left.
    let observe = |pool: Arc<GossipPool>| {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + WAIT;
            let mut changes = pool.changes();
            loop {
                let status = status_of(&pool.members(), "c2");
                if seen.last() != Some(&status) {
                    seen.push(status);
                }
                if status == Some(MemberStatus::Left) {
                    return seen;
                }
                if tokio::time::timeout_at(deadline, changes.changed())
                    .await
                    .is_err()
                {
                    panic!("c2 never left; seen {seen:?}");
                }
            }
        })
    };
    let on_s1 = observe(pools[0].clone());
    let on_c1 = observe(pools[1].clone());

    let started = Instant::now();
    pools[2].leave().await.unwrap();
    let took = started.elapsed();
    assert_eq!(pools[2].local().status, MemberStatus::Left);

    for seen in [on_s1.await.unwrap(), on_c1.await.unwrap()] {
        assert!(
            !seen.contains(&Some(MemberStatus::Failed)),
            "c2 went through failed: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&Some(MemberStatus::Left)));
    }
    println!("graceful leave took {took:?}");
    for pool in &pools[..2] {
        let members = pool.members();
        assert_eq!(members.len(), 3, "left members stay listed");
        assert_eq!(status_of(&members, "c2").map(|s| s.code()), Some(3));
    }
    assert!(matches!(
        pools[2].join(vec![pools[0].addr()]).await,
        Err(MembershipError::Stopped)
    ));
}

#[tokio::test]
async fn lone_pool_leaves_at_once() {
    trace_init();
    let pool = start("c1").await;
    tokio::time::timeout(Duration::from_secs(2), pool.leave())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pool.local().status, MemberStatus::Left);
}

#[tokio::test]
async fn force_leave_turns_failed_into_left() {
    trace_init();
    let mut pools = cluster(&["s1", "c1", "c2"]).await;
    drop(pools.pop());
    for pool in &pools {
        wait_until(pool, "c2 failed", |m| {
            status_of(m, "c2") == Some(MemberStatus::Failed)
        })
        .await;
    }

    assert!(matches!(
        pools[0].force_leave("nope"),
        Err(MembershipError::UnknownMember { name }) if name == "nope"
    ));
    assert!(matches!(
        pools[0].force_leave("s1"),
        Err(MembershipError::LocalNode { .. })
    ));

    pools[0].force_leave("c2").unwrap();
    for pool in &pools {
        wait_until(pool, "c2 left", |m| {
            status_of(m, "c2") == Some(MemberStatus::Left)
        })
        .await;
    }
}

#[tokio::test]
async fn force_leave_of_an_alive_member_is_refuted() {
    trace_init();
    let pools = cluster(&["s1", "c1"]).await;
    let mut changes = pools[0].changes();
    changes.borrow_and_update();
    pools[0].force_leave("c1").unwrap();
    // c1 refutes by moving to a new generation, which s1 sees as an update.
    tokio::time::timeout(WAIT, changes.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status_of(&pools[0].members(), "c1"),
        Some(MemberStatus::Alive)
    );
    // The intent no longer covers c1: when it dies it is failed, not left.
    pools[1].shutdown().await;
    wait_until(&pools[0], "c1 failed", |m| {
        status_of(m, "c1") == Some(MemberStatus::Failed)
    })
    .await;
}

#[tokio::test]
async fn failed_member_that_comes_back_is_alive() {
    trace_init();
    let pools = cluster(&["s1", "c1"]).await;
    pools[1].shutdown().await;
    wait_until(&pools[0], "c1 failed", |m| {
        status_of(m, "c1") == Some(MemberStatus::Failed)
    })
    .await;

    tracing::info!("--- c1 restarts on another port");
    let again = start("c1").await;
    again.join(vec![pools[0].addr()]).await.unwrap();
    let addr = again.addr();
    wait_until(&pools[0], "c1 alive at its new address", |m| {
        m.iter()
            .any(|m| m.name == "c1" && m.status == MemberStatus::Alive && m.addr == addr)
    })
    .await;
    wait_until(&again, "s1 alive", |m| all_alive(&["s1", "c1"], m)).await;
}

#[tokio::test]
async fn failed_members_are_reaped() {
    trace_init();
    let timing = Timing::fast().with_reap_after(Duration::from_millis(500));
    let s1 = start_with("s1", timing.clone()).await;
    let c1 = start_with("c1", timing).await;
    c1.join(vec![s1.addr()]).await.unwrap();
    wait_until(&s1, "c1 alive", |m| all_alive(&["s1", "c1"], m)).await;
    drop(c1);
    wait_until(&s1, "c1 failed", |m| {
        status_of(m, "c1") == Some(MemberStatus::Failed)
    })
    .await;
    wait_until(&s1, "c1 reaped", |m| status_of(m, "c1").is_none()).await;
}

#[tokio::test]
async fn join_to_nobody_fails_in_bounded_time() {
    trace_init();
    let pool = start("c1").await;
    let nobody: SocketAddr = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let started = Instant::now();
    let err = pool.join(vec![nobody]).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, MembershipError::JoinFailed { addrs } if addrs == &[nobody]),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "join took {took:?}");
    println!("join to nobody failed after {took:?}: {err}");

    tracing::info!("--- one live address out of two is a join");
    let seed = start("s1").await;
    assert_eq!(pool.join(vec![nobody, seed.addr()]).await.unwrap(), 1);
    wait_until(&pool, "s1 alive", |m| all_alive(&["s1", "c1"], m)).await;
}

#[tokio::test]
async fn join_to_a_node_with_our_name_fails() {
    trace_init();
    let a = start("c1").await;
    let b = start("c1").await;
    assert!(matches!(
        a.join(vec![b.addr()]).await,
        Err(MembershipError::JoinFailed { .. })
    ));
    assert_eq!(a.members().len(), 1);

    tracing::info!("--- our own address answers, as in memberlist (retry_join lists)");
    assert_eq!(a.join(vec![a.addr()]).await.unwrap(), 1);
    assert_eq!(a.members().len(), 1);
}

/// A small deterministic generator for junk bytes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test]
async fn malformed_packets_do_not_break_a_pool() {
    trace_init();
    let pools = cluster(&["s1", "c1"]).await;
    let target = pools[0].addr();
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);

    tracing::info!("--- junk of every shape at s1");
    let mut packets: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"s".to_vec(),
        b"sk\x01".to_vec(),
        b"sk\x01\x00".to_vec(),
        b"sk\x02\x00hello".to_vec(),
        b"sk\x01\x09junk".to_vec(),
        b"sk\x01\x01".to_vec(),
        b"sk\x01\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        [b"sk\x01\x00".as_slice(), &rng.bytes(60_000)].concat(),
    ];
    for len in [1, 2, 3, 4, 5, 8, 16, 64, 200, 1399, 1400, 1401, 4000] {
        for kind in 0..4u8 {
            packets.push([&[b's', b'k', 1, kind][..], &rng.bytes(len)].concat());
        }
        packets.push(rng.bytes(len));
    }
    // foca-looking payloads: a valid-length header prefix then junk.
    for _ in 0..200 {
        let len = (rng.next() % 300) as usize;
        let mut payload = vec![b's', b'k', 1, 0];
        payload.extend((0..len).map(|_| (rng.next() % 4) as u8));
        packets.push(payload);
    }
    for packet in &packets {
        attacker.send_to(packet, target).await.unwrap();
    }

    tracing::info!("--- s1 still gossips: c1 stays alive, a newcomer joins, tags spread");
    let c2 = start("c2").await;
    assert_eq!(c2.join(vec![target]).await.unwrap(), 1);
    let mut tags = pools[0].local().tags;
    tags.insert("after".into(), "junk".into());
    pools[0].set_tags(tags.clone()).unwrap();
    for pool in [&pools[0], &pools[1], &c2] {
        wait_until(pool, "3 alive with s1's new tags", |m| {
            all_alive(&["s1", "c1", "c2"], m) && m.iter().any(|m| m.name == "s1" && m.tags == tags)
        })
        .await;
    }
}

/// Failure detection with Consul's LAN timing (several seconds; prints
/// the time each member took).
#[tokio::test]
async fn failure_detection_with_lan_timing() {
    trace_init();
    let names = ["s1", "c1", "c2"];
    let mut pools = Vec::new();
    for name in names {
        pools.push(start_with(name, Timing::lan()).await);
    }
    for pool in &pools[1..] {
        pool.join(vec![pools[0].addr()]).await.unwrap();
    }
    for pool in &pools {
        wait_until(pool, "all alive", |m| all_alive(&names, m)).await;
    }
    pools[2].shutdown().await;
    let failed = |m: &[Member]| status_of(m, "c2") == Some(MemberStatus::Failed);
    let (on_s1, on_c1) = tokio::join!(
        wait_until(&pools[0], "c2 failed", failed),
        wait_until(&pools[1], "c2 failed", failed),
    );
    println!("failure detection with Timing::lan(): s1 after {on_s1:?}, c1 after {on_c1:?}");
}
