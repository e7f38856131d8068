//! Randomized properties: histories of a real KV store are linearizable,
//! reads mutated to impossible values are not, and the checker agrees with
//! a brute-force search on small random histories.

use std::collections::HashMap;

use skein_linearizability::{
    ClientId, History, Op, OpId, Operation, Outcome, Output, Report, check,
};

use crate::support::{
    BUDGET, Rng, Workload, brute_force, brute_force_relaxed, execute, impossible_value, mutate,
    reads,
};

fn random_workload(rng: &mut Rng) -> Workload {
    Workload {
        clients: rng.range(1, 6) as u32,
        keys: rng.range(1, 3) as u32,
        ops: rng.range(10, 150) as usize,
        values: *rng.pick(&[0, 2, 3, 5]),
        max_latency: rng.range(0, 50),
        mean_gap: rng.range(1, 20),
        unknown_percent: *rng.pick(&[0, 5, 15]),
        failed_percent: *rng.pick(&[0, 5, 10]),
    }
}

#[test]
fn random_executions_of_a_real_kv_store_are_linearizable() {
    let mut unknown = 0;
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let workload = random_workload(&mut rng);
        let execution = execute(&mut rng, workload);
        // The generator's own invariant: each effect lies in its interval.
        for ((_, op), at) in execution.history.iter().zip(&execution.applied_at) {
            match (&op.outcome, at) {
                (Outcome::Ok(_), Some(at)) => {
                    assert!((op.invoke..=op.complete.unwrap()).contains(at))
                }
                (Outcome::Unknown, Some(at)) => assert!(op.invoke <= *at),
                (Outcome::Unknown | Outcome::Failed, None) => {}
                (outcome, at) => panic!("seed {seed}: {outcome:?} applied at {at:?}"),
            }
        }
        let report = check(&execution.history, BUDGET);
        assert!(
            report.is_linearizable(),
            "seed {seed} {workload:?}: {report}"
        );
        unknown += execution
            .history
            .operations()
            .iter()
            .filter(|op| op.outcome == Outcome::Unknown)
            .count();
    }
    assert!(
        unknown > 500,
        "the executions should exercise unknown outcomes"
    );
}

/// Asserts that `report` blames the mutated read, and that its window is
/// not linearizable on its own either.
fn assert_blames(report: &Report, history: &History, read: OpId, context: &str) {
    let violation = report.verdict.violation();
    let violation = violation.unwrap_or_else(|| panic!("{context}: {report}"));
    assert_eq!(
        violation.key,
        history.get(read).unwrap().op.key(),
        "{context}"
    );
    assert!(violation.minimal, "{context}: {report}");
    assert!(violation.op_ids().contains(&read), "{context}: {report}");
    let alone = History::from_operations(violation.ops.iter().map(|(_, op)| op.clone()).collect());
    let alone = check(&alone.unwrap(), BUDGET);
    assert!(
        !alone.is_linearizable(),
        "{context}: the window alone passes"
    );
}

#[test]
fn a_read_of_a_value_never_written_is_caught_and_blamed() {
    let mut mutated = 0;
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let workload = random_workload(&mut rng);
        let execution = execute(&mut rng, workload);
        let reads = reads(&execution.history);
        if reads.is_empty() {
            continue;
        }
        let read = *rng.pick(&reads);
        let history = mutate(&execution.history, read, Some("never-written".into()));
        let report = check(&history, BUDGET);
        assert_blames(&report, &history, read, &format!("seed {seed}"));
        // Such a read fails on its own: it is the whole window.
        assert_eq!(report.verdict.violation().unwrap().op_ids(), vec![read]);
        mutated += 1;
    }
    assert!(mutated > 250);
}

