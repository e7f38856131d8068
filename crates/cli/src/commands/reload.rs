//! `reload`: ask the agent to reload its configuration files.

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein reload`.
pub(crate) const COMMAND: Command = Command {
    path: &["reload"],
    synopsis: "Triggers the agent to reload configuration files",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein reload

  Causes the agent to reload configurations. This can be used instead
  of sending the SIGHUP signal to the agent.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .put("/v1/agent/reload", Vec::new(), b"")
        .and_then(|r| r.require_ok())
        .context("Error reloading")?;
    info(ctx, "Configuration reload triggered")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn triggers_a_reload() {
        let (out, reqs) = run_against(&["reload"], vec![reply(200, b"")]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Configuration reload triggered\n")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("PUT", "/v1/agent/reload")
        );
        let (out, _) = run_against(&["reload"], vec![reply(500, b"bad config")]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error reloading: Unexpected response code: 500 (bad config)\n"
            )
        );
    }
}
