//! `force-leave`: mark a failed member as left.

use crate::commands::{Command, Ctx};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein force-leave`.
pub(crate) const COMMAND: Command = Command {
    path: &["force-leave"],
    synopsis: "Forces a member of the cluster to enter the \"left\" state",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein force-leave [options] name

  Forces a failed member to the left state, so the cluster stops trying to
  reach it and the leader deregisters it. With -prune it is also forgotten
  at once instead of listed as left until it is reaped. A member that is
  still alive refutes this and stays.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("prune", "Remove agent forcibly from list of members")
        .bool("wan", "Exclusively leave the agent from the WAN serf pool.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let [node] = flags.args() else {
        return Err(Error::Flag(
            "A node name must be specified to force leave.".into(),
        ));
    };
    let mut query = Vec::new();
    if flags.bool("prune") {
        query.push(("prune", "1".to_owned()));
    }
    if flags.bool("wan") {
        query.push(("wan", "1".to_owned()));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .put(&format!("/v1/agent/force-leave/{node}"), query, b"")
        .and_then(|r| r.require_ok())
        .context("Error force leaving")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn force_leaves_with_prune_and_wan() {
        let (out, reqs) = run_against(
            &["force-leave", "-prune", "-wan", "web-1"],
            vec![reply(200, b"")],
        );
        assert_eq!(reqs[0].method, "PUT", "{}", out.stderr);
        assert_eq!(reqs[0].target, "/v1/agent/force-leave/web-1?prune=1&wan=1");
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn needs_one_node_and_reports_errors() {
        let (out, reqs) = run_against(&["force-leave"], vec![]);
        assert!(reqs.is_empty());
        assert!(
            out.stderr.contains("A node name must be specified"),
            "{}",
            out.stderr
        );
        let (out, _) = run_against(
            &["force-leave", "ghost"],
            vec![reply(500, b"No node found with name 'ghost'")],
        );
        assert!(
            out.stderr.contains("No node found with name 'ghost'"),
            "{}",
            out.stderr
        );
    }
}
