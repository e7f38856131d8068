//! One simulated server: its disk outlives crashes, its software (Raft, the
//! state machine, the RPC listener) is rebuilt from the disk on each start.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{ClientWriteError, RaftError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redb::Database;
use skein_raft::{DeferredFlush, LogStore, NodeId, Raft, SharedStore, StateMachine};
use skein_state::{Command, Outcome, Store};
use tracing::{debug, info};
use turmoil::net::{TcpListener, TcpStream};

use crate::network::SimNetworkFactory;
use crate::wire::{self, PORT, Request, WriteReply};

/// How long a flush of the log takes, in simulated time: mostly a few
/// milliseconds, one in ten a stall of 20-200 ms. Meanwhile a leader has
/// sent entries it does not hold durably, and a crash loses them.
fn flush_time(rng: &mut StdRng) -> Duration {
    let ms = if rng.gen_bool(0.1) {
        rng.gen_range(20..200)
    } else {
        rng.gen_range(1..5)
    };
    Duration::from_millis(ms)
}

/// A simulated server.
pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) host: String,
    members: BTreeMap<NodeId, BasicNode>,
    config: Arc<openraft::Config>,
    /// Whether the disk survives a crash; `false` models a server that
    /// loses its storage on restart (the broken setup the checker must
    /// catch).
    durable: bool,
    /// Seeds the flush times of each start.
    seed: u64,
    disk: RefCell<Arc<Database>>,
    /// Whether this server already formed the cluster (only s1 does, once).
    bootstrapped: Cell<bool>,
    /// Starts so far; a restart lets the applied index go back.
    incarnation: Cell<u64>,
    live: RefCell<Option<Live>>,
    /// The log's pending flushes; a crash loses what they had not flushed.
    flush: RefCell<Option<Arc<DeferredFlush>>>,
}

/// The running software of a server.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) raft: Raft,
    pub(crate) store: SharedStore,
    pub(crate) incarnation: u64,
}

/// The host name of server `id`.
pub(crate) fn host_name(id: NodeId) -> String {
    format!("s{id}")
}

// === impl Node ===

impl Node {
    pub(crate) fn new(
        id: NodeId,
        servers: u64,
        config: Arc<openraft::Config>,
        durable: bool,
        seed: u64,
    ) -> Result<Self, skein_raft::Error> {
        let members = (1..=servers)
            .map(|m| (m, BasicNode::new(host_name(m))))
            .collect();
        Ok(Self {
            id,
            host: host_name(id),
            members,
            config,
            durable,
            seed,
            disk: RefCell::new(skein_raft::open_database(None)?),
            bootstrapped: Cell::new(false),
            incarnation: Cell::new(0),
            live: RefCell::new(None),
            flush: RefCell::new(None),
        })
    }

    /// The running software, if the server is up.
    pub(crate) fn live(&self) -> Option<Live> {
        self.live.borrow().clone()
    }

    /// Forgets the running software: the host was crashed, and the log
    /// entries appended since the last flush are lost with it.
    pub(crate) fn crashed(&self) {
        self.live.borrow_mut().take();
        if let Some(flush) = self.flush.borrow_mut().take() {
            flush.lose_unflushed();
        }
    }

    /// The disk for a new start: the same one, or a blank one if storage is
    /// not durable and this is a restart.
    fn disk(&self) -> Result<Arc<Database>, skein_raft::Error> {
        if !self.durable && self.incarnation.get() > 0 {
            *self.disk.borrow_mut() = skein_raft::open_database(None)?;
        }
        Ok(self.disk.borrow().clone())
    }

    /// The host software: start Raft from the disk, form the cluster on the
    /// first start of s1, then answer RPCs until crashed.
    pub(crate) async fn serve(self: Rc<Self>) -> turmoil::Result {
        let db = self.disk()?;
        let (log, flush) = LogStore::flushing_deferred(db.clone())?;
        *self.flush.borrow_mut() = Some(flush.clone());
        let start = self.seed ^ (self.id << 40) ^ (self.incarnation.get() << 20);
        tokio::task::spawn_local(flush_every(flush, StdRng::seed_from_u64(start)));
        let store: SharedStore = Arc::new(RwLock::new(Store::new()));
        let sm = StateMachine::new(store.clone(), db)?;
        let raft = Raft::new(self.id, self.config.clone(), SimNetworkFactory, log, sm).await?;
        // Until its core reports, a new Raft's metrics show a blank vote;
        // the checker must not read that as the vote going back.
        let mut metrics = raft.metrics();
        let _ = tokio::time::timeout(Duration::from_secs(1), metrics.changed()).await;
        let incarnation = self.incarnation.get();
        self.incarnation.set(incarnation + 1);
        *self.live.borrow_mut() = Some(Live {
            raft: raft.clone(),
            store,
            incarnation,
        });
        info!(node = self.id, incarnation, "server started");
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        if self.id == 1 && !self.bootstrapped.get() {
            raft.initialize(self.members.clone()).await?;
            self.bootstrapped.set(true);
        }
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::task::spawn_local(answer(raft.clone(), stream));
        }
    }
}

/// The disk's flusher: makes the appends durable, one flush after another,
/// each taking [`flush_time`].
async fn flush_every(flush: Arc<DeferredFlush>, mut rng: StdRng) {
    loop {
        tokio::time::sleep(flush_time(&mut rng)).await;
        flush.flush_now();
    }
}

/// Reads one request from `stream`, hands it to Raft, writes the reply.
async fn answer(raft: Raft, mut stream: TcpStream) {
    let req: Request = match wire::read(&mut stream).await {
        Ok(req) => req,
        Err(error) => {
            debug!(%error, "reading a request");
            return;
        }
    };
    let sent = match req {
        Request::Append(r) => wire::write(&mut stream, &raft.append_entries(r).await).await,
        Request::Vote(r) => wire::write(&mut stream, &raft.vote(r).await).await,
        Request::Snapshot(r) => wire::write(&mut stream, &raft.install_snapshot(r).await).await,
        Request::Write(cmd) => wire::write(&mut stream, &client_write(&raft, cmd).await).await,
    };
    if let Err(error) = sent {
        debug!(%error, "writing a reply");
    }
}

async fn client_write(raft: &Raft, cmd: Command) -> WriteReply {
    match raft.client_write(cmd).await {
        Ok(resp) => WriteReply::Committed {
            term: resp.log_id.leader_id.term,
            leader: resp.log_id.leader_id.node_id,
            index: resp.log_id.index,
            applied: resp.data == Outcome::Bool(true),
        },
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => WriteReply::NotLeader {
            leader: f.leader_id,
        },
        Err(e) => WriteReply::Failed {
            reason: e.to_string(),
        },
    }
}
