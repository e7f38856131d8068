//! Server-to-server RPCs on the server port, beside Raft's own: a follower
//! forwards writes to the leader, asks it for a read index before a
//! consistent read, hands it session renewals (the TTL timers run on
//! the leader), peer removals, leadership transfers, and the Connect CA
//! (signing on the leader, settings, root keys among the voters). Payloads are JSON in one protobuf bytes field, like the
//! Raft transport's.

pub(crate) mod proto;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use skein_raft::{Raft, SharedStore};
use skein_state::{Op, Outcome};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::proposer::Proposer;
use crate::sessions::SessionTimers;
use crate::{Error, Result};
use proto::RpcPayload;
use proto::rpc_client::RpcClient;
use proto::rpc_server::{Rpc, RpcServer};

/// An error as it crosses the wire.
#[derive(Debug, Serialize, Deserialize)]
enum WireError {
    NotLeader { leader: Option<String> },
    NoLeader,
    RateLimited,
    Invalid(String),
    Failed(String),
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotLeader { leader } => Self::NotLeader { leader },
            Error::NoLeader => Self::NoLeader,
            Error::RateLimited => Self::RateLimited,
            Error::Invalid(m) => Self::Invalid(m),
            other => Self::Failed(other.to_string()),
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::NotLeader { leader } => Error::NotLeader { leader },
            WireError::NoLeader => Error::NoLeader,
            WireError::RateLimited => Error::RateLimited,
            WireError::Invalid(m) => Error::Invalid(m),
            WireError::Failed(m) => Error::Rpc(m),
        }
    }
}

type WireResult<T> = std::result::Result<T, WireError>;

fn decode<T: DeserializeOwned>(req: Request<RpcPayload>) -> std::result::Result<T, Status> {
    serde_json::from_slice(&req.into_inner().data)
        .map_err(|e| Status::invalid_argument(format!("decoding request: {e}")))
}

fn encode<T: Serialize>(value: &T) -> std::result::Result<Response<RpcPayload>, Status> {
    let data = serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RpcPayload { data }))
}

/// The inbound side, on every server.
#[derive(Clone)]
pub(crate) struct RpcService {
    pub(crate) proposer: Proposer,
    pub(crate) raft: Raft,
    pub(crate) sessions: Arc<SessionTimers>,
    pub(crate) store: SharedStore,
    pub(crate) clients: Arc<RpcClients>,
    pub(crate) ca: Arc<crate::ca::ConnectCa>,
}

impl RpcService {
    pub(crate) fn into_server(self) -> RpcServer<Self> {
        RpcServer::new(self)
    }

    fn leads(&self) -> bool {
        self.raft.metrics().borrow().state == openraft::ServerState::Leader
    }
}

#[tonic::async_trait]
impl Rpc for RpcService {
    /// Removes a peer from the Raft configuration (this server must lead).
    async fn remove_peer(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let id: u64 = decode(req)?;
        let result: WireResult<bool> = crate::server::remove_peer_local(&self.raft, id)
            .await
            .map_err(Into::into);
        encode(&result)
    }

    /// Hands leadership to the voter named in the request, or to any
    /// up-to-date voter (this server must lead).
    async fn transfer_leader(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let target: Option<u64> = decode(req)?;
        let result: WireResult<u64> =
            crate::transfer::transfer_local(&self.raft, &self.proposer, &self.clients, target)
                .await
                .map_err(Into::into);
        encode(&result)
    }

    /// Campaigns at once: the last step of a leadership transfer.
    async fn elect_now(
        &self,
        _req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let result: WireResult<()> = crate::transfer::elect_now(&self.raft)
            .await
            .map_err(Into::into);
        encode(&result)
    }

    /// Proposes a forwarded write here; never forwards again, so a leader
    /// change answers `NotLeader` and the caller retries.
    async fn write(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let op: Op = decode(req)?;
        let result: WireResult<Outcome> = self.proposer.write(op).await.map_err(Into::into);
        encode(&result)
    }

    /// The leader's read index: the log index a follower must have applied
    /// before it serves a consistent read.
    async fn read_index(
        &self,
        _req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let result: WireResult<u64> = match self.raft.get_read_log_id().await {
            Ok((read, _applied)) => Ok(read.map_or(0, |l| l.index)),
            Err(_) => Err(WireError::NoLeader),
        };
        encode(&result)
    }

    async fn sign_csr(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let csr: String = decode(req)?;
        let result: WireResult<skein_ca::IssuedCert> = if self.leads() {
            self.ca
                .sign(&csr)
                .await
                .map_err(|e| WireError::from(Error::from(e)))
        } else {
            Err(WireError::NotLeader { leader: None })
        };
        encode(&result)
    }

    /// Applies new CA settings here (this server must lead).
    async fn ca_set_config(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let (provider, config): (String, Map<String, Value>) = decode(req)?;
        let result: WireResult<bool> = if self.leads() {
            self.ca
                .set_config(&provider, &config)
                .await
                .map_err(Into::into)
        } else {
            Err(WireError::NotLeader { leader: None })
        };
        encode(&result)
    }

    /// A voter asks for a CA root's private key it lacks.
    async fn ca_key_get(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let remote = req.remote_addr();
        let id: String = decode(req)?;
        let result: WireResult<Option<String>> =
            self.ca.key_for_peer(remote, &id).await.map_err(Into::into);
        encode(&result)
    }

