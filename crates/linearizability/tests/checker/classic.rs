//! Classic small histories, each with its known verdict.

use std::time::Duration;

use skein_linearizability::{Config, History, Op, Output, Verdict, check, check_with};

use crate::support::{cas, check_ops, context, delete_op, done, failed, read, unknown, window};

#[test]
fn the_empty_history_is_linearizable() {
    let report = check_ops(vec![]);
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!((report.ops, report.checked, report.keys.len()), (0, 0, 0));
}

#[test]
fn a_sequential_history_of_every_operation_is_linearizable() {
    let report = check_ops(vec![
        read(1, 0, 1, "k", None),
        done(1, 2, 3, Op::write("k", "a")),
        read(1, 4, 5, "k", Some("a")),
        cas(1, (6, 7), "k", Some("a"), "b", true),
        read(1, 8, 9, "k", Some("b")),
        cas(1, (10, 11), "k", Some("a"), "c", false),
        cas(1, (12, 13), "k", None, "c", false),
        delete_op(1, 14, 15, "k"),
        read(1, 16, 17, "k", None),
        cas(1, (18, 19), "k", None, "d", true),
        read(1, 20, 21, "k", Some("d")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    assert_eq!(report.checked, 11);
}

#[test]
fn a_sequential_history_with_a_wrong_answer_is_not() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        cas(1, (2, 3), "k", Some("a"), "b", true),
        cas(1, (4, 5), "k", Some("a"), "c", true),
    ]);
    assert_eq!(window(&report), vec![1, 2], "{report}");
    assert_eq!(context(&report), vec![0]);
}

#[test]
fn a_read_overlapping_a_write_may_see_the_old_or_the_new_value() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "old")),
        done(1, 10, 20, Op::write("k", "new")),
        read(2, 5, 15, "k", Some("new")),
        read(3, 12, 25, "k", Some("old")),
        read(4, 11, 12, "k", Some("old")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn reads_during_a_write_cannot_go_back_to_the_old_value() {
    // Both reads overlap the write, but the second starts after the first
    // saw the new value: new-then-old is not linearizable.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "old")),
        done(1, 10, 30, Op::write("k", "new")),
        read(2, 12, 14, "k", Some("new")),
        read(3, 16, 18, "k", Some("old")),
    ]);
    // The reads alone tell the story; the writes are context.
    assert_eq!(window(&report), vec![2, 3], "{report}");
    assert_eq!(context(&report), vec![0, 1]);
    assert!(report.verdict.violation().unwrap().minimal);
}

#[test]
fn a_stale_read_after_a_completed_write_is_not_linearizable() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        read(2, 0, 3, "k", Some("a")),
        done(1, 2, 3, Op::write("k", "b")),
        read(3, 1, 2, "k", Some("a")),
        read(2, 4, 5, "k", Some("a")),
        read(3, 6, 7, "k", Some("b")),
    ]);
    let violation = report.verdict.violation().expect("stale read").clone();
    assert_eq!(violation.key, "k");
    assert_eq!(violation.key_ops, 6);
    // The write of b and the stale read are the whole story; the write of
    // a is context.
    assert_eq!(window(&report), vec![2, 4], "{report}");
    assert_eq!(context(&report), vec![0]);
    assert!(violation.minimal);
    let text = report.to_string();
    assert!(text.starts_with("NOT linearizable: key \"k\""), "{text}");
    assert!(
        text.contains("\n  #4 client 2 [4, 5] read \"k\" -> \"a\"\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  #0 client 1 [0, 1] write \"k\" = \"a\" -> ok\n"),
        "{text}"
    );
}

#[test]
fn a_read_may_see_a_write_that_returns_at_the_instant_it_is_invoked_or_not() {
    // Touching intervals count as concurrent (calls sort before returns).
    let report = check_ops(vec![
        done(1, 0, 5, Op::write("k", "a")),
        read(2, 5, 6, "k", None),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    let report = check_ops(vec![
        done(1, 0, 5, Op::write("k", "a")),
        read(2, 6, 7, "k", None),
    ]);
    assert!(!report.is_linearizable());
}

#[test]
fn two_cas_from_the_same_value_cannot_both_succeed() {
    // A lost update: both clients read 0 and both CAS 0 -> n succeed.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("counter", "0")),
        cas(1, (2, 10), "counter", Some("0"), "1", true),
        cas(2, (3, 11), "counter", Some("0"), "1", true),
    ]);
    assert_eq!(window(&report), vec![1, 2], "{report}");
    assert_eq!(context(&report), vec![0]);
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("counter", "0")),
        cas(1, (2, 10), "counter", Some("0"), "1", true),
        cas(2, (3, 11), "counter", Some("0"), "2", true),
        read(3, 12, 13, "counter", Some("2")),
    ]);
    assert!(!report.is_linearizable(), "{report}");
}

