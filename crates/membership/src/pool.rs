//! [`GossipPool`]: the foca-based [`Membership`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use foca::{Foca, PostcardCodec};
use futures::future::join_all;
use rand::SeedableRng;
use rand::rngs::{StdRng, SysRng};
use skein_types::Coordinate;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span};

use crate::broadcast::{Handler, Item};
use crate::config::{MAX_PACKET, PoolConfig, Timing};
use crate::driver::{Command, Driver, Security};
use crate::error::{MembershipError, Result};
use crate::event::UserEvent;
use crate::identity::NodeId;
use crate::keyring::Keyring;
use crate::member::Member;
use crate::membership::{BoxFuture, Membership};
use crate::query::{KeyringOp, KeyringResponse};
use crate::shared::Shared;
use crate::snapshot::Snapshotter;
use crate::table::Table;

/// A LAN gossip pool: SWIM on foca over UDP, one driver task per pool.
///
/// Dropping the last handle stops the pool without leaving (the others
/// will see this node fail).
pub struct GossipPool {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    addr: SocketAddr,
    local_addr: SocketAddr,
    timing: Timing,
    /// Whether gossip is encrypted (fixed at start: a keyring never
    /// becomes empty).
    encrypted: bool,
    task: Mutex<Option<JoinHandle<()>>>,
}

// === impl GossipPool ===

impl GossipPool {
    /// Binds the socket and starts the driver. The pool starts alone; call
    /// [`Membership::join`] to join others.
    pub async fn start(config: PoolConfig) -> Result<Arc<Self>> {
        let PoolConfig {
            name,
            bind,
            advertise,
            tags,
            timing,
            keyring,
            keyring_file,
            snapshot_file,
            rejoin_after_leave,
        } = config;
        if name.is_empty() {
            return Err(MembershipError::EmptyName);
        }
        timing.validate()?;
        let security = security(keyring, keyring_file)?;
        let encrypted = security.keyring.is_some();
        let socket = UdpSocket::bind(bind)
            .await
            .map_err(|source| MembershipError::Bind { addr: bind, source })?;
        let local_addr = socket
            .local_addr()
            .map_err(|source| MembershipError::Bind { addr: bind, source })?;
        let addr = advertised(advertise, local_addr)?;
        let me = NodeId::new(name, addr, tags);
        me.check_size()?;
        let rng = StdRng::try_from_rng(&mut SysRng).map_err(|e| MembershipError::Rng {
            reason: e.to_string(),
        })?;
        let driver_rng = StdRng::try_from_rng(&mut SysRng).map_err(|e| MembershipError::Rng {
            reason: e.to_string(),
        })?;

        let shared = Arc::new(Shared::new(Table::new(me.clone(), Instant::now())));
        let handler = Handler::new(Arc::clone(&shared));
        let span = info_span!("memberlist", node = %me.name);
        let foca = Foca::with_custom_broadcast(
            me.clone(),
            timing.foca_config(1),
            rng,
            PostcardCodec,
            handler,
        );
        let (commands, inbox) = mpsc::unbounded_channel();
        let mut driver = Driver::new(
            foca,
            socket,
            Arc::clone(&shared),
            timing.clone(),
            inbox,
            security,
            driver_rng,
        );
        let mut rejoin = Vec::new();
        if let Some(path) = snapshot_file {
            let snapshot = Snapshotter::open(path);
            rejoin = snapshot.known().rejoin_addrs(rejoin_after_leave);
            if snapshot.known().left() && rejoin.is_empty() {
                span.in_scope(|| info!("left the pool last time; not rejoining from the snapshot"));
            }
            driver = driver.with_snapshot(snapshot);
        }
        span.in_scope(|| {
            info!(%addr, bind = %local_addr, generation = me.generation, encrypted, "gossip pool started")
        });
        let task = tokio::spawn(driver.run().instrument(span.clone()));
        if !rejoin.is_empty() {
            let commands = commands.clone();
            let wait = timing.join_timeout;
            tokio::spawn(rejoin_previous(commands, rejoin, wait).instrument(span));
        }
        Ok(Arc::new(Self {
            shared,
            commands,
            addr,
            local_addr,
            timing,
            encrypted,
            task: Mutex::new(Some(task)),
        }))
    }

