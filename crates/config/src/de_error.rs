//! Turns serde's error text into [`ConfigError`]s that name key, value and origin.

use serde_json::error::Category;

use crate::error::ConfigError;

/// The error type of [`serde_path_to_error`] over `serde_json`.
pub(crate) type PathError = serde_path_to_error::Error<serde_json::Error>;

/// Maps a deserialization error of a source named `origin` to a [`ConfigError`].
pub(crate) fn from_path_error(origin: &str, err: PathError) -> ConfigError {
    let inner = err.inner();
    let location = if inner.line() > 0 {
        format!(" at line {} column {}", inner.line(), inner.column())
    } else {
        String::new()
    };
    let full = inner.to_string();
    let message = strip_location(&full);
    if matches!(
        inner.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ConfigError::Syntax {
            origin: origin.to_string(),
            message: full,
        };
    }
    let path = err.path().to_string();
    if let Some(name) = unknown_field(message) {
        return ConfigError::UnknownKey {
            origin: origin.to_string(),
            key: join_key(&path, name),
            location,
        };
    }
    let (value, reason) = split_invalid(message);
    ConfigError::InvalidValue {
        origin: origin.to_string(),
        key: if path == "." {
            "(top level)".to_string()
        } else {
            path
        },
        value,
        reason,
        location,
    }
}

/// Removes serde_json's trailing ` at line L column C`.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}

/// The field name in ``unknown field `foo`, expected ...``.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// `path` already ends with the unknown field for maps; add it if not.
fn join_key(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_string()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Splits ``invalid type: string "abc", expected u16`` into (`abc`, `expected integer`).
fn split_invalid(message: &str) -> (String, String) {
    let body = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some(body) = body else {
        return (String::new(), message.to_string());
    };
    let (unexpected, expected) = match body.split_once(", expected ") {
        Some((u, e)) => (u, e),
        None => (body, ""),
    };
    (unexpected_value(unexpected), expected_text(expected))
}

fn unexpected_value(unexpected: &str) -> String {
    if let Some(s) = unexpected.strip_prefix("string ") {
        return serde_json::from_str::<String>(s).unwrap_or_else(|_| s.to_string());
    }
    match (unexpected.find('`'), unexpected.rfind('`')) {
        (Some(a), Some(b)) if b > a => unexpected[a + 1..b].to_string(),
        _ => unexpected.to_string(),
    }
}

fn expected_text(expected: &str) -> String {
    let kind = match expected {
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => {
            "integer"
        }
        "f32" | "f64" => "number",
        "a boolean" => "boolean",
        "a string" => "string",
        "a sequence" => "list",
        "a map" => "object",
        e if e.starts_with("struct ") => "object",
        "" => return "invalid value".to_string(),
        other => other,
    };
    format!("expected {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_serde_messages() {
        assert_eq!(
            split_invalid("invalid type: string \"abc\", expected i64"),
            ("abc".to_string(), "expected integer".to_string())
        );
        assert_eq!(
            split_invalid("invalid value: integer `-3`, expected u32"),
            ("-3".to_string(), "expected integer".to_string())
        );
        assert_eq!(
            split_invalid("invalid type: map, expected a boolean"),
            ("map".to_string(), "expected boolean".to_string())
        );
        assert_eq!(
            strip_location("unknown field `x`, expected `a` at line 1 column 7"),
            "unknown field `x`, expected `a`"
        );
        assert_eq!(join_key("ports.foo", "foo"), "ports.foo");
        assert_eq!(join_key("ports", "foo"), "ports.foo");
        assert_eq!(join_key(".", "foo"), "foo");
    }
}
