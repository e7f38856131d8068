//! The per-stream state machine of state-of-the-world ADS
//! (`StreamAggregatedResources`).
//!
//! Pure like [`DeltaStream`](crate::DeltaStream). Each response carries the
//! whole set of its type: every listener and cluster (wildcard), or the
//! requested endpoints and routes. `version_info` is a hash of the names
//! and versions sent. Sending follows the delta order (CDS, EDS, LDS, RDS)
//! with one response in flight per type, listeners and routes held back
//! while clusters or endpoints await an ACK, and no resend after a NACK
//! until a new snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use tracing::{debug, trace, warn};

use crate::children::child_type;
use crate::delta::{check_node, legacy_wildcard};
use crate::resource_set::content_version;
use crate::{CLUSTER, ENDPOINT, LISTENER, ROUTE, Resource, ResourceSet, StreamError};

/// The send order of state-of-the-world responses.
const ORDER: [&str; 4] = [CLUSTER, ENDPOINT, LISTENER, ROUTE];

/// The state of one `StreamAggregatedResources` stream.
#[derive(Debug, Default)]
pub struct SotwStream {
    node_id: Option<String>,
    nonce: u64,
    snapshot: Option<Arc<ResourceSet>>,
    types: BTreeMap<String, SotwType>,
}

/// One resource type of a state-of-the-world stream.
#[derive(Debug)]
struct SotwType {
    type_url: String,
    /// Requested names; `None` is wildcard.
    names: Option<BTreeSet<String>>,
    /// The `version_info` Envoy last reported holding.
    client_version: String,
    /// The nonce of the last response sent.
    last_nonce: Option<String>,
    /// The last response awaits an ACK.
    in_flight: bool,
    /// Envoy rejected the last response: quiet until a new snapshot.
    nacked: bool,
    /// The request changed (or is new): answer even at the same version.
    dirty: bool,
}

// === impl SotwStream ===

impl SotwStream {
    /// A stream that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proxy this stream is for: the first request's `node.id`.
    pub fn node_id(&self) -> Option<&str> {
        self.node_id.as_deref()
    }

    /// Handles one request from Envoy and returns the responses to send.
    pub fn on_request(
        &mut self,
        req: DiscoveryRequest,
    ) -> Result<Vec<DiscoveryResponse>, StreamError> {
        if req.type_url.is_empty() {
            return Err(StreamError::MissingTypeUrl);
        }
        check_node(&mut self.node_id, node_id(&req))?;
        let acked = match self.types.get_mut(&req.type_url) {
            Some(state) => state.receive(&req),
            None => {
                debug!(type_url = %req.type_url, "subscribing to type");
                self.types.insert(req.type_url.clone(), SotwType::new(&req));
                false
            }
        };
        if acked {
            self.refresh_child(&req.type_url);
        }
        Ok(self.pass())
    }

    /// Takes a new snapshot and returns the responses to send.
    pub fn on_snapshot(&mut self, snapshot: Arc<ResourceSet>) -> Vec<DiscoveryResponse> {
        self.snapshot = Some(snapshot);
        self.types.values_mut().for_each(|t| t.nacked = false);
        self.pass()
    }

    /// Envoy rebuilds a cluster's endpoints (a listener's routes) when the
    /// parent changes: answer the child type again, as the delta stream does.
    fn refresh_child(&mut self, type_url: &str) {
        let child = child_type(type_url).and_then(|t| self.types.get_mut(t));
        if let Some(child) = child {
            child.dirty = true;
        }
    }

