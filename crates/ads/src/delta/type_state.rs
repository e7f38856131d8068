//! What one delta stream knows about one resource type.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as WireResource,
};

use crate::{CLUSTER, LISTENER, Resource};

/// Which half of an update a step of the send order may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) type_url: &'static str,
    pub(crate) upsert: bool,
    pub(crate) remove: bool,
}

/// One resource type of one stream: subscriptions, what Envoy has
/// confirmed, and the response in flight.
#[derive(Debug)]
pub(crate) struct TypeState {
    type_url: String,
    /// Subscribed to every resource of the type.
    wildcard: bool,
    /// Names subscribed to explicitly.
    subscribed: BTreeSet<String>,
    /// What Envoy has confirmed holding: name → version.
    acked: HashMap<String, String>,
    /// Names to send again even if Envoy has the current version.
    force: BTreeSet<String>,
    /// The one response of this type awaiting an ACK.
    in_flight: Option<InFlight>,
    /// Envoy rejected the last response: stay quiet until a new snapshot.
    nacked: bool,
    /// Envoy has ACKed at least one response of this type.
    answered: bool,
}

/// A sent, unacknowledged response.
#[derive(Debug)]
struct InFlight {
    nonce: String,
    updates: BTreeMap<String, Update>,
}

/// One change carried by a response.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Update {
    Upsert { version: String },
    Remove,
}

/// The outcome of a request's `response_nonce`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The in-flight response was accepted.
    Acked,
    /// The in-flight response was rejected.
    Nacked,
    /// The nonce is not the one in flight (an old response).
    Stale,
}

// === impl TypeState ===

impl TypeState {
    /// Registers a type from the first request that names it.
    pub(crate) fn new(req: &DeltaDiscoveryRequest) -> Self {
        let subscribe = &req.resource_names_subscribe;
        let legacy = legacy_wildcard(&req.type_url) && subscribe.is_empty();
        let wildcard = legacy || subscribe.iter().any(|n| n == "*");
        let mut state = Self {
            type_url: req.type_url.clone(),
            wildcard,
            subscribed: BTreeSet::new(),
            acked: req.initial_resource_versions.clone().into_iter().collect(),
            force: BTreeSet::new(),
            in_flight: None,
            nacked: false,
            answered: false,
        };
        if !wildcard {
            state.subscribed.extend(state.acked.keys().cloned());
        }
        // What Envoy already holds at the right version is not sent again.
        state.subscribe(subscribe, &req.resource_names_unsubscribe, false);
        state
    }

    /// Applies `resource_names_subscribe` and `_unsubscribe`. With `force`,
    /// subscribed names are sent even if Envoy should already have them:
    /// it may have dropped them and regained interest.
    pub(crate) fn subscribe(&mut self, subscribe: &[String], unsubscribe: &[String], force: bool) {
        for name in subscribe {
            if name == "*" {
                self.wildcard = true;
                continue;
            }
            self.subscribed.insert(name.clone());
            if force {
                self.force.insert(name.clone());
            }
        }
        for name in unsubscribe {
            if name == "*" {
                self.wildcard = false;
                let subscribed = &self.subscribed;
                self.acked.retain(|n, _| subscribed.contains(n));
                continue;
            }
            self.subscribed.remove(name);
            if !self.wildcard {
                self.acked.remove(name);
                self.force.remove(name);
            }
        }
    }

    /// Handles the `response_nonce` of a request.
    pub(crate) fn reply(&mut self, nonce: &str, rejected: bool) -> Reply {
        let Some(flight) = self.in_flight.take_if(|f| f.nonce == nonce) else {
            return Reply::Stale;
        };
        if rejected {
            self.nacked = true;
            return Reply::Nacked;
        }
        for (name, update) in flight.updates {
            match update {
                Update::Upsert { version } => {
                    self.acked.insert(name, version);
                }
                Update::Remove => {
                    self.acked.remove(&name);
                }
            }
        }
        self.answered = true;
        Reply::Acked
    }

