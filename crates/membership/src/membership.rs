//! The trait the rest of skein programs against.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::sync::watch;

use crate::error::MembershipError;
use crate::member::Member;

/// A boxed, sendable future borrowing the pool.
pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;

/// What skein needs from a gossip pool.
pub trait Membership: Send + Sync + 'static {
    /// This node as the pool knows it.
    fn local(&self) -> Member;

    /// Every known member including this one, failed and left ones too
    /// until they are reaped. Sorted by name.
    fn members(&self) -> Vec<Member>;

    /// A counter bumped on every join, leave, failure and update.
    fn changes(&self) -> watch::Receiver<u64>;

    /// Contacts each address and joins the pool through those that answer.
    /// Returns how many answered, or an error if none did (an empty list
    /// is `Ok(0)`).
    fn join(&self, addrs: Vec<SocketAddr>) -> BoxFuture<'_, Result<usize, MembershipError>>;

    /// Leaves gracefully: the others see this node `left` (not `failed`),
    /// then the pool stops.
    fn leave(&self) -> BoxFuture<'_, Result<(), MembershipError>>;

    /// Replaces this node's tags; the others see the update.
    fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<(), MembershipError>;

    /// Consul's `force-leave`: a failed member becomes `left` everywhere
    /// (an alive one refutes it and stays). Errors if the name is unknown.
    fn force_leave(&self, name: &str) -> Result<(), MembershipError>;
}
