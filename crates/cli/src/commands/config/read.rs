//! `config read`: print one config entry as indented JSON.

use crate::commands::config::{CONNECT_ERROR, entry_path};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::reformat_json;
use crate::http::{self, Client};

/// `skein config read`.
pub(crate) const COMMAND: Command = Command {
    path: &["config", "read"],
    synopsis: "Read a centralized config entry",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein config read [options] -kind <config kind> -name <config name>

  Reads the config entry specified by the given kind and name and outputs its
  JSON representation.

  Example:

    $ skein config read -kind proxy-defaults -name global
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("kind", "", "The kind of configuration to read.")
        .string("name", "", "The name of configuration to read.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let (kind, name) = (flags.str("kind"), flags.str("name"));
    if kind.is_empty() {
        return Err(Error::msg("Must specify the -kind parameter"));
    }
    if name.is_empty() {
        return Err(Error::msg("Must specify the -name parameter"));
    }
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let context = format!("Error reading config entry {kind}/{name}");
    let response = client
        .get(&entry_path(kind, name), Vec::new())
        .and_then(|r| r.require_ok())
        .context(&context)?;
    let raw = std::str::from_utf8(&response.body)
        .ok()
        .filter(|raw| serde_json::from_str::<serde_json::Value>(raw).is_ok())
        .ok_or_else(|| Error::msg(format!("{context}: invalid JSON in response")))?;
    info(ctx, &reformat_json(raw, Some("    ")))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn prints_the_entry_indented_by_four_spaces() {
        let entry = br#"{"Kind":"service-defaults","Name":"web","Protocol":"http","Meta":{},"CreateIndex":5,"ModifyIndex":5}"#;
        let (out, reqs) = run_against(
            &["config", "read", "-kind", "service-defaults", "-name=web"],
            vec![reply(200, entry)],
        );
        assert_eq!(reqs[0].target, "/v1/config/service-defaults/web");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (
                0,
                "{\n    \"Kind\": \"service-defaults\",\n    \"Name\": \"web\",\n    \
                 \"Protocol\": \"http\",\n    \"Meta\": {},\n    \"CreateIndex\": 5,\n    \
                 \"ModifyIndex\": 5\n}\n"
            )
        );
    }

    #[test]
    fn requires_kind_and_name() {
        let (out, _) = run_against(&["config", "read", "-name=web"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Must specify the -kind parameter\n")
        );
        let (out, _) = run_against(&["config", "read", "-kind=mesh"], vec![]);
        assert_eq!(out.stderr, "Must specify the -name parameter\n");
    }

    #[test]
    fn reports_a_missing_entry() {
        let (out, _) = run_against(
            &["config", "read", "-kind=service-defaults", "-name=nope"],
            vec![reply(
                404,
                b"Config entry not found for \"service-defaults\" / \"nope\"",
            )],
        );
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error reading config entry service-defaults/nope: Unexpected response code: \
                 404 (Config entry not found for \"service-defaults\" / \"nope\")\n"
            )
        );
    }
}
