//! The legacy `Intention` shape served by `/v1/connect/intentions`: one
//! source→destination pair, rendered from a [`ServiceIntentions`] entry.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::action::{Action, de_opt_action, nullable};
use crate::entry::{ServiceIntentions, SourceIntention};
use crate::name::{DEFAULT_NAMESPACE, DEFAULT_PARTITION, ServiceName, empty_if_default};
use crate::permission::{IntentionPermission, JwtRequirement};
use crate::time::Timestamp;

/// An intention as the legacy API shows it.
///
/// Decoding is lenient (unknown keys are ignored), as Consul's is for request
/// bodies. `CreatedAt`/`UpdatedAt` in a request are ignored by the mutations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Intention {
    /// Legacy UUID; absent for intentions written as config entries.
    #[serde(
        rename = "ID",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    /// Human-readable description.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// Source namespace.
    #[serde(rename = "SourceNS", default, deserialize_with = "nullable")]
    pub source_ns: String,
    /// Source service name.
    #[serde(default, deserialize_with = "nullable")]
    pub source_name: String,
    /// Destination namespace.
    #[serde(rename = "DestinationNS", default, deserialize_with = "nullable")]
    pub destination_ns: String,
    /// Destination service name.
    #[serde(default, deserialize_with = "nullable")]
    pub destination_name: String,
    /// Source partition (empty in the default partition).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_partition: String,
    /// Destination partition (empty in the default partition).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub destination_partition: String,
    /// Source peer.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_peer: String,
    /// Source sameness group.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_sameness_group: String,
    /// Source type (`consul`).
    #[serde(default, deserialize_with = "nullable")]
    pub source_type: String,
    /// L4 action (absent for L7 intentions).
    #[serde(
        default,
        deserialize_with = "de_opt_action",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<Action>,
    /// L7 permissions.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permissions: Vec<IntentionPermission>,
    /// The destination entry's JWT requirements.
    #[serde(rename = "JWT", default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtRequirement>,
    /// Metadata (the source's legacy meta, or the entry's meta).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub meta: BTreeMap<String, String>,
    /// Precedence (computed).
    #[serde(default, deserialize_with = "nullable")]
    pub precedence: i32,
    /// Creation time (legacy intentions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Last update time (legacy intentions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Consul's legacy replication hash; carried, not computed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Raft index of the enclosing entry's creation.
    #[serde(default, deserialize_with = "nullable")]
    pub create_index: u64,
    /// Raft index of the enclosing entry's last change.
    #[serde(default, deserialize_with = "nullable")]
    pub modify_index: u64,
}

// === impl Intention ===

impl Intention {
    /// An L4 intention from `source` to `destination` in the default tenancy.
    pub fn l4(source: &str, destination: &str, action: Action) -> Self {
        Self {
            source_ns: DEFAULT_NAMESPACE.to_owned(),
            source_name: source.to_owned(),
            destination_ns: DEFAULT_NAMESPACE.to_owned(),
            destination_name: destination.to_owned(),
            source_type: crate::SOURCE_TYPE_CONSUL.to_owned(),
            action: Some(action),
            ..Self::default()
        }
    }

    /// The source service (defaults filled in).
    pub fn source(&self) -> ServiceName {
        ServiceName::new(&self.source_partition, &self.source_ns, &self.source_name)
    }

    /// The destination service (defaults filled in).
    pub fn destination(&self) -> ServiceName {
        ServiceName::new(
            &self.destination_partition,
            &self.destination_ns,
            &self.destination_name,
        )
    }

    /// Fills empty namespaces with `default` and an empty source type with
    /// `consul`, as Consul does before validating a write.
    pub fn fill_defaults(&mut self) {
        for ns in [&mut self.source_ns, &mut self.destination_ns] {
            if ns.is_empty() {
                DEFAULT_NAMESPACE.clone_into(ns);
            }
        }
        if self.source_type.is_empty() {
            crate::SOURCE_TYPE_CONSUL.clone_into(&mut self.source_type);
        }
    }

