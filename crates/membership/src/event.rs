//! User events: Serf's fire-and-forget messages, spread as foca custom
//! broadcasts and ordered by a Lamport clock.
//!
//! Each pool keeps an event clock. Firing an event stamps it with the
//! clock's time and increments the clock; receiving one witnesses its
//! time (the clock moves past it). Every member delivers each event once:
//! an [`EventLog`] remembers the events of the last [`EVENT_BUFFER`] Lamport
//! times (Serf's `EventBuffer`), drops repeats and drops events older than
//! that window.

use serde::{Deserialize, Serialize};

use crate::error::{MembershipError, Result};

/// How many Lamport times of recent events a member remembers to drop
/// repeats (Serf's `EventBuffer` default).
pub(crate) const EVENT_BUFFER: usize = 512;

/// The largest name plus payload of a user event, in bytes (Serf's
/// `UserEventSizeLimit` default, which Consul keeps).
pub const USER_EVENT_SIZE_LIMIT: usize = 512;

/// A user event as delivered to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// The event's name (Consul: `/v1/event/fire/:name`).
    pub name: String,
    /// Opaque bytes.
    pub payload: Vec<u8>,
    /// The Lamport time the firing member stamped it with.
    pub ltime: u64,
}

/// A user event as broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventMsg {
    pub(crate) ltime: u64,
    pub(crate) name: String,
    pub(crate) payload: Vec<u8>,
}

/// The event clock and the recent events, per pool.
#[derive(Debug)]
pub(crate) struct EventLog {
    /// The Lamport clock: the time the next fired event gets (1 first,
    /// as Serf starts its clocks).
    clock: u64,
    /// Events per Lamport time, indexed by `ltime % EVENT_BUFFER`.
    buffer: Vec<Option<Slot>>,
}

#[derive(Debug)]
struct Slot {
    ltime: u64,
    events: Vec<(String, Vec<u8>)>,
}

// === impl EventMsg ===

impl EventMsg {
    pub(crate) fn encode(&self) -> std::result::Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    pub(crate) fn decode(data: &[u8]) -> std::result::Result<Self, postcard::Error> {
        let (msg, rest) = postcard::take_from_bytes::<Self>(data)?;
        if rest.is_empty() {
            Ok(msg)
        } else {
            Err(postcard::Error::DeserializeBadEncoding)
        }
    }

    pub(crate) fn into_event(self) -> UserEvent {
        UserEvent {
            name: self.name,
            payload: self.payload,
            ltime: self.ltime,
        }
    }
}

// === impl EventLog ===

impl Default for EventLog {
    fn default() -> Self {
        Self {
            clock: 1,
            buffer: std::iter::repeat_with(|| None).take(EVENT_BUFFER).collect(),
        }
    }
}

impl EventLog {
    /// Stamps a new event with the clock's time and moves the clock on.
    /// Fails, leaving the clock alone, when the event is over Serf's size
    /// limits: name plus payload over [`USER_EVENT_SIZE_LIMIT`], or the
    /// encoded event over it or over `max_encoded` (what fits in a gossip
    /// packet).
    pub(crate) fn fire(
        &mut self,
        name: String,
        payload: Vec<u8>,
        max_encoded: usize,
    ) -> Result<EventMsg> {
        let limit = USER_EVENT_SIZE_LIMIT;
        let size = name.len().saturating_add(payload.len());
        if size > limit {
            return Err(MembershipError::UserEventTooLarge { size, limit });
        }
        let msg = EventMsg {
            ltime: self.clock,
            name,
            payload,
        };
        let size = encoded_len(&msg);
        if size > limit {
            return Err(MembershipError::EncodedUserEventTooLarge { size, limit });
        }
        if size > max_encoded {
            return Err(MembershipError::UserEventExceedsPacket {
                size,
                limit: max_encoded,
            });
        }
        self.clock = self.clock.saturating_add(1);
        Ok(msg)
    }

