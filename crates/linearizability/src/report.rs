//! The checker's verdicts and report.

use std::fmt;
use std::time::Duration;

use crate::op::{OpId, Operation};

/// How many context operations [`Violation`]'s `Display` lists.
const CONTEXT_SHOWN: usize = 10;

/// Whether a history (or one key's sub-history) is linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some total order of the operations respects real time and the KV
    /// model.
    Linearizable,
    /// No such order exists.
    NotLinearizable(Violation),
    /// The search exceeded its time budget.
    Unknown,
}

/// Why a key's sub-history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The failing window, sorted by invoke time: acknowledged operations
    /// on the key that cannot be linearized whatever the other operations
    /// did (each may have taken effect, with any output, within its
    /// interval — any time after its invoke if its outcome is unknown — or
    /// not at all). They are not linearizable on their own either.
    pub ops: Vec<(OpId, Operation)>,
    /// Context for reading the window: for each value the window reads or
    /// expects, the other operations on the key that may have written it
    /// while the window ran, and the last one to complete before. Sorted by
    /// invoke time.
    pub context: Vec<(OpId, Operation)>,
    /// Whether the window is minimal: also relaxing any one of its
    /// operations makes the history linearizable. False when shrinking ran
    /// out of time or was disabled (the window is then larger than needed,
    /// at worst every acknowledged operation on the key).
    pub minimal: bool,
    /// The number of operations checked on the key.
    pub key_ops: usize,
}

/// The result of [`check`](crate::check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The overall verdict: the first failing key's violation if any key is
    /// not linearizable, else `Unknown` if any key's search timed out.
    pub verdict: Verdict,
    /// The number of operations in the history.
    pub ops: usize,
    /// The number of operations checked: failed operations and reads with
    /// unknown outcomes are dropped, as they cannot have had an effect.
    pub checked: usize,
    /// One result per key, in key order.
    pub keys: Vec<KeyReport>,
    /// The time the whole check took.
    pub elapsed: Duration,
}

/// The result for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// The number of operations checked on it.
    pub ops: usize,
    /// Its verdict.
    pub verdict: Verdict,
    /// The time its search (and shrinking, if it failed) took.
    pub elapsed: Duration,
}

// === impl Verdict ===

impl Verdict {
    /// Whether this is [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Self::Linearizable)
    }

    /// The violation, if not linearizable.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Self::NotLinearizable(violation) => Some(violation),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Linearizable => f.write_str("linearizable"),
            Self::NotLinearizable(violation) => write!(f, "NOT linearizable: {violation}"),
            Self::Unknown => f.write_str("unknown (time budget exceeded)"),
        }
    }
}

// === impl Violation ===

impl Violation {
    /// The ids of the operations in the failing window.
    pub fn op_ids(&self) -> Vec<OpId> {
        self.ops.iter().map(|(id, _)| *id).collect()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = if self.minimal {
            "minimal"
        } else {
            "not minimized"
        };
        write!(
            f,
            "key {:?}: these {} of its {} operations cannot all be linearized, \
             whatever the others did ({window}):",
            self.key,
            self.ops.len(),
            self.key_ops
        )?;
        for (id, op) in &self.ops {
            write!(f, "\n  {id} {op}")?;
        }
        if !self.context.is_empty() {
            f.write_str("\nthe last and the concurrent writers of the values they observe:")?;
        }
        for (id, op) in self.context.iter().take(CONTEXT_SHOWN) {
            write!(f, "\n  {id} {op}")?;
        }
        if let Some(more) = self
            .context
            .len()
            .checked_sub(CONTEXT_SHOWN)
            .filter(|&n| n > 0)
        {
            write!(f, "\n  ... and {more} more")?;
        }
        Ok(())
    }
}

// === impl Report ===

impl Report {
    /// Whether the whole history is linearizable.
    pub fn is_linearizable(&self) -> bool {
        self.verdict.is_linearizable()
    }

    /// The keys whose search exceeded the budget.
    pub fn unknown_keys(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|key| key.verdict == Verdict::Unknown)
            .map(|key| key.key.as_str())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Unknown => {
                let keys: Vec<String> = self.unknown_keys().map(|k| format!("{k:?}")).collect();
                write!(f, "unknown: time budget exceeded on {}", keys.join(", "))?;
            }
            verdict => write!(f, "{verdict}")?,
        }
        write!(
            f,
            "\n({} operations, {} checked, on {} keys, in {:.3?})",
            self.ops,
            self.checked,
            self.keys.len(),
            self.elapsed
        )
    }
}
