//! The allow/deny verdict of an intention or permission, and the serde helpers
//! that give the wire types Go's tolerance for `null` and empty strings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `allow` or `deny`. Any other string decodes as [`Action::Other`] so that
/// validation, not decoding, rejects it with Consul's message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `"allow"`
    Allow,
    /// `"deny"`
    Deny,
    /// Anything else (never valid; kept to report it).
    Other(String),
}

// === impl Action ===

impl Action {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Other(s) => s,
        }
    }

    /// Whether this is `allow` or `deny`.
    pub fn is_valid(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// Parses the wire spelling; `""` means unset.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" => None,
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            other => Some(Self::Other(other.to_owned())),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s).unwrap_or_else(|| Self::Other(String::new())))
    }
}

/// Decodes an optional action: absent, `null` and `""` are all unset.
pub(crate) fn de_opt_action<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Action>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.as_deref().and_then(Action::parse))
}

/// Encodes an optional action the way Go encodes a string without
/// `omitempty`: unset becomes `""`.
pub(crate) fn ser_opt_action<S: Serializer>(a: &Option<Action>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.as_ref().map_or("", Action::as_str))
}

/// Decodes a value where `null` means the type's default, as Go's decoder does.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `skip_serializing_if` helper for Go's `omitempty` on booleans.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// `skip_serializing_if` helper for Go's `omitempty` on integers.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}