    /// The leader hands over a new CA root's private key.
    async fn ca_key_put(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let remote = req.remote_addr();
        let (id, pem): (String, String) = decode(req)?;
        let result: WireResult<()> = self
            .ca
            .key_from_peer(remote, &id, &pem)
            .await
            .map_err(Into::into);
        encode(&result)
    }

    async fn session_renew(
        &self,
        req: Request<RpcPayload>,
    ) -> std::result::Result<Response<RpcPayload>, Status> {
        let id: String = decode(req)?;
        let exists = self
            .store
            .read()
            .map(|s| s.session_get(&id).1.is_some())
            .unwrap_or(false);
        if exists {
            self.sessions.renew(&id);
        }
        encode(&WireResult::Ok(exists))
    }
}

/// The outbound side: one lazily connected channel per server address.
#[derive(Debug, Default)]
pub(crate) struct RpcClients {
    channels: Mutex<HashMap<String, RpcClient<Channel>>>,
    /// The address outbound calls come from.
    local: Option<std::net::IpAddr>,
}

/// How long one forwarded call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl RpcClients {
    /// Clients whose connections come from `local`.
    pub(crate) fn new(local: Option<std::net::IpAddr>) -> Self {
        Self {
            channels: Mutex::default(),
            local,
        }
    }

    fn client(&self, addr: &str) -> Result<RpcClient<Channel>> {
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| Error::Fatal("rpc client table poisoned".into()))?;
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Channel::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::Rpc(format!("bad server address {addr:?}: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .local_address(self.local);
        let client = RpcClient::new(endpoint.connect_lazy());
        channels.insert(addr.to_owned(), client.clone());
        Ok(client)
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        method: Method,
        body: &Req,
    ) -> Result<Resp> {
        let data = serde_json::to_vec(body).map_err(|e| Error::Rpc(e.to_string()))?;
        let mut client = self.client(addr)?;
        let mut request = Request::new(RpcPayload { data });
        request.set_timeout(CALL_TIMEOUT);
        let reply = match method {
            Method::Write => client.write(request).await,
            Method::ReadIndex => client.read_index(request).await,
            Method::SessionRenew => client.session_renew(request).await,
            Method::SignCsr => client.sign_csr(request).await,
            Method::CaKeyGet => client.ca_key_get(request).await,
            Method::CaKeyPut => client.ca_key_put(request).await,
            Method::CaSetConfig => client.ca_set_config(request).await,
            Method::RemovePeer => client.remove_peer(request).await,
            Method::TransferLeader => client.transfer_leader(request).await,
            Method::ElectNow => client.elect_now(request).await,
        }
        .map_err(|s| Error::Unreachable {
            addr: addr.to_owned(),
            reason: s.message().to_owned(),
        })?;
        let result: WireResult<Resp> = serde_json::from_slice(&reply.into_inner().data)
            .map_err(|e| Error::Rpc(format!("decoding answer from {addr}: {e}")))?;
        result.map_err(Into::into)
    }

    /// Forwards a write to the leader at `addr`.
    pub(crate) async fn write(&self, addr: &str, op: &Op) -> Result<Outcome> {
        self.call(addr, Method::Write, op).await
    }

    /// Asks the leader at `addr` for its read index.
    pub(crate) async fn read_index(&self, addr: &str) -> Result<u64> {
        self.call(addr, Method::ReadIndex, &()).await
    }

    /// Asks the leader at `addr` to remove a peer.
    pub(crate) async fn remove_peer(&self, addr: &str, id: u64) -> Result<bool> {
        self.call(addr, Method::RemovePeer, &id).await
    }

    /// Asks the leader at `addr` to hand leadership over.
    pub(crate) async fn transfer_leader(&self, addr: &str, target: Option<u64>) -> Result<u64> {
        self.call(addr, Method::TransferLeader, &target).await
    }

    /// Asks the server at `addr` to campaign now.
    pub(crate) async fn elect_now(&self, addr: &str) -> Result<()> {
        self.call(addr, Method::ElectNow, &()).await
    }

    /// Has the leader at `addr` sign a Connect leaf CSR.
    pub(crate) async fn sign_csr(&self, addr: &str, csr_pem: &str) -> Result<skein_ca::IssuedCert> {
        self.call(addr, Method::SignCsr, &csr_pem).await
    }

    /// Asks the voter at `addr` for the private key of CA root `id`.
    pub(crate) async fn ca_key_get(&self, addr: &str, id: &str) -> Result<Option<String>> {
        self.call(addr, Method::CaKeyGet, &id).await
    }

    /// Hands the voter at `addr` the private key of CA root `id`.
    pub(crate) async fn ca_key_put(&self, addr: &str, id: &str, pem: &str) -> Result<()> {
        self.call(addr, Method::CaKeyPut, &(id, pem)).await
    }

    /// Has the leader at `addr` apply new CA settings.
    pub(crate) async fn ca_set_config(
        &self,
        addr: &str,
        provider: &str,
        config: &Map<String, Value>,
    ) -> Result<bool> {
        self.call(addr, Method::CaSetConfig, &(provider, config))
            .await
    }

    /// Renews a session on the leader at `addr`.
    pub(crate) async fn session_renew(&self, addr: &str, id: &str) -> Result<bool> {
        self.call(addr, Method::SessionRenew, &id).await
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Write,
    ReadIndex,
    SessionRenew,
    SignCsr,
    CaKeyGet,
    CaKeyPut,
    CaSetConfig,
    RemovePeer,
    TransferLeader,
    ElectNow,
}
