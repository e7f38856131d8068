//! The `service-intentions` config entry: one per destination service, listing
//! the sources allowed or denied to reach it. Consul has stored every
//! intention this way since 1.9; the legacy `/v1/connect/intentions` API is a
//! view over these entries (see [`crate::Intention`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{Action, de_opt_action, is_zero, nullable};
use crate::name::{DEFAULT_NAMESPACE, DEFAULT_PARTITION, ServiceName, or_default};
use crate::permission::{IntentionPermission, JwtRequirement};
use crate::time::Timestamp;

/// The config entry kind.
pub const KIND: &str = "service-intentions";
/// The only source type Consul knows.
pub const SOURCE_TYPE_CONSUL: &str = "consul";

/// A `service-intentions` config entry.
///
/// Decoding is strict (`deny_unknown_fields`), as Consul's config entry
/// decoder is; keys must already be PascalCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceIntentions {
    /// Always `service-intentions` (set by normalization).
    #[serde(default = "kind", deserialize_with = "nullable")]
    pub kind: String,
    /// Destination service name; `*` for every service.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Sources, highest precedence first after normalization.
    #[serde(default, deserialize_with = "nullable")]
    pub sources: Vec<SourceIntention>,
    /// JWT requirements for every request to the destination.
    #[serde(rename = "JWT", default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtRequirement>,
    /// Free-form metadata.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub meta: BTreeMap<String, String>,
    /// Admin partition of the destination (empty = `default`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub partition: String,
    /// Namespace of the destination (empty = `default`; may be `*`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Consul's content hash; carried, not computed here.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub hash: u64,
    /// Raft index of creation (set by the store).
    #[serde(default, deserialize_with = "nullable")]
    pub create_index: u64,
    /// Raft index of the last change (set by the store).
    #[serde(default, deserialize_with = "nullable")]
    pub modify_index: u64,
}

/// One source of a [`ServiceIntentions`] entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SourceIntention {
    /// Source service name; `*` for every service.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// L4 action; must be unset when `permissions` are given.
    #[serde(
        default,
        deserialize_with = "de_opt_action",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<Action>,
    /// L7 permissions, evaluated in order.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permissions: Vec<IntentionPermission>,
    /// Computed on normalization; read-only.
    #[serde(default, deserialize_with = "nullable")]
    pub precedence: i32,
    /// ID of an intention created through the legacy API.
    #[serde(
        rename = "LegacyID",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub legacy_id: String,
    /// Source type; `consul` is the only valid one (the default).
    #[serde(rename = "Type", default, deserialize_with = "nullable")]
    pub source_type: String,
    /// Human-readable description.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// Meta of a legacy intention.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub legacy_meta: BTreeMap<String, String>,
    /// Creation time of a legacy intention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_create_time: Option<Timestamp>,
    /// Last update time of a legacy intention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_update_time: Option<Timestamp>,
    /// Source partition (empty = inherit the destination's).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub partition: String,
    /// Source namespace (empty = inherit the destination's; may be `*`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Cluster peer the source lives in.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub peer: String,
    /// Sameness group (a Consul Enterprise feature; rejected by validation).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub sameness_group: String,
}

fn kind() -> String {
    KIND.to_owned()
}

// === impl ServiceIntentions ===

impl Default for ServiceIntentions {
    fn default() -> Self {
        Self {
            kind: kind(),
            name: String::new(),
            sources: Vec::new(),
            jwt: None,
            meta: BTreeMap::new(),
            partition: String::new(),
            namespace: String::new(),
            hash: 0,
            create_index: 0,
            modify_index: 0,
        }
    }
}

impl ServiceIntentions {
    /// An empty entry for destination `name` in the default tenancy.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The destination as a service name (defaults filled in).
    pub fn destination(&self) -> ServiceName {
        ServiceName::new(&self.partition, &self.namespace, &self.name)
    }

    /// The destination namespace, `default` if unset.
    pub fn namespace_or_default(&self) -> &str {
        or_default(&self.namespace, DEFAULT_NAMESPACE)
    }

    /// The destination partition, `default` if unset.
    pub fn partition_or_default(&self) -> &str {
        or_default(&self.partition, DEFAULT_PARTITION)
    }

    /// Whether the destination namespace or name is `*`.
    pub fn has_wildcard_destination(&self) -> bool {
        self.namespace_or_default() == crate::WILDCARD || self.name == crate::WILDCARD
    }

    /// Whether any source carries L7 permissions.
    pub fn has_any_permissions(&self) -> bool {
        self.sources.iter().any(|s| !s.permissions.is_empty())
    }

    /// Whether every source carries a legacy ID (the legacy API may edit it).
    pub fn legacy_ids_all_set(&self) -> bool {
        self.sources.iter().all(|s| !s.legacy_id.is_empty())
    }

    /// The source with legacy ID `id`.
    pub fn source_by_legacy_id(&self, id: &str) -> Option<&SourceIntention> {
        self.sources.iter().find(|s| s.legacy_id == id)
    }
}

// === impl SourceIntention ===

impl SourceIntention {
    /// An L4 source named `name` with `action`.
    pub fn l4(name: impl Into<String>, action: Action) -> Self {
        Self {
            name: name.into(),
            action: Some(action),
            ..Self::default()
        }
    }

    /// An L7 source named `name` with `permissions`.
    pub fn l7(name: impl Into<String>, permissions: Vec<IntentionPermission>) -> Self {
        Self {
            name: name.into(),
            permissions,
            ..Self::default()
        }
    }

    /// The source as a service name (defaults filled in; the peer is not part of it).
    pub fn service(&self) -> ServiceName {
        ServiceName::new(&self.partition, &self.namespace, &self.name)
    }

    /// The source namespace, `default` if unset.
    pub fn namespace_or_default(&self) -> &str {
        or_default(&self.namespace, DEFAULT_NAMESPACE)
    }

    /// The source partition, `default` if unset.
    pub fn partition_or_default(&self) -> &str {
        or_default(&self.partition, DEFAULT_PARTITION)
    }

    /// Whether this source uses L7 permissions.
    pub fn is_l7(&self) -> bool {
        !self.permissions.is_empty()
    }
}
