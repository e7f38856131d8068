//! Times leaf signing: `cargo run -p skein-ca --example sign_leaves -- [N]`.
//!
//! Prints one line: leaves signed, total time, leaves per second.

#![allow(clippy::print_stdout)] // an example's output is its point

use std::time::{Instant, SystemTime};

use skein_ca::bench::SigningBench;

fn main() -> Result<(), skein_ca::Error> {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let bench = SigningBench::new(n, SystemTime::now())?;
    let start = Instant::now();
    let signed = bench.sign_all()?;
    let elapsed = start.elapsed();
    let rate = signed as f64 / elapsed.as_secs_f64();
    println!("signed {signed} leaves in {elapsed:.2?} ({rate:.0}/s)");
    Ok(())
}
