//! The entry point: partition by key, search each key, shrink failures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::history::History;
use crate::model::{KeyHistory, partition};
use crate::op::{Op, OpId, Operation, Outcome, Output};
use crate::report::{KeyReport, Report, Verdict, Violation};
use crate::search::{Search, search};
use crate::shrink::shrink;

/// How long the checker may work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The search budget per key: a key whose search exceeds it is
    /// [`Verdict::Unknown`].
    pub budget: Duration,
    /// The budget for shrinking each failing key to a minimal window;
    /// `Duration::ZERO` reports every acknowledged operation on the key.
    pub shrink_budget: Duration,
}

/// Checks `history` with a search budget of `budget` per key (and as much
/// again to shrink a failing key's window).
pub fn check(history: &History, budget: Duration) -> Report {
    check_with(
        history,
        Config {
            budget,
            shrink_budget: budget,
        },
    )
}

/// Checks `history` with explicit budgets.
pub fn check_with(history: &History, config: Config) -> Report {
    let start = Instant::now();
    let keys: Vec<KeyReport> = partition(history)
        .into_iter()
        .map(|(key, ops)| check_key(history, key, &ops, config))
        .collect();
    let failure = keys.iter().find_map(|key| key.verdict.violation());
    let verdict = match failure {
        Some(violation) => Verdict::NotLinearizable(violation.clone()),
        None if keys.iter().any(|key| key.verdict == Verdict::Unknown) => Verdict::Unknown,
        None => Verdict::Linearizable,
    };
    Report {
        verdict,
        ops: history.len(),
        checked: keys.iter().map(|key| key.ops).sum(),
        keys,
        elapsed: start.elapsed(),
    }
}

fn check_key(history: &History, key: String, ops: &KeyHistory, config: Config) -> KeyReport {
    let start = Instant::now();
    let verdict = match search(&ops.ops, deadline(start, config.budget)) {
        Search::Linearizable => Verdict::Linearizable,
        Search::Timeout => Verdict::Unknown,
        Search::NotLinearizable => {
            Verdict::NotLinearizable(violation(history, &key, ops, config.shrink_budget))
        }
    };
    KeyReport {
        key,
        ops: ops.ops.len(),
        verdict,
        elapsed: start.elapsed(),
    }
}

fn violation(history: &History, key: &str, ops: &KeyHistory, budget: Duration) -> Violation {
    let key_ops: Vec<(OpId, &Operation)> = ops
        .ids
        .iter()
        .filter_map(|&id| Some((id, history.get(id)?)))
        .collect();
    let (positions, minimal) = if budget.is_zero() {
        let acknowledged = key_ops.iter().enumerate();
        let positions = acknowledged.filter(|(_, (_, op))| matches!(op.outcome, Outcome::Ok(_)));
        (positions.map(|(i, _)| i).collect(), false)
    } else {
        let shrunk = shrink(ops, deadline(Instant::now(), budget));
        (shrunk.positions, shrunk.minimal)
    };
    let mut in_window = vec![false; key_ops.len()];
    let mut window = Vec::with_capacity(positions.len());
    for i in positions {
        if let Some(&(id, op)) = key_ops.get(i) {
            in_window[i] = true;
            window.push((id, op.clone()));
        }
    }
    window.sort_by_key(|(id, op)| (op.invoke, *id));
    let others = key_ops
        .iter()
        .zip(&in_window)
        .filter(|(_, in_window)| !**in_window)
        .map(|(op, _)| *op);
    let context = context(&window, others);
    Violation {
        key: key.to_owned(),
        ops: window,
        context,
        minimal,
        key_ops: key_ops.len(),
    }
}

/// The operations among `others` that may have written a value `window`
/// reads or expects: for each such value, its writers that overlap the
/// window's span, and the last one to complete before it.
fn context<'a>(
    window: &[(OpId, Operation)],
    others: impl Iterator<Item = (OpId, &'a Operation)>,
) -> Vec<(OpId, Operation)> {
    let observed: BTreeSet<Option<&str>> = window
        .iter()
        .filter_map(|(_, op)| match (&op.op, &op.outcome) {
            (Op::Read { .. }, Outcome::Ok(Output::Read(value))) => Some(value.as_deref()),
            (Op::Cas { expect, .. }, _) => Some(expect.as_deref()),
            _ => None,
        })
        .collect();
    let start = window.iter().map(|(_, op)| op.invoke).min().unwrap_or(0);
    let end = window
        .iter()
        .filter_map(|(_, op)| op.complete)
        .max()
        .unwrap_or(0);
    let mut overlapping = Vec::new();
    let mut last_before: BTreeMap<Option<&str>, (OpId, &Operation)> = BTreeMap::new();
    for (id, op) in others {
        let Some(value) = written(op).filter(|value| observed.contains(value)) else {
            continue;
        };
        match returned(op) {
            Some(complete) if complete < start => {
                let later = |(_, last): &(OpId, &Operation)| returned(last) < Some(complete);
                if last_before.get(&value).is_none_or(later) {
                    last_before.insert(value, (id, op));
                }
            }
            _ if op.invoke <= end => overlapping.push((id, op)),
            _ => {}
        }
    }
    let mut context: Vec<(OpId, Operation)> = overlapping
        .into_iter()
        .chain(last_before.into_values())
        .map(|(id, op)| (id, op.clone()))
        .collect();
    context.sort_by_key(|(id, op)| (op.invoke, *id));
    context
}

/// When `op` returned; `None` if its outcome is unknown (+∞).
fn returned(op: &Operation) -> Option<u64> {
    match op.outcome {
        Outcome::Unknown => None,
        _ => op.complete,
    }
}

/// The value `op` may have written (`Some(None)`: a delete), if any.
fn written(op: &Operation) -> Option<Option<&str>> {
    match (&op.op, &op.outcome) {
        (_, Outcome::Failed) | (Op::Read { .. }, _) => None,
        (Op::Cas { .. }, Outcome::Ok(Output::Cas(false))) => None,
        (Op::Write { value, .. } | Op::Cas { value, .. }, _) => Some(Some(value)),
        (Op::Delete { .. }, _) => Some(None),
    }
}

/// `start + budget`, saturating far in the future.
fn deadline(start: Instant, budget: Duration) -> Instant {
    start
        .checked_add(budget)
        .unwrap_or_else(|| start + Duration::from_secs(60 * 60 * 24 * 365))
}
