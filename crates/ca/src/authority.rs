//! The signing side of the built-in CA: a root (or cross-signed) certificate
//! with its private key, issuing leaves from CSRs.

use std::fmt;
use std::time::SystemTime;

use rcgen::{
    CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, SanType,
};

use crate::csr::{self, ParsedCsr};
use crate::error::{Error, Result};
use crate::key::SecretPem;
use crate::leaf::{IssuedCert, SignRequest};
use crate::root::Root;
use crate::spiffe::SpiffeId;
use crate::trust_domain::TrustDomain;
use crate::{time, x509};

/// The active CA: its certificate, key and the intermediates appended to
/// every leaf. Built from stored state whenever the active root changes.
pub struct Authority {
    trust_domain: TrustDomain,
    issuer: Issuer<'static, KeyPair>,
    key_id: Vec<u8>,
    not_after: SystemTime,
    intermediates: Vec<String>,
}

// === impl Authority ===

impl Authority {
    /// The CA for `root` (its certificate and intermediates) and its key.
    pub fn from_root(trust_domain: &TrustDomain, root: &Root, key: &SecretPem) -> Result<Self> {
        Self::new(
            trust_domain,
            &root.root_cert,
            key,
            root.intermediate_certs.clone(),
        )
    }

    /// The CA for a PEM certificate and key. Fails when the certificate is
    /// not a CA or the key is not the certificate's.
    pub fn new(
        trust_domain: &TrustDomain,
        cert_pem: &str,
        key: &SecretPem,
        intermediates: Vec<String>,
    ) -> Result<Self> {
        let der = x509::first_cert_der(cert_pem, "CA certificate")?;
        let facts = x509::facts(&der, "CA certificate")?;
        if !facts.is_ca {
            return Err(Error::NotCa);
        }
        let key = key.key_pair()?;
        if key.public_key_raw() != facts.public_key.as_slice() {
            return Err(Error::KeyMismatch);
        }
        let key_id = facts
            .subject_key_id
            .unwrap_or_else(|| x509::key_id(&facts.spki));
        Ok(Authority {
            trust_domain: trust_domain.clone(),
            issuer: issuer(facts.subject, key_id.clone(), key),
            key_id,
            not_after: facts.not_after,
            intermediates,
        })
    }

    /// The trust domain this CA issues for.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The subject key ID of the signing certificate, colon hex (a root's
    /// `SigningKeyID`).
    pub fn signing_key_id(&self) -> String {
        x509::colon_hex(&self.key_id)
    }

    /// Checks a CSR the way Consul's servers do and signs it:
    ///
    /// * exactly one URI SAN, no e-mail SANs;
    /// * the URI is a service, agent or mesh-gateway SPIFFE ID;
    /// * services and gateways must be in this trust domain and datacenter;
    ///   agent IDs are moved into this trust domain (agents ask before they
    ///   know it, as Consul allows);
    /// * the signing root must not be expired.
    ///
    /// The leaf copies the CSR's SANs, is valid from `now - 1m` for
    /// `leaf_ttl`, and `CertPEM` carries the intermediates after it.
    pub fn sign_csr(&self, req: &SignRequest<'_>) -> Result<IssuedCert> {
        let csr = csr::parse(req.csr_pem)?;
        let id = self.check_csr(&csr, req.datacenter)?;
        if req.now > self.not_after {
            return Err(Error::RootExpired {
                not_after: self.not_after,
            });
        }
        let not_before = time::truncate(time::sub(req.now, time::CLOCK_SKEW)?)?;
        let not_after = time::add(not_before, req.leaf_ttl)?;
        let params = leaf_params(&csr, &id, req.serial, not_before, not_after)?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(Error::rcgen("signing leaf certificate"))?;
        let mut issued = issued_for(&id, not_before, not_after);
        issued.serial_number = x509::serial_hex(&req.serial.to_be_bytes());
        issued.cert_pem = self.with_intermediates(&cert.pem());
        Ok(issued)
    }

