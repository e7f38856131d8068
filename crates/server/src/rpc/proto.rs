//! The protobuf message and the generated tonic service.

#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

/// An opaque JSON payload: a request, or a `Result` of its answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcPayload {
    /// JSON bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

include!(concat!(env!("OUT_DIR"), "/skein.rpc.v1.Rpc.rs"));
