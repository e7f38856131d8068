//! Group commit: concurrent writes are proposed together as one Raft entry
//! (`Op::Batch`), so one log append and one fsync serve them all. A lone
//! write is proposed as itself, with no added wait: batches form only from
//! writes that queued while the previous entry was being committed.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use skein_raft::Raft;
use skein_state::{Command, Op, Outcome};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// Most writes in one entry.
const MAX_BATCH_OPS: usize = 512;
/// Stop adding writes to an entry once it carries about this many bytes.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

struct Proposal {
    op: Op,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The sending side: one per server.
#[derive(Debug, Clone)]
pub(crate) struct Proposer {
    tx: mpsc::UnboundedSender<Proposal>,
    /// Held shared while an entry is proposed; held exclusively while a
    /// leadership transfer needs the log to stand still.
    gate: Arc<RwLock<()>>,
}

/// Proposals wait while this lives (see [`Proposer::pause`]).
pub(crate) type Paused = OwnedRwLockWriteGuard<()>;

impl std::fmt::Debug for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposal").finish_non_exhaustive()
    }
}

// === impl Proposer ===

impl Proposer {
    pub(crate) fn spawn(raft: Raft) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let gate = Arc::new(RwLock::new(()));
        let task = tokio::spawn(run(raft, rx, gate.clone()));
        (Self { tx, gate }, task)
    }

    /// Stops proposing new entries until the guard drops; waits for the
    /// entry in flight. Writes queue meanwhile and are proposed after.
    pub(crate) async fn pause(&self) -> Paused {
        self.gate.clone().write_owned().await
    }

    /// Proposes `op` and waits for its outcome.
    pub(crate) async fn write(&self, op: Op) -> Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Proposal { op, reply })
            .map_err(|_| Error::Fatal("proposer stopped".into()))?;
        rx.await
            .map_err(|_| Error::Fatal("proposer stopped".into()))?
    }
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<Proposal>, gate: Arc<RwLock<()>>) {
    let mut pending: Option<Proposal> = None;
    loop {
        let first = match pending.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut batch = vec![first];
        let mut bytes = approx_size(&batch[0].op);
        while batch.len() < MAX_BATCH_OPS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += approx_size(&p.op);
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        if bytes > MAX_BATCH_BYTES && batch.len() > 1 {
            pending = batch.pop();
        }
        let _open = gate.read().await;
        propose(&raft, batch).await;
    }
}

async fn propose(raft: &Raft, mut batch: Vec<Proposal>) {
    let at_ms = crate::server::now_ms();
    if batch.len() == 1 {
        let Some(p) = batch.pop() else { return };
        let result = write_one(raft, Command { at_ms, op: p.op }).await;
        let _ = p.reply.send(result);
        return;
    }
    let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|p| (p.op, p.reply)).unzip();
    match write_one(
        raft,
        Command {
            at_ms,
            op: Op::Batch(ops),
        },
    )
    .await
    {
        Ok(Outcome::Batch(outcomes)) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Ok(other) => {
            for reply in replies {
                let _ = reply.send(Err(Error::Fatal(format!("batch answered with {other:?}"))));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.duplicate()));
            }
        }
    }
}

async fn write_one(raft: &Raft, cmd: Command) -> Result<Outcome> {
    match raft.client_write(cmd).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            Err(match f.leader_node {
                Some(n) => Error::NotLeader {
                    leader: Some(n.addr),
                },
                None => Error::NoLeader,
            })
        }
        Err(e) => Err(Error::Fatal(e.to_string())),
    }
}

/// A cheap estimate of an op's size in the log.
fn approx_size(op: &Op) -> usize {
    const OVERHEAD: usize = 128;
    OVERHEAD
        + match op {
            Op::KvSet { key, value, .. }
            | Op::KvCas { key, value, .. }
            | Op::KvLock { key, value, .. }
            | Op::KvUnlock { key, value, .. } => key.len() + value.len() * 4,
            Op::Txn(ops) => ops.len() * 1024,
            Op::Restore(_) => MAX_BATCH_BYTES,
            Op::Batch(ops) => ops.iter().map(approx_size).sum(),
            _ => 1024,
        }
}
