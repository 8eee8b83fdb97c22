//! The event bus: every service publishes what happens to containers,
//! images, ... here; `GET /events` subscribers get them live, and a bounded
//! history serves `since` (docker keeps the last 256 events in memory).
//!
//! [`Event`] serializes to the Engine API's event message shape, including
//! the legacy `status`/`id`/`from` fields older clients read.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

/// How many past events `since` can reach.
const HISTORY: usize = 256;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event, in the Engine API's JSON shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// container, image, volume, network, daemon, ...
    #[serde(rename = "Type")]
    pub typ: String,
    /// create, start, die, destroy, pull, tag, untag, delete, ...
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// Legacy fields (container and image events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Event {
    /// An event of `typ`/`action` about `id`, stamped now. For container
    /// events, pass the image name as attribute "image" (it also becomes
    /// the legacy `from`).
    pub fn new(typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = jiff::Timestamp::now();
        let nanos = now.as_nanosecond() as i64;
        let legacy = typ == "container" || typ == "image";
        Event {
            typ: typ.to_string(),
            action: action.to_string(),
            from: if typ == "container" {
                attributes.get("image").cloned()
            } else {
                None
            },
            actor: Actor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
        }
    }
}

/// Publish/subscribe with a bounded history.
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus {
            tx,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }

    pub fn publish(&self, ev: Event) {
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(ev.clone());
        }
        // No subscriber is fine.
        let _ = self.tx.send(ev);
    }

    /// Past events from `since_nanos` on (in order), and a receiver for the
    /// ones after; taken under one lock so none is lost or doubled.
    pub fn subscribe(&self, since_nanos: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let past = match since_nanos {
            Some(t) => h.iter().filter(|e| e.time_nano >= t).cloned().collect(),
            None => Vec::new(),
        };
        (past, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_and_live_events_meet_without_gaps() {
        let bus = EventBus::new();
        let mut attrs = BTreeMap::new();
        attrs.insert("image".to_string(), "busybox".to_string());
        bus.publish(Event::new("container", "create", "abc", attrs.clone()));
        let (past, mut rx) = bus.subscribe(Some(0));
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].from.as_deref(), Some("busybox"));
        bus.publish(Event::new("container", "start", "abc", attrs));
        assert_eq!(rx.try_recv().unwrap().action, "start");
        let json = serde_json::to_value(&past[0]).unwrap();
        assert_eq!(json["Actor"]["ID"], "abc");
        assert_eq!(json["status"], "create");
        assert!(json["timeNano"].as_i64().unwrap() > 0);
    }
}
