//! The trait the rest of skein programs against.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use skein_types::Coordinate;
use tokio::sync::{broadcast, watch};

use crate::error::MembershipError;
use crate::event::UserEvent;
use crate::member::Member;
use crate::query::{KeyringOp, KeyringResponse};

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

    /// `force-leave -prune`: like [`Membership::force_leave`], and every
    /// member forgets the node at once instead of listing it as left until
    /// it is reaped.
    fn force_leave_prune(&self, name: &str) -> Result<(), MembershipError>;

    /// Fires a Serf user event: it spreads to every member by gossip and
    /// each member, this one included, delivers it once to its
    /// [`Membership::subscribe_events`] receivers. Returns the event's
    /// Lamport time.
    ///
    /// Errors with Serf's texts when the name plus payload is over
    /// [`crate::USER_EVENT_SIZE_LIMIT`] bytes
    /// ([`MembershipError::UserEventTooLarge`]) or the encoded event is
    /// ([`MembershipError::EncodedUserEventTooLarge`]), and when it would
    /// not fit in a gossip packet
    /// ([`MembershipError::UserEventExceedsPacket`]). Delivery is best
    /// effort, as in Serf: a member that is down while the event spreads
    /// never sees it.
    fn fire_event(&self, name: String, payload: Vec<u8>) -> Result<u64, MembershipError>;

    /// A receiver of the user events this member delivers from now on
    /// (fired here or elsewhere), each once. A receiver that lags more
    /// than 256 events behind gets `RecvError::Lagged` and skips ahead.
    fn subscribe_events(&self) -> broadcast::Receiver<UserEvent>;

    /// Runs a keyring operation on every alive member, this one included
    /// (Serf's key manager; Consul's `/v1/operator/keyring`), and tallies
    /// their answers, waiting up to [`crate::Timing::query_timeout`].
    ///
    /// A member that fails the operation (`Use` of a key it does not have:
    /// "requested key is not in the keyring"; `Remove` of its primary key:
    /// "removing the primary key is not allowed") counts in
    /// [`KeyringResponse::num_err`] with its text in
    /// [`KeyringResponse::messages`]; one that did not answer in time is
    /// missing from [`KeyringResponse::num_resp`].
    /// [`KeyringResponse::failure`] gives Serf's summary error for both.
    ///
    /// Errors before asking anyone when the key is not valid
    /// ([`MembershipError::InvalidKey`]) and, with Serf's texts, when this
    /// pool has no keyring ([`MembershipError::KeyringDisabled`]).
    fn keyring(&self, op: KeyringOp) -> BoxFuture<'_, Result<KeyringResponse, MembershipError>>;

    /// This node's Vivaldi network coordinate (Serf's, 8 dimensions,
    /// seconds). It starts at the origin with error 1.5 and moves as the
    /// pool measures round trips to random members every probe interval.
    fn coordinate(&self) -> Coordinate;

    /// The latest known coordinate of every alive member, this one
    /// included, sorted by name. Members not heard from yet (no ping or
    /// pong carried their coordinate) are missing.
    fn coordinates(&self) -> Vec<(String, Coordinate)>;

    /// Lifeguard's Local Health Multiplier (memberlist's health score,
    /// Consul's `memberlist.health.score`): 0 when healthy, up to 7
    /// (memberlist's `AwarenessMaxMultiplier` of 8, less one). It rises
    /// when this node's coordinate pings go unanswered within the probe
    /// timeout and when it has to refute a leave or rejoin after being
    /// declared failed; each answered ping lowers it. It is reported
    /// only: foca cannot change its probe interval or timeout at run time,
    /// so probes are not yet slowed by `score + 1` as memberlist's are.
    fn health_score(&self) -> u32;
}
