//! Leadership transfer (`skein operator raft transfer-leader`).
//!
//! openraft 0.9 has no TimeoutNow message, so the leader hands over in the
//! way Raft's thesis describes with the pieces it does have:
//!
//! 1. it stops proposing (writes queue in the proposer) and stops sending
//!    heartbeats, so the log stands still;
//! 2. it waits until the target has replicated its whole log, so the
//!    target's vote request is acceptable to every voter;
//! 3. it waits out the followers' leader lease (they refuse to vote while
//!    they still hear from a leader), which ends before their own election
//!    timers fire;
//! 4. it tells the target to campaign at once, and waits until the target
//!    leads.
//!
//! Heartbeats and proposals resume whatever happens; queued writes then
//! meet a follower and are forwarded to the new leader.

use std::time::Duration;

use openraft::ServerState;
use skein_raft::Raft;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::proposer::Proposer;
use crate::rpc::RpcClients;
use crate::{Error, Result};

/// Re-enables heartbeats when the transfer ends, however it ends.
struct HeartbeatOff<'a>(&'a Raft);

impl<'a> HeartbeatOff<'a> {
    fn new(raft: &'a Raft) -> Self {
        raft.runtime_config().heartbeat(false);
        Self(raft)
    }
}

impl Drop for HeartbeatOff<'_> {
    fn drop(&mut self) {
        self.0.runtime_config().heartbeat(true);
    }
}

/// On the leader: moves leadership to `target` (any up-to-date voter when
/// `None`). Returns the new leader's id.
pub(crate) async fn transfer_local(
    raft: &Raft,
    proposer: &Proposer,
    rpc: &RpcClients,
    target: Option<u64>,
) -> Result<u64> {
    let me = raft.metrics().borrow().id;
    let (target, addr) = pick_target(raft, me, target)?;
    let config = raft.config();
    let lease = Duration::from_millis(config.election_timeout_max);
    let heartbeat = Duration::from_millis(config.heartbeat_interval);
    info!(target, %addr, "leadership transfer: starting");

    let _paused = proposer.pause().await;
    let _quiet = HeartbeatOff::new(raft);
    wait_caught_up(raft, target, lease * 4).await?;
    tokio::time::sleep(lease + heartbeat).await;
    rpc.elect_now(&addr).await?;
    wait_for_leader(raft, target, lease * 4).await?;
    info!(target, "leadership transfer: done");
    Ok(target)
}

/// The voter to hand over to, with its RPC address.
fn pick_target(raft: &Raft, me: u64, wanted: Option<u64>) -> Result<(u64, String)> {
    let m = raft.metrics().borrow().clone();
    if m.state != ServerState::Leader {
        return Err(Error::NoLeader);
    }
    let matched = |id: u64| {
        m.replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten())
            .map_or(0, |l| l.index)
    };
    let voters: Vec<u64> = m
        .membership_config
        .voter_ids()
        .filter(|id| *id != me)
        .collect();
    let chosen = match wanted {
        Some(id) if voters.contains(&id) => id,
        Some(id) => {
            return Err(Error::Rpc(format!(
                "cannot transfer leadership to {id}: not a voter of the Raft configuration"
            )));
        }
        None => voters
            .iter()
            .copied()
            .max_by_key(|id| matched(*id))
            .ok_or_else(|| {
                Error::Rpc(
                    "cannot transfer leadership: no other voter in the Raft configuration".into(),
                )
            })?,
    };
    let addr = m
        .membership_config
        .nodes()
        .find(|(id, _)| **id == chosen)
        .map(|(_, n)| n.addr.clone())
        .ok_or_else(|| Error::Rpc(format!("no address for voter {chosen}")))?;
    Ok((chosen, addr))
}

/// Waits until `target` has every entry of this leader's log.
async fn wait_caught_up(raft: &Raft, target: u64, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let mut metrics = raft.metrics();
    loop {
        {
            let m = metrics.borrow_and_update();
            let last = m.last_log_index.unwrap_or(0);
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&target).cloned().flatten())
                .map_or(0, |l| l.index);
            if m.state != ServerState::Leader {
                return Err(Error::Rpc(
                    "leadership transfer: lost leadership while waiting".into(),
                ));
            }
            if matched >= last {
                return Ok(());
            }
        }
        if tokio::time::timeout_at(deadline, metrics.changed())
            .await
            .is_err()
        {
            warn!(target, "leadership transfer: target did not catch up");
            return Err(Error::Rpc(format!(
                "leadership transfer: server {target} did not catch up with the leader's log"
            )));
        }
    }
}

/// Waits until this node sees `target` lead.
async fn wait_for_leader(raft: &Raft, target: u64, within: Duration) -> Result<()> {
    raft.wait(Some(within))
        .metrics(
            |m| m.current_leader == Some(target) && m.state != ServerState::Leader,
            "new leader",
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            Error::Rpc(format!(
                "leadership transfer to {target} did not complete: {e}"
            ))
        })
}

/// On the target: campaign now. Refused unless this server votes.
pub(crate) async fn elect_now(raft: &Raft) -> Result<()> {
    let m = raft.metrics().borrow().clone();
    if !m.membership_config.voter_ids().any(|id| id == m.id) {
        return Err(Error::Rpc(format!("server {} is not a voter", m.id)));
    }
    raft.trigger()
        .elect()
        .await
        .map_err(|e| Error::Fatal(e.to_string()))?;
    info!("leadership transfer: campaigning at the leader's request");
    Ok(())
}
