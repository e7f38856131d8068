//! The task behind a [`DeltaClient`](super::DeltaClient): opens the stream,
//! applies and ACKs responses, follows clusters and listeners to their
//! endpoints and routes.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
    aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Streaming};
use tracing::debug;

use super::{ClientConfig, ClientResource, ClientState, Ended};
use crate::{CLUSTER, ENDPOINT, LISTENER, ROUTE, TOKEN_METADATA, eds_name, route_names};

/// Requests from the handle to the stream task.
#[derive(Debug)]
pub(super) enum Command {
    Subscribe {
        type_url: String,
        names: Vec<String>,
    },
    Unsubscribe {
        type_url: String,
        names: Vec<String>,
    },
    NackNext {
        type_url: String,
        message: String,
    },
}

/// The stream task's own state.
struct Driver {
    config: ClientConfig,
    state: watch::Sender<ClientState>,
    out: mpsc::UnboundedSender<DeltaDiscoveryRequest>,
    /// Names the caller subscribed by hand, kept whatever the parents say.
    manual: BTreeMap<String, BTreeSet<String>>,
    /// Types a request was sent for.
    requested: BTreeSet<String>,
    /// Types whose next response is to be NACKed, with the message.
    nack_next: BTreeMap<String, String>,
}

// === impl Driver ===

impl Driver {
    /// The first requests: every cluster, then every listener.
    fn open(&mut self) {
        for type_url in [CLUSTER, LISTENER] {
            let mut req = self.request(type_url);
            if type_url == CLUSTER {
                req.node = Some(self.node());
            }
            self.send(req);
        }
    }

    fn on_response(&mut self, resp: DeltaDiscoveryResponse) {
        let type_url = resp.type_url.clone();
        self.state.send_modify(|s| {
            s.responses += 1;
            *s.responses_by_type.entry(type_url.clone()).or_default() += 1;
        });
        if let Some(message) = self.nack_next.remove(&type_url) {
            debug!(%type_url, nonce = %resp.nonce, "nacking");
            self.send(nack(&type_url, &resp.nonce, message));
            self.state.send_modify(|s| s.nacks += 1);
            return;
        }
        self.apply(&resp);
        let mut ack = self.request(&type_url);
        ack.response_nonce = resp.nonce;
        self.send(ack);
        self.state.send_modify(|s| s.acks += 1);
        self.follow_children(&type_url);
    }

    fn apply(&mut self, resp: &DeltaDiscoveryResponse) {
        self.state.send_modify(|s| {
            s.resources_received += resp.resources.len() as u64;
            let held = s.resources.entry(resp.type_url.clone()).or_default();
            for r in &resp.resources {
                let body = r.resource.clone().unwrap_or_default();
                let version = r.version.clone();
                held.insert(r.name.clone(), ClientResource { version, body });
            }
            for name in &resp.removed_resources {
                held.remove(name);
            }
        });
    }

    /// After clusters or listeners change, subscribes to the endpoints and
    /// routes they need and drops the ones they no longer do.
    fn follow_children(&mut self, type_url: &str) {
        let (child, names): (&str, BTreeSet<String>) = {
            let state = self.state.borrow();
            let held = state
                .resources
                .get(type_url)
                .into_iter()
                .flat_map(|m| m.values());
            match type_url {
                CLUSTER => (ENDPOINT, held.filter_map(|r| eds_name(&r.body)).collect()),
                LISTENER => (ROUTE, held.flat_map(|r| route_names(&r.body)).collect()),
                _ => return,
            }
        };
        let manual = self.manual.get(child).cloned().unwrap_or_default();
        let wanted: BTreeSet<String> = names.union(&manual).cloned().collect();
        self.set_subscriptions(child, &wanted);
    }

