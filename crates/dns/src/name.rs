//! Reading a query name under skein's domain: which lookup it asks for.
//!
//! Names are read from the right, as Consul does: the labels after the
//! domain's are searched right to left for a type label (`node`,
//! `service`, `connect`, ...); what follows it names the datacenter, what
//! precedes it is the lookup's subject.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

/// What a name under the domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The domain itself (SOA, NS).
    Apex,
    /// `<node>.node`.
    Node(String),
    /// `[tag.]<service>.service`, `_<service>._<tag>[.service]`,
    /// `<service>.connect`, `<service>.ingress`.
    Service {
        /// Service name.
        name: String,
        /// Tag filter.
        tag: Option<String>,
        /// Which instances answer.
        kind: ServiceKind,
    },
    /// `<hex>.addr`.
    Addr(IpAddr),
    /// `<query>.query`: a prepared query.
    PreparedQuery(String),
    /// Under the domain, but not a name skein answers.
    Unknown,
}

/// Which instances a service lookup returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServiceKind {
    /// The service's own instances.
    Plain,
    /// Its mesh-capable instances (sidecar proxies, native).
    Connect,
    /// The ingress gateways that expose it.
    Ingress,
}

/// A parsed name under one of skein's domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The lookup.
    pub(crate) lookup: Lookup,
    /// The datacenter named, if any.
    pub(crate) datacenter: Option<String>,
    /// Names a cluster peer (`.peer`).
    pub(crate) peer: Option<String>,
    /// The domain the name is under, as configured.
    pub(crate) domain: Name,
}

/// Parses `qname` against `domains`; `None` when it is under none of them.
pub(crate) fn parse<'a>(
    qname: &Name,
    domains: impl IntoIterator<Item = &'a Name>,
) -> Option<Parsed> {
    let lower = qname.to_lowercase();
    let domain = domains.into_iter().find(|d| d.zone_of(&lower))?;
    let labels: Vec<String> = qname
        .iter()
        .take(usize::from(
            qname.num_labels().saturating_sub(domain.num_labels()),
        ))
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let (lookup, suffix) = classify(&labels);
    let (datacenter, peer, valid) = locality(suffix);
    let lookup = if valid { lookup } else { Lookup::Unknown };
    Some(Parsed {
        lookup,
        datacenter,
        peer,
        domain: domain.clone(),
    })
}

/// Splits `labels` at the rightmost type label: the lookup, and the labels
/// after the type (the locality).
fn classify(labels: &[String]) -> (Lookup, &[String]) {
    if labels.is_empty() {
        return (Lookup::Apex, &[]);
    }
    let typed = labels.iter().enumerate().rev().find_map(|(i, l)| {
        let kind = l.to_ascii_lowercase();
        matches!(
            kind.as_str(),
            "node" | "service" | "connect" | "ingress" | "addr" | "query" | "virtual"
        )
        .then_some((i, kind))
    });
    let Some((at, kind)) = typed else {
        // `_<service>._<tag>[.<dc>]` without the `service` label.
        return match labels.get(..2).and_then(rfc2782) {
            Some(lookup) => (lookup, &labels[2..]),
            None => (Lookup::Unknown, &[]),
        };
    };
    let (parts, suffix) = (&labels[..at], &labels[at + 1..]);
    let lookup = match (kind.as_str(), parts) {
        (_, []) => Lookup::Unknown,
        ("node", parts) => Lookup::Node(parts.join(".")),
        ("service", parts) => rfc2782(parts).unwrap_or_else(|| service(parts, ServiceKind::Plain)),
        ("connect", parts @ [_]) => service(parts, ServiceKind::Connect),
        ("ingress", parts @ [_]) => service(parts, ServiceKind::Ingress),
        ("addr", [hex]) => addr(hex).map_or(Lookup::Unknown, Lookup::Addr),
        ("query", parts) => Lookup::PreparedQuery(parts.join(".")),
        _ => Lookup::Unknown,
    };
    (lookup, suffix)
}

/// `[tag.]<service>`: the last label is the service, the rest the tag.
fn service(parts: &[String], kind: ServiceKind) -> Lookup {
    let Some((name, tag)) = parts.split_last() else {
        return Lookup::Unknown;
    };
    Lookup::Service {
        name: name.clone(),
        tag: (!tag.is_empty()).then(|| tag.join(".")),
        kind,
    }
}

/// RFC 2782: `_<service>._<tag>`, where the tag `tcp` means any tag.
fn rfc2782(parts: &[String]) -> Option<Lookup> {
    let (name, tag) = match parts {
        [name, tag] => (name.strip_prefix('_')?, tag.strip_prefix('_')?),
        _ => return None,
    };
    Some(Lookup::Service {
        name: name.to_owned(),
        tag: (!tag.eq_ignore_ascii_case("tcp")).then(|| tag.to_owned()),
        kind: ServiceKind::Plain,
    })
}

