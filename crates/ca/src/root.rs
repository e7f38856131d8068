//! Root CA generation and the `CARoot` record the roots APIs return.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyIdMethod,
    KeyUsagePurpose, SanType,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::key::{self, KeyConfig, SecretPem};
use crate::trust_domain::TrustDomain;
use crate::{time, x509};

/// Consul's default `RootCertTTL` (87600h, ten years).
pub const DEFAULT_ROOT_CERT_TTL: Duration = Duration::from_secs(87_600 * 3600);

/// The `Name` the built-in provider gives its roots.
const ROOT_NAME: &str = "Consul CA Primary Cert";

/// A trusted root, with the fields and JSON names of Consul's `CARoot`.
///
/// It never holds a private key: see [`GeneratedRoot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Root {
    /// SHA-1 fingerprint of the certificate, colon hex.
    #[serde(rename = "ID")]
    pub id: String,
    /// Human-friendly name.
    pub name: String,
    /// The certificate's serial number.
    pub serial_number: u64,
    /// The certificate's subject key ID, colon hex.
    #[serde(rename = "SigningKeyID")]
    pub signing_key_id: String,
    /// The cluster ID the root was made under (Consul stores the cluster ID
    /// here, not the `.consul` trust domain).
    pub external_trust_domain: String,
    /// Start of validity.
    #[serde(with = "time::rfc3339")]
    pub not_before: SystemTime,
    /// End of validity.
    #[serde(with = "time::rfc3339")]
    pub not_after: SystemTime,
    /// The root certificate, PEM.
    pub root_cert: String,
    /// PEM certificates to append to every leaf this root signs; after a
    /// rotation, the new root cross-signed by the old key.
    #[serde(
        serialize_with = "null_if_empty",
        deserialize_with = "empty_if_null",
        default
    )]
    pub intermediate_certs: Vec<String>,
    /// Whether this root signs new leaves. Exactly one root is active.
    pub active: bool,
    /// When the root stopped being active. Consul hides this field from JSON;
    /// skein writes it only when set, so stored roots keep it.
    #[serde(
        with = "time::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub rotated_out_at: Option<SystemTime>,
    /// `"ec"` or `"rsa"`.
    pub private_key_type: String,
    /// Curve size or modulus length.
    pub private_key_bits: u32,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of last change.
    #[serde(default)]
    pub modify_index: u64,
}

/// Inputs for a new root.
#[derive(Clone, Debug)]
pub struct RootOptions {
    /// The cluster ID (a UUID); the trust domain is `<cluster_id>.consul`.
    pub cluster_id: String,
    /// Lifetime of the root certificate.
    pub ttl: Duration,
    /// Key kind and size.
    pub key: KeyConfig,
    /// Serial number (Consul takes it from a counter kept in Raft).
    pub serial: u64,
}

/// A freshly generated root and its signing key, kept apart so the key cannot
/// leak through a serialized [`Root`].
#[derive(Clone, Debug)]
pub struct GeneratedRoot {
    /// The public record.
    pub root: Root,
    /// The root's private key, PEM (PKCS#8).
    pub signing_key: SecretPem,
}

// === impl Root ===

impl Root {
    /// Builds the record for a root certificate (Consul's `newCARoot`),
    /// active, with no intermediates.
    pub fn from_cert_pem(pem: &str, cluster_id: &str) -> Result<Self> {
        let der = x509::first_cert_der(pem, "root certificate")?;
        let facts = x509::facts(&der, "root certificate")?;
        Ok(Root {
            id: x509::fingerprint(&der),
            name: ROOT_NAME.to_owned(),
            serial_number: x509::serial_u64(&facts.serial),
            signing_key_id: x509::colon_hex(&facts.subject_key_id.unwrap_or_default()),
            external_trust_domain: cluster_id.to_owned(),
            not_before: facts.not_before,
            not_after: facts.not_after,
            root_cert: x509::with_trailing_newline(pem),
            intermediate_certs: Vec::new(),
            active: true,
            rotated_out_at: None,
            private_key_type: facts.key_type.to_owned(),
            private_key_bits: facts.key_bits,
            create_index: 0,
            modify_index: 0,
        })
    }
}

// === impl RootOptions ===

impl RootOptions {
    /// Consul's defaults (EC P-256, 87600h) for a cluster and serial.
    pub fn new(cluster_id: &str, serial: u64) -> Self {
        RootOptions {
            cluster_id: cluster_id.to_owned(),
            ttl: DEFAULT_ROOT_CERT_TTL,
            key: KeyConfig::default(),
            serial,
        }
    }
}

/// Generates a self-signed root with a new key of `opts.key`: CA,
/// KeyCertSign + CRLSign + DigitalSignature, URI SAN
/// `spiffe://<trust-domain>`, SKI = AKI = SHA-256 of the public key, valid
/// from `now` for `opts.ttl`.
pub fn generate_root(opts: &RootOptions, now: SystemTime) -> Result<GeneratedRoot> {
    let key = SecretPem::from_key_pair(&opts.key.generate()?);
    generate_root_with_key(opts, key, now)
}

