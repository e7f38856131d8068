//! The outbound side: one lazily connected gRPC channel per peer address,
//! shared by every [`Network`] the factory hands out. openraft asks for a
//! fresh client for each leadership check (`get_read_log_id`,
//! `ensure_linearizable`), so a channel per client would open a TCP
//! connection per consistent read.

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
        let data = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
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
        let decoded: Result<Resp, RaftError<NodeId, E>> =
            serde_json::from_slice(&reply.into_inner().data)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        decoded.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
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
        self.call(Method::Append, &rpc, &option).await
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
