//! Small serde helpers that reproduce Go's `encoding/json` rendering rules
//! (`omitempty`, nil slices as `null`, float32 weights).

use serde::{Deserialize, Deserializer, Serializer};

/// Go `omitempty` for `bool`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Go `omitempty` for integers.
pub(crate) fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Renders an empty list as `null`, as Go renders a nil slice without `omitempty`.
pub(crate) fn nil_if_empty<T, S>(items: &[T], serializer: S) -> Result<S::Ok, S::Error>
where
    T: serde::Serialize,
    S: Serializer,
{
    if items.is_empty() {
        serializer.serialize_none()
    } else {
        serializer.collect_seq(items)
    }
}

/// Accepts `null` where a list is expected (Go decodes it to a nil slice).
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Renders a Go `float32` the way `encoding/json` does: the shortest decimal
/// that round-trips, and whole numbers without a fraction (`90`, `33.33`).
pub fn serialize_weight<S: Serializer>(weight: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    let text = weight.to_string();
    if let Ok(whole) = text.parse::<i64>() {
        return serializer.serialize_i64(whole);
    }
    match text.parse::<f64>() {
        Ok(wide) => serializer.serialize_f64(wide),
        Err(_) => serializer.serialize_f32(*weight),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct W(#[serde(serialize_with = "serialize_weight")] f32);

    #[test]
    fn weights_render_like_go_float32() {
        assert_eq!(serde_json::to_string(&W(90.0)).unwrap(), "90");
        assert_eq!(serde_json::to_string(&W(33.33)).unwrap(), "33.33");
        assert_eq!(serde_json::to_value(W(0.01)).unwrap().to_string(), "0.01");
    }
}