    /// The address other members use to reach this one.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the pool without leaving (the others will see this node fail)
    /// and waits for the socket to close.
    pub async fn shutdown(&self) {
        // An error means the driver has stopped already.
        let _ = self.commands.send(Command::Shutdown);
        self.wait_stopped().await;
    }

    async fn wait_stopped(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // A join error means the driver panicked; it has stopped anyway.
            let _ = task.await;
        }
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| MembershipError::Stopped)
    }

    /// Sends one join and waits for its answer, up to the join timeout.
    async fn join_one(&self, addr: SocketAddr) -> bool {
        join_through(&self.commands, addr, self.timing.join_timeout).await
    }

    /// `force-leave`, or with `prune` `force-leave -prune`.
    fn force_leave_with(&self, name: &str, prune: bool) -> Result<()> {
        {
            let table = self.shared.lock();
            if name == table.local_name() {
                return Err(MembershipError::LocalNode {
                    name: name.to_owned(),
                });
            }
            if table.generation_of(name).is_none() {
                return Err(MembershipError::UnknownMember {
                    name: name.to_owned(),
                });
            }
        }
        info!(member = %name, prune, "force-leave");
        self.send(Command::ForceLeave {
            name: name.to_owned(),
            prune,
        })
    }
}

impl std::fmt::Debug for GossipPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipPool")
            .field("addr", &self.addr)
            .field("local", &self.shared.lock().local_name())
            .finish_non_exhaustive()
    }
}

impl Membership for GossipPool {
    fn local(&self) -> Member {
        self.shared.lock().local()
    }

    fn members(&self) -> Vec<Member> {
        self.shared.lock().members()
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.shared.subscribe()
    }

    fn join(&self, addrs: Vec<SocketAddr>) -> BoxFuture<'_, Result<usize>> {
        Box::pin(async move {
            if addrs.is_empty() {
                return Ok(0);
            }
            if self.commands.is_closed() {
                return Err(MembershipError::Stopped);
            }
            let answered = join_all(addrs.iter().map(|&addr| self.join_one(addr))).await;
            let joined = answered.iter().filter(|ok| **ok).count();
            if joined == 0 {
                return Err(MembershipError::JoinFailed { addrs });
            }
            let node = self.shared.lock().local_name().to_owned();
            info!(%node, joined, tried = addrs.len(), "joined the pool");
            Ok(joined)
        })
    }

    fn leave(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let (done, left) = oneshot::channel();
            self.send(Command::Leave { done })?;
            let result = left.await.map_err(|_| MembershipError::Stopped);
            self.wait_stopped().await;
            result
        })
    }

    fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<()> {
        if self.commands.is_closed() {
            return Err(MembershipError::Stopped);
        }
        {
            let mut table = self.shared.lock();
            let me = NodeId::new(table.local_name().to_owned(), self.addr, tags.clone());
            me.check_size()?;
            // The driver moves to a new generation; show the tags now.
            table.set_local_tags(tags.clone());
        }
        self.shared.publish();
        self.send(Command::SetTags(tags))
    }

    fn force_leave(&self, name: &str) -> Result<()> {
        self.force_leave_with(name, false)
    }

    fn force_leave_prune(&self, name: &str) -> Result<()> {
        self.force_leave_with(name, true)
    }

    fn fire_event(&self, name: String, payload: Vec<u8>) -> Result<u64> {
        if self.commands.is_closed() {
            return Err(MembershipError::Stopped);
        }
        let room = event_room(self.shared.lock().local_id().encoded_len());
        let event = self.shared.events().fire(name, payload, room)?;
        let ltime = event.ltime;
        let item = Item::Event(event)
            .encode()
            .map_err(|e| MembershipError::Encode {
                what: "user event",
                reason: e.to_string(),
            })?;
        debug!(ltime, "firing a user event");
        self.send(Command::Broadcast(item))?;
        Ok(ltime)
    }

    fn subscribe_events(&self) -> broadcast::Receiver<UserEvent> {
        self.shared.subscribe_events()
    }

    fn health_score(&self) -> u32 {
        self.shared.health()
    }

    fn coordinate(&self) -> Coordinate {
        self.shared.local_coordinate()
    }

    fn coordinates(&self) -> Vec<(String, Coordinate)> {
        self.shared.coordinates()
    }

    fn keyring(&self, op: KeyringOp) -> BoxFuture<'_, Result<KeyringResponse>> {
        Box::pin(async move {
            if !self.encrypted {
                return Err(op.disabled());
            }
            let op = op.to_wire()?;
            let (done, answers) = oneshot::channel();
            self.send(Command::Keyring { op, done })?;
            answers.await.map_err(|_| MembershipError::Stopped)
        })
    }
}

