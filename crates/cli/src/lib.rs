//! skein's command-line client: Consul's CLI nouns and verbs over the HTTP API v1.
//!
//! Every subcommand except `agent` lands here. Commands are clients of the
//! agent's HTTP API (`/v1/kv`, `/v1/catalog`, `/v1/agent`, `/v1/health`,
//! `/v1/snapshot`, `/v1/operator/raft/...`, `/v1/config`, `/v1/connect/intentions`,
//! `/v1/connect/ca/configuration`) and print what Consul's `consul`
//! binary prints, with the same flags and exit codes. `watch` loops on
//! blocking queries and may run a handler through `$SHELL -c` (default `/bin/sh`).
//! `monitor` streams `/v1/agent/monitor` line by line until the agent ends it.
//! `connect envoy` builds an Envoy bootstrap from the proxy's registration
//! and replaces the process with `envoy` (or prints it with `-bootstrap`).
//!
//! ```text
//!  args ──► commands::dispatch ──► flags::FlagSet::parse ──► command `run`
//!                                                              │
//!                      http::Client (ureq, plain HTTP) ◄───────┘
//!                      -http-addr / SKEIN_HTTP_ADDR / CONSUL_HTTP_ADDR
//!                      -token     / SKEIN_HTTP_TOKEN / CONSUL_HTTP_TOKEN
//! ```
//!
//! What it does not own: the agent itself (`skein agent`, run by the binary),
//! TLS to the agent (only `http://` addresses are accepted), and Consul
//! Enterprise flags (`-namespace`, `-partition`).
//!
//! Flags follow Go's `flag` package: `-flag=value`, `-flag value`, `--flag`,
//! bare bool flags, and flags before positional arguments.

use std::io::{Read, Write};
use std::process::ExitCode;

mod commands;
mod env;
mod error;
mod flags;
mod format;
mod http;

/// Runs the CLI with `args` (the words after the program name) against the
/// process environment and standard streams; returns the process exit code.
pub fn run(args: Vec<String>) -> ExitCode {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = run_with(&args, &lookup, &mut stdin, &mut stdout, &mut stderr);
    let _ = stdout.flush();
    ExitCode::from(code)
}

/// Runs the CLI with injected environment lookups and streams; returns the
/// exit code (0 success, 1 failure or usage error, as Consul).
///
/// `env` answers environment variable lookups (`CONSUL_HTTP_ADDR`, …), so
/// callers and tests never need to modify the process environment.
pub fn run_with(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let mut ctx = commands::Ctx {
        env: env::Env::new(env),
        stdin,
        out: stdout,
        err: stderr,
    };
    commands::dispatch(args, &mut ctx)
}
