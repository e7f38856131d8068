//! Scripted runs of the delta state machine.

use std::collections::VecDeque;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::rpc::Status as RpcStatus;

use super::*;
use crate::testing::Snap;

const NODE: &str = "web-sidecar-proxy";

type Resp = DeltaDiscoveryResponse;

/// A response as `(type, upserted names, removed names)`.
type Seen = (&'static str, Vec<String>, Vec<String>);

fn short(type_url: &str) -> &'static str {
    match type_url {
        CLUSTER => "CDS",
        ENDPOINT => "EDS",
        LISTENER => "LDS",
        ROUTE => "RDS",
        _ => "other",
    }
}

fn seen(out: &[Resp]) -> Vec<Seen> {
    let names = |r: &Resp| r.resources.iter().map(|x| x.name.clone()).collect();
    out.iter()
        .map(|r| (short(&r.type_url), names(r), r.removed_resources.clone()))
        .collect()
}

fn s(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn req(type_url: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url.into(),
        ..Default::default()
    }
}

fn first(type_url: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        node: Some(Node {
            id: NODE.into(),
            ..Default::default()
        }),
        ..req(type_url)
    }
}

fn sub(type_url: &str, names: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        resource_names_subscribe: s(names),
        ..req(type_url)
    }
}

fn unsub(type_url: &str, names: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        resource_names_unsubscribe: s(names),
        ..req(type_url)
    }
}

fn ack(resp: &Resp) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        response_nonce: resp.nonce.clone(),
        ..req(&resp.type_url)
    }
}

fn nack(resp: &Resp) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        error_detail: Some(RpcStatus {
            code: 3,
            message: "bad cluster".into(),
            details: Vec::new(),
        }),
        ..ack(resp)
    }
}

/// A stream driven like the server does, with helpers for assertions.
struct Script {
    stream: DeltaStream,
    /// The last step's responses.
    last: Vec<Resp>,
    /// Responses not yet ACKed or NACKed, oldest first.
    outstanding: VecDeque<Resp>,
}

impl Script {
    fn new() -> Self {
        Self {
            stream: DeltaStream::new(),
            last: Vec::new(),
            outstanding: VecDeque::new(),
        }
    }

    fn record(&mut self, out: Vec<Resp>) -> Vec<Seen> {
        self.outstanding.extend(out.iter().cloned());
        self.last = out;
        seen(&self.last)
    }

    fn request(&mut self, req: DeltaDiscoveryRequest) -> Vec<Seen> {
        let out = self.stream.on_request(req).expect("valid request");
        self.record(out)
    }

    fn snapshot(&mut self, snap: Snap) -> Vec<Seen> {
        let out = self.stream.on_snapshot(snap.build());
        self.record(out)
    }

    /// ACKs the oldest outstanding response.
    fn ack(&mut self) -> Vec<Seen> {
        let resp = self.outstanding.pop_front().expect("a response to ack");
        self.request(ack(&resp))
    }

    /// NACKs the oldest outstanding response.
    fn nack(&mut self) -> Vec<Seen> {
        let resp = self.outstanding.pop_front().expect("a response to nack");
        self.request(nack(&resp))
    }

    fn version(&self, i: usize, name: &str) -> String {
        let r = self.last[i].resources.iter().find(|r| r.name == name);
        r.expect("resource sent").version.clone()
    }
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

/// A stream that has reached a steady state on `base()`, with EDS `a`,
/// `b` and RDS `r` subscribed and everything ACKed.
fn steady() -> Script {
    let mut t = Script::new();
    t.request(first(CLUSTER));
    t.request(req(LISTENER));
    assert_eq!(t.snapshot(base()), [("CDS", s(&["a", "b"]), s(&[]))]);
    assert_eq!(t.ack(), [("LDS", s(&["l"]), s(&[]))]);
    assert_eq!(t.ack(), []);
    assert_eq!(
        t.request(sub(ENDPOINT, &["a", "b"])),
        [("EDS", s(&["a", "b"]), s(&[]))]
    );
    assert_eq!(t.ack(), []);
    assert_eq!(t.request(sub(ROUTE, &["r"])), [("RDS", s(&["r"]), s(&[]))]);
    assert_eq!(t.ack(), []);
    t
}

#[test]
fn initial_wildcard_and_nonces() {
    let mut t = Script::new();
    assert_eq!(t.request(first(CLUSTER)), [], "nothing before a snapshot");
    assert_eq!(t.snapshot(base()), [("CDS", s(&["a", "b"]), s(&[]))]);
    assert_eq!(t.last[0].nonce, "00000001");
    assert_eq!(t.stream.node_id(), Some(NODE));
    let v = t.version(0, "a");
    assert_eq!(
        Some(v.as_str()),
        base().0.get(CLUSTER, "a").map(|r| r.version.as_str())
    );
    let lds = t.request(req(LISTENER));
    assert_eq!(lds, [], "LDS waits for the CDS ACK");
    assert_eq!(t.ack(), [("LDS", s(&["l"]), s(&[]))]);
    assert_eq!(t.last[0].nonce, "00000002");
}

#[test]
fn explicit_subscriptions_send_only_named() {
    let mut t = Script::new();
    t.request(first(CLUSTER));
    t.snapshot(base());
    t.ack();
    assert_eq!(
        t.request(sub(ENDPOINT, &["a"])),
        [("EDS", s(&["a"]), s(&[]))]
    );
    t.ack();
    assert_eq!(
        t.request(sub(ENDPOINT, &["b", "missing"])),
        [("EDS", s(&["b"]), s(&[]))]
    );
    t.ack();
    assert_eq!(
        t.request(unsub(ENDPOINT, &["a"])),
        [],
        "no removal for an unsubscribe"
    );
    let changed = base().endpoints("a", 2).endpoints("b", 2);
    assert_eq!(t.snapshot(changed), [("EDS", s(&["b"]), s(&[]))]);
}

#[test]
fn first_explicit_request_without_names_is_not_wildcard() {
    let mut t = Script::new();
    t.request(first(CLUSTER));
    t.snapshot(base());
    t.ack();
    assert_eq!(
        t.request(req(ENDPOINT)),
        [("EDS", s(&[]), s(&[]))],
        "an empty first answer"
    );
    t.ack();
    assert_eq!(t.snapshot(base().endpoints("a", 2)), []);
}

#[test]
fn update_sends_only_the_changed_resource() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().route("r", 2)),
        [("RDS", s(&["r"]), s(&[]))]
    );
    t.ack();
    assert_eq!(
        t.snapshot(base().route("r", 2).endpoints("b", 2)),
        [("EDS", s(&["b"]), s(&[]))]
    );
    t.ack();
    assert_eq!(
        t.snapshot(base().route("r", 2).endpoints("b", 2)),
        [],
        "same content: nothing"
    );
}

