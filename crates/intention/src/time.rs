//! Timestamps as Consul writes them (Go's `time.Time` in JSON: RFC 3339 with
//! nanoseconds, trailing zeros trimmed). This crate never reads a clock: callers
//! build a [`Timestamp`] from the time they were handed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Go's zero time, which Consul treats as "unset".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An RFC 3339 timestamp kept as its text, so decoded values round-trip exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

// === impl Timestamp ===

impl Timestamp {
    /// Wraps text that is already RFC 3339.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Formats a UTC instant given as seconds and nanoseconds since the Unix
    /// epoch, exactly as Go's `time.Time.MarshalJSON` does for a UTC time
    /// (e.g. `2024-05-01T12:00:00.5Z`).
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        let frac = fraction(nanos);
        Self(format!(
            "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z"
        ))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is Go's zero time (Consul's "never set").
    pub fn is_zero(&self) -> bool {
        self.0 == GO_ZERO_TIME
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `.123` style fraction with trailing zeros removed; empty for whole seconds.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{:09}", nanos.min(999_999_999));
    format!(".{}", digits.trim_end_matches('0'))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // `d` is in 1..=31 and `m` in 1..=12, so the casts cannot truncate.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(Timestamp::from_unix(0, 0).as_str(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_714_564_800, 500_000_000).as_str(),
            "2024-05-01T12:00:00.5Z"
        );
        assert_eq!(
            Timestamp::from_unix(951_782_400, 123_456_789).as_str(),
            "2000-02-29T00:00:00.123456789Z"
        );
        assert_eq!(Timestamp::from_unix(-1, 0).as_str(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn zero_time() {
        assert!(Timestamp::new(GO_ZERO_TIME).is_zero());
        assert!(!Timestamp::from_unix(0, 0).is_zero());
    }
}