    fn pass(&mut self) -> Vec<DiscoveryResponse> {
        let Some(snapshot) = self.snapshot.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for type_url in ORDER {
            // Endpoints do not wait for clusters (a warming cluster needs
            // them); listeners and routes wait for both.
            let waits_for: &[&str] = match type_url {
                LISTENER | ROUTE => &[CLUSTER, ENDPOINT],
                _ => &[],
            };
            if self.in_flight(type_url) || waits_for.iter().any(|t| self.in_flight(t)) {
                continue;
            }
            out.extend(self.respond(&snapshot, type_url));
        }
        let others: Vec<String> = self
            .types
            .keys()
            .filter(|t| !ORDER.contains(&t.as_str()))
            .cloned()
            .collect();
        for type_url in others {
            out.extend(self.respond(&snapshot, &type_url));
        }
        for r in &out {
            let count = r.resources.len();
            debug!(type_url = %r.type_url, nonce = %r.nonce, version = %r.version_info, count, "sending response");
        }
        out
    }

    fn respond(&mut self, snapshot: &ResourceSet, type_url: &str) -> Option<DiscoveryResponse> {
        let state = self.types.get_mut(type_url)?;
        state.respond(snapshot.type_map(type_url), &mut self.nonce)
    }

    fn in_flight(&self, type_url: &str) -> bool {
        self.types.get(type_url).is_some_and(|t| t.in_flight)
    }
}

// === impl SotwType ===

impl SotwType {
    fn new(req: &DiscoveryRequest) -> Self {
        Self {
            type_url: req.type_url.clone(),
            names: requested(req),
            client_version: req.version_info.clone(),
            last_nonce: None,
            in_flight: false,
            nacked: false,
            dirty: true,
        }
    }

    /// Applies a request; true if it ACKed the response in flight.
    fn receive(&mut self, req: &DiscoveryRequest) -> bool {
        let type_url = self.type_url.as_str();
        let nonce = req.response_nonce.as_str();
        if !nonce.is_empty() && self.last_nonce.as_deref() != Some(nonce) {
            trace!(type_url, nonce, "request for an old response");
            return false;
        }
        let mut acked = false;
        if self.in_flight && !nonce.is_empty() {
            self.in_flight = false;
            acked = req.error_detail.is_none();
            if let Some(detail) = &req.error_detail {
                self.nacked = true;
                let message = detail.message.as_str();
                warn!(
                    type_url,
                    nonce,
                    envoy_error = message,
                    "envoy rejected resources"
                );
            }
        }
        self.client_version = req.version_info.clone();
        let names = requested(req);
        if names != self.names {
            self.names = names;
            self.dirty = true;
        }
        acked
    }

    fn respond(
        &mut self,
        current: Option<&BTreeMap<String, Resource>>,
        nonce: &mut u64,
    ) -> Option<DiscoveryResponse> {
        if self.in_flight || self.nacked {
            return None;
        }
        let current = current?;
        let selected: Vec<&Resource> = match &self.names {
            None => current.values().collect(),
            Some(names) => names.iter().filter_map(|n| current.get(n)).collect(),
        };
        let version = set_version(&selected);
        if !self.dirty && version == self.client_version {
            return None;
        }
        *nonce += 1;
        let nonce = format!("{nonce:08x}");
        self.dirty = false;
        self.in_flight = true;
        self.last_nonce = Some(nonce.clone());
        Some(DiscoveryResponse {
            version_info: version,
            resources: selected.iter().map(|r| r.body.clone()).collect(),
            type_url: self.type_url.clone(),
            nonce,
            ..Default::default()
        })
    }
}

/// The names a request asks for; `None` for wildcard.
fn requested(req: &DiscoveryRequest) -> Option<BTreeSet<String>> {
    let names = &req.resource_names;
    let legacy = legacy_wildcard(&req.type_url) && names.is_empty();
    if legacy || names.iter().any(|n| n == "*") {
        return None;
    }
    Some(names.iter().cloned().collect())
}

/// A hash of the names and versions of `resources`.
fn set_version(resources: &[&Resource]) -> String {
    let mut bytes = Vec::new();
    for r in resources {
        bytes.extend_from_slice(r.name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(r.version.as_bytes());
        bytes.push(0);
    }
    content_version(&bytes)
}

pub(crate) fn node_id(req: &DiscoveryRequest) -> Option<&str> {
    let id = req.node.as_ref()?.id.as_str();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests;
