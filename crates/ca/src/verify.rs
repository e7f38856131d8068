//! Chain verification with rustls-webpki, for tests and the authorize path.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

use crate::error::{Error, Result};
use crate::spiffe::SpiffeId;
use crate::x509;

/// Signature algorithms accepted in a chain (ring implementations).
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A leaf that chained to a trusted root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedLeaf {
    /// The leaf's SPIFFE ID (its first URI SAN that parses as one).
    pub id: SpiffeId,
    /// The leaf's serial number, colon hex.
    pub serial_number: String,
}

/// Verifies `leaf_pem` (the leaf, optionally followed by its chain, as in
/// `CertPEM`) plus `intermediates` against `roots` at `now`, for TLS client
/// authentication, and returns the leaf's SPIFFE ID.
pub fn verify_leaf(
    leaf_pem: &str,
    intermediates: &[String],
    roots: &[String],
    now: SystemTime,
) -> Result<VerifiedLeaf> {
    let mut chain = x509::cert_ders(leaf_pem, "leaf certificate")?;
    let leaf = chain.remove(0);
    for pem in intermediates {
        chain.extend(x509::cert_ders(pem, "intermediate certificate")?);
    }
    let root_ders = root_ders(roots)?;
    let anchors = root_ders
        .iter()
        .map(|der| anchor_from_trusted_cert(der).map_err(Error::Verify))
        .collect::<Result<Vec<_>>>()?;
    let ee = EndEntityCert::try_from(&leaf).map_err(Error::Verify)?;
    ee.verify_for_usage(
        ALGORITHMS,
        &anchors,
        &chain,
        unix_time(now)?,
        KeyUsage::client_auth(),
        None,
        None,
    )
    .map_err(Error::Verify)?;
    leaf_identity(&leaf)
}

fn root_ders(roots: &[String]) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for pem in roots {
        out.extend(x509::cert_ders(pem, "root certificate")?);
    }
    Ok(out)
}

fn unix_time(now: SystemTime) -> Result<UnixTime> {
    let since = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::TimeOutOfRange)?;
    Ok(UnixTime::since_unix_epoch(since))
}

/// The SPIFFE ID and serial of a (verified) leaf.
fn leaf_identity(der: &CertificateDer<'_>) -> Result<VerifiedLeaf> {
    let cert = x509::parse(der, "leaf certificate")?;
    let id = x509::uri_sans(&cert)
        .iter()
        .find_map(|uri| SpiffeId::parse(uri).ok())
        .ok_or(Error::NoSpiffeId)?;
    Ok(VerifiedLeaf {
        id,
        serial_number: x509::serial_hex(cert.raw_serial()),
    })
}
