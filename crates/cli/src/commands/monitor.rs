//! `monitor`: stream the agent's log lines (`GET /v1/agent/monitor`) to
//! stdout, one line at a time, until interrupted or the agent ends the
//! stream (Consul's `monitor`).
//!
//! When the agent ends the stream (it shut down, or the connection broke),
//! Consul's notice is printed and the command exits 0; Consul exits 1 there.

use std::io::BufRead;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein monitor`.
pub(crate) const COMMAND: Command = Command {
    path: &["monitor"],
    synopsis: "Stream logs from a skein agent",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein monitor [options]

  Attaches to a skein agent and prints its log messages as they occur, until
  interrupted or until the agent ends the stream. -log-level sets the lowest
  level shown; messages below the agent's own log level are not available.
";

/// Printed when the agent ends the stream (Consul's wording).
const REMOTE_ENDED: &str = "Remote side ended the monitor! This usually means that the\n\
                            remote side has exited or crashed.";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("log-level", "INFO", "Log level of the agent.")
        .bool("log-json", "Output logs in JSON format.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let mut query: Query = Vec::new();
    let level = flags.str("log-level");
    if !level.is_empty() {
        query.push(("loglevel", level.to_owned()));
    }
    if flags.bool("log-json") {
        query.push(("logjson", "true".to_owned()));
    }
    let mut stream = client
        .get_stream("/v1/agent/monitor", query)
        .context("Error starting monitor")?;
    let mut line = Vec::new();
    // A read error ends the stream as the end of the body does, as in
    // Consul's line scanner.
    while matches!(stream.read_until(b'\n', &mut line), Ok(n) if n > 0) {
        print_line(ctx, &line)?;
        line.clear();
    }
    info(ctx, "")?;
    info(ctx, REMOTE_ENDED)
}

/// Prints one streamed line without its line ending; an empty line becomes
/// a single space, as Consul's API client delivers it.
fn print_line(ctx: &mut Ctx<'_>, raw: &[u8]) -> Result<()> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = String::from_utf8_lossy(raw);
    info(ctx, if text.is_empty() { " " } else { &text })?;
    ctx.out
        .flush()
        .map_err(|e| Error::io("Error writing output", e))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const ENDED: &str = "\nRemote side ended the monitor! This usually means that the\n\
                         remote side has exited or crashed.\n";

    #[test]
    fn streams_lines_until_the_agent_ends_the_stream() {
        let body = b"[INFO] agent: one\r\n\n[DEBUG] http: two";
        let (out, reqs) = run_against(&["monitor"], vec![reply(200, body)]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        assert_eq!(
            out.stdout,
            format!("[INFO] agent: one\n \n[DEBUG] http: two\n{ENDED}")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("GET", "/v1/agent/monitor?loglevel=INFO")
        );
    }

    #[test]
    fn sends_level_json_and_token() {
        let args = ["monitor", "-log-level=debug", "-log-json", "-token=secret"];
        let (out, reqs) = run_against(&args, vec![reply(200, b"{\"@level\":\"debug\"}\n")]);
        assert_eq!(out.stdout, format!("{{\"@level\":\"debug\"}}\n{ENDED}"));
        assert_eq!(
            reqs[0].target,
            "/v1/agent/monitor?logjson=true&loglevel=debug"
        );
        assert_eq!(reqs[0].header("X-Consul-Token"), Some("secret"));
    }

    #[test]
    fn a_refused_stream_is_an_error() {
        let (out, _) = run_against(
            &["monitor", "-log-level=loud"],
            vec![reply(400, b"Unknown log level: loud\n")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (
                1,
                "",
                "Error starting monitor: Unexpected response code: 400 (Unknown log level: loud)\n"
            )
        );
    }
}
