//! Vivaldi network coordinates, as Serf computes them (its `coordinate`
//! package: defaults, latency filter, error-weighted spring update,
//! adjustment window and gravity).
//!
//! Pure: the driver feeds measured round trips in.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Serf's `coordinate.DefaultConfig()`.
const DIMENSIONS: usize = 8;
const ERROR_MAX: f64 = 1.5;
const CE: f64 = 0.25;
const CC: f64 = 0.25;
const ADJUSTMENT_WINDOW: usize = 20;
const HEIGHT_MIN: f64 = 10.0e-6;
const LATENCY_FILTER: usize = 3;
const GRAVITY_RHO: f64 = 150.0;
const ZERO: f64 = 1.0e-6;
/// Round trips above this are not believed (Serf's `maxRTT`).
const MAX_RTT: Duration = Duration::from_secs(10);

/// A coordinate as it travels and as Vivaldi updates it (seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Coord {
    pub(crate) vec: Vec<f64>,
    pub(crate) error: f64,
    pub(crate) adjustment: f64,
    pub(crate) height: f64,
}

/// One node's Vivaldi state.
#[derive(Debug)]
pub(crate) struct Vivaldi {
    coord: Coord,
    origin: Coord,
    adjustments: [f64; ADJUSTMENT_WINDOW],
    adjustment_index: usize,
    /// The last round trips per node, for the median filter.
    samples: HashMap<String, Vec<f64>>,
    /// xorshift state for the random direction of coincident nodes.
    rng: u64,
}

// === impl Coord ===

impl Coord {
    /// Serf's starting coordinate: the origin, full error, minimum height.
    pub(crate) fn origin() -> Self {
        Self {
            vec: vec![0.0; DIMENSIONS],
            error: ERROR_MAX,
            adjustment: 0.0,
            height: HEIGHT_MIN,
        }
    }

    /// Right dimensions and only finite numbers: safe to compute with.
    pub(crate) fn is_valid(&self) -> bool {
        self.vec.len() == DIMENSIONS
            && self.vec.iter().all(|v| v.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    fn raw_distance(&self, other: &Self) -> f64 {
        magnitude(&diff(&self.vec, &other.vec)) + self.height + other.height
    }

    /// The estimated round trip in seconds, with both adjustments unless
    /// that makes it negative.
    pub(crate) fn distance(&self, other: &Self) -> f64 {
        let raw = self.raw_distance(other);
        let adjusted = raw + self.adjustment + other.adjustment;
        if adjusted > 0.0 { adjusted } else { raw }
    }

    fn apply_force(&self, force: f64, other: &Self, rng: &mut u64) -> Self {
        let (unit, mag) = unit_vector_at(&self.vec, &other.vec, rng);
        let mut next = self.clone();
        for (v, u) in next.vec.iter_mut().zip(&unit) {
            *v += u * force;
        }
        if mag > ZERO {
            next.height =
                ((next.height + other.height) * force / mag + next.height).max(HEIGHT_MIN);
        }
        next
    }

    pub(crate) fn to_public(&self) -> skein_types::Coordinate {
        skein_types::Coordinate {
            vec: self.vec.clone(),
            error: self.error,
            adjustment: self.adjustment,
            height: self.height,
        }
    }
}

// === impl Vivaldi ===

impl Vivaldi {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            coord: Coord::origin(),
            origin: Coord::origin(),
            adjustments: [0.0; ADJUSTMENT_WINDOW],
            adjustment_index: 0,
            samples: HashMap::new(),
            rng: seed | 1,
        }
    }

    pub(crate) fn coord(&self) -> &Coord {
        &self.coord
    }

    /// Serf's `Client.Update`: a round trip to `node` at `other` was
    /// measured. Returns false (changing nothing) for an invalid
    /// coordinate or an unbelievable round trip.
    pub(crate) fn update(&mut self, node: &str, other: &Coord, rtt: Duration) -> bool {
        if !other.is_valid() || rtt > MAX_RTT {
            return false;
        }
        let rtt = self.filter(node, rtt.as_secs_f64());
        self.update_vivaldi(other, rtt);
        self.update_adjustment(other, rtt);
        self.update_gravity();
        if !self.coord.is_valid() {
            self.coord = Coord::origin();
        }
        true
    }

    /// Forgets a node's samples (it left or failed).
    pub(crate) fn forget(&mut self, node: &str) {
        self.samples.remove(node);
    }

    /// The median of the node's last few round trips.
    fn filter(&mut self, node: &str, rtt: f64) -> f64 {
        let samples = self.samples.entry(node.to_owned()).or_default();
        samples.push(rtt);
        if samples.len() > LATENCY_FILTER {
            samples.remove(0);
        }
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(rtt)
    }

