//! Errors of the gossip pool.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong starting or using a gossip pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The UDP socket could not be bound.
    #[error("binding the gossip socket on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The address to advertise is unspecified (`0.0.0.0` or `::`), so no
    /// other member could reach it.
    #[error("cannot advertise the unspecified address {addr}: set an advertise address")]
    Advertise {
        /// The address that would have been advertised.
        addr: SocketAddr,
    },
    /// The node name is empty.
    #[error("the node name must not be empty")]
    EmptyName,
    /// Name, address and tags do not fit in a gossip packet.
    #[error(
        "the encoded node identity (name, address, tags) is {size} bytes, over the limit of {limit} bytes"
    )]
    IdentityTooLarge {
        /// The encoded size.
        size: usize,
        /// The limit, [`crate::MAX_IDENTITY_BYTES`].
        limit: usize,
    },
    /// A [`crate::Timing`] value is unusable.
    #[error("invalid gossip timing: {reason}")]
    InvalidTiming {
        /// Which value and why.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("seeding the gossip random number generator: {reason}")]
    Rng {
        /// The OS error, as text.
        reason: String,
    },
    /// None of the addresses given to `join` answered in time.
    #[error("failed to join any of {addrs:?}: no answer")]
    JoinFailed {
        /// The addresses tried.
        addrs: Vec<SocketAddr>,
    },
    /// `force_leave` named a member the pool does not know.
    #[error("no member named {name:?} in the pool")]
    UnknownMember {
        /// The name asked for.
        name: String,
    },
    /// `force_leave` named the local node.
    #[error("cannot force-leave the local node {name:?}")]
    LocalNode {
        /// The local node's name.
        name: String,
    },
    /// A user event's name plus payload is over Serf's limit
    /// ([`crate::USER_EVENT_SIZE_LIMIT`]); Serf's error text.
    #[error("user event exceeds configured limit of {limit} bytes before encoding")]
    UserEventTooLarge {
        /// Name plus payload, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The encoded user event is over Serf's limit; Serf's error text.
    #[error("encoded user event exceeds configured limit of {limit} bytes after encoding")]
    EncodedUserEventTooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The encoded user event would not fit in a gossip packet next to
    /// the packet's header (which carries node identities with their tags).
    #[error(
        "encoded user event of {size} bytes does not fit in a gossip packet (room for {limit} bytes)"
    )]
    UserEventExceedsPacket {
        /// The encoded size.
        size: usize,
        /// The room left in a packet.
        limit: usize,
    },
    /// A gossip encryption key is not valid base64 or not 16, 24 or 32
    /// bytes; the text is Consul's (Go's base64 error, memberlist's size
    /// error).
    #[error("{reason}")]
    InvalidKey {
        /// Why.
        reason: String,
    },
    /// A keyring operation on a pool without gossip encryption; Serf's
    /// texts ("No keyring to modify (encryption not enabled)", for a
    /// list "Keyring is empty (encryption not enabled)").
    #[error("{reason}")]
    KeyringDisabled {
        /// Serf's text.
        reason: &'static str,
    },
    /// The keyring file could not be read or written.
    #[error("keyring file {path}: {reason}")]
    KeyringFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Something could not be encoded for the wire.
    #[error("encoding a {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's error, as text.
        reason: String,
    },
    /// The pool has left or was shut down.
    #[error("the gossip pool has stopped")]
    Stopped,
}

/// Results of this crate.
pub type Result<T, E = MembershipError> = std::result::Result<T, E>;
