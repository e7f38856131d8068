//! skein's request handler: names under the domain are answered from the
//! state store, others go to the recursors; answers are fitted to the
//! client's UDP size as Consul fits them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use skein_state::Store;
use tracing::{debug, warn};

use crate::lookup::{self, Question, Reply};
use crate::{DnsSettings, name, recursor};

/// Largest UDP payload skein advertises in its EDNS answers.
const EDNS_PAYLOAD: u16 = 4096;
/// A UDP answer's size limit without EDNS.
const CLASSIC_UDP: usize = 512;

/// A future that confirms the store is current enough to read from.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Confirms a leader read before answering when `allow_stale` is off.
pub trait ReadGate: Send + Sync + 'static {
    /// Resolves once a default-consistency read may proceed.
    fn confirm(&self) -> GateFuture<'_>;
}

/// Answers DNS requests for skein's names.
#[derive(Clone)]
pub struct DnsHandler {
    settings: Arc<DnsSettings>,
    store: Arc<RwLock<Store>>,
    gate: Arc<dyn ReadGate>,
}

impl std::fmt::Debug for DnsHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsHandler")
            .field("domain", &self.settings.domain)
            .finish_non_exhaustive()
    }
}

/// A response, ready to encode.
#[derive(Debug)]
struct Built {
    metadata: Metadata,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

impl Built {
    fn error(request: &Request, rcode: ResponseCode) -> Built {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = rcode;
        Built {
            metadata,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }
}

impl DnsHandler {
    /// A handler over `store` with `settings`.
    pub fn new(settings: DnsSettings, store: Arc<RwLock<Store>>, gate: Arc<dyn ReadGate>) -> Self {
        Self {
            settings: Arc::new(settings),
            store,
            gate,
        }
    }

    async fn respond(&self, request: &Request) -> Built {
        if request.metadata.message_type != MessageType::Query {
            return Built::error(request, ResponseCode::FormErr);
        }
        if request.metadata.op_code != OpCode::Query {
            return Built::error(request, ResponseCode::NotImp);
        }
        let [query] = request.queries.queries() else {
            return Built::error(request, ResponseCode::FormErr);
        };
        let query = query.original();
        if !matches!(query.query_class, DNSClass::IN | DNSClass::ANY) {
            return Built::error(request, ResponseCode::Refused);
        }
        match name::parse(&query.name, self.settings.domains()) {
            Some(parsed) => self.local(request, query, &parsed).await,
            None => self.recurse(request).await,
        }
    }

    /// Answers a name under the domain.
    async fn local(&self, request: &Request, query: &Query, parsed: &name::Parsed) -> Built {
        if !self.settings.config.allow_stale
            && let Err(e) = self.gate.confirm().await
        {
            warn!(error = %e, name = %query.name, "dns: consistent read failed");
            return Built::error(request, ResponseCode::ServFail);
        }
        let q = Question {
            name: &query.name,
            qtype: query.query_type,
        };
        let mut reply = match self.store.read() {
            Ok(store) => lookup::answer(&store, parsed, q, &self.settings),
            Err(_) => return Built::error(request, ResponseCode::ServFail),
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = !self.settings.recursors.is_empty();
        metadata.response_code = reply.rcode;
        let limit = self.settings.config.a_record_limit;
        if reply.addresses && limit > 0 {
            reply.groups.truncate(limit as usize);
        }
        if request.protocol() == Protocol::Udp {
            let trimmed = self.fit_udp(request, query, &mut reply);
            metadata.truncation = trimmed && self.settings.config.enable_truncate;
        }
        let (answers, additionals) = reply.groups.into_iter().fold(
            (Vec::new(), Vec::new()),
            |(mut answers, mut additionals), g| {
                answers.extend(g.answers);
                additionals.extend(g.additionals);
                (answers, additionals)
            },
        );
        Built {
            metadata,
            answers,
            authorities: reply.authority,
            additionals,
        }
    }

    /// Drops answer groups (with their additional records) until the
    /// answer fits the client's UDP size; true if any were dropped. Without
    /// EDNS, at most `udp_answer_limit` answers are sent, as Consul does.
    fn fit_udp(&self, request: &Request, query: &Query, reply: &mut Reply) -> bool {
        let mut trimmed = false;
        if request.edns.is_none() {
            let cap = self.settings.config.udp_answer_limit.max(1) as usize;
            trimmed = reply.groups.len() > cap;
            reply.groups.truncate(cap);
        }
        let limit = request.edns.as_ref().map_or(CLASSIC_UDP, |e| {
            usize::from(e.max_payload()).max(CLASSIC_UDP)
        });
        let size = |n: usize, reply: &Reply| encoded_size(request, query, reply, n);
        if size(reply.groups.len(), reply) <= limit {
            return trimmed;
        }
        // The largest prefix of groups that fits.
        let (mut lo, mut hi) = (0, reply.groups.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if size(mid, reply) <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        debug!(name = %query.name, kept = lo, of = reply.groups.len(), "dns: trimmed UDP answer");
        reply.groups.truncate(lo);
        true
    }

    /// Forwards a name outside the domain to the recursors, or refuses it.
    async fn recurse(&self, request: &Request) -> Built {
        if self.settings.recursors.is_empty() {
            return Built::error(request, ResponseCode::Refused);
        }
        let upstream = recursor::forward(
            &self.settings.recursors,
            self.settings.config.recursor_strategy == "random",
            self.settings.config.recursor_timeout,
            request.as_slice(),
            request.protocol() == Protocol::Tcp,
        )
        .await;
        let Some(mut message) = upstream else {
            return Built::error(request, ResponseCode::ServFail);
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = message.metadata.response_code;
        metadata.truncation = message.metadata.truncation;
        metadata.recursion_available = true;
        Built {
            metadata,
            answers: std::mem::take(&mut message.answers),
            authorities: std::mem::take(&mut message.authorities),
            additionals: std::mem::take(&mut message.additionals),
        }
    }
}

/// The encoded size of `reply` with its first `groups` answer groups.
fn encoded_size(request: &Request, query: &Query, reply: &Reply, groups: usize) -> usize {
    let mut message = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    message.add_query(query.clone());
    let kept = &reply.groups[..groups];
    message.insert_answers(kept.iter().flat_map(|g| g.answers.clone()).collect());
    message.insert_authorities(reply.authority.clone());
    message.insert_additionals(kept.iter().flat_map(|g| g.additionals.clone()).collect());
    if request.edns.is_some() {
        message.set_edns(response_edns());
    }
    message.to_vec().map_or(usize::MAX, |b| b.len())
}

fn response_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    edns
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let built = self.respond(request).await;
        let edns = response_edns();
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if request.edns.is_some() {
            builder.edns(&edns);
        }
        let metadata = built.metadata;
        let response = builder.build(
            metadata,
            built.answers.iter(),
            built.authorities.iter(),
            std::iter::empty(),
            built.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                warn!(error = %e, "dns: sending the response failed");
                let mut failed = metadata;
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
