//! `info`: print the agent's `Stats` sections for operators.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein info`.
pub(crate) const COMMAND: Command = Command {
    path: &["info"],
    synopsis: "Provides debugging information for operators.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein info [options]

  Provides debugging information for operators
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let me: BTreeMap<String, Value> = client
        .get("/v1/agent/self", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error querying agent")?;
    let Some(Value::Object(stats)) = me.get("Stats") else {
        return Err(Error::msg("Agent response did not contain 'Stats' key"));
    };
    let sections: BTreeMap<&String, &Value> = stats.iter().collect();
    for (name, section) in sections {
        info(ctx, &format!("{name}:"))?;
        let Value::Object(values) = section else {
            return Err(Error::msg(format!(
                "Got invalid subkey in stats: {section}"
            )));
        };
        let values: BTreeMap<&String, &Value> = values.iter().collect();
        for (key, value) in values {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            info(ctx, &format!("\t{key} = {text}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn prints_sorted_stats_sections() {
        let body = br#"{"Config":{"NodeName":"n"},"Stats":{
            "raft":{"last_log_index":"12","applied_index":"12"},
            "consul":{"server":"true","leader_addr":"127.0.0.1:8300","known_datacenters":"1"},
            "build":{"version":"1.22.0","prerelease":""}}}"#;
        let (out, reqs) = run_against(&["info"], vec![reply(200, body)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("GET", "/v1/agent/self")
        );
        assert_eq!(
            out.stdout,
            "build:\n\tprerelease = \n\tversion = 1.22.0\n\
             consul:\n\tknown_datacenters = 1\n\tleader_addr = 127.0.0.1:8300\n\tserver = true\n\
             raft:\n\tapplied_index = 12\n\tlast_log_index = 12\n"
        );
    }

    #[test]
    fn reports_errors() {
        let (out, _) = run_against(&["info"], vec![reply(403, b"Permission denied")]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error querying agent: Unexpected response code: 403 (Permission denied)\n"
            )
        );
        let (out, _) = run_against(&["info"], vec![reply(200, b"{}")]);
        assert_eq!(out.stderr, "Agent response did not contain 'Stats' key\n");
    }
}