    /// Records an event (received, or fired here). Returns whether it is
    /// new: to deliver and to spread further.
    pub(crate) fn receive(&mut self, msg: &EventMsg) -> bool {
        self.witness(msg.ltime);
        let window = EVENT_BUFFER as u64;
        if self.clock > window && msg.ltime < self.clock - window {
            return false;
        }
        let index = usize::try_from(msg.ltime % window).unwrap_or(0);
        let Some(slot) = self.buffer.get_mut(index) else {
            return false;
        };
        match slot {
            Some(seen) if seen.ltime == msg.ltime => {
                let repeat = seen
                    .events
                    .iter()
                    .any(|(name, payload)| *name == msg.name && *payload == msg.payload);
                if repeat {
                    return false;
                }
                seen.events.push((msg.name.clone(), msg.payload.clone()));
            }
            _ => {
                *slot = Some(Slot {
                    ltime: msg.ltime,
                    events: vec![(msg.name.clone(), msg.payload.clone())],
                });
            }
        }
        true
    }

    /// The clock moves past a time seen on the wire.
    fn witness(&mut self, ltime: u64) {
        if ltime >= self.clock {
            self.clock = ltime.saturating_add(1);
        }
    }

    #[cfg(test)]
    pub(crate) fn clock(&self) -> u64 {
        self.clock
    }
}

fn encoded_len(msg: &EventMsg) -> usize {
    postcard::experimental::serialized_size(msg).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ltime: u64, name: &str) -> EventMsg {
        EventMsg {
            ltime,
            name: name.into(),
            payload: b"x".to_vec(),
        }
    }

    #[test]
    fn fire_stamps_then_increments() {
        let mut log = EventLog::default();
        let a = log.fire("deploy".into(), vec![1], 1000).unwrap();
        let b = log.fire("deploy".into(), vec![1], 1000).unwrap();
        assert_eq!((a.ltime, b.ltime, log.clock()), (1, 2, 3));
        assert!(log.receive(&a));
        assert!(!log.receive(&a), "delivered once");
        assert!(log.receive(&b));
    }

    #[test]
    fn receiving_witnesses_the_clock() {
        let mut log = EventLog::default();
        assert!(log.receive(&msg(41, "a")));
        assert_eq!(log.clock(), 42);
        assert_eq!(log.fire("b".into(), Vec::new(), 1000).unwrap().ltime, 42);
        assert!(!log.receive(&msg(41, "a")));
        assert!(
            log.receive(&msg(41, "other name")),
            "same time, other event"
        );
        assert!(log.receive(&msg(3, "older")), "older but within the window");
    }

    #[test]
    fn events_older_than_the_window_are_dropped() {
        let mut log = EventLog::default();
        assert!(log.receive(&msg(2000, "new")));
        assert!(!log.receive(&msg(1000, "old")));
        let edge = 2001 - EVENT_BUFFER as u64;
        assert!(log.receive(&msg(edge, "edge")));
        assert!(!log.receive(&msg(edge - 1, "past the edge")));
    }

    #[test]
    fn size_limits_match_serf() {
        let mut log = EventLog::default();
        let err = log
            .fire("e".into(), vec![0; USER_EVENT_SIZE_LIMIT], 10_000)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user event exceeds configured limit of 512 bytes before encoding"
        );
        let err = log
            .fire(String::new(), vec![0; USER_EVENT_SIZE_LIMIT], 10_000)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "encoded user event exceeds configured limit of 512 bytes after encoding"
        );
        let err = log.fire("e".into(), vec![0; 300], 200).unwrap_err();
        assert!(matches!(
            err,
            MembershipError::UserEventExceedsPacket { limit: 200, .. }
        ));
        assert_eq!(log.clock(), 1, "rejected events do not move the clock");
    }

    #[test]
    fn garbage_does_not_decode() {
        let m = msg(7, "a");
        let mut data = m.encode().unwrap();
        assert_eq!(EventMsg::decode(&data).unwrap(), m);
        data.push(0);
        assert!(EventMsg::decode(&data).is_err());
        assert!(EventMsg::decode(&[0xff; 4]).is_err());
    }
}
