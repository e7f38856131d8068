//! Service intentions: which services may talk to which.
//!
//! Consul stores intentions as `service-intentions` config entries, one per
//! destination, each listing its sources ([`ServiceIntentions`]). The legacy
//! `/v1/connect/intentions` API is a view over those entries ([`Intention`]).
//! This crate owns the wire types, normalization and validation, precedence,
//! the legacy mutations (create/update/delete by ID, upsert/delete by name),
//! and the decisions built on them: `match`, `check`, agent `authorize` and
//! an L7 evaluator for HTTP requests.
//!
//! It is pure: no IO, no clock (timestamps and IDs are passed in), no
//! storage. Callers hand it the entries they hold and store what it returns.
//!
//! ```text
//!  config-entry API ──► ServiceIntentions ──normalize/validate──► store
//!  legacy API ──► Intention ──mutation::*──► Write::{Upsert, Delete}
//!  store entries ──► query::{list, matches, check} / authorize / l7
//! ```

mod action;
mod authorize;
mod entry;
mod error;
mod l7;
mod legacy;
pub mod mutation;
mod name;
mod normalize;
mod permission;
pub mod precedence;
pub mod query;
mod time;
mod validate;
mod validate_http;

pub use action::Action;
pub use authorize::{Authorization, DefaultPolicy, SpiffeService, authorize};
pub use entry::{KIND, SOURCE_TYPE_CONSUL, ServiceIntentions, SourceIntention};
pub use error::{Error, Invalid, Problem, Result};
pub use l7::{HttpRequest, authorize_request, evaluate_permissions};
pub use legacy::Intention;
pub use mutation::Write;
pub use name::{
    DEFAULT_NAMESPACE, DEFAULT_PARTITION, ParsedName, ServiceName, WILDCARD, parse_name,
};
pub use permission::{
    HeaderPermission, HttpPermission, IntentionPermission, JwtClaimVerification, JwtProvider,
    JwtRequirement,
};
pub use query::{Decision, MatchBy, check, matches};
pub use time::Timestamp;
pub use validate::{META_KEY_MAX_LEN, META_MAX_PAIRS, META_VALUE_MAX_LEN};
