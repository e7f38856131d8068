//! Unit tests of the search.

use std::time::Duration;

use super::*;
use crate::model::{ABSENT, INFINITY, Input, Ret};

fn op(input: Input, ret: Ret, invoke: u64, complete: u64) -> KeyOp {
    KeyOp {
        input,
        ret,
        invoke,
        complete,
    }
}

fn run(ops: &[KeyOp]) -> Search {
    search(ops, Instant::now() + Duration::from_secs(10))
}

fn order(list: &EntryList) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    let mut i = list.first();
    while i != NIL {
        out.push((list.nodes[i].op, list.nodes[i].call));
        i = list.nodes[i].next;
    }
    out
}

#[test]
fn entries_sort_by_time_with_calls_first_at_ties() {
    let ops = [
        op(Input::Write(1), Ret::Ok, 0, 10),
        op(Input::Read, Ret::Read(1), 10, 20),
        op(Input::Read, Ret::Read(1), 5, INFINITY),
    ];
    let mut list = EntryList::new(&ops);
    let all = vec![
        (0, true),
        (2, true),
        (1, true),
        (0, false),
        (1, false),
        (2, false),
    ];
    assert_eq!(order(&list), all);
    list.lift(3); // call(1)
    assert_eq!(
        order(&list),
        vec![(0, true), (2, true), (0, false), (2, false)]
    );
    list.lift(1); // call(0)
    assert_eq!(order(&list), vec![(2, true), (2, false)]);
    list.unlift(1);
    list.unlift(3);
    assert_eq!(order(&list), all);
}

#[test]
fn small_histories() {
    assert_eq!(run(&[]), Search::Linearizable);
    let stale = [
        op(Input::Write(1), Ret::Ok, 0, 1),
        op(Input::Write(2), Ret::Ok, 2, 3),
        op(Input::Read, Ret::Read(1), 4, 5),
    ];
    assert_eq!(run(&stale), Search::NotLinearizable);
    let concurrent = [
        op(Input::Write(1), Ret::Ok, 0, 1),
        op(Input::Write(2), Ret::Ok, 2, 6),
        op(Input::Read, Ret::Read(1), 4, 5),
        op(Input::Read, Ret::Read(2), 4, 7),
    ];
    assert_eq!(run(&concurrent), Search::Linearizable);
    let absent = [op(Input::Read, Ret::Read(ABSENT), 0, 1)];
    assert_eq!(run(&absent), Search::Linearizable);
}

#[test]
fn an_unknown_operation_may_take_effect_any_time_after_its_invoke_or_never() {
    let write = op(Input::Write(1), Ret::Unknown, 2, INFINITY);
    let read = |value, invoke| op(Input::Read, Ret::Read(value), invoke, invoke + 1);
    assert_eq!(run(&[write, read(1, 5)]), Search::Linearizable);
    assert_eq!(
        run(&[write, read(ABSENT, 5), read(1, 7)]),
        Search::Linearizable
    );
    assert_eq!(run(&[write, read(ABSENT, 9)]), Search::Linearizable);
    assert_eq!(
        run(&[write, read(1, 5), read(ABSENT, 7)]),
        Search::NotLinearizable
    );
    assert_eq!(run(&[read(1, 0), write]), Search::NotLinearizable);
}

#[test]
fn a_relaxed_operation_may_take_effect_within_its_interval_or_never() {
    let write = op(Input::Write(1), Ret::Unknown, 2, 4);
    let read = |value, invoke| op(Input::Read, Ret::Read(value), invoke, invoke + 1);
    assert_eq!(run(&[write, read(ABSENT, 5)]), Search::Linearizable);
    assert_eq!(run(&[write, read(1, 5)]), Search::Linearizable);
    assert_eq!(
        run(&[write, read(1, 3), read(ABSENT, 6)]),
        Search::NotLinearizable
    );
    assert_eq!(run(&[write, read(1, 0)]), Search::NotLinearizable);
    let cas = op(
        Input::Cas {
            expect: 1,
            value: 2,
        },
        Ret::Unknown,
        0,
        10,
    );
    let set = op(Input::Write(1), Ret::Ok, 0, 1);
    assert_eq!(run(&[set, cas, read(2, 11)]), Search::Linearizable);
    assert_eq!(run(&[set, cas, read(1, 11)]), Search::Linearizable);
    assert_eq!(run(&[cas, read(2, 11)]), Search::NotLinearizable);
}

#[test]
fn identical_unknown_operations_are_interchangeable() {
    // 30 unknown writes of each of two values, and reads alternating
    // between them 31 times: one write short. Without twins the search
    // would try every subset of the 60 writes.
    let mut ops: Vec<KeyOp> = (0..60)
        .map(|i| op(Input::Write(1 + i % 2), Ret::Unknown, 0, INFINITY))
        .collect();
    let reads = |n: u64| {
        (0..n).map(|i| {
            op(
                Input::Read,
                Ret::Read(1 + (i % 2) as Value),
                10 + 2 * i,
                11 + 2 * i,
            )
        })
    };
    ops.extend(reads(60));
    assert_eq!(run(&ops), Search::Linearizable);
    ops.extend(reads(62).skip(60));
    assert_eq!(run(&ops), Search::NotLinearizable);
    assert_eq!(twins(&ops)[..4], [NIL, NIL, 0, 1]);
}

#[test]
fn values_nothing_observes_are_merged() {
    let ops = [
        op(Input::Write(5), Ret::Ok, 0, 1),
        op(Input::Read, Ret::Read(5), 0, 1),
        op(Input::Write(6), Ret::Ok, 0, 1),
        op(
            Input::Cas {
                expect: 7,
                value: 5,
            },
            Ret::Unknown,
            0,
            1,
        ),
        op(
            Input::Cas {
                expect: 8,
                value: 9,
            },
            Ret::Unknown,
            0,
            1,
        ),
        op(
            Input::Cas {
                expect: 10,
                value: 11,
            },
            Ret::Cas(false),
            0,
            1,
        ),
        op(Input::Write(ABSENT), Ret::Ok, 0, 1),
    ];
    let inputs: Vec<Input> = merge_unobserved(&ops).iter().map(|op| op.input).collect();
    let merged = UNOBSERVED;
    assert_eq!(
        inputs,
        [
            Input::Write(5),
            Input::Read,
            Input::Write(merged),
            Input::Cas {
                expect: 7,
                value: 5
            },
            Input::Cas {
                expect: merged,
                value: merged
            },
            Input::Cas {
                expect: 10,
                value: merged
            },
            Input::Write(ABSENT),
        ]
    );
    // Forty unknown writes of unread unique values are all twins.
    let mut ops: Vec<KeyOp> = (1..=40)
        .map(|v| op(Input::Write(v), Ret::Unknown, 0, INFINITY))
        .collect();
    ops.push(op(Input::Read, Ret::Read(99), 1, 2));
    assert_eq!(run(&ops), Search::NotLinearizable);
}

#[test]
fn a_past_deadline_times_out_a_long_search() {
    // Many concurrent writes and an impossible read: exponential
    // without the memo, still thousands of configurations with it.
    let mut ops: Vec<KeyOp> = (1..=16)
        .map(|v| op(Input::Write(v), Ret::Ok, 0, 100))
        .collect();
    ops.push(op(Input::Read, Ret::Read(99), 0, 100));
    assert_eq!(search(&ops, Instant::now()), Search::Timeout);
}
