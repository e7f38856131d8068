//! Generates the tonic service for skein's Raft transport without protoc:
//! the messages are hand-written prost structs in `src/network/proto.rs`.

fn main() {
    let method = |name: &str, route: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type("crate::network::proto::RaftPayload")
            .output_type("crate::network::proto::RaftPayload")
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    // One long-lived stream per replication target: each AppendEntries is a
    // message on it rather than a call of its own (no HEADERS and
    // END_STREAM frames per request).
    let append_stream = tonic_build::manual::Method::builder()
        .name("append_stream")
        .route_name("AppendStream")
        .input_type("crate::network::proto::RaftPayload")
        .output_type("crate::network::proto::RaftPayload")
        .codec_path("tonic_prost::ProstCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let service = tonic_build::manual::Service::builder()
        .name("Raft")
        .package("skein.raft.v1")
        .method(method("append_entries", "AppendEntries"))
        .method(method("install_snapshot", "InstallSnapshot"))
        .method(method("vote", "Vote"))
        .method(append_stream)
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
