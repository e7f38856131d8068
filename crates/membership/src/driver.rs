//! The task that owns foca and the socket.
//!
//! One loop waits for a command, a datagram or the next timer, hands it to
//! foca (or handles it itself), then drains foca's runtime: notifications
//! update the member table, timers go into the queue, packets go out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, OwnedNotification, PostcardCodec};
use rand::RngExt;
use rand::rngs::StdRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::awareness::Awareness;
use crate::broadcast::{Handler, Item};
use crate::config::{Timing, deadline};
use crate::identity::NodeId;
use crate::intent::{Intent, IntentKind};
use crate::keyring::{Keyring, SEAL_OVERHEAD, SEAL_VERSION};
use crate::member::MemberStatus;
use crate::query::{
    KEYRING_EMPTY, KeyAnswer, KeyOp, KeyQuery, KeyringResponse, NO_KEYRING_TO_MODIFY, Pending,
};
use crate::shared::Shared;
use crate::snapshot::Snapshotter;
use crate::timers::{Due, LeaveStage, TimerQueue};
use crate::vivaldi::Vivaldi;
use crate::wire::{self, Packet, Probe};

/// The foca instance a pool drives.
pub(crate) type Gossip = Foca<NodeId, PostcardCodec, StdRng, Handler>;

/// Receive buffer: any datagram fits, so oversized ones reach foca and are
/// rejected there instead of being silently truncated.
const RECV_BUF: usize = 65_536;

/// What the pool handle asks of the driver.
pub(crate) enum Command {
    /// Join through `addr`; `done` fires once it answered.
    Join {
        addr: SocketAddr,
        done: oneshot::Sender<()>,
    },
    SetTags(BTreeMap<String, String>),
    ForceLeave {
        name: String,
        prune: bool,
    },
    /// Spread an encoded broadcast item (a user event).
    Broadcast(Vec<u8>),
    /// Leave gracefully; `done` fires once gone.
    Leave {
        done: oneshot::Sender<()>,
    },
    /// Run a keyring operation on every alive member.
    Keyring {
        op: KeyOp,
        done: oneshot::Sender<KeyringResponse>,
    },
    /// Stop without leaving.
    Shutdown,
}

/// Gossip encryption state of a pool.
pub(crate) struct Security {
    pub(crate) keyring: Option<Keyring>,
    pub(crate) keyring_file: Option<PathBuf>,
}

/// Owns foca, the socket and the timers of one pool.
pub(crate) struct Driver {
    foca: Gossip,
    runtime: AccumulatingRuntime<NodeId>,
    socket: UdpSocket,
    shared: Arc<Shared>,
    timing: Timing,
    commands: mpsc::UnboundedReceiver<Command>,
    timers: TimerQueue,
    joins: Vec<PendingJoin>,
    /// Whether a `Due::JoinRetry` is queued.
    join_retry_queued: bool,
    /// Our own packets (hellos), sent with foca's.
    outbox: Vec<(SocketAddr, Vec<u8>)>,
    leave_waiters: Vec<oneshot::Sender<()>>,
    leaving: bool,
    stopped: bool,
    /// Members (including us) foca's configuration was scaled for.
    scaled_for: usize,
    security: Security,
    /// Keyring queries we asked, by id.
    queries: HashMap<u64, Pending>,
    next_query: u64,
    vivaldi: Vivaldi,
    /// Coordinate pings in flight: nonce to (member, sent at).
    pings: HashMap<u64, (String, Instant)>,
    rng: StdRng,
    awareness: Awareness,
    /// The members kept on disk, and the table version last recorded.
    snapshot: Option<(Snapshotter, u64)>,
}

/// A join waiting for its answer.
struct PendingJoin {
    addr: SocketAddr,
    done: oneshot::Sender<()>,
    /// Who answered the hello; we announced to it.
    peer: Option<NodeId>,
}

enum Event {
    Command(Option<Command>),
    Packet(std::io::Result<(usize, SocketAddr)>),
    Timers,
}

// === impl Driver ===

