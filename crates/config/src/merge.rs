//! Merging normalized sources: later scalars win, lists append, objects merge.

use serde_json::Value;

/// Merges `overlay` into `base` the way Consul merges config sources:
/// objects are merged key by key, lists are appended, anything else in
/// `overlay` replaces what is in `base`. `null` in `overlay` changes nothing.
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        if !v.is_null() {
                            b.insert(k, v);
                        }
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => b.extend(o),
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_like_consul() {
        let mut base = json!({"a": 1, "l": [1], "m": {"x": 1, "y": 2}, "keep": true});
        merge(
            &mut base,
            json!({"a": 2, "l": [2, 3], "m": {"y": 3, "z": 4}, "keep": null}),
        );
        assert_eq!(
            base,
            json!({"a": 2, "l": [1, 2, 3], "m": {"x": 1, "y": 3, "z": 4}, "keep": true})
        );
    }
}
