//! `kv export`: print a prefix as a JSON array of `{key, flags, value}`.

use serde::Serialize as _;

use crate::commands::kv::{ExportEntry, KvPair, encode, kv_path, optional_key};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein kv export`.
pub(crate) const COMMAND: Command = Command {
    path: &["kv", "export"],
    synopsis: "Exports a tree from the KV store as JSON",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein kv export [KEY_OR_PREFIX]

  Retrieves key-value pairs for the given prefix from the key-value store, and
  writes a JSON representation to stdout. This can be used with the command
  \"skein kv import\" to move entire trees between datacenters.

      $ skein kv export vault
";

const QUERY_ERROR: &str = "Error querying Consul agent";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let prefix = optional_key(flags.args())?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let response = client
        .get(&kv_path(&prefix), vec![("recurse", String::new())])
        .and_then(|r| r.require_ok_or_not_found())
        .context(QUERY_ERROR)?;
    let pairs: Vec<KvPair> = match response {
        Some(r) => r.json().context(QUERY_ERROR)?,
        None => Vec::new(),
    };
    let entries = pairs.iter().map(to_entry).collect::<Result<Vec<_>>>()?;
    info(ctx, &render(&entries)?)
}

fn to_entry(pair: &KvPair) -> Result<ExportEntry> {
    Ok(ExportEntry {
        key: pair.key.clone(),
        flags: pair.flags,
        value: encode(&pair.value_bytes()?),
    })
}

/// Pretty JSON as Go's `json.MarshalIndent(v, "", "\t")` writes it.
pub(crate) fn render(entries: &[ExportEntry]) -> Result<String> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    entries
        .serialize(&mut ser)
        .map_err(|e| Error::json("Error exporting KV data", e))?;
    Ok(go_html_escape(&String::from_utf8_lossy(&buf)))
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings.
fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn exports_pretty_json_with_tabs() {
        let body =
            br#"[{"Key":"a/b","Flags":3,"Value":"MQ=="},{"Key":"a/<c>","Flags":0,"Value":null}]"#;
        let (out, reqs) = run_against(&["kv", "export", "a"], vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/kv/a?recurse=");
        assert_eq!(
            out.stdout,
            "[\n\t{\n\t\t\"key\": \"a/b\",\n\t\t\"flags\": 3,\n\t\t\"value\": \"MQ==\"\n\t},\n\
             \t{\n\t\t\"key\": \"a/\\u003cc\\u003e\",\n\t\t\"flags\": 0,\n\t\t\"value\": \"\"\n\t}\n]\n"
        );
    }

    #[test]
    fn empty_prefix_exports_empty_array() {
        let (out, reqs) = run_against(&["kv", "export"], vec![reply(404, b"")]);
        assert_eq!(reqs[0].target, "/v1/kv/?recurse=");
        assert_eq!((out.code, out.stdout.as_str()), (0, "[]\n"));
    }
}
