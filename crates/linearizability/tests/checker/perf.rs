//! The checker on histories the size of a real Jepsen-style run.

use std::time::{Duration, Instant};

use skein_linearizability::{Config, History, OpId, Report, check, check_with};

use crate::support::{Rng, Workload, execute, impossible_value, mutate, reads};

/// 5,000 operations on 5 keys by 8 clients, each operation open for up to
/// 200 time units around its effect while one takes effect every 10 on
/// average: most of the time all 8 clients have an operation in flight.
fn workload(values: u32, unknown_percent: u64) -> Workload {
    Workload {
        clients: 8,
        keys: 5,
        ops: 5_000,
        values,
        max_latency: 100,
        mean_gap: 10,
        unknown_percent,
        failed_percent: 1,
    }
}

/// Debug builds on a busy 2-core machine: the checks take well under this.
const LIMIT: Duration = Duration::from_secs(3);

/// The mean and largest number of operations in flight when one is
/// invoked (unknown ones count until their client gave up).
fn overlap(history: &History) -> (f64, usize) {
    let ops = history.operations();
    let in_flight: Vec<usize> = ops
        .iter()
        .map(|op| {
            let open = |other: &&skein_linearizability::Operation| {
                other.invoke <= op.invoke && other.complete.is_none_or(|c| c >= op.invoke)
            };
            ops.iter().filter(open).count()
        })
        .collect();
    let mean = in_flight.iter().sum::<usize>() as f64 / in_flight.len() as f64;
    (mean, in_flight.into_iter().max().unwrap_or(0))
}

fn timed_check(history: &History) -> (Report, Duration) {
    let started = Instant::now();
    let report = check(history, Duration::from_secs(60));
    (report, started.elapsed())
}

#[test]
fn five_thousand_operations_check_quickly() {
    for (seed, values, unknown) in [(1, 0, 1), (2, 3, 1), (3, 10, 1), (4, 0, 5)] {
        let history = execute(&mut Rng::new(seed), workload(values, unknown)).history;
        let (report, elapsed) = timed_check(&history);
        let (mean, max) = overlap(&history);
        let values = if values == 0 {
            "unique".to_owned()
        } else {
            values.to_string()
        };
        println!(
            "{} ops, values {values}, {unknown}% unknown, {mean:.1} in flight (max {max}): \
             {} in {elapsed:?}",
            history.len(),
            report.verdict,
        );
        for key in &report.keys {
            println!("  key {:?}: {} ops in {:?}", key.key, key.ops, key.elapsed);
        }
        assert!(report.is_linearizable(), "{report}");
        assert!(elapsed < LIMIT, "took {elapsed:?}");
    }
}

#[test]
fn a_read_of_a_bogus_value_among_five_thousand_operations_is_found_quickly() {
    let history = execute(&mut Rng::new(5), workload(0, 1)).history;
    let read = reads(&history)
        .into_iter()
        .find(|id| id.0 >= 2_500)
        .unwrap();
    let history = mutate(&history, read, Some("bogus".into()));
    let (report, elapsed) = timed_check(&history);
    println!("bogus read: {report}");
    let violation = report.verdict.violation().expect("the bogus read");
    assert_eq!(violation.op_ids(), vec![OpId(read.0)]);
    assert!(elapsed < LIMIT, "took {elapsed:?}");
}

#[test]
fn a_stale_read_among_five_thousand_operations_is_found_quickly_and_shrunk() {
    for (seed, values, unknown) in [(6, 0, 1), (7, 3, 1), (8, 0, 5), (9, 10, 5)] {
        let mut rng = Rng::new(seed);
        let history = execute(&mut rng, workload(values, unknown)).history;
        let (read, value) = reads(&history)
            .into_iter()
            .filter(|id| id.0 >= 2_500)
            .find_map(|read| Some((read, impossible_value(&history, read, &mut rng)?)))
            .unwrap();
        let history = mutate(&history, read, value);
        let budget = Duration::from_secs(60);
        let config = |shrink_budget| Config {
            budget,
            shrink_budget,
        };
        let started = Instant::now();
        let found = check_with(&history, config(Duration::ZERO));
        let found_in = started.elapsed();
        // Shrinking runs a search per candidate window; its own budget
        // bounds it, and a window cut short is still a failing one.
        let started = Instant::now();
        let report = check_with(&history, config(Duration::from_secs(2)));
        let shrunk_in = started.elapsed();
        println!(
            "stale read, values {values}, {unknown}% unknown: found in {found_in:?}, \
             shrunk in {shrunk_in:?}\n{report}"
        );
        let violation = report.verdict.violation().expect("the stale read");
        assert_eq!(
            found.verdict.violation().map(|v| &v.key),
            Some(&violation.key)
        );
        assert!(violation.op_ids().contains(&read));
        assert!(found_in < LIMIT, "took {found_in:?}");
    }
}
