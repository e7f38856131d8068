//! [`ConfigEntry`]: one config entry of any kind, with the accessors the
//! state store and HTTP layer need.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ingress::IngressGateway;
use crate::kind::{EntryKey, Kind};
use crate::mesh::{MESH_NAME, MeshConfig};
use crate::proxy_defaults::ProxyDefaults;
use crate::resolver::ServiceResolver;
use crate::router::ServiceRouter;
use crate::service_defaults::ServiceDefaults;
use crate::splitter::ServiceSplitter;
use crate::terminating::TerminatingGateway;
use skein_intention::ServiceIntentions;

/// A config entry of any supported kind.
// Entries are stored one by one, never in dense arrays, so the size spread
// between kinds costs little; boxing would make every match clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigEntry {
    /// `proxy-defaults`
    ProxyDefaults(ProxyDefaults),
    /// `service-defaults`
    ServiceDefaults(ServiceDefaults),
    /// `service-router`
    ServiceRouter(ServiceRouter),
    /// `service-splitter`
    ServiceSplitter(ServiceSplitter),
    /// `service-resolver`
    ServiceResolver(ServiceResolver),
    /// `service-intentions`
    ServiceIntentions(ServiceIntentions),
    /// `mesh`
    Mesh(MeshConfig),
    /// `ingress-gateway`
    IngressGateway(IngressGateway),
    /// `terminating-gateway`
    TerminatingGateway(TerminatingGateway),
}

/// Applies `$body` to the inner struct of every variant.
macro_rules! each_kind {
    ($entry:expr, $e:ident => $body:expr) => {
        match $entry {
            ConfigEntry::ProxyDefaults($e) => $body,
            ConfigEntry::ServiceDefaults($e) => $body,
            ConfigEntry::ServiceRouter($e) => $body,
            ConfigEntry::ServiceSplitter($e) => $body,
            ConfigEntry::ServiceResolver($e) => $body,
            ConfigEntry::ServiceIntentions($e) => $body,
            ConfigEntry::Mesh($e) => $body,
            ConfigEntry::IngressGateway($e) => $body,
            ConfigEntry::TerminatingGateway($e) => $body,
        }
    };
}

// === impl ConfigEntry ===

impl ConfigEntry {
    /// The entry's kind.
    pub fn kind(&self) -> Kind {
        match self {
            ConfigEntry::ProxyDefaults(_) => Kind::ProxyDefaults,
            ConfigEntry::ServiceDefaults(_) => Kind::ServiceDefaults,
            ConfigEntry::ServiceRouter(_) => Kind::ServiceRouter,
            ConfigEntry::ServiceSplitter(_) => Kind::ServiceSplitter,
            ConfigEntry::ServiceResolver(_) => Kind::ServiceResolver,
            ConfigEntry::ServiceIntentions(_) => Kind::ServiceIntentions,
            ConfigEntry::Mesh(_) => Kind::Mesh,
            ConfigEntry::IngressGateway(_) => Kind::IngressGateway,
            ConfigEntry::TerminatingGateway(_) => Kind::TerminatingGateway,
        }
    }

    /// The entry's name (`mesh` for the mesh entry, which stores none).
    pub fn name(&self) -> &str {
        match self {
            ConfigEntry::Mesh(_) => MESH_NAME,
            other => each_kind!(other, e => named(e)),
        }
    }

    /// The `(kind, name)` storage key.
    pub fn key(&self) -> EntryKey {
        EntryKey::new(self.kind(), self.name())
    }

    /// `CreateIndex`.
    pub fn create_index(&self) -> u64 {
        each_kind!(self, e => e.create_index)
    }

    /// `ModifyIndex`.
    pub fn modify_index(&self) -> u64 {
        each_kind!(self, e => e.modify_index)
    }

    /// Sets `CreateIndex` and `ModifyIndex` (the state store's job on write).
    pub fn set_indexes(&mut self, create_index: u64, modify_index: u64) {
        each_kind!(self, e => {
            e.create_index = create_index;
            e.modify_index = modify_index;
        })
    }

