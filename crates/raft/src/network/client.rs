//! The outbound side: one lazily connected gRPC channel per peer address,
//! shared by every [`Network`] the factory hands out. openraft asks for a
//! fresh client for each leadership check (`get_read_log_id`,
//! `ensure_linearizable`), so a channel per client would open a TCP
//! connection per consistent read.
//!
//! A client's first AppendEntries is a unary call; from its second on (a
//! replication stream, not a one-off leadership check), they travel as
//! messages of one `AppendStream` call kept open to the peer: one DATA frame
//! each way per request instead of a call's HEADERS, DATA and END_STREAM
//! frames and its response with trailers. openraft sends one request at a
//! time per client, so the answers come back in order. A peer that does not
//! know `AppendStream` (an older version) gets unary calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

use super::proto::RaftPayload;
use super::proto::raft_client::RaftClient;
use crate::{NodeId, TypeConfig};

/// Creates a [`Network`] per peer.
#[derive(Debug, Clone, Default)]
pub struct NetworkFactory {
    /// The address outbound connections come from (the server's bind
    /// address), so that peers and firewalls see who is calling.
    local: Option<std::net::IpAddr>,
    channels: Channels,
}

/// One channel per peer address, shared by the factory's clones.
type Channels = Arc<Mutex<HashMap<String, Channel>>>;

/// The connection to one peer.
#[derive(Debug)]
pub struct Network {
    target: NodeId,
    addr: String,
    local: Option<std::net::IpAddr>,
    channels: Channels,
    client: Option<RaftClient<Channel>>,
    append: AppendPath,
}

/// How this client sends AppendEntries.
#[derive(Debug, Default)]
enum AppendPath {
    /// Nothing sent yet: the first request is a unary call.
    #[default]
    First,
    /// Later requests go over a stream, opened by the next one.
    Streamed(Option<Box<AppendStream>>),
    /// The peer does not serve `AppendStream`.
    Unary,
}

/// An open `AppendStream` call: requests go in through `requests`, answers
/// come back in order on `answers`.
#[derive(Debug)]
struct AppendStream {
    requests: tokio::sync::mpsc::Sender<RaftPayload>,
    answers: Streaming<RaftPayload>,
}

impl NetworkFactory {
    /// A factory whose connections come from `local` (any address when
    /// `None`).
    pub fn new(local: Option<std::net::IpAddr>) -> Self {
        Self {
            local,
            channels: Channels::default(),
        }
    }
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Network {
        Network {
            target,
            addr: node.addr.clone(),
            local: self.local,
            channels: self.channels.clone(),
            client: None,
            append: AppendPath::First,
        }
    }
}

// === impl Network ===