#[test]
fn removal_follows_the_order() {
    let mut t = steady();
    let mut without_b = Snap::new()
        .cluster("a", 1)
        .endpoints("a", 1)
        .listener("l", "r", 1)
        .route("r", 1);
    without_b = without_b.declare(CLUSTER);
    assert_eq!(t.snapshot(without_b), [("CDS", s(&[]), s(&["b"]))]);
    assert_eq!(t.ack(), [("EDS", s(&[]), s(&["b"]))]);
    assert_eq!(t.ack(), []);
}

#[test]
fn ordering_holds_lds_and_rds_until_cds_and_eds_are_acked() {
    let mut t = steady();
    let all = Snap::new()
        .cluster("a", 2)
        .cluster("b", 1)
        .cluster("c", 1)
        .endpoints("a", 2)
        .endpoints("b", 1)
        .endpoints("c", 1)
        .listener("l", "r", 2)
        .route("r", 2);
    // The changed cluster's endpoints follow it at once: a warming
    // cluster waits for them before Envoy ACKs it.
    assert_eq!(
        t.snapshot(all),
        [("CDS", s(&["a", "c"]), s(&[])), ("EDS", s(&["a"]), s(&[]))]
    );
    // Envoy subscribes to the new cluster's endpoints before ACKing; EDS
    // has one response in flight, so they wait for its ACK.
    assert_eq!(t.request(sub(ENDPOINT, &["c"])), []);
    assert_eq!(t.ack(), [], "LDS still held: EDS awaits its ACK");
    assert_eq!(t.ack(), [("EDS", s(&["c"]), s(&[]))]);
    assert_eq!(
        t.ack(),
        [("LDS", s(&["l"]), s(&[])), ("RDS", s(&["r"]), s(&[]))],
        "listeners once clusters and endpoints are ACKed, routes right behind"
    );
    assert_eq!(t.ack(), []);
    assert_eq!(t.ack(), []);
}

#[test]
fn one_response_in_flight_per_type() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().route("r", 2)),
        [("RDS", s(&["r"]), s(&[]))]
    );
    assert_eq!(t.snapshot(base().route("r", 3)), [], "RDS still in flight");
    assert_eq!(
        t.ack(),
        [("RDS", s(&["r"]), s(&[]))],
        "the newer version after the ACK"
    );
}

#[test]
fn listener_waits_while_endpoints_are_in_flight() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().endpoints("a", 2)),
        [("EDS", s(&["a"]), s(&[]))]
    );
    let next = base().endpoints("a", 2).listener("l", "r", 2);
    assert_eq!(t.snapshot(next), [], "LDS held while EDS awaits its ACK");
    assert_eq!(
        t.ack(),
        [("LDS", s(&["l"]), s(&[])), ("RDS", s(&["r"]), s(&[]))]
    );
}

#[test]
fn nack_does_not_loop() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().cluster("a", 2)),
        [("CDS", s(&["a"]), s(&[])), ("EDS", s(&["a"]), s(&[]))]
    );
    assert_eq!(t.nack(), [], "no resend after a NACK");
    assert_eq!(t.ack(), [], "CDS stays quiet on other traffic");
    assert_eq!(
        t.request(sub(ENDPOINT, &["a"])),
        [("EDS", s(&["a"]), s(&[]))],
        "a resubscription is answered"
    );
    assert_eq!(t.ack(), []);
    assert_eq!(t.request(req(CLUSTER)), []);
    let next = base().cluster("a", 3);
    assert_eq!(
        t.snapshot(next),
        [("CDS", s(&["a"]), s(&[])), ("EDS", s(&["a"]), s(&[]))],
        "a new snapshot resends"
    );
}

