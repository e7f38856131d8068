//! Gossip encryption keys (memberlist's keyring) and AES-GCM sealing of
//! datagrams.
//!
//! A sealed datagram, as memberlist's version 1 (no padding):
//!
//! ```text
//! 0         1              13
//! +---------+--------------+------------------------------+
//! | version | nonce (12)   | AES-GCM ciphertext + tag(16) |
//! +---------+--------------+------------------------------+
//! ```
//!
//! Datagrams are sealed under the primary key and opened by trying every
//! installed key, so a pool rotates keys without partitioning: install the
//! new key everywhere, make it primary, then remove the old one.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{MembershipError, Result};

/// The version byte of a sealed datagram.
pub(crate) const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes sealing adds to a datagram.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// memberlist's error texts, which Consul's keyring endpoints return.
pub(crate) const KEY_SIZE: &str = "key size must be 16, 24 or 32 bytes";
pub(crate) const NOT_INSTALLED: &str = "requested key is not in the keyring";
pub(crate) const REMOVE_PRIMARY: &str = "removing the primary key is not allowed";

type Aes192Gcm = AesGcm<Aes192, aes_gcm::aead::consts::U12>;

/// The gossip encryption keys of a pool: one primary key that seals, and
/// others that still open (during a rotation).
///
/// Keys are 16, 24 or 32 bytes (AES-128, -192 or -256), written in
/// standard base64 as Consul's `encrypt` option and `consul keygen`.
#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    /// The primary key first.
    keys: Vec<Key>,
}

#[derive(Clone)]
struct Key {
    bytes: Vec<u8>,
    cipher: Cipher,
}

#[derive(Clone)]
enum Cipher {
    A128(Box<Aes128Gcm>),
    A192(Box<Aes192Gcm>),
    A256(Box<Aes256Gcm>),
}

// === impl Keyring ===

impl Keyring {
    /// A keyring with one key, the primary.
    pub fn new(primary: &[u8]) -> Result<Self> {
        Ok(Self {
            keys: vec![Key::new(primary)?],
        })
    }

    /// Decodes a base64 key and checks its length, with the texts Consul
    /// reports: Go's `illegal base64 data at input byte N`, and
    /// memberlist's `key size must be 16, 24 or 32 bytes`.
    pub fn parse_key(key: &str) -> Result<Vec<u8>> {
        let bytes = decode_base64(key)?;
        Key::new(&bytes)?;
        Ok(bytes)
    }

    /// A keyring from base64 keys, the primary first (the order of Serf's
    /// keyring file).
    pub fn from_base64<S: AsRef<str>>(keys: &[S]) -> Result<Self> {
        let mut parsed = keys.iter().map(|k| Self::parse_key(k.as_ref()));
        let primary = parsed.next().ok_or_else(|| MembershipError::InvalidKey {
            reason: "empty primary key not allowed".to_owned(),
        })??;
        let mut ring = Self::new(&primary)?;
        for key in parsed {
            ring.install(&key?)?;
        }
        Ok(ring)
    }

    /// The key that seals.
    pub fn primary(&self) -> &[u8] {
        self.keys.first().map_or(&[], |k| &k.bytes)
    }