    /// Marks a child resource for resending because its parent changed,
    /// if Envoy holds it (or is being sent it) and is subscribed to it.
    pub(crate) fn refresh(&mut self, name: &str) {
        let sending = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.updates.contains_key(name));
        if self.wants(name) && (self.acked.contains_key(name) || sending) {
            self.force.insert(name.to_owned());
        }
    }

    /// A new snapshot lifts the silence after a NACK.
    pub(crate) fn new_snapshot(&mut self) {
        self.nacked = false;
    }

    /// Whether a response of this type awaits an ACK.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The response this step of the send order should carry, if any.
    /// `current` is the type's resources in the snapshot (`None`: not
    /// ready, send nothing).
    pub(crate) fn respond(
        &mut self,
        current: Option<&BTreeMap<String, Resource>>,
        step: Step,
        nonce: &mut u64,
    ) -> Option<DeltaDiscoveryResponse> {
        if self.in_flight.is_some() || self.nacked {
            return None;
        }
        let current = current?;
        let mut updates = self.diff(current);
        updates.retain(|_, u| match u {
            Update::Upsert { .. } => step.upsert,
            Update::Remove => step.remove,
        });
        // The first answer goes out even when empty: Envoy waits for it.
        if updates.is_empty() && self.answered {
            return None;
        }
        *nonce += 1;
        let nonce = format!("{nonce:08x}");
        let response = self.response(&nonce, current, &updates);
        self.in_flight = Some(InFlight { nonce, updates });
        Some(response)
    }

    fn response(
        &mut self,
        nonce: &str,
        current: &BTreeMap<String, Resource>,
        updates: &BTreeMap<String, Update>,
    ) -> DeltaDiscoveryResponse {
        let mut response = DeltaDiscoveryResponse {
            type_url: self.type_url.clone(),
            nonce: nonce.to_owned(),
            ..Default::default()
        };
        for (name, update) in updates {
            let resource = current.get(name);
            match (update, resource) {
                (Update::Upsert { .. }, Some(resource)) => {
                    self.force.remove(name);
                    response.resources.push(wire_resource(resource));
                }
                (Update::Remove, _) => response.removed_resources.push(name.clone()),
                (Update::Upsert { .. }, None) => {}
            }
        }
        response
    }

    /// Every change between what Envoy has and `current`, for the names
    /// this stream wants.
    fn diff(&self, current: &BTreeMap<String, Resource>) -> BTreeMap<String, Update> {
        let mut updates = BTreeMap::new();
        let mut consider = |name: &String, resource: &Resource| {
            let stale = self.acked.get(name) != Some(&resource.version);
            if stale || self.force.contains(name) {
                let version = resource.version.clone();
                updates.insert(name.clone(), Update::Upsert { version });
            }
        };
        if self.wildcard {
            current.iter().for_each(|(n, r)| consider(n, r));
        } else {
            let wanted = self.subscribed.iter();
            wanted.for_each(|n| current.get(n).into_iter().for_each(|r| consider(n, r)));
        }
        for name in self.acked.keys() {
            if self.wants(name) && !current.contains_key(name) {
                updates.insert(name.clone(), Update::Remove);
            }
        }
        updates
    }

    fn wants(&self, name: &str) -> bool {
        self.wildcard || self.subscribed.contains(name)
    }
}

/// Listeners and clusters default to wildcard when first requested with
/// no names (the xDS "legacy wildcard"); other types never do.
pub(crate) fn legacy_wildcard(type_url: &str) -> bool {
    type_url == LISTENER || type_url == CLUSTER
}

fn wire_resource(resource: &Resource) -> WireResource {
    WireResource {
        name: resource.name.clone(),
        version: resource.version.clone(),
        resource: Some(resource.body.clone()),
        ..Default::default()
    }
}
