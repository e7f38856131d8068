//! Generates the tonic service for skein's server RPCs (write forwarding,
//! read index, session renewal, peer removal, leadership transfer, the Connect CA) without protoc: the message is the
//! hand-written prost struct in `src/rpc/proto.rs`.

fn main() {
    let method = |name: &str, route: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type("crate::rpc::proto::RpcPayload")
            .output_type("crate::rpc::proto::RpcPayload")
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    let service = tonic_build::manual::Service::builder()
        .name("Rpc")
        .package("skein.rpc.v1")
        .method(method("write", "Write"))
        .method(method("read_index", "ReadIndex"))
        .method(method("session_renew", "SessionRenew"))
        .method(method("sign_csr", "SignCsr"))
        .method(method("ca_key_get", "CaKeyGet"))
        .method(method("ca_key_put", "CaKeyPut"))
        .method(method("ca_set_config", "CaSetConfig"))
        .method(method("remove_peer", "RemovePeer"))
        .method(method("transfer_leader", "TransferLeader"))
        .method(method("elect_now", "ElectNow"))
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
