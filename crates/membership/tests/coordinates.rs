//! Vivaldi network coordinates on pools over 127.0.0.1 with
//! `Timing::fast()`.

mod support;

use std::time::Duration;

use skein_membership::Membership;

use support::*;

#[tokio::test]
async fn coordinates_move_off_the_origin_and_spread() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;
    let origin = pools[0].coordinate();
    assert_eq!(origin.vec, vec![0.0; 8]);
    assert_eq!(origin.error, 1.5);

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let settled = pools.iter().all(|p| {
            let me = p.coordinate();
            let known = p.coordinates();
            me.vec != origin.vec
                && me.error < 1.5
                && known.len() == 3
                && known.iter().all(|(_, c)| c.vec.len() == 8)
        });
        if settled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "coordinates did not settle: {:#?}",
            pools.iter().map(|p| p.coordinates()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tracing::info!("--- estimates between loopback members are small");
    let all = pools[1].coordinates();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["c1", "c2", "s1"]);
    let local = pools[1].coordinate();
    for (name, coord) in &all {
        let rtt = local.distance_to(coord).expect("same dimensions");
        assert!(rtt < Duration::from_millis(100), "{name}: {rtt:?}");
    }

    tracing::info!("--- a member that stopped is no longer listed");
    pools[2].shutdown().await;
    wait_until(&pools[0], "c2 failed", |m| {
        status_of(m, "c2") != Some(skein_membership::MemberStatus::Alive)
    })
    .await;
    assert!(pools[0].coordinates().iter().all(|(n, _)| n != "c2"));
}
