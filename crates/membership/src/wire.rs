//! The envelope around every gossip packet.
//!
//! ```text
//! 0      2         3      4
//! +------+---------+------+---------------------------------+
//! | "sk" | version | kind | payload                         |
//! +------+---------+------+---------------------------------+
//! kind 0: a foca packet
//! kind 1: hello     (postcard NodeId of the sender)  join request
//! kind 2: hello-ack (postcard NodeId of the sender)  its answer
//! kind 3: key query  (postcard KeyQuery)             a keyring operation
//! kind 4: key answer (postcard KeyAnswer)            one member's result
//! kind 5: ping       (postcard Probe)                coordinate round trip
//! kind 6: pong       (postcard Probe)                its echo
//! ```
//!
//! With a keyring, the whole datagram (envelope included) is sealed
//! (`crate::keyring`).
//!
//! foca's `announce` must name the identity it goes to, and an identity's
//! foca address is the node name; the hello learns the name behind a
//! socket address so `join` can take bare addresses.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::identity::NodeId;
use crate::query::{KeyAnswer, KeyQuery};
use crate::vivaldi::Coord;

const MAGIC: [u8; 2] = *b"sk";
const VERSION: u8 = 1;
const KIND_FOCA: u8 = 0;
const KIND_HELLO: u8 = 1;
const KIND_HELLO_ACK: u8 = 2;
const KIND_KEY_QUERY: u8 = 3;
const KIND_KEY_ANSWER: u8 = 4;
const KIND_PING: u8 = 5;
const KIND_PONG: u8 = 6;
/// Bytes of envelope before the payload.
pub(crate) const ENVELOPE_LEN: usize = 4;

/// A decoded packet.
#[derive(Debug, PartialEq)]
pub(crate) enum Packet<'a> {
    /// For foca.
    Foca(&'a [u8]),
    /// A node that wants to join through us.
    Hello(NodeId),
    /// The answer to our hello.
    HelloAck(NodeId),
    /// A keyring operation to apply and answer.
    KeyQuery(KeyQuery),
    /// An answer to our keyring operation.
    KeyAnswer(KeyAnswer),
    /// A coordinate ping to echo.
    Ping(Probe),
    /// The echo of our ping.
    Pong(Probe),
}

/// A coordinate ping or pong: the nonce pairs them, and each carries its
/// sender's name and coordinate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probe {
    pub(crate) nonce: u64,
    pub(crate) from: String,
    pub(crate) coord: Coord,
}

/// Why a packet was dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("{len} bytes is shorter than the envelope")]
    Short { len: usize },
    #[error("not a skein gossip packet")]
    Magic,
    #[error("unsupported gossip protocol version {0}")]
    Version(u8),
    #[error("unknown packet kind {0}")]
    Kind(u8),
    #[error("decoding the payload: {0}")]
    Identity(#[from] postcard::Error),
    #[error("{0} trailing bytes after the payload")]
    Trailing(usize),
}

/// Decodes one datagram.
pub(crate) fn decode(buf: &[u8]) -> Result<Packet<'_>, WireError> {
    let Some((head, payload)) = buf.split_first_chunk::<ENVELOPE_LEN>() else {
        return Err(WireError::Short { len: buf.len() });
    };
    let [m0, m1, version, kind] = *head;
    if [m0, m1] != MAGIC {
        return Err(WireError::Magic);
    }
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    match kind {
        KIND_FOCA => Ok(Packet::Foca(payload)),
        KIND_HELLO => Ok(Packet::Hello(body(payload)?)),
        KIND_HELLO_ACK => Ok(Packet::HelloAck(body(payload)?)),
        KIND_KEY_QUERY => Ok(Packet::KeyQuery(body(payload)?)),
        KIND_KEY_ANSWER => Ok(Packet::KeyAnswer(body(payload)?)),
        KIND_PING => Ok(Packet::Ping(body(payload)?)),
        KIND_PONG => Ok(Packet::Pong(body(payload)?)),
        other => Err(WireError::Kind(other)),
    }
}

/// Wraps a foca packet into `out`.
pub(crate) fn encode_foca(out: &mut Vec<u8>, payload: &[u8]) {
    out.clear();
    out.extend_from_slice(&header(KIND_FOCA));
    out.extend_from_slice(payload);
}

/// A hello from `me`.
pub(crate) fn hello(me: &NodeId) -> Result<Vec<u8>, postcard::Error> {
    with_identity(KIND_HELLO, me)
}

