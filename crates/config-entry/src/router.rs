//! `service-router`: L7 routes at the top of a discovery chain.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::error::{Error, Result};
use crate::serde_util::{is_false, is_zero, nil_if_empty, null_as_empty};
use crate::shared::{HttpHeaderModifiers, validate_meta};

/// HTTP methods a route may match.
const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// Conditions `RetryOn` accepts.
const RETRY_CONDITIONS: [&str; 12] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// A `service-router` config entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceRouter {
    /// The service whose traffic is routed.
    #[serde(default)]
    pub name: String,
    /// Routes in order; the first match wins, then an implicit catch-all.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub routes: Vec<ServiceRoute>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default)]
    pub modify_index: u64,
}

/// One route: match criteria and a destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceRoute {
    /// What requests this route takes (none = all).
    #[serde(rename = "Match", default, skip_serializing_if = "Option::is_none")]
    pub route_match: Option<ServiceRouteMatch>,
    /// Where matching requests go (none = the router's own service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<ServiceRouteDestination>,
}

/// Match criteria of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceRouteMatch {
    /// HTTP criteria.
    #[serde(rename = "HTTP", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ServiceRouteHttpMatch>,
}

/// HTTP match criteria; all given criteria must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceRouteHttpMatch {
    /// Exact path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_exact: String,
    /// Path prefix.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// Path regex (RE2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_regex: String,
    /// Header matchers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<HttpHeaderMatch>,
    /// Query parameter matchers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_param: Vec<HttpQueryParamMatch>,
    /// Methods (upper-cased on normalize).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// One header matcher: exactly one of the match kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HttpHeaderMatch {
    /// Header name.
    #[serde(default)]
    pub name: String,
    /// The header is present.
    #[serde(default, skip_serializing_if = "is_false")]
    pub present: bool,
    /// Exact value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    /// Value prefix.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Value suffix.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suffix: String,
    /// Value regex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regex: String,
    /// Negates the match.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invert: bool,
}

/// One query parameter matcher: exactly one of the match kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HttpQueryParamMatch {
    /// Parameter name.
    #[serde(default)]
    pub name: String,
    /// The parameter is present.
    #[serde(default, skip_serializing_if = "is_false")]
    pub present: bool,
    /// Exact value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    /// Value regex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regex: String,
}

/// Where a route sends requests, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceRouteDestination {
    /// Target service (default: the router's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Target subset (bypasses splitters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Target namespace (Enterprise; ignored here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Target partition (Enterprise; ignored here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Replacement for the matched path prefix.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix_rewrite: String,
    /// Total request timeout.
    #[serde(default, skip_serializing_if = "GoDuration::is_zero")]
    pub request_timeout: GoDuration,
    /// Idle stream timeout.
    #[serde(default, skip_serializing_if = "GoDuration::is_zero")]
    pub idle_timeout: GoDuration,
    /// Retry count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_retries: u32,
    /// Retry on connection failures.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retry_on_connect_failure: bool,
    /// Envoy retry conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_on: Vec<String>,
    /// Status codes that are retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_on_status_codes: Vec<u32>,
    /// Request header edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HttpHeaderModifiers>,
    /// Response header edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HttpHeaderModifiers>,
}

// === impl ServiceRouter ===

impl ServiceRouter {
    /// Consul's `Normalize`: upper-cases methods.
    pub fn normalize(&mut self) {
        for route in &mut self.routes {
            if let Some(http) = route.route_match.as_mut().and_then(|m| m.http.as_mut()) {
                http.methods.iter_mut().for_each(|m| *m = m.to_uppercase());
            }
        }
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        validate_meta(&self.meta)?;
        for (i, route) in self.routes.iter().enumerate() {
            route.validate(i)?;
        }
        Ok(())
    }

    /// Services this router sends traffic to, besides itself.
    pub fn related_services(&self) -> BTreeSet<String> {
        self.routes
            .iter()
            .filter_map(|r| r.destination.as_ref())
            .map(|d| d.service.as_str())
            .filter(|s| !s.is_empty() && *s != self.name)
            .map(str::to_string)
            .collect()
    }
}

// === impl ServiceRoute ===

