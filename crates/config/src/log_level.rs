//! The agent's log level.

use std::fmt;
use std::str::FromStr;

/// How verbose the agent logs. Parsed case-insensitively from Consul's
/// names: `trace`, `debug`, `info`, `warn`, `err`/`error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Problems that do not stop the agent.
    Warn,
    /// Errors only.
    Error,
}

impl LogLevel {
    /// The level as a `tracing_subscriber::EnvFilter` directive.
    pub fn as_filter(&self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_filter())
    }
}

/// The error of [`LogLevel::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log level {0:?}; expected one of trace, debug, info, warn, err")]
pub struct InvalidLogLevel(pub String);

impl FromStr for LogLevel {
    type Err = InvalidLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(Self::Trace),
            "debug" => Ok(Self::Debug),
            "info" => Ok(Self::Info),
            "warn" | "warning" => Ok(Self::Warn),
            "err" | "error" => Ok(Self::Error),
            _ => Err(InvalidLogLevel(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("TRACE".parse(), Ok(LogLevel::Trace));
        assert_eq!("Err".parse(), Ok(LogLevel::Error));
        assert_eq!("error".parse(), Ok(LogLevel::Error));
        assert_eq!(
            "warn".parse::<LogLevel>().map(|l| l.as_filter()),
            Ok("warn")
        );
        assert!("loud".parse::<LogLevel>().is_err());
    }
}
