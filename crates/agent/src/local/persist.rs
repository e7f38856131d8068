//! Registrations made through the API survive a restart when the agent has
//! a data dir: they are written to `<data_dir>/agent/local.json` after
//! every change (write to a temporary file, fsync, rename) and replayed at
//! start. Config-file services are not saved: they come from the config.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skein_config::{CheckDefinition, ServiceDefinition};
use tracing::warn;

/// What is saved.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) services: Vec<ServiceDefinition>,
    pub(crate) checks: Vec<CheckDefinition>,
}

/// The file of one agent.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    path: PathBuf,
}

// === impl Store ===

impl Store {
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("agent").join("local.json"),
        }
    }

    /// The saved registrations; a missing file is an empty set.
    pub(crate) fn load(&self) -> Result<Saved, String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", self.path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    /// Replaces the saved registrations.
    pub(crate) fn save(&self, saved: &Saved) {
        if let Err(e) = self.write(saved) {
            warn!(error = %e, path = %self.path.display(), "saving local registrations");
        }
    }

    fn write(&self, saved: &Saved) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(saved)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
}

/// The last status of each TTL check, so a restart does not reset checks
/// that the application reported on (Consul's persisted check state).
#[derive(Debug, Clone)]
pub(crate) struct CheckStates {
    path: PathBuf,
}

/// One saved TTL status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedStatus {
    pub(crate) status: String,
    pub(crate) output: String,
}

// === impl CheckStates ===

impl CheckStates {
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("agent").join("check-states.json"),
        }
    }

    /// Saved statuses by check id; unreadable or missing means none.
    pub(crate) fn load(&self) -> std::collections::BTreeMap<String, SavedStatus> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Replaces the saved statuses (atomic rename; no fsync: the state is
    /// advisory and the application reports again).
    pub(crate) fn save(&self, states: &std::collections::BTreeMap<String, SavedStatus>) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new(".")))?;
            let tmp = self.path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec(states)?)?;
            std::fs::rename(&tmp, &self.path)
        };
        if let Err(e) = write() {
            warn!(error = %e, path = %self.path.display(), "saving check states");
        }
    }
}
