//! Go `time.Duration` strings: parsing, formatting and a serde wrapper.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest duration Go can represent (`math.MaxInt64` nanoseconds).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The text that failed to parse.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

/// Parses a Go duration string such as `"10s"`, `"1h30m"`, `"1.5s"` or `"100ms"`.
///
/// Accepts the units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m` and `h`, optional
/// decimal fractions, a leading `+`, and the bare string `"0"`. Negative
/// durations are rejected because [`Duration`] cannot hold them.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let fail = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let mut rest = input.strip_prefix('+').unwrap_or(input);
    if rest.starts_with('-') {
        return Err(fail("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(fail("empty duration"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = parse_component(rest).map_err(fail)?;
        total = total.saturating_add(nanos);
        if total > MAX_NANOS {
            return Err(fail("duration out of range"));
        }
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| fail("duration out of range"))?;
    let sub = u32::try_from(total % 1_000_000_000).map_err(|_| fail("duration out of range"))?;
    Ok(Duration::new(secs, sub))
}

/// Parses one `<number><unit>` component; returns its nanoseconds and the rest.
fn parse_component(s: &str) -> Result<(u128, &str), &'static str> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, after_int) = s.split_at(int_len);
    let (frac_part, after_num) = match after_int.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            f.split_at(n)
        }
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("expected a number");
    }
    let unit_len = after_num
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || *c == '.')
        .map_or(after_num.len(), |(i, _)| i);
    let (unit, tail) = after_num.split_at(unit_len);
    let scale = unit_nanos(unit)?;
    let whole: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| "number out of range")?
    };
    let nanos = whole.checked_mul(scale).ok_or("duration out of range")?;
    Ok((nanos.saturating_add(fraction_nanos(frac_part, scale)), tail))
}

/// Nanoseconds contributed by the decimal fraction `digits` of a `scale` unit.
fn fraction_nanos(digits: &str, scale: u128) -> u128 {
    let mut value: u128 = 0;
    let mut divisor: u128 = 1;
    // Digits past 1e-18 of a unit cannot change the nanosecond result.
    for b in digits.bytes().take(18) {
        value = value * 10 + u128::from(b - b'0');
        divisor *= 10;
    }
    value * scale / divisor
}

fn unit_nanos(unit: &str) -> Result<u128, &'static str> {
    Ok(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err("missing unit"),
        _ => return Err("unknown unit"),
    })
}

/// Formats a duration the way Go's `Duration.String` does (`"1h30m0s"`, `"1.5s"`, `"100ms"`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}\u{b5}s", decimal(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let secs = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `value / unit` as a decimal string without trailing zeros.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Serializes a [`Duration`] as a Go duration string (used with `serialize_with`).
pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_go_duration(*d))
}

/// Serializes a map of durations as Go duration strings.
pub(crate) fn serialize_map<S: Serializer>(
    map: &std::collections::BTreeMap<String, Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = s.serialize_map(Some(map.len()))?;
    for (k, v) in map {
        out.serialize_entry(k, &format_go_duration(*v))?;
    }
    out.end()
}

/// A duration as written in a config file: a Go duration string, or an
/// integer number of nanoseconds (what Go's JSON decoding produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl Serialize for DurationValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

const EXPECTED: &str = "a duration such as \"10s\"";

impl Visitor<'_> for DurationVisitor {
    type Value = DurationValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
        parse_go_duration(v)
            .map(DurationValue)
            .map_err(|_| E::invalid_value(Unexpected::Str(v), &EXPECTED))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
        Ok(DurationValue(Duration::from_nanos(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
        u64::try_from(v)
            .map(|n| DurationValue(Duration::from_nanos(n)))
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &EXPECTED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_go_duration(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_go_forms() {
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("87600h"), Duration::from_secs(87600 * 3600));
        assert_eq!(ok("100ms"), Duration::from_millis(100));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("+2us"), Duration::from_micros(2));
        assert_eq!(ok("3µs"), Duration::from_micros(3));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("1h2m3.25s"), Duration::from_millis(3_723_250));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "10",
            "abc",
            "1x",
            "-1s",
            "s",
            ".s",
            "1.2.3s",
            "9999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        assert_eq!(format_go_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(format_go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_go_duration(Duration::from_nanos(1500)), "1.5µs");
        for s in ["72h0m0s", "2s", "1m0.5s", "250ms"] {
            assert_eq!(format_go_duration(ok(s)), s);
        }
    }
}
