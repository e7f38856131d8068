//! What the DNS server needs from the agent's configuration.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;
use skein_config::{DnsConfig, RuntimeConfig};

use crate::DnsError;

/// The DNS interface's settings, resolved from the runtime configuration.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// The primary domain (`consul.`), lowercase and fully qualified.
    pub domain: Name,
    /// The alternate domain, if any.
    pub alt_domain: Option<Name>,
    /// This agent's datacenter.
    pub datacenter: String,
    /// `dns_config`.
    pub config: DnsConfig,
    /// Upstream resolvers for names outside the domains.
    pub recursors: Vec<SocketAddr>,
}

impl DnsSettings {
    /// Reads the DNS settings from the agent's configuration.
    pub fn from_runtime(config: &RuntimeConfig) -> Result<Self, DnsError> {
        Ok(Self {
            domain: domain(&config.domain)?,
            alt_domain: config.alt_domain.as_deref().map(domain).transpose()?,
            datacenter: config.datacenter.clone(),
            config: config.dns.clone(),
            recursors: config
                .recursors
                .iter()
                .map(|r| recursor(r))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The domains answered here, primary first.
    pub(crate) fn domains(&self) -> impl Iterator<Item = &Name> {
        std::iter::once(&self.domain).chain(self.alt_domain.as_ref())
    }
}

fn domain(raw: &str) -> Result<Name, DnsError> {
    let mut name = Name::from_ascii(raw).map_err(|e| DnsError::Domain {
        domain: raw.to_owned(),
        reason: e.to_string(),
    })?;
    name.set_fqdn(true);
    if name.is_root() {
        return Err(DnsError::Domain {
            domain: raw.to_owned(),
            reason: "the root cannot be skein's domain".into(),
        });
    }
    Ok(name.to_lowercase())
}

/// `ip` or `ip:port` (port 53 by default), as `recursors` accepts.
fn recursor(raw: &str) -> Result<SocketAddr, DnsError> {
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(addr);
    }
    raw.trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| DnsError::Recursor(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursors_default_to_port_53() {
        assert_eq!(recursor("8.8.8.8").unwrap(), "8.8.8.8:53".parse().unwrap());
        assert_eq!(
            recursor("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(recursor("[::1]").unwrap(), "[::1]:53".parse().unwrap());
        assert!(recursor("dns.example").is_err());
    }

    #[test]
    fn domains_are_lowercase_and_fully_qualified() {
        assert_eq!(domain("Consul").unwrap().to_ascii(), "consul.");
        assert_eq!(
            domain("skein.internal.").unwrap().to_ascii(),
            "skein.internal."
        );
        assert!(domain(".").is_err());
    }
}