    fn update_vivaldi(&mut self, other: &Coord, rtt: f64) {
        let rtt = rtt.max(ZERO);
        let dist = self.coord.distance(other);
        let wrongness = (dist - rtt).abs() / rtt;
        let total_error = (self.coord.error + other.error).max(ZERO);
        let weight = self.coord.error / total_error;
        self.coord.error =
            (CE * weight * wrongness + self.coord.error * (1.0 - CE * weight)).min(ERROR_MAX);
        let force = CC * weight * (rtt - dist);
        self.coord = self.coord.apply_force(force, other, &mut self.rng);
    }

    fn update_adjustment(&mut self, other: &Coord, rtt: f64) {
        let dist = self.coord.raw_distance(other);
        if let Some(slot) = self.adjustments.get_mut(self.adjustment_index) {
            *slot = rtt - dist;
        }
        self.adjustment_index = (self.adjustment_index + 1) % ADJUSTMENT_WINDOW;
        let sum: f64 = self.adjustments.iter().sum();
        self.coord.adjustment = sum / (2.0 * ADJUSTMENT_WINDOW as f64);
    }

    fn update_gravity(&mut self) {
        let dist = self.origin.distance(&self.coord);
        let force = -(dist / GRAVITY_RHO).powi(2);
        let origin = self.origin.clone();
        self.coord = self.coord.apply_force(force, &origin, &mut self.rng);
    }
}

fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn magnitude(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The unit vector from `b` to `a` and the distance; a random direction
/// (and distance 0) when they coincide.
fn unit_vector_at(a: &[f64], b: &[f64], rng: &mut u64) -> (Vec<f64>, f64) {
    let d = diff(a, b);
    let mag = magnitude(&d);
    if mag > ZERO {
        return (d.iter().map(|x| x / mag).collect(), mag);
    }
    let random: Vec<f64> = d.iter().map(|_| next_unit(rng) - 0.5).collect();
    let mag = magnitude(&random);
    if mag > ZERO {
        return (random.iter().map(|x| x / mag).collect(), 0.0);
    }
    let mut axis = vec![0.0; a.len()];
    if let Some(first) = axis.first_mut() {
        *first = 1.0;
    }
    (axis, 0.0)
}

/// A number in [0, 1) from a xorshift generator.
fn next_unit(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_like_serf() {
        let v = Vivaldi::new(1);
        assert_eq!(v.coord(), &Coord::origin());
        assert_eq!(v.coord().vec.len(), 8);
        assert_eq!(v.coord().error, 1.5);
        assert_eq!(v.coord().height, 10.0e-6);
    }

    #[test]
    fn rejects_bad_input() {
        let mut v = Vivaldi::new(1);
        let mut bad = Coord::origin();
        bad.vec[3] = f64::NAN;
        assert!(!v.update("b", &bad, Duration::from_millis(1)));
        bad.vec = vec![0.0; 2];
        assert!(!v.update("b", &bad, Duration::from_millis(1)));
        assert!(!v.update("b", &Coord::origin(), Duration::from_secs(11)));
        assert_eq!(v.coord(), &Coord::origin());
    }

    #[test]
    fn latency_filter_takes_the_median_of_three() {
        let mut v = Vivaldi::new(1);
        assert_eq!(v.filter("b", 0.010), 0.010);
        assert_eq!(v.filter("b", 0.050), 0.050);
        assert_eq!(v.filter("b", 0.020), 0.020);
        assert_eq!(v.filter("b", 0.900), 0.050);
        assert_eq!(v.filter("c", 0.001), 0.001, "per node");
    }

    /// Three nodes with a fixed round-trip matrix, updating each other as
    /// the pool does; the estimated distances converge to the matrix.
    #[test]
    fn converges_on_a_synthetic_rtt_matrix() {
        let rtt = [
            [0.0, 0.010, 0.020],
            [0.010, 0.0, 0.015],
            [0.020, 0.015, 0.0],
        ];
        let names = ["a", "b", "c"];
        let mut nodes: Vec<Vivaldi> = (1..=3).map(Vivaldi::new).collect();
        for round in 0..1000 {
            for i in 0..3 {
                let j = (i + 1 + round % 2) % 3;
                let other = nodes[j].coord().clone();
                let d = Duration::from_secs_f64(rtt[i][j]);
                assert!(nodes[i].update(names[j], &other, d));
            }
        }
        for i in 0..3 {
            for j in 0..3 {
                if i == j {
                    continue;
                }
                let est = nodes[i].coord().distance(nodes[j].coord());
                let want = rtt[i][j];
                assert!(
                    (est - want).abs() / want < 0.2,
                    "{}->{}: estimated {est}, real {want}",
                    names[i],
                    names[j]
                );
            }
        }
        assert!(nodes[0].coord().error < ERROR_MAX, "confidence grew");
    }
}
