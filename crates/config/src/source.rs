//! One configuration source: text in JSON or HCL turned into a validated,
//! normalized JSON value ready to be merged.

use std::path::Path;

use serde_json::{Map, Value};

use crate::de_error::from_path_error;
use crate::error::ConfigError;
use crate::user::UserConfig;

/// The syntax of a configuration source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFormat {
    /// JSON (`.json`).
    Json,
    /// HCL (`.hcl`).
    Hcl,
}

impl ConfigFormat {
    /// Parses the value of `-config-format` (`json` or `hcl`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Self::Json),
            "hcl" => Some(Self::Hcl),
            _ => None,
        }
    }

    /// The format implied by a file's extension, if it is `.json` or `.hcl`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(Self::Json),
            Some("hcl") => Some(Self::Hcl),
            _ => None,
        }
    }
}

/// Parses, validates and normalizes one source named `origin`.
pub(crate) fn load(origin: &str, text: &str, format: ConfigFormat) -> Result<Value, ConfigError> {
    let (mut value, user) = match format {
        ConfigFormat::Json => parse_json(origin, text)?,
        ConfigFormat::Hcl => parse_hcl(origin, text)?,
    };
    user.check().map_err(|e| e.at(origin))?;
    normalize(&mut value);
    Ok(value)
}

/// Turns an already typed source (flags, dev defaults) into a mergeable value.
pub(crate) fn from_user(origin: &str, user: &UserConfig) -> Result<Value, ConfigError> {
    user.check().map_err(|e| e.at(origin))?;
    let mut value = serde_json::to_value(user).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    strip_nulls(&mut value);
    normalize(&mut value);
    Ok(value)
}

fn parse_json(origin: &str, text: &str) -> Result<(Value, UserConfig), ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let user: UserConfig =
        serde_path_to_error::deserialize(&mut de).map_err(|e| from_path_error(origin, e))?;
    de.end().map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    Ok((value, user))
}

fn parse_hcl(origin: &str, text: &str) -> Result<(Value, UserConfig), ConfigError> {
    let ctx = hcl::eval::Context::new();
    let mut value: Value = hcl::eval::from_str(text, &ctx).map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    if let Some(obj) = value.as_object_mut() {
        fix_hcl_blocks(obj);
    }
    let user: UserConfig =
        serde_path_to_error::deserialize(&value).map_err(|e| from_path_error(origin, e))?;
    Ok((value, user))
}

/// HCL blocks become an object when written once and a list when repeated;
/// list-valued keys always need a list.
fn fix_hcl_blocks(obj: &mut Map<String, Value>) {
    for (single, many) in [("service", "services"), ("check", "checks")] {
        if matches!(obj.get(single), Some(Value::Array(_)))
            && let Some(Value::Array(items)) = obj.remove(single)
        {
            append_list(obj, many, items);
        }
    }
    for key in ["services", "checks", "segments"] {
        wrap_object(obj, key);
    }
    for key in ["services", "service"] {
        for svc in service_objects(obj, key) {
            wrap_object(svc, "checks");
        }
    }
}

fn service_objects<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> Vec<&'a mut Map<String, Value>> {
    match obj.get_mut(key) {
        Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        Some(Value::Object(o)) => vec![o],
        _ => Vec::new(),
    }
}

fn wrap_object(obj: &mut Map<String, Value>, key: &str) {
    if let Some(v) = obj.get_mut(key)
        && v.is_object()
    {
        let inner = v.take();
        *v = Value::Array(vec![inner]);
    }
}

/// Appends `items` to the list under `key`, creating it (or wrapping a lone object).
fn append_list(obj: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    let mut list = match obj.remove(key) {
        Some(Value::Array(existing)) => existing,
        Some(Value::Object(o)) => vec![Value::Object(o)],
        _ => Vec::new(),
    };
    list.extend(items);
    obj.insert(key.to_string(), Value::Array(list));
}

/// Removes `null`s, which mean "not set".
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            obj.retain(|_, v| !v.is_null());
            obj.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Legacy keys and their modern homes (top level).
const LEGACY: &[(&str, &[&str])] = &[
    ("acl_datacenter", &["primary_datacenter"]),
    ("acl_master_token", &["acl", "tokens", "initial_management"]),
    ("acl_token", &["acl", "tokens", "default"]),
    ("acl_agent_token", &["acl", "tokens", "agent"]),
    (
        "acl_agent_master_token",
        &["acl", "tokens", "agent_recovery"],
    ),
    ("acl_replication_token", &["acl", "tokens", "replication"]),
    ("acl_default_policy", &["acl", "default_policy"]),
    ("acl_down_policy", &["acl", "down_policy"]),
    ("acl_ttl", &["acl", "token_ttl"]),
    ("ui", &["ui_config", "enabled"]),
];

/// Folds legacy keys into their modern equivalents (the modern key wins when
/// both are set in one source), `service`/`check` into the lists, and drops nulls.
fn normalize(value: &mut Value) {
    strip_nulls(value);
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if obj.contains_key("acl_datacenter") {
        // Consul: setting acl_datacenter implicitly enables ACLs.
        set_if_absent(obj, &["acl", "enabled"], Value::Bool(true));
    }
    for (old, new) in LEGACY {
        if let Some(v) = obj.remove(*old) {
            set_if_absent(obj, new, v);
        }
    }
    obj.remove("acl_enforce_version_8");
    for (single, many) in [("service", "services"), ("check", "checks")] {
        if let Some(v) = obj.remove(single) {
            append_list(obj, many, vec![v]);
        }
    }
    normalize_tokens(obj);
}

fn normalize_tokens(obj: &mut Map<String, Value>) {
    let tokens = obj
        .get_mut("acl")
        .and_then(|a| a.get_mut("tokens"))
        .and_then(Value::as_object_mut);
    if let Some(tokens) = tokens {
        for (old, new) in [
            ("master", "initial_management"),
            ("agent_master", "agent_recovery"),
        ] {
            if let Some(v) = tokens.remove(old) {
                tokens.entry(new).or_insert(v);
            }
        }
    }
}

/// Sets `path` (creating intermediate objects) unless something is there already.
fn set_if_absent(obj: &mut Map<String, Value>, path: &[&str], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        let slot = cur.entry(*p).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        cur = next;
    }
    cur.entry(*last).or_insert(v);
}
