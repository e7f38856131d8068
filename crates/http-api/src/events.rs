//! User events known to this agent (`/v1/event/*`). An event fired on any
//! agent reaches every agent through gossip; each keeps the most recent 256
//! that passed its filters.

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
    /// Records an event delivered to this agent.
    pub fn record(&self, event: UserEvent) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push_back(event);
        while events.len() > KEEP {
            events.pop_front();
        }
        drop(events);
        self.changed.send_modify(|n| *n += 1);
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

    /// Whether the event with this ID is in the list.
    pub fn contains(&self, id: &str) -> bool {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|e| e.id == id)
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

/// How an event travels in a gossip user event's payload.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    #[serde(rename = "i")]
    id: String,
    #[serde(rename = "p", default, skip_serializing_if = "String::is_empty")]
    payload: String,
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    node_filter: String,
    #[serde(rename = "s", default, skip_serializing_if = "String::is_empty")]
    service_filter: String,
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    tag_filter: String,
}

// === impl UserEvent ===

impl UserEvent {
    /// The gossip payload that carries this event (its name travels
    /// beside it).
    pub fn encode(&self) -> Vec<u8> {
        use base64::Engine;
        let wire = Wire {
            id: self.id.clone(),
            payload: base64::engine::general_purpose::STANDARD.encode(&self.payload),
            node_filter: self.node_filter.clone(),
            service_filter: self.service_filter.clone(),
            tag_filter: self.tag_filter.clone(),
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// The event a gossip user event carries; `None` if it is not one.
    pub fn decode(name: &str, ltime: u64, data: &[u8]) -> Option<Self> {
        use base64::Engine;
        let wire: Wire = serde_json::from_slice(data).ok()?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(wire.payload)
            .ok()?;
        Some(Self {
            id: wire.id,
            name: name.to_owned(),
            payload,
            node_filter: wire.node_filter,
            service_filter: wire.service_filter,
            tag_filter: wire.tag_filter,
            ltime,
        })
    }

    /// Whether an agent on `node` with these `(service, tags)` takes the
    /// event: every filter given must match (the tag filter applies to the
    /// services the service filter matched).
    pub fn accepted_by<'a>(
        &self,
        node: &str,
        services: impl IntoIterator<Item = (&'a str, &'a [skein_types::Name])>,
    ) -> bool {
        let matches = |expr: &str, s: &str| {
            regex::Regex::new(expr)
                .map(|re| re.is_match(s))
                .unwrap_or(false)
        };
        if !self.node_filter.is_empty() && !matches(&self.node_filter, node) {
            return false;
        }
        if self.service_filter.is_empty() {
            return true;
        }
        services.into_iter().any(|(service, tags)| {
            matches(&self.service_filter, service)
                && (self.tag_filter.is_empty() || tags.iter().any(|t| matches(&self.tag_filter, t)))
        })
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
