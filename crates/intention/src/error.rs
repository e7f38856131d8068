//! Errors of this crate. Their `Display` text is Consul's, word for word where
//! Consul has one, because HTTP clients see it in 400/500 bodies.

use std::fmt;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when validating, mutating or querying intentions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One validation rule failed (Consul returns the first failure of a config entry).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Several rules failed; rendered like Go's `multierror` (legacy intention
    /// validation, meta limits and JWT providers report this way).
    #[error("{}", MultiError(.0))]
    Multiple(Vec<Invalid>),
    /// A legacy update named an ID no source carries.
    #[error("Cannot modify non-existent intention: '{id}'")]
    UpdateNonExistent {
        /// The legacy intention ID.
        id: String,
    },
    /// A legacy delete named an ID no source carries.
    #[error("Cannot delete non-existent intention: '{id}'")]
    DeleteNonExistent {
        /// The legacy intention ID.
        id: String,
    },
    /// The legacy ID API may not touch an entry once it was written as a config entry.
    #[error(
        "cannot use legacy intention API to edit intentions with a destination of {destination:?} after editing them via a service-intentions config entry"
    )]
    LegacyEditAfterConfigEntry {
        /// The destination service, as Consul prints a service name.
        destination: String,
    },
    /// A legacy create carried an ID.
    #[error("ID must be empty when creating a new intention")]
    IdOnCreate,
    /// An upsert by name carried an ID.
    #[error("ID must not be specified")]
    IdOnUpsert,
    /// A legacy update tried to move the intention to another destination.
    #[error("Cannot modify Destination partition/namespace/name for an intention once it exists.")]
    DestinationChanged,
    /// An upsert by name carried Meta for a destination without an entry.
    #[error("Meta must not be specified")]
    MetaOnUpsert,
    /// An upsert by name carried Meta different from the entry's.
    #[error("Meta must not be specified, or should be unchanged during an update.")]
    MetaChangedOnUpsert,
    /// The intention endpoints do not take peered sources.
    #[error("SourcePeer field is not supported on this endpoint. Use config entries instead")]
    SourcePeerNotSupported,
    /// L7 permissions on a destination whose protocol is not HTTP-like.
    #[error(
        "service {service:?} has protocol {protocol:?}, which is incompatible with L7 intentions permissions"
    )]
    ProtocolNotHttp {
        /// The destination service, as Consul prints a service name.
        service: String,
        /// Its effective protocol.
        protocol: String,
    },
    /// A legacy intention ID that is not a UUID (Consul's memdb wording).
    #[error("{reason}")]
    BadId {
        /// Why the ID was rejected; always mentions "UUID", which Consul's
        /// HTTP layer keys its 400 on.
        reason: String,
    },
    /// A `source`/`destination`/`name` query value that does not parse.
    #[error("{reason}")]
    BadName {
        /// Consul's reason ("input can contain at most two '/'", ...).
        reason: &'static str,
    },
}

/// One failed validation rule: the field it concerns (in Consul's path form,
/// such as `Sources[0].Permissions[1].HTTP`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Field path, e.g. `Name`, `Sources[2].Action`.
    pub field: String,
    /// The rule that failed.
    pub problem: Problem,
}