    fn set_subscriptions(&mut self, type_url: &str, wanted: &BTreeSet<String>) {
        let current = self.subscriptions(type_url);
        let add: Vec<String> = wanted.difference(&current).cloned().collect();
        let drop: Vec<String> = current.difference(wanted).cloned().collect();
        if add.is_empty() && drop.is_empty() && self.requested.contains(type_url) {
            return;
        }
        if wanted.is_empty() && !self.requested.contains(type_url) {
            return;
        }
        self.change(type_url, add, drop);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Subscribe { type_url, names } => {
                let manual = self.manual.entry(type_url.clone()).or_default();
                manual.extend(names.iter().cloned());
                self.change(&type_url, names, Vec::new());
            }
            Command::Unsubscribe { type_url, names } => {
                if let Some(manual) = self.manual.get_mut(&type_url) {
                    names.iter().for_each(|n| {
                        manual.remove(n);
                    });
                }
                self.change(&type_url, Vec::new(), names);
            }
            Command::NackNext { type_url, message } => {
                self.nack_next.insert(type_url, message);
            }
        }
    }

    /// Sends a subscription change and forgets what was unsubscribed.
    fn change(&mut self, type_url: &str, add: Vec<String>, drop: Vec<String>) {
        let mut req = self.request(type_url);
        req.resource_names_subscribe = add.clone();
        req.resource_names_unsubscribe = drop.clone();
        self.state.send_modify(|s| {
            let subs = s.subscriptions.entry(type_url.to_owned()).or_default();
            subs.extend(add);
            let held = s.resources.entry(type_url.to_owned()).or_default();
            for name in &drop {
                subs.remove(name);
                held.remove(name);
            }
        });
        self.send(req);
    }

    fn subscriptions(&self, type_url: &str) -> BTreeSet<String> {
        let state = self.state.borrow();
        state
            .subscriptions
            .get(type_url)
            .cloned()
            .unwrap_or_default()
    }

    /// A request for `type_url`; the first one of each type announces the
    /// versions held from an earlier stream.
    fn request(&mut self, type_url: &str) -> DeltaDiscoveryRequest {
        let mut req = DeltaDiscoveryRequest {
            type_url: type_url.to_owned(),
            ..Default::default()
        };
        let first = self.requested.insert(type_url.to_owned());
        if let Some(held) = self.config.initial.get(type_url).filter(|_| first) {
            let versions = held.iter().map(|(n, r)| (n.clone(), r.version.clone()));
            req.initial_resource_versions = versions.collect();
        }
        req
    }

    fn node(&self) -> Node {
        Node {
            id: self.config.node_id.clone(),
            cluster: self.config.cluster.clone(),
            ..Default::default()
        }
    }

    fn send(&self, req: DeltaDiscoveryRequest) {
        // Fails only once the stream is gone; the reader notices that.
        let _ = self.out.send(req);
    }

    fn end(&self, code: Code, message: &str) {
        debug!(?code, message, "stream ended");
        self.state.send_modify(|s| {
            s.ended = Some(Ended {
                code,
                message: message.to_owned(),
            });
        });
    }
}

/// The stream task: opens the RPC, then handles responses and commands.
pub(super) async fn run(
    channel: Channel,
    config: ClientConfig,
    token: Option<AsciiMetadataValue>,
    state: watch::Sender<ClientState>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let (out, out_rx) = mpsc::unbounded_channel();
    let mut driver = Driver {
        config,
        state,
        out,
        manual: BTreeMap::new(),
        requested: BTreeSet::new(),
        nack_next: BTreeMap::new(),
    };
    driver.open();
    let mut request = Request::new(UnboundedReceiverStream::new(out_rx));
    if let Some(token) = token {
        request.metadata_mut().insert(TOKEN_METADATA, token);
    }
    let mut client = AggregatedDiscoveryServiceClient::new(channel);
    let inbound = match client.delta_aggregated_resources(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return driver.end(status.code(), status.message()),
    };
    serve(&mut driver, inbound, &mut commands).await;
}

async fn serve(
    driver: &mut Driver,
    mut inbound: Streaming<DeltaDiscoveryResponse>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) {
    loop {
        tokio::select! {
            msg = inbound.message() => match msg {
                Ok(Some(resp)) => driver.on_response(resp),
                Ok(None) => return driver.end(Code::Ok, ""),
                Err(status) => return driver.end(status.code(), status.message()),
            },
            command = commands.recv() => match command {
                Some(command) => driver.on_command(command),
                None => return,
            },
        }
    }
}

fn nack(type_url: &str, nonce: &str, message: String) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url.to_owned(),
        response_nonce: nonce.to_owned(),
        error_detail: Some(RpcStatus {
            code: Code::InvalidArgument as i32,
            message,
            details: Vec::new(),
        }),
        ..Default::default()
    }
}
