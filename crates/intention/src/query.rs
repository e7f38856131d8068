//! Read side of the intentions view, over the `service-intentions` entries
//! the caller holds: list, get (by legacy ID or exact names), match (by source
//! or destination, wildcards included, precedence order) and the allow/deny
//! decision behind `/v1/connect/intentions/check`.

use crate::Action;
use crate::entry::{ServiceIntentions, SourceIntention};
use crate::error::Result;
use crate::legacy::Intention;
use crate::mutation::check_id;
use crate::name::{DEFAULT_PARTITION, ServiceName, WILDCARD, or_default};
use crate::precedence::sort;

/// Meta key naming the system that manages an intention (e.g. Kubernetes).
pub const META_EXTERNAL_SOURCE: &str = "external-source";

/// Which side of intentions a match or decision looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    /// Intentions whose source covers the target (`by=source`).
    Source,
    /// Intentions whose destination covers the target (`by=destination`).
    Destination,
}

/// Summary of the intention deciding a connection (Consul's
/// `IntentionDecisionSummary`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Whether the connection is allowed.
    pub allowed: bool,
    /// The deciding intention has L7 permissions.
    pub has_permissions: bool,
    /// The deciding intention's `external-source` meta, if any.
    pub external_source: String,
    /// The deciding intention names both services exactly.
    pub has_exact: bool,
    /// The default that applies when nothing matches.
    pub default_allow: bool,
}

/// Every intention, in Consul's listing order (`GET /v1/connect/intentions`).
pub fn list<'a>(entries: impl IntoIterator<Item = &'a ServiceIntentions>) -> Vec<Intention> {
    let mut out: Vec<Intention> = entries
        .into_iter()
        .flat_map(|e| e.to_intentions())
        .collect();
    sort(&mut out);
    out
}

/// The intention with legacy ID `id` (`GET /v1/connect/intentions/:id`).
/// Fails if `id` is not a UUID.
pub fn get_by_id<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    id: &str,
) -> Result<Option<Intention>> {
    check_id(id)?;
    Ok(find_legacy(entries, id).map(|(e, s)| e.to_intention(s)))
}

/// The intention from `source` (in `source_peer`, empty for local) to
/// `destination` (`GET /v1/connect/intentions/exact`).
pub fn get_exact<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    source: &ServiceName,
    source_peer: &str,
    destination: &ServiceName,
) -> Option<Intention> {
    let entry = entry_for(entries, destination)?;
    let src = entry
        .sources
        .iter()
        .find(|s| s.peer == source_peer && &s.service() == source)?;
    Some(entry.to_intention(src))
}

/// Intentions that apply to `target` on the given side, wildcards included,
/// highest precedence first (`GET /v1/connect/intentions/match`). Matching by
/// source only considers local sources (no peer, no sameness group).
pub fn matches<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    by: MatchBy,
    target: &ServiceName,
) -> Vec<Intention> {
    let mut out = Vec::new();
    for entry in entries {
        match by {
            MatchBy::Destination if covers(&entry.destination(), target) => {
                out.extend(entry.to_intentions());
            }
            MatchBy::Destination => {}
            MatchBy::Source => out.extend(
                entry
                    .sources
                    .iter()
                    .filter(|s| local_source_covers(s, target))
                    .map(|s| entry.to_intention(s)),
            ),
        }
    }
    sort(&mut out);
    out
}

/// Whether `source` may connect to `destination` (`GET
/// /v1/connect/intentions/check`): the highest-precedence matching intention
/// decides; one with L7 permissions counts as deny; no match means `default_allow`.
pub fn check<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    source: &ServiceName,
    destination: &ServiceName,
    default_allow: bool,
) -> bool {
    let candidates = matches(entries, MatchBy::Source, source);
    let target = Target {
        service: destination,
        peer: "",
        by: MatchBy::Destination,
    };
    decide(&candidates, &target, default_allow, false).allowed
}

/// The side of a decision and the service (and peer) it is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The service the intentions must cover.
    pub service: &'a ServiceName,
    /// Its peer (empty for local); only compared when matching by source.
    pub peer: &'a str,
    /// Which side of the intentions `service` is.
    pub by: MatchBy,
}

/// Consul's `IntentionDecision`: the first of `intentions` (already in
/// precedence order) covering `target` decides. `allow_permissions` is the
/// verdict for an L7 intention, which cannot be judged without a request.
pub fn decide(
    intentions: &[Intention],
    target: &Target<'_>,
    default_allow: bool,
    allow_permissions: bool,
) -> Decision {
    let mut out = Decision {
        allowed: default_allow,
        default_allow,
        ..Decision::default()
    };
    let Some(ixn) = intentions.iter().find(|i| intention_covers(i, target)) else {
        return out;
    };
    out.allowed = ixn.action == Some(Action::Allow);
    if !ixn.permissions.is_empty() {
        out.allowed = allow_permissions;
        out.has_permissions = true;
    }
    out.external_source = ixn
        .meta
        .get(META_EXTERNAL_SOURCE)
        .cloned()
        .unwrap_or_default();
    out.has_exact = ixn.source_name != WILDCARD && ixn.destination_name != WILDCARD;
    out
}

/// Whether `ixn`'s side named by `target.by` covers the target service
/// (Consul's `connect.IntentionMatch`).
pub fn intention_covers(ixn: &Intention, target: &Target<'_>) -> bool {
    let t = target.service;
    let (partition, ns, name) = match target.by {
        MatchBy::Destination => (
            &ixn.destination_partition,
            &ixn.destination_ns,
            &ixn.destination_name,
        ),
        MatchBy::Source if ixn.source_peer != target.peer => return false,
        MatchBy::Source => (&ixn.source_partition, &ixn.source_ns, &ixn.source_name),
    };
    or_default(partition, DEFAULT_PARTITION) == t.partition
        && (ns == WILDCARD || *ns == t.namespace)
        && (name == WILDCARD || *name == t.name)
}

/// The entry whose destination is `destination`.
pub(crate) fn entry_for<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    destination: &ServiceName,
) -> Option<&'a ServiceIntentions> {
    entries
        .into_iter()
        .find(|e| &e.destination() == destination)
}

/// The entry and source carrying legacy ID `id`.
pub(crate) fn find_legacy<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    id: &str,
) -> Option<(&'a ServiceIntentions, &'a SourceIntention)> {
    entries
        .into_iter()
        .find_map(|e| e.source_by_legacy_id(id).map(|s| (e, s)))
}

/// Whether the name pattern `pattern` (an entry destination or a source)
/// covers `target`: same partition, and `ns/name`, `ns/*` or `*/*`.
fn covers(pattern: &ServiceName, target: &ServiceName) -> bool {
    if pattern.partition != target.partition {
        return false;
    }
    if pattern.namespace == WILDCARD {
        return pattern.name == WILDCARD;
    }
    pattern.namespace == target.namespace
        && (pattern.name == WILDCARD || (target.name != WILDCARD && pattern.name == target.name))
}

fn local_source_covers(src: &SourceIntention, target: &ServiceName) -> bool {
    src.peer.is_empty() && src.sameness_group.is_empty() && covers(&src.service(), target)
}
