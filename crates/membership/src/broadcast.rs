//! The one foca custom broadcast handler: leave intents and user events
//! share it, told apart by a tag byte.
//!
//! ```text
//! +-----+---------------------------+
//! | tag | postcard body             |
//! +-----+---------------------------+
//! tag 0: a leave intent (crate::intent)
//! tag 1: a user event   (crate::event)
//! ```

use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, trace};

use crate::event::EventMsg;
use crate::identity::NodeId;
use crate::intent::{Intent, IntentError, IntentKey};
use crate::shared::Shared;

const TAG_INTENT: u8 = 0;
const TAG_EVENT: u8 = 1;

/// One custom broadcast item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Intent(Intent),
    Event(EventMsg),
}

/// What foca keeps per item to drop staler ones from its backlog.
#[derive(Debug)]
pub(crate) enum ItemKey {
    Intent(IntentKey),
    /// Events are all distinct: none replaces another.
    Event,
}

/// A broadcast item that does not decode.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ItemError {
    #[error("empty broadcast item")]
    Empty,
    #[error("unknown broadcast item tag {0}")]
    Tag(u8),
    #[error(transparent)]
    Intent(#[from] IntentError),
    #[error("malformed user event: {0}")]
    Event(#[from] postcard::Error),
}

/// Receives items inside foca: intents go to the member table, new
/// events to subscribers.
pub(crate) struct Handler {
    shared: Arc<Shared>,
}

// === impl Item ===

impl Item {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        let (tag, body) = match self {
            Self::Intent(intent) => (TAG_INTENT, intent.encode()?),
            Self::Event(event) => (TAG_EVENT, event.encode()?),
        };
        let mut out = Vec::with_capacity(body.len().saturating_add(1));
        out.push(tag);
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub(crate) fn decode(data: &[u8]) -> Result<Self, ItemError> {
        match data.split_first() {
            None => Err(ItemError::Empty),
            Some((&TAG_INTENT, body)) => Ok(Self::Intent(Intent::decode(body)?)),
            Some((&TAG_EVENT, body)) => Ok(Self::Event(EventMsg::decode(body)?)),
            Some((&tag, _)) => Err(ItemError::Tag(tag)),
        }
    }
}

// === impl ItemKey ===

impl foca::Invalidates for ItemKey {
    fn invalidates(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Intent(a), Self::Intent(b)) => a.invalidates(b),
            _ => false,
        }
    }
}

// === impl Handler ===

impl Handler {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn intent(&self, intent: Intent, sender: Option<&NodeId>) -> Option<ItemKey> {
        let fresh = self.shared.lock().receive_intent(&intent, Instant::now());
        if fresh {
            debug!(
                member = %intent.name,
                generation = intent.generation,
                kind = ?intent.kind,
                from = ?sender,
                "leave intent"
            );
        } else {
            trace!(member = %intent.name, generation = intent.generation, from = ?sender, "stale leave intent");
        }
        fresh.then_some(ItemKey::Intent(IntentKey {
            name: intent.name,
            generation: intent.generation,
        }))
    }

    fn event(&self, event: EventMsg, sender: Option<&NodeId>) -> Option<ItemKey> {
        let fresh = self.shared.events().receive(&event);
        if fresh {
            debug!(name = %event.name, ltime = event.ltime, from = ?sender, "user event");
            self.shared.deliver(event.into_event());
        } else {
            trace!(name = %event.name, ltime = event.ltime, from = ?sender, "repeated user event");
        }
        fresh.then_some(ItemKey::Event)
    }
}

impl foca::BroadcastHandler<NodeId> for Handler {
    type Key = ItemKey;
    type Error = ItemError;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<ItemKey>, ItemError> {
        Ok(match Item::decode(data)? {
            Item::Intent(intent) => self.intent(intent, sender),
            Item::Event(event) => self.event(event, sender),
        })
    }
}

#[cfg(test)]
mod tests {
    use foca::Invalidates;

    use super::*;
    use crate::intent::IntentKind;

    #[test]
    fn items_round_trip_with_their_tag() {
        let intent = Item::Intent(Intent {
            kind: IntentKind::Leave,
            name: "c".into(),
            generation: 4,
        });
        let event = Item::Event(EventMsg {
            ltime: 9,
            name: "deploy".into(),
            payload: b"v2".to_vec(),
        });
        for item in [intent, event] {
            let data = item.encode().unwrap();
            assert_eq!(Item::decode(&data).unwrap(), item);
        }
        assert!(matches!(Item::decode(&[]), Err(ItemError::Empty)));
        assert!(matches!(Item::decode(&[7, 1]), Err(ItemError::Tag(7))));
        assert!(Item::decode(&[TAG_EVENT, 0xff]).is_err());
    }

    #[test]
    fn events_never_replace_anything() {
        let intent = |generation| {
            ItemKey::Intent(IntentKey {
                name: "c".into(),
                generation,
            })
        };
        assert!(intent(2).invalidates(&intent(1)));
        assert!(!ItemKey::Event.invalidates(&ItemKey::Event));
        assert!(!ItemKey::Event.invalidates(&intent(1)));
        assert!(!intent(2).invalidates(&ItemKey::Event));
    }
}
