//! The Wing–Gong–Lowe search over one key's sub-history, with Porcupine's
//! improvements: the doubly-linked entry list with lift/unlift, and a memo
//! of configurations (linearized set, state) already explored.
//!
//! ```text
//!   head → call(a) → call(b) → ret(a) → call(c) → ret(b) → ret(c)
//!            │ linearize a: step the model, lift call(a) and ret(a) out
//!            ▼
//!   head → call(b) → call(c) → ret(b) → ret(c)
//! ```
//!
//! Walking the list from the head, the search tries each call entry whose
//! operation the model accepts in the current state. Reaching a return
//! entry means that operation should already have taken effect, so the
//! search backtracks: it unlifts the last linearized operation, restores the
//! state before it, and tries the entry after it. The history is
//! linearizable iff the list empties; it is not iff the search backtracks
//! past the first operation.
//!
//! Operations of unknown outcome ("may have taken effect") get three
//! refinements, each of which only reorders or drops equivalent branches:
//!
//! * A no-op can be moved anywhere in its interval, so the search considers
//!   one only at the operation's return entry: there it lifts the operation
//!   without changing the state before it would backtrack. At call entries
//!   such an operation is only linearized if it changes the state.
//! * Operations with a +∞ return are tried last: only when the search is
//!   stuck at a return entry. Branches that use fewer of them come first,
//!   so the memo's subsumption (see [`crate::memo`]) can prune the ones that
//!   use more.
//! * Identical operations with a +∞ return are used in invoke order
//!   ([`twins`]), and values nothing can observe are merged into one
//!   ([`merge_unobserved`]), which makes many more of them identical.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::memo::{Linearized, Memo};
use crate::model::{ABSENT, INFINITY, Input, KeyOp, Ret, UNOBSERVED, Value, transition};

/// How often (in loop iterations) the search reads the clock.
const CLOCK_EVERY: u64 = 1024;

/// "No node": the end of the list.
const NIL: usize = usize::MAX;

/// The list's sentinel head.
const HEAD: usize = 0;

/// The outcome of one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Search {
    Linearizable,
    NotLinearizable,
    /// The deadline passed first.
    Timeout,
}

/// The doubly-linked list of call and return entries, sorted by time.
struct EntryList {
    nodes: Vec<Node>,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// The operation's position in the sub-history.
    op: usize,
    call: bool,
    /// For a call its return entry, for a return its call entry.
    partner: usize,
    prev: usize,
    next: usize,
}

/// Searches for a linearization of `ops`, giving up at `deadline`.
pub(crate) fn search(ops: &[KeyOp], deadline: Instant) -> Search {
    let ops = &merge_unobserved(ops);
    let mut search = Searcher {
        ops,
        list: EntryList::new(ops),
        linearized: Linearized::new(ops),
        twins: twins(ops),
        memo: Memo::new(),
        calls: Vec::with_capacity(ops.len()),
        state: ABSENT,
    };
    let mut cursor = Cursor::Walk(search.list.first());
    let mut iterations = 0u64;
    while search.list.first() != NIL {
        iterations += 1;
        if iterations.is_multiple_of(CLOCK_EVERY) && Instant::now() >= deadline {
            return Search::Timeout;
        }
        let next = match cursor {
            Cursor::Walk(entry) => search.walk(entry),
            Cursor::Pending { ret, from } => search.pending(ret, from),
        };
        match next {
            Some(next) => cursor = next,
            None => return Search::NotLinearizable,
        }
    }
    Search::Linearizable
}

/// Where the search is in the list.
#[derive(Clone, Copy, Debug)]
enum Cursor {
    /// Trying call entries from this one on.
    Walk(usize),
    /// Stuck at return entry `ret`: trying to linearize the pending
    /// operations with a +∞ return whose call entries lie from `from` on.
    Pending { ret: usize, from: usize },
}

/// The search's state.
struct Searcher<'a> {
    ops: &'a [KeyOp],
    list: EntryList,
    linearized: Linearized,
    memo: Memo,
    /// For an operation with a +∞ return, the previous identical one.
    twins: Vec<usize>,
    /// The linearized operations, in order.
    calls: Vec<Frame>,
    state: Value,
}

