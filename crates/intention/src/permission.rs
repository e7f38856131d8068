//! L7 permissions of a source intention (HTTP path, header and method
//! matchers) and the JWT requirements that may accompany them. Shapes follow
//! Consul's `IntentionPermission` family; keys are PascalCase.

use serde::{Deserialize, Serialize};

use crate::action::{Action, de_opt_action, is_false, nullable, ser_opt_action};

/// One L7 rule: an action applied when the HTTP matcher (and JWT, if any) match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentionPermission {
    /// `allow` or `deny` (required).
    #[serde(
        rename = "Action",
        default,
        deserialize_with = "de_opt_action",
        serialize_with = "ser_opt_action"
    )]
    pub action: Option<Action>,
    /// The HTTP request matcher (required by validation).
    #[serde(rename = "HTTP", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpPermission>,
    /// JWT requirements for this permission.
    #[serde(rename = "JWT", default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtRequirement>,
}

/// Criteria on an HTTP request; all present criteria must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HttpPermission {
    /// The path equals this value.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub path_exact: String,
    /// The path starts with this value.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub path_prefix: String,
    /// The whole path matches this regular expression.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub path_regex: String,
    /// Header criteria, all of which must match.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub header: Vec<HeaderPermission>,
    /// Allowed methods (upper case after normalization); empty means any.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub methods: Vec<String>,
}

/// One header criterion: exactly one of `present`, `exact`, `prefix`,
/// `suffix`, `contains` or `regex`, optionally inverted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HeaderPermission {
    /// Header name (case-insensitive).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// The header is present, with any value.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub present: bool,
    /// The value equals this.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub exact: String,
    /// The value starts with this.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub prefix: String,
    /// The value ends with this.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub suffix: String,
    /// The value contains this (Consul 1.21+).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub contains: String,
    /// The whole value matches this regular expression.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub regex: String,
    /// Inverts the result.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub invert: bool,
    /// Compare `exact`/`prefix`/`suffix`/`contains` ignoring ASCII case (Consul 1.21+).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub ignore_case: bool,
}

/// JWT providers a request must satisfy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct JwtRequirement {
    /// The providers to consider.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub providers: Vec<JwtProvider>,
}

/// A `jwt-provider` config entry reference plus extra claims to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct JwtProvider {
    /// Name of the `jwt-provider` config entry (required).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Additional claims to check.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verify_claims: Vec<JwtClaimVerification>,
}

/// A claim at `path` that must equal (or, for a list, contain) `value`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct JwtClaimVerification {
    /// Path to the claim in the token's JSON.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub path: Vec<String>,
    /// The expected value.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub value: String,
}

// === impl IntentionPermission ===

impl IntentionPermission {
    /// A permission with `action` on `http`.
    pub fn new(action: Action, http: HttpPermission) -> Self {
        Self {
            action: Some(action),
            http: Some(http),
            jwt: None,
        }
    }
}
