//! A closed-loop load generator: N client threads, each with its own keep-alive HTTP
//! agent, issuing requests back to back for a fixed time and timing every one.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use ureq::Agent;

/// One phase's results.
pub(crate) struct Phase {
    /// Successful operations per client (for picking existing keys afterwards).
    pub(crate) per_client: Vec<usize>,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
    /// Latencies of the successful operations, sorted.
    pub(crate) latencies: Vec<Duration>,
}

impl Phase {
    /// Successful operations per second.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile latency in milliseconds (nearest rank), 0 if nothing succeeded.
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies, p).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// The `p`-th percentile of `sorted` (nearest rank), `None` if it is empty.
pub(crate) fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied()
}

struct ClientResult {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// A fresh HTTP agent: keep-alive, non-2xx statuses returned as responses, 10 s timeout.
pub(crate) fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Runs `op(agent, client, i)` from `clients` threads for `duration`.
pub(crate) fn run<F>(clients: usize, duration: Duration, op: F) -> Phase
where
    F: Fn(&Agent, usize, usize) -> Result<()> + Sync,
{
    let barrier = Barrier::new(clients + 1);
    let (results, elapsed) = thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || client(c, duration, barrier, op))
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<ClientResult> =
            handles.into_iter().filter_map(|h| h.join().ok()).collect();
        (results, start.elapsed())
    });
    merge(results, elapsed)
}

fn client<F>(c: usize, duration: Duration, barrier: &Barrier, op: &F) -> ClientResult
where
    F: Fn(&Agent, usize, usize) -> Result<()>,
{
    let agent = agent();
    let mut result = ClientResult {
        latencies: Vec::with_capacity(1 << 16),
        errors: 0,
        first_error: None,
    };
    barrier.wait();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < duration {
        let t = Instant::now();
        match op(&agent, c, i) {
            Ok(()) => {
                result.latencies.push(t.elapsed());
                i += 1;
            }
            Err(err) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| format!("{err:#}"));
            }
        }
    }
    result
}

fn merge(results: Vec<ClientResult>, elapsed: Duration) -> Phase {
    let mut phase = Phase {
        per_client: results.iter().map(|r| r.latencies.len()).collect(),
        errors: results.iter().map(|r| r.errors).sum(),
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        elapsed,
        latencies: Vec::new(),
    };
    for r in results {
        phase.latencies.extend(r.latencies);
    }
    phase.latencies.sort_unstable();
    phase
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let phase = Phase {
            per_client: vec![100],
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(1),
            latencies: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(phase.percentile_ms(50.0), 50.0);
        assert_eq!(phase.percentile_ms(99.0), 99.0);
        assert_eq!(phase.ops_per_sec(), 100.0);
    }
}