/// A linearized operation.
struct Frame {
    /// Its call entry.
    call: usize,
    /// The state before it.
    before: Value,
    how: How,
}

/// How an operation was linearized, which says what to try after it.
#[derive(Clone, Copy, Debug)]
enum How {
    /// At its call entry.
    Call,
    /// As a no-op at return entry `ret` (its own).
    Skip { ret: usize },
    /// With a +∞ return, when the search was stuck at return entry `ret`.
    Pending { ret: usize },
}

// === impl Searcher ===

impl Searcher<'_> {
    /// One step of the walk at `entry`: the next cursor, or `None` when
    /// the search is exhausted.
    fn walk(&mut self, entry: usize) -> Option<Cursor> {
        let node = *self.list.nodes.get(entry)?; // invariant: the list ends with a return
        let op = self.ops[node.op];
        if node.call {
            // Operations with a +∞ return wait until the search is stuck.
            let lifted = op.complete != INFINITY
                && transition(self.state, &op)
                    .is_some_and(|next| self.lift(entry, next, How::Call));
            return Some(Cursor::Walk(if lifted {
                self.list.first()
            } else {
                node.next
            }));
        }
        // A return entry: its operation must be linearized by now, as a
        // no-op if it may have had no effect.
        let how = How::Skip { ret: entry };
        if op.ret == Ret::Unknown && self.lift(node.partner, self.state, how) {
            return Some(Cursor::Walk(self.list.first()));
        }
        Some(Cursor::Pending {
            ret: entry,
            from: self.list.first(),
        })
    }

    /// Stuck at return entry `ret`: tries the pending operations with a
    /// +∞ return from `from` on, then backtracks.
    fn pending(&mut self, ret: usize, from: usize) -> Option<Cursor> {
        let mut entry = from;
        while entry != ret && entry != NIL {
            let node = self.list.nodes[entry];
            let op = self.ops[node.op];
            // Of identical pending operations, the earliest is used first.
            let twin = self.twins[node.op];
            let first = twin == NIL || self.linearized.contains(twin);
            if node.call && op.complete == INFINITY && first {
                let how = How::Pending { ret };
                if transition(self.state, &op).is_some_and(|next| self.lift(entry, next, how)) {
                    return Some(Cursor::Walk(self.list.first()));
                }
            }
            entry = node.next;
        }
        self.backtrack()
    }

    /// Linearizes the operation of call entry `call`, moving to state
    /// `next`, unless that configuration is known to fail.
    fn lift(&mut self, call: usize, next: Value, how: How) -> bool {
        let op = self.list.nodes[call].op;
        self.linearized.insert(op);
        if self.memo.fails(&self.linearized, next) {
            self.linearized.remove(op);
            return false;
        }
        self.calls.push(Frame {
            call,
            before: self.state,
            how,
        });
        self.state = next;
        self.list.lift(call);
        true
    }

    /// Records the current configuration as failed, undoes the last
    /// linearization and says where to go on; `None` if there is none.
    fn backtrack(&mut self) -> Option<Cursor> {
        let frame = self.calls.pop()?;
        self.memo.insert(&self.linearized, self.state);
        self.state = frame.before;
        self.linearized.remove(self.list.nodes[frame.call].op);
        self.list.unlift(frame.call);
        let next = self.list.nodes[frame.call].next;
        Some(match frame.how {
            How::Call => Cursor::Walk(next),
            How::Skip { ret } => Cursor::Pending {
                ret,
                from: self.list.first(),
            },
            How::Pending { ret } => Cursor::Pending { ret, from: next },
        })
    }
}

