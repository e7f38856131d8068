//! Builders, a deterministic PRNG, a brute-force checker and a generator of
//! random executions of a real in-memory KV store.

use std::collections::HashMap;
use std::time::Duration;

use skein_linearizability::{
    ClientId, History, Op, OpId, Operation, Outcome, Output, Report, check,
};

/// A generous budget: the tests' histories never need it.
pub(crate) const BUDGET: Duration = Duration::from_secs(30);

/// An operation that completed with `output` over `[invoke, complete]`.
pub(crate) fn ok(client: u32, invoke: u64, complete: u64, op: Op, output: Output) -> Operation {
    Operation {
        client: ClientId(client),
        op,
        invoke,
        complete: Some(complete),
        outcome: Outcome::Ok(output),
    }
}

/// A write or delete acknowledged over `[invoke, complete]`.
pub(crate) fn done(client: u32, invoke: u64, complete: u64, op: Op) -> Operation {
    ok(client, invoke, complete, op, Output::Ok)
}

/// A read of `key` that returned `value` over `[invoke, complete]`.
pub(crate) fn read(
    client: u32,
    invoke: u64,
    complete: u64,
    key: &str,
    value: Option<&str>,
) -> Operation {
    ok(client, invoke, complete, Op::read(key), Output::read(value))
}

/// A compare-and-set that returned `swapped` over `[invoke, complete]`.
pub(crate) fn cas(
    client: u32,
    (invoke, complete): (u64, u64),
    key: &str,
    expect: Option<&str>,
    value: &str,
    swapped: bool,
) -> Operation {
    ok(
        client,
        invoke,
        complete,
        Op::cas(key, expect, value),
        Output::Cas(swapped),
    )
}

/// An operation invoked at `invoke` whose outcome is unknown (it timed out
/// at `invoke + 5`).
pub(crate) fn unknown(client: u32, invoke: u64, op: Op) -> Operation {
    Operation {
        client: ClientId(client),
        op,
        invoke,
        complete: Some(invoke + 5),
        outcome: Outcome::Unknown,
    }
}

/// An operation that definitely failed over `[invoke, complete]`.
pub(crate) fn failed(client: u32, invoke: u64, complete: u64, op: Op) -> Operation {
    Operation {
        client: ClientId(client),
        op,
        invoke,
        complete: Some(complete),
        outcome: Outcome::Failed,
    }
}

/// Checks these operations with the default budget.
pub(crate) fn check_ops(ops: Vec<Operation>) -> Report {
    check(&History::from_operations(ops).unwrap(), BUDGET)
}

/// The ids of a failing report's window.
pub(crate) fn window(report: &Report) -> Vec<usize> {
    let violation = report.verdict.violation().expect("not linearizable");
    violation.op_ids().into_iter().map(|OpId(i)| i).collect()
}

/// The ids of a failing report's context.
pub(crate) fn context(report: &Report) -> Vec<usize> {
    let violation = report.verdict.violation().expect("not linearizable");
    violation.context.iter().map(|(OpId(i), _)| *i).collect()
}

/// SplitMix64: small, deterministic, good enough for test generation.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Applies `op` to a real in-memory KV store and returns its output.
pub(crate) fn apply(kv: &mut HashMap<String, String>, op: &Op) -> Output {
    match op {
        Op::Write { key, value } => {
            kv.insert(key.clone(), value.clone());
            Output::Ok
        }
        Op::Cas { key, expect, value } => {
            let swaps = kv.get(key) == expect.as_ref();
            if swaps {
                kv.insert(key.clone(), value.clone());
            }
            Output::Cas(swaps)
        }
        Op::Read { key } => Output::Read(kv.get(key).cloned()),
        Op::Delete { key } => {
            kv.remove(key);
            Output::Ok
        }
    }
}

/// Decides linearizability by trying every order that respects real time,
/// on the whole multi-key store (so it also tests the partition by key).
/// Exponential: only for a handful of operations.
pub(crate) fn brute_force(history: &History) -> bool {
    brute_force_relaxed(history, None)
}

/// Like [`brute_force`], with every acknowledged operation outside `window`
/// (if given) relaxed: it may have taken effect, with any output, within its
/// interval, or not at all.
pub(crate) fn brute_force_relaxed(history: &History, window: Option<&[OpId]>) -> bool {
    let ops: Vec<(Mode, &Operation)> = history
        .iter()
        .filter_map(|(id, op)| {
            let mode = match &op.outcome {
                Outcome::Failed => return None,
                Outcome::Unknown => Mode::Unknown,
                Outcome::Ok(_) if window.is_some_and(|w| !w.contains(&id)) => Mode::Optional,
                Outcome::Ok(output) => Mode::Required(output.clone()),
            };
            Some((mode, op))
        })
        .collect();
    let mut status = vec![Status::Pending; ops.len()];
    search_orders(&ops, &mut status, &mut HashMap::new())
}

