//! The protobuf messages and the generated tonic service.

#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

/// An opaque JSON payload: an openraft request, or a `Result` of its response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RaftPayload {
    /// JSON bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

include!(concat!(env!("OUT_DIR"), "/skein.raft.v1.Raft.rs"));
