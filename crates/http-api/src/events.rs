//! User events known to this agent (`/v1/event/*`). Until gossip exists an
//! event fired here is delivered here only; the most recent 256 are kept.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::watch;

/// How many events an agent remembers (Consul's 256).
const KEEP: usize = 256;

/// One user event.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Node filter regex.
    pub node_filter: String,
    /// Service filter regex.
    pub service_filter: String,
    /// Tag filter regex.
    pub tag_filter: String,
    /// Lamport time.
    pub ltime: u64,
}

/// The agent's event buffer.
#[derive(Debug)]
pub struct EventLog {
    events: Mutex<VecDeque<UserEvent>>,
    changed: watch::Sender<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            events: Mutex::new(VecDeque::new()),
            changed: watch::Sender::new(0),
        }
    }
}

// === impl EventLog ===

impl EventLog {
    /// Records an event, stamping its Lamport time.
    pub fn fire(&self, mut event: UserEvent) -> UserEvent {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        event.ltime = events.back().map_or(1, |e| e.ltime + 1);
        events.push_back(event.clone());
        while events.len() > KEEP {
            events.pop_front();
        }
        drop(events);
        self.changed.send_modify(|n| *n += 1);
        event
    }

    /// The events, oldest first, and the index of the newest (Consul
    /// derives it from the last event's UUID; 1 when there is none).
    pub fn list(&self) -> (u64, Vec<UserEvent>) {
        let events: Vec<UserEvent> = self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let index = events.last().map_or(1, |e| uuid_index(&e.id));
        (index, events)
    }

    /// A receiver that sees every event fired after this call.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// Consul's index for an event: the two halves of its UUID XORed.
fn uuid_index(id: &str) -> u64 {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let half = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
    match hex.len() {
        32 => (half(&hex[..16]) ^ half(&hex[16..])).max(1),
        _ => 1,
    }
}

/// An event in Consul's JSON shape (`Payload` base64, or null when empty).
pub(crate) fn render(e: &UserEvent) -> Value {
    use base64::Engine;
    let payload = if e.payload.is_empty() {
        Value::Null
    } else {
        Value::String(base64::engine::general_purpose::STANDARD.encode(&e.payload))
    };
    serde_json::json!({
        "ID": e.id, "Name": e.name, "Payload": payload,
        "NodeFilter": e.node_filter, "ServiceFilter": e.service_filter, "TagFilter": e.tag_filter,
        "Version": 1, "LTime": e.ltime,
    })
}
