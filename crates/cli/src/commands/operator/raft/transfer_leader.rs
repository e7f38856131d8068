//! `operator raft transfer-leader`: move Raft leadership to another server.

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein operator raft transfer-leader`.
pub(crate) const COMMAND: Command = Command {
    path: &["operator", "raft", "transfer-leader"],
    synopsis: "Transfer raft leadership to another server",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein operator raft transfer-leader [options]

  Hands Raft leadership to another voting server: the one given by -id (as
  `operator raft list-peers` shows it), or any server that is up to date.
  Writes pause for the hand-over (about one election timeout).
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new()).string(
        "id",
        "",
        "The ID of the server to transfer leadership to.",
    )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let id = flags.str("id");
    let query = if id.is_empty() {
        Vec::new()
    } else {
        vec![("id", id.to_owned())]
    };
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .post("/v1/operator/raft/transfer-leader", query, b"")
        .and_then(|r| r.require_ok())
        .context("Error transferring leadership")?;
    info(ctx, "Success")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn posts_with_or_without_a_target() {
        let (out, reqs) = run_against(
            &["operator", "raft", "transfer-leader", "-id=42"],
            vec![reply(200, br#"{"Success":true}"#)],
        );
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].target, "/v1/operator/raft/transfer-leader?id=42");
        assert_eq!(out.stdout, "Success\n");
        let (_, reqs) = run_against(
            &["operator", "raft", "transfer-leader"],
            vec![reply(200, br#"{"Success":true}"#)],
        );
        assert_eq!(reqs[0].target, "/v1/operator/raft/transfer-leader");
    }

    #[test]
    fn reports_api_errors() {
        let (out, _) = run_against(
            &["operator", "raft", "transfer-leader"],
            vec![reply(
                500,
                b"cannot transfer leadership: no other voter in the Raft configuration",
            )],
        );
        assert_eq!(
            out.stderr,
            "Error transferring leadership: Unexpected response code: 500 (cannot transfer leadership: no other voter in the Raft configuration)\n"
        );
    }
}
