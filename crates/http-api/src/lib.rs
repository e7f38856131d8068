//! Consul's HTTP API (`/v1/*`) on axum.
//!
//! Owns request parsing (query options, bodies), blocking queries, the
//! `X-Consul-*` headers and the mapping of errors to Consul's status codes
//! and messages. It does not own state or Raft: every handler talks to a
//! [`Backend`] (implemented by the agent) and asks an [`Authorizer`].
//!
//! ```text
//!  request ─> token + dc + authorizer ─> handler ─┬─> Backend::write(Op)        (Raft)
//!                                                 └─> blocking::query(store, ..) (parks on watches)
//!                                                     blocking::shared_or(..)    (one rendering per change)
//! ```

mod auth;
mod backend;
mod blocking;
mod error;
mod events;
mod logs;
mod query;
mod read_route;
mod response;
mod router;
mod shared;
mod trace;
mod v1;

pub use auth::{Access, Authorizer, StaticAuthorizer};
pub use backend::{
    AgentInfo, ApiConfig, Backend, BackendError, ClusterView, Consistency, KeyringAnswer,
    KeyringRequest, LeafCerts, LocalAgent, LocalError, MemberInfo, Peer, ReadMeta,
};
pub use error::ApiError;
pub use events::{EventLog, UserEvent};
pub use logs::{LOG_BUFFER, LogFeed, LogLine, log_feed};
pub use router::{ApiParts, ApiState, router, service};
pub use shared::SharedAnswers;
