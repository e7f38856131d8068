//! Saving a history as JSON and checking it again.

use skein_linearizability::{Error, History, Op, check};

use crate::support::{BUDGET, Rng, Workload, cas, done, execute, failed, read, unknown};

#[test]
fn a_saved_history_reads_back_equal_and_checks_the_same() {
    let history = History::from_operations(vec![
        done(1, 0, 1, Op::write("k", "a")),
        cas(2, (2, 3), "k", Some("a"), "b", true),
        cas(2, (2, 3), "j", None, "b", false),
        read(3, 4, 5, "k", Some("a")),
        unknown(4, 6, Op::delete("k")),
        failed(5, 7, 8, Op::write("k", "c")),
    ])
    .unwrap();
    let json = history.to_json().unwrap();
    let again = History::from_json(&json).unwrap();
    assert_eq!(again, history);
    assert_eq!(
        check(&again, BUDGET).verdict,
        check(&history, BUDGET).verdict
    );
    assert!(!check(&again, BUDGET).is_linearizable());
}

#[test]
fn random_histories_round_trip() {
    for seed in 0..20 {
        let mut rng = Rng::new(seed);
        let workload = Workload {
            clients: 4,
            keys: 2,
            ops: 200,
            values: 3,
            max_latency: 20,
            mean_gap: 5,
            unknown_percent: 10,
            failed_percent: 10,
        };
        let history = execute(&mut rng, workload).history;
        assert_eq!(
            History::from_json(&history.to_json().unwrap()).unwrap(),
            history
        );
    }
}

#[test]
fn the_file_format() {
    let json = r#"{
      "version": 1,
      "operations": [
        {"client": 1, "op": {"type": "write", "key": "k", "value": "a"},
         "invoke": 0, "complete": 10, "outcome": {"ok": "ok"}},
        {"client": 2, "op": {"type": "cas", "key": "k", "expect": null, "value": "b"},
         "invoke": 5, "complete": 15, "outcome": {"ok": {"cas": false}}},
        {"client": 3, "op": {"type": "read", "key": "k"},
         "invoke": 20, "complete": 30, "outcome": {"ok": {"read": "a"}}},
        {"client": 4, "op": {"type": "delete", "key": "k"},
         "invoke": 40, "outcome": "unknown"},
        {"client": 5, "op": {"type": "read", "key": "k"},
         "invoke": 40, "complete": 41, "outcome": "failed"}
      ]
    }"#;
    let history = History::from_json(json).unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(
        history.operations()[1],
        cas(2, (5, 15), "k", None, "b", false)
    );
    assert_eq!(history.operations()[3].complete, None);
    assert!(check(&history, BUDGET).is_linearizable());
}

#[test]
fn bad_files_are_errors() {
    assert!(matches!(History::from_json("{"), Err(Error::Json(_))));
    assert!(matches!(
        History::from_json(r#"{"version": 2, "operations": []}"#),
        Err(Error::UnsupportedVersion { version: 2 })
    ));
    let mismatch = r#"{"version": 1, "operations": [
        {"client": 1, "op": {"type": "read", "key": "k"},
         "invoke": 0, "complete": 1, "outcome": {"ok": "ok"}}]}"#;
    let error = History::from_json(mismatch).unwrap_err();
    assert!(matches!(error, Error::OutputMismatch { .. }), "{error}");
    let backwards = r#"{"version": 1, "operations": [
        {"client": 1, "op": {"type": "delete", "key": "k"},
         "invoke": 5, "complete": 1, "outcome": {"ok": "ok"}}]}"#;
    let error = History::from_json(backwards).unwrap_err();
    assert_eq!(
        error.to_string(),
        "operation #0 completed at 1ns, before its invoke at 5ns"
    );
    let no_time = r#"{"version": 1, "operations": [
        {"client": 1, "op": {"type": "delete", "key": "k"},
         "invoke": 5, "outcome": {"ok": "ok"}}]}"#;
    assert!(matches!(
        History::from_json(no_time),
        Err(Error::MissingCompletionTime { .. })
    ));
}