/// The datacenter and peer named after the type label: ``, `<dc>`,
/// `<dc>.dc`, `<peer>.peer`. The flag is false for anything else.
fn locality(suffix: &[String]) -> (Option<String>, Option<String>, bool) {
    let lower: Vec<String> = suffix.iter().map(|l| l.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [] => (None, None, true),
        [dc] => (Some(dc.clone()), None, true),
        [dc, kind] if kind == "dc" => (Some(dc.clone()), None, true),
        [peer, kind] if kind == "peer" => (None, Some(peer.clone()), true),
        _ => (None, None, false),
    }
}

/// `<hex>.addr`: 8 hex digits for IPv4, 32 for IPv6.
pub(crate) fn addr(hex: &str) -> Option<IpAddr> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        8 => u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        32 => u128::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        _ => None,
    }
}

/// The `<hex>` label of an address, the inverse of [`addr`].
pub(crate) fn addr_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:08x}", u32::from(v4)),
        IpAddr::V6(v6) => format!("{:032x}", u128::from(v6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(name: &str) -> Option<Parsed> {
        let domains = [
            Name::from_ascii("consul.").unwrap(),
            Name::from_ascii("alt.test.").unwrap(),
        ];
        parse(&Name::from_ascii(name).unwrap(), &domains)
    }

    fn lookup(name: &str) -> Lookup {
        parse_str(name).expect("under the domain").lookup
    }

    fn svc(name: &str, tag: Option<&str>, kind: ServiceKind) -> Lookup {
        Lookup::Service {
            name: name.into(),
            tag: tag.map(Into::into),
            kind,
        }
    }

    #[test]
    fn every_name_form_is_recognised() {
        use ServiceKind::*;
        assert_eq!(lookup("consul."), Lookup::Apex);
        assert_eq!(lookup("web.service.consul."), svc("web", None, Plain));
        assert_eq!(
            lookup("v1.web.service.consul."),
            svc("web", Some("v1"), Plain)
        );
        assert_eq!(lookup("_web._tcp.service.consul."), svc("web", None, Plain));
        assert_eq!(
            lookup("_web._v1.service.consul."),
            svc("web", Some("v1"), Plain)
        );
        assert_eq!(lookup("_web._v1.consul."), svc("web", Some("v1"), Plain));
        assert_eq!(lookup("web.connect.consul."), svc("web", None, Connect));
        assert_eq!(lookup("web.ingress.consul."), svc("web", None, Ingress));
        assert_eq!(lookup("n1.node.consul."), Lookup::Node("n1".into()));
        assert_eq!(lookup("n1.node.dc1.consul."), Lookup::Node("n1".into()));
        assert_eq!(
            lookup("7f000001.addr.dc1.consul."),
            Lookup::Addr("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            lookup("geo.query.consul."),
            Lookup::PreparedQuery("geo".into())
        );
        assert_eq!(lookup("web.service.alt.test."), svc("web", None, Plain));
    }

    #[test]
    fn the_locality_follows_the_type_label() {
        let p = parse_str("web.service.dc2.consul.").unwrap();
        assert_eq!(p.datacenter.as_deref(), Some("dc2"));
        let p = parse_str("web.service.dc2.dc.consul.").unwrap();
        assert_eq!(p.datacenter.as_deref(), Some("dc2"));
        let p = parse_str("web.service.other.peer.consul.").unwrap();
        assert_eq!(p.peer.as_deref(), Some("other"));
        let p = parse_str("_web._tcp.dc3.consul.").unwrap();
        assert_eq!(p.datacenter.as_deref(), Some("dc3"));
        assert_eq!(lookup("web.service.a.b.c.consul."), Lookup::Unknown);
    }

    #[test]
    fn names_skein_does_not_answer_are_unknown_or_outside() {
        assert_eq!(lookup("service.consul."), Lookup::Unknown);
        assert_eq!(lookup("nothing.consul."), Lookup::Unknown);
        assert_eq!(lookup("zz.addr.consul."), Lookup::Unknown);
        assert_eq!(lookup("web.virtual.consul."), Lookup::Unknown);
        assert!(parse_str("example.com.").is_none());
        assert!(parse_str("consul.example.com.").is_none());
    }

    #[test]
    fn case_is_ignored_for_the_domain_and_type_and_kept_for_the_subject() {
        assert_eq!(
            lookup("Web.SERVICE.Consul."),
            svc("Web", None, ServiceKind::Plain)
        );
    }

    #[test]
    fn addr_labels_round_trip() {
        for ip in ["10.0.0.1", "::1", "2001:db8::7"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(addr(&addr_label(ip)), Some(ip));
        }
        assert_eq!(addr_label("192.0.2.10".parse().unwrap()), "c000020a");
        assert_eq!(addr("c000020"), None);
    }
}