#[test]
fn of_two_concurrent_cas_from_the_same_value_one_may_win() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("counter", "0")),
        cas(1, (2, 10), "counter", Some("0"), "1", false),
        cas(2, (3, 11), "counter", Some("0"), "2", true),
        cas(3, (4, 9), "counter", Some("2"), "3", true),
        read(3, 12, 13, "counter", Some("3")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn a_cas_on_an_absent_key_creates_it_once() {
    let report = check_ops(vec![
        cas(1, (0, 10), "lock", None, "a", true),
        cas(2, (1, 11), "lock", None, "b", false),
        read(3, 12, 13, "lock", Some("a")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    let report = check_ops(vec![
        cas(1, (0, 10), "lock", None, "a", true),
        cas(2, (1, 11), "lock", None, "b", true),
    ]);
    assert_eq!(window(&report), vec![0, 1], "{report}");
}

#[test]
fn a_read_of_a_value_never_written_is_not_linearizable() {
    let report = check_ops(vec![
        done(1, 0, 10, Op::write("k", "a")),
        done(2, 0, 10, Op::write("k", "b")),
        read(3, 0, 10, "k", Some("c")),
    ]);
    // The read alone is already impossible.
    assert_eq!(window(&report), vec![2], "{report}");
}

#[test]
fn reads_of_an_absent_key() {
    let report = check_ops(vec![
        read(1, 0, 1, "k", None),
        done(2, 2, 10, Op::write("k", "a")),
        read(1, 3, 4, "k", None),
        read(3, 11, 12, "k", Some("a")),
        read(4, 0, 1, "other", None),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    let report = check_ops(vec![
        done(2, 2, 10, Op::write("k", "a")),
        read(1, 11, 12, "k", None),
    ]);
    assert_eq!(window(&report), vec![0, 1], "{report}");
}

#[test]
fn deletes() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        delete_op(1, 2, 10, "k"),
        read(2, 3, 4, "k", Some("a")),
        read(3, 5, 6, "k", None),
        read(2, 11, 12, "k", None),
        done(1, 13, 14, Op::write("k", "b")),
        delete_op(2, 13, 20, "k"),
        read(3, 21, 22, "k", Some("b")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    // A value read after its delete completed.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        delete_op(1, 2, 3, "k"),
        read(2, 4, 5, "k", Some("a")),
    ]);
    assert_eq!(window(&report), vec![1, 2], "{report}");
    assert_eq!(context(&report), vec![0]);
    // Deleting an absent key is fine; reading it back absent too.
    let report = check_ops(vec![delete_op(1, 0, 1, "k"), read(1, 2, 3, "k", None)]);
    assert!(report.is_linearizable());
}

#[test]
fn an_unknown_write_that_is_read_later_may_have_happened() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        unknown(2, 2, Op::write("k", "b")),
        read(3, 100, 101, "k", Some("b")),
        read(3, 102, 103, "k", Some("b")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn an_unknown_write_may_take_effect_long_after_its_client_gave_up() {
    // Its return is +∞: it can land after a later acknowledged write.
    let report = check_ops(vec![
        unknown(1, 0, Op::write("k", "late")),
        done(2, 50, 60, Op::write("k", "b")),
        read(3, 70, 71, "k", Some("b")),
        read(3, 80, 81, "k", Some("late")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn an_unknown_write_that_is_never_observed_may_not_have_happened() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        unknown(2, 2, Op::write("k", "b")),
        read(3, 100, 101, "k", Some("a")),
        unknown(2, 102, Op::delete("k")),
        read(3, 110, 111, "k", Some("a")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn an_unknown_write_takes_effect_once() {
    // Once its value was seen, the old value cannot come back.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        unknown(2, 2, Op::write("k", "b")),
        read(3, 10, 11, "k", Some("b")),
        read(3, 12, 13, "k", Some("a")),
    ]);
    assert_eq!(window(&report), vec![2, 3], "{report}");
    assert_eq!(context(&report), vec![0, 1]);
    // Nor can it be seen before it was invoked.
    let report = check_ops(vec![
        read(3, 0, 1, "k", Some("b")),
        unknown(2, 2, Op::write("k", "b")),
    ]);
    assert_eq!(window(&report), vec![0], "{report}");
    assert_eq!(context(&report), Vec::<usize>::new());
}

#[test]
fn unknown_cas_and_reads() {
    // Two unknown CAS from absent: at most one can take effect.
    let report = check_ops(vec![
        unknown(1, 0, Op::cas("k", None, "a")),
        unknown(2, 0, Op::cas("k", None, "b")),
        read(3, 10, 11, "k", Some("a")),
        read(3, 12, 13, "k", Some("b")),
    ]);
    assert!(!report.is_linearizable(), "{report}");
    let report = check_ops(vec![
        unknown(1, 0, Op::cas("k", None, "a")),
        unknown(2, 0, Op::cas("k", None, "b")),
        unknown(3, 0, Op::read("k")),
        read(3, 10, 11, "k", Some("b")),
    ]);
    assert!(report.is_linearizable(), "{report}");
    // The unknown read is dropped: it cannot have changed anything.
    assert_eq!(report.checked, 3);
}

#[test]
fn failed_operations_are_ignored() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "a")),
        failed(2, 2, 3, Op::write("k", "b")),
        read(3, 4, 5, "k", Some("a")),
        failed(2, 6, 7, Op::cas("k", Some("a"), "c")),
        failed(2, 6, 7, Op::delete("k")),
        failed(2, 6, 7, Op::read("k")),
        read(3, 8, 9, "k", Some("a")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    assert_eq!((report.ops, report.checked), (7, 3));
    // A failed write's value must not be seen.
    let report = check_ops(vec![
        failed(2, 0, 100, Op::write("k", "b")),
        read(3, 4, 5, "k", Some("b")),
    ]);
    assert_eq!(window(&report), vec![1], "{report}");
}

#[test]
fn keys_are_checked_independently() {
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("a", "1")),
        done(1, 0, 1, Op::write("b", "1")),
        read(2, 2, 3, "b", Some("2")),
        read(2, 2, 3, "a", Some("1")),
        done(1, 0, 1, Op::write("c", "1")),
        read(2, 2, 3, "c", Some("1")),
    ]);
    let keys: Vec<(&str, bool)> = report
        .keys
        .iter()
        .map(|key| (key.key.as_str(), key.verdict.is_linearizable()))
        .collect();
    assert_eq!(keys, vec![("a", true), ("b", false), ("c", true)]);
    let violation = report.verdict.violation().unwrap();
    assert_eq!((violation.key.as_str(), window(&report)), ("b", vec![2]));
    // A CAS on one key does not see another key's value.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("a", "x")),
        cas(1, (2, 3), "b", Some("x"), "y", true),
    ]);
    assert!(!report.is_linearizable());
}

#[test]
fn the_first_failing_key_is_the_verdict_and_every_key_is_reported() {
    let report = check_ops(vec![
        read(1, 0, 1, "z", Some("?")),
        read(1, 0, 1, "y", Some("?")),
    ]);
    assert_eq!(report.verdict.violation().unwrap().key, "y");
    assert!(report.keys.iter().all(|key| !key.verdict.is_linearizable()));
}

/// Many concurrent writes of distinct values and a read of none of them:
/// the search must try every subset of the writes.
fn hard_history(writes: u64) -> History {
    let mut ops: Vec<_> = (0..writes)
        .map(|i| done(i as u32, 0, 100, Op::write("k", format!("v{i}"))))
        .collect();
    ops.push(read(99, 0, 100, "k", Some("never")));
    ops.push(done(1, 0, 1, Op::write("easy", "x")));
    History::from_operations(ops).unwrap()
}

#[test]
fn a_search_over_budget_is_unknown() {
    let report = check(&hard_history(20), Duration::from_millis(1));
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.unknown_keys().collect::<Vec<_>>(), vec!["k"]);
    let easy = &report.keys[0];
    assert_eq!(
        (easy.key.as_str(), &easy.verdict),
        ("easy", &Verdict::Linearizable)
    );
    assert!(
        report
            .to_string()
            .starts_with("unknown: time budget exceeded on \"k\"")
    );
    // A failing key outranks an unknown one.
    let mut ops = hard_history(20).operations().to_vec();
    ops.push(read(1, 0, 1, "bad", Some("?")));
    let report = check(
        &History::from_operations(ops).unwrap(),
        Duration::from_millis(1),
    );
    assert_eq!(report.verdict.violation().unwrap().key, "bad");
}