/// A hello-ack from `me`.
pub(crate) fn hello_ack(me: &NodeId) -> Result<Vec<u8>, postcard::Error> {
    with_identity(KIND_HELLO_ACK, me)
}

/// A keyring query.
pub(crate) fn key_query(query: &KeyQuery) -> Result<Vec<u8>, postcard::Error> {
    with_body(KIND_KEY_QUERY, query)
}

/// An answer to a keyring query.
pub(crate) fn key_answer(answer: &KeyAnswer) -> Result<Vec<u8>, postcard::Error> {
    with_body(KIND_KEY_ANSWER, answer)
}

/// A coordinate ping.
pub(crate) fn ping(probe: &Probe) -> Result<Vec<u8>, postcard::Error> {
    with_body(KIND_PING, probe)
}

/// A coordinate pong.
pub(crate) fn pong(probe: &Probe) -> Result<Vec<u8>, postcard::Error> {
    with_body(KIND_PONG, probe)
}

fn with_identity(kind: u8, id: &NodeId) -> Result<Vec<u8>, postcard::Error> {
    with_body(kind, id)
}

fn with_body<T: Serialize>(kind: u8, body: &T) -> Result<Vec<u8>, postcard::Error> {
    let mut out = header(kind).to_vec();
    out.extend_from_slice(&postcard::to_allocvec(body)?);
    Ok(out)
}

fn header(kind: u8) -> [u8; ENVELOPE_LEN] {
    [MAGIC[0], MAGIC[1], VERSION, kind]
}

fn body<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    let (body, rest) = postcard::take_from_bytes::<T>(payload)?;
    if rest.is_empty() {
        Ok(body)
    } else {
        Err(WireError::Trailing(rest.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;

    use super::*;

    fn me() -> NodeId {
        NodeId {
            name: "a".into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8301)),
            generation: 7,
            tags: BTreeMap::from([("role".into(), "node".into())]),
        }
    }

    #[test]
    fn round_trips() {
        let hello = hello(&me()).unwrap();
        assert_eq!(decode(&hello).unwrap(), Packet::Hello(me()));
        let ack = hello_ack(&me()).unwrap();
        assert_eq!(decode(&ack).unwrap(), Packet::HelloAck(me()));
        let mut out = Vec::new();
        encode_foca(&mut out, b"payload");
        assert_eq!(decode(&out).unwrap(), Packet::Foca(b"payload"));
        let query = KeyQuery {
            id: 3,
            op: crate::query::KeyOp::Install(vec![1; 16]),
        };
        let packet = key_query(&query).unwrap();
        assert_eq!(decode(&packet).unwrap(), Packet::KeyQuery(query));
        let answer = KeyAnswer {
            id: 3,
            node: "a".into(),
            ok: false,
            message: "no".into(),
            keys: vec!["k".into()],
        };
        let packet = key_answer(&answer).unwrap();
        assert_eq!(decode(&packet).unwrap(), Packet::KeyAnswer(answer));
        let probe = Probe {
            nonce: 9,
            from: "b".into(),
            coord: Coord::origin(),
        };
        assert_eq!(
            decode(&ping(&probe).unwrap()).unwrap(),
            Packet::Ping(probe.clone())
        );
        assert_eq!(decode(&pong(&probe).unwrap()).unwrap(), Packet::Pong(probe));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(decode(b""), Err(WireError::Short { len: 0 })));
        assert!(matches!(decode(b"sk\x01"), Err(WireError::Short { .. })));
        assert!(matches!(decode(b"xx\x01\x00"), Err(WireError::Magic)));
        assert!(matches!(decode(b"sk\x09\x00"), Err(WireError::Version(9))));
        assert!(matches!(decode(b"sk\x01\x3f"), Err(WireError::Kind(0x3f))));
        assert!(decode(b"sk\x01\x03\xff").is_err());
        assert!(decode(b"sk\x01\x04").is_err());
        assert!(matches!(decode(b"sk\x01\x01"), Err(WireError::Identity(_))));
        let mut long = hello(&me()).unwrap();
        long.push(0);
        assert!(matches!(decode(&long), Err(WireError::Trailing(1))));
        let hello = hello(&me()).unwrap();
        for cut in 0..hello.len() {
            assert!(decode(&hello[..cut]).is_err(), "cut at {cut}");
        }
    }
}
