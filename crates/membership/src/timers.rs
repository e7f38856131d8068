//! The driver's timer queue: foca's timers and the driver's own.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use foca::Timer;
use tokio::time::Instant;

use crate::identity::NodeId;

/// Something to do at a given time.
#[derive(Debug)]
pub(crate) enum Due {
    /// Hand back to foca.
    Foca(Timer<NodeId>),
    /// Retransmit the hellos and announces of pending joins.
    JoinRetry,
    /// The next step of a graceful leave.
    Leave(LeaveStage),
    /// Drop members gone for longer than `reap_after`.
    Reap,
    /// Stop waiting for answers to a keyring query.
    QueryTimeout(u64),
    /// Ping a random member to update our network coordinate.
    CoordinatePing,
}

/// Steps of a graceful leave, after the intent went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaveStage {
    /// Tell foca we leave (others see us down).
    DeclareDown,
    /// Gossip once more and stop.
    Finish,
}

/// A min-heap of deadlines; ties keep insertion order.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    seq: u64,
    due: Due,
}

// === impl TimerQueue ===

impl TimerQueue {
    pub(crate) fn push(&mut self, at: Instant, due: Due) {
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            due,
        }));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    /// The earliest entry due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.next_deadline()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(s)| s.due)
    }
}

// === impl Scheduled ===

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_in_deadline_then_insertion_order() {
        let now = Instant::now();
        let mut q = TimerQueue::default();
        q.push(now + Duration::from_millis(20), Due::Reap);
        q.push(now + Duration::from_millis(10), Due::JoinRetry);
        q.push(
            now + Duration::from_millis(10),
            Due::Leave(LeaveStage::Finish),
        );
        assert_eq!(q.next_deadline(), Some(now + Duration::from_millis(10)));
        assert!(q.pop_due(now).is_none());
        let later = now + Duration::from_millis(15);
        assert!(matches!(q.pop_due(later), Some(Due::JoinRetry)));
        assert!(matches!(
            q.pop_due(later),
            Some(Due::Leave(LeaveStage::Finish))
        ));
        assert!(q.pop_due(later).is_none());
        assert!(matches!(
            q.pop_due(now + Duration::from_secs(1)),
            Some(Due::Reap)
        ));
        assert!(q.next_deadline().is_none());
    }
}