/// The rule a field broke. Each variant renders one of Consul's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// `<field> is required`
    Required,
    /// `<field> must be set`
    MustBeSet,
    /// `<field> must be omitted`
    MustBeOmitted,
    /// `<field> must be set to 'allow' or 'deny'`
    MustBeAllowOrDeny,
    /// `<field> must be set to 'consul'`
    MustBeConsul,
    /// `<field>: wildcard character '*' cannot be used with partial values`
    PartialWildcard,
    /// `<field>: exact value cannot follow wildcard namespace`
    ExactAfterWildcardNamespace,
    /// `<field>: cannot use wildcard '*' in <what>`
    WildcardForbidden {
        /// "partition", "peer" or "sameness group".
        what: &'static str,
    },
    /// `<field> exceeds maximum length <max>`
    TooLong {
        /// The limit.
        max: usize,
    },
    /// `<field> exceeds maximum element count <max>`
    TooManyElements {
        /// The limit.
        max: usize,
    },
    /// `<field> key "<key>" exceeds maximum length <max>`
    MetaKeyTooLong {
        /// The offending key.
        key: String,
        /// The limit.
        max: usize,
    },
    /// `<field> value for key "<key>" exceeds maximum length <max>`
    MetaValueTooLong {
        /// The key whose value is too long.
        key: String,
        /// The limit.
        max: usize,
    },
    /// `At least one source is required`
    NoSources,
    /// `<field> must be omitted for legacy intention writes`
    OmitForLegacyWrites,
    /// `<field>: Sameness groups are a Consul Enterprise feature. `
    SamenessGroupsEnterprise,
    /// `<field>: cannot set Peer and Partition at the same time.`
    PeerWithPartition,
    /// `<field> cannot be set by legacy intentions`
    NotForLegacy,
    /// `<field> must be omitted if Permissions are specified`
    ActionWithPermissions,
    /// `<field> cannot be specified on intentions with wildcarded destinations`
    PermissionsOnWildcardDestination,
    /// `<field> must not be set when using the legacy APIs`
    NotWithLegacyApi,
    /// `<field> doesn't start with '/': "<path>"`
    NoLeadingSlash {
        /// The path as given.
        path: String,
    },
    /// `<field> should only contain at most one of PathExact, PathPrefix, or PathRegex`
    SeveralPaths,
    /// `<field> missing required Name field`
    HeaderNameMissing,
    /// `<field> should only contain one of Present, Exact, Prefix, Suffix, Contains, or Regex`
    HeaderMatchCount,
    /// `<field> contains an invalid method "<method>"`
    InvalidMethod {
        /// The method as given.
        method: String,
    },
    /// `<field> contains "<method>" more than once`
    DuplicateMethod {
        /// The repeated method.
        method: String,
    },
    /// `<field> should not be empty`
    Empty,
    /// `<field> is not a valid regular expression: <reason>` (skein's own
    /// check; Consul leaves bad regexes for Envoy to reject)
    BadRegex {
        /// The regex engine's complaint.
        reason: String,
    },
    /// `JWT provider name is required`
    JwtProviderName,
    /// `<field> defines "<name>" more than once`, or with `peer("<peer>") `
    DuplicateSource {
        /// The source service, as Consul prints a service name.
        name: String,
        /// The source's peer, if any.
        peer: Option<String>,
    },
    /// `<field>: cannot set this field`
    LegacyIdSet,
    /// `<field>: cannot set this field to a different value`
    LegacyIdChanged,
}

/// Renders a list of failures the way hashicorp/go-multierror does.
struct MultiError<'a>(&'a [Invalid]);

// === impl Invalid ===

impl Invalid {
    /// A failure of `field` under `problem`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        match &self.problem {
            Problem::Required => write!(f, "{field} is required"),
            Problem::MustBeSet => write!(f, "{field} must be set"),
            Problem::MustBeOmitted => write!(f, "{field} must be omitted"),
            Problem::MustBeAllowOrDeny => write!(f, "{field} must be set to 'allow' or 'deny'"),
            Problem::MustBeConsul => write!(f, "{field} must be set to 'consul'"),
            Problem::PartialWildcard => write!(
                f,
                "{field}: wildcard character '*' cannot be used with partial values"
            ),
            Problem::ExactAfterWildcardNamespace => {
                write!(f, "{field}: exact value cannot follow wildcard namespace")
            }
            Problem::WildcardForbidden { what } => {
                write!(f, "{field}: cannot use wildcard '*' in {what}")
            }
            other => fmt_rest(f, field, other),
        }
    }
}

impl std::error::Error for Invalid {}

