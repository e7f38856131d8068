//! skein's request handler: names under the domain are answered from the
//! state store, others go to the recursors; answers are fitted to the
//! client's UDP size as Consul fits them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};
use skein_state::Store;
use skein_types::Index;
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
pub(crate) struct Built {
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

/// What a request needs before it can be answered.
enum Plan {
    /// Nothing: the answer is ready (an error or a refusal).
    Now(Built),
    /// A name under the domain, read from the store (after confirming a
    /// leader read unless stale reads are allowed).
    Local(name::Parsed),
    /// A name outside the domain, for the recursors.
    Recurse,
}

/// The request's question, when it asks exactly one.
fn single_query(request: &Request) -> Option<&Query> {
    match request.queries.queries() {
        [query] => Some(query.original()),
        _ => None,
    }
}

/// An answer given without waiting.
pub(crate) struct Ready {
    pub(crate) built: Built,
    /// Set when the same question may get the same bytes again while the
    /// catalog stays at the index (with the same order of instances).
    pub(crate) reuse: Option<Reuse>,
}

impl Ready {
    fn once(built: Built) -> Ready {
        Ready { built, reuse: None }
    }
}

/// What an answer that may be given again depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reuse {
    /// The catalog index it was read at.
    pub(crate) index: Index,
    /// The order its instances were given in.
    pub(crate) order: Order,
}

/// One of the orders of an answer's instances: the `nth` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    pub(crate) nth: usize,
    pub(crate) count: usize,
}

/// Instances up to which each order of an answer is numbered (5! = 120
/// orders); larger answers are shuffled without a number.
const NUMBERED_ORDERS_UP_TO: usize = 5;

/// Orders `groups` as `pick` chooses among their orders and returns the
/// order taken, or shuffles them when they are too many to number.
fn reorder<T>(groups: &mut [T], pick: &mut dyn FnMut(usize) -> usize) -> Option<Order> {
    use rand::seq::SliceRandom;
    if groups.len() > NUMBERED_ORDERS_UP_TO {
        groups.shuffle(&mut rand::thread_rng());
        return None;
    }
    let count = (1..=groups.len()).product::<usize>();
    let nth = pick(count) % count;
    permute(groups, nth);
    Some(Order { nth, count })
}

/// Puts `items` in their `nth` order (of `len!`, in lexicographic order of
/// positions): each position takes one of the items not placed yet.
fn permute<T>(items: &mut [T], mut nth: usize) {
    let len = items.len();
    for at in 0..len {
        let rest = len - at;
        let block: usize = (1..rest).product();
        let chosen = nth / block;
        nth %= block;
        items[at..=at + chosen].rotate_right(1);
    }
}

