//! Building resource records: addresses, SRV targets, node metadata, SOA
//! and NS.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::DnsSettings;
use crate::name::addr_label;

/// Seconds of a TTL, saturating.
pub(crate) fn ttl_secs(ttl: Duration) -> u32 {
    u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX)
}

/// Whether a query of `qtype` wants records of `have`.
pub(crate) fn wants(qtype: RecordType, have: RecordType) -> bool {
    qtype == have || qtype == RecordType::ANY
}

/// The A or AAAA record for `ip` when `qtype` asks for its family.
pub(crate) fn ip_record(name: &Name, ttl: u32, ip: IpAddr, qtype: RecordType) -> Option<Record> {
    let data = match ip {
        IpAddr::V4(v4) if wants(qtype, RecordType::A) => RData::A(A(v4)),
        IpAddr::V6(v6) if wants(qtype, RecordType::AAAA) => RData::AAAA(AAAA(v6)),
        _ => return None,
    };
    Some(Record::from_rdata(name.clone(), ttl, data))
}

/// Records for an address as the catalog stores it: A/AAAA for an IP, a
/// CNAME for a host name; nothing for an empty or unusable address.
pub(crate) fn address_record(
    name: &Name,
    ttl: u32,
    address: &str,
    qtype: RecordType,
) -> Option<Record> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return ip_record(name, ttl, ip, qtype);
    }
    let asks_address = [RecordType::A, RecordType::AAAA, RecordType::CNAME]
        .iter()
        .any(|t| wants(qtype, *t));
    let target = host_name(address)?;
    asks_address.then(|| Record::from_rdata(name.clone(), ttl, RData::CNAME(CNAME(target))))
}

/// A host name usable as a DNS target, fully qualified.
pub(crate) fn host_name(address: &str) -> Option<Name> {
    if address.is_empty() {
        return None;
    }
    let mut name = Name::from_ascii(address).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// `<label>.<kind>.<dc>.<domain>`, e.g. a node's or an address's name.
pub(crate) fn domain_name(label: &str, kind: &str, dc: &str, domain: &Name) -> Option<Name> {
    Name::from_ascii(format!("{label}.{kind}.{dc}"))
        .ok()?
        .append_name(domain)
        .ok()
}

/// The SRV target for an instance at `address` (the service's own address,
/// else its node's) and the records that resolve the target.
pub(crate) fn srv_target(
    node: &str,
    address: &str,
    service_has_address: bool,
    ttl: u32,
    dc: &str,
    domain: &Name,
) -> Option<(Name, Option<Record>)> {
    match address.parse::<IpAddr>() {
        Ok(ip) => {
            let target = if service_has_address {
                domain_name(&addr_label(ip), "addr", dc, domain)?
            } else {
                domain_name(node, "node", dc, domain)?
            };
            let extra = ip_record(&target, ttl, ip, RecordType::ANY);
            Some((target, extra))
        }
        Err(_) => Some((host_name(address)?, None)),
    }
}

/// An SRV record.
pub(crate) fn srv(name: &Name, ttl: u32, weight: u16, port: u16, target: Name) -> Record {
    Record::from_rdata(
        name.clone(),
        ttl,
        RData::SRV(SRV::new(1, weight, port, target)),
    )
}

/// One TXT record per node-meta pair: `key=value` (RFC 1464), or the value
/// alone for keys prefixed `rfc1035-`.
pub(crate) fn meta_txt(name: &Name, ttl: u32, meta: &BTreeMap<String, String>) -> Vec<Record> {
    meta.iter()
        .map(|(k, v)| {
            let text = if k.to_ascii_lowercase().starts_with("rfc1035-") {
                v.clone()
            } else {
                format!("{}={}", k.replace('=', "`="), v)
            };
            Record::from_rdata(name.clone(), ttl, RData::TXT(TXT::new(vec![text])))
        })
        .collect()
}

/// The domain's SOA: `ns.<domain>`, `hostmaster.<domain>`, the serial as
/// the current Unix time, and `dns_config.soa`'s timers.
pub(crate) fn soa(settings: &DnsSettings, domain: &Name) -> Record {
    let timers = &settings.config.soa;
    let prefixed = |label: &str| {
        Name::from_ascii(label)
            .and_then(|n| n.append_name(domain))
            .unwrap_or_else(|_| domain.clone())
    };
    let serial = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0);
    let signed = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let data = SOA::new(
        prefixed("ns"),
        prefixed("hostmaster"),
        serial,
        signed(timers.refresh),
        signed(timers.retry),
        signed(timers.expire),
        timers.min_ttl,
    );
    Record::from_rdata(domain.clone(), timers.min_ttl, RData::SOA(data))
}

/// An NS record for the domain.
pub(crate) fn ns(domain: &Name, ttl: u32, target: Name) -> Record {
    Record::from_rdata(domain.clone(), ttl, RData::NS(NS(target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn addresses_answer_their_own_family_only() {
        let n = name("web.service.consul.");
        let v4 = address_record(&n, 0, "10.0.0.1", RecordType::A);
        assert_eq!(v4.map(|r| r.record_type()), Some(RecordType::A));
        assert!(address_record(&n, 0, "10.0.0.1", RecordType::AAAA).is_none());
        let v6 = address_record(&n, 0, "::1", RecordType::ANY);
        assert_eq!(v6.map(|r| r.record_type()), Some(RecordType::AAAA));
        let host = address_record(&n, 0, "db.example.com", RecordType::A);
        assert_eq!(host.map(|r| r.record_type()), Some(RecordType::CNAME));
        assert!(address_record(&n, 0, "", RecordType::A).is_none());
    }

    #[test]
    fn srv_targets_name_the_node_or_the_service_address() {
        let consul = name("consul.");
        let (target, extra) = srv_target("n1", "10.0.0.1", false, 0, "dc1", &consul).unwrap();
        assert_eq!(target.to_ascii(), "n1.node.dc1.consul.");
        assert_eq!(
            extra.map(|r| r.name.to_ascii()),
            Some("n1.node.dc1.consul.".into())
        );
        let (target, _) = srv_target("n1", "192.0.2.10", true, 0, "dc1", &consul).unwrap();
        assert_eq!(target.to_ascii(), "c000020a.addr.dc1.consul.");
        let (target, extra) = srv_target("n1", "db.example.com", true, 0, "dc1", &consul).unwrap();
        assert_eq!((target.to_ascii(), extra), ("db.example.com.".into(), None));
    }

    #[test]
    fn node_meta_becomes_rfc1464_text() {
        let meta = BTreeMap::from([
            ("rack".to_owned(), "r1".to_owned()),
            ("rfc1035-spf".to_owned(), "v=spf1 -all".to_owned()),
        ]);
        let texts: Vec<String> = meta_txt(&name("n1.node.consul."), 0, &meta)
            .iter()
            .map(|r| match &r.data {
                RData::TXT(t) => t.to_string(),
                other => panic!("not TXT: {other:?}"),
            })
            .collect();
        assert_eq!(texts, ["rack=r1", "v=spf1 -all"]);
    }
}