impl Driver {
    pub(crate) fn new(
        foca: Gossip,
        socket: UdpSocket,
        shared: Arc<Shared>,
        timing: Timing,
        commands: mpsc::UnboundedReceiver<Command>,
        security: Security,
        mut rng: StdRng,
    ) -> Self {
        Self {
            foca,
            runtime: AccumulatingRuntime::new(),
            socket,
            shared,
            timing,
            commands,
            timers: TimerQueue::default(),
            joins: Vec::new(),
            join_retry_queued: false,
            outbox: Vec::new(),
            leave_waiters: Vec::new(),
            leaving: false,
            stopped: false,
            scaled_for: 1,
            security,
            queries: HashMap::new(),
            next_query: 0,
            vivaldi: Vivaldi::new(rng.random()),
            pings: HashMap::new(),
            rng,
            awareness: Awareness::default(),
            snapshot: None,
        }
    }

    /// Keeps the members this pool knows in `snapshot`.
    pub(crate) fn with_snapshot(mut self, snapshot: Snapshotter) -> Self {
        self.snapshot = Some((snapshot, u64::MAX));
        self
    }

    pub(crate) async fn run(mut self) {
        let mut buf = vec![0u8; RECV_BUF];
        self.timers
            .push(deadline(Instant::now(), self.reap_every()), Due::Reap);
        self.timers.push(
            deadline(Instant::now(), self.timing.probe_interval),
            Due::CoordinatePing,
        );
        while !self.stopped {
            let next = self.timers.next_deadline();
            let event = tokio::select! {
                command = self.commands.recv() => Event::Command(command),
                received = self.socket.recv_from(&mut buf) => Event::Packet(received),
                () = sleep_until(next) => Event::Timers,
            };
            match event {
                Event::Command(Some(command)) => self.on_command(command),
                Event::Command(None) => {
                    info!("pool handle dropped; stopping without leaving");
                    self.stopped = true;
                }
                Event::Packet(Ok((len, from))) => {
                    self.on_packet(buf.get(..len).unwrap_or_default(), from);
                }
                Event::Packet(Err(error)) => debug!(%error, "receiving a gossip packet failed"),
                Event::Timers => self.on_timers(),
            }
            self.flush().await;
        }
        for done in self.leave_waiters.drain(..) {
            let _ = done.send(());
        }
        info!("gossip pool stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Shutdown => {
                info!("shutting down without leaving");
                self.stopped = true;
            }
            Command::Leave { done } => self.start_leave(done),
            // Pending joins fail: their `done` is dropped.
            _ if self.leaving => debug!("ignoring a command while leaving"),
            Command::Join { addr, done } => self.start_join(addr, done),
            Command::SetTags(tags) => self.change_tags(tags),
            Command::ForceLeave { name, prune } => self.force_leave(name, prune),
            Command::Broadcast(item) => self.spread(&item),
            Command::Keyring { op, done } => self.start_query(op, done),
        }
    }

    fn on_packet(&mut self, data: &[u8], from: SocketAddr) {
        match &self.security.keyring {
            Some(keyring) => match keyring.open(data) {
                Some(plain) => self.on_plain_packet(&plain, from),
                None => debug!(%from, len = data.len(), "dropping a packet no installed key opens"),
            },
            None if data.first() == Some(&SEAL_VERSION) && data.len() >= SEAL_OVERHEAD => {
                debug!(%from, len = data.len(), "dropping an encrypted packet: no keyring");
            }
            None => self.on_plain_packet(data, from),
        }
    }

    fn on_plain_packet(&mut self, data: &[u8], from: SocketAddr) {
        match wire::decode(data) {
            Err(error) => {
                debug!(%from, %error, len = data.len(), "dropping malformed gossip packet");
            }
            Ok(Packet::Foca(payload)) => {
                if let Err(error) = self.foca.handle_data(payload, &mut self.runtime) {
                    debug!(%from, %error, len = data.len(), "gossip packet rejected");
                }
            }
            Ok(Packet::Hello(peer)) => self.on_hello(&peer, from),
            Ok(Packet::HelloAck(peer)) => self.on_hello_ack(peer, from),
            Ok(Packet::KeyQuery(query)) => self.on_key_query(query, from),
            Ok(Packet::KeyAnswer(answer)) => self.on_key_answer(answer),
            Ok(Packet::Ping(probe)) => self.on_ping(probe, from),
            Ok(Packet::Pong(probe)) => self.on_pong(probe),
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some(due) = self.timers.pop_due(now) {
            match due {
                Due::Foca(timer) => {
                    if let Err(error) = self.foca.handle_timer(timer, &mut self.runtime) {
                        debug!(%error, "gossip timer");
                    }
                }
                Due::JoinRetry => self.retry_joins(now),
                Due::Leave(stage) => self.leave_step(stage, now),
                Due::Reap => self.reap(now),
                Due::QueryTimeout(id) => self.finish_query(id),
                Due::CoordinatePing => self.send_ping(now),
            }
        }
    }

    /// Drains foca's runtime, updates the table, sends what is queued.
    async fn flush(&mut self) {
        loop {
            if self.shared.lock().take_refute() && !self.leaving {
                self.refute();
            }
            while let Some(notification) = self.runtime.to_notify() {
                self.on_notification(notification);
            }
            let now = Instant::now();
            while let Some((after, timer)) = self.runtime.to_schedule() {
                let after = self.awareness.delay(&timer, after);
                self.timers.push(deadline(now, after), Due::Foca(timer));
            }
            while let Some((to, data)) = self.runtime.to_send() {
                let mut packet = Vec::with_capacity(wire::ENVELOPE_LEN + data.len());
                wire::encode_foca(&mut packet, &data);
                self.outbox.push((to.addr, packet));
            }
            if self.runtime.backlog() == 0 {
                break;
            }
        }
        self.resolve_joins();
        self.rescale();
        for (to, packet) in std::mem::take(&mut self.outbox) {
            let packet = match &self.security.keyring {
                None => packet,
                Some(keyring) => match keyring.seal(&packet) {
                    Some(sealed) => sealed,
                    None => {
                        warn!(%to, "sealing a gossip packet failed");
                        continue;
                    }
                },
            };
            if let Err(error) = self.socket.send_to(&packet, to).await {
                debug!(%to, %error, "sending a gossip packet failed");
            }
        }
        self.record_snapshot();
        self.shared.publish();
    }

    /// Writes the snapshot when the member table changed.
    fn record_snapshot(&mut self) {
        let Some((snapshot, recorded)) = &mut self.snapshot else {
            return;
        };
        let table = self.shared.lock();
        if table.version() == *recorded {
            return;
        }
        *recorded = table.version();
        let (members, local) = (table.members(), table.local_name().to_owned());
        drop(table);
        snapshot.record(&members, &local);
    }

    fn on_notification(&mut self, notification: OwnedNotification<NodeId>) {
        let now = std::time::Instant::now();
        match notification {
            OwnedNotification::MemberUp(id) => {
                let changed = self.shared.lock().member_up(&id, now);
                if changed {
                    info!(member = %id.name, addr = %id.addr, "member joined");
                }
            }
            OwnedNotification::MemberDown(id) => {
                let status = self.shared.lock().member_down(&id, now);
                match status {
                    Some(MemberStatus::Left) => {
                        info!(member = %id.name, addr = %id.addr, "member left")
                    }
                    Some(_) => info!(member = %id.name, addr = %id.addr, "member failed"),
                    None => {}
                }
            }
            OwnedNotification::Rename(old, new) => {
                let changed = self.shared.lock().rename(&new);
                if changed {
                    info!(
                        member = %new.name,
                        from = old.generation,
                        to = new.generation,
                        "member updated"
                    );
                }
            }
            OwnedNotification::Rejoin(new) => {
                info!(
                    generation = new.generation,
                    "declared failed while alive; rejoined as a new generation"
                );
                self.shared.lock().set_local(new);
                self.health(1);
                self.reconnect();
            }
            OwnedNotification::Active => debug!("in touch with the pool"),
            OwnedNotification::Idle => info!("no other live members"),
            // foca reports our own leave as defunct too.
            OwnedNotification::Defunct if self.leaving => debug!("declared ourselves down"),
            OwnedNotification::Defunct => warn!("declared failed and unable to rejoin"),
        }
    }

    // --- joins

    fn start_join(&mut self, addr: SocketAddr, done: oneshot::Sender<()>) {
        debug!(%addr, "joining");
        if !self.join_retry_queued {
            self.join_retry_queued = true;
            let at = deadline(Instant::now(), self.timing.probe_timeout);
            self.timers.push(at, Due::JoinRetry);
        }
        self.send_hello(addr);
        self.joins.push(PendingJoin {
            addr,
            done,
            peer: None,
        });
    }

    fn send_hello(&mut self, to: SocketAddr) {
        match wire::hello(self.foca.identity()) {
            Ok(packet) => self.outbox.push((to, packet)),
            Err(error) => warn!(%error, "encoding a hello failed"),
        }
    }

    fn on_hello(&mut self, peer: &NodeId, from: SocketAddr) {
        if self.leaving {
            return;
        }
        debug!(%from, peer = ?peer, "join request");
        let me = self.foca.identity();
        if peer.name == me.name && peer != me {
            warn!(%from, addr = %peer.addr, "a node with our name asked to join through us");
        }
        match wire::hello_ack(self.foca.identity()) {
            Ok(packet) => self.outbox.push((from, packet)),
            Err(error) => warn!(%error, "encoding a hello-ack failed"),
        }
    }

    /// The address of a pending join answered: announce to who is there.
    /// An address of our own counts as answered, as in memberlist (servers
    /// list themselves in `retry_join`); another node with our name fails
    /// the join.
    fn on_hello_ack(&mut self, peer: NodeId, from: SocketAddr) {
        let me = self.foca.identity().clone();
        let mut matched = false;
        for mut join in std::mem::take(&mut self.joins) {
            let answered = join.peer.is_none()
                && (same_addr(join.addr, from) || same_addr(join.addr, peer.addr));
            if answered {
                matched = true;
                if peer == me {
                    debug!(addr = %join.addr, "joined ourselves");
                    let _ = join.done.send(());
                    continue;
                }
                if peer.name == me.name {
                    warn!(addr = %join.addr, "join target has our node name; not joining");
                    continue;
                }
                if let Err(error) = self.foca.announce(peer.clone(), &mut self.runtime) {
                    debug!(%error, peer = ?peer, "announce failed");
                }
                join.peer = Some(peer.clone());
            }
            self.joins.push(join);
        }
        if !matched {
            debug!(%from, peer = ?peer, "unexpected hello-ack");
        }
    }

    /// Completes the joins whose peer foca now counts as a live member.
    fn resolve_joins(&mut self) {
        if self.joins.iter().all(|j| j.peer.is_none()) {
            return;
        }
        let live: HashSet<&str> = self
            .foca
            .iter_members()
            .map(|m| m.id().name.as_str())
            .collect();
        let (done, pending): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.joins).into_iter().partition(|j| {
                j.peer
                    .as_ref()
                    .is_some_and(|p| live.contains(p.name.as_str()))
            });
        self.joins = pending;
        for join in done {
            let name = join.peer.map(|p| p.name).unwrap_or_default();
            info!(member = %name, addr = %join.addr, "joined through member");
            let _ = join.done.send(());
        }
    }

    /// Resends hellos (and announces) for joins still waiting; forgets
    /// those whose caller gave up.
    fn retry_joins(&mut self, now: Instant) {
        self.joins.retain(|j| !j.done.is_closed());
        let targets: Vec<(SocketAddr, Option<NodeId>)> = self
            .joins
            .iter()
            .map(|j| (j.addr, j.peer.clone()))
            .collect();
        for (addr, peer) in targets {
            match peer {
                None => self.send_hello(addr),
                Some(peer) => {
                    if let Err(error) = self.foca.announce(peer, &mut self.runtime) {
                        debug!(%error, "announce failed");
                    }
                }
            }
        }
        self.join_retry_queued = !self.joins.is_empty();
        if self.join_retry_queued {
            let at = deadline(now, self.timing.probe_timeout);
            self.timers.push(at, Due::JoinRetry);
        }
    }

    // --- identity changes

    fn change_tags(&mut self, tags: BTreeMap<String, String>) {
        let next = self.foca.identity().with_tags(tags);
        let generation = next.generation;
        if self.change_identity(next) {
            info!(generation, "tags updated");
        }
    }

    /// An intent said we leave while we do not: move to a new generation so
    /// it no longer applies to us.
    fn refute(&mut self) {
        self.health(1);
        let tags = self.foca.identity().tags.clone();
        let next = self.foca.identity().with_tags(tags);
        info!(
            generation = next.generation,
            "refuting a leave intent about us"
        );
        self.change_identity(next);
    }

    fn change_identity(&mut self, next: NodeId) -> bool {
        match self.foca.change_identity(next.clone(), &mut self.runtime) {
            Ok(()) => {
                self.shared.lock().set_local(next);
                self.reconnect();
                true
            }
            Err(error) => {
                warn!(%error, "changing the gossip identity failed");
                false
            }
        }
    }

    /// After an identity change foca waits for a message addressed to the
    /// new identity; an announce to a few live members brings one back.
    fn reconnect(&mut self) {
        let peers: Vec<NodeId> = self
            .foca
            .iter_members()
            .take(self.timing.gossip_nodes.max(1))
            .map(|m| m.id().clone())
            .collect();
        for peer in peers {
            if let Err(error) = self.foca.announce(peer, &mut self.runtime) {
                debug!(%error, "announce failed");
            }
        }
    }

    // --- leaving

    fn force_leave(&mut self, name: String, prune: bool) {
        let Some(generation) = self.shared.lock().generation_of(&name) else {
            debug!(member = %name, "force-leave of a member reaped meanwhile");
            return;
        };
        let intent = Intent {
            kind: if prune {
                IntentKind::ForceLeavePrune
            } else {
                IntentKind::ForceLeave
            },
            name,
            generation,
        };
        if self.broadcast(&intent) {
            if let Err(error) = self.foca.broadcast(&mut self.runtime) {
                debug!(%error, "broadcasting force-leave failed");
            }
        } else {
            debug!(member = %intent.name, "force-leave already known");
        }
    }

    /// Queues an encoded item (the handler applies it here too) and
    /// sends it out at once.
    fn spread(&mut self, item: &[u8]) {
        match self.foca.add_broadcast(item) {
            Ok(true) => {
                if let Err(error) = self.foca.broadcast(&mut self.runtime) {
                    debug!(%error, "broadcasting failed");
                }
            }
            Ok(false) => debug!("broadcast item already known"),
            Err(error) => warn!(%error, "queueing a broadcast item failed"),
        }
    }

    /// Adds an intent to foca's broadcasts (and, through the handler, to
    /// our table). Returns whether it was news.
    fn broadcast(&mut self, intent: &Intent) -> bool {
        let data = match Item::Intent(intent.clone()).encode() {
            Ok(data) => data,
            Err(error) => {
                warn!(%error, "encoding a leave intent failed");
                return false;
            }
        };
        match self.foca.add_broadcast(&data) {
            Ok(fresh) => fresh,
            Err(error) => {
                warn!(%error, "queueing a leave intent failed");
                false
            }
        }
    }

    /// Serf's leave: spread the intent, wait, then let foca declare us down.
    fn start_leave(&mut self, done: oneshot::Sender<()>) {
        self.leave_waiters.push(done);
        if self.leaving {
            return;
        }
        self.leaving = true;
        self.joins.clear();
        let now = std::time::Instant::now();
        self.shared
            .lock()
            .set_local_status(MemberStatus::Leaving, now);
        if self.foca.num_members() == 0 {
            info!("left the pool (no other live members)");
            self.shared.lock().set_local_status(MemberStatus::Left, now);
            self.stopped = true;
            return;
        }
        info!("leaving the pool");
        let me = self.foca.identity();
        let intent = Intent {
            kind: IntentKind::Leave,
            name: me.name.clone(),
            generation: me.generation,
        };
        self.broadcast(&intent);
        if let Err(error) = self.foca.gossip(&mut self.runtime) {
            debug!(%error, "gossiping the leave intent failed");
        }
        let at = deadline(Instant::now(), self.timing.leave_propagate_delay);
        self.timers.push(at, Due::Leave(LeaveStage::DeclareDown));
    }

    fn leave_step(&mut self, stage: LeaveStage, now: Instant) {
        match stage {
            LeaveStage::DeclareDown => {
                if let Err(error) = self.foca.leave_cluster(&mut self.runtime) {
                    debug!(%error, "declaring ourselves down failed");
                }
                self.shared
                    .lock()
                    .set_local_status(MemberStatus::Left, std::time::Instant::now());
                let at = deadline(now, self.timing.gossip_interval);
                self.timers.push(at, Due::Leave(LeaveStage::Finish));
            }
            LeaveStage::Finish => {
                // Once more, to other random members, in case a packet was lost.
                if let Err(error) = self.foca.gossip(&mut self.runtime) {
                    debug!(%error, "gossiping our leave failed");
                }
                info!("left the pool");
                if let Some((snapshot, _)) = &mut self.snapshot {
                    snapshot.record_leave();
                }
                self.stopped = true;
            }
        }
    }

    // --- keyring queries

    /// Asks every alive member (and ourselves) to apply `op`.
    fn start_query(&mut self, op: KeyOp, done: oneshot::Sender<KeyringResponse>) {
        self.next_query = self.next_query.wrapping_add(1);
        let id = self.next_query;
        let query = KeyQuery { id, op };
        let packet = match wire::key_query(&query) {
            Ok(packet) => packet,
            Err(error) => {
                warn!(%error, "encoding a keyring query failed");
                return;
            }
        };
        let me = self.foca.identity().name.clone();
        let peers: Vec<(String, SocketAddr)> = self
            .foca
            .iter_members()
            .map(|m| (m.id().name.clone(), m.id().addr))
            .collect();
        let mut asked: BTreeSet<String> = peers.iter().map(|(name, _)| name.clone()).collect();
        asked.insert(me);
        debug!(
            id,
            op = op_name(&query.op),
            members = asked.len(),
            "keyring query"
        );
        for (_, addr) in peers {
            self.outbox.push((addr, packet.clone()));
        }
        let mut pending = Pending::new(asked, done);
        let local = self.apply_key_op(&query);
        if pending.answer(local) {
            pending.finish();
            return;
        }
        self.queries.insert(id, pending);
        let at = deadline(Instant::now(), self.timing.query_timeout);
        self.timers.push(at, Due::QueryTimeout(id));
    }

    fn on_key_query(&mut self, query: KeyQuery, from: SocketAddr) {
        if self.leaving {
            return;
        }
        debug!(%from, id = query.id, op = op_name(&query.op), "keyring query from a member");
        let answer = self.apply_key_op(&query);
        match wire::key_answer(&answer) {
            Ok(packet) => self.outbox.push((from, packet)),
            Err(error) => warn!(%error, "encoding a keyring answer failed"),
        }
    }

    fn on_key_answer(&mut self, answer: KeyAnswer) {
        let id = answer.id;
        let complete = match self.queries.get_mut(&id) {
            Some(pending) => pending.answer(answer),
            None => {
                debug!(id, node = %answer.node, "late or unknown keyring answer");
                false
            }
        };
        if complete {
            self.finish_query(id);
        }
    }

    fn finish_query(&mut self, id: u64) {
        if let Some(pending) = self.queries.remove(&id) {
            pending.finish();
        }
    }

    /// Applies a keyring operation here; Serf's answers.
    fn apply_key_op(&mut self, query: &KeyQuery) -> KeyAnswer {
        let mut answer = KeyAnswer {
            id: query.id,
            node: self.foca.identity().name.clone(),
            ok: false,
            message: String::new(),
            keys: Vec::new(),
        };
        let Some(keyring) = self.security.keyring.as_mut() else {
            answer.message = match query.op {
                KeyOp::List => KEYRING_EMPTY,
                _ => NO_KEYRING_TO_MODIFY,
            }
            .to_owned();
            return answer;
        };
        let result = match &query.op {
            KeyOp::List => {
                answer.keys = keyring.to_base64();
                Ok(false)
            }
            KeyOp::Install(key) => keyring
                .install(key)
                .map(|()| true)
                .map_err(|e| e.to_string()),
            KeyOp::Use(key) => keyring.use_key(key).map(|()| true).map_err(str::to_owned),
            KeyOp::Remove(key) => keyring.remove(key).map(|()| true).map_err(str::to_owned),
        };
        match result {
            Ok(changed) => {
                answer.ok = true;
                if changed {
                    info!(op = op_name(&query.op), "keyring changed");
                    if let Err(error) = self.save_keyring() {
                        answer.ok = false;
                        answer.message = error.to_string();
                    }
                }
            }
            Err(message) => {
                warn!(op = op_name(&query.op), %message, "keyring operation failed");
                answer.message = message;
            }
        }
        answer
    }

    fn save_keyring(&self) -> crate::error::Result<()> {
        match (&self.security.keyring, &self.security.keyring_file) {
            (Some(keyring), Some(path)) => keyring.save(path),
            _ => Ok(()),
        }
    }

    // --- network coordinates

    /// Pings one random alive member to measure the round trip; again
    /// after a probe interval.
    fn send_ping(&mut self, now: Instant) {
        self.timers.push(
            deadline(now, self.timing.probe_interval),
            Due::CoordinatePing,
        );
        let timeout = self.timing.probe_timeout;
        let before = self.pings.len();
        self.pings
            .retain(|_, (_, sent)| now.saturating_duration_since(*sent) < timeout);
        let missed = before.saturating_sub(self.pings.len());
        if missed > 0 {
            self.health(i32::try_from(missed).unwrap_or(i32::MAX));
        }
        let alive = self.foca.num_members();
        if alive == 0 || self.leaving {
            return;
        }
        let pick = self.rng.random_range(0..alive);
        let Some(target) = self.foca.iter_members().nth(pick).map(|m| m.id().clone()) else {
            return;
        };
        let probe = Probe {
            nonce: self.rng.random(),
            from: self.foca.identity().name.clone(),
            coord: self.vivaldi.coord().clone(),
        };
        match wire::ping(&probe) {
            Ok(packet) => {
                self.pings.insert(probe.nonce, (target.name, now));
                self.outbox.push((target.addr, packet));
            }
            Err(error) => warn!(%error, "encoding a coordinate ping failed"),
        }
    }

    fn on_ping(&mut self, ping: Probe, from: SocketAddr) {
        if ping.coord.is_valid() {
            self.shared
                .set_coordinate(&ping.from, ping.coord.to_public());
        }
        let pong = Probe {
            nonce: ping.nonce,
            from: self.foca.identity().name.clone(),
            coord: self.vivaldi.coord().clone(),
        };
        match wire::pong(&pong) {
            Ok(packet) => self.outbox.push((from, packet)),
            Err(error) => warn!(%error, "encoding a coordinate pong failed"),
        }
    }

    fn on_pong(&mut self, pong: Probe) {
        let Some((name, sent)) = self.pings.remove(&pong.nonce) else {
            debug!(from = %pong.from, "unexpected coordinate pong");
            return;
        };
        if name != pong.from {
            debug!(expected = %name, from = %pong.from, "coordinate pong from another member");
            return;
        }
        let rtt = Instant::now().saturating_duration_since(sent);
        self.health(-1);
        if self.vivaldi.update(&name, &pong.coord, rtt) {
            self.shared.set_coordinate(&name, pong.coord.to_public());
            self.shared
                .set_local_coordinate(self.vivaldi.coord().to_public());
        }
    }

    /// Lifeguard: our own health, raised by missed pongs and refutations,
    /// lowered by answered pings.
    fn health(&mut self, delta: i32) {
        let before = self.awareness.score();
        self.awareness.apply(delta);
        let after = self.awareness.score();
        if before != after {
            debug!(score = after, "local health score changed");
            self.shared.set_health(after);
        }
    }

    // --- housekeeping

    fn reap(&mut self, now: Instant) {
        let reaped = self
            .shared
            .lock()
            .reap(std::time::Instant::now(), self.timing.reap_after);
        for name in reaped {
            self.vivaldi.forget(&name);
            info!(member = %name, "member reaped");
        }
        self.timers
            .push(deadline(now, self.reap_every()), Due::Reap);
    }

    fn reap_every(&self) -> Duration {
        (self.timing.reap_after / 4).clamp(Duration::from_millis(50), Duration::from_secs(60))
    }

    /// Suspicion and retransmissions grow with the pool, as memberlist's do.
    fn rescale(&mut self) {
        let size = self.foca.num_members().saturating_add(1);
        if size == self.scaled_for {
            return;
        }
        self.scaled_for = size;
        if let Err(error) = self.foca.set_config(self.timing.foca_config(size)) {
            debug!(%error, size, "rescaling gossip timing failed");
        }
    }
}

