//! A `tracing` layer that copies the agent's log lines to
//! `/v1/agent/monitor` listeners. It formats nothing while nobody listens.

use std::fmt::Write as _;

use skein_http_api::{LogFeed, LogLine};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// Feeds log lines into a [`LogFeed`].
#[derive(Debug, Clone)]
pub struct MonitorLayer {
    feed: LogFeed,
}

impl MonitorLayer {
    /// A layer feeding `feed`.
    pub fn new(feed: LogFeed) -> Self {
        Self { feed }
    }
}

#[derive(Default)]
struct Line {
    message: String,
    fields: String,
    json: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
            self.json
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
            self.json.insert(field.name().to_owned(), value.into());
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for MonitorLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if self.feed.receiver_count() == 0 {
            return;
        }
        let meta = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        let text = format!(
            "[{}] {}: {}{}",
            meta.level(),
            meta.target(),
            line.message,
            line.fields
        );
        let mut json = std::mem::take(&mut line.json);
        json.insert(
            "@level".into(),
            meta.level().as_str().to_ascii_lowercase().into(),
        );
        json.insert("@message".into(), line.message.into());
        json.insert("@module".into(), meta.target().into());
        json.insert(
            "@timestamp".into(),
            humantime::format_rfc3339_micros(std::time::SystemTime::now())
                .to_string()
                .into(),
        );
        let _ = self.feed.send(LogLine {
            level: *meta.level(),
            text,
            json: serde_json::Value::Object(json).to_string(),
        });
    }
}
