//! The search's memo of failed configurations, with subsumption for
//! operations whose return is +∞.
//!
//! A configuration is the set of linearized operations and the state. One
//! whose every continuation failed is recorded when the search backtracks
//! out of it. A configuration is then known to fail if a failed one has the
//! same state, the same linearized operations with a finite return, and a
//! subset of the linearized ones with a +∞ return (unknown outcome):
//! whatever the larger one can still do, the smaller one can do too,
//! placing the extra operations as no-ops at the end. Porcupine only prunes
//! exact repeats, so a few dozen unknown operations pending together make
//! it explore every subset of them. Failures are only recorded once fully
//! explored because a configuration on the current path must not prune its
//! own descendants.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::bitset::{Bitset, mix};
use crate::model::{INFINITY, KeyOp, Value};

/// Salts the state's hash so it does not cancel an element's.
const STATE_SALT: u64 = 0x5EED_0F57_A7E5_0000;

/// "No such slot" / "no such bit".
const NONE: u32 = u32::MAX;

/// The set of linearized operations, split by the kind of return.
pub(crate) struct Linearized {
    /// The linearized operations with a finite return.
    finite: Bitset,
    /// The linearized operations with a +∞ return, as bits of `pending_bit`.
    pending: Vec<u64>,
    /// For each operation with a +∞ return, its bit in `pending`.
    pending_bit: Vec<u32>,
}

/// The failed configurations. Those with the same state and finite part
/// share a slot, found through a hash table of chains; a slot keeps the
/// minimal +∞ parts that failed with it.
pub(crate) struct Memo {
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// The slots' finite parts, back to back.
    finite: Vec<u64>,
    states: Vec<Value>,
    /// The previous slot with the same hash, or [`NONE`].
    next: Vec<u32>,
    /// Each slot's failed +∞ parts, back to back.
    failed: Vec<Vec<u64>>,
}

#[derive(Default)]
struct PassThrough(u64);

// === impl Linearized ===

impl Linearized {
    /// The empty set for `ops`.
    pub(crate) fn new(ops: &[KeyOp]) -> Self {
        let mut pending_bit = vec![NONE; ops.len()];
        let mut count = 0u32;
        for (bit, op) in pending_bit.iter_mut().zip(ops) {
            if op.complete == INFINITY {
                *bit = count;
                count += 1;
            }
        }
        Self {
            finite: Bitset::new(ops.len()),
            pending: vec![0; (count as usize).div_ceil(64)],
            pending_bit,
        }
    }

    /// Adds operation `i`, which must not be a member.
    pub(crate) fn insert(&mut self, i: usize) {
        if !self.toggle_pending(i) {
            self.finite.insert(i);
        }
    }

    /// Removes operation `i`, which must be a member.
    pub(crate) fn remove(&mut self, i: usize) {
        if !self.toggle_pending(i) {
            self.finite.remove(i);
        }
    }

    /// Whether operation `i` is linearized.
    pub(crate) fn contains(&self, i: usize) -> bool {
        match self.pending_bit.get(i) {
            Some(&bit) if bit != NONE => {
                let bit = bit as usize;
                self.pending[bit / 64] & (1 << (bit % 64)) != 0
            }
            _ => self.finite.contains(i),
        }
    }

    /// Toggles `i` if its return is +∞; `false` if it is finite.
    fn toggle_pending(&mut self, i: usize) -> bool {
        match self.pending_bit.get(i) {
            Some(&bit) if bit != NONE => {
                let bit = bit as usize;
                self.pending[bit / 64] ^= 1 << (bit % 64);
                true
            }
            _ => false,
        }
    }
}

// === impl Memo ===

