//! The invariants, checked against what the simulation observes: samples of
//! each server's Raft metrics, the writes the client saw acknowledged, and
//! the final reads of every server's store.

use std::collections::BTreeMap;

use crate::{Result, Violation};

/// One sample of a server's Raft metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The server's Raft id.
    pub(crate) node: u64,
    /// Counts the server's (re)starts; the applied index may only go back
    /// across one.
    pub(crate) incarnation: u64,
    /// The server's current term.
    pub(crate) term: u64,
    /// Whether the server is leader.
    pub(crate) leader: bool,
    /// `(term, index)` of the last applied entry.
    pub(crate) applied: Option<(u64, u64)>,
}

/// A write the client saw acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The key written (unique per write).
    pub(crate) key: String,
    /// The value written.
    pub(crate) value: String,
    /// The term of the entry.
    pub(crate) term: u64,
    /// The log index of the entry.
    pub(crate) index: u64,
}

/// Accumulates observations and reports the first broken invariant.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    seed: u64,
    /// term → the leader seen in it.
    leaders: BTreeMap<u64, u64>,
    /// node → (incarnation, last applied index).
    applied: BTreeMap<u64, (u64, u64)>,
    /// log index → the term applied there (from samples and acks).
    entries: BTreeMap<u64, u64>,
    /// log index → the write acknowledged there.
    acks: BTreeMap<u64, Ack>,
}

// === impl Checker ===

impl Checker {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Leaders seen, one per term.
    pub(crate) fn leaders_elected(&self) -> usize {
        self.leaders.len()
    }

    /// The acknowledged writes, by log index.
    pub(crate) fn acks(&self) -> impl Iterator<Item = &Ack> {
        self.acks.values()
    }

    /// Checks one metrics sample: one leader per term, applied index
    /// monotonic per incarnation, one term per applied index.
    pub(crate) fn observe(&mut self, s: Sample) -> Result<()> {
        if s.leader {
            let first = *self.leaders.entry(s.term).or_insert(s.node);
            if first != s.node {
                return Err(Violation::TwoLeaders {
                    seed: self.seed,
                    term: s.term,
                    first,
                    second: s.node,
                });
            }
        }
        let Some((term, index)) = s.applied else {
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
        self.entry(s.node, term, index)
    }

    /// Records an acknowledged write: its index must be new and agree with
    /// the terms applied there.
    pub(crate) fn ack(&mut self, node: u64, ack: Ack) -> Result<()> {
        if let Some(first) = self.acks.get(&ack.index) {
            return Err(Violation::DuplicateIndex {
                seed: self.seed,
                index: ack.index,
                first_key: first.key.clone(),
                second_key: ack.key,
            });
        }
        self.entry(node, ack.term, ack.index)?;
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

    fn entry(&mut self, node: u64, term: u64, index: u64) -> Result<()> {
        let first_term = *self.entries.entry(index).or_insert(term);
        if first_term != term {
            return Err(Violation::DivergentLog {
                seed: self.seed,
                node,
                index,
                first_term,
                second_term: term,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(node: u64, term: u64, leader: bool, applied: Option<(u64, u64)>) -> Sample {
        Sample {
            node,
            incarnation: 0,
            term,
            leader,
            applied,
        }
    }

    fn ack(key: &str, term: u64, index: u64) -> Ack {
        Ack {
            key: key.to_owned(),
            value: format!("v-{key}"),
            term,
            index,
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let mut c = Checker::new(7);
        c.observe(sample(1, 1, true, Some((1, 1)))).unwrap();
        c.observe(sample(2, 1, false, Some((1, 1)))).unwrap();
        c.ack(1, ack("a", 1, 2)).unwrap();
        c.observe(sample(2, 2, true, Some((1, 2)))).unwrap();
        c.observe(sample(1, 2, false, Some((2, 3)))).unwrap();
        assert_eq!(c.leaders_elected(), 2);
        let a = c.acks().next().unwrap().clone();
        c.check_read(3, &a, Some(("v-a".into(), 2))).unwrap();
    }

    #[test]
    fn two_leaders_in_one_term_are_reported() {
        let mut c = Checker::new(7);
        c.observe(sample(1, 4, true, None)).unwrap();
        let err = c.observe(sample(2, 4, true, None)).unwrap_err();
        assert!(matches!(
            err,
            Violation::TwoLeaders {
                seed: 7,
                term: 4,
                first: 1,
                second: 2
            }
        ));
        let text = err.to_string();
        assert!(text.contains("cargo xtask sim --seed 7"), "{text}");
        assert!(
            text.contains("SKEIN_SIM_SEED=7 cargo test -p skein-sim"),
            "{text}"
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
