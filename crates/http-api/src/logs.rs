//! The agent's log lines, fanned out to `/v1/agent/monitor` streams.

use tokio::sync::broadcast;

/// One formatted log line and its level.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Severity.
    pub level: tracing::Level,
    /// The line as the agent printed it (no trailing newline).
    pub text: String,
    /// The same line as one JSON object (`@level`, `@message`, `@module`,
    /// `@timestamp` and the event's fields), for `?logjson`.
    pub json: String,
}

/// The sending side that a logging layer feeds.
pub type LogFeed = broadcast::Sender<LogLine>;

/// Lines kept for a slow monitor before it starts missing some.
pub const LOG_BUFFER: usize = 512;

/// A new feed with no listeners.
pub fn log_feed() -> LogFeed {
    broadcast::channel(LOG_BUFFER).0
}
