//! The inbound side: the gRPC service that hands peers' RPCs to openraft.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::proto::RaftPayload;
use super::proto::raft_server::{Raft as RaftRpc, RaftServer};
use crate::Raft;

/// Serves the Raft RPCs of one server.
#[derive(Clone)]
pub struct RaftService {
    raft: Raft,
}

fn decode<T: DeserializeOwned>(req: Request<RaftPayload>) -> Result<T, Status> {
    serde_json::from_slice(&req.into_inner().data)
        .map_err(|e| Status::invalid_argument(format!("decoding raft request: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    let data = serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftPayload { data }))
}

// === impl RaftService ===

impl RaftService {
    /// A service for `raft`.
    pub fn new(raft: Raft) -> Self {
        Self { raft }
    }

    /// The tonic service, ready to add to a router.
    pub fn into_server(self) -> RaftServer<Self> {
        RaftServer::new(self)
    }
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let result = self.raft.append_entries(decode(req)?).await;
        encode(&result)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let result = self.raft.install_snapshot(decode(req)?).await;
        encode(&result)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let result = self.raft.vote(decode(req)?).await;
        encode(&result)
    }
}
