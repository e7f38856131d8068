//! The private keys of the CA roots, kept on each server outside the
//! replicated state (which every client agent receives as a Raft learner).
//! With a data directory they are persisted in `connect-ca-keys.json`,
//! readable by the owner only; a dev server keeps them in memory, like
//! the rest of its state.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the key store in the data directory.
const FILE: &str = "connect-ca-keys.json";

/// How long a key whose root is not (or no longer) in the state is kept:
/// a leader stores and distributes a new root's key before the root is
/// committed, so a key must outlive that window.
const UNREFERENCED_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    /// PKCS#8 PEM.
    pem: String,
    /// When this server stored it (ms since the epoch).
    stored_ms: u64,
}

/// Root signing keys by root ID.
#[derive(Debug)]
pub(crate) struct CaKeys {
    path: Option<PathBuf>,
    keys: Mutex<BTreeMap<String, StoredKey>>,
}

// === impl CaKeys ===

impl CaKeys {
    /// The keys stored in `data_dir` (none yet if the file is absent); in
    /// memory only without a data directory.
    pub(crate) fn open(data_dir: Option<&Path>) -> Result<Self> {
        let path = data_dir.map(|d| d.join(FILE));
        let keys = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::Start(format!("{}: {e}", p.display())))?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::Start(format!("{}: {e}", p.display())))?
            }
            _ => BTreeMap::new(),
        };
        Ok(Self {
            path,
            keys: Mutex::new(keys),
        })
    }

    /// The key of root `id`, if this server has it.
    pub(crate) fn get(&self, id: &str) -> Option<String> {
        let keys = self.keys.lock().ok()?;
        keys.get(id).map(|k| k.pem.clone())
    }

    /// Stores the key of root `id` (durably, with a data directory).
    pub(crate) fn put(&self, id: &str, pem: &str) -> Result<()> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| Error::Fatal("CA key store poisoned".into()))?;
        if keys.get(id).is_some_and(|k| k.pem == pem) {
            return Ok(());
        }
        keys.insert(
            id.to_owned(),
            StoredKey {
                pem: pem.to_owned(),
                stored_ms: crate::server::now_ms(),
            },
        );
        self.persist(&keys)
    }

    /// Forgets keys of roots no longer in `live` once they are older than
    /// the grace period.
    pub(crate) fn prune(&self, live: &[&str], now_ms: u64) -> Result<()> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| Error::Fatal("CA key store poisoned".into()))?;
        let grace = UNREFERENCED_GRACE.as_millis() as u64;
        let before = keys.len();
        keys.retain(|id, k| live.contains(&id.as_str()) || now_ms < k.stored_ms + grace);
        if keys.len() == before {
            return Ok(());
        }
        self.persist(&keys)
    }

    /// Writes the store atomically (temp file, fsync, rename), mode 0600.
    fn persist(&self, keys: &BTreeMap<String, StoredKey>) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let failed = |e: std::io::Error| Error::Fatal(format!("{}: {e}", path.display()));
        let text = serde_json::to_vec(keys).map_err(|e| Error::Fatal(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        let mut file = private_file(&tmp).map_err(failed)?;
        file.write_all(&text).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&tmp, path).map_err(failed)
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_reopen_and_are_private() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = CaKeys::open(Some(dir.path())).expect("open");
        keys.put("aa:bb", "PEM").expect("put");
        let again = CaKeys::open(Some(dir.path())).expect("reopen");
        assert_eq!(again.get("aa:bb").as_deref(), Some("PEM"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn unreferenced_keys_go_after_the_grace_period() {
        let keys = CaKeys::open(None).expect("open");
        keys.put("old", "A").expect("put");
        keys.put("new", "B").expect("put");
        let now = crate::server::now_ms();
        keys.prune(&["new"], now).expect("prune");
        assert!(keys.get("old").is_some(), "too recent to drop");
        let later = now + UNREFERENCED_GRACE.as_millis() as u64 + 1;
        keys.prune(&["new"], later).expect("prune");
        assert!(keys.get("old").is_none());
        assert!(keys.get("new").is_some());
    }
}