/// `ops` with every value no operation can tell apart from the others
/// replaced by one shared value. An operation that must have returned what
/// it did observes the values it reads or expects; an operation that may
/// have had no effect (of unknown outcome) only observes a compare-and-set's
/// expected value when its new value is observed, because otherwise firing
/// or not leaves the key holding an unobserved value either way. Unobserved
/// values are then indistinguishable, so merging them changes no verdict,
/// but it makes states and operations equal that differed only
/// superficially: unknown writes of never-read unique values become twins,
/// and configurations that differ only in which unread value is current
/// merge. (The shrinker's relaxed checks, whose reads are dropped, gain the
/// most.)
fn merge_unobserved(ops: &[KeyOp]) -> Vec<KeyOp> {
    let mut observed = HashSet::new();
    for op in ops {
        match (op.input, op.ret) {
            (_, Ret::Read(value)) | (Input::Cas { expect: value, .. }, Ret::Cas(_)) => {
                observed.insert(value);
            }
            _ => {}
        }
    }
    let optional_cas: Vec<(Value, Value)> = ops
        .iter()
        .filter_map(|op| match (op.input, op.ret) {
            (Input::Cas { expect, value }, Ret::Unknown) => Some((expect, value)),
            _ => None,
        })
        .collect();
    let mut grew = true;
    while grew {
        grew = false;
        for &(expect, value) in &optional_cas {
            grew |= observed.contains(&value) && observed.insert(expect);
        }
    }
    let merge = |value: Value| {
        if value == ABSENT || observed.contains(&value) {
            value
        } else {
            UNOBSERVED
        }
    };
    let merged = |op: &KeyOp| {
        let input = match op.input {
            Input::Write(value) => Input::Write(merge(value)),
            Input::Cas { expect, value } => Input::Cas {
                expect: merge(expect),
                value: merge(value),
            },
            input => input,
        };
        KeyOp { input, ..*op }
    };
    ops.iter().map(merged).collect()
}

/// For each operation with a +∞ return, the previous one (by invoke time)
/// with the same input, or [`NIL`]. Such twins are interchangeable once
/// both are invoked, so the search only linearizes one after its earlier
/// twin: a linearization using the later one can use the earlier one in
/// its place. Without this, a few unknown writes of the same value would
/// multiply the configurations by every subset of them.
fn twins(ops: &[KeyOp]) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].complete == INFINITY)
        .collect();
    pending.sort_by_key(|&i| (ops[i].invoke, i));
    let mut last: HashMap<Input, usize> = HashMap::new();
    let mut twins = vec![NIL; ops.len()];
    for i in pending {
        if let Some(twin) = last.insert(ops[i].input, i) {
            twins[i] = twin;
        }
    }
    twins
}

// === impl EntryList ===

impl EntryList {
    /// The entries of `ops`, sorted by time. At equal times calls come
    /// first, so an operation returning at the instant another is invoked
    /// counts as concurrent with it (the permissive reading, as Porcupine).
    fn new(ops: &[KeyOp]) -> Self {
        let mut entries: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            entries.push((op.invoke, false, i));
            entries.push((op.complete, true, i));
        }
        entries.sort_unstable();
        let mut nodes = Vec::with_capacity(entries.len() + 1);
        nodes.push(Node {
            op: NIL,
            call: false,
            partner: NIL,
            prev: NIL,
            next: NIL,
        });
        let mut call_of = vec![NIL; ops.len()];
        for (position, &(_, is_return, op)) in entries.iter().enumerate() {
            let index = position + 1;
            let next = if index == entries.len() {
                NIL
            } else {
                index + 1
            };
            nodes.push(Node {
                op,
                call: !is_return,
                partner: NIL,
                prev: index - 1,
                next,
            });
            match call_of.get(op).copied() {
                Some(call) if is_return && call != NIL => {
                    nodes[call].partner = index;
                    nodes[index].partner = call;
                }
                _ => call_of[op] = index,
            }
        }
        nodes[HEAD].next = if entries.is_empty() { NIL } else { 1 };
        Self { nodes }
    }

    fn first(&self) -> usize {
        self.nodes[HEAD].next
    }

    /// Unlinks a call entry and its return entry.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.nodes[call].partner);
    }

    /// Relinks what [`lift`](Self::lift) unlinked: the node's own links
    /// still point at its old neighbours.
    fn unlift(&mut self, call: usize) {
        self.relink(self.nodes[call].partner);
        self.relink(call);
    }

    fn unlink(&mut self, i: usize) {
        let Node { prev, next, .. } = self.nodes[i];
        self.nodes[prev].next = next;
        if next != NIL {
            self.nodes[next].prev = prev;
        }
    }

    fn relink(&mut self, i: usize) {
        let Node { prev, next, .. } = self.nodes[i];
        self.nodes[prev].next = i;
        if next != NIL {
            self.nodes[next].prev = i;
        }
    }
}

#[cfg(test)]
mod tests;