/// The keyring to start with: the keyring file's when it exists, else the
/// configured one (then written to the file).
/// Sends one join through the driver and waits for its answer, up to `wait`.
async fn join_through(
    commands: &mpsc::UnboundedSender<Command>,
    addr: SocketAddr,
    wait: std::time::Duration,
) -> bool {
    let (done, answered) = oneshot::channel();
    if commands.send(Command::Join { addr, done }).is_err() {
        return false;
    }
    matches!(tokio::time::timeout(wait, answered).await, Ok(Ok(())))
}

/// Joins the members the snapshot remembers, all at once, as Serf does at
/// start; the agent's own join addresses are tried beside these.
async fn rejoin_previous(
    commands: mpsc::UnboundedSender<Command>,
    addrs: Vec<SocketAddr>,
    wait: std::time::Duration,
) {
    info!(
        members = addrs.len(),
        "rejoining the members in the snapshot"
    );
    let answered = join_all(addrs.iter().map(|a| join_through(&commands, *a, wait))).await;
    let joined = answered.iter().filter(|ok| **ok).count();
    if joined == 0 {
        info!("no member in the snapshot answered");
    } else {
        info!(joined, of = addrs.len(), "rejoined through the snapshot");
    }
}

fn security(
    keyring: Option<Keyring>,
    keyring_file: Option<std::path::PathBuf>,
) -> Result<Security> {
    let keyring = match &keyring_file {
        Some(path) if path.exists() => Some(Keyring::load(path)?),
        Some(path) => {
            if let Some(keyring) = &keyring {
                keyring.save(path)?;
            }
            keyring
        }
        None => keyring,
    };
    Ok(Security {
        keyring,
        keyring_file,
    })
}

/// Room for an encoded user event in a gossip packet whose header carries
/// two identities of about `identity` bytes (ours and the receiver's),
/// less foca's framing and the item's tag and length prefix.
fn event_room(identity: usize) -> usize {
    const FRAMING: usize = 32;
    MAX_PACKET
        .saturating_sub(identity.saturating_mul(2))
        .saturating_sub(FRAMING)
}

/// The address to advertise: the configured one (its port defaulting to the
/// bound port), else the bound one; never an unspecified address.
fn advertised(advertise: Option<SocketAddr>, bound: SocketAddr) -> Result<SocketAddr> {
    let mut addr = advertise.unwrap_or(bound);
    if addr.port() == 0 {
        addr.set_port(bound.port());
    }
    if addr.ip().is_unspecified() {
        return Err(MembershipError::Advertise { addr });
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_defaults_to_the_bound_address() {
        let bound: SocketAddr = "127.0.0.1:8301".parse().unwrap();
        assert_eq!(advertised(None, bound).unwrap(), bound);
        let other: SocketAddr = "10.0.0.5:0".parse().unwrap();
        assert_eq!(
            advertised(Some(other), bound).unwrap(),
            "10.0.0.5:8301".parse().unwrap()
        );
        let any: SocketAddr = "0.0.0.0:8301".parse().unwrap();
        assert!(matches!(
            advertised(None, any),
            Err(MembershipError::Advertise { .. })
        ));
    }
}