#[test]
fn reconnect_with_initial_versions() {
    let snap = base().build();
    let v = |t: &str, n: &str| {
        snap.get(t, n)
            .map(|r| r.version.clone())
            .unwrap_or_default()
    };
    let mut t = Script::new();
    let mut cds = first(CLUSTER);
    cds.initial_resource_versions = [
        ("a", v(CLUSTER, "a")),
        ("b", "stale".into()),
        ("gone", "x".into()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    t.request(cds);
    assert_eq!(
        t.snapshot(base()),
        [("CDS", s(&["b"]), s(&[]))],
        "only what differs"
    );
    assert_eq!(t.ack(), [("CDS", s(&[]), s(&["gone"]))], "then the removal");
    t.ack();
    let mut eds = sub(ENDPOINT, &["a"]);
    eds.initial_resource_versions = [("a".to_owned(), v(ENDPOINT, "a"))].into_iter().collect();
    assert_eq!(
        t.request(eds),
        [("EDS", s(&[]), s(&[]))],
        "up to date: an empty answer"
    );
    assert_eq!(t.ack(), []);
}

#[test]
fn cluster_change_resends_its_endpoints() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().cluster("a", 2)),
        [("CDS", s(&["a"]), s(&[])), ("EDS", s(&["a"]), s(&[]))],
        "unchanged CLA sent again right behind its cluster"
    );
    assert_eq!(t.ack(), []);
    assert_eq!(t.ack(), []);
}

#[test]
fn listener_change_resends_its_routes() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().listener("l", "r", 2)),
        [("LDS", s(&["l"]), s(&[])), ("RDS", s(&["r"]), s(&[]))],
        "unchanged route sent again right behind its listener"
    );
    assert_eq!(t.ack(), []);
    assert_eq!(t.ack(), []);
}

#[test]
fn resubscribe_forces_a_resend() {
    let mut t = steady();
    assert_eq!(t.request(sub(ROUTE, &["r"])), [("RDS", s(&["r"]), s(&[]))]);
}

#[test]
fn undeclared_empty_type_waits_declared_one_answers() {
    let mut t = Script::new();
    t.request(first(CLUSTER));
    assert_eq!(t.snapshot(Snap::new()), [], "no clusters yet: not ready");
    let out = t.snapshot(Snap::new().declare(CLUSTER));
    assert_eq!(out, [("CDS", s(&[]), s(&[]))], "a gateway may have none");
}

#[test]
fn protocol_errors() {
    let mut stream = DeltaStream::new();
    assert_eq!(
        stream.on_request(req(CLUSTER)),
        Err(StreamError::MissingNodeId)
    );
    assert_eq!(
        stream.on_request(first("")),
        Err(StreamError::MissingTypeUrl)
    );
    assert!(stream.on_request(first(CLUSTER)).is_ok());
    assert!(
        stream.on_request(req(LISTENER)).is_ok(),
        "node may be omitted later"
    );
    let mut other = first(LISTENER);
    other.node = Some(Node {
        id: "api-sidecar-proxy".into(),
        ..Default::default()
    });
    let err = stream.on_request(other);
    let changed = StreamError::NodeChanged {
        first: NODE.into(),
        now: "api-sidecar-proxy".into(),
    };
    assert_eq!(err, Err(changed));
}

#[test]
fn stale_ack_is_ignored() {
    let mut t = steady();
    assert_eq!(
        t.snapshot(base().cluster("a", 2).listener("l", "r", 2)),
        [("CDS", s(&["a"]), s(&[])), ("EDS", s(&["a"]), s(&[]))]
    );
    let mut old = ack(&t.last[0]);
    old.response_nonce = "00000001".into();
    assert_ne!(t.last[0].nonce, old.response_nonce);
    assert_eq!(
        t.request(old),
        [],
        "an old nonce does not ACK the new response"
    );
    assert_eq!(t.ack(), [], "EDS still in flight");
    assert_eq!(
        t.ack(),
        [("LDS", s(&["l"]), s(&[])), ("RDS", s(&["r"]), s(&[]))]
    );
}

#[test]
fn other_types_are_served_generically() {
    const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
    let mut t = Script::new();
    t.request(first(CLUSTER));
    t.snapshot(base());
    let mut set = base().0;
    set.insert(
        "x",
        envoy_types::pb::google::protobuf::Any {
            type_url: SECRET.into(),
            value: b"x".to_vec(),
        },
    );
    let out = t.stream.on_snapshot(Arc::new(set));
    assert_eq!(
        seen(&out),
        [],
        "CDS still in flight, secrets not subscribed"
    );
    t.ack();
    assert_eq!(
        t.request(sub(SECRET, &["x"])),
        [("other", s(&["x"]), s(&[]))]
    );
}
