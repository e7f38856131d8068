//! The one error type of this crate.

/// Everything that can go wrong while reading flags, config files and
/// assembling a [`RuntimeConfig`](crate::RuntimeConfig).
///
/// `origin` fields name where the problem was found, e.g.
/// `config file /etc/consul.d/a.json`, `-hcl argument 1` or `command-line flags`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file or directory could not be read.
    #[error("{origin}: {source}")]
    Io {
        /// Where the read was attempted.
        origin: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid JSON or HCL.
    #[error("{origin}: syntax error: {message}")]
    Syntax {
        /// The source being parsed.
        origin: String,
        /// The parser's message (with line and column when known).
        message: String,
    },
    /// A key that is not part of the configuration schema.
    #[error("{origin}: unknown key {key:?}{location}")]
    UnknownKey {
        /// The source being parsed.
        origin: String,
        /// The dotted path of the key, e.g. `ports.foo`.
        key: String,
        /// ` at line L column C` when known, else empty.
        location: String,
    },
    /// A key whose value has the wrong type or is out of range.
    #[error("{origin}: invalid value {value:?} for {key}: {reason}{location}")]
    InvalidValue {
        /// The source being parsed.
        origin: String,
        /// The dotted path of the key, e.g. `ports.http`.
        key: String,
        /// The offending value as text.
        value: String,
        /// What was expected instead.
        reason: String,
        /// ` at line L column C` when known, else empty.
        location: String,
    },
    /// A `-config-file` whose format cannot be told from its extension.
    #[error(
        "{origin}: unknown config format; the file name must end in .json or .hcl, or -config-format must be set"
    )]
    UnknownFormat {
        /// The file.
        origin: String,
    },
    /// A command-line flag that does not exist.
    #[error("unknown flag -{flag}")]
    UnknownFlag {
        /// The flag name without leading dashes.
        flag: String,
    },
    /// A command-line flag with a value that does not parse.
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        /// The flag name without leading dashes.
        flag: String,
        /// The value given.
        value: String,
        /// What was expected instead.
        reason: String,
    },
    /// A value flag given as the last argument with nothing after it.
    #[error("flag needs an argument: -{flag}")]
    MissingFlagValue {
        /// The flag name without leading dashes.
        flag: String,
    },
    /// A positional argument where only flags are allowed.
    #[error("unexpected argument {arg:?}")]
    UnexpectedArgument {
        /// The argument.
        arg: String,
    },
    /// The merged configuration is inconsistent, e.g. `data_dir cannot be empty`.
    #[error("{0}")]
    Invalid(String),
    /// `node_name` was not set and the hostname could not be read.
    #[error("node_name not set and the hostname cannot be read: {0}")]
    Hostname(#[source] std::io::Error),
    /// `advertise_addr` was not set, `bind_addr` is unspecified and no private
    /// IPv4 address could be found.
    #[error("no private IPv4 address found; set bind_addr or advertise_addr")]
    NoPrivateIp,
}

/// A problem with one key's value, before it is tied to an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) reason: String,
}

impl FieldError {
    pub(crate) fn new(key: &str, value: impl ToString, reason: impl ToString) -> Self {
        Self {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Ties the problem to the source it was found in.
    pub(crate) fn at(self, origin: &str) -> ConfigError {
        ConfigError::InvalidValue {
            origin: origin.to_string(),
            key: self.key,
            value: self.value,
            reason: self.reason,
            location: String::new(),
        }
    }

    /// Reports the problem as a bad command-line flag value.
    pub(crate) fn for_flag(self, flag: &str) -> ConfigError {
        ConfigError::InvalidFlagValue {
            flag: flag.to_string(),
            value: self.value,
            reason: self.reason,
        }
    }
}
