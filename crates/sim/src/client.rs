//! The client host's workload: a stream of KV writes, each to a new key, sent
//! to whichever server it believes leads. Only writes a server answered as
//! committed count as acknowledged.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use skein_raft::NodeId;
use skein_state::{Command, Op};
use tracing::debug;

use crate::checker::Ack;
use crate::network::call;
use crate::node::host_name;
use crate::wire::{Request, WriteReply};

/// The client's host name.
pub(crate) const HOST: &str = "client";
/// How long the client waits for one write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between writes.
const PACE: Duration = Duration::from_millis(20);
/// The pause after a failed write, before trying the next server.
const BACKOFF: Duration = Duration::from_millis(100);

/// What the client and the driver share.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    /// Set by the driver to end the workload.
    pub(crate) stop: Cell<bool>,
    /// Writes attempted.
    pub(crate) attempts: Cell<u64>,
    /// Acknowledged writes not yet handed to the checker, with the server
    /// that answered.
    pub(crate) acks: RefCell<Vec<(NodeId, Ack)>>,
}

/// The client software: writes until told to stop.
pub(crate) async fn drive(w: Rc<Workload>, servers: u64) -> turmoil::Result {
    let mut target: NodeId = 1;
    let mut n: u64 = 0;
    while !w.stop.get() {
        n += 1;
        w.attempts.set(n);
        let key = format!("sim/{n:06}");
        let value = format!("v{n}");
        let cmd = Command {
            at_ms: 0,
            op: Op::KvSet {
                key: key.clone(),
                value: value.clone().into_bytes(),
                flags: 0,
            },
        };
        let host = host_name(target);
        match call::<WriteReply>(&host, &Request::Write(cmd), WRITE_TIMEOUT).await {
            Ok(WriteReply::Committed {
                term,
                leader,
                index,
                applied: true,
            }) => {
                let ack = Ack {
                    key,
                    value,
                    leader: (term, leader),
                    index,
                };
                w.acks.borrow_mut().push((target, ack));
            }
            Ok(WriteReply::NotLeader {
                leader: Some(leader),
            }) if leader != target => target = leader,
            reply => {
                debug!(target_node = target, ?reply, "write not acknowledged");
                target = target % servers + 1;
                tokio::time::sleep(BACKOFF).await;
            }
        }
        tokio::time::sleep(PACE).await;
    }
    Ok(())
}
