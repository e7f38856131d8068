//! The single-key register model the search runs on, with values interned
//! to integers so that states are cheap to hash and compare.
//!
//! The KV store is P-compositional: a history is linearizable iff each
//! key's sub-history is, so [`partition`] splits a history by key and each
//! key is a register holding `Option<String>`.

use std::collections::{BTreeMap, HashMap};

use crate::history::History;
use crate::op::{Op, OpId, Outcome, Output};

/// An interned value; [`ABSENT`] is the absent key.
pub(crate) type Value = u32;

/// The state of a key that holds no value.
pub(crate) const ABSENT: Value = 0;

/// The value standing for every value no operation can observe (see
/// [`crate::search`]); never the id of an interned value.
pub(crate) const UNOBSERVED: Value = Value::MAX;

/// The completion time of an operation whose outcome is unknown.
pub(crate) const INFINITY: u64 = u64::MAX;

/// An operation's input, with values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Input {
    Write(Value),
    Cas { expect: Value, value: Value },
    Read,
    Delete,
}

/// An operation's output, with values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ret {
    Ok,
    Cas(bool),
    Read(Value),
    /// Any output, or no effect at all. An operation whose outcome is
    /// unknown has this and an [`INFINITY`] completion; the shrinker
    /// relaxes acknowledged operations to this, keeping their completion.
    Unknown,
}

/// One operation of a key's sub-history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyOp {
    pub(crate) input: Input,
    pub(crate) ret: Ret,
    pub(crate) invoke: u64,
    /// [`INFINITY`] when the outcome is unknown.
    pub(crate) complete: u64,
}

/// The operations on one key, in history order.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyHistory {
    /// `ids[i]` is the history's name for `ops[i]`.
    pub(crate) ids: Vec<OpId>,
    pub(crate) ops: Vec<KeyOp>,
    values: HashMap<String, Value>,
}

/// Applies `input` to `state` if it can return `ret`: the next state, or
/// `None` when the output is impossible in this state.
pub(crate) fn step(state: Value, input: Input, ret: Ret) -> Option<Value> {
    match (input, ret) {
        (Input::Write(value), Ret::Ok | Ret::Unknown) => Some(value),
        (Input::Delete, Ret::Ok | Ret::Unknown) => Some(ABSENT),
        (Input::Cas { expect, value }, Ret::Cas(swapped)) => {
            let swaps = state == expect;
            (swaps == swapped).then_some(if swaps { value } else { state })
        }
        (Input::Cas { expect, value }, Ret::Unknown) => {
            Some(if state == expect { value } else { state })
        }
        (Input::Read, Ret::Read(value)) => (value == state).then_some(state),
        (Input::Read, Ret::Unknown) => Some(state),
        _ => None,
    }
}

/// The state after linearizing `op` in `state`, if it can be linearized
/// there with an effect. An unknown operation may also have had no effect;
/// the search places that case at its return entry (see
/// [`crate::search`]), so here it is only linearized when it changes the
/// state.
pub(crate) fn transition(state: Value, op: &KeyOp) -> Option<Value> {
    let next = step(state, op.input, op.ret)?;
    (op.ret != Ret::Unknown || next != state).then_some(next)
}

/// Splits `history` by key, dropping failed operations and reads whose
/// outcome is unknown (they cannot change any state).
pub(crate) fn partition(history: &History) -> BTreeMap<String, KeyHistory> {
    let mut keys: BTreeMap<String, KeyHistory> = BTreeMap::new();
    for (id, op) in history.iter() {
        let ret = match &op.outcome {
            Outcome::Failed => continue,
            Outcome::Unknown if matches!(op.op, Op::Read { .. }) => continue,
            Outcome::Unknown => None,
            Outcome::Ok(output) => Some(output),
        };
        let key = keys.entry(op.op.key().to_owned()).or_default();
        let complete = match ret {
            Some(_) => op.complete.unwrap_or(INFINITY),
            None => INFINITY,
        };
        let key_op = KeyOp {
            input: key.input(&op.op),
            ret: ret.map_or(Ret::Unknown, |output| key.ret(output)),
            invoke: op.invoke,
            complete,
        };
        key.ids.push(id);
        key.ops.push(key_op);
    }
    keys
}

// === impl KeyHistory ===

