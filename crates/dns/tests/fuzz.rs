//! Arbitrary packets into the request handler: nothing panics, a packet
//! without a header or with the response flag is dropped, one that does not
//! parse gets FORMERR, and every answer is a well-formed response to the
//! packet's ID.
//!
//! `PROPTEST_CASES` sets the number of cases; the suite runs a short pass
//! and `cargo xtask fuzz dns` a long one.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use proptest::prelude::*;
use skein_config::{Builder, MemoryEnvironment, parse_flags};
use skein_dns::{DnsHandler, DnsSettings, Protocol};
use skein_state::{Command, Op, Registration, Store};
use skein_types::{Node, ServiceInstance};

fn handler() -> DnsHandler {
    let flags = parse_flags(&[
        "-dev".to_owned(),
        "-node=fuzz".to_owned(),
        "-recursor=127.0.0.1:9".to_owned(),
    ])
    .expect("flags");
    let config = Builder::build(&flags, &MemoryEnvironment::new()).expect("config");
    let mut settings = DnsSettings::from_runtime(&config).expect("settings");
    settings.config.recursor_timeout = std::time::Duration::from_millis(5);
    let mut store = Store::new();
    for (i, (node, service, address)) in [
        ("n1", "web", ""),
        ("n2", "web", "10.0.0.2"),
        ("n3", "db", "2001:db8::1"),
        ("n4", "api", "api.example.com"),
    ]
    .into_iter()
    .enumerate()
    {
        let registration = Registration {
            node: Node {
                node: node.into(),
                address: format!("10.0.1.{i}").into(),
                meta: [("rack".to_owned(), "r1".to_owned())].into(),
                ..Node::default()
            },
            skip_node_update: false,
            service: Some(ServiceInstance {
                id: service.into(),
                service: service.into(),
                tags: vec!["v1".into()],
                address: address.into(),
                port: 80,
                ..ServiceInstance::default()
            }),
            checks: Vec::new(),
        };
        let command = Command {
            at_ms: 0,
            op: Op::Register(Box::new(registration)),
        };
        store.apply(i as u64 + 1, &command);
    }
    skein_dns::handler(settings, Arc::new(RwLock::new(store)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// One handler and runtime for every case.
fn fixture() -> &'static (DnsHandler, tokio::runtime::Runtime) {
    static FIXTURE: std::sync::OnceLock<(DnsHandler, tokio::runtime::Runtime)> =
        std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| (handler(), runtime()))
}

const SRC: &str = "127.0.0.1:5353";

/// Checks the handler's answer to `packet` against the rules above.
fn check(handler: &DnsHandler, rt: &tokio::runtime::Runtime, packet: &[u8], protocol: Protocol) {
    let src: SocketAddr = SRC.parse().expect("addr");
    let answer = rt.block_on(handler.answer_packet(packet, src, protocol));
    let Some(answer) = answer else {
        // Only packets without a header, and responses (never answered,
        // so that forged sources cannot bounce packets between servers).
        assert!(
            packet.len() < 12 || packet[2] & 0x80 != 0,
            "a query with a header was dropped: {packet:02x?}"
        );
        return;
    };
    let response = Message::from_vec(&answer).expect("the answer parses");
    assert_eq!(response.metadata.message_type, MessageType::Response);
    assert_eq!(response.metadata.id.to_be_bytes(), packet[..2]);
    if Message::from_vec(packet).is_err() {
        assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
    }
    if protocol == Protocol::Udp {
        assert!(answer.len() <= 4096, "UDP answer of {} bytes", answer.len());
    }
}

/// A query whose name is built from labels skein gives meaning to.
fn query_packet(id: u16, labels: &[&str], qtype: RecordType, edns: bool) -> Option<Vec<u8>> {
    let name = Name::from_ascii(labels.join(".") + ".").ok()?;
    let mut message = Message::query();
    message.metadata.id = id;
    message.add_query(Query::query(name, qtype));
    if edns {
        message.set_edns(hickory_proto::op::Edns::new());
    }
    message.to_vec().ok()
}

const LABELS: &[&str] = &[
    "web",
    "db",
    "api",
    "v1",
    "_web",
    "_tcp",
    "_v1",
    "service",
    "node",
    "connect",
    "ingress",
    "addr",
    "query",
    "virtual",
    "peer",
    "dc",
    "dc1",
    "dc2",
    "n1",
    "n2",
    "0a000002",
    "20010db8000000000000000000000001",
    "consul",
    "example",
    "com",
    "",
    "x-y",
];

const TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::TXT,
    RecordType::SOA,
    RecordType::NS,
    RecordType::ANY,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::PTR,
];

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(packet in proptest::collection::vec(any::<u8>(), 0..600), tcp in any::<bool>()) {
        let (handler, rt) = fixture();
        let protocol = if tcp { Protocol::Tcp } else { Protocol::Udp };
        check(handler, rt, &packet, protocol);
    }

    #[test]
    fn queries_of_skein_names_get_answers(
        id in any::<u16>(),
        picks in proptest::collection::vec(0..LABELS.len(), 0..7),
        qtype in 0..TYPES.len(),
        edns in any::<bool>(),
        flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..3),
    ) {
        let (handler, rt) = fixture();
        let mut labels: Vec<&str> = picks.iter().map(|i| LABELS[*i]).collect();
        labels.push("consul");
        let Some(mut packet) = query_packet(id, &labels, TYPES[qtype], edns) else {
            return Ok(());
        };
        let intact = flips.is_empty();
        for (at, bits) in flips {
            let len = packet.len();
            packet[usize::from(at) % len] ^= bits;
        }
        check(handler, rt, &packet, Protocol::Udp);
        if intact {
            let src: SocketAddr = SRC.parse().expect("addr");
            let answer = rt.block_on(handler.answer_packet(&packet, src, Protocol::Udp));
            let response = Message::from_vec(&answer.expect("answered")).expect("parses");
            prop_assert!(matches!(
                response.metadata.response_code,
                ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::Refused | ResponseCode::ServFail
            ), "unexpected {:?} for {labels:?}", response.metadata.response_code);
        }
    }
}