#[derive(Clone, Debug)]
enum Mode {
    Required(Output),
    /// Any time after invoke, or never.
    Unknown,
    /// Within its interval with any output, or never.
    Optional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Placed,
    Skipped,
}

fn search_orders(
    ops: &[(Mode, &Operation)],
    status: &mut [Status],
    kv: &mut HashMap<String, String>,
) -> bool {
    let pending = |status: &[Status], j: usize| status[j] == Status::Pending;
    let required = |j: usize| matches!(ops[j].0, Mode::Required(_));
    if (0..ops.len()).all(|j| !pending(status, j) || !required(j)) {
        return true;
    }
    for i in 0..ops.len() {
        if !pending(status, i) {
            continue;
        }
        let (mode, op) = &ops[i];
        // Every other pending operation that returned before this one was
        // invoked must come first: impossible if required, skipped if not.
        let before: Vec<usize> = (0..ops.len())
            .filter(|&j| j != i && pending(status, j) && !matches!(ops[j].0, Mode::Unknown))
            .filter(|&j| ops[j].1.complete.unwrap() < op.invoke)
            .collect();
        if before.iter().any(|&j| required(j)) {
            continue;
        }
        let saved = kv.clone();
        let output = apply(kv, &op.op);
        if matches!(mode, Mode::Required(expected) if *expected != output) {
            *kv = saved;
            continue;
        }
        status[i] = Status::Placed;
        for &j in &before {
            status[j] = Status::Skipped;
        }
        let found = search_orders(ops, status, kv);
        for &j in before.iter().chain([&i]) {
            status[j] = Status::Pending;
        }
        *kv = saved;
        if found {
            return true;
        }
    }
    false
}

/// Parameters of a random execution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Workload {
    pub(crate) clients: u32,
    pub(crate) keys: u32,
    pub(crate) ops: usize,
    /// Values are drawn from this many; 0 makes every written value unique.
    pub(crate) values: u32,
    /// The longest an operation waits before or after taking effect.
    pub(crate) max_latency: u64,
    /// The mean gap between two linearization points.
    pub(crate) mean_gap: u64,
    pub(crate) unknown_percent: u64,
    pub(crate) failed_percent: u64,
}

/// A random execution of a real KV store, recorded as a history.
pub(crate) struct Execution {
    pub(crate) history: History,
    /// Each operation's actual linearization point, if it took effect.
    pub(crate) applied_at: Vec<Option<u64>>,
}

/// Runs `workload`: one operation at a time takes effect on a real KV
/// store, at a linearization point inside its client-visible interval, so
/// the history is linearizable by construction. Unknown operations take
/// effect at once, later (even after their client gave up), or never.
pub(crate) fn execute(rng: &mut Rng, workload: Workload) -> Execution {
    let mut kv = HashMap::new();
    let mut free_at = vec![0u64; workload.clients as usize];
    let mut ops: Vec<Operation> = Vec::with_capacity(workload.ops);
    let mut applied_at = Vec::with_capacity(workload.ops);
    let mut delayed: Vec<(usize, usize)> = Vec::new(); // (due step, op)
    let mut now = 0u64;
    for step in 0..workload.ops {
        now += rng.range(1, 2 * workload.mean_gap);
        // Unknown operations whose effect lands now, just before this one.
        for (_, i) in take_due(&mut delayed, step) {
            apply(&mut kv, &ops[i].op);
            applied_at[i] = Some(now);
            now += 1;
        }
        let client = loop {
            let client = rng.below(u64::from(workload.clients)) as usize;
            if free_at[client] <= now {
                break client;
            }
            if free_at.iter().all(|&at| at > now) {
                now = *free_at.iter().min().unwrap();
            }
        };
        let op = random_op(rng, &kv, workload, ops.len());
        let invoke = rng.range(
            free_at[client].max(now.saturating_sub(workload.max_latency)),
            now,
        );
        let complete = now + rng.range(0, workload.max_latency);
        let (outcome, applied) = if rng.chance(workload.failed_percent) {
            (Outcome::Failed, None)
        } else if rng.chance(workload.unknown_percent) {
            match rng.below(3) {
                0 => {
                    apply(&mut kv, &op);
                    (Outcome::Unknown, Some(now))
                }
                1 => {
                    delayed.push((step + rng.range(1, 20) as usize, ops.len()));
                    (Outcome::Unknown, None)
                }
                _ => (Outcome::Unknown, None),
            }
        } else {
            (Outcome::Ok(apply(&mut kv, &op)), Some(now))
        };
        free_at[client] = complete + 1;
        ops.push(Operation {
            client: ClientId(client as u32),
            op,
            invoke,
            complete: Some(complete),
            outcome,
        });
        applied_at.push(applied);
    }
    Execution {
        history: History::from_operations(ops).unwrap(),
        applied_at,
    }
}

