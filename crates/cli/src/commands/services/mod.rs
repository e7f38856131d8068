//! `services` commands: register and deregister services with the local agent.
//!
//! Definitions come from flags or from agent configuration files (JSON or
//! HCL) holding a `service` block or a `services` list, as Consul reads them.
//! Definitions are sent to the agent as written (the agent accepts both
//! PascalCase and snake_case keys).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub(crate) mod deregister;
pub(crate) mod register;

/// One service definition object from a file.
pub(crate) type Definition = Map<String, Value>;

/// Reads every service definition of `files`, in order.
pub(crate) fn from_files(files: &[String]) -> Result<Vec<Definition>> {
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::msg(format!("Error: failed to read {path}: {e}")))?;
        let doc = parse(path, &text).map_err(|e| Error::msg(format!("Error: {e}")))?;
        out.extend(definitions(path, doc).map_err(|e| Error::msg(format!("Error: {e}")))?);
    }
    Ok(out)
}

/// Parses a file by its extension: `.hcl` as HCL, anything else as JSON
/// (falling back to HCL when it is not JSON and has no `.json` extension).
fn parse(path: &str, text: &str) -> std::result::Result<Value, String> {
    let hcl = || {
        let ctx = hcl::eval::Context::new();
        hcl::eval::from_str::<Value>(text, &ctx).map_err(|e| format!("failed to parse {path}: {e}"))
    };
    if path.ends_with(".hcl") {
        return hcl();
    }
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(_) if !path.ends_with(".json") => hcl(),
        Err(e) => Err(format!("failed to parse {path}: {e}")),
    }
}

/// The service objects under a document's `service` and `services` keys
/// (any case); HCL turns a repeated block into a list.
fn definitions(path: &str, doc: Value) -> std::result::Result<Vec<Definition>, String> {
    let Value::Object(top) = doc else {
        return Err(format!("failed to parse {path}: expected an object"));
    };
    let mut out = Vec::new();
    for (key, value) in top {
        if !(key.eq_ignore_ascii_case("service") || key.eq_ignore_ascii_case("services")) {
            continue;
        }
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            match item {
                Value::Object(def) => out.push(def),
                _ => {
                    return Err(format!(
                        "{path}: {key} must be an object or a list of objects"
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("no service definitions found in {path}"));
    }
    Ok(out)
}

/// The key of `def` naming `field`, ignoring case and underscores
/// (`EnableTagOverride` = `enable_tag_override`).
pub(crate) fn key_of(def: &Definition, field: &str) -> Option<String> {
    let want = field.to_ascii_lowercase();
    def.keys()
        .find(|k| k.replace('_', "").to_ascii_lowercase() == want)
        .cloned()
}

/// A string field of `def` (empty when absent or not a string).
pub(crate) fn string_field(def: &Definition, field: &str) -> String {
    key_of(def, field)
        .and_then(|k| def.get(&k).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}
