//! The per-stream state machine of incremental (delta) ADS.
//!
//! Pure: feed it requests and snapshots, send what it returns. It keeps,
//! per type, the subscriptions, what Envoy has ACKed and the one response
//! in flight, and sends in Consul's order:
//!
//! ```text
//!  1 CDS upserts ─► 2 EDS upserts ─► 3 LDS ± ─► 4 RDS ± ─► 5 CDS removals ─► 6 EDS removals
//! ```
//!
//! Each type has one response in flight at a time. Listeners and routes
//! are held back while clusters or endpoints await an ACK, and removals of
//! clusters wait for listeners and routes (which may still name them). When
//! a cluster or listener is sent, its endpoints or route configurations are
//! sent again right behind it: Envoy drops a child's state when its parent
//! changes (envoy#13009), and a warming cluster or listener waits for them,
//! so they must not wait for the parent's ACK. A NACK silences its type
//! until the next snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use tracing::{debug, trace, warn};

use crate::children::{child_type, children_of};
use crate::{CLUSTER, ENDPOINT, LISTENER, ROUTE, ResourceSet, StreamError};

mod type_state;

use type_state::{Reply, TypeState};
pub(crate) use type_state::{Step, legacy_wildcard};

/// Consul's send order (`xDSUpdateOrder` in `agent/xds/delta.go`).
const ORDER: [Step; 6] = [
    step(CLUSTER, true, false),
    step(ENDPOINT, true, false),
    step(LISTENER, true, true),
    step(ROUTE, true, true),
    step(CLUSTER, false, true),
    step(ENDPOINT, false, true),
];

/// The state of one `DeltaAggregatedResources` stream.
#[derive(Debug, Default)]
pub struct DeltaStream {
    node_id: Option<String>,
    nonce: u64,
    snapshot: Option<Arc<ResourceSet>>,
    types: BTreeMap<String, TypeState>,
}

// === impl DeltaStream ===

impl DeltaStream {
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
        req: DeltaDiscoveryRequest,
    ) -> Result<Vec<DeltaDiscoveryResponse>, StreamError> {
        if req.type_url.is_empty() {
            return Err(StreamError::MissingTypeUrl);
        }
        self.check_node(node_id(&req))?;
        self.receive(&req);
        Ok(self.pass())
    }

    /// Takes a new snapshot of the proxy's resources and returns the
    /// responses to send.
    pub fn on_snapshot(&mut self, snapshot: Arc<ResourceSet>) -> Vec<DeltaDiscoveryResponse> {
        self.snapshot = Some(snapshot);
        self.types.values_mut().for_each(TypeState::new_snapshot);
        self.pass()
    }

    fn check_node(&mut self, node: Option<&str>) -> Result<(), StreamError> {
        check_node(&mut self.node_id, node)
    }

    fn receive(&mut self, req: &DeltaDiscoveryRequest) {
        let type_url = req.type_url.as_str();
        let Some(state) = self.types.get_mut(type_url) else {
            debug!(type_url, "subscribing to type");
            self.types.insert(req.type_url.clone(), TypeState::new(req));
            return;
        };
        if !req.response_nonce.is_empty() {
            reply(state, req);
        }
        let (subscribe, unsubscribe) = (
            &req.resource_names_subscribe,
            &req.resource_names_unsubscribe,
        );
        state.subscribe(subscribe, unsubscribe, true);
    }

    /// Envoy drops a child's state when its parent changes (envoy#13009):
    /// send the children of the parents in `sent` again.
    fn refresh_children(&mut self, sent: &DeltaDiscoveryResponse) {
        let type_url = sent.type_url.as_str();
        let Some(child) = child_type(type_url).and_then(|t| self.types.get_mut(t)) else {
            return;
        };
        for r in &sent.resources {
            if let Some(body) = &r.resource {
                children_of(type_url, &r.name, body)
                    .iter()
                    .for_each(|name| child.refresh(name));
            }
        }
    }

    /// Whether `step` must wait for ACKs still outstanding.
    fn blocked(&self, step: Step) -> bool {
        let waits_for: &[&str] = match (step.type_url, step.upsert) {
            (LISTENER | ROUTE, _) => &[CLUSTER, ENDPOINT],
            (CLUSTER, false) => &[LISTENER, ROUTE],
            (ENDPOINT, false) => &[CLUSTER],
            _ => &[],
        };
        self.in_flight(step.type_url) || waits_for.iter().any(|t| self.in_flight(t))
    }

    /// Computes what may be sent now, in order.
    fn pass(&mut self) -> Vec<DeltaDiscoveryResponse> {
        let Some(snapshot) = self.snapshot.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for step in ORDER {
            if self.blocked(step) {
                continue;
            }
            if let Some(sent) = self.respond(&snapshot, step) {
                self.refresh_children(&sent);
                out.push(sent);
            }
        }
        let others: Vec<String> = self.types.keys().filter(|t| !known(t)).cloned().collect();
        for type_url in others {
            let current = snapshot.type_map(&type_url);
            let state = self.types.get_mut(&type_url);
            let step = Step {
                type_url: "",
                upsert: true,
                remove: true,
            };
            out.extend(state.and_then(|s| s.respond(current, step, &mut self.nonce)));
        }
        log_sent(&out);
        out
    }

    fn respond(&mut self, snapshot: &ResourceSet, step: Step) -> Option<DeltaDiscoveryResponse> {
        let state = self.types.get_mut(step.type_url)?;
        state.respond(snapshot.type_map(step.type_url), step, &mut self.nonce)
    }

    fn in_flight(&self, type_url: &str) -> bool {
        self.types.get(type_url).is_some_and(TypeState::in_flight)
    }
}

