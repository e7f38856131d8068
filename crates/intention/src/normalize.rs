//! Normalization of a `service-intentions` entry before it is validated and
//! stored, and the carry-over of legacy fields from the entry it replaces.
//! Both are deterministic (they run in the FSM in Consul).

use std::collections::HashMap;

use crate::entry::{KIND, SOURCE_TYPE_CONSUL, ServiceIntentions, SourceIntention};
use crate::error::{Error, Problem, Result};
use crate::name::WILDCARD;
use crate::precedence::precedence;

// === impl ServiceIntentions (normalization) ===

impl ServiceIntentions {
    /// Normalizes an entry written through the config entry API (Consul's
    /// `Normalize`): defaults, inherited tenancy, precedence, upper-case
    /// methods, sources sorted by precedence, and legacy ID/times cleared
    /// (legacy meta is kept so validation can refuse it).
    pub fn normalize(&mut self) {
        self.normalize_with(false);
    }

    /// Normalizes an entry written through the legacy API (Consul's
    /// `LegacyNormalize`): like [`Self::normalize`] but keeps legacy fields.
    pub fn legacy_normalize(&mut self) {
        self.normalize_with(true);
    }

    fn normalize_with(&mut self, legacy: bool) {
        KIND.clone_into(&mut self.kind);
        let (dst_ns, dst_name) = (self.namespace_or_default().to_owned(), self.name.clone());
        let (partition, namespace) = (self.partition.clone(), self.namespace.clone());
        for src in &mut self.sources {
            src.inherit_tenancy(&partition, &namespace);
            src.precedence = precedence(src.namespace_or_default(), &src.name, &dst_ns, &dst_name);
            if !legacy {
                src.clear_legacy_fields();
            }
            src.upper_case_methods();
        }
        // Stable: equal precedence keeps the order the user wrote.
        self.sources
            .sort_by_key(|s| std::cmp::Reverse(s.precedence));
    }

    /// Carries legacy state over from `prev`, the entry being replaced
    /// (Consul's `UpdateOver`): a source's legacy ID may not appear or change,
    /// and a legacy source keeps its original creation time.
    pub fn update_over(&mut self, prev: &ServiceIntentions) -> Result<()> {
        let by_name: HashMap<_, _> = prev.sources.iter().map(|s| (peered(s), s)).collect();
        let by_id: HashMap<_, _> = prev
            .sources
            .iter()
            .filter(|s| !s.legacy_id.is_empty())
            .map(|s| (s.legacy_id.as_str(), s))
            .collect();
        for (i, src) in self.sources.iter_mut().enumerate() {
            if src.legacy_id.is_empty() {
                continue;
            }
            if let Some(old) = by_name.get(&peered(src)) {
                check_legacy_id(i, src, old)?;
            }
            if let Some(old) = by_id.get(src.legacy_id.as_str()) {
                src.legacy_create_time = old.legacy_create_time.clone().filter(|t| !t.is_zero());
            }
        }
        Ok(())
    }
}

/// The key Consul matches sources on across updates: peer plus service name.
fn peered(src: &SourceIntention) -> (String, crate::ServiceName) {
    (src.peer.clone(), src.service())
}

fn check_legacy_id(i: usize, src: &SourceIntention, old: &SourceIntention) -> Result<()> {
    let field = format!("Sources[{i}].LegacyID");
    if old.legacy_id.is_empty() {
        return Err(Error::invalid(field, Problem::LegacyIdSet));
    }
    if old.legacy_id != src.legacy_id {
        return Err(Error::invalid(field, Problem::LegacyIdChanged));
    }
    Ok(())
}

// === impl SourceIntention (normalization) ===

impl SourceIntention {
    /// Defaults the type, and lets a local source inherit the destination's
    /// partition and (non-wildcard) namespace when it names none. Peered
    /// sources keep their own tenancy.
    fn inherit_tenancy(&mut self, partition: &str, namespace: &str) {
        if self.source_type.is_empty() {
            SOURCE_TYPE_CONSUL.clone_into(&mut self.source_type);
        }
        if !self.peer.is_empty() || !self.sameness_group.is_empty() {
            return;
        }
        if self.partition.is_empty() && partition != WILDCARD {
            partition.clone_into(&mut self.partition);
        }
        if self.namespace.is_empty() && namespace != WILDCARD {
            namespace.clone_into(&mut self.namespace);
        }
    }

    fn clear_legacy_fields(&mut self) {
        self.legacy_id.clear();
        self.legacy_create_time = None;
        self.legacy_update_time = None;
    }

    fn upper_case_methods(&mut self) {
        let methods = self
            .permissions
            .iter_mut()
            .filter_map(|p| p.http.as_mut())
            .flat_map(|h| h.methods.iter_mut());
        for m in methods {
            *m = m.to_uppercase();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, HttpPermission, IntentionPermission, Timestamp};

    #[test]
    fn computes_precedence_and_sorts() {
        let mut e = ServiceIntentions::new("db");
        e.sources = vec![
            SourceIntention::l4("*", Action::Deny),
            SourceIntention::l4("web", Action::Allow),
        ];
        e.normalize();
        assert_eq!(e.kind, "service-intentions");
        let got: Vec<_> = e
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.precedence))
            .collect();
        assert_eq!(got, [("web", 9), ("*", 8)]);
        assert!(e.sources.iter().all(|s| s.source_type == "consul"));
    }

    #[test]
    fn upper_cases_methods_and_clears_legacy_fields() {
        let http = HttpPermission {
            methods: vec!["get".into()],
            ..HttpPermission::default()
        };
        let mut src =
            SourceIntention::l7("web", vec![IntentionPermission::new(Action::Allow, http)]);
        src.legacy_id = "x".into();
        src.legacy_create_time = Some(Timestamp::from_unix(0, 0));
        let mut e = ServiceIntentions::new("db");
        e.sources.push(src);
        e.normalize();
        let s = &e.sources[0];
        assert_eq!(s.permissions[0].http.as_ref().unwrap().methods, ["GET"]);
        assert!(s.legacy_id.is_empty() && s.legacy_create_time.is_none());
    }

    #[test]
    fn sources_inherit_destination_namespace() {
        let mut e = ServiceIntentions::new("db");
        e.namespace = "apps".into();
        e.sources = vec![SourceIntention::l4("web", Action::Allow)];
        e.normalize();
        assert_eq!(e.sources[0].namespace, "apps");
    }

    #[test]
    fn update_over_keeps_create_time_and_guards_ids() {
        let t0 = Timestamp::from_unix(100, 0);
        let mut prev = ServiceIntentions::new("db");
        let mut old = SourceIntention::l4("web", Action::Allow);
        old.legacy_id = "id-1".into();
        old.legacy_create_time = Some(t0.clone());
        prev.sources.push(old.clone());

        let mut next = prev.clone();
        next.sources[0].legacy_create_time = Some(Timestamp::from_unix(200, 0));
        next.update_over(&prev).unwrap();
        assert_eq!(next.sources[0].legacy_create_time, Some(t0));

        next.sources[0].legacy_id = "id-2".into();
        let err = next.update_over(&prev).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Sources[0].LegacyID: cannot set this field to a different value"
        );

        prev.sources[0].legacy_id.clear();
        let err = next.update_over(&prev).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Sources[0].LegacyID: cannot set this field"
        );
    }
}
