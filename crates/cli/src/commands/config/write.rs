//! `config write`: create or update a config entry from an HCL or JSON file.

use crate::commands::config::{CONNECT_ERROR, EntryFile, kind_warning, load_entry};
use crate::commands::{Command, Ctx, info, warn};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein config write`.
pub(crate) const COMMAND: Command = Command {
    path: &["config", "write"],
    synopsis: "Create or update a centralized config entry",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein config write [options] <configuration>

  Request a config entry to be created or updated. The configuration
  argument is either a file path or '-' to indicate that the config
  should be read from stdin. The data should be either in HCL or
  JSON form.

  Example (from file):

    $ skein config write web.service.hcl

  Example (from stdin):

    $ skein config write -
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool(
            "cas",
            "Perform a Check-And-Set operation. Specifying this value also requires the \
             -modify-index flag to be set. The default value is false.",
        )
        .uint(
            "modify-index",
            "Unsigned integer representing the ModifyIndex of the config entry. This is \
             used in combination with the -cas flag.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let [source] = flags.args() else {
        return Err(Error::msg(
            "Must provide exactly one positional argument to specify the config entry to write",
        ));
    };
    let entry = load_entry(source, ctx)?;
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let cas = flags.bool("cas").then(|| flags.uint("modify-index"));
    let written = write(&client, &entry, cas)?;
    let (kind, name) = (&entry.kind, &entry.name);
    if !written {
        return Err(Error::msg(format!(
            "Config entry not updated: {kind}/{name}"
        )));
    }
    info(ctx, &format!("Config entry written: {kind}/{name}"))?;
    if let Some(msg) = kind_warning(kind, &entry.body) {
        warn(ctx, &format!("WARNING: {msg}"))?;
    }
    Ok(())
}

/// `PUT /v1/config[?cas=N]`; returns the agent's `true`/`false`.
fn write(client: &Client, entry: &EntryFile, cas: Option<u64>) -> Result<bool> {
    let context = format!("Error writing config entry {}/{}", entry.kind, entry.name);
    let body =
        serde_json::to_vec(&entry.body).map_err(|e| Error::json("Error encoding entry", e))?;
    let mut query: Query = Vec::new();
    if let Some(index) = cas {
        query.push(("cas", index.to_string()));
    }
    let response = client
        .put("/v1/config", query, &body)
        .and_then(|r| r.require_ok())
        .context(&context)?;
    Ok(String::from_utf8_lossy(&response.body).trim() == "true")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::commands::testing::{reply, run_against, run_against_stdin};

    fn body(req: &crate::commands::testing::Recorded) -> Value {
        serde_json::from_slice(&req.body).unwrap()
    }

    #[test]
    fn writes_an_hcl_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.hcl");
        std::fs::write(
            &path,
            "Kind = \"service-defaults\"\nName = \"web\"\nProtocol = \"http\"\n",
        )
        .unwrap();
        let (out, reqs) = run_against(
            &["config", "write", path.to_str().unwrap()],
            vec![reply(200, b"true")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "Config entry written: service-defaults/web\n", "")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("PUT", "/v1/config")
        );
        assert_eq!(
            body(&reqs[0]),
            json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http"})
        );
    }

    #[test]
    fn reads_json_from_stdin_and_warns_about_permissive_mtls() {
        let entry =
            br#"{"Kind": "service-defaults", "Name": "api", "MutualTLSMode": "permissive"}"#;
        let (out, reqs) =
            run_against_stdin(&["config", "write", "-"], vec![reply(200, b"true")], entry);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, "Config entry written: service-defaults/api\n");
        assert!(
            out.stderr
                .starts_with("WARNING: Found MutualTLSMode=permissive.")
        );
        assert_eq!(body(&reqs[0])["MutualTLSMode"], "permissive");
    }

    #[test]
    fn cas_failure_exits_1() {
        let (out, reqs) = run_against_stdin(
            &["config", "write", "-cas", "-modify-index=7", "-"],
            vec![reply(200, b"false")],
            b"Kind = \"proxy-defaults\"\nName = \"global\"\n",
        );
        assert_eq!(reqs[0].target, "/v1/config?cas=7");
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (1, "", "Config entry not updated: proxy-defaults/global\n")
        );
    }

    #[test]
    fn cas_with_index_zero_means_create_only() {
        let (_, reqs) = run_against_stdin(
            &["config", "write", "-cas", "-"],
            vec![reply(200, b"true")],
            b"{\"Kind\": \"mesh\"}",
        );
        assert_eq!(reqs[0].target, "/v1/config?cas=0");
    }

    #[test]
    fn reports_input_and_server_errors() {
        let (out, _) = run_against(&["config", "write"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Must provide exactly one positional argument to specify the config entry to write\n"
            )
        );
        let (out, _) = run_against(&["config", "write", "/nonexistent/x.hcl"], vec![]);
        assert!(
            out.stderr
                .starts_with("Failed to load data: Failed to read file: "),
            "{}",
            out.stderr
        );
        let (out, _) = run_against_stdin(&["config", "write", "-"], vec![], b"Name = \"x\"");
        assert_eq!(
            out.stderr,
            "Failed to decode config entry input: Payload does not contain a kind/Kind key at \
             the top level\n"
        );
        let (out, _) = run_against_stdin(
            &["config", "write", "-"],
            vec![reply(
                400,
                b"Request decoding failed: invalid config key \"Bogus\"",
            )],
            b"Kind = \"service-defaults\"\nName = \"web\"\nBogus = 1\n",
        );
        assert_eq!(
            out.stderr,
            "Error writing config entry service-defaults/web: Unexpected response code: 400 \
             (Request decoding failed: invalid config key \"Bogus\")\n"
        );
    }
}
