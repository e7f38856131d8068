//! openraft's network over turmoil's simulated TCP: one connection per RPC,
//! bounded by the RPC's hard TTL, so a partition or a lost segment shows up
//! to openraft as a timeout.

use std::fmt::Display;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use skein_raft::{NodeId, TypeConfig};
use turmoil::net::TcpStream;

use crate::wire::{self, PORT, Request};

/// Creates a [`SimNetwork`] per peer.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimNetworkFactory;

/// The route to one peer (a host name on the simulated network).
#[derive(Debug)]
pub(crate) struct SimNetwork {
    target: NodeId,
    host: String,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

/// Sends `req` to `host` and reads one reply, within `ttl`.
pub(crate) async fn call<T: DeserializeOwned>(
    host: &str,
    req: &Request,
    ttl: Duration,
) -> std::io::Result<T> {
    let exchange = async {
        let mut stream = TcpStream::connect((host, PORT)).await?;
        wire::write(&mut stream, req).await?;
        wire::read(&mut stream).await
    };
    match tokio::time::timeout(ttl, exchange).await {
        Ok(result) => result,
        Err(elapsed) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            elapsed.to_string(),
        )),
    }
}

fn unreachable<E>(e: impl Display) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>>
where
    E: std::error::Error,
{
    let e = std::io::Error::other(e.to_string());
    RPCError::Unreachable(Unreachable::new(&e))
}

// === impl SimNetworkFactory ===

impl RaftNetworkFactory<TypeConfig> for SimNetworkFactory {
    type Network = SimNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> SimNetwork {
        SimNetwork {
            target,
            host: node.addr.clone(),
        }
    }
}

// === impl SimNetwork ===

impl SimNetwork {
    async fn rpc<Resp, E>(&self, req: Request, option: &RPCOption) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let reply: Result<Resp, RaftError<NodeId, E>> = call(&self.host, &req, option.hard_ttl())
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => RPCError::Network(NetworkError::new(&e)),
                _ => unreachable(e),
            })?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for SimNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.rpc(Request::Append(rpc), &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.rpc(Request::Snapshot(rpc), &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.rpc(Request::Vote(rpc), &option).await
    }
}
