//! Answering a parsed name from one read of the state store.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use skein_state::{InstanceHealth, Store};
use skein_types::CheckStatus;

use crate::DnsSettings;
use crate::name::{Lookup, Parsed, ServiceKind};
use crate::records::{self, ttl_secs, wants};

/// The question being answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Question<'a> {
    /// The name as asked (case kept).
    pub(crate) name: &'a Name,
    /// The record type asked for.
    pub(crate) qtype: RecordType,
}

/// An answer: records grouped so that trimming drops an answer together
/// with the additional records that resolve it.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    /// NOERROR or NXDOMAIN.
    pub(crate) rcode: ResponseCode,
    /// Answer groups, in the order they are sent.
    pub(crate) groups: Vec<Group>,
    /// Authority records (the SOA when there is no answer, NS otherwise).
    pub(crate) authority: Vec<Record>,
    /// Whether the answer groups are address records (`a_record_limit`).
    pub(crate) addresses: bool,
    /// Whether the groups are a service's instances, which every answer
    /// gives in a new random order.
    pub(crate) shuffle: bool,
}

/// Answer records and the additional records that go with them.
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) answers: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
}

impl Reply {
    /// NXDOMAIN with the SOA in the authority section.
    fn not_found(settings: &DnsSettings, domain: &Name) -> Reply {
        Reply {
            rcode: ResponseCode::NXDomain,
            authority: vec![records::soa(settings, domain)],
            ..Reply::default()
        }
    }

    /// The groups, or NOERROR with the SOA when there are none (no data).
    fn records(settings: &DnsSettings, domain: &Name, groups: Vec<Group>) -> Reply {
        let authority = if groups.is_empty() {
            vec![records::soa(settings, domain)]
        } else {
            Vec::new()
        };
        Reply {
            rcode: ResponseCode::NoError,
            groups,
            authority,
            addresses: false,
            shuffle: false,
        }
    }
}

/// Answers `parsed` from `store`.
pub(crate) fn answer(store: &Store, parsed: &Parsed, q: Question<'_>, s: &DnsSettings) -> Reply {
    let domain = &parsed.domain;
    let foreign_dc = parsed
        .datacenter
        .as_deref()
        .is_some_and(|dc| !dc.eq_ignore_ascii_case(&s.datacenter));
    // No federation or peering yet: other datacenters and peers have no names.
    if foreign_dc || parsed.peer.is_some() {
        return Reply::not_found(s, domain);
    }
    match &parsed.lookup {
        Lookup::Apex => apex(store, q, s, domain),
        Lookup::Node(node) => node_lookup(store, node, q, s, domain),
        Lookup::Service { name, tag, kind } => {
            service(store, name, tag.as_deref(), *kind, q, s, domain)
        }
        Lookup::Addr(ip) => {
            let ttl = ttl_secs(s.config.node_ttl);
            let group = records::ip_record(q.name, ttl, *ip, q.qtype).map(|r| Group {
                answers: vec![r],
                additionals: Vec::new(),
            });
            Reply::records(s, domain, group.into_iter().collect())
        }
        // Prepared queries are not stored yet: every name is unknown.
        Lookup::PreparedQuery(_) | Lookup::Unknown => Reply::not_found(s, domain),
    }
}

/// The domain itself: its SOA, and NS records naming the servers.
fn apex(store: &Store, q: Question<'_>, s: &DnsSettings, domain: &Name) -> Reply {
    let mut groups = Vec::new();
    if wants(q.qtype, RecordType::SOA) {
        groups.push(Group {
            answers: vec![records::soa(s, domain)],
            additionals: Vec::new(),
        });
    }
    if wants(q.qtype, RecordType::NS) {
        groups.extend(nameservers(store, s, domain));
    }
    Reply::records(s, domain, groups)
}

/// One NS record per server (the nodes that run the `consul` service),
/// with the server's address as additional record.
fn nameservers(store: &Store, s: &DnsSettings, domain: &Name) -> Vec<Group> {
    let ttl = s.config.soa.min_ttl;
    store
        .instance_health("consul", false)
        .into_iter()
        .filter(|i| i.status != CheckStatus::Critical)
        .filter_map(|i| {
            let target = records::domain_name(&i.node.node, "node", &s.datacenter, domain)?;
            let address = i.node.address.parse::<IpAddr>().ok()?;
            let glue = records::ip_record(&target, ttl, address, RecordType::ANY);
            Some(Group {
                answers: vec![records::ns(domain, ttl, target)],
                additionals: glue.into_iter().collect(),
            })
        })
        .collect()
}

