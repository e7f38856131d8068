//! Scripted runs of the state-of-the-world state machine.

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::rpc::Status as RpcStatus;

use super::*;
use crate::testing::Snap;

type Resp = DiscoveryResponse;

fn req(type_url: &str, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: type_url.into(),
        resource_names: names.iter().map(|n| (*n).to_owned()).collect(),
        ..Default::default()
    }
}

fn first(type_url: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: "web-sidecar-proxy".into(),
            ..Default::default()
        }),
        ..req(type_url, &[])
    }
}

fn ack(resp: &Resp, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info: resp.version_info.clone(),
        response_nonce: resp.nonce.clone(),
        ..req(&resp.type_url, names)
    }
}

fn nack(resp: &Resp, names: &[&str], had: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info: had.into(),
        error_detail: Some(RpcStatus {
            code: 3,
            message: "rejected".into(),
            details: Vec::new(),
        }),
        ..ack(resp, names)
    }
}

/// The names carried by one response, decoded from the packed bodies.
fn names(resp: &Resp) -> Vec<String> {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
    use envoy_types::pb::envoy::config::listener::v3::Listener;
    use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
    use prost::Message;
    let name = |any: &envoy_types::pb::google::protobuf::Any| match resp.type_url.as_str() {
        CLUSTER => Cluster::decode(any.value.as_slice()).map(|c| c.name),
        ENDPOINT => ClusterLoadAssignment::decode(any.value.as_slice()).map(|c| c.cluster_name),
        LISTENER => Listener::decode(any.value.as_slice()).map(|l| l.name),
        _ => RouteConfiguration::decode(any.value.as_slice()).map(|r| r.name),
    };
    resp.resources
        .iter()
        .map(|a| name(a).expect("decodes"))
        .collect()
}

fn one(out: Vec<Resp>, type_url: &str) -> Resp {
    assert_eq!(out.len(), 1, "expected one response, got {out:?}");
    let resp = out.into_iter().next().expect("one response");
    assert_eq!(resp.type_url, type_url);
    resp
}

fn base() -> Snap {
    Snap::new()
        .cluster("a", 1)
        .cluster("b", 1)
        .endpoints("a", 1)
        .endpoints("b", 1)
        .listener("l", "r", 1)
        .route("r", 1)
}

#[test]
fn wildcard_full_set_and_versions() {
    let mut s = SotwStream::new();
    assert!(s.on_request(first(CLUSTER)).expect("ok").is_empty());
    let cds = one(s.on_snapshot(base().build()), CLUSTER);
    assert_eq!(names(&cds), ["a", "b"]);
    assert_eq!(cds.nonce, "00000001");
    assert!(
        s.on_request(ack(&cds, &[])).expect("ok").is_empty(),
        "ACK: nothing more"
    );
    assert!(
        s.on_snapshot(base().build()).is_empty(),
        "same versions: nothing"
    );
    let next = one(s.on_snapshot(base().cluster("b", 2).build()), CLUSTER);
    assert_eq!(names(&next), ["a", "b"], "the full set again");
    assert_ne!(next.version_info, cds.version_info);
}

#[test]
fn explicit_names_and_ordering() {
    let mut s = SotwStream::new();
    s.on_request(first(CLUSTER)).expect("ok");
    let cds = one(s.on_snapshot(base().build()), CLUSTER);
    let out = s.on_request(req(LISTENER, &[])).expect("ok");
    assert!(out.is_empty(), "LDS waits for the CDS ACK");
    // A warming cluster needs its endpoints before Envoy ACKs it.
    let eds = one(s.on_request(req(ENDPOINT, &["a"])).expect("ok"), ENDPOINT);
    assert_eq!(names(&eds), ["a"]);
    assert!(
        s.on_request(ack(&cds, &[])).expect("ok").is_empty(),
        "LDS still waits for the EDS ACK"
    );
    // The CDS ACK asks for the endpoints again (their cluster changed);
    // listeners follow once that is ACKed too.
    let eds = one(s.on_request(ack(&eds, &["a"])).expect("ok"), ENDPOINT);
    let lds = one(s.on_request(ack(&eds, &["a"])).expect("ok"), LISTENER);
    assert_eq!(names(&lds), ["l"]);
    assert!(s.on_request(ack(&lds, &[])).expect("ok").is_empty());
    let eds2 = one(s.on_request(ack(&eds, &["a", "b"])).expect("ok"), ENDPOINT);
    assert_eq!(names(&eds2), ["a", "b"], "new names: a new answer");
}

#[test]
fn nack_does_not_loop() {
    let mut s = SotwStream::new();
    s.on_request(first(CLUSTER)).expect("ok");
    let cds = one(s.on_snapshot(base().build()), CLUSTER);
    s.on_request(ack(&cds, &[])).expect("ok");
    let bad = one(s.on_snapshot(base().cluster("a", 2).build()), CLUSTER);
    let out = s
        .on_request(nack(&bad, &[], &cds.version_info))
        .expect("ok");
    assert!(out.is_empty(), "no resend after a NACK");
    let lds = one(s.on_request(req(LISTENER, &[])).expect("ok"), LISTENER);
    assert!(
        s.on_request(ack(&lds, &[])).expect("ok").is_empty(),
        "CDS stays quiet"
    );
    let again = one(s.on_snapshot(base().cluster("a", 3).build()), CLUSTER);
    assert_ne!(again.version_info, bad.version_info);
}

#[test]
fn stale_nonce_is_ignored() {
    let mut s = SotwStream::new();
    s.on_request(first(CLUSTER)).expect("ok");
    let cds = one(s.on_snapshot(base().build()), CLUSTER);
    s.on_request(ack(&cds, &[])).expect("ok");
    let cds2 = one(s.on_snapshot(base().cluster("a", 2).build()), CLUSTER);
    let out = s.on_request(ack(&cds, &[])).expect("ok");
    assert!(
        out.is_empty(),
        "a request for an old response changes nothing"
    );
    assert!(s.on_request(ack(&cds2, &[])).expect("ok").is_empty());
    assert!(s.on_snapshot(base().cluster("a", 2).build()).is_empty());
}

#[test]
fn protocol_errors() {
    let mut s = SotwStream::new();
    assert_eq!(
        s.on_request(req(CLUSTER, &[])),
        Err(StreamError::MissingNodeId)
    );
    assert_eq!(s.on_request(first("")), Err(StreamError::MissingTypeUrl));
    assert!(s.on_request(first(CLUSTER)).is_ok());
    assert_eq!(s.node_id(), Some("web-sidecar-proxy"));
}

#[test]
fn cluster_change_answers_endpoints_again() {
    let mut s = SotwStream::new();
    s.on_request(first(CLUSTER)).expect("ok");
    let cds = one(s.on_snapshot(base().build()), CLUSTER);
    assert!(s.on_request(ack(&cds, &[])).expect("ok").is_empty());
    let eds = one(s.on_request(req(ENDPOINT, &["a"])).expect("ok"), ENDPOINT);
    assert!(s.on_request(ack(&eds, &["a"])).expect("ok").is_empty());
    let cds2 = one(s.on_snapshot(base().cluster("a", 2).build()), CLUSTER);
    let again = one(s.on_request(ack(&cds2, &[])).expect("ok"), ENDPOINT);
    assert_eq!(
        again.version_info, eds.version_info,
        "same endpoints, answered again"
    );
    assert!(s.on_request(ack(&again, &["a"])).expect("ok").is_empty());
}
