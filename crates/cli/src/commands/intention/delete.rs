//! `intention delete`: remove an intention by ID or by source and destination.

use crate::commands::intention::CONNECT_ERROR;
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein intention delete`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "delete"],
    synopsis: "Delete an intention.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention delete [options] SRC DST
Usage: skein intention delete [options] ID

  Delete an intention. This cannot be reversed. The intention can be looked
  up via an exact source/destination match or via the unique intention ID.

      $ skein intention delete web db
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let response = match flags.args() {
        [id] => client.delete(&format!("/v1/connect/intentions/{id}"), Vec::new()),
        [src, dst] => {
            let query = vec![("source", src.clone()), ("destination", dst.clone())];
            client.delete("/v1/connect/intentions/exact", query)
        }
        _ => return Err(Error::msg("command requires exactly 1 or 2 arguments")),
    };
    response
        .and_then(|r| r.require_ok())
        .context("Error deleting the intention")?;
    info(ctx, "Intention deleted.")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn deletes_by_source_and_destination_or_id() {
        let (out, reqs) = run_against(
            &["intention", "delete", "web", "db"],
            vec![reply(200, b"true")],
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, "Intention deleted.\n"));
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            (
                "DELETE",
                "/v1/connect/intentions/exact?destination=db&source=web"
            )
        );
        let (out, reqs) = run_against(&["intention", "delete", "id-1"], vec![reply(200, b"")]);
        assert_eq!(out.stdout, "Intention deleted.\n");
        assert_eq!(reqs[0].target, "/v1/connect/intentions/id-1");
    }

    #[test]
    fn reports_errors() {
        let (out, _) = run_against(&["intention", "delete"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "command requires exactly 1 or 2 arguments\n")
        );
        let (out, _) = run_against(
            &["intention", "delete", "id-1"],
            vec![reply(
                400,
                b"Cannot delete non-existent intention: \"id-1\"",
            )],
        );
        assert_eq!(
            out.stderr,
            "Error deleting the intention: Unexpected response code: 400 (Cannot delete \
             non-existent intention: \"id-1\")\n"
        );
    }
}
