//! The operations of the KV model and their recorded outcomes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A concurrent client of the store (a thread, a connection, a process).
///
/// The checker does not need it (only invoke and completion times order
/// operations); it is kept to make failing histories readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub u32);

/// The position of an operation in its [`History`](crate::History).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub usize);

/// An operation on one key of the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Set `key` to `value` (a PUT). Completes with [`Output::Ok`].
    Write {
        /// The key.
        key: String,
        /// The value written.
        value: String,
    },
    /// Value-based compare-and-set: if `key`'s current value equals
    /// `expect` (`None`: the key is absent), set it to `value`. Completes
    /// with [`Output::Cas`], `true` when the swap happened.
    Cas {
        /// The key.
        key: String,
        /// The value the key must hold for the swap (`None`: absent).
        expect: Option<String>,
        /// The value written when the swap happens.
        value: String,
    },
    /// Read `key`. Completes with [`Output::Read`], `None` when absent.
    Read {
        /// The key.
        key: String,
    },
    /// Delete `key`. Completes with [`Output::Ok`].
    Delete {
        /// The key.
        key: String,
    },
}

/// What a completed operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// A write or delete was acknowledged.
    Ok,
    /// A compare-and-set's result: `true` if it swapped.
    Cas(bool),
    /// A read's value: `None` if the key was absent.
    Read(Option<String>),
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It completed and returned this output.
    Ok(Output),
    /// Its effect is unknown (a timeout, a lost connection, a crash before
    /// the answer): it may or may not have taken effect, at any time after
    /// its invoke. The checker treats its completion time as +∞.
    Unknown,
    /// It definitely did not take effect (e.g. the server rejected it
    /// before applying it). The checker drops it.
    Failed,
}

/// One operation of a history: who ran what, when, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Operation {
    /// The client that ran it.
    pub client: ClientId,
    /// What it did.
    pub op: Op,
    /// When it was invoked, in nanoseconds on the history's clock.
    pub invoke: u64,
    /// When its outcome was observed, in nanoseconds; `None` if it never
    /// completed. Ignored for [`Outcome::Unknown`] operations, whose
    /// completion is +∞ to the checker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
}

// === impl Op ===

impl Op {
    /// A write of `value` to `key`.
    pub fn write(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Write {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A compare-and-set of `key` from `expect` (`None`: absent) to `value`.
    pub fn cas(key: impl Into<String>, expect: Option<&str>, value: impl Into<String>) -> Self {
        Self::Cas {
            key: key.into(),
            expect: expect.map(str::to_owned),
            value: value.into(),
        }
    }

    /// A read of `key`.
    pub fn read(key: impl Into<String>) -> Self {
        Self::Read { key: key.into() }
    }

    /// A delete of `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete { key: key.into() }
    }

    /// The key the operation acts on.
    pub fn key(&self) -> &str {
        match self {
            Self::Write { key, .. }
            | Self::Cas { key, .. }
            | Self::Read { key }
            | Self::Delete { key } => key,
        }
    }

    /// The operation's kind: `write`, `cas`, `read` or `delete`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Write { .. } => "write",
            Self::Cas { .. } => "cas",
            Self::Read { .. } => "read",
            Self::Delete { .. } => "delete",
        }
    }

    /// Whether `output` is the kind of output this operation returns.
    pub fn accepts(&self, output: &Output) -> bool {
        matches!(
            (self, output),
            (Self::Write { .. } | Self::Delete { .. }, Output::Ok)
                | (Self::Cas { .. }, Output::Cas(_))
                | (Self::Read { .. }, Output::Read(_))
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write { key, value } => write!(f, "write {key:?} = {value:?}"),
            Self::Cas { key, expect, value } => {
                write!(f, "cas {key:?} {} -> {value:?}", Shown(expect.as_deref()))
            }
            Self::Read { key } => write!(f, "read {key:?}"),
            Self::Delete { key } => write!(f, "delete {key:?}"),
        }
    }
}

// === impl Output ===

impl Output {
    /// A read's output from a borrowed value.
    pub fn read(value: Option<&str>) -> Self {
        Self::Read(value.map(str::to_owned))
    }

    /// The output's kind: `ok`, `cas` or `read`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Cas(_) => "cas",
            Self::Read(_) => "read",
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Cas(swapped) => write!(f, "{swapped}"),
            Self::Read(value) => write!(f, "{}", Shown(value.as_deref())),
        }
    }
}

// === impl Outcome ===

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok(output) => write!(f, "{output}"),
            Self::Unknown => f.write_str("unknown"),
            Self::Failed => f.write_str("failed"),
        }
    }
}

// === impl Operation ===

impl fmt::Display for Operation {
    /// `client 2 [1500, 2300] read "k" -> "v1"`; an unknown operation's
    /// interval is open: `[1500, ∞)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} [{}, ", self.client, self.invoke)?;
        match (&self.outcome, self.complete) {
            (Outcome::Unknown, _) | (_, None) => f.write_str("∞)")?,
            (_, Some(complete)) => write!(f, "{complete}]")?,
        }
        write!(f, " {} -> {}", self.op, self.outcome)
    }
}

// === impl ClientId ===

impl From<u32> for ClientId {
    fn from(id: u32) -> Self {
        Self(id)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// === impl OpId ===

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Shows an optional value as `"v"` or `absent`.
struct Shown<'a>(Option<&'a str>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value:?}"),
            None => f.write_str("absent"),
        }
    }
}