fn op_name(op: &KeyOp) -> &'static str {
    match op {
        KeyOp::List => "list",
        KeyOp::Install(_) => "install",
        KeyOp::Use(_) => "use",
        KeyOp::Remove(_) => "remove",
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Same address, seeing through IPv4-mapped IPv6.
fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use foca::Timer;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::table::Table;

    struct Node {
        foca: Gossip,
        runtime: AccumulatingRuntime<NodeId>,
    }

    fn node(name: &str, port: u16, seed: u64) -> Node {
        let id = NodeId {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            generation: 1,
            tags: BTreeMap::from([("role".to_owned(), "node".to_owned())]),
        };
        let shared = Arc::new(Shared::new(Table::new(
            id.clone(),
            std::time::Instant::now(),
        )));
        let foca = Foca::with_custom_broadcast(
            id,
            Timing::fast().foca_config(2),
            StdRng::seed_from_u64(seed),
            PostcardCodec,
            Handler::new(shared),
        );
        Node {
            foca,
            runtime: AccumulatingRuntime::new(),
        }
    }

    /// Real foca packets of most kinds (announce, feed, ping, ack, gossip
    /// with updates and intents), from a short exchange between two nodes
    /// whose timers fire at once.
    fn captured() -> Vec<Vec<u8>> {
        let mut nodes = [node("a", 1, 1), node("b", 2, 2)];
        let b = nodes[1].foca.identity().clone();
        nodes[0].foca.announce(b, &mut nodes[0].runtime).unwrap();
        let mut packets = Vec::new();
        for round in 0..20 {
            if round == 10 {
                let intent = Intent {
                    kind: IntentKind::ForceLeave,
                    name: "z".into(),
                    generation: 3,
                };
                nodes[0]
                    .foca
                    .add_broadcast(&Item::Intent(intent).encode().unwrap())
                    .unwrap();
                let event = crate::event::EventMsg {
                    ltime: 5,
                    name: "deploy".into(),
                    payload: b"v2".to_vec(),
                };
                nodes[1]
                    .foca
                    .add_broadcast(&Item::Event(event).encode().unwrap())
                    .unwrap();
            }
            let mut timers: Vec<(usize, Timer<NodeId>)> = Vec::new();
            let mut wire: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
            for (i, n) in nodes.iter_mut().enumerate() {
                while let Some((to, data)) = n.runtime.to_send() {
                    let dst = usize::from(to.name == "b");
                    wire.push_back((dst, data.to_vec()));
                }
                while let Some((_, timer)) = n.runtime.to_schedule() {
                    timers.push((i, timer));
                }
                while n.runtime.to_notify().is_some() {}
            }
            while let Some((dst, data)) = wire.pop_front() {
                let n = &mut nodes[dst];
                let _ = n.foca.handle_data(&data, &mut n.runtime);
                packets.push(data);
            }
            for (i, timer) in timers {
                let n = &mut nodes[i];
                let _ = n.foca.handle_timer(timer, &mut n.runtime);
            }
        }
        packets
    }

    #[test]
    fn mutated_real_packets_never_panic() {
        let packets = captured();
        assert!(
            packets.len() > 20,
            "only {} packets captured",
            packets.len()
        );
        let mut target = node("b", 2, 3);
        let mut rng = StdRng::seed_from_u64(7);
        let mut accepted = 0;
        for packet in &packets {
            for _ in 0..300 {
                let mut data = packet.clone();
                match rng.random_range(0..4) {
                    0 => {
                        let at = rng.random_range(0..data.len());
                        data[at] = rng.random();
                    }
                    1 => data.truncate(rng.random_range(0..data.len())),
                    2 => {
                        let at = rng.random_range(0..=data.len());
                        data.insert(at, rng.random());
                    }
                    _ => {
                        let at = rng.random_range(0..data.len());
                        data[at] ^= 1 << rng.random_range(0..8);
                    }
                }
                if target.foca.handle_data(&data, &mut target.runtime).is_ok() {
                    accepted += 1;
                }
                while target.runtime.to_send().is_some() {}
                while target.runtime.to_schedule().is_some() {}
                while target.runtime.to_notify().is_some() {}
            }
        }
        // Some mutations keep the packet valid, so deep paths ran too.
        assert!(accepted > 0);
    }
}
