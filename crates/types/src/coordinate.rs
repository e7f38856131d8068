//! Network coordinates (Vivaldi, as Serf computes them) and the estimated
//! round trip between two of them, which orders `?near=` answers.

use std::time::Duration;

use serde::Deserialize as _;

/// A node's position in the network coordinate space, in Consul's JSON
/// shape (`{"Vec": [...], "Error", "Adjustment", "Height"}`; seconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Coordinate {
    /// The Euclidean part.
    pub vec: Vec<f64>,
    /// The node's confidence in its own position.
    pub error: f64,
    /// A per-node offset learned from observed round trips.
    pub adjustment: f64,
    /// The height above the Euclidean plane (access-link latency).
    pub height: f64,
}

impl Coordinate {
    /// Reads a coordinate stored as JSON; `None` if it is not one.
    pub fn from_json(value: &serde_json::Value) -> Option<Coordinate> {
        Coordinate::deserialize(value).ok()
    }

    /// The estimated round trip to `other`: the Euclidean distance plus both
    /// heights, plus both adjustments unless that would make it negative.
    /// `None` when the dimensions differ or a number is not finite.
    pub fn distance_to(&self, other: &Coordinate) -> Option<Duration> {
        if self.vec.len() != other.vec.len() {
            return None;
        }
        let euclidean = self
            .vec
            .iter()
            .zip(&other.vec)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let plain = euclidean + self.height + other.height;
        let adjusted = plain + self.adjustment + other.adjustment;
        let seconds = if adjusted > 0.0 { adjusted } else { plain };
        Duration::try_from_secs_f64(seconds).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(vec: &[f64], height: f64, adjustment: f64) -> Coordinate {
        Coordinate {
            vec: vec.to_vec(),
            error: 1.5,
            adjustment,
            height,
        }
    }

    #[test]
    fn distance_adds_heights_and_adjustments() {
        let a = at(&[0.0, 0.0], 0.001, 0.0);
        let b = at(&[0.003, 0.004], 0.001, 0.0);
        assert_eq!(a.distance_to(&b), Some(Duration::from_micros(7000)));
        let adjusted = at(&[0.003, 0.004], 0.001, 0.002);
        assert_eq!(a.distance_to(&adjusted), Some(Duration::from_micros(9000)));
        let negative = at(&[0.003, 0.004], 0.001, -1.0);
        assert_eq!(
            a.distance_to(&negative),
            Some(Duration::from_micros(7000)),
            "a negative adjusted distance falls back to the raw one"
        );
    }

    #[test]
    fn mismatched_or_malformed_coordinates_have_no_distance() {
        let a = at(&[0.0, 0.0], 0.0, 0.0);
        assert_eq!(a.distance_to(&at(&[0.0], 0.0, 0.0)), None);
        assert_eq!(a.distance_to(&at(&[f64::NAN, 0.0], 0.0, 0.0)), None);
        let json =
            serde_json::json!({"Vec": [0.0, 1.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5});
        assert_eq!(Coordinate::from_json(&json).map(|c| c.vec.len()), Some(2));
        assert_eq!(
            Coordinate::from_json(&serde_json::json!({"Vec": "x"})),
            None
        );
    }
}
