//! The discovery chain compiler and the cross-entry checks Consul runs when
//! a config entry is written.
//!
//! ```text
//!   EntrySet (all config entries) ─┬─ compile(CompileRequest) ──▶ CompiledDiscoveryChain
//!                                  └─ validate_proposed(change) ──▶ Ok / Error (refuse the write)
//! ```
//!
//! Owns: the chain graph (router → splitter → resolver → targets), target IDs
//! and SNIs, protocol consistency, cycle detection. Does not own storage, the
//! catalog, or turning chains into Envoy resources.
//!
//! Pure: no IO, no clock. Community-edition semantics: one namespace and one
//! partition (`default`).

#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod chain;
mod compile;
mod entries;
mod error;
mod request;
mod validate;

pub use chain::{
    CompiledDiscoveryChain, DiscoveryChainResponse, DiscoveryFailover, DiscoveryGraphNode,
    DiscoveryResolver, DiscoveryRoute, DiscoverySplit, DiscoveryTarget, NODE_RESOLVER, NODE_ROUTER,
    NODE_SPLITTER, service_sni,
};
pub use compile::compile;
pub use entries::EntrySet;
pub use error::{Error, Result};
pub use request::{CompileRequest, Overrides};
pub use validate::{ProposedChange, validate_proposed};

#[cfg(test)]
mod tests;