    /// The entry's `Meta`.
    pub fn meta(&self) -> &BTreeMap<String, String> {
        each_kind!(self, e => &e.meta)
    }

    /// Consul's `Normalize()`: fills defaults and canonicalises values.
    pub fn normalize(&mut self) -> Result<()> {
        match self {
            ConfigEntry::ProxyDefaults(e) => return e.normalize(),
            ConfigEntry::ServiceDefaults(e) => e.normalize(),
            ConfigEntry::ServiceRouter(e) => e.normalize(),
            ConfigEntry::ServiceSplitter(e) => e.normalize(),
            ConfigEntry::IngressGateway(e) => e.normalize(),
            ConfigEntry::ServiceIntentions(e) => e.normalize(),
            ConfigEntry::ServiceResolver(_)
            | ConfigEntry::Mesh(_)
            | ConfigEntry::TerminatingGateway(_) => {}
        }
        Ok(())
    }

    /// Consul's `Validate()`: the rules that need no other entry.
    pub fn validate(&self) -> Result<()> {
        match self {
            ConfigEntry::ProxyDefaults(e) => e.validate(),
            ConfigEntry::ServiceDefaults(e) => e.validate(),
            ConfigEntry::ServiceRouter(e) => e.validate(),
            ConfigEntry::ServiceSplitter(e) => e.validate(),
            ConfigEntry::ServiceResolver(e) => e.validate(),
            ConfigEntry::ServiceIntentions(e) => Ok(e.validate()?),
            ConfigEntry::Mesh(e) => e.validate(),
            ConfigEntry::IngressGateway(e) => e.validate(),
            ConfigEntry::TerminatingGateway(e) => e.validate(),
        }
    }

    /// Non-fatal remarks Consul returns on write (terminating gateways only).
    pub fn warnings(&self) -> Vec<String> {
        match self {
            ConfigEntry::TerminatingGateway(e) => e.warnings(),
            _ => Vec::new(),
        }
    }

    /// The entry as Consul's HTTP API renders it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Decodes a stored entry (the form [`Serialize`] writes, indexes included).
    pub fn from_stored_json(value: Value) -> Result<ConfigEntry> {
        let Value::Object(mut obj) = value else {
            return Err(Error::NotAnObject);
        };
        let kind = match obj.remove("Kind") {
            Some(Value::String(kind)) => kind.parse::<Kind>()?,
            Some(_) => return Err(Error::KindNotString),
            None => return Err(Error::MissingKind),
        };
        crate::decode::decode_kind(kind, Value::Object(obj))
    }
}

/// Reads the `name` field of any entry struct.
trait Named {
    fn entry_name(&self) -> &str;
}

macro_rules! impl_named {
    ($($t:ty),*) => {
        $(impl Named for $t {
            fn entry_name(&self) -> &str {
                &self.name
            }
        })*
    };
}

impl_named!(
    ProxyDefaults,
    ServiceDefaults,
    ServiceRouter,
    ServiceSplitter,
    ServiceResolver,
    ServiceIntentions,
    IngressGateway,
    TerminatingGateway
);

impl Named for MeshConfig {
    fn entry_name(&self) -> &str {
        MESH_NAME
    }
}

fn named<T: Named>(entry: &T) -> &str {
    entry.entry_name()
}

/// `{"Kind": …, <fields of the entry>}`.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "Kind")]
    kind: &'static str,
    #[serde(flatten)]
    entry: &'a T,
}

impl Serialize for ConfigEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let kind = self.kind().as_str();
        match self {
            // The intentions type carries its own `Kind` field.
            ConfigEntry::ServiceIntentions(e) => e.serialize(serializer),
            other => each_kind!(other, e => Tagged { kind, entry: e }.serialize(serializer)),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ConfigEntry::from_stored_json(value).map_err(serde::de::Error::custom)
    }
}
