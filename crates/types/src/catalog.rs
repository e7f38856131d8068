//! Catalog records: nodes, service instances and health checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Index, Name};

/// A node of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Node {
    /// Node UUID (may be empty).
    pub id: Name,
    /// Node name.
    pub node: Name,
    /// Address.
    pub address: Name,
    /// Datacenter.
    pub datacenter: Name,
    /// Tagged addresses (`lan`, `wan`, ...).
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
    /// Index of creation.
    pub create_index: Index,
    /// Index of the last change.
    pub modify_index: Index,
}

/// A service instance registered on a node. Fields that skein does not
/// interpret yet are kept as raw JSON so they round-trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceInstance {
    /// Instance id, unique per node.
    pub id: Name,
    /// Service name.
    pub service: Name,
    /// Tags.
    pub tags: Vec<Name>,
    /// Address (empty: the node's).
    pub address: Name,
    /// Port.
    pub port: u16,
    /// Metadata.
    pub meta: BTreeMap<String, String>,
    /// Kind (`""`, `connect-proxy`, gateways).
    pub kind: Name,
    /// Everything else of Consul's service shape (TaggedAddresses, Weights,
    /// Proxy, Connect, EnableTagOverride...), as JSON.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Index of creation.
    pub create_index: Index,
    /// Index of the last change.
    pub modify_index: Index,
}

/// Health of a check. Ordered from best to worst, so the worst of several
/// statuses is their `max()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Healthy.
    Passing,
    /// Degraded.
    Warning,
    /// Failing.
    #[default]
    Critical,
}

impl CheckStatus {
    /// Consul's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passing => "passing",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// Parses Consul's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passing" => Some(Self::Passing),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// A health check in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Check {
    /// Node the check belongs to.
    pub node: Name,
    /// Check id, unique per node.
    pub check_id: Name,
    /// Name.
    pub name: Name,
    /// Status.
    pub status: CheckStatus,
    /// Notes.
    pub notes: Name,
    /// Last output.
    pub output: Name,
    /// Service instance id (empty for a node check).
    pub service_id: Name,
    /// Service name (empty for a node check).
    pub service_name: Name,
    /// Service tags at registration.
    pub service_tags: Vec<Name>,
    /// Check type (`ttl`, `http`, `serf`, ...).
    pub check_type: Name,
    /// Interval as written.
    pub interval: Name,
    /// Timeout as written.
    pub timeout: Name,
    /// Index of creation.
    pub create_index: Index,
    /// Index of the last change.
    pub modify_index: Index,
}

impl ServiceInstance {
    /// Whether both are the same registration, indexes aside (no copies).
    pub fn same_registration(&self, other: &Self) -> bool {
        let Self {
            id,
            service,
            tags,
            address,
            port,
            meta,
            kind,
            extra,
            create_index: _,
            modify_index: _,
        } = self;
        (id, service, tags, address, port, meta, kind, extra)
            == (
                &other.id,
                &other.service,
                &other.tags,
                &other.address,
                &other.port,
                &other.meta,
                &other.kind,
                &other.extra,
            )
    }
}

impl Check {
    /// Whether both are the same check in the same state, indexes aside
    /// (no copies).
    pub fn same_registration(&self, other: &Self) -> bool {
        let Self {
            node,
            check_id,
            name,
            status,
            notes,
            output,
            service_id,
            service_name,
            service_tags,
            check_type,
            interval,
            timeout,
            create_index: _,
            modify_index: _,
        } = self;
        (node, check_id, name, status, notes, output, service_id)
            == (
                &other.node,
                &other.check_id,
                &other.name,
                &other.status,
                &other.notes,
                &other.output,
                &other.service_id,
            )
            && (service_name, service_tags, check_type, interval, timeout)
                == (
                    &other.service_name,
                    &other.service_tags,
                    &other.check_type,
                    &other.interval,
                    &other.timeout,
                )
    }
}

#[cfg(test)]
mod tests {
    use super::CheckStatus::*;

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Passing < Warning && Warning < Critical);
        assert_eq!(
            [Warning, Passing, Critical].into_iter().max(),
            Some(Critical)
        );
    }
}
