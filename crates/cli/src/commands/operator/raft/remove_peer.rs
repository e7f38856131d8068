//! `operator raft remove-peer`: remove a server from the Raft configuration.

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein operator raft remove-peer`.
pub(crate) const COMMAND: Command = Command {
    path: &["operator", "raft", "remove-peer"],
    synopsis: "Remove a Consul server from the Raft configuration",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein operator raft remove-peer [options]

  Removes a server from the Raft configuration, for example a server that
  failed and will not come back. Give its address (IP:port) or its ID as
  `operator raft list-peers` shows them.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string(
            "address",
            "",
            "The address to remove from the Raft configuration.",
        )
        .string("id", "", "The ID to remove from the Raft configuration.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let (address, id) = (flags.str("address"), flags.str("id"));
    let (query, what) = match (address.is_empty(), id.is_empty()) {
        (false, true) => (
            vec![("address", address.to_owned())],
            format!("address {address:?}"),
        ),
        (true, false) => (vec![("id", id.to_owned())], format!("ID {id:?}")),
        _ => {
            return Err(Error::Flag(
                "Error removing peer: exactly one of -address or -id must be given".into(),
            ));
        }
    };
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .delete("/v1/operator/raft/peer", query)
        .and_then(|r| r.require_ok())
        .context("Error removing peer")?;
    info(ctx, &format!("Removed peer with {what}"))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn removes_by_address_or_id() {
        let (out, reqs) = run_against(
            &["operator", "raft", "remove-peer", "-address=10.0.0.9:8300"],
            vec![reply(200, b"")],
        );
        assert_eq!(reqs[0].method, "DELETE");
        assert_eq!(
            reqs[0].target,
            "/v1/operator/raft/peer?address=10.0.0.9%3A8300"
        );
        assert_eq!(out.stdout, "Removed peer with address \"10.0.0.9:8300\"\n");
        let (_, reqs) = run_against(
            &["operator", "raft", "remove-peer", "-id=42"],
            vec![reply(200, b"")],
        );
        assert_eq!(reqs[0].target, "/v1/operator/raft/peer?id=42");
    }

    #[test]
    fn needs_exactly_one_target_and_reports_api_errors() {
        let (out, reqs) = run_against(&["operator", "raft", "remove-peer"], vec![]);
        assert!(reqs.is_empty());
        assert!(
            out.stderr.contains("exactly one of -address or -id"),
            "{}",
            out.stderr
        );
        let (out, _) = run_against(
            &["operator", "raft", "remove-peer", "-id=7"],
            vec![reply(
                500,
                b"id \"7\" was not found in the Raft configuration",
            )],
        );
        assert_eq!(
            out.stderr,
            "Error removing peer: Unexpected response code: 500 (id \"7\" was not found in the Raft configuration)\n"
        );
    }
}
