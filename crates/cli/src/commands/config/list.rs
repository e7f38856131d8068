//! `config list`: print the names of the config entries of one kind.

use serde_json::Value;

use crate::commands::config::{CONNECT_ERROR, entry_name, kind_warnings};
use crate::commands::{Command, Ctx, info, warn};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein config list`.
pub(crate) const COMMAND: Command = Command {
    path: &["config", "list"],
    synopsis: "List centralized config entries of a given kind",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein config list [options] -kind <config kind>

  Lists all of the config entries for a given kind. The -kind parameter
  is required.

  Example:

    $ skein config list -kind service-defaults
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("kind", "", "The kind of configurations to list.")
        .string("filter", "", "Filter to use with the request.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let kind = flags.str("kind");
    if kind.is_empty() {
        return Err(Error::msg("Must specify the -kind parameter"));
    }
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let mut query: Query = Vec::new();
    if !flags.str("filter").is_empty() {
        query.push(("filter", flags.str("filter").to_owned()));
    }
    let entries: Vec<Value> = client
        .get(&format!("/v1/config/{kind}"), query)
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json::<Option<Vec<Value>>>())
        .context(&format!("Error listing config entries for kind {kind:?}"))?
        .unwrap_or_default();
    for entry in &entries {
        info(ctx, &entry_name(kind, entry))?;
    }
    for msg in kind_warnings(kind, &entries) {
        warn(ctx, &format!("WARNING: {msg}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn prints_one_name_per_line() {
        let body = br#"[{"Kind":"service-defaults","Name":"api"},{"Kind":"service-defaults","Name":"web"}]"#;
        let (out, reqs) = run_against(
            &["config", "list", "-kind", "service-defaults"],
            vec![reply(200, body)],
        );
        assert_eq!(reqs[0].target, "/v1/config/service-defaults");
        assert_eq!((out.code, out.stdout.as_str()), (0, "api\nweb\n"));
        assert_eq!(out.stderr, "");
    }

    #[test]
    fn passes_the_filter_and_prints_nothing_for_an_empty_kind() {
        let (out, reqs) = run_against(
            &["config", "list", "-kind=mesh", "-filter=Name == x"],
            vec![reply(200, b"[]")],
        );
        assert_eq!(reqs[0].target, "/v1/config/mesh?filter=Name+%3D%3D+x");
        assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    }

    #[test]
    fn requires_a_kind_and_reports_errors() {
        let (out, _) = run_against(&["config", "list"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Must specify the -kind parameter\n")
        );
        let (out, _) = run_against(
            &["config", "list", "-kind=bogus"],
            vec![reply(400, b"invalid config entry kind: bogus")],
        );
        assert_eq!(
            out.stderr,
            "Error listing config entries for kind \"bogus\": Unexpected response code: 400 \
             (invalid config entry kind: bogus)\n"
        );
    }
}