#[test]
fn a_stale_read_of_an_overwritten_value_is_caught_and_blamed() {
    let mut mutated = 0;
    for seed in 0..400 {
        let mut rng = Rng::new(1_000 + seed);
        let mut workload = random_workload(&mut rng);
        workload.values = *rng.pick(&[0, 3, 5]);
        let execution = execute(&mut rng, workload);
        let reads = reads(&execution.history);
        let Some((read, value)) = (0..10).find_map(|_| {
            let read = *rng.pick(reads.get(..).filter(|r| !r.is_empty())?);
            Some((read, impossible_value(&execution.history, read, &mut rng)?))
        }) else {
            continue;
        };
        let history = mutate(&execution.history, read, value.clone());
        let report = check(&history, BUDGET);
        assert_blames(&report, &history, read, &format!("seed {seed}, {value:?}"));
        mutated += 1;
    }
    assert!(mutated > 150, "only {mutated} stale reads found");
}

/// A small random history with random (often impossible) outputs.
fn small_history(rng: &mut Rng, max_ops: u64, unknown_percent: u64) -> History {
    let n = rng.range(1, max_ops);
    let values = ["a", "b"];
    let ops = (0..n)
        .map(|i| {
            let key = if rng.chance(80) { "x" } else { "y" };
            let (op, output) = match rng.below(4) {
                0 => (Op::write(key, *rng.pick(&values)), Output::Ok),
                1 => {
                    let expect = [None, Some("a"), Some("b")][rng.below(3) as usize];
                    let op = Op::cas(key, expect, *rng.pick(&values));
                    (op, Output::Cas(rng.chance(50)))
                }
                2 => {
                    let value = [None, Some("a"), Some("b")][rng.below(3) as usize];
                    (Op::read(key), Output::read(value))
                }
                _ => (Op::delete(key), Output::Ok),
            };
            let invoke = rng.range(0, 15);
            let roll = rng.below(100);
            let outcome = if roll < unknown_percent {
                Outcome::Unknown
            } else if roll < unknown_percent + 10 {
                Outcome::Failed
            } else {
                Outcome::Ok(output)
            };
            Operation {
                client: ClientId(i as u32),
                op,
                invoke,
                complete: Some(invoke + rng.range(0, 6)),
                outcome,
            }
        })
        .collect();
    History::from_operations(ops).unwrap()
}

/// Checks `history` against the brute force, and a failing window's
/// minimality too; returns the verdict.
fn agree_with_brute_force(history: &History, context: &str) -> bool {
    let report = check(history, BUDGET);
    let expected = brute_force(history);
    assert_eq!(
        report.is_linearizable(),
        expected,
        "{context}: {history:#?}\n{report}"
    );
    if let Some(violation) = report.verdict.violation() {
        // The window fails with everything else relaxed, and (being
        // minimal) passes once any one of its operations is relaxed too.
        let window = violation.op_ids();
        assert!(violation.minimal);
        assert!(
            !brute_force_relaxed(history, Some(&window)),
            "{context}: {report}"
        );
        for id in &window {
            let smaller: Vec<OpId> = window.iter().copied().filter(|w| w != id).collect();
            let passes = brute_force_relaxed(history, Some(&smaller));
            assert!(passes, "{context}: {id} is not needed in\n{report}");
        }
    }
    expected
}

#[test]
fn the_checker_agrees_with_brute_force_on_small_random_histories() {
    let mut verdicts: HashMap<bool, usize> = HashMap::new();
    for seed in 0..6_000 {
        let history = small_history(&mut Rng::new(seed), 7, 15);
        let linearizable = agree_with_brute_force(&history, &format!("seed {seed}"));
        *verdicts.entry(linearizable).or_default() += 1;
    }
    assert!(
        verdicts[&true] > 600 && verdicts[&false] > 600,
        "{verdicts:?}"
    );
}

#[test]
fn the_checker_agrees_with_brute_force_when_most_outcomes_are_unknown() {
    let mut verdicts: HashMap<bool, usize> = HashMap::new();
    for seed in 0..4_000 {
        let history = small_history(&mut Rng::new(10_000 + seed), 8, 50);
        let linearizable = agree_with_brute_force(&history, &format!("seed {seed}"));
        *verdicts.entry(linearizable).or_default() += 1;
    }
    assert!(
        verdicts[&true] > 300 && verdicts[&false] > 300,
        "{verdicts:?}"
    );
}
