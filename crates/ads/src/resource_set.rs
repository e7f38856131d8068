//! The resources of one proxy, by type, as the ADS server delivers them.

use std::collections::BTreeMap;

use envoy_types::pb::google::protobuf::Any;

/// Type URL of listeners (LDS).
pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// Type URL of route configurations (RDS).
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// Type URL of clusters (CDS).
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// Type URL of cluster load assignments (EDS).
pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/// One named resource, packed, with a version that changes exactly when
/// its content does.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The resource's name (listener, cluster, route or cluster name).
    pub name: String,
    /// A content hash of `body`, rendered as hex.
    pub version: String,
    /// The packed resource.
    pub body: Any,
}

/// Every resource of one proxy at one moment, by type URL then name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSet {
    /// Resources by type URL, then by name.
    pub by_type: BTreeMap<String, BTreeMap<String, Resource>>,
}

// === impl ResourceSet ===

impl ResourceSet {
    /// Adds `body` under `name`, versioned by a hash of its bytes.
    pub fn insert(&mut self, name: impl Into<String>, body: Any) {
        let name = name.into();
        let version = content_version(&body.value);
        let resource = Resource {
            name: name.clone(),
            version,
            body,
        };
        self.by_type
            .entry(resource.body.type_url.clone())
            .or_default()
            .insert(name, resource);
    }

    /// Marks `type_url` as complete even when it holds no resource, so the
    /// server may answer Envoy with an empty set of that type (Consul does
    /// for the clusters of mesh, terminating and ingress gateways, and the
    /// listeners and routes of ingress gateways). A type that was neither
    /// declared nor given a resource counts as "not ready yet": nothing is
    /// sent for it until it has been answered once.
    pub fn declare(&mut self, type_url: impl Into<String>) {
        self.by_type.entry(type_url.into()).or_default();
    }

    /// Whether `type_url` has resources or was [declared](Self::declare).
    pub fn has_type(&self, type_url: &str) -> bool {
        self.by_type.contains_key(type_url)
    }

    /// The resources of one type by name, if the type is present.
    pub fn type_map(&self, type_url: &str) -> Option<&BTreeMap<String, Resource>> {
        self.by_type.get(type_url)
    }

    /// The resources of one type (empty if none).
    pub fn of_type(&self, type_url: &str) -> impl Iterator<Item = &Resource> {
        self.by_type
            .get(type_url)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// One resource by type and name.
    pub fn get(&self, type_url: &str, name: &str) -> Option<&Resource> {
        self.by_type.get(type_url)?.get(name)
    }
}

/// A stable 64-bit FNV-1a hash of `bytes`, as 16 hex digits.
pub(crate) fn content_version(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_content() {
        let any = |v: &[u8]| Any {
            type_url: CLUSTER.into(),
            value: v.to_vec(),
        };
        let mut a = ResourceSet::default();
        a.insert("x", any(b"one"));
        a.insert("y", any(b"one"));
        a.insert("z", any(b"two"));
        let v = |n| a.get(CLUSTER, n).map(|r| r.version.clone());
        assert_eq!(v("x"), v("y"));
        assert_ne!(v("x"), v("z"));
        assert_eq!(a.of_type(CLUSTER).count(), 3);
        assert_eq!(a.of_type(LISTENER).count(), 0);
        assert!(!a.has_type(LISTENER));
        a.declare(LISTENER);
        assert!(a.has_type(LISTENER));
        assert_eq!(a.of_type(LISTENER).count(), 0);
    }
}
