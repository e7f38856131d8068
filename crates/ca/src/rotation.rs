//! Root rotation with cross-signing.
//!
//! ```text
//!  old root ──signs──▶ cross-signed new root ─┐ (same subject and key as
//!                                             │  the new root)
//!  new root ──────────────────────────────────┴─signs──▶ new leaves
//! ```
//!
//! New leaves carry the cross-signed certificate after them, so a peer that
//! still trusts only the old root accepts them; old leaves keep verifying
//! while the old root stays in `Roots`.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, IsCa, KeyIdMethod, KeyUsagePurpose, SanType,
    SubjectPublicKeyInfo,
};

use crate::authority::Authority;
use crate::error::{Error, Result};
use crate::root::Root;
use crate::{time, x509};

/// How long a cross-signed certificate lives (Consul's 7 days): long enough
/// for every old leaf to be replaced.
pub const CROSS_SIGN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Signs the CA certificate `cert_pem` with `old`'s key (Consul's
/// `CrossSignCA`): same subject, SANs, key and subject key ID; issuer and
/// AKI of `old`; a new serial; valid from `now - 1m` for [`CROSS_SIGN_TTL`].
pub fn cross_sign(old: &Authority, cert_pem: &str, serial: u64, now: SystemTime) -> Result<String> {
    let der = x509::first_cert_der(cert_pem, "certificate to cross-sign")?;
    let facts = x509::facts(&der, "certificate to cross-sign")?;
    if !facts.is_ca {
        return Err(Error::NotCa);
    }
    let not_before = time::sub(now, time::CLOCK_SKEW)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = facts.subject;
    params.serial_number = Some(serial.into());
    params.not_before = time::to_asn1(not_before)?;
    params.not_after = time::to_asn1(time::add(not_before, CROSS_SIGN_TTL)?)?;
    params.subject_alt_names = uri_sans(&facts.uris)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ski = facts
        .subject_key_id
        .unwrap_or_else(|| x509::key_id(&facts.spki));
    params.key_identifier_method = KeyIdMethod::PreSpecified(ski);
    params.use_authority_key_identifier_extension = true;
    let public_key =
        SubjectPublicKeyInfo::from_der(&facts.spki).map_err(Error::rcgen("reading CA key"))?;
    let cert = params
        .signed_by(&public_key, old.issuer())
        .map_err(Error::rcgen("cross-signing CA certificate"))?;
    Ok(cert.pem())
}

/// Makes `new_root` the active root: cross-signs it with `old` into its
/// `IntermediateCerts`, marks every previously active root inactive with
/// `RotatedOutAt = now`, and returns the full list to store.
pub fn rotate(
    roots: &[Root],
    old: &Authority,
    mut new_root: Root,
    serial: u64,
    now: SystemTime,
) -> Result<Vec<Root>> {
    let cross = cross_sign(old, &new_root.root_cert, serial, now)?;
    new_root.intermediate_certs.push(cross);
    new_root.active = true;
    new_root.rotated_out_at = None;
    let mut out: Vec<Root> = roots
        .iter()
        .filter(|r| r.id != new_root.id)
        .cloned()
        .map(|r| retire(r, now))
        .collect();
    out.push(new_root);
    Ok(out)
}

/// Drops roots that were rotated out more than twice the leaf TTL ago (every
/// leaf they signed has expired by then).
pub fn prune(roots: &[Root], leaf_ttl: Duration, now: SystemTime) -> Vec<Root> {
    let keep = |r: &&Root| match r.rotated_out_at {
        Some(at) if !r.active => now
            .duration_since(at)
            .map_or(true, |age| age <= leaf_ttl.saturating_mul(2)),
        _ => true,
    };
    roots.iter().filter(keep).cloned().collect()
}

/// Every root's PEM: the trust bundle proxies get.
pub fn trust_bundle(roots: &[Root]) -> Vec<String> {
    roots.iter().map(|r| r.root_cert.clone()).collect()
}

fn retire(mut root: Root, now: SystemTime) -> Root {
    if root.active {
        root.active = false;
        root.rotated_out_at = Some(now);
    }
    root
}

fn uri_sans(uris: &[String]) -> Result<Vec<SanType>> {
    uris.iter()
        .map(|u| {
            let ia5 = u
                .as_str()
                .try_into()
                .map_err(Error::rcgen("copying URI SAN"))?;
            Ok(SanType::URI(ia5))
        })
        .collect()
}