/// Second half of [`Invalid`]'s rendering, split to keep each match short.
fn fmt_rest(f: &mut fmt::Formatter<'_>, field: &str, problem: &Problem) -> fmt::Result {
    match problem {
        Problem::TooLong { max } => write!(f, "{field} exceeds maximum length {max}"),
        Problem::TooManyElements { max } => {
            write!(f, "{field} exceeds maximum element count {max}")
        }
        Problem::MetaKeyTooLong { key, max } => {
            write!(f, "{field} key {key:?} exceeds maximum length {max}")
        }
        Problem::MetaValueTooLong { key, max } => {
            write!(
                f,
                "{field} value for key {key:?} exceeds maximum length {max}"
            )
        }
        Problem::NoSources => f.write_str("At least one source is required"),
        Problem::OmitForLegacyWrites => {
            write!(f, "{field} must be omitted for legacy intention writes")
        }
        Problem::SamenessGroupsEnterprise => write!(
            f,
            "{field}: Sameness groups are a Consul Enterprise feature. "
        ),
        Problem::PeerWithPartition => {
            write!(
                f,
                "{field}: cannot set Peer and Partition at the same time."
            )
        }
        Problem::NotForLegacy => write!(f, "{field} cannot be set by legacy intentions"),
        Problem::ActionWithPermissions => {
            write!(f, "{field} must be omitted if Permissions are specified")
        }
        Problem::PermissionsOnWildcardDestination => write!(
            f,
            "{field} cannot be specified on intentions with wildcarded destinations"
        ),
        Problem::NotWithLegacyApi => {
            write!(f, "{field} must not be set when using the legacy APIs")
        }
        other => fmt_http(f, field, other),
    }
}

/// Third part of [`Invalid`]'s rendering: L7 rules and duplicates.
fn fmt_http(f: &mut fmt::Formatter<'_>, field: &str, problem: &Problem) -> fmt::Result {
    match problem {
        Problem::NoLeadingSlash { path } => write!(f, "{field} doesn't start with '/': {path:?}"),
        Problem::SeveralPaths => write!(
            f,
            "{field} should only contain at most one of PathExact, PathPrefix, or PathRegex"
        ),
        Problem::HeaderNameMissing => write!(f, "{field} missing required Name field"),
        Problem::HeaderMatchCount => write!(
            f,
            "{field} should only contain one of Present, Exact, Prefix, Suffix, Contains, or Regex"
        ),
        Problem::InvalidMethod { method } => {
            write!(f, "{field} contains an invalid method {method:?}")
        }
        Problem::DuplicateMethod { method } => {
            write!(f, "{field} contains {method:?} more than once")
        }
        Problem::Empty => write!(f, "{field} should not be empty"),
        Problem::BadRegex { reason } => {
            write!(f, "{field} is not a valid regular expression: {reason}")
        }
        Problem::JwtProviderName => f.write_str("JWT provider name is required"),
        Problem::DuplicateSource { name, peer: None } => {
            write!(f, "{field} defines {name:?} more than once")
        }
        Problem::DuplicateSource {
            name,
            peer: Some(peer),
        } => write!(f, "{field} defines peer({peer:?}) {name:?} more than once"),
        Problem::LegacyIdSet => write!(f, "{field}: cannot set this field"),
        Problem::LegacyIdChanged => {
            write!(f, "{field}: cannot set this field to a different value")
        }
        // The earlier renderers handle every other variant.
        _ => write!(f, "{field} is invalid"),
    }
}

// === impl MultiError ===

impl fmt::Display for MultiError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "1 error occurred:\n\t* {one}\n\n"),
            many => {
                write!(f, "{} errors occurred:", many.len())?;
                for err in many {
                    write!(f, "\n\t* {err}")?;
                }
                f.write_str("\n\n")
            }
        }
    }
}

// === impl Error ===

impl Error {
    /// One failure of `field` under `problem`.
    pub(crate) fn invalid(field: impl Into<String>, problem: Problem) -> Self {
        Self::Invalid(Invalid::new(field, problem))
    }

    /// The individual rule failures, if this error is a validation error.
    pub fn failures(&self) -> &[Invalid] {
        match self {
            Self::Invalid(one) => std::slice::from_ref(one),
            Self::Multiple(many) => many,
            _ => &[],
        }
    }
}
