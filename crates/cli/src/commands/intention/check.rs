//! `intention check`: would a connection from SRC to DST be allowed?
//! Exit 0 when allowed, 1 when denied and 2 on errors, as Consul.

use serde::Deserialize;

use crate::commands::intention::CONNECT_ERROR;
use crate::commands::{Command, Ctx, info, warn};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein intention check`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "check"],
    synopsis: "Check whether a connection between two services is allowed.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention check [options] SRC DST

  Check whether a connection between SRC and DST would be allowed by
  Connect given the current skein configuration.

      $ skein intention check web db
";

/// `GET /v1/connect/intentions/check`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CheckResponse {
    allowed: bool,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    match check(flags, ctx) {
        Ok(true) => info(ctx, "Allowed"),
        Ok(false) => {
            info(ctx, "Denied")?;
            Err(Error::Exit(1))
        }
        Err(e) => {
            warn(ctx, &e.to_string())?;
            Err(Error::Exit(2))
        }
    }
}

fn check(flags: &Parsed, ctx: &Ctx<'_>) -> Result<bool> {
    let [src, dst] = flags.args() else {
        return Err(Error::msg(
            "Error: command requires exactly two arguments: src and dst",
        ));
    };
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let query = vec![
        ("source", src.clone()),
        ("destination", dst.clone()),
        ("source-type", "consul".to_owned()),
    ];
    let answer: CheckResponse = client
        .get("/v1/connect/intentions/check", query)
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error checking the connection")?;
    Ok(answer.allowed)
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn allowed_exits_0_and_denied_exits_1() {
        let (out, reqs) = run_against(
            &["intention", "check", "web", "db"],
            vec![reply(200, br#"{"Allowed":true}"#)],
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, "Allowed\n"));
        assert_eq!(
            reqs[0].target,
            "/v1/connect/intentions/check?destination=db&source=web&source-type=consul"
        );
        let (out, _) = run_against(
            &["intention", "check", "web", "db"],
            vec![reply(200, br#"{"Allowed":false}"#)],
        );
        assert_eq!((out.code, out.stdout.as_str()), (1, "Denied\n"));
    }

    #[test]
    fn errors_exit_2() {
        let (out, _) = run_against(&["intention", "check", "web"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                2,
                "Error: command requires exactly two arguments: src and dst\n"
            )
        );
        let (out, _) = run_against(&["intention", "check", "-bogus", "web", "db"], vec![]);
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.starts_with(
                "flag provided but not defined: -bogus\n\nUsage: skein intention check"
            )
        );
        let (out, _) = run_against(
            &["intention", "check", "web", "db"],
            vec![reply(403, b"Permission denied")],
        );
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                2,
                "Error checking the connection: Unexpected response code: 403 (Permission \
                 denied)\n"
            )
        );
    }
}