fn take_due(delayed: &mut Vec<(usize, usize)>, step: usize) -> Vec<(usize, usize)> {
    let (due, later) = delayed.drain(..).partition(|&(at, _)| at <= step);
    *delayed = later;
    due
}

fn random_op(rng: &mut Rng, kv: &HashMap<String, String>, workload: Workload, n: usize) -> Op {
    let key = format!("k{}", rng.below(u64::from(workload.keys)));
    let value = |rng: &mut Rng| match workload.values {
        0 => format!("w{n}"),
        values => format!("v{}", rng.below(u64::from(values))),
    };
    match rng.below(10) {
        0..=3 => Op::read(key),
        4..=5 => Op::write(key, value(rng)),
        6..=8 => {
            // Half the time expect the current value, so that CAS succeeds.
            let expect = if rng.chance(50) {
                kv.get(&key).cloned()
            } else if rng.chance(20) {
                None
            } else {
                Some(format!("v{}", rng.below(u64::from(workload.values.max(4)))))
            };
            let new = value(rng);
            Op::Cas {
                key,
                expect,
                value: new,
            }
        }
        _ => Op::delete(key),
    }
}

/// A delete of `key` acknowledged over `[invoke, complete]`.
pub(crate) fn delete_op(client: u32, invoke: u64, complete: u64, key: &str) -> Operation {
    done(client, invoke, complete, Op::delete(key))
}

/// The acknowledged reads of a history.
pub(crate) fn reads(history: &History) -> Vec<OpId> {
    history
        .iter()
        .filter(|(_, op)| matches!(op.outcome, Outcome::Ok(Output::Read(_))))
        .map(|(id, _)| id)
        .collect()
}

/// `history` with the output of read `id` replaced by `value`.
pub(crate) fn mutate(history: &History, id: OpId, value: Option<String>) -> History {
    let mut ops = history.operations().to_vec();
    ops[id.0].outcome = Outcome::Ok(Output::Read(value));
    History::from_operations(ops).unwrap()
}

/// A value read `read` cannot return in any order: some acknowledged write
/// or delete `w` of another value returned before the read was invoked, and
/// every operation that may write the value (including the initial absent
/// state, for `None`) returned before `w` was invoked.
pub(crate) fn impossible_value(
    history: &History,
    read: OpId,
    rng: &mut Rng,
) -> Option<Option<String>> {
    let read_op = history.get(read)?;
    let Outcome::Ok(Output::Read(actual)) = &read_op.outcome else {
        return None;
    };
    let key = read_op.op.key();
    let on_key: Vec<&Operation> = history
        .operations()
        .iter()
        .filter(|op| op.op.key() == key && op.outcome != Outcome::Failed)
        .collect();
    // Each value's latest writer completion: `Some(None)` if it has no
    // writer (the initial absent state), `None` if some writer's outcome is
    // unknown (it may land at any time).
    let mut last: HashMap<Option<String>, Option<Option<u64>>> =
        HashMap::from([(None, Some(None))]);
    for op in &on_key {
        if let Some(value) = written(op) {
            let complete = (op.outcome != Outcome::Unknown).then(|| op.complete.unwrap());
            let entry = last.entry(value).or_insert(Some(None));
            *entry = entry
                .zip(complete)
                .map(|(a, b)| Some(a.map_or(b, |a| a.max(b))));
        }
    }
    let mut candidates = Vec::new();
    for w in &on_key {
        let overwrite = match (&w.op, &w.outcome) {
            (Op::Write { value, .. }, Outcome::Ok(_)) => Some(value.clone()),
            (Op::Delete { .. }, Outcome::Ok(_)) => None,
            _ => continue,
        };
        if w.complete.unwrap() >= read_op.invoke {
            continue;
        }
        for (value, last) in &last {
            let before = last.is_some_and(|last| last.is_none_or(|last| last < w.invoke));
            if before && *value != overwrite && value != actual {
                candidates.push(value.clone());
            }
        }
    }
    candidates.sort();
    (!candidates.is_empty()).then(|| rng.pick(&candidates).clone())
}

/// The value `op` may have written (`Some(None)`: a delete), if any.
pub(crate) fn written(op: &Operation) -> Option<Option<String>> {
    match (&op.op, &op.outcome) {
        (Op::Cas { .. }, Outcome::Ok(Output::Cas(false))) | (Op::Read { .. }, _) => None,
        (Op::Write { value, .. } | Op::Cas { value, .. }, _) => Some(Some(value.clone())),
        (Op::Delete { .. }, _) => Some(None),
    }
}