#[test]
fn memoization_makes_many_concurrent_writes_tractable() {
    let report = check(&hard_history(12), Duration::from_secs(30));
    let violation = report.verdict.violation().expect("the read is impossible");
    assert_eq!(violation.op_ids().len(), 1, "{report}");
}

#[test]
fn shrinking_can_be_disabled() {
    let history = History::from_operations(vec![
        done(1, 0, 1, Op::write("k", "a")),
        done(1, 2, 3, Op::write("k", "b")),
        read(2, 4, 5, "k", Some("a")),
    ])
    .unwrap();
    let config = Config {
        budget: Duration::from_secs(10),
        shrink_budget: Duration::ZERO,
    };
    let report = check_with(&history, config);
    let violation = report.verdict.violation().unwrap();
    assert_eq!((violation.ops.len(), violation.minimal), (3, false));
    let shrunk = check(&history, Duration::from_secs(10));
    assert_eq!(window(&shrunk), vec![1, 2]);
    assert_eq!(context(&shrunk), vec![0]);
}

#[test]
fn a_value_not_current_during_a_read_in_the_real_run_may_still_be_linearizable() {
    // Real run: write x takes effect at 1, the read at 3 sees x, write y
    // (invoked at 2) takes effect at 9. A read of y is still linearizable:
    // y could have taken effect at 2. So the random tests mutate reads to
    // values that are impossible in every order, not just in the real one.
    let report = check_ops(vec![
        done(1, 0, 1, Op::write("k", "x")),
        done(2, 2, 10, Op::write("k", "y")),
        read(3, 3, 4, "k", Some("y")),
    ]);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
}

#[test]
fn outputs_of_the_wrong_kind_are_rejected() {
    let wrong = done(1, 0, 1, Op::read("k"));
    let error = History::from_operations(vec![wrong]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "operation #0 is a read but completed with a ok output"
    );
    let backwards = crate::support::ok(1, 5, 4, Op::write("k", "v"), Output::Ok);
    assert!(History::from_operations(vec![backwards]).is_err());
}
