//! User events on pools over 127.0.0.1 with `Timing::fast()`.

mod support;

use std::time::Duration;

use skein_membership::{Membership, MembershipError, USER_EVENT_SIZE_LIMIT, UserEvent};
use tokio::sync::broadcast;

use support::*;

/// Receives events until `want` arrived, failing after `WAIT`.
async fn recv_until(rx: &mut broadcast::Receiver<UserEvent>, want: &UserEvent) -> Vec<UserEvent> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !got.contains(want) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(event)) => got.push(event),
            Ok(Err(error)) => panic!("receiving events: {error}"),
            Err(_) => panic!("no {want:?} after {WAIT:?}; got {got:?}"),
        }
    }
    got
}

/// Everything that arrives within `quiet`.
async fn drain(rx: &mut broadcast::Receiver<UserEvent>, quiet: Duration) -> Vec<UserEvent> {
    let mut got = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(quiet, rx.recv()).await {
        got.push(event);
    }
    got
}

#[tokio::test]
async fn user_events_reach_every_member_once() {
    trace_init();
    let pools = cluster(&["s1", "c1", "c2"]).await;
    let mut subs: Vec<_> = pools.iter().map(|p| p.subscribe_events()).collect();

    tracing::info!("--- c1 fires; all three deliver it, c1 included");
    let ltime = pools[1]
        .fire_event("deploy".into(), b"v2".to_vec())
        .unwrap();
    let want = UserEvent {
        name: "deploy".into(),
        payload: b"v2".to_vec(),
        ltime,
    };
    for sub in &mut subs {
        let got = recv_until(sub, &want).await;
        assert_eq!(got, std::slice::from_ref(&want));
    }

    tracing::info!("--- a second event gets a later Lamport time, wherever fired");
    let later = pools[2]
        .fire_event("deploy".into(), b"v3".to_vec())
        .unwrap();
    assert!(later > ltime, "{later} after {ltime}");
    let want3 = UserEvent {
        name: "deploy".into(),
        payload: b"v3".to_vec(),
        ltime: later,
    };
    for sub in &mut subs {
        recv_until(sub, &want3).await;
    }

    tracing::info!("--- a late joiner is not flooded with replays");
    let late = start("c3").await;
    let mut late_sub = late.subscribe_events();
    late.join(vec![pools[0].addr()]).await.unwrap();
    let replayed = drain(&mut late_sub, Duration::from_secs(2)).await;
    assert!(
        replayed.len() <= 2,
        "late joiner got {} events: {replayed:?}",
        replayed.len()
    );
    for sub in &mut subs {
        let again = drain(sub, Duration::from_millis(300)).await;
        assert!(again.is_empty(), "delivered again: {again:?}");
    }
}

#[tokio::test]
async fn oversized_user_events_are_refused() {
    trace_init();
    let pool = start("c1").await;
    let mut sub = pool.subscribe_events();
    let err = pool
        .fire_event("big".into(), vec![0; USER_EVENT_SIZE_LIMIT])
        .unwrap_err();
    assert!(matches!(err, MembershipError::UserEventTooLarge { .. }));
    assert_eq!(
        err.to_string(),
        "user event exceeds configured limit of 512 bytes before encoding"
    );
    tracing::info!("--- the largest allowed event works, even alone");
    let name = "x".to_owned();
    let payload = vec![7; USER_EVENT_SIZE_LIMIT - 1 - 4];
    let ltime = pool.fire_event(name.clone(), payload.clone()).unwrap();
    let want = UserEvent {
        name,
        payload,
        ltime,
    };
    recv_until(&mut sub, &want).await;
    pool.shutdown().await;
    assert!(matches!(
        pool.fire_event("late".into(), Vec::new()),
        Err(MembershipError::Stopped)
    ));
}
