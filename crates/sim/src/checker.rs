//! The invariants, checked against what the simulation observes: samples of
//! each server's Raft metrics, the writes the client saw acknowledged, and
//! the final reads of every server's store.
//!
//! skein runs openraft in its default ("advanced") mode: a leader id is
//! `(term, node id)`, totally ordered, and a server grants any vote higher
//! than the one it holds. One term may therefore see several leaders, and
//! not always in node id order: a candidate whose grant was delayed can
//! win after a higher candidate of its term already leads (s2 grants
//! T21-N1, then T21-N3; s3 wins; then s2's first grant reaches s1, which
//! wins too). Such a leader is superseded from the start: a quorum already
//! holds a higher vote and refuses its entries. So what Raft's "one leader
//! per term" protects is checked directly: a superseded leader commits
//! nothing (leader ids never decrease along the log), a log index is never
//! applied from two different leaders, and votes never go back.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Result, Violation};

/// openraft's leader id: `(term, node id)`.
pub(crate) type LeaderId = (u64, u64);

/// A vote: the leader id voted for, and whether a quorum granted it.
pub(crate) type Vote = (LeaderId, bool);

/// One sample of a server's Raft metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The server's Raft id.
    pub(crate) node: u64,
    /// Counts the server's (re)starts; the applied index may only go back
    /// across one.
    pub(crate) incarnation: u64,
    /// The server's vote (for a leader: its own leader id, committed).
    pub(crate) vote: Vote,
    /// Whether the server is leader.
    pub(crate) leader: bool,
    /// Leader id and index of the last applied entry.
    pub(crate) applied: Option<(LeaderId, u64)>,
}

/// A write the client saw acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The key written (unique per write).
    pub(crate) key: String,
    /// The value written.
    pub(crate) value: String,
    /// The leader id of the entry.
    pub(crate) leader: LeaderId,
    /// The log index of the entry.
    pub(crate) index: u64,
}

/// Accumulates observations and reports the first broken invariant.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    seed: u64,
    /// Every leader id seen leading.
    elected: BTreeSet<LeaderId>,
    /// node → the highest vote seen, across restarts.
    votes: BTreeMap<u64, Vote>,
    /// node → (incarnation, last applied index).
    applied: BTreeMap<u64, (u64, u64)>,
    /// log index → the leader id of the entry applied there.
    entries: BTreeMap<u64, LeaderId>,
    /// log index → the write acknowledged there.
    acks: BTreeMap<u64, Ack>,
}

fn show(leader: LeaderId) -> String {
    format!("T{}-N{}", leader.0, leader.1)
}

fn show_vote((leader, committed): Vote) -> String {
    let state = if committed {
        "committed"
    } else {
        "uncommitted"
    };
    format!("{}:{state}", show(leader))
}

// === impl Checker ===

impl Checker {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Leaders elected (distinct leader ids seen leading).
    pub(crate) fn leaders_elected(&self) -> usize {
        self.elected.len()
    }

    /// The acknowledged writes, by log index.
    pub(crate) fn acks(&self) -> impl Iterator<Item = &Ack> {
        self.acks.values()
    }

    /// Checks one metrics sample.
    pub(crate) fn observe(&mut self, s: Sample) -> Result<()> {
        self.vote(s.node, s.vote)?;
        if s.leader {
            self.elected.insert((s.vote.0.0, s.node));
        }
        let Some((leader, index)) = s.applied else {
            return Ok(());
        };
        if let Some(&(incarnation, from)) = self.applied.get(&s.node)
            && incarnation == s.incarnation
            && index < from
        {
            return Err(Violation::IndexWentBack {
                seed: self.seed,
                node: s.node,
                from,
                to: index,
            });
        }
        self.applied.insert(s.node, (s.incarnation, index));
        self.entry(s.node, leader, index)
    }