impl ServiceRoute {
    fn validate(&self, i: usize) -> Result<()> {
        let http = self.route_match.as_ref().and_then(|m| m.http.as_ref());
        let eligible_for_rewrite = match http {
            Some(http) => http.validate(i)?,
            None => false,
        };
        let Some(dest) = &self.destination else {
            return Ok(());
        };
        if !dest.prefix_rewrite.is_empty() && !eligible_for_rewrite {
            return Err(Error::invalid(format!(
                "Route[{i}] cannot make use of PrefixRewrite without configuring either PathExact or PathPrefix"
            )));
        }
        if let Some(bad) = dest
            .retry_on
            .iter()
            .find(|r| !RETRY_CONDITIONS.contains(&r.as_str()))
        {
            return Err(Error::invalid(format!(
                "Route[{i}] contains an invalid retry condition: {bad:?}"
            )));
        }
        Ok(())
    }
}

// === impl ServiceRouteHttpMatch ===

impl ServiceRouteHttpMatch {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self.path_exact.is_empty()
            && self.path_prefix.is_empty()
            && self.path_regex.is_empty()
            && self.header.is_empty()
            && self.query_param.is_empty()
            && self.methods.is_empty()
    }

    /// Validates route `i`; returns whether `PrefixRewrite` may be used.
    fn validate(&self, i: usize) -> Result<bool> {
        self.validate_paths(i)?;
        for (j, hdr) in self.header.iter().enumerate() {
            hdr.validate(i, j)?;
        }
        for (j, qp) in self.query_param.iter().enumerate() {
            qp.validate(i, j)?;
        }
        self.validate_methods(i)?;
        Ok(!self.path_exact.is_empty() || !self.path_prefix.is_empty())
    }

    fn validate_paths(&self, i: usize) -> Result<()> {
        for (field, path) in [
            ("PathExact", &self.path_exact),
            ("PathPrefix", &self.path_prefix),
        ] {
            if !path.is_empty() && !path.starts_with('/') {
                return Err(Error::invalid(format!(
                    "Route[{i}] {field} doesn't start with '/': {path:?}"
                )));
            }
        }
        let set = [&self.path_exact, &self.path_prefix, &self.path_regex]
            .iter()
            .filter(|p| !p.is_empty())
            .count();
        if set > 1 {
            return Err(Error::invalid(format!(
                "Route[{i}] should only contain at most one of PathExact, PathPrefix, or PathRegex"
            )));
        }
        Ok(())
    }

    fn validate_methods(&self, i: usize) -> Result<()> {
        let mut seen = BTreeSet::new();
        for method in &self.methods {
            if !HTTP_METHODS.contains(&method.as_str()) {
                return Err(Error::invalid(format!(
                    "Route[{i}] Methods contains an invalid method {method:?}"
                )));
            }
            if !seen.insert(method) {
                return Err(Error::invalid(format!(
                    "Route[{i}] Methods contains {method:?} more than once"
                )));
            }
        }
        Ok(())
    }
}

// === impl HttpHeaderMatch ===

impl HttpHeaderMatch {
    fn validate(&self, i: usize, j: usize) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid(format!(
                "Route[{i}] Header[{j}] missing required Name field"
            )));
        }
        let parts = [
            self.present,
            !self.exact.is_empty(),
            !self.regex.is_empty(),
            !self.prefix.is_empty(),
            !self.suffix.is_empty(),
        ];
        if parts.iter().filter(|p| **p).count() != 1 {
            return Err(Error::invalid(format!(
                "Route[{i}] Header[{j}] should only contain one of Present, Exact, Prefix, Suffix, or Regex"
            )));
        }
        Ok(())
    }
}

// === impl HttpQueryParamMatch ===

impl HttpQueryParamMatch {
    fn validate(&self, i: usize, j: usize) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid(format!(
                "Route[{i}] QueryParam[{j}] missing required Name field"
            )));
        }
        let parts = [self.present, !self.exact.is_empty(), !self.regex.is_empty()];
        if parts.iter().filter(|p| **p).count() != 1 {
            return Err(Error::invalid(format!(
                "Route[{i}] QueryParam[{j}] should only contain one of Present, Exact, or Regex"
            )));
        }
        Ok(())
    }
}
