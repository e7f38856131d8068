//! The inbound side: the gRPC service that hands peers' RPCs to openraft.

use std::pin::Pin;

use futures::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status, Streaming};

use super::proto::RaftPayload;
use super::proto::raft_server::{Raft as RaftRpc, RaftServer};
use crate::Raft;

/// Serves the Raft RPCs of one server.
#[derive(Clone)]
pub struct RaftService {
    raft: Raft,
}

/// The answers of one append stream, in the order of its requests.
type AppendAnswers = Pin<Box<dyn Stream<Item = Result<RaftPayload, Status>> + Send>>;

fn decode<T: DeserializeOwned>(req: Request<RaftPayload>) -> Result<T, Status> {
    decode_payload(&req.into_inner())
}

fn decode_payload<T: DeserializeOwned>(payload: &RaftPayload) -> Result<T, Status> {
    serde_json::from_slice(&payload.data)
        .map_err(|e| Status::invalid_argument(format!("decoding raft request: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    encode_payload(value).map(Response::new)
}

fn encode_payload<T: Serialize>(value: &T) -> Result<RaftPayload, Status> {
    let data = serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(RaftPayload { data })
}

/// Answers the next request of an append stream, or `None` once the peer
/// closed it. A request that fails to decode ends the stream with its
/// error.
async fn answer_next(
    raft: &Raft,
    inbound: &mut Streaming<RaftPayload>,
) -> Option<Result<RaftPayload, Status>> {
    let payload = match inbound.message().await {
        Ok(Some(payload)) => payload,
        Ok(None) => return None,
        Err(status) => return Some(Err(status)),
    };
    let answer = match decode_payload(&payload) {
        Ok(rpc) => encode_payload(&raft.append_entries(rpc).await),
        Err(status) => Err(status),
    };
    Some(answer)
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
    type AppendStreamStream = AppendAnswers;

    async fn append_stream(
        &self,
        req: Request<Streaming<RaftPayload>>,
    ) -> Result<Response<AppendAnswers>, Status> {
        let state = (self.raft.clone(), req.into_inner(), false);
        let answers = futures::stream::unfold(state, |(raft, mut inbound, failed)| async move {
            if failed {
                return None;
            }
            let answer = answer_next(&raft, &mut inbound).await?;
            let failed = answer.is_err();
            Some((answer, (raft, inbound, failed)))
        });
        Ok(Response::new(Box::pin(answers)))
    }

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