    /// The SPIFFE ID the leaf will carry, after Consul's checks.
    fn check_csr(&self, csr: &ParsedCsr, datacenter: &str) -> Result<SpiffeId> {
        if csr.uris.len() != 1 {
            return Err(Error::CsrUriCount {
                count: csr.uris.len(),
            });
        }
        if csr.has_email {
            return Err(Error::CsrEmail);
        }
        let id = SpiffeId::parse(&csr.uris[0])?;
        match &id {
            SpiffeId::Service { .. } | SpiffeId::MeshGateway { .. } => {
                self.check_home(&id, datacenter)?;
                Ok(id)
            }
            SpiffeId::Agent { .. } => Ok(id.with_trust_domain(&self.trust_domain)),
            _ => Err(Error::CsrKind),
        }
    }

    /// Services and gateways must belong to this trust domain and datacenter.
    fn check_home(&self, id: &SpiffeId, datacenter: &str) -> Result<()> {
        if id.trust_domain() != &self.trust_domain {
            return Err(Error::CsrTrustDomain {
                csr: id.trust_domain().to_string(),
                ours: self.trust_domain.to_string(),
            });
        }
        match id.datacenter() {
            Some(dc) if dc != datacenter => Err(Error::CsrDatacenter {
                csr: dc.to_owned(),
                ours: datacenter.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    fn with_intermediates(&self, leaf_pem: &str) -> String {
        let mut out = x509::with_trailing_newline(leaf_pem);
        for pem in &self.intermediates {
            out.push_str(&x509::with_trailing_newline(pem));
        }
        out
    }

    /// The issuer handle, for cross-signing.
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("trust_domain", &self.trust_domain)
            .field("signing_key_id", &self.signing_key_id())
            .field("intermediates", &self.intermediates.len())
            .finish_non_exhaustive()
    }
}

/// An rcgen issuer whose name and key ID are byte-identical to the signing
/// certificate's, so leaves chain to it.
fn issuer(subject: DistinguishedName, key_id: Vec<u8>, key: KeyPair) -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Issuer::new(params, key)
}

/// Consul's leaf template: no subject, the CSR's SANs, CA:false, the four
/// key usages and serverAuth + clientAuth, SKI from the leaf key, AKI from
/// the CA key.
fn leaf_params(
    csr: &ParsedCsr,
    id: &SpiffeId,
    serial: u64,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.serial_number = Some(serial.into());
    params.not_before = time::to_asn1(not_before)?;
    params.not_after = time::to_asn1(not_after)?;
    let uri = id
        .to_string()
        .try_into()
        .map_err(Error::rcgen("building leaf URI SAN"))?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    params
        .subject_alt_names
        .extend(csr.other_sans.iter().cloned());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::DataEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.key_identifier_method = KeyIdMethod::PreSpecified(x509::key_id(&csr.spki));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// The identity fields of the answer.
fn issued_for(id: &SpiffeId, valid_after: SystemTime, valid_before: SystemTime) -> IssuedCert {
    let mut issued = IssuedCert {
        serial_number: String::new(),
        cert_pem: String::new(),
        private_key_pem: String::new(),
        service: String::new(),
        service_uri: String::new(),
        agent: String::new(),
        agent_uri: String::new(),
        kind: String::new(),
        kind_uri: String::new(),
        valid_after,
        valid_before,
        create_index: 0,
        modify_index: 0,
    };
    match id {
        SpiffeId::Service { service, .. } => {
            issued.service = service.clone();
            issued.service_uri = id.to_string();
        }
        SpiffeId::Agent { node, .. } => {
            issued.agent = node.clone();
            issued.agent_uri = id.to_string();
        }
        _ => {
            issued.kind = "mesh-gateway".to_owned();
            issued.kind_uri = id.to_string();
        }
    }
    issued
}
