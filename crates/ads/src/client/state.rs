//! What a [`DeltaClient`](super::DeltaClient) has received so far.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::google::protobuf::Any;
use tonic::Code;

/// What the client has received so far.
#[derive(Debug, Clone, Default)]
pub struct ClientState {
    /// The resources held, by type URL then name.
    pub resources: BTreeMap<String, BTreeMap<String, ClientResource>>,
    /// Responses received, all types.
    pub responses: u64,
    /// Responses received by type URL.
    pub responses_by_type: BTreeMap<String, u64>,
    /// Responses ACKed.
    pub acks: u64,
    /// Responses NACKed.
    pub nacks: u64,
    /// Resources received (upserts), all responses and types.
    pub resources_received: u64,
    /// Names subscribed explicitly, by type URL (EDS and RDS).
    pub subscriptions: BTreeMap<String, BTreeSet<String>>,
    /// Set once the stream has ended.
    pub ended: Option<Ended>,
}

/// One resource the client holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientResource {
    /// The version the server gave it.
    pub version: String,
    /// The packed resource.
    pub body: Any,
}

/// How the stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The gRPC status code (`Ok` for a clean end).
    pub code: Code,
    /// The status message.
    pub message: String,
}

// === impl ClientState ===

impl ClientState {
    /// How many resources of `type_url` the client holds.
    pub fn count(&self, type_url: &str) -> usize {
        self.resources.get(type_url).map_or(0, BTreeMap::len)
    }

    /// One held resource.
    pub fn get(&self, type_url: &str, name: &str) -> Option<&ClientResource> {
        self.resources.get(type_url)?.get(name)
    }

    /// The version held of one resource.
    pub fn version(&self, type_url: &str, name: &str) -> Option<&str> {
        self.get(type_url, name).map(|r| r.version.as_str())
    }

    /// The names held of one type, sorted.
    pub fn names(&self, type_url: &str) -> Vec<&str> {
        let held = self
            .resources
            .get(type_url)
            .into_iter()
            .flat_map(|m| m.keys());
        held.map(String::as_str).collect()
    }

    /// Responses received of one type.
    pub fn responses_of(&self, type_url: &str) -> u64 {
        self.responses_by_type.get(type_url).copied().unwrap_or(0)
    }

    /// Every held version, by type URL then name.
    pub fn versions(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let by_name = |m: &BTreeMap<String, ClientResource>| {
            m.iter()
                .map(|(n, r)| (n.clone(), r.version.clone()))
                .collect()
        };
        self.resources
            .iter()
            .map(|(t, m)| (t.clone(), by_name(m)))
            .collect()
    }
}