/// The same with an operator-supplied PKCS#8 key (Consul's `PrivateKey`
/// setting); `opts.key` is ignored. RSA keys work here.
pub fn generate_root_with_key(
    opts: &RootOptions,
    signing_key: SecretPem,
    now: SystemTime,
) -> Result<GeneratedRoot> {
    let td = TrustDomain::for_cluster(&opts.cluster_id)?;
    let key = signing_key.key_pair()?;
    let mut params = ca_params(&td, &common_name(&opts.cluster_id)?)?;
    params.serial_number = Some(opts.serial.into());
    params.not_before = time::to_asn1(now)?;
    params.not_after = time::to_asn1(time::add(now, opts.ttl)?)?;
    params.key_identifier_method = KeyIdMethod::PreSpecified(x509::key_id(&key::spki(&key)));
    let cert = params
        .self_signed(&key)
        .map_err(Error::rcgen("signing root certificate"))?;
    Ok(GeneratedRoot {
        root: Root::from_cert_pem(&cert.pem(), &opts.cluster_id)?,
        signing_key,
    })
}

/// The parameters every CA certificate of ours shares.
fn ca_params(td: &TrustDomain, cn: &str) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    let uri = td
        .signing_uri()
        .try_into()
        .map_err(Error::rcgen("building root URI SAN"))?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Consul's `CACN`: `pri-<uid>.consul.ca.<first 8 of cluster id>.consul`.
fn common_name(cluster_id: &str) -> Result<String> {
    let short: String = cluster_id.chars().take(8).collect();
    Ok(format!("pri-{}.consul.ca.{short}.consul", compact_uid()?))
}

/// Eight random base-36 characters, to make each root's subject unique (chains
/// are matched by subject, so old and new roots must differ).
fn compact_uid() -> Result<String> {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut raw = [0u8; 8];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| Error::Random)?;
    Ok(raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// A random serial number for callers without a counter: 63 bits, never 0.
pub fn random_serial() -> Result<u64> {
    let mut raw = [0u8; 8];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| Error::Random)?;
    Ok((u64::from_be_bytes(raw) >> 1).max(1))
}

fn null_if_empty<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

fn empty_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const CLUSTER: &str = "11111111-2222-3333-4444-555555555555";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn root_has_consul_shape() {
        let generated = generate_root(&RootOptions::new(CLUSTER, 7), now()).unwrap();
        let root = &generated.root;
        assert_eq!(root.serial_number, 7);
        assert_eq!(root.private_key_type, "ec");
        assert_eq!(root.private_key_bits, 256);
        assert_eq!(root.not_before, now());
        assert_eq!(root.not_after, now() + DEFAULT_ROOT_CERT_TTL);
        assert_eq!(root.id.len(), 20 * 3 - 1);
        assert_eq!(root.signing_key_id.len(), 32 * 3 - 1);
        assert!(root.active);

        let der = x509::first_cert_der(&root.root_cert, "root").unwrap();
        let cert = x509::parse(&der, "root").unwrap();
        assert!(cert.is_ca());
        assert_eq!(
            x509::uri_sans(&cert),
            [format!("spiffe://{CLUSTER}.consul")]
        );
        let cn = cert.subject().iter_common_name().next().unwrap();
        let cn = cn.as_str().unwrap();
        assert!(
            cn.starts_with("pri-") && cn.ends_with(".consul.ca.11111111.consul"),
            "{cn}"
        );
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
        assert_eq!(x509::authority_key_id(&cert).unwrap(), root.signing_key_id);
    }

    #[test]
    fn json_uses_consul_names_and_hides_the_key() {
        let generated = generate_root(&RootOptions::new(CLUSTER, 1), now()).unwrap();
        let json = serde_json::to_value(&generated.root).unwrap();
        for field in [
            "ID",
            "Name",
            "SerialNumber",
            "SigningKeyID",
            "ExternalTrustDomain",
            "NotBefore",
            "NotAfter",
            "RootCert",
            "IntermediateCerts",
            "Active",
            "PrivateKeyType",
            "PrivateKeyBits",
            "CreateIndex",
            "ModifyIndex",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["IntermediateCerts"], serde_json::Value::Null);
        assert_eq!(json["NotBefore"], "2023-11-14T22:13:20Z");
        assert!(json.get("RotatedOutAt").is_none());
        assert!(!json.to_string().contains("PRIVATE KEY"));
        let back: Root = serde_json::from_value(json).unwrap();
        assert_eq!(back, generated.root);
    }

    #[test]
    fn unsupported_key_is_reported() {
        let mut opts = RootOptions::new(CLUSTER, 1);
        opts.key = KeyConfig {
            key_type: crate::KeyType::Rsa,
            bits: 4096,
        };
        assert!(matches!(
            generate_root(&opts, now()),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn random_serials_are_positive() {
        assert!(random_serial().unwrap() > 0);
    }
}
