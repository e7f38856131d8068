//! `kv` commands and what they share: the KV pair wire type, key paths and
//! reading data from arguments (`@file`, `-` for stdin).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::commands::Ctx;
use crate::error::{Error, Result};

pub(crate) mod delete;
pub(crate) mod export;
pub(crate) mod get;
pub(crate) mod import;
pub(crate) mod put;

/// A KV entry as `GET /v1/kv/:key` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct KvPair {
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
    pub(crate) lock_index: u64,
    pub(crate) key: String,
    pub(crate) flags: u64,
    /// Base64 on the wire; `null` for an empty value.
    pub(crate) value: Option<String>,
    pub(crate) session: Option<String>,
}

/// One entry of `kv export` / `kv import` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExportEntry {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) flags: u64,
    /// Base64 of the value.
    #[serde(default)]
    pub(crate) value: String,
}

// === impl KvPair ===

impl KvPair {
    /// The decoded value (empty when `null`).
    pub(crate) fn value_bytes(&self) -> Result<Vec<u8>> {
        match &self.value {
            None => Ok(Vec::new()),
            Some(v) => STANDARD
                .decode(v)
                .map_err(|e| Error::msg(format!("Error decoding value of key {}: {e}", self.key))),
        }
    }
}

/// The API path of `key`; one leading `/` is dropped, as Consul's client does.
pub(crate) fn kv_path(key: &str) -> String {
    format!("/v1/kv/{}", key.strip_prefix('/').unwrap_or(key))
}

/// The single optional KEY argument of `get`, `delete` and `export`, with one
/// leading `/` stripped as Consul does.
pub(crate) fn optional_key(args: &[String]) -> Result<String> {
    match args {
        [] => Ok(String::new()),
        [key] => Ok(key.strip_prefix('/').unwrap_or(key).to_owned()),
        _ => Err(super::too_many("1", args.len())),
    }
}

/// Resolves a DATA argument: `@path` reads a file, `-` reads stdin, anything
/// else is the data itself.
pub(crate) fn read_data(arg: &str, ctx: &mut Ctx<'_>) -> Result<Vec<u8>> {
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read(path).map_err(|e| Error::io("Error! Failed to read file", e));
    }
    if arg == "-" {
        let mut data = Vec::new();
        ctx.stdin
            .read_to_end(&mut data)
            .map_err(|e| Error::io("Error! Failed to read stdin", e))?;
        return Ok(data);
    }
    Ok(arg.as_bytes().to_vec())
}

/// Base64 of `bytes` (standard alphabet, padded, as Go's `StdEncoding`).
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub(crate) fn decode(text: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text)
}
