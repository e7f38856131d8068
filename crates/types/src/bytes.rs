//! Byte strings as base64 in JSON (the Raft log and snapshots are JSON):
//! a third of the size of serde's default array of numbers.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

/// Serializes bytes as a base64 string.
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Deserializes a base64 string into bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct V {
        #[serde(with = "super")]
        v: Vec<u8>,
    }

    #[test]
    fn round_trips_as_base64() {
        let v = V {
            v: b"hello\0world".to_vec(),
        };
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"v":"aGVsbG8Ad29ybGQ="}"#);
        assert_eq!(serde_json::from_str::<V>(&json).unwrap(), v);
    }
}
