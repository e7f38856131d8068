//! Go `time.Duration` values: signed nanoseconds, parsed from and rendered as
//! Go duration strings (`"5s"`, `"1m30s"`, `"1.5ms"`).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_MIN: i64 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MIN;

/// A Go `time.Duration`: signed nanoseconds.
///
/// Serializes as Go's `Duration.String()`; deserializes from a Go duration
/// string or from an integer count of nanoseconds (what Go's JSON and
/// mapstructure decoders both accept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(i64);

/// Why a Go duration string was rejected; the text matches Go's `time.ParseDuration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a duration at all (`time: invalid duration "x"`).
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (`time: missing unit in duration "5"`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

// === impl GoDuration ===

impl GoDuration {
    /// The zero duration.
    pub const ZERO: GoDuration = GoDuration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> GoDuration {
        GoDuration(nanos)
    }

    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: i64) -> GoDuration {
        GoDuration(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// A duration of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: i64) -> GoDuration {
        GoDuration(millis.saturating_mul(NANOS_PER_MILLI))
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whether the duration is zero (Go's `omitempty` test).
    pub const fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// Whether the duration is below zero.
    pub const fn is_negative(&self) -> bool {
        self.0 < 0
    }

    /// Converts to a [`std::time::Duration`]; negative values become zero.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// Parses a Go duration string, e.g. `"5s"`, `"-1.5h"`, `"1m30s"`, `"0"`.
    pub fn parse(input: &str) -> Result<GoDuration, DurationError> {
        let invalid = || DurationError::Invalid(input.to_string());
        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(GoDuration::ZERO);
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let (nanos, tail) = parse_component(rest, input)?;
            total += nanos;
            if total > i128::from(i64::MAX) {
                return Err(invalid());
            }
            rest = tail;
        }
        let signed = if negative { -total } else { total };
        i64::try_from(signed).map(GoDuration).map_err(|_| invalid())
    }
}

/// Parses one `<number>[.<fraction>]<unit>` component into nanoseconds.
fn parse_component<'a>(s: &'a str, input: &str) -> Result<(i128, &'a str), DurationError> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, after_int) = s.split_at(int_len);
    let (frac_part, after_num) = match after_int.strip_prefix('.') {
        Some(f) => f.split_at(f.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DurationError::Invalid(input.to_string()));
    }
    let unit_len = after_num
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || *c == '.')
        .map_or(after_num.len(), |(i, _)| i);
    let (unit, tail) = after_num.split_at(unit_len);
    let scale = unit_nanos(unit, input)?;
    let whole: i128 = if int_part.is_empty() {
        0
    } else {
        int_part
            .parse()
            .map_err(|_| DurationError::Invalid(input.to_string()))?
    };
    Ok((
        whole * i128::from(scale) + fraction_nanos(frac_part, scale),
        tail,
    ))
}

/// Nanoseconds contributed by the decimal `digits` after the point of a `scale` unit.
fn fraction_nanos(digits: &str, scale: i64) -> i128 {
    let mut value: i128 = 0;
    let mut divisor: i128 = 1;
    for b in digits.bytes().take(18) {
        value = value * 10 + i128::from(b - b'0');
        divisor *= 10;
    }
    value * i128::from(scale) / divisor
}

fn unit_nanos(unit: &str, input: &str) -> Result<i64, DurationError> {
    Ok(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SEC,
        "m" => NANOS_PER_MIN,
        "h" => NANOS_PER_HOUR,
        "" => return Err(DurationError::MissingUnit(input.to_string())),
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.to_string(),
                input: input.to_string(),
            });
        }
    })
}

/// `value / unit` as a decimal without trailing zeros (`1500, 1000` → `"1.5"`).
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

impl fmt::Display for GoDuration {
    /// Formats like Go's `Duration.String`: `"0s"`, `"1.5ms"`, `"1m30s"`, `"1h0m0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let nanos = u128::from(self.0.unsigned_abs());
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}\u{b5}s", decimal(nanos, 1_000));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", decimal(nanos, 1_000_000));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = (nanos / 60_000_000_000) % 60;
        let secs = decimal(nanos % 60_000_000_000, 1_000_000_000);
        match (hours, minutes) {
            (0, 0) => write!(f, "{secs}s"),
            (0, m) => write!(f, "{m}m{secs}s"),
            (h, m) => write!(f, "{h}h{m}m{secs}s"),
        }
    }
}

impl std::str::FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<GoDuration, DurationError> {
        GoDuration::parse(s)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<GoDuration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"5s\" or integer nanoseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
        GoDuration::parse(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
        Ok(GoDuration(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
        i64::try_from(v)
            .map(GoDuration)
            .map_err(|_| E::custom("duration out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoDuration, E> {
        if v.fract() == 0.0 && v.abs() < 9.2e18 {
            #[allow(clippy::cast_possible_truncation)]
            return Ok(GoDuration(v as i64));
        }
        Err(E::custom(format!("invalid duration {v}")))
    }
}

/// Serializes a [`GoDuration`] as integer nanoseconds, the way Go's
/// `encoding/json` renders a `time.Duration` field that has no custom marshaler.
pub fn serialize_nanos<S: Serializer>(d: &GoDuration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(d.0)
}

/// [`serialize_nanos`] for an optional duration.
pub fn serialize_opt_nanos<S: Serializer>(
    d: &Option<GoDuration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serializer.serialize_i64(d.0),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        let cases = [
            ("5s", 5 * NANOS_PER_SEC),
            ("1m30s", 90 * NANOS_PER_SEC),
            ("1.5s", 1_500 * NANOS_PER_MILLI),
            ("100ms", 100 * NANOS_PER_MILLI),
            ("2h", 2 * NANOS_PER_HOUR),
            ("-5s", -5 * NANOS_PER_SEC),
            ("0", 0),
            ("3us", 3_000),
            ("3\u{b5}s", 3_000),
            ("7ns", 7),
        ];
        for (text, nanos) in cases {
            assert_eq!(GoDuration::parse(text), Ok(GoDuration(nanos)), "{text}");
        }
    }

    #[test]
    fn rejects_bad_forms_with_go_messages() {
        assert_eq!(
            GoDuration::parse("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            GoDuration::parse("5x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            GoDuration::parse("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert!(GoDuration::parse("s").is_err());
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (5 * NANOS_PER_SEC, "5s"),
            (90 * NANOS_PER_SEC, "1m30s"),
            (NANOS_PER_HOUR, "1h0m0s"),
            (1_500 * NANOS_PER_MILLI, "1.5s"),
            (1_500_000, "1.5ms"),
            (2_000, "2\u{b5}s"),
            (12, "12ns"),
            (-5 * NANOS_PER_SEC, "-5s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(GoDuration(nanos).to_string(), text);
        }
    }

    #[test]
    fn serde_accepts_strings_and_nanos() {
        let d: GoDuration = serde_json::from_str("\"33s\"").unwrap();
        assert_eq!(d, GoDuration::from_secs(33));
        let d: GoDuration = serde_json::from_str("5000000000").unwrap();
        assert_eq!(d, GoDuration::from_secs(5));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"5s\"");
    }
}
