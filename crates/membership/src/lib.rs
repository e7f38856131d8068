//! skein's gossip pools (the LAN pool of every agent, the WAN pool of
//! servers): the Serf-like layer Consul agents use to find each other,
//! notice failures and carry node tags, user events, keys and coordinates.
//!
//! The rest of skein sees only the [`Membership`] trait and the
//! [`Member`] it reports; [`GossipPool`] implements it with SWIM on
//! [foca](https://docs.rs/foca), driven by one tokio task that owns the
//! foca instance and the UDP socket.
//!
//! What this layer adds on top of foca:
//!
//! - **Identity.** A member's foca identity carries its name, its gossip
//!   address, a generation and its tags, so tags travel with membership.
//!   Names are unique: a newer generation of a name replaces the older one
//!   (a restart, a rejoin after being declared failed, a tag change).
//! - **Serf states.** foca only knows up and down. A custom broadcast, the
//!   *leave intent*, tells a graceful leave (and `force-leave`) apart from a
//!   failure, so members become `left` instead of `failed`. Failed and left
//!   members stay listed until reaped ([`Timing::reap_after`]).
//! - **Join by address.** A small envelope around foca's packets carries a
//!   hello / hello-ack exchange that learns the identity behind an address,
//!   then foca's `announce` joins through it.
//! - **User events.** Serf's fire-and-forget events
//!   ([`Membership::fire_event`]) ride foca's custom broadcasts next to the
//!   leave intents (a tag byte tells them apart), ordered by a per-pool
//!   Lamport clock and delivered once per member through a 512-time
//!   recent-event buffer, as Serf's `EventBuffer`.
//! - **Encryption.** With a [`Keyring`] every datagram (foca's packets and
//!   our own) is sealed with AES-GCM under the primary key and opened with
//!   any installed key, as memberlist does. [`Membership::keyring`] runs
//!   Serf's key-manager operations (list, install, use, remove) on every
//!   member through a small request/response over the envelope, so a pool
//!   rotates its key without losing members.
//! - **Snapshot.** With a snapshot file the pool keeps the members it
//!   knows on disk and rejoins them after a restart (Serf's
//!   `local.snapshot`), so a node does not depend on its join addresses
//!   alone to find the pool again.
//! - **Network coordinates.** Every probe interval the pool pings one
//!   random alive member with its own ping/pong packets, feeds the round
//!   trip into Serf's Vivaldi algorithm (8 dimensions, latency filter,
//!   adjustment window, gravity) and keeps the coordinates members carry
//!   in those packets ([`Membership::coordinate`],
//!   [`Membership::coordinates`]).
//! - **Local health.** Lifeguard's Local Health Multiplier
//!   ([`Membership::health_score`]) follows missed pings and refutations;
//!   the driver stretches foca's probe interval and direct-ack wait by
//!   `score + 1` when it schedules them, so a slow node probes more
//!   patiently instead of accusing healthy members.
//!
//! ```text
//!  Membership (trait) ── GossipPool ──commands──▶ driver task
//!                                                  │  foca (SWIM) + broadcast handler
//!                                                  │      (leave intents, user events)
//!                                                  │  keyring queries, Vivaldi pings
//!                                                  ▼
//!                     envelope "sk" (wire) ─▶ AES-GCM seal (keyring) ─▶ UDP
//! ```

mod awareness;
mod broadcast;
mod config;
mod driver;
mod error;
mod event;
mod identity;
mod intent;
mod keyring;
mod member;
mod membership;
mod pool;
mod query;
mod shared;
mod snapshot;
mod table;
mod timers;
mod vivaldi;
mod wire;

pub use config::{PoolConfig, Timing};
pub use error::{MembershipError, Result};
pub use event::{USER_EVENT_SIZE_LIMIT, UserEvent};
pub use identity::MAX_IDENTITY_BYTES;
pub use keyring::Keyring;
pub use member::{Member, MemberStatus};
pub use membership::{BoxFuture, Membership};
pub use pool::GossipPool;
pub use query::{KeyringOp, KeyringResponse};
