//! `skein-sim [--seed N] [--seeds N] [--seconds N] [--non-durable]`: runs
//! seeds of the Raft simulation, one line per seed and a summary.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use skein_sim::SimOptions;

struct Args {
    first: u64,
    seeds: u64,
    options: SimOptions,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        first: 1,
        seeds: 1,
        options: SimOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || -> Result<u64, String> {
            let v = it.next().ok_or(format!("{arg} needs a value"))?;
            v.parse().map_err(|e| format!("{arg} {v}: {e}"))
        };
        match arg.as_str() {
            "--seed" => args.first = value()?,
            "--seeds" => args.seeds = value()?,
            "--seconds" => args.options.chaos = Duration::from_secs(value()?),
            "--non-durable" => args.options.durable_storage = false,
            other => {
                return Err(format!(
                    "unknown option {other:?} (usage: skein-sim [--seed N] [--seeds N] [--seconds N] [--non-durable])"
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("skein-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut failed = Vec::new();
    for seed in args.first..args.first.saturating_add(args.seeds) {
        match skein_sim::run(seed, &args.options) {
            Ok(report) => println!("{report}"),
            Err(violation) => {
                println!("seed {seed} FAILED");
                eprintln!("{violation}");
                if args.options != SimOptions::default() {
                    eprintln!("(this run used non-default options: {:?})", args.options);
                }
                failed.push(seed);
            }
        }
    }
    println!(
        "{} seeds, {} failed {:?}, {:.1}s",
        args.seeds,
        failed.len(),
        failed,
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
