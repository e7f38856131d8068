//! Validation of L7 permissions: the action, and the HTTP matcher rules
//! (at most one path matcher, paths start with '/', one criterion per header,
//! known methods listed once, something to match on, regexes that compile).

use std::collections::HashSet;

use crate::action::Action;
use crate::error::{Error, Problem, Result};
use crate::permission::{HeaderPermission, HttpPermission, IntentionPermission};
use crate::validate::validate_jwt;

/// Methods Go's `net/http` names; Consul accepts exactly these.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// Validates the permissions of source `i`.
pub(crate) fn validate_permissions(i: usize, perms: &[IntentionPermission]) -> Result<()> {
    for (j, perm) in perms.iter().enumerate() {
        let base = format!("Sources[{i}].Permissions[{j}]");
        if !perm.action.as_ref().is_some_and(Action::is_valid) {
            return Err(Error::invalid(
                format!("{base}.Action"),
                Problem::MustBeAllowOrDeny,
            ));
        }
        let field = format!("{base}.HTTP");
        let Some(http) = &perm.http else {
            return Err(Error::invalid(field, Problem::Required));
        };
        validate_http(&field, http)?;
        if let Some(jwt) = &perm.jwt {
            validate_jwt(jwt)?;
        }
    }
    Ok(())
}

/// The rules of one HTTP matcher; `field` is its path (`Sources[i].Permissions[j].HTTP`).
fn validate_http(field: &str, http: &HttpPermission) -> Result<()> {
    let path_parts = validate_paths(field, http)?;
    for (k, hdr) in http.header.iter().enumerate() {
        validate_header(&format!("{field}.Header[{k}]"), hdr)?;
    }
    validate_methods(&format!("{field}.Methods"), &http.methods)?;
    let parts = path_parts + http.header.len() + usize::from(!http.methods.is_empty());
    if parts == 0 {
        return Err(Error::invalid(field, Problem::Empty));
    }
    Ok(())
}

/// Checks the path matchers and returns how many are set.
fn validate_paths(field: &str, http: &HttpPermission) -> Result<usize> {
    for (name, path) in [
        ("PathExact", &http.path_exact),
        ("PathPrefix", &http.path_prefix),
    ] {
        if !path.is_empty() && !path.starts_with('/') {
            let problem = Problem::NoLeadingSlash { path: path.clone() };
            return Err(Error::invalid(format!("{field}.{name}"), problem));
        }
    }
    let set = [&http.path_exact, &http.path_prefix, &http.path_regex]
        .iter()
        .filter(|p| !p.is_empty())
        .count();
    if set > 1 {
        return Err(Error::invalid(field, Problem::SeveralPaths));
    }
    check_regex(&format!("{field}.PathRegex"), &http.path_regex)?;
    Ok(set)
}

fn validate_header(field: &str, hdr: &HeaderPermission) -> Result<()> {
    if hdr.name.is_empty() {
        return Err(Error::invalid(field, Problem::HeaderNameMissing));
    }
    let set = [
        hdr.present,
        !hdr.exact.is_empty(),
        !hdr.regex.is_empty(),
        !hdr.prefix.is_empty(),
        !hdr.suffix.is_empty(),
        !hdr.contains.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        return Err(Error::invalid(field, Problem::HeaderMatchCount));
    }
    check_regex(&format!("{field}.Regex"), &hdr.regex)
}

fn validate_methods(field: &str, methods: &[String]) -> Result<()> {
    let mut seen = HashSet::new();
    for m in methods {
        if !METHODS.contains(&m.as_str()) {
            let problem = Problem::InvalidMethod { method: m.clone() };
            return Err(Error::invalid(field, problem));
        }
        if !seen.insert(m.as_str()) {
            let problem = Problem::DuplicateMethod { method: m.clone() };
            return Err(Error::invalid(field, problem));
        }
    }
    Ok(())
}

/// An empty pattern means "not set"; otherwise it must compile.
fn check_regex(field: &str, pattern: &str) -> Result<()> {
    if pattern.is_empty() {
        return Ok(());
    }
    match regex::Regex::new(pattern) {
        Ok(_) => Ok(()),
        Err(e) => {
            let reason = e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned();
            Err(Error::invalid(field, Problem::BadRegex { reason }))
        }
    }
}
