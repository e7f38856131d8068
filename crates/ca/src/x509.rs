//! PEM and X.509 plumbing shared by the signer, rotation and verification:
//! decoding PEM bundles, reading the facts we need out of a certificate, and
//! Consul's colon-hex encodings.

use std::net::IpAddr;
use std::time::SystemTime;

use rcgen::{DistinguishedName, DnType, DnValue, SanType};
use ring::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

use crate::error::{Error, Result};
use crate::time;

/// What the CA needs to know about a certificate.
pub(crate) struct CertFacts {
    pub(crate) serial: Vec<u8>,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
    pub(crate) uris: Vec<String>,
    pub(crate) subject_key_id: Option<Vec<u8>>,
    pub(crate) spki: Vec<u8>,
    /// The raw public key bits (EC point or RSA key), for key matching.
    pub(crate) public_key: Vec<u8>,
    pub(crate) subject: DistinguishedName,
    pub(crate) is_ca: bool,
    pub(crate) key_type: &'static str,
    pub(crate) key_bits: u32,
}

/// Every `CERTIFICATE` block of a PEM bundle, in order; at least one.
pub(crate) fn cert_ders(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let ders = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::parse(what, e))?;
    if ders.is_empty() {
        return Err(Error::parse(what, "no PEM-encoded certificate found"));
    }
    Ok(ders)
}

/// The first certificate of a PEM bundle.
pub(crate) fn first_cert_der(pem: &str, what: &'static str) -> Result<CertificateDer<'static>> {
    let mut ders = cert_ders(pem, what)?;
    Ok(ders.swap_remove(0))
}

/// Parses DER into x509-parser's view.
pub(crate) fn parse<'a>(der: &'a [u8], what: &'static str) -> Result<X509Certificate<'a>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| Error::parse(what, e))?;
    Ok(cert)
}

/// Reads the facts out of a DER certificate.
pub(crate) fn facts(der: &[u8], what: &'static str) -> Result<CertFacts> {
    let cert = parse(der, what)?;
    let (key_type, key_bits) = key_info(&cert)?;
    Ok(CertFacts {
        serial: cert.raw_serial().to_vec(),
        not_before: time::from_unix(cert.validity().not_before.timestamp())?,
        not_after: time::from_unix(cert.validity().not_after.timestamp())?,
        uris: uri_sans(&cert),
        subject_key_id: subject_key_id(&cert),
        spki: cert.public_key().raw.to_vec(),
        public_key: cert.public_key().subject_public_key.data.to_vec(),
        subject: dn_from_name(cert.subject())?,
        is_ca: cert.is_ca(),
        key_type,
        key_bits,
    })
}

/// The URI SANs of a certificate.
pub(crate) fn uri_sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect()
}

fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(kid) => Some(kid.0.to_vec()),
            _ => None,
        })
}

/// The authority key ID, colon hex (tests compare it with `SigningKeyID`).
#[cfg(test)]
pub(crate) fn authority_key_id(cert: &X509Certificate<'_>) -> Option<String> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
            _ => None,
        })
        .map(|kid| colon_hex(kid.0))
}

/// Consul's `PrivateKeyType` / `PrivateKeyBits` for the certificate's key.
fn key_info(cert: &X509Certificate<'_>) -> Result<(&'static str, u32)> {
    let parsed = cert
        .public_key()
        .parsed()
        .map_err(|e| Error::parse("certificate public key", e))?;
    let kind = match parsed {
        PublicKey::EC(_) => "ec",
        PublicKey::RSA(_) => "rsa",
        _ => {
            return Err(Error::parse(
                "certificate public key",
                "not an EC or RSA key",
            ));
        }
    };
    let bits = u32::try_from(parsed.key_size()).unwrap_or(0);
    Ok((kind, bits))
}

/// Rebuilds a subject name so rcgen re-encodes it byte for byte (chains are
/// matched on the exact issuer/subject bytes).
pub(crate) fn dn_from_name(name: &X509Name<'_>) -> Result<DistinguishedName> {
    let bad = |reason| Error::parse("certificate subject", reason);
    let mut dn = DistinguishedName::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| bad("attribute OID too large"))?
            .collect();
        let text = std::str::from_utf8(attr.attr_value().data).map_err(|_| bad("not UTF-8"))?;
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => DnValue::PrintableString(
                text.try_into()
                    .map_err(|_| bad("invalid PrintableString"))?,
            ),
            Tag::Ia5String => {
                DnValue::Ia5String(text.try_into().map_err(|_| bad("invalid IA5String"))?)
            }
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            _ => return Err(bad("unsupported string type")),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

/// Turns SAN strings into rcgen's form: URIs, DNS names and IPs.
pub(crate) fn san(kind: &GeneralName<'_>) -> Result<Option<SanType>> {
    let bad = |e: rcgen::Error| Error::parse("CSR SAN", e);
    Ok(match kind {
        GeneralName::URI(u) => Some(SanType::URI((*u).try_into().map_err(bad)?)),
        GeneralName::DNSName(d) => Some(SanType::DnsName((*d).try_into().map_err(bad)?)),
        GeneralName::IPAddress(raw) => Some(SanType::IpAddress(ip_from_bytes(raw)?)),
        _ => None,
    })
}

fn ip_from_bytes(raw: &[u8]) -> Result<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(raw) {
        return Ok(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(raw)
        .map(IpAddr::from)
        .map_err(|_| Error::parse("CSR SAN", "IP address of bad length"))
}

/// Consul's colon-separated lowercase hex (`HexString`).
pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// A serial number as Consul prints it: big-endian bytes without leading
/// zeros, in colon hex.
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let trimmed = &raw[start..];
    if trimmed.is_empty() {
        return "00".to_owned();
    }
    colon_hex(trimmed)
}

/// The low 64 bits of a serial number (Go's `big.Int.Uint64`).
pub(crate) fn serial_u64(raw: &[u8]) -> u64 {
    raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The SHA-1 fingerprint of a DER certificate in colon hex: a root's `ID`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    colon_hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// The key ID Consul stamps into SKI/AKI: SHA-256 of the SubjectPublicKeyInfo.
pub(crate) fn key_id(spki_der: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, spki_der).as_ref().to_vec()
}

/// Appends a newline if the PEM lacks one, so PEMs can be concatenated.
pub(crate) fn with_trailing_newline(pem: &str) -> String {
    if pem.ends_with('\n') {
        pem.to_owned()
    } else {
        format!("{pem}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_encodings() {
        assert_eq!(colon_hex(&[0x0a, 0xff, 0x01]), "0a:ff:01");
        assert_eq!(serial_hex(&[0, 0, 0x05]), "05");
        assert_eq!(serial_hex(&[0]), "00");
        assert_eq!(serial_u64(&[0x01, 0x00]), 256);
    }
}
