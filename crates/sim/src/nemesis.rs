//! The seeded fault injector: partitions, crashes, message loss and held
//! (delayed) links, each undone after a random while, all healed at the end
//! of the chaos phase.

use std::rc::Rc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::info;
use turmoil::Sim;

use crate::node::Node;
use crate::report::FaultCounts;

/// A fault to undo later.
#[derive(Debug, Clone)]
enum Undo {
    /// Heal the link between two hosts (partition or hold).
    Heal(String, String),
    /// Restart a crashed server.
    Restart(usize),
    /// End a message-loss window.
    EndLoss,
}

/// Picks faults from its own seeded RNG.
pub(crate) struct Nemesis {
    rng: StdRng,
    loss_rate: f64,
    next_at: Duration,
    pending: Vec<(Duration, Undo)>,
    pub(crate) counts: FaultCounts,
}

// === impl Nemesis ===

impl Nemesis {
    pub(crate) fn new(seed: u64, loss_rate: f64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            loss_rate,
            next_at: Duration::from_secs(2),
            pending: Vec::new(),
            counts: FaultCounts::default(),
        }
    }

    /// Undoes the faults that are due and, when it is time, injects one more.
    pub(crate) fn step(&mut self, sim: &mut Sim<'_>, nodes: &[Rc<Node>]) {
        let now = sim.elapsed();
        let due: Vec<Undo> = self.take_due(|at| at <= now);
        for undo in due {
            apply(sim, nodes, undo);
        }
        if now >= self.next_at {
            self.inject(sim, nodes, now);
            self.next_at = now + self.millis(300, 2_000);
        }
    }

    /// Undoes every fault: links healed, loss off, crashed servers restarted.
    pub(crate) fn heal(&mut self, sim: &mut Sim<'_>, nodes: &[Rc<Node>]) {
        for undo in self.take_due(|_| true) {
            apply(sim, nodes, undo);
        }
        for a in nodes {
            sim.release(a.host.as_str(), crate::client::HOST);
            for b in nodes.iter().filter(|b| a.id < b.id) {
                sim.release(a.host.as_str(), b.host.as_str());
            }
        }
        info!("all faults healed");
    }

    fn take_due(&mut self, due: impl Fn(Duration) -> bool) -> Vec<Undo> {
        let (now, later): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|(at, _)| due(*at));
        self.pending = later;
        now.into_iter().map(|(_, u)| u).collect()
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.gen_range(lo..=hi))
    }

    fn inject(&mut self, sim: &mut Sim<'_>, nodes: &[Rc<Node>], now: Duration) {
        let victim = self.rng.gen_range(0..nodes.len());
        let other = (victim + self.rng.gen_range(1..nodes.len())) % nodes.len();
        let (a, b) = (nodes[victim].host.clone(), nodes[other].host.clone());
        match self.rng.gen_range(0..5) {
            0 => {
                info!(fault = "isolate", node = %a, "nemesis");
                for n in nodes.iter().filter(|n| n.host != a) {
                    sim.partition(a.as_str(), n.host.as_str());
                    let until = now + self.millis(500, 4_000);
                    self.pending
                        .push((until, Undo::Heal(a.clone(), n.host.clone())));
                }
                self.counts.partitions += 1;
            }
            1 => {
                info!(fault = "partition", a = %a, b = %b, "nemesis");
                sim.partition(a.as_str(), b.as_str());
                let until = now + self.millis(500, 4_000);
                self.pending.push((until, Undo::Heal(a, b)));
                self.counts.partitions += 1;
            }
            2 if sim.is_host_running(a.as_str()) => {
                info!(fault = "crash", node = %a, "nemesis");
                sim.crash(a.as_str());
                nodes[victim].crashed();
                let until = now + self.millis(200, 3_000);
                self.pending.push((until, Undo::Restart(victim)));
                self.counts.crashes += 1;
            }
            3 => {
                info!(fault = "loss", rate = self.loss_rate, "nemesis");
                sim.set_fail_rate(self.loss_rate);
                let until = now + self.millis(500, 3_000);
                self.pending.push((until, Undo::EndLoss));
                self.counts.loss_windows += 1;
            }
            _ => {
                info!(fault = "hold", a = %a, b = %b, "nemesis");
                sim.hold(a.as_str(), b.as_str());
                let until = now + self.millis(50, 1_500);
                self.pending.push((until, Undo::Heal(a, b)));
                self.counts.holds += 1;
            }
        }
    }
}

fn apply(sim: &mut Sim<'_>, nodes: &[Rc<Node>], undo: Undo) {
    match undo {
        Undo::Heal(a, b) => sim.release(a.as_str(), b.as_str()),
        Undo::Restart(i) => {
            let host = nodes[i].host.as_str();
            if !sim.is_host_running(host) {
                info!(node = host, "restart");
                sim.bounce(host);
            }
        }
        Undo::EndLoss => sim.set_fail_rate(0.0),
    }
}
