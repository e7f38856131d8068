//! Certificate signing requests: made by agents, checked and read by servers.

use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType, SubjectPublicKeyInfo};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::error::{Error, Result};
use crate::key::SecretPem;
use crate::spiffe::SpiffeId;
use crate::x509;

/// A new leaf key and the CSR for it, made on the agent.
#[derive(Clone, Debug)]
pub struct LeafKey {
    /// The leaf's private key (PKCS#8 PEM). It never leaves the agent except
    /// in the agent's own leaf answer.
    pub private_key_pem: SecretPem,
    /// The CSR to send to the servers, PEM.
    pub csr_pem: String,
}

/// What a server takes from a CSR whose signature checked out.
pub(crate) struct ParsedCsr {
    pub(crate) public_key: SubjectPublicKeyInfo,
    pub(crate) spki: Vec<u8>,
    pub(crate) uris: Vec<String>,
    /// DNS and IP SANs, copied into the leaf.
    pub(crate) other_sans: Vec<SanType>,
    pub(crate) has_email: bool,
}

/// Generates an EC P-256 key (Consul's leaves are always P-256) and a CSR
/// for `id`, with `dns_sans` as extra DNS (or, when they parse as one, IP)
/// SANs.
pub fn generate_csr(id: &SpiffeId, dns_sans: &[String]) -> Result<LeafKey> {
    let key = KeyPair::generate().map_err(Error::rcgen("generating leaf key"))?;
    let mut params =
        CertificateParams::new(dns_sans.to_vec()).map_err(Error::rcgen("building CSR SANs"))?;
    let uri = id
        .to_string()
        .try_into()
        .map_err(Error::rcgen("building CSR URI SAN"))?;
    params.subject_alt_names.insert(0, SanType::URI(uri));
    params.distinguished_name = DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(Error::rcgen("signing CSR"))?;
    Ok(LeafKey {
        private_key_pem: SecretPem::from_key_pair(&key),
        csr_pem: csr.pem().map_err(Error::rcgen("encoding CSR"))?,
    })
}

/// Decodes a PEM CSR, checks its self-signature and collects its SANs.
pub(crate) fn parse(pem: &str) -> Result<ParsedCsr> {
    let der = CertificateSigningRequestDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| Error::parse("CSR", e))?;
    let (_, csr) =
        X509CertificationRequest::from_der(der.as_ref()).map_err(|e| Error::parse("CSR", e))?;
    csr.verify_signature().map_err(|_| Error::CsrSignature)?;
    let spki = csr.certification_request_info.subject_pki.raw.to_vec();
    let public_key = SubjectPublicKeyInfo::from_der(&spki).map_err(|e| Error::parse("CSR", e))?;
    let mut parsed = ParsedCsr {
        public_key,
        spki,
        uris: Vec::new(),
        other_sans: Vec::new(),
        has_email: false,
    };
    for name in san_names(&csr) {
        collect(&mut parsed, name)?;
    }
    Ok(parsed)
}

/// The general names of the CSR's requested SAN extension.
fn san_names<'a>(csr: &'a X509CertificationRequest<'_>) -> Vec<&'a GeneralName<'a>> {
    let Some(exts) = csr.requested_extensions() else {
        return Vec::new();
    };
    exts.filter_map(|ext| match ext {
        ParsedExtension::SubjectAlternativeName(san) => Some(&san.general_names),
        _ => None,
    })
    .flatten()
    .collect()
}

fn collect(parsed: &mut ParsedCsr, name: &GeneralName<'_>) -> Result<()> {
    match name {
        GeneralName::URI(uri) => parsed.uris.push((*uri).to_owned()),
        GeneralName::RFC822Name(_) => parsed.has_email = true,
        other => parsed.other_sans.extend(x509::san(other)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrustDomain;

    #[test]
    fn generated_csr_parses_back() {
        let td = TrustDomain::new("example.consul").unwrap();
        let id = SpiffeId::service(&td, "default", "dc1", "web");
        let leaf = generate_csr(&id, &["web.local".into(), "10.0.0.1".into()]).unwrap();
        assert!(leaf.private_key_pem.expose().contains("PRIVATE KEY"));
        let parsed = parse(&leaf.csr_pem).unwrap();
        assert_eq!(parsed.uris, [id.to_string()]);
        assert_eq!(parsed.other_sans.len(), 2);
        assert!(!parsed.has_email);
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(matches!(parse("not a csr"), Err(Error::Parse { .. })));
    }
}