    /// Every installed key, the primary first.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(|k| k.bytes.as_slice())
    }

    /// Every key in base64, the primary first.
    pub fn to_base64(&self) -> Vec<String> {
        self.keys().map(|k| STANDARD.encode(k)).collect()
    }

    /// Reads a keyring file: a JSON list of base64 keys, the primary first
    /// (Serf's `local.keyring`).
    pub fn load(path: &Path) -> Result<Self> {
        let file_error = |reason: String| MembershipError::KeyringFile {
            path: path.to_owned(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
        let keys: Vec<String> =
            serde_json::from_slice(&data).map_err(|e| file_error(e.to_string()))?;
        if keys.is_empty() {
            return Err(file_error(format!(
                "no keys present in keyring file: {}",
                path.display()
            )));
        }
        Self::from_base64(&keys)
    }

    /// Writes the keyring file (mode 0600 where that exists).
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let file_error = |reason: String| MembershipError::KeyringFile {
            path: path.to_owned(),
            reason,
        };
        let data =
            serde_json::to_vec_pretty(&self.to_base64()).map_err(|e| file_error(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        write_private(&tmp, &data).map_err(|e| file_error(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| file_error(e.to_string()))
    }

    /// Adds a key (installing one already there is a no-op).
    pub(crate) fn install(&mut self, key: &[u8]) -> Result<()> {
        let key = Key::new(key)?;
        if !self.keys.iter().any(|k| k.bytes == key.bytes) {
            self.keys.push(key);
        }
        Ok(())
    }

    /// Makes an installed key the primary one.
    pub(crate) fn use_key(&mut self, key: &[u8]) -> std::result::Result<(), &'static str> {
        let at = self
            .keys
            .iter()
            .position(|k| k.bytes == key)
            .ok_or(NOT_INSTALLED)?;
        let key = self.keys.remove(at);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Removes a key other than the primary (removing one not installed is
    /// a no-op, as in memberlist).
    pub(crate) fn remove(&mut self, key: &[u8]) -> std::result::Result<(), &'static str> {
        if self.primary() == key {
            return Err(REMOVE_PRIMARY);
        }
        self.keys.retain(|k| k.bytes != key);
        Ok(())
    }

    /// Seals a datagram under the primary key.
    pub(crate) fn seal(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.first()?;
        let nonce = Aes128Gcm::generate_nonce(&mut OsRng);
        let sealed = key.cipher.seal(&nonce, plain)?;
        let mut out = Vec::with_capacity(SEAL_OVERHEAD.saturating_add(plain.len()));
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// Opens a sealed datagram with whichever installed key sealed it.
    pub(crate) fn open(&self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() < SEAL_OVERHEAD || data.first() != Some(&SEAL_VERSION) {
            return None;
        }
        let nonce = data.get(1..=NONCE_LEN)?;
        let sealed = data.get(1 + NONCE_LEN..)?;
        self.keys.iter().find_map(|k| k.cipher.open(nonce, sealed))
    }
}

impl fmt::Debug for Keyring {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

// === impl Key ===

impl Key {
    fn new(bytes: &[u8]) -> Result<Self> {
        let invalid = |_| MembershipError::InvalidKey {
            reason: KEY_SIZE.to_owned(),
        };
        let cipher = match bytes.len() {
            16 => Cipher::A128(Box::new(Aes128Gcm::new_from_slice(bytes).map_err(invalid)?)),
            24 => Cipher::A192(Box::new(Aes192Gcm::new_from_slice(bytes).map_err(invalid)?)),
            32 => Cipher::A256(Box::new(Aes256Gcm::new_from_slice(bytes).map_err(invalid)?)),
            _ => {
                return Err(MembershipError::InvalidKey {
                    reason: KEY_SIZE.to_owned(),
                });
            }
        };
        Ok(Self {
            bytes: bytes.to_vec(),
            cipher,
        })
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Key {}

// === impl Cipher ===

impl Cipher {
    fn seal(&self, nonce: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Self::A128(c) => c.encrypt(nonce, plain).ok(),
            Self::A192(c) => c.encrypt(nonce, plain).ok(),
            Self::A256(c) => c.encrypt(nonce, plain).ok(),
        }
    }

    fn open(&self, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Self::A128(c) => c.decrypt(nonce, sealed).ok(),
            Self::A192(c) => c.decrypt(nonce, sealed).ok(),
            Self::A256(c) => c.decrypt(nonce, sealed).ok(),
        }
    }
}

/// Standard base64 with Go's error text (`illegal base64 data at input
/// byte N`), which Consul passes through.
fn decode_base64(key: &str) -> Result<Vec<u8>> {
    use base64::DecodeError;
    STANDARD.decode(key).map_err(|e| {
        let at = match e {
            DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => at,
            DecodeError::InvalidLength(len) => len.saturating_sub(len % 4),
            DecodeError::InvalidPadding => key.find('=').unwrap_or(key.len()),
        };
        MembershipError::InvalidKey {
            reason: format!("illegal base64 data at input byte {at}"),
        }
    })
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
    const K2: &str = "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=";
    const K16: &str = "QXBP8LbSuAtq6HdJLjd1CA==";

    #[test]
    fn parses_keys_with_consuls_errors() {
        assert_eq!(Keyring::parse_key(K1).unwrap().len(), 32);
        assert_eq!(Keyring::parse_key(K16).unwrap().len(), 16);
        let err = Keyring::parse_key("abc$def").unwrap_err().to_string();
        assert_eq!(err, "illegal base64 data at input byte 3");
        let err = Keyring::parse_key("aGVsbG8=").unwrap_err().to_string();
        assert_eq!(err, KEY_SIZE);
        assert!(Keyring::from_base64::<&str>(&[]).is_err());
    }

    #[test]
    fn seals_and_opens_with_any_installed_key() {
        let one = Keyring::from_base64(&[K1]).unwrap();
        let sealed = one.seal(b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(one.open(&sealed).unwrap(), b"hello");
        let both = Keyring::from_base64(&[K2, K1]).unwrap();
        assert_eq!(both.open(&sealed).unwrap(), b"hello");
        let other = Keyring::from_base64(&[K2]).unwrap();
        assert!(other.open(&sealed).is_none());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(one.open(&tampered).is_none());
        for cut in 0..sealed.len() {
            assert!(one.open(&sealed[..cut]).is_none());
        }
        let k16 = Keyring::from_base64(&[K16]).unwrap();
        assert_eq!(k16.open(&k16.seal(b"x").unwrap()).unwrap(), b"x");
    }

    #[test]
    fn install_use_remove_like_memberlist() {
        let mut ring = Keyring::from_base64(&[K1]).unwrap();
        let k2 = Keyring::parse_key(K2).unwrap();
        assert_eq!(ring.use_key(&k2), Err(NOT_INSTALLED));
        ring.install(&k2).unwrap();
        ring.install(&k2).unwrap();
        assert_eq!(ring.to_base64(), [K1, K2]);
        ring.use_key(&k2).unwrap();
        assert_eq!(ring.to_base64(), [K2, K1]);
        assert_eq!(ring.remove(&k2), Err(REMOVE_PRIMARY));
        ring.remove(&Keyring::parse_key(K1).unwrap()).unwrap();
        assert_eq!(ring.to_base64(), [K2]);
        assert!(!format!("{ring:?}").contains(K2), "debug never shows keys");
    }

    #[test]
    fn keyring_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.keyring");
        let ring = Keyring::from_base64(&[K2, K1]).unwrap();
        ring.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let keys: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(keys, [K2, K1]);
        assert_eq!(Keyring::load(&path).unwrap(), ring);
        std::fs::write(&path, "[]").unwrap();
        assert!(Keyring::load(&path).is_err());
    }
}