/// A uniformly random choice among `count` orders.
fn random_order(count: usize) -> usize {
    use rand::Rng;
    rand::thread_rng().gen_range(0..count.max(1))
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

    /// What `request` needs before it can be answered.
    fn plan(&self, request: &Request) -> Plan {
        if request.metadata.message_type != MessageType::Query {
            return Plan::Now(Built::error(request, ResponseCode::FormErr));
        }
        if request.metadata.op_code != OpCode::Query {
            return Plan::Now(Built::error(request, ResponseCode::NotImp));
        }
        let Some(query) = single_query(request) else {
            return Plan::Now(Built::error(request, ResponseCode::FormErr));
        };
        if !matches!(query.query_class, DNSClass::IN | DNSClass::ANY) {
            return Plan::Now(Built::error(request, ResponseCode::Refused));
        }
        match name::parse(&query.name, self.settings.domains()) {
            Some(parsed) => Plan::Local(parsed),
            None if self.settings.recursors.is_empty() => {
                Plan::Now(Built::error(request, ResponseCode::Refused))
            }
            None => Plan::Recurse,
        }
    }

    /// The answer to `request`, confirming a leader read or asking the
    /// recursors when that is needed.
    pub(crate) async fn respond(&self, request: &Request) -> Built {
        match self.plan(request) {
            Plan::Now(built) => built,
            Plan::Local(parsed) => {
                if !self.settings.config.allow_stale
                    && let Err(e) = self.gate.confirm().await
                {
                    warn!(error = %e, "dns: consistent read failed");
                    return Built::error(request, ResponseCode::ServFail);
                }
                self.local(request, &parsed, &mut random_order).built
            }
            Plan::Recurse => self.recurse(request).await,
        }
    }

    /// The answer to `request` when it can be given without waiting; none
    /// when a leader read must be confirmed or a recursor asked first.
    /// `pick(count)` chooses which of the `count` orders a shuffled answer
    /// takes.
    pub(crate) fn respond_now(
        &self,
        request: &Request,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Option<Ready> {
        match self.plan(request) {
            Plan::Now(built) => Some(Ready::once(built)),
            Plan::Local(parsed) if self.settings.config.allow_stale => {
                Some(self.local(request, &parsed, pick))
            }
            Plan::Local(_) | Plan::Recurse => None,
        }
    }

    /// The catalog's index, which moves with every change an answer could
    /// reflect; none if the store cannot be read.
    pub(crate) fn catalog_index(&self) -> Option<Index> {
        self.store.read().ok().map(|store| store.catalog_index())
    }

    /// Answers a name under the domain; `pick` orders a service's instances.
    fn local(
        &self,
        request: &Request,
        parsed: &name::Parsed,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Ready {
        let Some(query) = single_query(request) else {
            return Ready::once(Built::error(request, ResponseCode::FormErr));
        };
        let q = Question {
            name: &query.name,
            qtype: query.query_type,
        };
        let (mut reply, index) = match self.store.read() {
            Ok(store) => (
                lookup::answer(&store, parsed, q, &self.settings),
                store.catalog_index(),
            ),
            Err(_) => return Ready::once(Built::error(request, ResponseCode::ServFail)),
        };
        let order = reply.shuffle.then(|| reorder(&mut reply.groups, pick));
        // An answer from the catalog alone (no SOA, whose serial is the
        // clock) may be given again until the catalog changes.
        let reuse = order
            .flatten()
            .filter(|_| reply.authority.is_empty() && !reply.groups.is_empty())
            .map(|order| Reuse { index, order });
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
        Ready {
            built: Built {
                metadata,
                answers,
                authorities: reply.authority,
                additionals,
            },
            reuse,
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
        // Most answers are a few records: when even the uncompressed size
        // fits, nothing needs encoding to know it.
        if upper_bound(query, reply, request.edns.is_some()) <= limit {
            return trimmed;
        }
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

    /// Forwards a name outside the domain to the recursors.
    async fn recurse(&self, request: &Request) -> Built {
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

/// Header, question, records without name compression, and the OPT
/// record: never less than the encoded size.
fn upper_bound(query: &Query, reply: &Reply, edns: bool) -> usize {
    const HEADER: usize = 12;
    const OPT: usize = 11;
    let name = |n: &hickory_proto::rr::Name| n.len() + 2;
    let records = reply
        .groups
        .iter()
        .flat_map(|g| g.answers.iter().chain(&g.additionals))
        .chain(&reply.authority);
    let body: usize = records
        .map(|r| name(&r.name) + 10 + rdata_bound(&r.data, name))
        .sum();
    HEADER + name(&query.name) + 4 + body + if edns { OPT } else { 0 }
}

/// An upper bound of a record's data size.
fn rdata_bound(
    data: &hickory_proto::rr::RData,
    name: impl Fn(&hickory_proto::rr::Name) -> usize,
) -> usize {
    use hickory_proto::rr::RData;
    match data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::SRV(srv) => 6 + name(&srv.target),
        RData::CNAME(c) => name(&c.0),
        RData::NS(ns) => name(&ns.0),
        RData::TXT(txt) => txt.txt_data.iter().map(|t| t.len() + 1).sum(),
        RData::SOA(soa) => name(&soa.mname) + name(&soa.rname) + 20,
        // Not produced here; make the caller measure exactly.
        _ => usize::from(u16::MAX),
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

/// The response to `request` carrying `built`.
fn response<'q, 'a>(
    request: &'q Request,
    built: &'a Built,
    edns: &'q Edns,
) -> MessageResponse<
    'q,
    'a,
    std::slice::Iter<'a, Record>,
    std::slice::Iter<'a, Record>,
    std::iter::Empty<&'a Record>,
    std::slice::Iter<'a, Record>,
> {
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if request.edns.is_some() {
        builder.edns(edns);
    }
    builder.build(
        built.metadata,
        built.answers.iter(),
        built.authorities.iter(),
        std::iter::empty(),
        built.additionals.iter(),
    )
}

/// Encodes `built` as the answer to `request` into `out`, within the
/// request's size limit (its UDP payload size over UDP); SERVFAIL if it
/// cannot be encoded.
pub(crate) fn emit(request: &Request, built: &Built, out: &mut Vec<u8>) {
    out.clear();
    let max = match request.protocol() {
        Protocol::Udp => request.max_payload(),
        _ => u16::MAX,
    };
    let edns = response_edns();
    let mut encoder = BinEncoder::new(out);
    encoder.set_max_size(max);
    let Err(e) = response(request, built, &edns).destructive_emit(&mut encoder) else {
        return;
    };
    warn!(error = %e, "dns: encoding the response failed");
    let mut metadata = built.metadata;
    metadata.response_code = ResponseCode::ServFail;
    out.clear();
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    if header.emit(&mut BinEncoder::new(out)).is_err() {
        out.clear();
    }
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
        match response_handle
            .send_response(response(request, &built, &edns))
            .await
        {
            Ok(info) => info,
            Err(e) => {
                warn!(error = %e, "dns: sending the response failed");
                let mut failed = built.metadata;
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::rdata::{A, SRV, TXT};
    use hickory_proto::rr::{Name, RData, RecordType};

    use super::*;
    use crate::lookup::Group;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn each_number_is_one_order_and_every_order_has_one() {
        for len in 0..=NUMBERED_ORDERS_UP_TO {
            let count: usize = (1..=len).product();
            let mut seen = std::collections::BTreeSet::new();
            for nth in 0..count {
                let mut items: Vec<usize> = (0..len).collect();
                permute(&mut items, nth);
                let mut sorted = items.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..len).collect::<Vec<_>>(), "not a permutation");
                seen.insert(items);
            }
            assert_eq!(seen.len(), count, "{len} items");
        }
    }

    #[test]
    fn reorder_numbers_small_answers_and_shuffles_large_ones() {
        let mut small = vec![1, 2, 3];
        let order = reorder(&mut small, &mut |count| {
            assert_eq!(count, 6);
            5
        });
        assert_eq!(order, Some(Order { nth: 5, count: 6 }));
        assert_eq!(small, [3, 2, 1]);
        let mut large: Vec<u32> = (0..NUMBERED_ORDERS_UP_TO as u32 + 1).collect();
        let order = reorder(&mut large, &mut |_| {
            unreachable!("large answers are not numbered")
        });
        assert_eq!(order, None);
    }

    #[test]
    fn the_size_bound_is_never_below_the_encoded_size() {
        let query = Query::query(name("web.service.consul."), RecordType::SRV);
        let mut reply = Reply::default();
        for i in 0..20u8 {
            let target = name(&format!("node-{i}.node.dc1.consul."));
            reply.groups.push(Group {
                answers: vec![Record::from_rdata(
                    name("web.service.consul."),
                    0,
                    RData::SRV(SRV::new(1, 1, 8080, target.clone())),
                )],
                additionals: vec![
                    Record::from_rdata(target.clone(), 0, RData::A(A(Ipv4Addr::new(10, 0, 0, i)))),
                    Record::from_rdata(target, 0, RData::TXT(TXT::new(vec!["rack=r1".into()]))),
                ],
            });
        }
        for edns in [false, true] {
            let mut message = Message::new(7, MessageType::Response, OpCode::Query);
            message.add_query(query.clone());
            for g in &reply.groups {
                for r in &g.answers {
                    message.add_answer(r.clone());
                }
                for r in &g.additionals {
                    message.add_additional(r.clone());
                }
            }
            if edns {
                message.set_edns(response_edns());
            }
            let encoded = message.to_vec().unwrap().len();
            let bound = upper_bound(&query, &reply, edns);
            assert!(bound >= encoded, "bound {bound} < encoded {encoded}");
            assert!(
                bound < encoded * 3,
                "the bound is loose: {bound} vs {encoded}"
            );
        }
    }
}
