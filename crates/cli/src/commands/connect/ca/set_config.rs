//! `connect ca set-config`: replace the Connect CA configuration with the
//! contents of a JSON file.

use serde_json::{Map, Value};

use crate::commands::connect::ca::CLIENT_ERROR;
use crate::commands::connect::ca::get_config::CaConfig;
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein connect ca set-config`.
pub(crate) const COMMAND: Command = Command {
    path: &["connect", "ca", "set-config"],
    synopsis: "Modify the current Connect CA configuration",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein connect ca set-config [options]

  Modifies the current Connect Certificate Authority (CA) configuration.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("config-file", "", "The path to the config file to use.")
        .bool(
            "force-without-cross-signing",
            "Indicates that the CA reconfiguration should go ahead even if the current CA \
             is unable to cross sign certificates. This risks temporary connection failures \
             during the rollout as new leafs will be rejected by proxies that have not yet \
             observed the new root cert but is the only option if a CA that doesn't support \
             cross signing needs to be reconfigured or mirated away from.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context(CLIENT_ERROR)?;
    let path = flags.str("config-file");
    if path.is_empty() {
        return Err(Error::msg("The -config-file flag is required"));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("Error reading config file", e))?;
    let mut config =
        parse(&text).map_err(|e| Error::msg(format!("Error parsing config file: {e}")))?;
    config.force_without_cross_signing = flags.bool("force-without-cross-signing");
    let body = serde_json::to_vec(&config)
        .map_err(|e| Error::json("Error setting CA configuration", e))?;
    client
        .put("/v1/connect/ca/configuration", Vec::new(), &body)
        .and_then(|r| r.require_ok())
        .context("Error setting CA configuration")?;
    info(ctx, "Configuration updated!")
}

/// Decodes the file like Go's `json.Unmarshal` into `api.CAConfig`: keys
/// match in any case, unknown keys are ignored.
fn parse(text: &str) -> std::result::Result<CaConfig, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(fields) = value else {
        return Err("expected a JSON object".to_owned());
    };
    let mut canonical = Map::new();
    for key in [
        "Provider",
        "Config",
        "State",
        "ForceWithoutCrossSigning",
        "CreateIndex",
        "ModifyIndex",
    ] {
        let found = fields
            .get(key)
            .or_else(|| {
                let mut matches = fields.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
                matches.next().map(|(_, v)| v)
            })
            .filter(|v| !v.is_null());
        if let Some(v) = found {
            canonical.insert(key.to_owned(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(canonical)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::commands::testing::{reply, run_against};

    fn write_file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.json");
        std::fs::write(&path, text).unwrap();
        let flag = format!("-config-file={}", path.display());
        (dir, flag)
    }

    #[test]
    fn puts_the_file_as_consuls_ca_config() {
        let (_dir, flag) =
            write_file(r#"{"provider": "consul", "config": {"LeafCertTTL": "24h"}, "Other": 1}"#);
        let (out, reqs) = run_against(
            &["connect", "ca", "set-config", &flag],
            vec![reply(200, b"true")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Configuration updated!\n")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("PUT", "/v1/connect/ca/configuration")
        );
        let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
        assert_eq!(
            body,
            json!({"Provider": "consul", "Config": {"LeafCertTTL": "24h"}, "State": null,
                   "ForceWithoutCrossSigning": false, "CreateIndex": 0, "ModifyIndex": 0})
        );
    }

    #[test]
    fn passes_force_without_cross_signing() {
        let (_dir, flag) = write_file(r#"{"Provider": "consul"}"#);
        let args = [
            "connect",
            "ca",
            "set-config",
            "-force-without-cross-signing",
            &flag,
        ];
        let (_, reqs) = run_against(&args, vec![reply(200, b"true")]);
        let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
        assert_eq!(body["ForceWithoutCrossSigning"], true);
    }

    #[test]
    fn reports_errors() {
        let (out, _) = run_against(&["connect", "ca", "set-config"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "The -config-file flag is required\n")
        );
        let (_dir, flag) = write_file("{nope");
        let (out, _) = run_against(&["connect", "ca", "set-config", &flag], vec![]);
        assert!(
            out.stderr.starts_with("Error parsing config file: "),
            "{}",
            out.stderr
        );
        let (_dir, flag) = write_file(r#"{"Provider": "vault"}"#);
        let (out, _) = run_against(
            &["connect", "ca", "set-config", &flag],
            vec![reply(400, b"unknown CA provider \"vault\"")],
        );
        assert_eq!(
            out.stderr,
            "Error setting CA configuration: Unexpected response code: 400 (unknown CA \
             provider \"vault\")\n"
        );
    }
}
