//! `config` commands: write, read, list and delete centralized config
//! entries (`/v1/config`), and what they share: loading an entry file (HCL
//! or JSON, a path or `-` for stdin) and Consul's kind-specific warnings.
//!
//! Entries are sent as written (after HCL is turned into JSON); the agent
//! decodes, normalizes and validates them, accepting any key case and
//! `snake_case`, as Consul's CLI-side decoder does.

use serde_json::Value;

use crate::commands::Ctx;
use crate::error::{Error, Result};

pub(crate) mod delete;
mod hcl1;
pub(crate) mod list;
pub(crate) mod read;
pub(crate) mod write;

/// Consul's prefix when the client cannot be built (sic: "connect").
pub(crate) const CONNECT_ERROR: &str = "Error connect to Consul agent";

/// A config entry read from a file or stdin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntryFile {
    /// The entry as JSON, keys as written.
    pub(crate) body: Value,
    /// Its `Kind`.
    pub(crate) kind: String,
    /// Its `Name` (`mesh` for the mesh entry).
    pub(crate) name: String,
}

/// Reads and decodes the entry at `source` (a path, or `-` for stdin) with
/// Consul's `Failed to load data` / `Failed to decode config entry input`
/// errors.
pub(crate) fn load_entry(source: &str, ctx: &mut Ctx<'_>) -> Result<EntryFile> {
    let text = load(source, ctx).map_err(|e| Error::msg(format!("Failed to load data: {e}")))?;
    decode_entry(&text).map_err(|e| Error::msg(format!("Failed to decode config entry input: {e}")))
}

/// Consul's `LoadDataSourceNoRaw`: `-` is stdin, anything else a path.
fn load(source: &str, ctx: &mut Ctx<'_>) -> std::result::Result<String, String> {
    if source.is_empty() {
        return Err("must specify a file path or '-' for stdin".to_owned());
    }
    let mut text = String::new();
    if source == "-" {
        ctx.stdin
            .read_to_string(&mut text)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(source).map_err(|e| format!("Failed to read file: {e}"))
}

/// Decodes entry text (JSON, or HCL turned into JSON) and finds its kind
/// and name.
pub(crate) fn decode_entry(text: &str) -> std::result::Result<EntryFile, String> {
    let body = parse_text(text)?;
    let Value::Object(fields) = &body else {
        return Err("expected an object at the top level".to_owned());
    };
    let kind = match fields.get("Kind").or_else(|| fields.get("kind")) {
        None => return Err("Payload does not contain a kind/Kind key at the top level".into()),
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err("Kind value in payload is not a string".into()),
    };
    let name = field(&body, "Name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = if kind == "mesh" && name.is_empty() {
        "mesh".to_owned()
    } else {
        name.to_owned()
    };
    Ok(EntryFile { body, kind, name })
}

/// JSON if it parses as JSON, otherwise HCL (retried with HCL 1 idioms
/// rewritten, see [`hcl1`]).
fn parse_text(text: &str) -> std::result::Result<Value, String> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(value);
    }
    let ctx = hcl::eval::Context::new();
    match hcl::eval::from_str::<Value>(text, &ctx) {
        Ok(value) => Ok(value),
        Err(first) => {
            hcl::eval::from_str::<Value>(&hcl1::rewrite(text), &ctx).map_err(|_| first.to_string())
        }
    }
}

/// The value of `key` in `entry`, matching any case and `snake_case`
/// (`MutualTLSMode` = `mutual_tls_mode`).
pub(crate) fn field<'a>(entry: &'a Value, key: &str) -> Option<&'a Value> {
    let want = key.to_ascii_lowercase();
    let fields = entry.as_object()?;
    fields.get(key).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.replace('_', "").to_ascii_lowercase() == want)
            .map(|(_, v)| v)
    })
}

fn is_permissive(entry: &Value) -> bool {
    field(entry, "MutualTLSMode").and_then(Value::as_str) == Some("permissive")
}

/// Consul's `KindSpecificWarning`: a warning about an insecure setting of
/// one written entry, without the `WARNING: ` prefix.
pub(crate) fn kind_warning(kind: &str, entry: &Value) -> Option<&'static str> {
    if !is_permissive(entry) {
        return None;
    }
    match kind {
        "service-defaults" => Some(
            "Found MutualTLSMode=permissive. This mode is insecure. We recommend \
             transitioning this to MutualTLSMode=strict.",
        ),
        "proxy-defaults" => Some(
            "Found MutualTLSMode=permissive. This mode is insecure. Setting this mode in \
             proxy-defaults enables this insecure mode by default for all services. We \
             recommend setting this to MutualTLSMode=strict.",
        ),
        _ => None,
    }
}

