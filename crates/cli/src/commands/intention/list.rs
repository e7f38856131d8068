//! `intention list`: every intention as a table.

use crate::commands::intention::{CONNECT_ERROR, Intention};
use crate::commands::{Command, Ctx, info, warn};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::columnize;
use crate::http::{self, Client};

/// `skein intention list`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "list"],
    synopsis: "List intentions.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention list

  List all intentions.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let ixns: Vec<Intention> = client
        .get("/v1/connect/intentions", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json::<Option<Vec<Intention>>>())
        .context("Failed to retrieve the intentions list")?
        .unwrap_or_default();
    if ixns.is_empty() {
        warn(ctx, "There are no intentions.")?;
        return Err(Error::Exit(2));
    }
    info(ctx, &table(&ixns))
}

/// `ID  Source  Action  Destination  Precedence`, one row per intention.
fn table(ixns: &[Intention]) -> String {
    let header = ["ID", "Source", "Action", "Destination", "Precedence"];
    let mut rows = vec![header.iter().map(|s| (*s).to_owned()).collect()];
    rows.extend(ixns.iter().map(|i| {
        vec![
            i.id.clone(),
            i.source_name.clone(),
            i.action.clone(),
            i.destination_name.clone(),
            i.precedence.to_string(),
        ]
    }));
    columnize(&rows)
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn lists_intentions_as_a_table() {
        let body = br#"[{"ID":"id-1","SourceName":"web","DestinationName":"db","Action":"allow","Precedence":9},
            {"SourceName":"*","DestinationName":"db","Action":"deny","Precedence":8}]"#;
        let (out, reqs) = run_against(&["intention", "list"], vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/connect/intentions");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (
                0,
                "ID    Source  Action  Destination  Precedence\n\
                 id-1  web     allow   db           9\n\
                 \x20     *       deny    db           8\n"
            )
        );
    }

    #[test]
    fn no_intentions_exits_2() {
        let (out, _) = run_against(&["intention", "list"], vec![reply(200, b"[]")]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (2, "", "There are no intentions.\n")
        );
    }
}
