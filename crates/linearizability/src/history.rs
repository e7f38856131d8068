//! A validated history of KV operations, and its JSON file format.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::op::{OpId, Operation, Outcome};

/// The JSON file format's version.
const VERSION: u32 = 1;

/// A history: every operation the clients invoked, indexed by [`OpId`].
///
/// Built by [`Recorder::finish`](crate::Recorder::finish), from explicit
/// operations with [`History::from_operations`], or from a saved file with
/// [`History::from_json`]. Every constructor validates the operations, so a
/// `History` always has outputs that fit their operations and completions no
/// earlier than their invokes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Operation>,
}

/// The on-disk shape: `{"version": 1, "operations": [...]}`.
#[derive(Serialize, Deserialize)]
struct File<T> {
    version: u32,
    operations: T,
}

// === impl History ===

impl History {
    /// A history of these operations; `OpId(i)` names `ops[i]`.
    pub fn from_operations(ops: Vec<Operation>) -> Result<Self> {
        for (i, op) in ops.iter().enumerate() {
            validate(OpId(i), op)?;
        }
        Ok(Self { ops })
    }

    /// A history of operations already validated one by one.
    pub(crate) fn from_valid(ops: Vec<Operation>) -> Self {
        Self { ops }
    }

    /// Reads a history saved by [`History::to_json`].
    pub fn from_json(json: &str) -> Result<Self> {
        let file: File<Vec<Operation>> = serde_json::from_str(json)?;
        if file.version != VERSION {
            return Err(Error::UnsupportedVersion {
                version: file.version,
            });
        }
        Self::from_operations(file.operations)
    }

    /// The history as pretty-printed JSON, to save a failing run and check
    /// it again later.
    pub fn to_json(&self) -> Result<String> {
        let file = File {
            version: VERSION,
            operations: &self.ops,
        };
        Ok(serde_json::to_string_pretty(&file)?)
    }

    /// Every operation, in [`OpId`] order.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// The operation named `id`, if any.
    pub fn get(&self, id: OpId) -> Option<&Operation> {
        self.ops.get(id.0)
    }

    /// The number of operations, failed ones included.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the history has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (OpId, &Operation)> {
        self.ops.iter().enumerate().map(|(i, op)| (OpId(i), op))
    }
}

/// Checks one operation's outcome against its kind and its times.
pub(crate) fn validate(id: OpId, op: &Operation) -> Result<()> {
    if let Outcome::Ok(output) = &op.outcome {
        if !op.op.accepts(output) {
            return Err(Error::OutputMismatch {
                id,
                op: op.op.kind(),
                output: output.kind(),
            });
        }
        if op.complete.is_none() {
            return Err(Error::MissingCompletionTime { id });
        }
    }
    match op.complete {
        Some(complete) if complete < op.invoke => Err(Error::CompletedBeforeInvoked {
            id,
            invoke: op.invoke,
            complete,
        }),
        _ => Ok(()),
    }
}
