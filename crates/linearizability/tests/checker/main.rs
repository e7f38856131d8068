//! Tests of the linearizability checker through its public API: classic
//! histories, randomized properties against a real in-memory KV and a
//! brute-force checker, the recorder, JSON files and performance.

// Helpers outside `#[test]` functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod classic;
mod files;
mod perf;
mod property;
mod recorder;
mod support;
