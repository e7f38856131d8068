//! `join`: tell the agent to join a pool through the given addresses.

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein join`.
pub(crate) const COMMAND: Command = Command {
    path: &["join"],
    synopsis: "Tell skein agent to join cluster",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein join [options] address ...

  Tells a running agent to join the cluster through one or more existing
  members' gossip addresses. With -wan, a server joins the WAN pool of the
  servers of every datacenter instead.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new()).bool("wan", "Joins a server to another server in the WAN pool.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let addrs = flags.args();
    if addrs.is_empty() {
        return Err(Error::Flag(
            "At least one address to join must be specified.".into(),
        ));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let query = if flags.bool("wan") {
        vec![("wan", "1".to_owned())]
    } else {
        Vec::new()
    };
    let mut joined = 0;
    for addr in addrs {
        match client
            .put(&format!("/v1/agent/join/{addr}"), query.clone(), b"")
            .and_then(|r| r.require_ok())
        {
            Ok(_) => joined += 1,
            Err(e) => info(ctx, &format!("Error joining address '{addr}': {e}"))?,
        }
    }
    if joined == 0 {
        return Err(Error::msg("Failed to join any nodes."));
    }
    info(
        ctx,
        &format!("Successfully joined cluster by contacting {joined} nodes."),
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn joins_each_address_lan_or_wan() {
        let (out, reqs) = run_against(
            &["join", "-wan", "10.0.0.1", "10.0.0.2:8302"],
            vec![reply(200, b""), reply(200, b"")],
        );
        assert_eq!(reqs[0].method, "PUT");
        assert_eq!(reqs[0].target, "/v1/agent/join/10.0.0.1?wan=1");
        assert_eq!(reqs[1].target, "/v1/agent/join/10.0.0.2:8302?wan=1");
        assert_eq!(
            out.stdout,
            "Successfully joined cluster by contacting 2 nodes.\n"
        );
    }

    #[test]
    fn fails_when_no_address_joins() {
        let (out, reqs) = run_against(&["join"], vec![]);
        assert!(reqs.is_empty());
        assert!(
            out.stderr.contains("At least one address"),
            "{}",
            out.stderr
        );
        let (out, _) = run_against(&["join", "10.0.0.1"], vec![reply(500, b"no answer")]);
        assert!(
            out.stderr.contains("Failed to join any nodes."),
            "{}",
            out.stderr
        );
    }
}
