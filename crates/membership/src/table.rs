//! The member table: what `members()` reports, kept from foca's
//! notifications and the leave intents.
//!
//! Pure logic: the caller passes the time.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::identity::NodeId;
use crate::intent::{Intent, IntentKind};
use crate::member::{Member, MemberStatus};

/// Every member the pool knows, failed and left ones included until reaped.
pub(crate) struct Table {
    local: Entry,
    others: BTreeMap<String, Entry>,
    /// The newest intent seen per name, to drop repeats and to tell a leave
    /// from a failure when foca reports the member down.
    intents: HashMap<String, SeenIntent>,
    /// Bumped on every change readers can see.
    version: u64,
    /// An intent claimed that the local node, alive, is leaving: the driver
    /// refutes it by moving to a new generation.
    refute: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    id: NodeId,
    status: MemberStatus,
    /// When `status` last changed.
    since: Instant,
}

#[derive(Debug, Clone, Copy)]
struct SeenIntent {
    kind: IntentKind,
    generation: u64,
    at: Instant,
}

// === impl Table ===

impl Table {
    pub(crate) fn new(local: NodeId, now: Instant) -> Self {
        Self {
            local: Entry {
                id: local,
                status: MemberStatus::Alive,
                since: now,
            },
            others: BTreeMap::new(),
            intents: HashMap::new(),
            version: 0,
            refute: false,
        }
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn local(&self) -> Member {
        self.local.id.to_member(self.local.status)
    }

    pub(crate) fn local_id(&self) -> &NodeId {
        &self.local.id
    }

    pub(crate) fn local_name(&self) -> &str {
        &self.local.id.name
    }

    /// Every member, sorted by name.
    pub(crate) fn members(&self) -> Vec<Member> {
        let mut all: Vec<Member> = self
            .others
            .values()
            .map(|e| e.id.to_member(e.status))
            .collect();
        let at = all.partition_point(|m| m.name < self.local.id.name);
        all.insert(at, self.local());
        all
    }

    /// The generation we know for a member other than the local one.
    pub(crate) fn generation_of(&self, name: &str) -> Option<u64> {
        self.others.get(name).map(|e| e.id.generation)
    }

    /// The local identity changed (new tags, or a rejoin).
    pub(crate) fn set_local(&mut self, id: NodeId) {
        if self.local.id != id {
            self.local.id = id;
            self.bump();
        }
    }

    /// Shows new local tags before the driver moves to a new generation.
    pub(crate) fn set_local_tags(&mut self, tags: BTreeMap<String, String>) {
        if self.local.id.tags != tags {
            self.local.id.tags = tags;
            self.bump();
        }
    }

    pub(crate) fn set_local_status(&mut self, status: MemberStatus, now: Instant) {
        if self.local.status != status {
            self.local.status = status;
            self.local.since = now;
            self.bump();
        }
    }

    /// foca reports `id` up. Returns whether anything changed.
    pub(crate) fn member_up(&mut self, id: &NodeId, now: Instant) -> bool {
        if id.name == self.local.id.name {
            return false;
        }
        let status = if self.intent_covers(id, Some(IntentKind::Leave)) {
            MemberStatus::Leaving
        } else {
            MemberStatus::Alive
        };
        self.upsert(id, status, now)
    }

    /// foca reports `id` down: `left` if it announced a leave for this
    /// generation (or was force-left), `failed` otherwise. Returns the new
    /// status if anything changed.
    pub(crate) fn member_down(&mut self, id: &NodeId, now: Instant) -> Option<MemberStatus> {
        if id.name == self.local.id.name {
            return None;
        }
        let status = if self.intent_covers(id, None) {
            MemberStatus::Left
        } else {
            MemberStatus::Failed
        };
        self.upsert(id, status, now).then_some(status)
    }

    /// foca replaced an identity of a name with a newer one. Liveness does
    /// not change here: foca reports up or down separately when it does.
    pub(crate) fn rename(&mut self, new: &NodeId) -> bool {
        match self.others.get_mut(&new.name) {
            Some(e) if e.id.generation <= new.generation && e.id != *new => {
                e.id = new.clone();
                self.bump();
                true
            }
            _ => false,
        }
    }

    /// Applies a leave intent. Returns whether it is news worth spreading.
    pub(crate) fn receive_intent(&mut self, intent: &Intent, now: Instant) -> bool {
        if self
            .intents
            .get(&intent.name)
            .is_some_and(|seen| !supersedes(intent, seen))
        {
            return false;
        }
        if intent.name == self.local.id.name {
            return self.intent_about_us(intent, now);
        }
        if self
            .others
            .get(&intent.name)
            .is_some_and(|e| e.id.generation > intent.generation)
        {
            return false;
        }
        self.record(intent, now);
        if let Some(e) = self.others.get_mut(&intent.name) {
            let next = match (intent.kind, e.status) {
                (_, MemberStatus::Failed) => MemberStatus::Left,
                (IntentKind::Leave, MemberStatus::Alive) => MemberStatus::Leaving,
                (_, same) => same,
            };
            let changed = next != e.status;
            if changed {
                e.status = next;
                e.since = now;
            }
            let prune =
                intent.kind == IntentKind::ForceLeavePrune && e.status == MemberStatus::Left;
            if prune {
                self.others.remove(&intent.name);
            }
            if changed || prune {
                self.bump();
            }
        }
        true
    }

    /// Whether an intent asked the driver to refute a leave of the local
    /// node; clears the request.
    pub(crate) fn take_refute(&mut self) -> bool {
        std::mem::take(&mut self.refute)
    }

    /// Only our own leave, while leaving, is news. A (force-)leave of our
    /// current generation while we are alive gets refuted, as Serf does.
    fn intent_about_us(&mut self, intent: &Intent, now: Instant) -> bool {
        if intent.generation != self.local.id.generation {
            return false;
        }
        if self.local.status == MemberStatus::Alive {
            self.refute = true;
            return false;
        }
        let ours = intent.kind == IntentKind::Leave;
        if ours {
            self.record(intent, now);
        }
        ours
    }

    /// Drops members failed or left for `after`, and intents as old.
    /// Returns the names dropped.
    pub(crate) fn reap(&mut self, now: Instant, after: Duration) -> Vec<String> {
        let expired: Vec<String> = self
            .others
            .iter()
            .filter(|(_, e)| e.status.is_gone() && now.saturating_duration_since(e.since) >= after)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &expired {
            self.others.remove(name);
        }
        self.intents
            .retain(|_, seen| now.saturating_duration_since(seen.at) < after);
        if !expired.is_empty() {
            self.bump();
        }
        expired
    }

    fn upsert(&mut self, id: &NodeId, status: MemberStatus, now: Instant) -> bool {
        match self.others.get_mut(&id.name) {
            Some(e) if e.id.generation > id.generation => false,
            Some(e) if e.id == *id && e.status == status => false,
            Some(e) => {
                e.id = id.clone();
                if e.status != status {
                    e.status = status;
                    e.since = now;
                }
                self.bump();
                true
            }
            None => {
                let entry = Entry {
                    id: id.clone(),
                    status,
                    since: now,
                };
                self.others.insert(id.name.clone(), entry);
                self.bump();
                true
            }
        }
    }

    /// Whether an intent (of `kind`, or any) covers this generation of `id`.
    fn intent_covers(&self, id: &NodeId, kind: Option<IntentKind>) -> bool {
        self.intents.get(&id.name).is_some_and(|seen| {
            seen.generation >= id.generation && kind.is_none_or(|k| k == seen.kind)
        })
    }

    fn record(&mut self, intent: &Intent, now: Instant) {
        let seen = SeenIntent {
            kind: intent.kind,
            generation: intent.generation,
            at: now,
        };
        self.intents.insert(intent.name.clone(), seen);
    }

    fn bump(&mut self) {
        self.version = self.version.wrapping_add(1);
    }
}

/// Whether `intent` is news after `seen`: a newer generation, or a prune
/// of the generation that was only (force-)left before.
fn supersedes(intent: &Intent, seen: &SeenIntent) -> bool {
    intent.generation > seen.generation
        || (intent.generation == seen.generation
            && intent.kind == IntentKind::ForceLeavePrune
            && seen.kind != IntentKind::ForceLeavePrune)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn id(name: &str, generation: u64) -> NodeId {
        NodeId {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8301)),
            generation,
            tags: BTreeMap::new(),
        }
    }

    fn intent(kind: IntentKind, name: &str, generation: u64) -> Intent {
        Intent {
            kind,
            name: name.to_owned(),
            generation,
        }
    }

    fn status(table: &Table, name: &str) -> Option<MemberStatus> {
        table
            .members()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.status)
    }

    fn table() -> (Table, Instant) {
        let now = Instant::now();
        (Table::new(id("me", 1), now), now)
    }

    #[test]
    fn down_without_intent_is_failed() {
        let (mut t, now) = table();
        assert!(t.member_up(&id("b", 1), now));
        assert!(!t.member_up(&id("b", 1), now), "repeat is no change");
        assert_eq!(t.member_down(&id("b", 1), now), Some(MemberStatus::Failed));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Failed));
        assert_eq!(t.members().len(), 2, "failed members stay listed");
    }

    #[test]
    fn intent_then_down_is_left() {
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        assert!(t.receive_intent(&intent(IntentKind::Leave, "b", 1), now));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Leaving));
        assert!(
            !t.receive_intent(&intent(IntentKind::Leave, "b", 1), now),
            "repeat"
        );
        assert_eq!(t.member_down(&id("b", 1), now), Some(MemberStatus::Left));
    }

    #[test]
    fn down_then_intent_is_left() {
        // foca applies a packet's updates before its custom broadcasts.
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        t.member_down(&id("b", 1), now);
        assert!(t.receive_intent(&intent(IntentKind::Leave, "b", 1), now));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Left));
    }

    #[test]
    fn prune_forgets_a_failed_or_left_member_everywhere() {
        let (mut t, now) = table();
        for name in ["b", "c"] {
            t.member_up(&id(name, 1), now);
            t.member_down(&id(name, 1), now);
        }
        assert!(t.receive_intent(&intent(IntentKind::ForceLeave, "c", 1), now));
        assert!(t.receive_intent(&intent(IntentKind::ForceLeavePrune, "b", 1), now));
        assert!(
            t.receive_intent(&intent(IntentKind::ForceLeavePrune, "c", 1), now),
            "a prune after a force-leave of the same generation is news"
        );
        assert!(!t.receive_intent(&intent(IntentKind::ForceLeavePrune, "c", 1), now));
        assert_eq!((status(&t, "b"), status(&t, "c")), (None, None));
    }

    #[test]
    fn force_leave_only_moves_failed_members() {
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        t.member_up(&id("c", 1), now);
        t.member_down(&id("c", 1), now);
        assert!(t.receive_intent(&intent(IntentKind::ForceLeave, "b", 1), now));
        assert!(t.receive_intent(&intent(IntentKind::ForceLeave, "c", 1), now));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Alive));
        assert_eq!(status(&t, "c"), Some(MemberStatus::Left));
    }

    #[test]
    fn stale_intents_are_ignored() {
        let (mut t, now) = table();
        t.member_up(&id("b", 5), now);
        assert!(!t.receive_intent(&intent(IntentKind::Leave, "b", 4), now));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Alive));
        assert_eq!(t.member_down(&id("b", 5), now), Some(MemberStatus::Failed));
    }

    #[test]
    fn intents_about_us_are_refuted_unless_we_leave() {
        let (mut t, now) = table();
        assert!(!t.receive_intent(&intent(IntentKind::ForceLeave, "me", 0), now));
        assert!(!t.take_refute(), "an older generation is not about us");
        assert!(!t.receive_intent(&intent(IntentKind::ForceLeave, "me", 1), now));
        assert!(t.take_refute());
        assert!(!t.take_refute(), "taking clears the request");
        assert!(!t.receive_intent(&intent(IntentKind::Leave, "me", 1), now));
        assert!(t.take_refute());
        assert_eq!(t.local().status, MemberStatus::Alive);
        t.set_local_status(MemberStatus::Leaving, now);
        assert!(t.receive_intent(&intent(IntentKind::Leave, "me", 1), now));
        assert!(!t.take_refute());
    }

    #[test]
    fn newer_generation_comes_back_alive() {
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        t.member_down(&id("b", 1), now);
        // foca: Rename(b#1, b#2) then MemberUp(b#2).
        assert!(t.rename(&id("b", 2)));
        assert!(t.member_up(&id("b", 2), now));
        assert_eq!(status(&t, "b"), Some(MemberStatus::Alive));
        assert_eq!(t.generation_of("b"), Some(2));
        // Late news about the old generation changes nothing.
        assert_eq!(t.member_down(&id("b", 1), now), None);
        assert!(!t.member_up(&id("b", 1), now));
        assert!(!t.rename(&id("b", 1)));
    }

    #[test]
    fn left_member_restarting_is_alive() {
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        t.receive_intent(&intent(IntentKind::Leave, "b", 1), now);
        t.member_down(&id("b", 1), now);
        t.rename(&id("b", 2));
        t.member_up(&id("b", 2), now);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Alive));
        assert_eq!(t.member_down(&id("b", 2), now), Some(MemberStatus::Failed));
    }

    #[test]
    fn reaps_gone_members_after_the_timeout() {
        let (mut t, now) = table();
        t.member_up(&id("b", 1), now);
        t.member_up(&id("c", 1), now);
        t.member_down(&id("c", 1), now);
        let later = now + Duration::from_secs(10);
        assert!(t.reap(later, Duration::from_secs(11)).is_empty());
        assert_eq!(t.reap(later, Duration::from_secs(10)), ["c"]);
        let names: Vec<String> = t.members().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["b", "me"]);
    }

    #[test]
    fn versions_rise_on_visible_changes_only() {
        let (mut t, now) = table();
        let v0 = t.version();
        t.member_up(&id("b", 1), now);
        let v1 = t.version();
        assert!(v1 > v0);
        t.member_up(&id("b", 1), now);
        assert_eq!(t.version(), v1);
        t.set_local(id("me", 2));
        assert!(t.version() > v1);
    }
}
