//! The driver: builds the simulated cluster, steps it through the chaos and
//! settle phases, samples every server after each tick and checks the
//! invariants.

use std::rc::Rc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use tracing::info;
use turmoil::Sim;

use crate::checker::{Checker, Sample};
use crate::client::{self, Workload};
use crate::nemesis::Nemesis;
use crate::node::Node;
use crate::{Report, Result, SimOptions, Violation};

/// Ticks between two checks of whether the cluster settled.
const SETTLE_CHECK_EVERY: u32 = 50;
/// Raft log entries kept behind a snapshot.
const TRAILING_LOGS: u64 = 16;

/// One run in progress.
struct Run<'a> {
    seed: u64,
    sim: Sim<'a>,
    nodes: Vec<Rc<Node>>,
    workload: Rc<Workload>,
    checker: Checker,
}

/// Runs the Raft group under the faults `seed` picks and checks the
/// invariants; the error names the first one that broke.
pub fn run(seed: u64, options: &SimOptions) -> Result<Report> {
    let wall = Instant::now();
    // Election timeouts follow the seed: turmoil runs every host on this
    // thread, so the draws happen in the simulation's own order.
    skein_raft::seed_thread_rng(seed);
    let mut run = Run::new(seed, options)?;
    let mut nemesis = Nemesis::new(seed, options.loss_rate);
    info!(seed, ?options, "simulation starting");
    while run.sim.elapsed() < options.chaos {
        nemesis.step(&mut run.sim, &run.nodes);
        run.step()?;
    }
    run.workload.stop.set(true);
    nemesis.heal(&mut run.sim, &run.nodes);
    run.settle(options.settle)?;
    run.check_reads()?;
    let report = Report {
        seed,
        simulated: run.sim.elapsed(),
        wall: wall.elapsed(),
        writes_attempted: run.workload.attempts.get(),
        writes_acked: run.checker.acks().count(),
        faults: nemesis.counts,
        leaders_elected: run.checker.leaders_elected(),
    };
    info!(%report, "simulation passed");
    Ok(report)
}

// === impl Run ===

impl Run<'_> {
    fn new(seed: u64, options: &SimOptions) -> Result<Self> {
        let sim_err = |message: String| Violation::Sim { seed, message };
        let config = skein_raft::raft_config(1, options.snapshot_threshold, TRAILING_LOGS)
            .map_err(|e| sim_err(e.to_string()))?;
        let mut sim = turmoil::Builder::new()
            .rng_seed(seed)
            .simulation_duration(options.chaos + options.settle + Duration::from_secs(5))
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(options.max_latency)
            .repair_rate(0.2)
            .build();
        let mut nodes = Vec::new();
        for id in 1..=options.servers.max(1) {
            let node = Node::new(
                id,
                options.servers,
                config.clone(),
                options.durable_storage,
                seed,
            )
            .map_err(|e| sim_err(e.to_string()))?;
            let node = Rc::new(node);
            let software = node.clone();
            sim.host(node.host.as_str(), move || software.clone().serve());
            nodes.push(node);
        }
        let workload = Rc::new(Workload::default());
        sim.client(
            client::HOST,
            client::drive(workload.clone(), options.servers),
        );
        Ok(Self {
            seed,
            sim,
            nodes,
            workload,
            checker: Checker::new(seed),
        })
    }

    /// One tick of simulated time, then the checks on what it changed.
    fn step(&mut self) -> Result<()> {
        self.sim.step().map_err(|e| Violation::Sim {
            seed: self.seed,
            message: e.to_string(),
        })?;
        self.observe()
    }

    fn observe(&mut self) -> Result<()> {
        for node in &self.nodes {
            let Some(live) = node.live() else { continue };
            let rx = live.raft.metrics();
            let m = rx.borrow().clone();
            let stopped = match (&m.running_state, rx.has_changed()) {
                (Err(fatal), _) => Some(fatal.to_string()),
                (Ok(()), Err(_)) => Some("its core task ended (panicked)".to_owned()),
                (Ok(()), Ok(_)) => None,
            };
            if let Some(reason) = stopped {
                return Err(Violation::ServerStopped {
                    seed: self.seed,
                    node: node.id,
                    reason,
                });
            }
            self.checker.observe(Sample {
                node: node.id,
                incarnation: live.incarnation,
                vote: (
                    (m.vote.leader_id.term, m.vote.leader_id.node_id),
                    m.vote.committed,
                ),
                leader: m.state == ServerState::Leader,
                applied: m
                    .last_applied
                    .map(|l| ((l.leader_id.term, l.leader_id.node_id), l.index)),
            })?;
        }
        let acks = std::mem::take(&mut *self.workload.acks.borrow_mut());
        for (node, ack) in acks {
            self.checker.ack(node, ack)?;
        }
        Ok(())
    }

    /// Steps until one leader is known to every server and every server
    /// applied its whole log, or the settle time runs out.
    fn settle(&mut self, settle: Duration) -> Result<()> {
        let deadline = self.sim.elapsed() + settle;
        loop {
            for _ in 0..SETTLE_CHECK_EVERY {
                self.step()?;
            }
            let state = self.settled();
            match state {
                Ok(()) => return Ok(()),
                Err(detail) if self.sim.elapsed() >= deadline => {
                    return Err(Violation::NoConvergence {
                        seed: self.seed,
                        detail,
                    });
                }
                Err(_) => {}
            }
        }
    }

    /// `Ok` once settled, else what is still missing.
    fn settled(&self) -> Result<(), String> {
        let mut metrics = Vec::new();
        for node in &self.nodes {
            let live = node.live().ok_or(format!("{} is down", node.host))?;
            metrics.push(live.raft.metrics().borrow().clone());
        }
        let leaders: Vec<_> = metrics
            .iter()
            .filter(|m| m.state == ServerState::Leader)
            .collect();
        let [leader] = leaders.as_slice() else {
            return Err(format!("{} leaders", leaders.len()));
        };
        for m in &metrics {
            let applied = m.last_applied.map(|l| l.index);
            if m.current_leader != Some(leader.id) || applied != leader.last_log_index {
                return Err(format!(
                    "s{} follows {:?} and applied {applied:?}; s{} leads with last log index {:?}",
                    m.id, m.current_leader, leader.id, leader.last_log_index
                ));
            }
        }
        Ok(())
    }

    /// Every acknowledged write must be on every server, at its index.
    fn check_reads(&self) -> Result<()> {
        for node in &self.nodes {
            let Some(live) = node.live() else { continue };
            let store = live.store.read().unwrap_or_else(|p| p.into_inner());
            for ack in self.checker.acks() {
                let found = store.kv_get(&ack.key).1.map(|e| {
                    let value = String::from_utf8_lossy(&e.value).into_owned();
                    (value, e.modify_index)
                });
                self.checker.check_read(node.id, ack, found)?;
            }
        }
        Ok(())
    }
}