    /// Records an acknowledged write: its index must be new and agree with
    /// the entries applied there.
    pub(crate) fn ack(&mut self, node: u64, ack: Ack) -> Result<()> {
        if let Some(first) = self.acks.get(&ack.index) {
            return Err(Violation::DuplicateIndex {
                seed: self.seed,
                index: ack.index,
                first_key: first.key.clone(),
                second_key: ack.key,
            });
        }
        self.entry(node, ack.leader, ack.index)?;
        self.acks.insert(ack.index, ack);
        Ok(())
    }

    /// Checks what `node` holds for an acknowledged write: `found` is the
    /// value and modify index read from its store.
    pub(crate) fn check_read(
        &self,
        node: u64,
        ack: &Ack,
        found: Option<(String, u64)>,
    ) -> Result<()> {
        let found = match found {
            Some((value, index)) if value == ack.value && index == ack.index => return Ok(()),
            Some((value, index)) => format!("{value:?} at index {index}"),
            None => "nothing".to_owned(),
        };
        Err(Violation::LostWrite {
            seed: self.seed,
            node,
            key: ack.key.clone(),
            expected: ack.value.clone(),
            index: ack.index,
            found,
        })
    }

    /// A vote, once seen, never goes back, not even across a restart.
    fn vote(&mut self, node: u64, vote: Vote) -> Result<()> {
        match self.votes.get(&node) {
            Some(&from) if vote < from => Err(Violation::VoteWentBack {
                seed: self.seed,
                node,
                from: show_vote(from),
                to: show_vote(vote),
            }),
            _ => {
                self.votes.insert(node, vote);
                Ok(())
            }
        }
    }

    fn entry(&mut self, node: u64, leader: LeaderId, index: u64) -> Result<()> {
        let first = *self.entries.entry(index).or_insert(leader);
        if first != leader {
            return Err(Violation::DivergentLog {
                seed: self.seed,
                node,
                index,
                first: show(first),
                second: show(leader),
            });
        }
        self.in_leader_id_order(index, leader)
    }

