//! `catalog datacenters`: list the known datacenters.

use crate::commands::{Command, Ctx, info, too_many};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein catalog datacenters`.
pub(crate) const COMMAND: Command = Command {
    path: &["catalog", "datacenters"],
    synopsis: "Lists all known datacenters",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein catalog datacenters [options]

  Retrieves the list of all known datacenters. This datacenters are sorted in
  ascending order based on the estimated median round trip time from the servers
  in this datacenter to the servers in the other datacenters.

  To retrieve the list of datacenters:

      $ skein catalog datacenters
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if !flags.args().is_empty() {
        return Err(too_many("0", flags.args().len()));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let dcs: Vec<String> = client
        .get("/v1/catalog/datacenters", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error listing datacenters")?;
    dcs.iter().try_for_each(|dc| info(ctx, dc))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn prints_one_datacenter_per_line() {
        let (out, reqs) = run_against(
            &["catalog", "datacenters"],
            vec![reply(200, br#"["dc1","dc2"]"#)],
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, "dc1\ndc2\n"));
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("GET", "/v1/catalog/datacenters")
        );
    }

    #[test]
    fn reports_errors_and_extra_arguments() {
        let (out, _) = run_against(&["catalog", "datacenters"], vec![reply(500, b"boom")]);
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            "Error listing datacenters: Unexpected response code: 500 (boom)\n"
        );
        let (out, _) = run_against(&["catalog", "datacenters", "x"], vec![]);
        assert_eq!(out.stderr, "Too many arguments (expected 0, got 1)\n");
    }
}
