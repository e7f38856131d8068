//! One raw packet in, the bytes to send back out: the path of every UDP
//! datagram, and the entry point of the fuzz tests.

use std::net::SocketAddr;

use hickory_proto::op::{Header, Message, MessageType, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use crate::DnsHandler;
use crate::handler::emit;

/// What a received packet turned out to be.
pub(crate) enum Incoming {
    /// Nothing to answer: no readable header, or a response (answering
    /// those would let a forged source bounce packets between servers).
    Drop,
    /// A header but no parseable message: this FORMERR goes back.
    Malformed(Vec<u8>),
    /// A request to answer.
    Request(Box<Request>),
}

/// Reads one packet received from `src` over `protocol`.
pub(crate) fn read(packet: &[u8], src: SocketAddr, protocol: Protocol) -> Incoming {
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
        return Incoming::Drop;
    };
    if header.metadata.message_type == MessageType::Response {
        return Incoming::Drop;
    }
    match Request::from_bytes(packet.to_vec(), src, protocol) {
        Ok(request) => Incoming::Request(Box::new(request)),
        Err(_) => {
            let m = &header.metadata;
            match Message::error_msg(m.id, m.op_code, ResponseCode::FormErr).to_vec() {
                Ok(bytes) => Incoming::Malformed(bytes),
                Err(_) => Incoming::Drop,
            }
        }
    }
}

impl DnsHandler {
    /// The bytes the server sends back for `packet` received over
    /// `protocol`: `None` when it is dropped (no readable header, or a
    /// response), FORMERR when the rest does not parse, else the answer.
    pub async fn answer_packet(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        match read(packet, src, protocol) {
            Incoming::Drop => None,
            Incoming::Malformed(bytes) => Some(bytes),
            Incoming::Request(request) => {
                let built = self.respond(&request).await;
                let mut out = Vec::with_capacity(512);
                emit(&request, &built, &mut out);
                Some(out)
            }
        }
    }
}
