//! CA key types and secret PEM handling.

use std::fmt;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Consul's `PrivateKeyType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// NIST elliptic curve (`"ec"`), the default.
    #[default]
    Ec,
    /// RSA (`"rsa"`).
    Rsa,
}

/// Which key a new CA gets: Consul's `PrivateKeyType` + `PrivateKeyBits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyConfig {
    /// Key family.
    pub key_type: KeyType,
    /// Curve size or modulus length in bits.
    pub bits: u32,
}

/// A PEM private key. Its `Debug` is redacted and it is never part of an API
/// answer; it serializes as a plain string only so the server can keep it in
/// its replicated provider state.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretPem(String);

// === impl KeyType ===

impl KeyType {
    /// Consul's spelling: `"ec"` or `"rsa"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Ec => "ec",
            KeyType::Rsa => "rsa",
        }
    }
}

// === impl KeyConfig ===

impl Default for KeyConfig {
    /// EC P-256, Consul's default.
    fn default() -> Self {
        KeyConfig {
            key_type: KeyType::Ec,
            bits: 256,
        }
    }
}

impl KeyConfig {
    /// Generates a key of this kind. The ring backend makes P-256 and P-384;
    /// RSA generation, P-224 and P-521 are [`Error::Unsupported`] (an RSA key
    /// made elsewhere can still be imported with [`SecretPem`]).
    pub(crate) fn generate(self) -> Result<KeyPair> {
        let alg = match (self.key_type, self.bits) {
            (KeyType::Ec, 256) => &PKCS_ECDSA_P256_SHA256,
            (KeyType::Ec, 384) => &PKCS_ECDSA_P384_SHA384,
            (KeyType::Ec, 224 | 521) | (KeyType::Rsa, 2048 | 4096) => {
                return Err(Error::Unsupported {
                    what: format!(
                        "generating {} {} keys with the ring backend",
                        self.key_type.as_str(),
                        self.bits
                    ),
                });
            }
            (kind, bits) => {
                return Err(Error::Unsupported {
                    what: format!("{} keys of {bits} bits", kind.as_str()),
                });
            }
        };
        KeyPair::generate_for(alg).map_err(Error::rcgen("generating CA key"))
    }
}

// === impl SecretPem ===

impl SecretPem {
    /// Wraps a PEM private key.
    pub fn new(pem: String) -> Self {
        SecretPem(pem)
    }

    /// The PEM text. Call only where the key must leave the process on
    /// purpose (Raft state, the agent's own leaf answer).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Parses the key (PKCS#8 `PRIVATE KEY`: EC P-256/P-384, or RSA).
    pub(crate) fn key_pair(&self) -> Result<KeyPair> {
        KeyPair::from_pem(&self.0).map_err(Error::rcgen("parsing private key"))
    }

    pub(crate) fn from_key_pair(key: &KeyPair) -> Self {
        SecretPem(key.serialize_pem())
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPem(<redacted>)")
    }
}

/// The DER SubjectPublicKeyInfo of a key pair.
pub(crate) fn spki(key: &KeyPair) -> Vec<u8> {
    key.subject_public_key_info()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_p256() {
        let key = KeyConfig::default().generate().unwrap();
        assert_eq!(key.algorithm(), &PKCS_ECDSA_P256_SHA256);
    }

    #[test]
    fn p384_is_supported() {
        let cfg = KeyConfig {
            key_type: KeyType::Ec,
            bits: 384,
        };
        assert_eq!(cfg.generate().unwrap().algorithm(), &PKCS_ECDSA_P384_SHA384);
    }

    #[test]
    fn rsa_generation_is_unsupported() {
        let cfg = KeyConfig {
            key_type: KeyType::Rsa,
            bits: 2048,
        };
        assert!(matches!(cfg.generate(), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let pem = SecretPem::new("-----BEGIN PRIVATE KEY-----".into());
        assert_eq!(format!("{pem:?}"), "SecretPem(<redacted>)");
    }
}
