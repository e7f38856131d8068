//! A thread-safe recorder that a test harness fills while clients run.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::history::{History, validate};
use crate::op::{ClientId, Op, OpId, Operation, Outcome};

/// Records invocations and completions from any number of threads.
///
/// Cheap to clone: every clone appends to the same history. Times come from
/// one monotonic clock started by [`Recorder::new`] and are read while the
/// recorder's lock is held, so their order matches the order of the calls.
/// Call [`invoke`](Recorder::invoke) just before sending a request and
/// [`complete`](Recorder::complete) just after its answer (or its timeout)
/// arrives. For simulated time, use the `_at` variants with your own clock.
///
/// ```
/// use skein_linearizability::{ClientId, Op, Outcome, Output, Recorder};
///
/// let recorder = Recorder::new();
/// let id = recorder.invoke(ClientId(1), Op::write("k", "v"));
/// recorder.complete(id, Outcome::Ok(Output::Ok))?;
/// let history = recorder.finish();
/// assert_eq!(history.len(), 1);
/// # Ok::<(), skein_linearizability::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    ops: Vec<Operation>,
    /// Whether `ops[i]` was completed (an unfinished one is `Unknown`).
    done: Vec<bool>,
}

// === impl Recorder ===

impl Recorder {
    /// An empty recorder whose clock starts now.
    pub fn new() -> Self {
        let inner = Inner {
            start: Instant::now(),
            ops: Vec::new(),
            done: Vec::new(),
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// Records that `client` invokes `op` now.
    pub fn invoke(&self, client: impl Into<ClientId>, op: Op) -> OpId {
        let mut inner = self.lock();
        let now = inner.now();
        inner.push(client.into(), op, now)
    }

    /// Records that `client` invokes `op` at `at` nanoseconds on the
    /// caller's clock (e.g. a simulation's virtual time).
    pub fn invoke_at(&self, client: impl Into<ClientId>, op: Op, at: u64) -> OpId {
        self.lock().push(client.into(), op, at)
    }

    /// Records that operation `id` ended with `outcome` now.
    ///
    /// Fails if `id` is unknown or already completed, or if the output's
    /// kind does not fit the operation; nothing is recorded then.
    pub fn complete(&self, id: OpId, outcome: Outcome) -> Result<()> {
        let mut inner = self.lock();
        let now = inner.now();
        inner.complete(id, outcome, now)
    }

    /// Records that operation `id` ended with `outcome` at `at` nanoseconds
    /// on the caller's clock.
    pub fn complete_at(&self, id: OpId, outcome: Outcome, at: u64) -> Result<()> {
        self.lock().complete(id, outcome, at)
    }

    /// The history so far. Operations not yet completed are
    /// [`Outcome::Unknown`]: they may still take effect.
    pub fn finish(&self) -> History {
        History::from_valid(self.lock().ops.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking client thread leaves the history consistent: every
        // mutation below is a single push or a single assignment.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Inner ===

impl Inner {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn push(&mut self, client: ClientId, op: Op, at: u64) -> OpId {
        self.ops.push(Operation {
            client,
            op,
            invoke: at,
            complete: None,
            outcome: Outcome::Unknown,
        });
        self.done.push(false);
        OpId(self.ops.len() - 1)
    }

    fn complete(&mut self, id: OpId, outcome: Outcome, at: u64) -> Result<()> {
        let (Some(op), Some(done)) = (self.ops.get(id.0), self.done.get(id.0)) else {
            return Err(Error::UnknownOp { id });
        };
        if *done {
            return Err(Error::AlreadyCompleted { id });
        }
        let completed = Operation {
            complete: Some(at),
            outcome,
            ..op.clone()
        };
        validate(id, &completed)?;
        self.ops[id.0] = completed;
        self.done[id.0] = true;
        Ok(())
    }
}
