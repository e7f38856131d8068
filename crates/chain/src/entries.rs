//! [`EntrySet`]: the in-memory view of config entries the compiler reads.

use std::collections::BTreeMap;

use skein_config_entry::{
    ConfigEntry, EntryKey, Kind, MESH_NAME, MeshConfig, PROXY_DEFAULTS_GLOBAL, ProxyDefaults,
    ServiceDefaults, ServiceResolver, ServiceRouter, ServiceSplitter,
};

/// Config entries keyed by `(kind, name)`, borrowed from the caller's store.
#[derive(Debug, Clone, Default)]
pub struct EntrySet<'a> {
    entries: BTreeMap<EntryKey, &'a ConfigEntry>,
}

// === impl EntrySet ===

impl<'a> EntrySet<'a> {
    /// A set holding `entries` (later duplicates of a key win).
    pub fn new(entries: impl IntoIterator<Item = &'a ConfigEntry>) -> EntrySet<'a> {
        let mut set = EntrySet::default();
        entries.into_iter().for_each(|e| set.insert(e));
        set
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, entry: &'a ConfigEntry) {
        self.entries.insert(entry.key(), entry);
    }

    /// Removes the entry at `key`, if any.
    pub fn remove(&mut self, key: &EntryKey) {
        self.entries.remove(key);
    }

    /// The entry of `kind` named `name`.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&'a ConfigEntry> {
        self.entries.get(&EntryKey::new(kind, name)).copied()
    }

    /// Every entry, ordered by kind then name.
    pub fn iter(&self) -> impl Iterator<Item = &'a ConfigEntry> + '_ {
        self.entries.values().copied()
    }

    /// Every entry of `kind`.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &'a ConfigEntry> + '_ {
        self.iter().filter(move |e| e.kind() == kind)
    }

    /// `service-defaults` for `name`.
    pub fn service_defaults(&self, name: &str) -> Option<&'a ServiceDefaults> {
        match self.get(Kind::ServiceDefaults, name)? {
            ConfigEntry::ServiceDefaults(e) => Some(e),
            _ => None,
        }
    }

    /// The `proxy-defaults` entry (`global`).
    pub fn proxy_defaults(&self) -> Option<&'a ProxyDefaults> {
        match self.get(Kind::ProxyDefaults, PROXY_DEFAULTS_GLOBAL)? {
            ConfigEntry::ProxyDefaults(e) => Some(e),
            _ => None,
        }
    }

    /// `service-router` for `name`.
    pub fn router(&self, name: &str) -> Option<&'a ServiceRouter> {
        match self.get(Kind::ServiceRouter, name)? {
            ConfigEntry::ServiceRouter(e) => Some(e),
            _ => None,
        }
    }

    /// `service-splitter` for `name`.
    pub fn splitter(&self, name: &str) -> Option<&'a ServiceSplitter> {
        match self.get(Kind::ServiceSplitter, name)? {
            ConfigEntry::ServiceSplitter(e) => Some(e),
            _ => None,
        }
    }

    /// `service-resolver` for `name`.
    pub fn resolver(&self, name: &str) -> Option<&'a ServiceResolver> {
        match self.get(Kind::ServiceResolver, name)? {
            ConfigEntry::ServiceResolver(e) => Some(e),
            _ => None,
        }
    }

    /// `service`'s protocol: its `service-defaults`, else the
    /// `proxy-defaults` `Config.protocol`, else `tcp`; lower-cased.
    pub fn service_protocol(&self, service: &str) -> String {
        let protocol = match self.service_defaults(service) {
            Some(sd) => sd.protocol.clone(),
            None => self
                .proxy_defaults()
                .map(|p| p.protocol())
                .unwrap_or_default(),
        };
        if protocol.is_empty() {
            "tcp".to_string()
        } else {
            protocol.to_lowercase()
        }
    }

    /// The `mesh` entry.
    pub fn mesh(&self) -> Option<&'a MeshConfig> {
        match self.get(Kind::Mesh, MESH_NAME)? {
            ConfigEntry::Mesh(e) => Some(e),
            _ => None,
        }
    }
}
