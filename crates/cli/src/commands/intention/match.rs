//! `intention match`: the intentions that apply to a source or destination,
//! in evaluation order.

use std::collections::BTreeMap;

use crate::commands::intention::{CONNECT_ERROR, Intention};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein intention match`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "match"],
    synopsis: "Show intentions that match a source or destination.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention match [options] SRC|DST

  Show the list of intentions that would be enforced for a given source
  or destination. The intentions are listed in the order they would be
  evaluated.

      $ skein intention match db
      $ skein intention match -source web
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("source", "Match intentions with the given source.")
        .bool(
            "destination",
            "Match intentions with the given destination.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let [name] = flags.args() else {
        return Err(Error::msg(
            "Error: command requires exactly one argument: src or dst",
        ));
    };
    if flags.bool("source") && flags.bool("destination") {
        return Err(Error::msg(
            "Error: only one of -source or -destination may be specified",
        ));
    }
    let by = if flags.bool("source") {
        "source"
    } else {
        "destination"
    };
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let query = vec![("by", by.to_owned()), ("name", name.clone())];
    let mut matches: BTreeMap<String, Vec<Intention>> = client
        .get("/v1/connect/intentions/match", query)
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json::<Option<BTreeMap<String, Vec<Intention>>>>())
        .context("Error matching the connection")?
        .unwrap_or_default();
    for ixn in matches.remove(name).unwrap_or_default() {
        info(ctx, &ixn.summary())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn lists_matches_in_order() {
        let body = br#"{"db":[{"SourceName":"web","DestinationName":"db","Action":"allow"},
            {"SourceName":"*","DestinationName":"db","Action":"deny"}]}"#;
        let (out, reqs) = run_against(&["intention", "match", "db"], vec![reply(200, body)]);
        assert_eq!(
            reqs[0].target,
            "/v1/connect/intentions/match?by=destination&name=db"
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "web => db (allow)\n* => db (deny)\n")
        );
        let (_, reqs) = run_against(
            &["intention", "match", "-source", "web"],
            vec![reply(200, b"{}")],
        );
        assert_eq!(
            reqs[0].target,
            "/v1/connect/intentions/match?by=source&name=web"
        );
    }

    #[test]
    fn validates_arguments() {
        let (out, _) = run_against(&["intention", "match"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error: command requires exactly one argument: src or dst\n"
            )
        );
        let (out, _) = run_against(
            &["intention", "match", "-source", "-destination", "x"],
            vec![],
        );
        assert_eq!(
            out.stderr,
            "Error: only one of -source or -destination may be specified\n"
        );
    }
}
