//! The recorder, filled from several threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;

use skein_linearizability::{ClientId, Error, Op, OpId, Outcome, Output, Verdict, check};

use crate::support::{BUDGET, Rng, apply};

#[test]
fn threads_running_against_a_locked_map_record_a_linearizable_history() {
    let recorder = skein_linearizability::Recorder::new();
    let store: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let threads: Vec<_> = (0..8u32)
        .map(|client| {
            let (recorder, store) = (recorder.clone(), store.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(u64::from(client));
                for i in 0..150 {
                    let key = format!("k{}", rng.below(3));
                    let value = format!("c{client}-{i}");
                    let op = match rng.below(4) {
                        0 => Op::read(key),
                        1 => Op::write(key, value),
                        2 => Op::cas(key, Some(&format!("c{}-{}", rng.below(8), i)), value),
                        _ => Op::delete(key),
                    };
                    let id = recorder.invoke(ClientId(client), op.clone());
                    let outcome = match rng.below(20) {
                        // Timed out after taking effect, or before.
                        0 => {
                            apply(&mut store.lock().unwrap(), &op);
                            Outcome::Unknown
                        }
                        1 => Outcome::Unknown,
                        2 => Outcome::Failed,
                        _ => Outcome::Ok(apply(&mut store.lock().unwrap(), &op)),
                    };
                    thread::yield_now();
                    recorder.complete(id, outcome).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let history = recorder.finish();
    assert_eq!(history.len(), 8 * 150);
    let report = check(&history, BUDGET);
    assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
    assert_eq!(report.keys.len(), 3);
}

#[test]
fn a_store_that_acknowledges_a_write_it_dropped_is_caught() {
    let recorder = skein_linearizability::Recorder::new();
    let mut store = HashMap::new();
    let id = recorder.invoke(ClientId(1), Op::write("k", "a"));
    recorder
        .complete(id, Outcome::Ok(apply(&mut store, &Op::write("k", "a"))))
        .unwrap();
    // The second write is acknowledged but never applied.
    let id = recorder.invoke(ClientId(1), Op::write("k", "b"));
    recorder.complete(id, Outcome::Ok(Output::Ok)).unwrap();
    let id = recorder.invoke(ClientId(2), Op::read("k"));
    recorder
        .complete(id, Outcome::Ok(apply(&mut store, &Op::read("k"))))
        .unwrap();
    let report = check(&recorder.finish(), BUDGET);
    let violation = report.verdict.violation().expect("lost write");
    assert_eq!(violation.op_ids(), vec![OpId(1), OpId(2)]);
}

#[test]
fn recorder_errors_and_pending_operations() {
    let recorder = skein_linearizability::Recorder::default();
    let read = recorder.invoke(7, Op::read("k"));
    let write = recorder.invoke(8, Op::write("k", "v"));
    assert!(matches!(
        recorder.complete(read, Outcome::Ok(Output::Cas(true))),
        Err(Error::OutputMismatch {
            op: "read",
            output: "cas",
            ..
        })
    ));
    recorder
        .complete(read, Outcome::Ok(Output::read(None)))
        .unwrap();
    assert!(matches!(
        recorder.complete(read, Outcome::Failed),
        Err(Error::AlreadyCompleted { id }) if id == read
    ));
    assert!(matches!(
        recorder.complete(OpId(9), Outcome::Failed),
        Err(Error::UnknownOp { id: OpId(9) })
    ));
    // The write never completes: it is unknown, with no completion time.
    let history = recorder.finish();
    let pending = history.get(write).unwrap();
    assert_eq!(
        (&pending.outcome, pending.complete),
        (&Outcome::Unknown, None)
    );
    assert_eq!(pending.client, ClientId(8));
    let done = history.get(read).unwrap();
    assert!(done.complete.unwrap() >= done.invoke);
    assert!(check(&history, BUDGET).is_linearizable());
}

#[test]
fn explicit_times_for_simulated_clocks() {
    let recorder = skein_linearizability::Recorder::new();
    let write = recorder.invoke_at(1, Op::write("k", "v"), 100);
    let read = recorder.invoke_at(2, Op::read("k"), 300);
    recorder
        .complete_at(write, Outcome::Ok(Output::Ok), 200)
        .unwrap();
    recorder
        .complete_at(read, Outcome::Ok(Output::read(None)), 400)
        .unwrap();
    assert!(matches!(
        recorder.complete_at(
            recorder.invoke_at(3, Op::delete("j"), 50),
            Outcome::Failed,
            40
        ),
        Err(Error::CompletedBeforeInvoked {
            invoke: 50,
            complete: 40,
            ..
        })
    ));
    let report = check(&recorder.finish(), BUDGET);
    assert_eq!(
        report.verdict.violation().unwrap().op_ids(),
        vec![write, read]
    );
}