impl KeyHistory {
    fn input(&mut self, op: &Op) -> Input {
        match op {
            Op::Write { value, .. } => Input::Write(self.intern(value)),
            Op::Cas { expect, value, .. } => Input::Cas {
                expect: self.intern_opt(expect.as_deref()),
                value: self.intern(value),
            },
            Op::Read { .. } => Input::Read,
            Op::Delete { .. } => Input::Delete,
        }
    }

    fn ret(&mut self, output: &Output) -> Ret {
        match output {
            Output::Ok => Ret::Ok,
            Output::Cas(swapped) => Ret::Cas(*swapped),
            Output::Read(value) => Ret::Read(self.intern_opt(value.as_deref())),
        }
    }

    fn intern_opt(&mut self, value: Option<&str>) -> Value {
        value.map_or(ABSENT, |value| self.intern(value))
    }

    fn intern(&mut self, value: &str) -> Value {
        if let Some(&id) = self.values.get(value) {
            return id;
        }
        // Past 4 billion values, later ones share an id with an earlier
        // one: a history that size cannot be searched anyway.
        let id = Value::try_from(self.values.len() + 1).unwrap_or(UNOBSERVED - 1);
        self.values.insert(value.to_owned(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_follows_the_register() {
        assert_eq!(step(ABSENT, Input::Write(3), Ret::Ok), Some(3));
        assert_eq!(step(3, Input::Delete, Ret::Ok), Some(ABSENT));
        assert_eq!(step(3, Input::Read, Ret::Read(3)), Some(3));
        assert_eq!(step(3, Input::Read, Ret::Read(ABSENT)), None);
        assert_eq!(step(3, Input::Read, Ret::Unknown), Some(3));
        let cas = Input::Cas {
            expect: 3,
            value: 4,
        };
        assert_eq!(step(3, cas, Ret::Cas(true)), Some(4));
        assert_eq!(step(3, cas, Ret::Cas(false)), None);
        assert_eq!(step(5, cas, Ret::Cas(false)), Some(5));
        assert_eq!(step(5, cas, Ret::Cas(true)), None);
        assert_eq!(step(3, cas, Ret::Unknown), Some(4));
        assert_eq!(step(5, cas, Ret::Unknown), Some(5));
        assert_eq!(step(5, Input::Write(1), Ret::Read(1)), None);
    }

    #[test]
    fn an_unknown_operation_is_only_linearized_for_its_effect() {
        let op = |input, ret| KeyOp {
            input,
            ret,
            invoke: 0,
            complete: INFINITY,
        };
        let cas = Input::Cas {
            expect: 3,
            value: 4,
        };
        assert_eq!(transition(3, &op(cas, Ret::Unknown)), Some(4));
        assert_eq!(transition(5, &op(cas, Ret::Unknown)), None);
        assert_eq!(transition(5, &op(cas, Ret::Cas(false))), Some(5));
        assert_eq!(transition(5, &op(Input::Write(1), Ret::Unknown)), Some(1));
        assert_eq!(transition(1, &op(Input::Write(1), Ret::Unknown)), None);
        assert_eq!(transition(1, &op(Input::Write(1), Ret::Ok)), Some(1));
        assert_eq!(transition(1, &op(Input::Read, Ret::Unknown)), None);
    }

    #[test]
    fn partition_splits_by_key_and_drops_what_cannot_matter() {
        use crate::op::{ClientId, Operation};
        let op = |op: Op, outcome: Outcome| Operation {
            client: ClientId(1),
            op,
            invoke: 1,
            complete: Some(2),
            outcome,
        };
        let history = History::from_operations(vec![
            op(Op::write("a", "x"), Outcome::Ok(Output::Ok)),
            op(Op::write("b", "x"), Outcome::Failed),
            op(Op::read("a"), Outcome::Unknown),
            op(Op::write("a", "y"), Outcome::Unknown),
            op(Op::read("b"), Outcome::Ok(Output::read(Some("x")))),
        ])
        .unwrap();
        let keys = partition(&history);
        assert_eq!(keys.len(), 2);
        let a = &keys["a"];
        assert_eq!(a.ids, vec![OpId(0), OpId(3)]);
        assert_eq!(a.ops[0].input, Input::Write(1));
        assert_eq!(a.ops[0].complete, 2);
        assert_eq!(a.ops[1].input, Input::Write(2));
        assert_eq!(a.ops[1].ret, Ret::Unknown);
        assert_eq!(a.ops[1].complete, INFINITY);
        let b = &keys["b"];
        assert_eq!(b.ids, vec![OpId(4)]);
        assert_eq!(b.ops[0].ret, Ret::Read(1));
    }
}