    /// The entry at `index` has a leader id no lower than the entry before
    /// it and no higher than the entry after it: an entry of a lower leader
    /// id behind one of a higher id would have been committed by a leader
    /// that was already superseded.
    fn in_leader_id_order(&self, index: u64, leader: LeaderId) -> Result<()> {
        let before = self.entries.range(..index).next_back();
        let after = self.entries.range(index + 1..).next();
        let pair = match (before, after) {
            (Some((&i, &l)), _) if l > leader => Some(((i, l), (index, leader))),
            (_, Some((&i, &l))) if l < leader => Some(((index, leader), (i, l))),
            _ => None,
        };
        match pair {
            Some(((earlier, higher), (later, lower))) => {
                Err(Violation::SupersededLeaderCommitted {
                    seed: self.seed,
                    earlier,
                    higher: show(higher),
                    later,
                    lower: show(lower),
                })
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(node: u64, term: u64, leader: bool, applied: Option<(u64, u64)>) -> Sample {
        Sample {
            node,
            incarnation: 0,
            vote: ((term, if leader { node } else { 1 }), true),
            leader,
            applied: applied.map(|(t, i)| ((t, 1), i)),
        }
    }

    fn ack(key: &str, term: u64, index: u64) -> Ack {
        Ack {
            key: key.to_owned(),
            value: format!("v-{key}"),
            leader: (term, 1),
            index,
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let mut c = Checker::new(7);
        c.observe(sample(1, 1, true, Some((1, 1)))).unwrap();
        c.observe(sample(2, 1, false, Some((1, 1)))).unwrap();
        c.ack(1, ack("a", 1, 2)).unwrap();
        // s3 supersedes s1 in the same term (openraft's default mode), and
        // s1 still believes it leads for a while.
        c.observe(sample(3, 1, true, Some((1, 2)))).unwrap();
        c.observe(sample(1, 1, true, Some((1, 2)))).unwrap();
        c.observe(sample(2, 2, true, Some((1, 2)))).unwrap();
        assert_eq!(c.leaders_elected(), 3);
        let a = c.acks().next().unwrap().clone();
        c.check_read(3, &a, Some(("v-a".into(), 2))).unwrap();
    }

    #[test]
    fn a_leader_elected_late_in_its_term_is_allowed_until_it_commits() {
        let mut c = Checker::new(7);
        let s3_leads = Sample {
            applied: Some(((4, 3), 10)),
            ..sample(3, 4, true, None)
        };
        c.observe(s3_leads).unwrap();
        // s2 won T4 with a grant given before s3's, delivered late.
        c.observe(sample(2, 4, true, Some((3, 9)))).unwrap();
        assert_eq!(c.leaders_elected(), 2);
        // An entry of T4-N1 after T4-N3's entry: committed by a superseded leader.
        let late = Sample {
            applied: Some(((4, 1), 11)),
            ..sample(1, 4, false, None)
        };
        let err = c.observe(late).unwrap_err();
        assert!(
            matches!(
                &err,
                Violation::SupersededLeaderCommitted {
                    seed: 7,
                    earlier: 10,
                    later: 11,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("T4-N3") && text.contains("T4-N1"), "{text}");
        assert!(text.contains("cargo xtask sim --seed 7"), "{text}");
        assert!(
            text.contains("SKEIN_SIM_SEED=7 cargo test -p skein-sim"),
            "{text}"
        );
    }

    #[test]
    fn an_acknowledged_write_below_a_lower_leaders_entry_is_reported() {
        let mut c = Checker::new(5);
        c.ack(1, ack("a", 2, 7)).unwrap();
        let err = c.ack(1, ack("b", 3, 6)).unwrap_err();
        assert!(
            matches!(
                err,
                Violation::SupersededLeaderCommitted {
                    earlier: 6,
                    later: 7,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_vote_going_back_is_reported_even_across_a_restart() {
        let mut c = Checker::new(3);
        c.observe(sample(2, 5, false, None)).unwrap();
        let restarted = Sample {
            incarnation: 1,
            vote: ((0, 0), false),
            ..sample(2, 5, false, None)
        };
        let err = c.observe(restarted).unwrap_err();
        assert!(
            matches!(err, Violation::VoteWentBack { node: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_lost_write_is_reported() {
        let mut c = Checker::new(9);
        c.ack(1, ack("a", 1, 5)).unwrap();
        let a = c.acks().next().unwrap().clone();
        let lost = c.check_read(2, &a, None).unwrap_err();
        assert!(matches!(
            lost,
            Violation::LostWrite {
                node: 2,
                index: 5,
                ..
            }
        ));
        let overwritten = c.check_read(2, &a, Some(("v-a".into(), 6))).unwrap_err();
        assert!(matches!(overwritten, Violation::LostWrite { .. }));
    }

    #[test]
    fn applied_index_going_back_is_reported_only_within_an_incarnation() {
        let mut c = Checker::new(1);
        c.observe(sample(1, 1, false, Some((1, 9)))).unwrap();
        let err = c.observe(sample(1, 1, false, Some((1, 3)))).unwrap_err();
        assert!(matches!(
            err,
            Violation::IndexWentBack { from: 9, to: 3, .. }
        ));
        let mut c = Checker::new(1);
        c.observe(sample(1, 1, false, Some((1, 9)))).unwrap();
        let restarted = Sample {
            incarnation: 1,
            ..sample(1, 1, false, Some((1, 3)))
        };
        c.observe(restarted).unwrap();
    }

    #[test]
    fn divergent_entries_and_duplicate_acks_are_reported() {
        let mut c = Checker::new(1);
        c.observe(sample(1, 2, false, Some((2, 4)))).unwrap();
        let err = c.observe(sample(2, 3, false, Some((3, 4)))).unwrap_err();
        assert!(matches!(err, Violation::DivergentLog { index: 4, .. }));
        let mut c = Checker::new(1);
        c.ack(1, ack("a", 1, 5)).unwrap();
        let err = c.ack(1, ack("b", 1, 5)).unwrap_err();
        assert!(matches!(err, Violation::DuplicateIndex { index: 5, .. }));
    }
}
