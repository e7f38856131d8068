//! Intentions without precedence (Consul's `rbac.go` semantics).
//!
//! Envoy RBAC either allows or denies what its policies match; Consul
//! intentions are an ordered list of allows and denies. With the default
//! action fixed, every intention of the *other* action becomes a rule, and
//! each is narrowed by AND-NOT of the higher-precedence sources it covers:
//!
//! ```text
//!  A allow (9), B deny (8), C allow (7), default deny  ──►  ALLOW [A, C AND NOT B]
//! ```
//!
//! L7 intentions (HTTP services only) keep their own principal and list
//! their permissions, precedence among permissions removed the same way.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::rbac::v3::Permission;
use skein_intention::{Action, Intention, IntentionPermission, precedence};
use skein_proxycfg::ProxySnapshot;

use super::matchers;
use crate::error::{Error, Result};

const WILDCARD: &str = "*";

/// The identity an intention applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Source {
    /// Partition (`default` when unset).
    pub(crate) partition: String,
    /// Namespace (`default` when unset; may be `*`).
    pub(crate) namespace: String,
    /// Service name (may be `*`).
    pub(crate) name: String,
}

/// What a rule does to matching traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
    /// Decided per request by permissions.
    Layer7,
}

/// An intention with precedence removed: its source narrowed by the
/// higher-precedence sources it covers.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The source.
    pub(crate) source: Source,
    /// Higher-precedence sources carved out of it.
    pub(crate) not_sources: Vec<Source>,
    /// What it does.
    pub(crate) verdict: Verdict,
    /// For L7 rules, the permissions (precedence removed).
    pub(crate) permissions: Vec<Permission>,
}

/// A permission of an L7 intention, during precedence removal.
#[derive(Debug, Clone)]
struct PermissionRule {
    verdict: Verdict,
    perm: Permission,
    not_perms: Vec<Permission>,
    skip: bool,
}

/// An intention during precedence removal.
#[derive(Debug, Clone)]
struct Pending {
    source: Source,
    not_sources: Vec<Source>,
    verdict: Verdict,
    permissions: Vec<PermissionRule>,
    skip: bool,
}

/// The rules whose verdict differs from the default, in precedence order.
pub(crate) fn rules(s: &ProxySnapshot, http: bool) -> Result<Vec<Rule>> {
    let default = if s.default_allow {
        Verdict::Allow
    } else {
        Verdict::Deny
    };
    let mut pending = Vec::new();
    for ixn in ordered(&s.intentions) {
        pending.push(to_pending(&ixn, http)?);
    }
    let retained = remove_source_precedence(pending, default);
    Ok(retained
        .into_iter()
        .filter_map(|p| finish(p, default))
        .collect())
}

/// Intentions sorted by precedence, lower-precedence duplicates of a
/// source dropped. Peered and sameness-group sources are left out: their
/// identities need trust bundles the snapshot does not carry.
fn ordered(intentions: &[Intention]) -> Vec<Intention> {
    let mut list: Vec<Intention> = intentions
        .iter()
        .filter(|i| local_source(i))
        .map(with_precedence)
        .collect();
    precedence::sort(&mut list);
    let mut seen = BTreeSet::new();
    list.retain(|i| seen.insert(source_of(i)));
    list
}

fn local_source(ixn: &Intention) -> bool {
    let local = ixn.source_peer.is_empty() && ixn.source_sameness_group.is_empty();
    if !local {
        tracing::debug!(source = %ixn.source_name, "skipping intention from a peer or sameness group");
    }
    local
}

fn with_precedence(ixn: &Intention) -> Intention {
    let mut ixn = ixn.clone();
    ixn.fill_defaults();
    ixn.precedence = precedence::precedence(
        &ixn.source_ns,
        &ixn.source_name,
        &ixn.destination_ns,
        &ixn.destination_name,
    );
    ixn
}

fn source_of(ixn: &Intention) -> Source {
    let name = ixn.source();
    Source {
        partition: name.partition,
        namespace: name.namespace,
        name: name.name,
    }
}

