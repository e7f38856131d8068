//! Answering one raw packet the way the server does, without sockets: the
//! entry point of the fuzz tests and the handler's unit tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Header, Message, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

use crate::DnsHandler;

impl DnsHandler {
    /// The bytes the server would send back for `packet` received over
    /// `protocol`: `None` when it is dropped (no readable header), FORMERR
    /// when the rest does not parse, else the handler's answer.
    pub async fn answer_packet(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
        let request = match Request::from_bytes(packet.to_vec(), src, protocol) {
            Ok(request) => request,
            Err(_) => {
                let m = &header.metadata;
                return Message::error_msg(m.id, m.op_code, ResponseCode::FormErr)
                    .to_vec()
                    .ok();
            }
        };
        let max = match protocol {
            Protocol::Udp => request.max_payload(),
            _ => u16::MAX,
        };
        let capture = Capture {
            max,
            out: Arc::default(),
        };
        self.handle_request::<_, TokioTime>(&request, capture.clone())
            .await;
        capture.out.lock().ok()?.take()
    }
}

/// A response handler that keeps the encoded answer.
#[derive(Clone)]
struct Capture {
    max: u16,
    out: Arc<Mutex<Option<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(self.max);
        let info = response.destructive_emit(&mut encoder)?;
        if let Ok(mut out) = self.out.lock() {
            *out = Some(bytes);
        }
        Ok(info)
    }
}
