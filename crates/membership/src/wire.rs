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
//! ```
//!
//! foca's `announce` must name the identity it goes to, and an identity's
//! foca address is the node name; the hello learns the name behind a
//! socket address so `join` can take bare addresses.

use crate::identity::NodeId;

const MAGIC: [u8; 2] = *b"sk";
const VERSION: u8 = 1;
const KIND_FOCA: u8 = 0;
const KIND_HELLO: u8 = 1;
const KIND_HELLO_ACK: u8 = 2;
/// Bytes of envelope before the payload.
pub(crate) const ENVELOPE_LEN: usize = 4;

/// A decoded packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// For foca.
    Foca(&'a [u8]),
    /// A node that wants to join through us.
    Hello(NodeId),
    /// The answer to our hello.
    HelloAck(NodeId),
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
    #[error("decoding the sender's identity: {0}")]
    Identity(#[from] postcard::Error),
    #[error("{0} trailing bytes after the sender's identity")]
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
        KIND_HELLO => Ok(Packet::Hello(identity(payload)?)),
        KIND_HELLO_ACK => Ok(Packet::HelloAck(identity(payload)?)),
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

fn with_identity(kind: u8, id: &NodeId) -> Result<Vec<u8>, postcard::Error> {
    let mut out = header(kind).to_vec();
    out.extend_from_slice(&postcard::to_allocvec(id)?);
    Ok(out)
}

fn header(kind: u8) -> [u8; ENVELOPE_LEN] {
    [MAGIC[0], MAGIC[1], VERSION, kind]
}

fn identity(payload: &[u8]) -> Result<NodeId, WireError> {
    let (id, rest) = postcard::take_from_bytes::<NodeId>(payload)?;
    if rest.is_empty() {
        Ok(id)
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
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(decode(b""), Err(WireError::Short { len: 0 })));
        assert!(matches!(decode(b"sk\x01"), Err(WireError::Short { .. })));
        assert!(matches!(decode(b"xx\x01\x00"), Err(WireError::Magic)));
        assert!(matches!(decode(b"sk\x09\x00"), Err(WireError::Version(9))));
        assert!(matches!(decode(b"sk\x01\x07"), Err(WireError::Kind(7))));
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
