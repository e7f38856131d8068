//! An Envoy-like delta ADS client, for protocol tests and load.
//!
//! Like Envoy it opens `DeltaAggregatedResources` with the ACL token in the
//! `x-consul-token` metadata and `node.id` on the first request, subscribes
//! to every cluster and listener (wildcard), then to the load assignments
//! of its EDS clusters and the route configurations its listeners load
//! over RDS, and ACKs every response (or NACKs one on demand). One tokio
//! task per client, no threads: cheap enough for a thousand at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), skein_ads::ClientError> {
//! use std::time::Duration;
//! use skein_ads::client::{ClientConfig, DeltaClient};
//!
//! let config = ClientConfig::new("web-sidecar-proxy").token("secret");
//! let client = DeltaClient::connect("http://127.0.0.1:8502", config).await?;
//! client
//!     .wait_for(Duration::from_secs(5), |s| s.count(skein_ads::CLUSTER) > 0)
//!     .await?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tracing::{Instrument, debug_span};

use crate::ClientError;
use crate::error::Result;

mod driver;
mod state;

pub use state::{ClientResource, ClientState, Ended};

use driver::{Command, run};

/// Who the client says it is.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// `node.id`: the proxy's service ID.
    pub node_id: String,
    /// `node.cluster`: the destination service name.
    pub cluster: String,
    /// The ACL token sent as `x-consul-token` (omitted when empty).
    pub token: String,
    /// Resources held from an earlier stream, by type URL then name: the
    /// client starts with them and announces their versions in
    /// `initial_resource_versions`, like a reconnecting Envoy.
    pub initial: BTreeMap<String, BTreeMap<String, ClientResource>>,
}

/// A running delta ADS client. Dropping it closes the stream.
#[derive(Debug)]
pub struct DeltaClient {
    state: watch::Receiver<ClientState>,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

// === impl ClientConfig ===

impl ClientConfig {
    /// A client for the proxy `node_id`, with no token.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            ..Self::default()
        }
    }

    /// Sets the ACL token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Sets `node.cluster`.
    #[must_use]
    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = cluster.into();
        self
    }

    /// Starts from resources held on an earlier stream (an earlier
    /// client's [`ClientState::resources`]), like a reconnecting Envoy.
    #[must_use]
    pub fn resume(mut self, resources: BTreeMap<String, BTreeMap<String, ClientResource>>) -> Self {
        self.initial = resources;
        self
    }
}

// === impl DeltaClient ===

impl DeltaClient {
    /// Connects to `address` (such as `http://127.0.0.1:8502`) and starts
    /// the stream.
    pub async fn connect(address: impl Into<String>, config: ClientConfig) -> Result<Self> {
        let address = address.into();
        let endpoint = Endpoint::from_shared(address.clone()).map_err(|source| {
            ClientError::InvalidAddress {
                address: address.clone(),
                source,
            }
        })?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| ClientError::Connect { address, source })?;
        Self::start(channel, config)
    }

    /// Starts a stream on an existing channel (many clients may share one
    /// HTTP/2 connection). Must be called inside a tokio runtime.
    pub fn start(channel: Channel, config: ClientConfig) -> Result<Self> {
        let token = token_value(&config.token)?;
        let initial = ClientState {
            resources: config.initial.clone(),
            ..ClientState::default()
        };
        let (state_tx, state) = watch::channel(initial);
        let (commands, command_rx) = mpsc::unbounded_channel();
        let span = debug_span!("ads_client", node_id = %config.node_id);
        let task = tokio::spawn(run(channel, config, token, state_tx, command_rx).instrument(span));
        Ok(Self {
            state,
            commands,
            task,
        })
    }

    /// Waits until `condition` holds of the client's state, at most
    /// `timeout`. Fails with the server's status if the stream ends first.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&ClientState) -> bool,
    ) -> Result<()> {
        let mut rx = self.state.clone();
        let waited = rx.wait_for(|s| condition(s) || s.ended.is_some());
        let state = match tokio::time::timeout(timeout, waited).await {
            Err(_) => return Err(ClientError::Timeout { waited: timeout }),
            Ok(Err(_)) => return Err(ClientError::Closed),
            Ok(Ok(state)) => state,
        };
        if condition(&state) {
            return Ok(());
        }
        Err(ended_error(state.ended.as_ref()))
    }

    /// Waits for the stream to end, at most `timeout`, and says how.
    pub async fn wait_ended(&self, timeout: Duration) -> Result<Ended> {
        let mut rx = self.state.clone();
        let waited = rx.wait_for(|s| s.ended.is_some());
        match tokio::time::timeout(timeout, waited).await {
            Err(_) => Err(ClientError::Timeout { waited: timeout }),
            Ok(Err(_)) => Err(ClientError::Closed),
            Ok(Ok(state)) => state.ended.clone().ok_or(ClientError::Closed),
        }
    }

    /// Reads the current state.
    pub fn with_state<T>(&self, read: impl FnOnce(&ClientState) -> T) -> T {
        read(&self.state.borrow())
    }

    /// A copy of the current state.
    pub fn state(&self) -> ClientState {
        self.state.borrow().clone()
    }

    /// Responses received so far, all types.
    pub fn responses(&self) -> u64 {
        self.state.borrow().responses
    }

    /// Subscribes to `names` of `type_url` (kept until unsubscribed).
    pub fn subscribe(&self, type_url: &str, names: &[&str]) {
        let names = names.iter().map(|n| (*n).to_owned()).collect();
        self.command(Command::Subscribe {
            type_url: type_url.to_owned(),
            names,
        });
    }

    /// Unsubscribes from `names` of `type_url`.
    pub fn unsubscribe(&self, type_url: &str, names: &[&str]) {
        let names = names.iter().map(|n| (*n).to_owned()).collect();
        self.command(Command::Unsubscribe {
            type_url: type_url.to_owned(),
            names,
        });
    }

    /// Rejects the next response of `type_url` with `message` instead of
    /// applying it.
    pub fn nack_next(&self, type_url: &str, message: &str) {
        self.command(Command::NackNext {
            type_url: type_url.to_owned(),
            message: message.to_owned(),
        });
    }

    fn command(&self, command: Command) {
        // The task only stops once the stream has ended; then there is
        // nothing left to tell it.
        let _ = self.commands.send(command);
    }
}

impl Drop for DeltaClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn token_value(token: &str) -> Result<Option<AsciiMetadataValue>> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .parse()
        .map(Some)
        .map_err(|_| ClientError::InvalidToken)
}

fn ended_error(ended: Option<&Ended>) -> ClientError {
    match ended {
        Some(e) if e.code != Code::Ok => {
            ClientError::Status(Status::new(e.code, e.message.clone()))
        }
        _ => ClientError::Closed,
    }
}
