//! A linearizability checker for histories of a key-value store, for
//! Jepsen-style tests of skein's KV under faults.
//!
//! Clients record what they invoke and what comes back in a [`Recorder`];
//! [`check`] then decides whether some total order of the operations
//! respects both real time (an operation that returned before another was
//! invoked comes first) and a sequential KV store.
//!
//! ```text
//!   client threads ──invoke/complete──▶ Recorder ──finish──▶ History ──▶ check ──▶ Report
//!                                                              │  ▲
//!                                                      to_json ▼  │ from_json
//!                                                             file.json
//!
//!   check: partition by key ─▶ per key: WGL search (entry list + memo)
//!                                        ├─ linearizable
//!                                        ├─ not: shrink to a minimal failing window
//!                                        └─ budget exceeded: unknown
//! ```
//!
//! The model: [`Op::Write`] (a PUT), value-based [`Op::Cas`], [`Op::Read`]
//! and [`Op::Delete`] on string keys holding string values. An operation
//! completes with [`Outcome::Ok`], [`Outcome::Unknown`] (it may have taken
//! effect at any time after its invoke: its return time is +∞) or
//! [`Outcome::Failed`] (it did not take effect: dropped). Times are
//! nanoseconds on one clock; an operation that returns at the very instant
//! another is invoked counts as concurrent with it. The checker does not use
//! client ids: only the intervals order operations.
//!
//! The algorithm is Wing & Gong's search as improved by Lowe and by
//! Porcupine (Athalye): keys are checked independently (the KV model is
//! P-compositional), the call and return entries live in a linked list the
//! search lifts operations out of, and (linearized set, state) pairs already
//! explored are memoized. Operations of unknown outcome, the usual cause of
//! blow-ups, get more: their no-op case is placed at one point, they are
//! tried only when the search is stuck, identical ones are interchangeable,
//! values nothing observes are merged, and the memo prunes configurations
//! that only add unknown operations to a failed one (see `search` and
//! `memo`).
//!
//! A failing key is shrunk to a minimal window: acknowledged operations
//! that cannot all be linearized whatever the other operations did. It
//! always holds an operation whose recorded output is wrong.
//!
//! This crate owns the model, the history format and the search; it does not
//! run clients, inject faults or talk to skein: the test harness does.

#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod bitset;
mod check;
mod error;
mod history;
mod memo;
mod model;
mod op;
mod recorder;
mod report;
mod search;
mod shrink;

pub use check::{Config, check, check_with};
pub use error::{Error, Result};
pub use history::History;
pub use op::{ClientId, Op, OpId, Operation, Outcome, Output};
pub use recorder::Recorder;
pub use report::{KeyReport, Report, Verdict, Violation};
