//! Keyring queries: Serf's key manager as a small request/response over
//! the gossip envelope.
//!
//! The requester sends a [`KeyQuery`] to every alive member, answers it
//! itself, and collects [`KeyAnswer`]s until every member asked has
//! answered or [`crate::Timing::query_timeout`] passes. Each member applies
//! the operation to its own keyring (and keyring file) and says how it
//! went; the requester tallies the answers into a [`KeyringResponse`] as
//! Serf's `KeyManager` does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::{MembershipError, Result};

/// Serf's per-node answers when a node has no keyring.
pub(crate) const NO_KEYRING_TO_MODIFY: &str = "No keyring to modify (encryption not enabled)";
pub(crate) const KEYRING_EMPTY: &str = "Keyring is empty (encryption not enabled)";

/// A keyring operation, run on every alive member (Consul's
/// `/v1/operator/keyring` verbs). Keys are standard base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringOp {
    /// Lists every member's keys.
    List,
    /// Adds a key to every keyring.
    Install(String),
    /// Makes an installed key the primary one everywhere.
    Use(String),
    /// Removes a key that is not primary from every keyring.
    Remove(String),
}

/// The tally of a keyring operation over the pool (Serf's `KeyResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyringResponse {
    /// Alive members asked, this one included.
    pub num_nodes: usize,
    /// Members that answered in time.
    pub num_resp: usize,
    /// Members that answered with an error.
    pub num_err: usize,
    /// Errors (and warnings) by node name.
    pub messages: BTreeMap<String, String>,
    /// For `List`: each base64 key and how many members have it.
    pub keys: BTreeMap<String, usize>,
    /// For `List`: each primary key and how many members use it.
    pub primary_keys: BTreeMap<String, usize>,
}

/// An operation as sent, keys decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyOp {
    List,
    Install(Vec<u8>),
    Use(Vec<u8>),
    Remove(Vec<u8>),
}

/// Query packet payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyQuery {
    pub(crate) id: u64,
    pub(crate) op: KeyOp,
}

/// One member's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyAnswer {
    pub(crate) id: u64,
    pub(crate) node: String,
    pub(crate) ok: bool,
    pub(crate) message: String,
    /// For `List`: the installed keys (base64), primary first.
    pub(crate) keys: Vec<String>,
}

/// A query waiting for its answers.
pub(crate) struct Pending {
    asked: BTreeSet<String>,
    response: KeyringResponse,
    done: oneshot::Sender<KeyringResponse>,
}

// === impl KeyringOp ===

impl KeyringOp {
    /// Decodes the key; errors with Consul's texts for a bad one.
    pub(crate) fn to_wire(&self) -> Result<KeyOp> {
        let parse = crate::keyring::Keyring::parse_key;
        Ok(match self {
            Self::List => KeyOp::List,
            Self::Install(key) => KeyOp::Install(parse(key)?),
            Self::Use(key) => KeyOp::Use(parse(key)?),
            Self::Remove(key) => KeyOp::Remove(parse(key)?),
        })
    }

    /// Serf's answer when the keyring is not enabled.
    pub(crate) fn disabled(&self) -> MembershipError {
        let reason = match self {
            Self::List => KEYRING_EMPTY,
            _ => NO_KEYRING_TO_MODIFY,
        };
        MembershipError::KeyringDisabled { reason }
    }
}

// === impl KeyringResponse ===

impl KeyringResponse {
    /// Serf's summary error when not every member succeeded:
    /// `"N/M nodes reported failure"` or `"N/M nodes reported success"`
    /// (some did not answer in time); `None` when all did.
    pub fn failure(&self) -> Option<String> {
        if self.num_err != 0 {
            Some(format!(
                "{}/{} nodes reported failure",
                self.num_err, self.num_nodes
            ))
        } else if self.num_resp != self.num_nodes {
            Some(format!(
                "{}/{} nodes reported success",
                self.num_resp, self.num_nodes
            ))
        } else {
            None
        }
    }

