//! Shrinks a non-linearizable sub-history to a minimal failing window.
//!
//! The window is a set of acknowledged operations that cannot be
//! linearized whatever the other operations did: the others are *relaxed*,
//! each acknowledged one to "took effect, with any output, somewhere in its
//! interval, or not at all" (its outcome becomes unknown, its completion
//! time stays) and each unknown one staying "took effect any time after its
//! invoke, or not at all". Relaxing only ever adds linearizations, so
//! "still fails" is monotone: a binary search finds the shortest failing
//! prefix in invoke order (everything after it relaxed), then delta
//! debugging relaxes chunks of halving size, ending with single operations.
//! The result is 1-minimal: relaxing any one operation of the window too
//! makes the history linearizable.
//!
//! Every relaxation still admits what really happened, so a window always
//! holds at least one operation whose recorded output is wrong: the correct
//! ones alone would be satisfied by the real execution. (It may also hold
//! correct operations that the wrong one contradicts, like the completed
//! write a stale read missed.)
//!
//! Relaxed operations invoked after every window operation has completed
//! cannot matter (they can always be placed last, or skipped), so the
//! checks leave them out; relaxed reads have no effect and go too.

use std::time::Instant;

use crate::model::{Input, KeyHistory, KeyOp, Ret};
use crate::search::{Search, search};

/// A failing window of a key's operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shrunk {
    /// Positions in the key's sub-history, in invoke order.
    pub(crate) positions: Vec<usize>,
    /// Whether the window is 1-minimal (false if the deadline or a
    /// timed-out check cut the shrinking short).
    pub(crate) minimal: bool,
}

/// Shrinks `key`, which must be non-linearizable, until `deadline`.
pub(crate) fn shrink(key: &KeyHistory, deadline: Instant) -> Shrunk {
    let mut shrinker = Shrinker {
        key,
        deadline,
        complete: true,
    };
    let mut candidates: Vec<usize> = (0..key.ops.len())
        .filter(|&i| key.ops[i].ret != Ret::Unknown)
        .collect();
    candidates.sort_by_key(|&i| (key.ops[i].invoke, key.ops[i].complete, i));
    let prefix = shrinker.failing_prefix(&candidates);
    let positions = shrinker.delta_debug(candidates[..prefix].to_vec());
    Shrunk {
        positions,
        minimal: shrinker.complete,
    }
}

/// The sub-history with every operation outside `window` relaxed.
pub(crate) fn relaxed(key: &KeyHistory, window: &[usize]) -> Vec<KeyOp> {
    let mut in_window = vec![false; key.ops.len()];
    let mut horizon = 0;
    for &i in window {
        if let Some(op) = key.ops.get(i) {
            in_window[i] = true;
            horizon = horizon.max(op.complete);
        }
    }
    let relax = |(i, op): (usize, &KeyOp)| match (in_window[i], op.ret, op.input) {
        (true, _, _) => Some(*op),
        _ if op.invoke > horizon => None,
        (false, _, Input::Read) => None,
        (false, _, _) => Some(KeyOp {
            ret: Ret::Unknown,
            ..*op
        }),
    };
    key.ops.iter().enumerate().filter_map(relax).collect()
}

struct Shrinker<'a> {
    key: &'a KeyHistory,
    deadline: Instant,
    /// False once a check timed out or the deadline stopped the shrinking.
    complete: bool,
}

// === impl Shrinker ===

impl Shrinker<'_> {
    /// The length of the shortest prefix of `order` that fails with the
    /// rest relaxed. Relaxing everything always passes; relaxing nothing
    /// fails (the caller's search said so).
    fn failing_prefix(&mut self, order: &[usize]) -> usize {
        let (mut passes, mut fails) = (0, order.len());
        while fails - passes > 1 {
            if self.out_of_time() {
                break;
            }
            let mid = passes + (fails - passes) / 2;
            if self.fails(&order[..mid]) {
                fails = mid;
            } else {
                passes = mid;
            }
        }
        fails
    }

    /// Relaxes chunks of halving size while the rest still fails. By
    /// monotonicity one pass of single operations leaves a 1-minimal
    /// window: an operation needed then is needed in every smaller window.
    fn delta_debug(&mut self, mut window: Vec<usize>) -> Vec<usize> {
        let mut chunk = (window.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start < window.len() {
                if self.out_of_time() {
                    return window;
                }
                let end = (start + chunk).min(window.len());
                let candidate: Vec<usize> = window[..start]
                    .iter()
                    .chain(&window[end..])
                    .copied()
                    .collect();
                if self.fails(&candidate) {
                    window = candidate;
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 {
                return window;
            }
            chunk /= 2;
        }
    }

    fn fails(&mut self, window: &[usize]) -> bool {
        if window.is_empty() {
            return false;
        }
        match search(&relaxed(self.key, window), self.deadline) {
            Search::NotLinearizable => true,
            Search::Linearizable => false,
            Search::Timeout => {
                self.complete = false;
                false
            }
        }
    }

    fn out_of_time(&mut self) -> bool {
        let out = Instant::now() >= self.deadline;
        self.complete &= !out;
        out
    }
}
