//! `leave`: make the agent leave the cluster gracefully and shut down.

use crate::commands::{Command, Ctx, emit, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein leave`.
pub(crate) const COMMAND: Command = Command {
    path: &["leave"],
    synopsis: "Gracefully leaves the skein cluster and shuts down",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein leave [options]

  Causes the agent to gracefully leave the skein cluster and shutdown.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if !flags.args().is_empty() {
        // Consul prints the error, then its help on stdout.
        let usage = format!("{}\n{}", HELP.trim_end(), self::flags().usage());
        emit(ctx, usage.as_bytes())?;
        return Err(Error::msg(format!(
            "Error found unexpected args: [{}]",
            flags.args().join(" ")
        )));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .put("/v1/agent/leave", Vec::new(), b"")
        .and_then(|r| r.require_ok())
        .context("Error leaving")?;
    info(ctx, "Graceful leave complete")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn leaves_gracefully() {
        let (out, reqs) = run_against(&["leave"], vec![reply(200, b"")]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Graceful leave complete\n")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("PUT", "/v1/agent/leave")
        );
        let (out, _) = run_against(&["leave"], vec![reply(403, b"Permission denied")]);
        assert_eq!(
            out.stderr,
            "Error leaving: Unexpected response code: 403 (Permission denied)\n"
        );
    }

    #[test]
    fn rejects_arguments() {
        let (out, reqs) = run_against(&["leave", "a", "b"], vec![]);
        assert_eq!(out.code, 1);
        assert!(reqs.is_empty());
        assert_eq!(out.stderr, "Error found unexpected args: [a b]\n");
        assert!(out.stdout.starts_with("Usage: skein leave [options]\n"));
    }
}