    /// Counts one answer, as Serf's `streamKeyResp`.
    fn tally(&mut self, answer: KeyAnswer) {
        self.num_resp = self.num_resp.saturating_add(1);
        if !answer.ok {
            self.num_err = self.num_err.saturating_add(1);
        }
        if !answer.message.is_empty() {
            self.messages.insert(answer.node, answer.message);
        }
        if let Some(primary) = answer.keys.first() {
            *self.primary_keys.entry(primary.clone()).or_default() += 1;
        }
        for key in answer.keys {
            *self.keys.entry(key).or_default() += 1;
        }
    }
}

// === impl Pending ===

impl Pending {
    /// A query to `asked` (this node included).
    pub(crate) fn new(asked: BTreeSet<String>, done: oneshot::Sender<KeyringResponse>) -> Self {
        let response = KeyringResponse {
            num_nodes: asked.len(),
            ..KeyringResponse::default()
        };
        Self {
            asked,
            response,
            done,
        }
    }

    /// Counts an answer from a member asked, once. Returns whether every
    /// member asked has answered.
    pub(crate) fn answer(&mut self, answer: KeyAnswer) -> bool {
        if self.asked.remove(&answer.node) {
            self.response.tally(answer);
        }
        self.asked.is_empty()
    }

    /// Hands the tally to the caller (who may have given up).
    pub(crate) fn finish(self) {
        let _ = self.done.send(self.response);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(node: &str, ok: bool, keys: &[&str]) -> KeyAnswer {
        KeyAnswer {
            id: 1,
            node: node.into(),
            ok,
            message: if ok { String::new() } else { "boom".into() },
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn tallies_like_serf() {
        let (tx, mut rx) = oneshot::channel();
        let asked = ["a", "b", "c"].map(String::from).into();
        let mut pending = Pending::new(asked, tx);
        assert!(!pending.answer(answer("a", true, &["K1", "K2"])));
        assert!(!pending.answer(answer("a", true, &["K1", "K2"])), "once");
        assert!(!pending.answer(answer("zz", true, &["K9"])), "not asked");
        assert!(!pending.answer(answer("b", true, &["K2", "K1"])));
        assert!(pending.answer(answer("c", false, &[])));
        pending.finish();
        let r = rx.try_recv().unwrap();
        assert_eq!((r.num_nodes, r.num_resp, r.num_err), (3, 3, 1));
        assert_eq!(r.messages, BTreeMap::from([("c".into(), "boom".into())]));
        assert_eq!(r.keys, BTreeMap::from([("K1".into(), 2), ("K2".into(), 2)]));
        assert_eq!(
            r.primary_keys,
            BTreeMap::from([("K1".into(), 1), ("K2".into(), 1)])
        );
        assert_eq!(r.failure().as_deref(), Some("1/3 nodes reported failure"));
    }

    #[test]
    fn missing_answers_are_reported() {
        let r = KeyringResponse {
            num_nodes: 3,
            num_resp: 2,
            ..KeyringResponse::default()
        };
        assert_eq!(r.failure().as_deref(), Some("2/3 nodes reported success"));
        let all = KeyringResponse {
            num_nodes: 2,
            num_resp: 2,
            ..KeyringResponse::default()
        };
        assert_eq!(all.failure(), None);
    }

    #[test]
    fn bad_keys_and_disabled_keyrings_use_consuls_texts() {
        assert!(matches!(
            KeyringOp::Install("nope!".into()).to_wire(),
            Err(MembershipError::InvalidKey { .. })
        ));
        assert_eq!(KeyringOp::List.to_wire().unwrap(), KeyOp::List);
        assert_eq!(KeyringOp::List.disabled().to_string(), KEYRING_EMPTY);
        assert_eq!(
            KeyringOp::Remove(String::new()).disabled().to_string(),
            NO_KEYRING_TO_MODIFY
        );
    }
}
