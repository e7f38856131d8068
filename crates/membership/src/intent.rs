//! Leave intents: the custom broadcast that tells a graceful leave (and a
//! force-leave) apart from a failure.
//!
//! foca only reports members going down. Before a member leaves it
//! broadcasts a [`IntentKind::Leave`] intent naming itself and its
//! generation; a member that receives it records the intent, marks the
//! leaver `leaving`, and when foca later reports that generation down, marks
//! it `left` instead of `failed`. `force-leave` broadcasts a
//! [`IntentKind::ForceLeave`] intent, which turns a failed member `left`;
//! [`IntentKind::ForceLeavePrune`] also makes every member forget it.

use serde::{Deserialize, Serialize};

/// Who asked for the leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum IntentKind {
    /// The member itself, leaving gracefully.
    Leave,
    /// An operator, about a failed member.
    ForceLeave,
    /// An operator, about a failed or left member that every member should
    /// forget at once (`force-leave -prune`).
    ForceLeavePrune,
}

/// One leave intent, as broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intent {
    pub(crate) kind: IntentKind,
    pub(crate) name: String,
    pub(crate) generation: u64,
}

/// What foca keeps per intent to drop staler ones from its backlog.
#[derive(Debug)]
pub(crate) struct IntentKey {
    pub(crate) name: String,
    pub(crate) generation: u64,
}

/// An intent that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("malformed leave intent: {0}")]
pub(crate) struct IntentError(#[from] postcard::Error);

// === impl Intent ===

impl Intent {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    pub(crate) fn decode(data: &[u8]) -> Result<Self, IntentError> {
        let (intent, rest) = postcard::take_from_bytes::<Self>(data)?;
        if rest.is_empty() {
            Ok(intent)
        } else {
            Err(IntentError(postcard::Error::DeserializeBadEncoding))
        }
    }
}

// === impl IntentKey ===

impl foca::Invalidates for IntentKey {
    fn invalidates(&self, other: &Self) -> bool {
        self.name == other.name && self.generation >= other.generation
    }
}

#[cfg(test)]
mod tests {
    use foca::Invalidates;

    use super::*;

    #[test]
    fn round_trips_and_rejects_trailing_bytes() {
        let intent = Intent {
            kind: IntentKind::ForceLeave,
            name: "c".into(),
            generation: 42,
        };
        let mut data = intent.encode().unwrap();
        assert_eq!(Intent::decode(&data).unwrap(), intent);
        data.push(1);
        assert!(Intent::decode(&data).is_err());
        assert!(Intent::decode(&[0xff; 3]).is_err());
    }

    #[test]
    fn newer_generation_invalidates() {
        let key = |generation| IntentKey {
            name: "c".into(),
            generation,
        };
        assert!(key(2).invalidates(&key(1)));
        assert!(!key(1).invalidates(&key(2)));
        let other = IntentKey {
            name: "d".into(),
            generation: 9,
        };
        assert!(!other.invalidates(&key(1)));
    }
}