fn node_lookup(
    store: &Store,
    node: &str,
    q: Question<'_>,
    s: &DnsSettings,
    domain: &Name,
) -> Reply {
    let Some(n) = store.node_record(node) else {
        return Reply::not_found(s, domain);
    };
    let ttl = ttl_secs(s.config.node_ttl);
    let mut group = Group::default();
    group
        .answers
        .extend(records::address_record(q.name, ttl, &n.address, q.qtype));
    let meta = records::meta_txt(q.name, ttl, &n.meta);
    if wants(q.qtype, RecordType::TXT) {
        group.answers.extend(meta);
    } else if !group.answers.is_empty() && s.config.enable_additional_node_meta_txt {
        group.additionals.extend(meta);
    }
    let groups = if group.answers.is_empty() {
        Vec::new()
    } else {
        vec![group]
    };
    Reply::records(s, domain, groups)
}

fn service(
    store: &Store,
    name: &str,
    tag: Option<&str>,
    kind: ServiceKind,
    q: Question<'_>,
    s: &DnsSettings,
    domain: &Name,
) -> Reply {
    // DNS names ignore case; the catalog keeps the registered spelling.
    let name = store.service_name_folded(name).unwrap_or(name);
    let mut instances: Vec<InstanceHealth<'_>> = match kind {
        ServiceKind::Plain => store.instance_health(name, false),
        ServiceKind::Connect => store.instance_health(name, true),
        // Ingress gateways come with config entries; none expose anything yet.
        ServiceKind::Ingress => Vec::new(),
    };
    instances.retain(|i| healthy(i.status, s) && tag.is_none_or(|t| has_tag(i, t)));
    if instances.is_empty() {
        return Reply::not_found(s, domain);
    }
    let ttl = service_ttl(s, name);
    if q.qtype == RecordType::SRV {
        let groups = instances
            .iter()
            .filter_map(|i| srv_group(i, q.name, ttl, s, domain))
            .collect();
        return Reply {
            shuffle: true,
            ..Reply::records(s, domain, groups)
        };
    }
    let mut seen = HashSet::new();
    let groups = instances
        .iter()
        .filter_map(|i| {
            let address = instance_address(i);
            seen.insert(address)
                .then(|| records::address_record(q.name, ttl, address, q.qtype))
                .flatten()
        })
        .map(|r| Group {
            answers: vec![r],
            additionals: Vec::new(),
        })
        .collect();
    Reply {
        addresses: true,
        shuffle: true,
        ..Reply::records(s, domain, groups)
    }
}

/// Critical instances never answer; warning ones unless `only_passing`.
fn healthy(status: CheckStatus, s: &DnsSettings) -> bool {
    match status {
        CheckStatus::Passing => true,
        CheckStatus::Warning => !s.config.only_passing,
        _ => false,
    }
}

fn has_tag(i: &InstanceHealth<'_>, tag: &str) -> bool {
    i.service.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

/// The instance's own address, else its node's.
fn instance_address<'a>(i: &InstanceHealth<'a>) -> &'a str {
    if i.service.address.is_empty() {
        &i.node.address
    } else {
        &i.service.address
    }
}

fn srv_group(
    i: &InstanceHealth<'_>,
    name: &Name,
    ttl: u32,
    s: &DnsSettings,
    domain: &Name,
) -> Option<Group> {
    let has_own = !i.service.address.is_empty();
    let (target, glue) = records::srv_target(
        &i.node.node,
        instance_address(i),
        has_own,
        ttl,
        &s.datacenter,
        domain,
    )?;
    let mut additionals: Vec<Record> = glue.into_iter().collect();
    if !has_own && s.config.enable_additional_node_meta_txt && !additionals.is_empty() {
        additionals.extend(records::meta_txt(&target, ttl, &i.node.meta));
    }
    Some(Group {
        answers: vec![records::srv(name, ttl, weight(i), i.service.port, target)],
        additionals,
    })
}

/// `Weights.Passing` (or `Weights.Warning` for a warning instance), 1 by
/// default.
fn weight(i: &InstanceHealth<'_>) -> u16 {
    let key = if i.status == CheckStatus::Warning {
        "Warning"
    } else {
        "Passing"
    };
    i.service
        .extra
        .get("Weights")
        .and_then(|w| w.get(key))
        .and_then(serde_json::Value::as_u64)
        .and_then(|w| u16::try_from(w).ok())
        .unwrap_or(1)
}

/// `service_ttl`: the service's own entry, else the longest matching
/// `prefix*` entry, else `*`, else 0.
fn service_ttl(s: &DnsSettings, name: &str) -> u32 {
    let ttls = &s.config.service_ttl;
    let found = ttls.get(name).or_else(|| {
        ttls.iter()
            .filter_map(|(k, v)| Some((k.strip_suffix('*')?, v)))
            .filter(|(prefix, _)| name.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, v)| v)
    });
    found.map(|d| ttl_secs(*d)).unwrap_or(0)
}
