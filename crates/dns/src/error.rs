//! Errors of the DNS interface.

/// What can go wrong starting or configuring the DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The configured domain is not a valid DNS name.
    #[error("invalid DNS domain {domain:?}: {reason}")]
    Domain {
        /// The domain as configured.
        domain: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A recursor address could not be parsed.
    #[error("invalid recursor address {0:?}: expected ip or ip:port")]
    Recursor(String),
    /// A listener could not be bound.
    #[error("binding the DNS {what} listener on {addr}: {source}")]
    Bind {
        /// `udp` or `tcp`.
        what: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
