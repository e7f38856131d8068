//! Time conversions between the caller's `SystemTime`, certificates and JSON.
//!
//! Certificates carry whole seconds; JSON uses RFC 3339 in UTC like Go's
//! `time.Time`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

use crate::error::{Error, Result};

/// How far back leaves and cross-signed certificates are dated, so peers with
/// a slightly slow clock accept them at once (Consul's one minute).
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// `t` as a certificate validity time (sub-second part dropped).
pub(crate) fn to_asn1(t: SystemTime) -> Result<OffsetDateTime> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::TimeOutOfRange)?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| Error::TimeOutOfRange)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| Error::TimeOutOfRange)
}

/// A certificate time back as `SystemTime`.
pub(crate) fn from_unix(secs: i64) -> Result<SystemTime> {
    let secs = u64::try_from(secs).map_err(|_| Error::TimeOutOfRange)?;
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .ok_or(Error::TimeOutOfRange)
}

/// `t` with the sub-second part dropped, as a certificate stores it.
pub(crate) fn truncate(t: SystemTime) -> Result<SystemTime> {
    from_unix(to_asn1(t)?.unix_timestamp())
}

/// `t + d`, failing instead of overflowing.
pub(crate) fn add(t: SystemTime, d: Duration) -> Result<SystemTime> {
    t.checked_add(d).ok_or(Error::TimeOutOfRange)
}

/// `t - d`, failing instead of underflowing.
pub(crate) fn sub(t: SystemTime, d: Duration) -> Result<SystemTime> {
    t.checked_sub(d).ok_or(Error::TimeOutOfRange)
}

/// Serde for `SystemTime` as an RFC 3339 string (`2024-05-01T12:00:00Z`).
pub(crate) mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(de::Error::custom)
    }

    /// The same for `Option<SystemTime>`.
    pub(crate) mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serializer, de};

        pub(crate) fn serialize<S: Serializer>(
            t: &Option<SystemTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.collect_str(&humantime::format_rfc3339(*t)),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| humantime::parse_rfc3339_weak(&t).map_err(de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_round_trip_drops_nanos() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        let odt = to_asn1(t).unwrap();
        assert_eq!(
            from_unix(odt.unix_timestamp()).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }

    #[test]
    fn before_epoch_is_out_of_range() {
        let t = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(to_asn1(t), Err(Error::TimeOutOfRange)));
    }
}
