//! The Connect CA's replicated state: the cluster id (the trust domain is
//! `<cluster-id>.consul`), the CA configuration and the roots as the API
//! renders them. Certificates are made by the caller (skein-ca); this layer
//! stores them with check-and-set. The roots' private keys are not here:
//! the state reaches every client agent, the keys stay on the servers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use skein_types::Index;

use crate::{Outcome, Store, Topic};

/// The CA: configuration and roots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaState {
    /// `ClusterID`, a UUID.
    pub cluster_id: String,
    /// `Provider` (`consul`).
    pub provider: String,
    /// `Config`, the provider's settings in Consul's JSON shape.
    pub config: Value,
    /// `CARoot`s in Consul's JSON shape, without private keys; one is
    /// `Active`.
    pub roots: Vec<Value>,
    /// Index that first set the CA.
    #[serde(default)]
    pub create_index: Index,
    /// Index that last changed it.
    #[serde(default)]
    pub modify_index: Index,
}

// === impl CaState ===

impl CaState {
    /// The SPIFFE trust domain of this cluster.
    pub fn trust_domain(&self) -> String {
        format!("{}.consul", self.cluster_id)
    }

    /// The active root, if any.
    pub fn active_root(&self) -> Option<&Value> {
        self.roots
            .iter()
            .find(|r| r.get("Active").and_then(Value::as_bool) == Some(true))
    }

    /// The active root's `ID`, if any.
    pub fn active_root_id(&self) -> Option<&str> {
        self.active_root()?.get("ID")?.as_str()
    }
}

// === impl Store: CA ===

impl Store {
    /// Replaces the CA state; with `cas`, only if the stored one's
    /// ModifyIndex is `cas` (0: only if there is none).
    pub(crate) fn connect_ca_set(
        &mut self,
        index: Index,
        ca: &CaState,
        cas: Option<Index>,
    ) -> Outcome {
        let current = self.data.connect_ca.as_ref().map_or(0, |c| c.modify_index);
        if cas.is_some_and(|c| c != current) {
            return Outcome::Bool(false);
        }
        let create_index = self
            .data
            .connect_ca
            .as_ref()
            .map_or(index, |c| c.create_index);
        let mut ca = ca.clone();
        ca.create_index = create_index;
        ca.modify_index = index;
        self.data.connect_ca = Some(ca);
        self.touch(Topic::ConnectCa);
        Outcome::Bool(true)
    }

    /// The CA, once the leader created it.
    pub fn connect_ca(&self) -> Option<&CaState> {
        self.data.connect_ca.as_ref()
    }

    /// The trust domain, once the CA exists.
    pub fn connect_trust_domain(&self) -> Option<String> {
        self.connect_ca().map(CaState::trust_domain)
    }

    /// Index of the last CA change (at least 1).
    pub fn connect_ca_index(&self) -> Index {
        self.connect_ca().map_or(1, |c| c.modify_index.max(1))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::CaState;
    use crate::{Command, Op, Outcome, Store};

    fn ca(id: &str) -> CaState {
        CaState {
            cluster_id: id.into(),
            provider: "consul".into(),
            config: json!({"LeafCertTTL": "72h"}),
            roots: vec![json!({"ID": "aa:bb", "Active": true})],
            create_index: 0,
            modify_index: 0,
        }
    }

    fn set(s: &mut Store, index: u64, ca: CaState, cas: Option<u64>) -> Outcome {
        s.apply(
            index,
            &Command {
                at_ms: 0,
                op: Op::ConnectCaSet {
                    ca: Box::new(ca),
                    cas,
                },
            },
        )
    }

    #[test]
    fn the_first_root_wins_and_rotation_needs_the_current_index() {
        let mut s = Store::new();
        assert_eq!(set(&mut s, 4, ca("one"), Some(0)), Outcome::Bool(true));
        // A second leader racing to create the CA loses.
        assert_eq!(set(&mut s, 5, ca("two"), Some(0)), Outcome::Bool(false));
        assert_eq!(s.connect_trust_domain().as_deref(), Some("one.consul"));
        assert_eq!(set(&mut s, 6, ca("one"), Some(4)), Outcome::Bool(true));
        let stored = s.connect_ca().expect("ca");
        assert_eq!((stored.create_index, stored.modify_index), (4, 6));
        assert!(stored.active_root().is_some());
    }
}