impl Network {
    fn client(&mut self) -> Result<RaftClient<Channel>, Unreachable> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = match channels.get(&self.addr) {
            Some(channel) => channel.clone(),
            None => {
                let channel = Channel::from_shared(format!("http://{}", self.addr))
                    .map_err(|e| Unreachable::new(&e))?
                    .local_address(self.local)
                    .connect_lazy();
                channels.insert(self.addr.clone(), channel.clone());
                channel
            }
        };
        drop(channels);
        let client = RaftClient::new(channel);
        self.client = Some(client.clone());
        Ok(client)
    }

    async fn call<Req, Resp, E>(
        &mut self,
        method: Method,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let data = encode_request(req)?;
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let mut request = tonic::Request::new(RaftPayload { data });
        request.set_timeout(option.hard_ttl());
        let reply = match method {
            Method::Append => client.append_entries(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
            Method::Vote => client.vote(request).await,
        };
        let reply = reply.map_err(|status| {
            self.client = None;
            RPCError::Unreachable(Unreachable::new(&status))
        })?;
        self.decode_answer(&reply.into_inner())
    }

    /// The peer's answer: openraft's response, or the error it returned.
    fn decode_answer<Resp, E>(&self, answer: &RaftPayload) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let decoded: Result<Resp, RaftError<NodeId, E>> = serde_json::from_slice(&answer.data)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        decoded.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl Network {
    /// Sends `rpc` over the append stream, opening it first if needed; any
    /// failure closes it, and the next request opens a new one.
    async fn call_streamed(
        &mut self,
        rpc: &AppendEntriesRequest<TypeConfig>,
        option: &RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        let payload = RaftPayload {
            data: encode_request(rpc)?,
        };
        let ttl = option.hard_ttl();
        let open = match &mut self.append {
            AppendPath::Streamed(open) => open.take(),
            _ => None,
        };
        let stream = match open {
            Some(stream) => Self::send(stream, payload).await,
            None => self.open_stream(payload, ttl).await,
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(StreamFailure::Unimplemented) => {
                self.append = AppendPath::Unary;
                return self.call(Method::Append, rpc, option).await;
            }
            Err(StreamFailure::Broken(e)) => return Err(self.unreachable(e)),
        };
        let answer = match tokio::time::timeout(ttl, stream.answers.message()).await {
            Ok(Ok(Some(answer))) => answer,
            Ok(Ok(None)) => return Err(self.unreachable("the append stream ended".into())),
            Ok(Err(status)) => return Err(self.unreachable(status.to_string())),
            Err(_) => return Err(self.unreachable(format!("no answer within {ttl:?}"))),
        };
        self.append = AppendPath::Streamed(Some(stream));
        self.decode_answer(&answer)
    }

    /// Queues `payload` on an open stream.
    async fn send(
        stream: Box<AppendStream>,
        payload: RaftPayload,
    ) -> Result<Box<AppendStream>, StreamFailure> {
        match stream.requests.send(payload).await {
            Ok(()) => Ok(stream),
            Err(_) => Err(StreamFailure::Broken("the append stream closed".into())),
        }
    }

    /// Opens the append stream with `first` as its first request, so that
    /// the call's HEADERS and that request leave together.
    async fn open_stream(
        &mut self,
        first: RaftPayload,
        ttl: std::time::Duration,
    ) -> Result<Box<AppendStream>, StreamFailure> {
        let mut client = self
            .client()
            .map_err(|e| StreamFailure::Broken(e.to_string()))?;
        let (requests, queued) = tokio::sync::mpsc::channel(1);
        requests
            .try_send(first)
            .map_err(|e| StreamFailure::Broken(e.to_string()))?;
        let outbound = futures::stream::unfold(queued, |mut queued| async move {
            queued.recv().await.map(|payload| (payload, queued))
        });
        let opened = tokio::time::timeout(ttl, client.append_stream(outbound)).await;
        match opened {
            Ok(Ok(response)) => Ok(Box::new(AppendStream {
                requests,
                answers: response.into_inner(),
            })),
            Ok(Err(status)) if status.code() == Code::Unimplemented => {
                Err(StreamFailure::Unimplemented)
            }
            Ok(Err(status)) => Err(StreamFailure::Broken(status.to_string())),
            Err(_) => Err(StreamFailure::Broken(format!(
                "opening the append stream took over {ttl:?}"
            ))),
        }
    }

    /// Forgets the channel's client (the connection may be gone) and the
    /// stream, and reports the peer unreachable.
    fn unreachable<E>(
        &mut self,
        reason: String,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>>
    where
        E: std::error::Error,
    {
        self.client = None;
        self.append = AppendPath::Streamed(None);
        RPCError::Unreachable(Unreachable::new(&std::io::Error::other(reason)))
    }
}

fn encode_request<Req: Serialize, E: std::error::Error>(req: &Req) -> RpcResult<Vec<u8>, E> {
    serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

/// Why an append could not go over the stream.
enum StreamFailure {
    /// The peer does not serve `AppendStream`.
    Unimplemented,
    /// The stream or the connection failed.
    Broken(String),
}

enum Method {
    Append,
    Snapshot,
    Vote,
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        match self.append {
            AppendPath::First => {
                self.append = AppendPath::Streamed(None);
                self.call(Method::Append, &rpc, &option).await
            }
            AppendPath::Streamed(_) => self.call_streamed(&rpc, &option).await,
            AppendPath::Unary => self.call(Method::Append, &rpc, &option).await,
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(Method::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.call(Method::Vote, &rpc, &option).await
    }
}
