//! `connect ca get-config`: print the Connect CA configuration as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::commands::connect::ca::CLIENT_ERROR;
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::reformat_json;
use crate::http::{self, Client};

/// `skein connect ca get-config`.
pub(crate) const COMMAND: Command = Command {
    path: &["connect", "ca", "get-config"],
    synopsis: "Display the current Connect Certificate Authority (CA) configuration",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein connect ca get-config [options]

  Displays the current Connect Certificate Authority (CA) configuration.
";

/// Consul's `api.CAConfig`, in its field order. Maps print with sorted
/// keys, as Go's encoder writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CaConfig {
    #[serde(default)]
    pub(crate) provider: String,
    #[serde(default)]
    pub(crate) config: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) state: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) force_without_cross_signing: bool,
    #[serde(default)]
    pub(crate) create_index: u64,
    #[serde(default)]
    pub(crate) modify_index: u64,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context(CLIENT_ERROR)?;
    let config: CaConfig = client
        .get("/v1/connect/ca/configuration", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error querying CA configuration")?;
    info(ctx, &render(&config)?)
}

/// `json.MarshalIndent(config, "", "\t")`.
fn render(config: &CaConfig) -> Result<String> {
    let mut config = config.clone();
    config.config = config.config.map(sorted_map);
    let raw = serde_json::to_string(&config)
        .map_err(|e| Error::json("Error formatting CA configuration", e))?;
    Ok(reformat_json(&raw, Some("\t")))
}

/// The map with its keys (and those of nested maps) in sorted order.
fn sorted_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect()
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(sorted_map(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn prints_consuls_ca_config_with_tabs() {
        let body = br#"{"ClusterID":"c1","Provider":"consul","Config":{"RootCertTTL":"87600h",
            "LeafCertTTL":"72h","IntermediateCertTTL":"8760h"},"State":null,
            "ForceWithoutCrossSigning":false,"CreateIndex":5,"ModifyIndex":7}"#;
        let (out, reqs) = run_against(&["connect", "ca", "get-config"], vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/connect/ca/configuration");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (
                0,
                "{\n\t\"Provider\": \"consul\",\n\t\"Config\": {\n\t\t\"IntermediateCertTTL\": \
                 \"8760h\",\n\t\t\"LeafCertTTL\": \"72h\",\n\t\t\"RootCertTTL\": \"87600h\"\n\t},\
                 \n\t\"State\": null,\n\t\"ForceWithoutCrossSigning\": false,\n\t\
                 \"CreateIndex\": 5,\n\t\"ModifyIndex\": 7\n}\n"
            )
        );
    }

    #[test]
    fn reports_errors() {
        let (out, _) = run_against(
            &["connect", "ca", "get-config"],
            vec![reply(500, b"CA has not finished initializing")],
        );
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error querying CA configuration: Unexpected response code: 500 (CA has not \
                 finished initializing)\n"
            )
        );
    }
}