fn to_pending(ixn: &Intention, http: bool) -> Result<Pending> {
    let source = source_of(ixn);
    source.check()?;
    let (verdict, permissions) = match (ixn.permissions.is_empty(), http) {
        (true, _) => (verdict_of(ixn.action.as_ref()), Vec::new()),
        (false, true) => (
            Verdict::Layer7,
            ixn.permissions.iter().map(permission_rule).collect(),
        ),
        // L7 intentions on a TCP service deny.
        (false, false) => (Verdict::Deny, Vec::new()),
    };
    Ok(Pending {
        source,
        not_sources: Vec::new(),
        verdict,
        permissions,
        skip: false,
    })
}

/// Anything but `allow` denies.
fn verdict_of(action: Option<&Action>) -> Verdict {
    match action {
        Some(Action::Allow) => Verdict::Allow,
        _ => Verdict::Deny,
    }
}

fn permission_rule(p: &IntentionPermission) -> PermissionRule {
    PermissionRule {
        verdict: verdict_of(p.action.as_ref()),
        perm: matchers::permission(p),
        not_perms: Vec::new(),
        skip: false,
    }
}

/// Walking from the lowest precedence up, carves each source out of every
/// lower-precedence rule whose source covers it, then drops the rules
/// whose verdict is the default (the default handles them).
fn remove_source_precedence(mut list: Vec<Pending>, default: Verdict) -> Vec<Pending> {
    for i in (0..list.len()).rev() {
        let higher = list[i].source.clone();
        for lower in list.iter_mut().skip(i + 1).filter(|l| !l.skip) {
            if higher.covered_by(&lower.source) {
                lower.not_sources.push(higher.clone());
            }
        }
        list[i].skip = list[i].verdict == default;
    }
    list.retain(|p| !p.skip);
    for p in &mut list {
        p.not_sources = simplify_not_sources(std::mem::take(&mut p.not_sources));
    }
    list
}

/// Drops carved-out sources that another carved-out source already covers.
fn simplify_not_sources(mut sources: Vec<Source>) -> Vec<Source> {
    sources.sort_by_key(Source::wildcards);
    let keep: Vec<bool> = sources
        .iter()
        .enumerate()
        .map(|(i, si)| !sources[i + 1..].iter().any(|sj| si.covered_by(sj)))
        .collect();
    sources
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

/// The final rule, with permission precedence removed; `None` for an L7
/// rule whose permissions all had the default verdict.
fn finish(p: Pending, default: Verdict) -> Option<Rule> {
    let permissions = remove_permission_precedence(p.permissions, default);
    if p.verdict == Verdict::Layer7 && permissions.is_empty() {
        return None;
    }
    Some(Rule {
        source: p.source,
        not_sources: p.not_sources,
        verdict: p.verdict,
        permissions,
    })
}

/// Each permission is narrowed by AND-NOT of every higher one; those with
/// the default verdict are then dropped.
fn remove_permission_precedence(
    mut perms: Vec<PermissionRule>,
    default: Verdict,
) -> Vec<Permission> {
    for i in (0..perms.len()).rev() {
        let higher = perms[i].perm.clone();
        for lower in perms.iter_mut().skip(i + 1).filter(|l| !l.skip) {
            lower.not_perms.push(higher.clone());
        }
        perms[i].skip = perms[i].verdict == default;
    }
    perms
        .into_iter()
        .filter(|p| !p.skip)
        .map(|p| matchers::and_not(p.perm, p.not_perms))
        .collect()
}

// === impl Source ===

impl Source {
    /// How many of namespace and name are wildcards (a wildcard namespace
    /// implies a wildcard name).
    fn wildcards(&self) -> u8 {
        if self.namespace == WILDCARD {
            2
        } else if self.name == WILDCARD {
            1
        } else {
            0
        }
    }

    /// Whether `wider`, through its wildcards, includes every service this
    /// source names (and is not the same source).
    pub(crate) fn covered_by(&self, wider: &Source) -> bool {
        self.wildcards() < wider.wildcards()
            && self.partition == wider.partition
            && (self.namespace == wider.namespace || wider.namespace == WILDCARD)
            && (self.name == wider.name || wider.name == WILDCARD)
    }

    /// Rejects wildcards Consul never stores: a wildcard partition, or a
    /// wildcard namespace with an exact name.
    fn check(&self) -> Result<()> {
        let bad_ns = self.namespace == WILDCARD && self.name != WILDCARD;
        if bad_ns || self.partition == WILDCARD {
            return Err(Error::InvalidSource {
                source_name: format!("{}/{}/{}", self.partition, self.namespace, self.name),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
