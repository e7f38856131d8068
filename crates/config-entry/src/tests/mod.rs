//! Tests of decoding, rendering and validation, one file per concern.

mod decode;
mod keys;
mod render;
mod validate;

use serde_json::Value;

use crate::{ConfigEntry, parse_request};

/// Decodes, normalizes and validates `body`, panicking on failure.
pub(super) fn parse(body: Value) -> ConfigEntry {
    match parse_request(&body) {
        Ok(entry) => entry,
        Err(e) => panic!("{body} was rejected: {e}"),
    }
}

/// The error text `body` is rejected with.
pub(super) fn rejection(body: &Value) -> String {
    match parse_request(body) {
        Ok(entry) => panic!("{body} was accepted as {entry:?}"),
        Err(e) => e.to_string(),
    }
}