    /// The source half of this intention, for storing in an entry. A legacy
    /// write drops permissions (the legacy API cannot set them).
    pub fn to_source_intention(&self, legacy: bool) -> SourceIntention {
        SourceIntention {
            name: self.source_name.clone(),
            action: self.action.clone(),
            permissions: if legacy {
                Vec::new()
            } else {
                self.permissions.clone()
            },
            precedence: 0,
            legacy_id: self.id.clone(),
            source_type: self.source_type.clone(),
            description: self.description.clone(),
            legacy_meta: self.meta.clone(),
            legacy_create_time: self.created_at.clone(),
            legacy_update_time: self.updated_at.clone(),
            partition: empty_if_default(&self.source_partition, DEFAULT_PARTITION),
            namespace: empty_if_default(&self.source_ns, DEFAULT_NAMESPACE),
            peer: self.source_peer.clone(),
            sameness_group: self.source_sameness_group.clone(),
        }
    }

    /// An empty entry for this intention's destination.
    pub(crate) fn empty_entry(&self) -> ServiceIntentions {
        ServiceIntentions {
            name: self.destination_name.clone(),
            partition: empty_if_default(&self.destination_partition, DEFAULT_PARTITION),
            namespace: empty_if_default(&self.destination_ns, DEFAULT_NAMESPACE),
            ..ServiceIntentions::default()
        }
    }
}

impl fmt::Display for Intention {
    /// Consul's `Intention.String()`, used in authorize reasons:
    /// `default/web => default/db (Precedence: 9, Action: ALLOW)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src_cluster = if !self.source_sameness_group.is_empty() {
            format!("sameness-group({})/", self.source_sameness_group)
        } else if !self.source_peer.is_empty() {
            format!("peer({})/", self.source_peer)
        } else if !self.source_partition.is_empty() {
            format!("{}/", self.source_partition)
        } else {
            String::new()
        };
        let dst_partition = if self.destination_partition.is_empty() {
            String::new()
        } else {
            format!("{}/", self.destination_partition)
        };
        let id = if self.id.is_empty() {
            String::new()
        } else {
            format!("ID: {}, ", self.id)
        };
        let detail = if self.permissions.is_empty() {
            let action = self.action.as_ref().map_or("", Action::as_str);
            format!("Action: {}", action.to_uppercase())
        } else {
            format!("Permissions: {}", self.permissions.len())
        };
        write!(
            f,
            "{src_cluster}{}/{} => {dst_partition}{}/{} ({id}Precedence: {}, {detail})",
            self.source_ns,
            self.source_name,
            self.destination_ns,
            self.destination_name,
            self.precedence
        )
    }
}

// === impl ServiceIntentions (rendering) ===

impl ServiceIntentions {
    /// Renders one source as a legacy intention (Consul's `ToIntention`).
    ///
    /// The ID is the source's legacy ID, so sources written through the config
    /// entry API have none (Consul synthesizes nothing). Meta is the source's
    /// legacy meta for legacy sources, the entry's meta otherwise.
    pub fn to_intention(&self, src: &SourceIntention) -> Intention {
        let legacy = !src.legacy_id.is_empty();
        let meta = if legacy { &src.legacy_meta } else { &self.meta };
        Intention {
            id: src.legacy_id.clone(),
            description: src.description.clone(),
            source_ns: src.namespace_or_default().to_owned(),
            source_name: src.name.clone(),
            destination_ns: self.namespace_or_default().to_owned(),
            destination_name: self.name.clone(),
            source_partition: src.partition.clone(),
            destination_partition: self.partition.clone(),
            source_peer: src.peer.clone(),
            source_sameness_group: src.sameness_group.clone(),
            source_type: src.source_type.clone(),
            action: src.action.clone(),
            permissions: src.permissions.clone(),
            jwt: self.jwt.clone(),
            meta: meta.clone(),
            precedence: src.precedence,
            created_at: src.legacy_create_time.clone().filter(|t| !t.is_zero()),
            updated_at: src.legacy_update_time.clone().filter(|t| !t.is_zero()),
            hash: None,
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }

    /// Every source rendered as a legacy intention, in source order.
    pub fn to_intentions(&self) -> Vec<Intention> {
        self.sources.iter().map(|s| self.to_intention(s)).collect()
    }
}
