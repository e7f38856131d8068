//! The crate's one error type.
//!
//! CSR rejections carry the same text as Consul's `InvalidCSRError`s, and
//! [`Error::RateLimited`] the exact wire string clients retry on.

use std::time::SystemTime;

use skein_types::wire;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while issuing, rotating or checking certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URI is not a SPIFFE ID skein understands.
    #[error("invalid SPIFFE ID {uri:?}: {reason}")]
    InvalidSpiffeId {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A trust domain is not a plain lowercase DNS name.
    #[error("invalid trust domain {value:?}: {reason}")]
    InvalidTrustDomain {
        /// The trust domain as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cluster ID is not a UUID.
    #[error("invalid cluster ID {value:?}: must be a UUID")]
    InvalidClusterId {
        /// The cluster ID as given.
        value: String,
    },
    /// The request needs something the ring backend cannot do (RSA key
    /// generation, P-224 or P-521 keys).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
    /// rcgen refused to build or sign a certificate, CSR or key.
    #[error("{op}: {source}")]
    Rcgen {
        /// What was being done.
        op: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM value is missing, of the wrong type, or not valid DER.
    #[error("error parsing {what}: {reason}")]
    Parse {
        /// What was being parsed ("CA certificate", "CSR", ...).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The CSR's self-signature does not verify.
    #[error("CSR signature is invalid")]
    CsrSignature,
    /// The CSR does not carry exactly one URI SAN.
    #[error("CSR SAN contains an invalid number of URIs: {count}")]
    CsrUriCount {
        /// How many URIs it has.
        count: usize,
    },
    /// The CSR asks for e-mail SANs.
    #[error("CSR SAN does not allow specifying email addresses")]
    CsrEmail,
    /// The CSR's SPIFFE ID is not a kind a leaf may be issued for.
    #[error("SPIFFE ID in CSR must be a service, agent, or mesh gateway ID")]
    CsrKind,
    /// The CSR's service or gateway belongs to another trust domain.
    #[error("SPIFFE ID in CSR from a different trust domain: {csr}, we are {ours}")]
    CsrTrustDomain {
        /// The CSR's trust domain.
        csr: String,
        /// This cluster's trust domain.
        ours: String,
    },
    /// The CSR's service or gateway belongs to another datacenter.
    #[error("SPIFFE ID in CSR from a different datacenter: {csr}, we are {ours}")]
    CsrDatacenter {
        /// The CSR's datacenter.
        csr: String,
        /// This server's datacenter.
        ours: String,
    },
    /// The private key does not belong to the certificate it was paired with.
    #[error("private key does not match the certificate's public key")]
    KeyMismatch,
    /// A certificate used as a signer is not a CA.
    #[error("certificate is not a CA certificate")]
    NotCa,
    /// The signing root is past its NotAfter.
    #[error("root expired: certificate expired, expiration date: {}", humantime::format_rfc3339(*not_after))]
    RootExpired {
        /// When it expired.
        not_after: SystemTime,
    },
    /// A time could not be represented (before 1970 or too far ahead).
    #[error("time out of range for a certificate")]
    TimeOutOfRange,
    /// The chain does not lead to a trusted root, or a certificate in it is
    /// expired, malformed or used for the wrong purpose.
    #[error("certificate chain did not verify: {0}")]
    Verify(webpki::Error),
    /// The leaf has no URI SAN that is a SPIFFE ID.
    #[error("certificate has no SPIFFE ID URI SAN")]
    NoSpiffeId,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// The CSR rate or concurrency limit is reached.
    #[error("{}", wire::RATE_LIMITED)]
    RateLimited,
}

// === impl Error ===

impl Error {
    pub(crate) fn rcgen(op: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
        move |source| Error::Rcgen { op, source }
    }

    pub(crate) fn parse(what: &'static str, reason: impl ToString) -> Error {
        Error::Parse {
            what,
            reason: reason.to_string(),
        }
    }
}
