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
    let service = tonic_build::manual::Service::builder()
        .name("Raft")
        .package("skein.raft.v1")
        .method(method("append_entries", "AppendEntries"))
        .method(method("install_snapshot", "InstallSnapshot"))
        .method(method("vote", "Vote"))
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