/// Applies an ACK or NACK. Children of changed parents were already sent
/// again with them (see `refresh_children`).
fn reply(state: &mut TypeState, req: &DeltaDiscoveryRequest) {
    let (type_url, nonce) = (req.type_url.as_str(), req.response_nonce.as_str());
    match state.reply(nonce, req.error_detail.is_some()) {
        Reply::Acked => trace!(type_url, nonce, "envoy acked"),
        Reply::Nacked => {
            let detail = req.error_detail.as_ref();
            let message = detail.map(|d| d.message.as_str()).unwrap_or_default();
            warn!(
                type_url,
                nonce,
                envoy_error = message,
                "envoy rejected resources"
            );
        }
        Reply::Stale => trace!(type_url, nonce, "reply to an old response"),
    }
}

/// The `node.id` of a request, if it carries one.
pub(crate) fn node_id(req: &DeltaDiscoveryRequest) -> Option<&str> {
    let id = req.node.as_ref()?.id.as_str();
    (!id.is_empty()).then_some(id)
}

/// Records the stream's node on the first request; refuses another later.
pub(crate) fn check_node(
    first: &mut Option<String>,
    node: Option<&str>,
) -> Result<(), StreamError> {
    match (first.as_deref(), node) {
        (None, None) => Err(StreamError::MissingNodeId),
        (None, Some(id)) => {
            *first = Some(id.to_owned());
            Ok(())
        }
        (Some(first), Some(now)) if first != now => Err(StreamError::NodeChanged {
            first: first.to_owned(),
            now: now.to_owned(),
        }),
        (Some(_), _) => Ok(()),
    }
}

fn known(type_url: &str) -> bool {
    [CLUSTER, ENDPOINT, LISTENER, ROUTE].contains(&type_url)
}

const fn step(type_url: &'static str, upsert: bool, remove: bool) -> Step {
    Step {
        type_url,
        upsert,
        remove,
    }
}

fn log_sent(out: &[DeltaDiscoveryResponse]) {
    for r in out {
        debug!(
            type_url = %r.type_url,
            nonce = %r.nonce,
            upserts = r.resources.len(),
            removals = r.removed_resources.len(),
            "sending delta response"
        );
    }
}

#[cfg(test)]
mod tests;
