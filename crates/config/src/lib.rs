//! Agent configuration for skein, modelled on Consul's.
//!
//! This crate owns everything between `skein agent <args>` and a finished,
//! validated [`RuntimeConfig`]:
//!
//! * [`parse_flags`] reads the agent's Go-`flag`-style arguments into [`Flags`];
//! * config files in JSON or HCL (Consul's key names, including legacy
//!   aliases such as `acl_master_token`) are read into [`UserConfig`]s,
//!   through the [`Environment`] trait so tests never touch the real machine;
//! * [`Builder::build`] merges defaults, `-dev` defaults, files, `-hcl`
//!   snippets and flags in Consul's order, applies defaults and validates;
//! * [`ConfigError`] names the key, the value and the file or flag at fault.
//!
//! Callers share the result as `Arc<RuntimeConfig>`; it never changes.

mod builder;
mod check;
mod de_error;
pub mod defaults;
mod definition;
mod duration;
mod env;
mod error;
mod flags;
mod log_level;
mod merge;
mod resolve;
mod runtime;
mod source;
mod user;

#[cfg(test)]
mod tests;

pub use builder::Builder;
pub use definition::{
    CheckDefinition, CheckKind, CheckTls, DEFAULT_OUTPUT_MAX_SIZE, ServiceDefinition, json_field,
};
pub use duration::{DurationError, DurationValue, format_go_duration, parse_go_duration};
pub use env::{Environment, MemoryEnvironment, OsEnvironment};
pub use error::ConfigError;
pub use flags::{ConfigPath, Flags, parse_flags};
pub use log_level::{InvalidLogLevel, LogLevel};
pub use runtime::{
    AclConfig, AclTokens, Addresses, Autopilot, DnsConfig, Limits, Ports, RuntimeConfig, Soa,
    TlsConfig,
};
pub use source::ConfigFormat;
pub use user::{
    Object, UserAcl, UserAclTokens, UserAddresses, UserAutopilot, UserConfig, UserConnect, UserDns,
    UserLimits, UserPeering, UserPerformance, UserPorts, UserSoa, UserUi,
};