impl Memo {
    pub(crate) fn new() -> Self {
        Self {
            heads: HashMap::default(),
            finite: Vec::new(),
            states: Vec::new(),
            next: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Whether the configuration is known to fail.
    pub(crate) fn fails(&self, linearized: &Linearized, state: Value) -> bool {
        let Some(slot) = self.slot(linearized, state) else {
            return false;
        };
        let width = linearized.pending.len();
        let current = &linearized.pending;
        if width == 0 {
            return true; // a slot exists only once something failed in it
        }
        self.failed[slot]
            .chunks_exact(width)
            .any(|failed| subset(failed, current))
    }

    /// Records that the configuration failed.
    pub(crate) fn insert(&mut self, linearized: &Linearized, state: Value) {
        let slot = match self.slot(linearized, state) {
            Some(slot) => slot,
            None => {
                let Ok(slot) = u32::try_from(self.states.len()) else {
                    return; // 4 billion slots: stop remembering
                };
                let hash = hash(linearized, state);
                let head = self.heads.insert(hash, slot).unwrap_or(NONE);
                self.finite.extend_from_slice(linearized.finite.words());
                self.states.push(state);
                self.next.push(head);
                self.failed
                    .push(Vec::with_capacity(linearized.pending.len()));
                slot as usize
            }
        };
        let width = linearized.pending.len();
        let current = &linearized.pending;
        let failed = &mut self.failed[slot];
        if width > 0 {
            // Drop the failures the new one subsumes.
            let kept: Vec<u64> = failed
                .chunks_exact(width)
                .filter(|old| !subset(current, old))
                .flatten()
                .copied()
                .collect();
            *failed = kept;
        }
        failed.extend_from_slice(current);
    }

    /// The slot with this configuration's state and finite part.
    fn slot(&self, linearized: &Linearized, state: Value) -> Option<usize> {
        let set = linearized.finite.words();
        let mut i = self
            .heads
            .get(&hash(linearized, state))
            .copied()
            .unwrap_or(NONE);
        while i != NONE {
            let at = i as usize;
            if self.states[at] == state && self.finite[at * set.len()..][..set.len()] == *set {
                return Some(at);
            }
            i = self.next[at];
        }
        None
    }
}

fn hash(linearized: &Linearized, state: Value) -> u64 {
    linearized.finite.hash() ^ mix(u64::from(state) ^ STATE_SALT)
}

/// Whether `small` ⊆ `large`.
fn subset(small: &[u64], large: &[u64]) -> bool {
    small.iter().zip(large).all(|(&s, &l)| s & !l == 0)
}

// === impl PassThrough ===

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = mix(self.0 ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Input, Ret};

    fn ops() -> Vec<KeyOp> {
        let op = |complete| KeyOp {
            input: Input::Write(1),
            ret: Ret::Unknown,
            invoke: 0,
            complete,
        };
        vec![op(5), op(INFINITY), op(INFINITY), op(7)]
    }

    fn set(ops: &[KeyOp], members: &[usize]) -> Linearized {
        let mut set = Linearized::new(ops);
        for &i in members {
            set.insert(i);
        }
        set
    }

    #[test]
    fn linearized_tracks_both_kinds_of_operation() {
        let ops = ops();
        let mut set = set(&ops, &[0, 2]);
        assert!(set.contains(0) && set.contains(2));
        assert!(!set.contains(1) && !set.contains(3));
        set.remove(2);
        set.insert(1);
        assert!(set.contains(1) && !set.contains(2));
        assert_eq!(set.pending, [0b01]);
    }

    #[test]
    fn a_failure_subsumes_those_with_more_unknown_operations() {
        let ops = ops();
        let mut memo = Memo::new();
        memo.insert(&set(&ops, &[0, 1]), 1);
        assert!(memo.fails(&set(&ops, &[0, 1]), 1));
        assert!(memo.fails(&set(&ops, &[0, 1, 2]), 1));
        assert!(!memo.fails(&set(&ops, &[0, 2]), 1));
        assert!(!memo.fails(&set(&ops, &[0]), 1));
        assert!(!memo.fails(&set(&ops, &[0, 1]), 2));
        assert!(!memo.fails(&set(&ops, &[1]), 1));
        assert!(!memo.fails(&set(&ops, &[0, 1, 3]), 1));
        // A smaller failure replaces the ones it subsumes.
        memo.insert(&set(&ops, &[0]), 1);
        assert!(memo.fails(&set(&ops, &[0, 2]), 1));
        assert_eq!(memo.failed[0], [0]);
    }

    #[test]
    fn without_unknown_operations_failures_match_exactly() {
        let ops: Vec<KeyOp> = ops()
            .into_iter()
            .filter(|op| op.complete != INFINITY)
            .collect();
        let mut memo = Memo::new();
        memo.insert(&set(&ops, &[0]), 3);
        assert!(memo.fails(&set(&ops, &[0]), 3));
        assert!(!memo.fails(&set(&ops, &[0, 1]), 3));
        assert!(!memo.fails(&set(&ops, &[]), 3));
    }
}
