//! Evaluates L7 intentions against an HTTP request, with the semantics the
//! Envoy RBAC filter Consul generates has: the highest-precedence intention
//! covering the source decides; an L4 intention by its action; an L7 one by its
//! first permission matching the request, else the default.

use crate::Action;
use crate::entry::ServiceIntentions;
use crate::name::ServiceName;
use crate::permission::{HeaderPermission, HttpPermission, IntentionPermission};
use crate::query::{MatchBy, Target, intention_covers, matches};

/// The parts of an HTTP request intentions look at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// Method, e.g. `GET`.
    pub method: &'a str,
    /// Request target; anything after `?` or `#` is ignored.
    pub path: &'a str,
    /// Headers as (name, value) pairs; names compare case-insensitively and
    /// repeated headers are joined with `,`.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Whether `source` may send `request` to `destination`.
pub fn authorize_request<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    source: &ServiceName,
    destination: &ServiceName,
    request: &HttpRequest<'_>,
    default_allow: bool,
) -> bool {
    let candidates = matches(entries, MatchBy::Destination, destination);
    let who = Target {
        service: source,
        peer: "",
        by: MatchBy::Source,
    };
    match candidates.iter().find(|i| intention_covers(i, &who)) {
        Some(ixn) if ixn.permissions.is_empty() => ixn.action == Some(Action::Allow),
        Some(ixn) => evaluate_permissions(&ixn.permissions, request, default_allow),
        None => default_allow,
    }
}

/// The first permission matching `request` decides; none matching means
/// `default_allow`.
pub fn evaluate_permissions(
    permissions: &[IntentionPermission],
    request: &HttpRequest<'_>,
    default_allow: bool,
) -> bool {
    permissions
        .iter()
        .find(|p| p.http.as_ref().is_some_and(|h| h.matches(request)))
        .map_or(default_allow, |p| p.action == Some(Action::Allow))
}

// === impl HttpPermission ===

impl HttpPermission {
    /// Whether every criterion of this matcher holds for `request`.
    pub fn matches(&self, request: &HttpRequest<'_>) -> bool {
        self.path_matches(path_only(request.path))
            && self.header.iter().all(|h| h.matches(request))
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == request.method))
    }

    fn path_matches(&self, path: &str) -> bool {
        if !self.path_exact.is_empty() {
            return path == self.path_exact;
        }
        if !self.path_prefix.is_empty() {
            return path.starts_with(&self.path_prefix);
        }
        self.path_regex.is_empty() || full_match(&self.path_regex, path)
    }
}

// === impl HeaderPermission ===

impl HeaderPermission {
    /// Whether this criterion holds for `request`. A missing header matches
    /// nothing (so an inverted criterion holds).
    pub fn matches(&self, request: &HttpRequest<'_>) -> bool {
        let value = header_value(request, &self.name);
        let hit = value.as_deref().is_some_and(|v| self.value_matches(v));
        hit != self.invert
    }

    fn value_matches(&self, value: &str) -> bool {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        };
        let v = fold(value);
        if self.present {
            true
        } else if !self.exact.is_empty() {
            v == fold(&self.exact)
        } else if !self.prefix.is_empty() {
            v.starts_with(&fold(&self.prefix))
        } else if !self.suffix.is_empty() {
            v.ends_with(&fold(&self.suffix))
        } else if !self.contains.is_empty() {
            v.contains(&fold(&self.contains))
        } else {
            !self.regex.is_empty() && full_match(&self.regex, value)
        }
    }
}

/// All values of header `name`, joined with `,`; `None` if absent.
fn header_value(request: &HttpRequest<'_>, name: &str) -> Option<String> {
    let values: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The path without query string or fragment.
fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

/// Whether `pattern` matches all of `text` (Envoy's `safe_regex` semantics);
/// a pattern that does not compile matches nothing.
fn full_match(pattern: &str, text: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(text))
}