/// Consul's `KindSpecificWarnings` for a listing, without the prefixes.
pub(crate) fn kind_warnings(kind: &str, entries: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    if kind == "proxy-defaults" {
        for entry in entries {
            if let Some(msg) = kind_warning(kind, entry) {
                out.push(format!("{kind}/{}: {msg}", entry_name(kind, entry)));
            }
        }
    }
    let permissive = entries.iter().filter(|e| is_permissive(e)).count();
    if kind == "service-defaults" && permissive > 0 {
        out.push(format!(
            "Found {permissive} service-default(s) with MutualTLSMode=permissive. Use \
             `-filter 'MutualTLSMode == \"permissive\"'` to list service-defaults in \
             permissive MutualTLSMode. This mode is insecure. We recommend setting this \
             to MutualTLSMode=strict."
        ));
    }
    out
}

/// The name of a stored entry (`mesh` for the mesh entry).
pub(crate) fn entry_name(kind: &str, entry: &Value) -> String {
    match entry.get("Name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ if kind == "mesh" => "mesh".to_owned(),
        _ => String::new(),
    }
}

/// `/v1/config/<kind>/<name>`.
pub(crate) fn entry_path(kind: &str, name: &str) -> String {
    format!("/v1/config/{kind}/{name}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_hcl_and_json_entries() {
        let e = decode_entry("Kind = \"service-defaults\"\nName = \"web\"\nProtocol = \"http\"\n")
            .unwrap();
        assert_eq!(
            (e.kind.as_str(), e.name.as_str()),
            ("service-defaults", "web")
        );
        assert_eq!(e.body["Protocol"], "http");
        let e = decode_entry(r#"{"kind": "mesh", "meta": {"a": "b"}}"#).unwrap();
        assert_eq!((e.kind.as_str(), e.name.as_str()), ("mesh", "mesh"));
        let e = decode_entry("kind = \"proxy-defaults\"\nname = \"global\"\n").unwrap();
        assert_eq!(e.name, "global");
    }

    #[test]
    fn decodes_hcl1_style_entries() {
        let text = "kind = \"mesh\"\nmeta {\n  \"foo\" = \"bar\"\n}\n\
                    transparent_proxy {\n  mesh_destinations_only = true\n}\n";
        let e = decode_entry(text).unwrap();
        assert_eq!(e.body["meta"], json!({"foo": "bar"}));
        assert_eq!(e.body["transparent_proxy"]["mesh_destinations_only"], true);
        let text = "Kind = \"service-router\"\nName = \"web\"\nRoutes = [\n  {\n    Match {\n      \
                    HTTP {\n        PathPrefix = \"/admin\"\n      }\n    }\n  },\n]\n";
        let e = decode_entry(text).unwrap();
        assert_eq!(e.body["Routes"][0]["Match"]["HTTP"]["PathPrefix"], "/admin");
    }

    #[test]
    fn reports_missing_or_bad_kind() {
        assert_eq!(
            decode_entry("Name = \"web\"").unwrap_err(),
            "Payload does not contain a kind/Kind key at the top level"
        );
        assert_eq!(
            decode_entry(r#"{"Kind": 3}"#).unwrap_err(),
            "Kind value in payload is not a string"
        );
        assert!(decode_entry("Kind = ").is_err());
    }

    #[test]
    fn warns_about_permissive_mtls() {
        let svc = json!({"Name": "web", "mutual_tls_mode": "permissive"});
        assert!(
            kind_warning("service-defaults", &svc)
                .unwrap()
                .starts_with("Found MutualTLSMode=permissive.")
        );
        assert_eq!(
            kind_warning("service-defaults", &json!({"Name": "web"})),
            None
        );
        let list = kind_warnings("service-defaults", &[svc.clone(), svc]);
        assert_eq!(list.len(), 1);
        assert!(
            list[0].starts_with("Found 2 service-default(s)"),
            "{list:?}"
        );
        let proxy = json!({"Name": "global", "MutualTLSMode": "permissive"});
        let list = kind_warnings("proxy-defaults", &[proxy]);
        assert!(
            list[0].starts_with("proxy-defaults/global: Found"),
            "{list:?}"
        );
    }
}
