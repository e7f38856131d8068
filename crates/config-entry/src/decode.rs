//! Decoding request bodies the way Consul's `DecodeConfigEntry` does:
//! `Kind` picks the type, keys are matched in any case or `snake_case`,
//! durations are Go strings, and unknown keys are errors.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::entry::ConfigEntry;
use crate::error::{Error, Result};
use crate::keys;
use crate::kind::Kind;
use crate::mesh::MESH_NAME;

/// Top-level keys Consul accepts and ignores.
const IGNORED_KEYS: [&str; 4] = ["Kind", "CreateIndex", "ModifyIndex", "Hash"];

/// Decodes a `PUT /v1/config` body (or a `consul config write` file turned
/// into JSON) into an entry. Does not normalize or validate; see
/// [`parse_request`] for the full write path.
pub fn decode_request(body: &Value) -> Result<ConfigEntry> {
    let obj = body.as_object().ok_or(Error::NotAnObject)?;
    let kind = request_kind(obj)?;
    let mut fields = keys::normalize_object(obj.clone(), "")?;
    for key in IGNORED_KEYS {
        fields.remove(key);
    }
    strip_enterprise_meta(&mut fields)?;
    if kind == Kind::Mesh {
        strip_mesh_name(&mut fields)?;
    }
    decode_kind(kind, Value::Object(fields))
}

/// Decodes, normalizes and validates a request body: everything Consul does
/// to a written entry before the cross-entry (discovery chain) checks.
pub fn parse_request(body: &Value) -> Result<ConfigEntry> {
    let mut entry = decode_request(body)?;
    entry.normalize()?;
    entry.validate()?;
    Ok(entry)
}

fn request_kind(obj: &Map<String, Value>) -> Result<Kind> {
    let value = obj
        .get("Kind")
        .or_else(|| obj.get("kind"))
        .ok_or(Error::MissingKind)?;
    let kind = value.as_str().ok_or(Error::KindNotString)?;
    kind.parse()
}

/// Community edition: `Namespace`/`Partition` may only name the defaults.
fn strip_enterprise_meta(fields: &mut Map<String, Value>) -> Result<()> {
    for key in ["Namespace", "Partition"] {
        match fields.remove(key) {
            None => {}
            Some(Value::String(s)) if s.is_empty() || s == "default" => {}
            Some(_) if key == "Namespace" => {
                return Err(Error::EnterpriseKey {
                    key: key.to_string(),
                });
            }
            Some(_) => {
                return Err(Error::UnknownKey {
                    key: key.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The mesh entry has no `Name` field; `mesh` (or nothing) is accepted.
fn strip_mesh_name(fields: &mut Map<String, Value>) -> Result<()> {
    match fields.remove("Name") {
        None => Ok(()),
        Some(Value::String(name)) if name.is_empty() || name == MESH_NAME => Ok(()),
        Some(other) => Err(Error::invalid(format!(
            "invalid name ({}), only {MESH_NAME:?} is supported",
            other
        ))),
    }
}

/// Deserializes the fields of one kind (keys already canonical).
pub(crate) fn decode_kind(kind: Kind, fields: Value) -> Result<ConfigEntry> {
    Ok(match kind {
        Kind::ProxyDefaults => ConfigEntry::ProxyDefaults(typed(fields)?),
        Kind::ServiceDefaults => ConfigEntry::ServiceDefaults(typed(fields)?),
        Kind::ServiceRouter => ConfigEntry::ServiceRouter(typed(fields)?),
        Kind::ServiceSplitter => ConfigEntry::ServiceSplitter(typed(fields)?),
        Kind::ServiceResolver => ConfigEntry::ServiceResolver(typed(fields)?),
        Kind::Mesh => ConfigEntry::Mesh(typed(fields)?),
        Kind::IngressGateway => ConfigEntry::IngressGateway(typed(fields)?),
        Kind::TerminatingGateway => ConfigEntry::TerminatingGateway(typed(fields)?),
        Kind::ServiceIntentions => ConfigEntry::ServiceIntentions(typed(fields)?),
    })
}

/// How many single blocks one decode may turn into lists (see [`typed`]).
const MAX_SHAPE_FIXES: usize = 64;

/// Decodes `fields` as `T`, accepting what Consul's weakly typed decoder
/// accepts and HCL files produce: a single object where a list is expected
/// (one `Sources { ... }` block) is read as a list of that one object.
fn typed<T: DeserializeOwned>(mut fields: Value) -> Result<T> {
    for _ in 0..MAX_SHAPE_FIXES {
        let err = match serde_path_to_error::deserialize(fields.clone()) {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let fixed = object_for_list(&err)
            .and_then(|path| at_path(&mut fields, &path))
            .is_some_and(wrap_in_list);
        if !fixed {
            return Err(serde_error(err));
        }
    }
    serde_path_to_error::deserialize(fields).map_err(serde_error)
}

/// A step into a JSON value.
enum Step {
    Index(usize),
    Key(String),
}

/// The path of an object found where a list was expected, if that is what
/// `err` reports.
fn object_for_list(err: &serde_path_to_error::Error<serde_json::Error>) -> Option<Vec<Step>> {
    use serde_path_to_error::Segment;
    if !err
        .inner()
        .to_string()
        .starts_with("invalid type: map, expected a sequence")
    {
        return None;
    }
    err.path()
        .iter()
        .map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

fn at_path<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut v = root;
    for step in path {
        v = match step {
            Step::Index(i) => v.get_mut(*i)?,
            Step::Key(k) => v.get_mut(k.as_str())?,
        };
    }
    Some(v)
}

/// `{...}` becomes `[{...}]`; anything else is left alone.
fn wrap_in_list(v: &mut Value) -> bool {
    if !v.is_object() {
        return false;
    }
    *v = Value::Array(vec![v.take()]);
    true
}

/// Maps a serde error to [`Error::UnknownKey`] or [`Error::Decode`] with the
/// path of the offending value.
fn serde_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let message = err.inner().to_string();
    if let Some(field) = unknown_field(&message) {
        // The path already ends with the unknown key itself.
        let key = if path.is_empty() {
            field.to_string()
        } else {
            path
        };
        if key.to_lowercase().ends_with("namespace") {
            return Error::EnterpriseKey { key };
        }
        return Error::UnknownKey { key };
    }
    Error::Decode { path, message }
}

/// The field name in serde's "unknown field `X`, expected …" message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}
