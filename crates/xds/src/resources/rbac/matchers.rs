//! RBAC principals (who) and permissions (what) as Envoy protobufs.

use envoy_types::pb::envoy::config::rbac::v3::{Permission, Principal, permission, principal};
use envoy_types::pb::envoy::config::route::v3::{HeaderMatcher, header_matcher};
use envoy_types::pb::envoy::r#type::matcher::v3::{PathMatcher, StringMatcher, path_matcher};
use skein_intention::{HeaderPermission, HttpPermission, IntentionPermission};

use super::intentions::{Rule, Source};
use crate::resources::{names, proto};

/// Matches any namespace, service or datacenter path segment.
const ANY_SEGMENT: &str = "[^/]+";

/// The principal of a rule: its source, minus the carved-out sources.
pub(crate) fn rule_principal(trust_domain: &str, rule: &Rule) -> Principal {
    let source = source_principal(trust_domain, &rule.source);
    if rule.not_sources.is_empty() {
        return source;
    }
    let mut ids = vec![source];
    for not in &rule.not_sources {
        ids.push(Principal {
            identifier: Some(principal::Identifier::NotId(Box::new(source_principal(
                trust_domain,
                not,
            )))),
        });
    }
    Principal {
        identifier: Some(principal::Identifier::AndIds(principal::Set { ids })),
    }
}

/// The client certificate's URI SAN is the source's SPIFFE ID (any
/// datacenter; wildcards match any segment).
pub(crate) fn source_principal(trust_domain: &str, source: &Source) -> Principal {
    Principal {
        identifier: Some(principal::Identifier::Authenticated(
            principal::Authenticated {
                principal_name: Some(proto::regex(&spiffe_pattern(trust_domain, source))),
            },
        )),
    }
}

/// `^spiffe://<td>[/ap/<p>]/ns/<ns>/dc/[^/]+/svc/<svc>$`.
pub(crate) fn spiffe_pattern(trust_domain: &str, source: &Source) -> String {
    let segment = |v: &str| {
        if v == "*" {
            ANY_SEGMENT.to_owned()
        } else {
            v.to_owned()
        }
    };
    format!(
        "^spiffe://{trust_domain}{}/ns/{}/dc/{ANY_SEGMENT}/svc/{}$",
        names::partition_segment(&source.partition),
        segment(&source.namespace),
        segment(&source.name)
    )
}

/// Matches everything.
pub(crate) fn any_permission() -> Permission {
    Permission {
        rule: Some(permission::Rule::Any(true)),
    }
}

/// An intention permission's HTTP criteria, all of which must hold.
pub(crate) fn permission(p: &IntentionPermission) -> Permission {
    let Some(http) = &p.http else {
        return any_permission();
    };
    let mut parts: Vec<Permission> = path(http).into_iter().collect();
    parts.extend(http.header.iter().filter_map(header).map(header_permission));
    if !http.methods.is_empty() {
        parts.push(header_permission(methods(&http.methods)));
    }
    and(parts)
}

/// `perm AND NOT n1 AND NOT n2 …`.
pub(crate) fn and_not(perm: Permission, nots: Vec<Permission>) -> Permission {
    if nots.is_empty() {
        return perm;
    }
    let mut parts = vec![perm];
    parts.extend(nots.into_iter().map(|n| Permission {
        rule: Some(permission::Rule::NotRule(Box::new(n))),
    }));
    and(parts)
}

/// The `:method` header against `M1|M2|…`.
pub(crate) fn methods(methods: &[String]) -> HeaderMatcher {
    HeaderMatcher {
        name: ":method".to_owned(),
        header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(
            proto::regex(&methods.join("|")),
        )),
        ..HeaderMatcher::default()
    }
}

fn and(parts: Vec<Permission>) -> Permission {
    match parts.len() {
        0 => any_permission(),
        1 => parts.into_iter().next().unwrap_or_else(any_permission),
        _ => Permission {
            rule: Some(permission::Rule::AndRules(permission::Set { rules: parts })),
        },
    }
}

fn path(http: &HttpPermission) -> Option<Permission> {
    let matcher = if !http.path_exact.is_empty() {
        proto::exact(&http.path_exact, false)
    } else if !http.path_prefix.is_empty() {
        proto::prefix(&http.path_prefix, false)
    } else if !http.path_regex.is_empty() {
        proto::regex(&http.path_regex)
    } else {
        return None;
    };
    Some(Permission {
        rule: Some(permission::Rule::UrlPath(PathMatcher {
            rule: Some(path_matcher::Rule::Path(matcher)),
        })),
    })
}

fn header_permission(h: HeaderMatcher) -> Permission {
    Permission {
        rule: Some(permission::Rule::Header(h)),
    }
}

/// A header criterion; `None` when it sets no match kind.
fn header(h: &HeaderPermission) -> Option<HeaderMatcher> {
    use header_matcher::HeaderMatchSpecifier::{PresentMatch, StringMatch};
    let specifier = match header_string(h) {
        Some(m) => StringMatch(m),
        None if h.present => PresentMatch(true),
        None => return None,
    };
    Some(HeaderMatcher {
        name: h.name.clone(),
        invert_match: h.invert,
        header_match_specifier: Some(specifier),
        ..HeaderMatcher::default()
    })
}

fn header_string(h: &HeaderPermission) -> Option<StringMatcher> {
    let ic = h.ignore_case;
    if !h.exact.is_empty() {
        Some(proto::exact(&h.exact, ic))
    } else if !h.regex.is_empty() {
        Some(proto::regex(&h.regex))
    } else if !h.prefix.is_empty() {
        Some(proto::prefix(&h.prefix, ic))
    } else if !h.suffix.is_empty() {
        Some(proto::suffix(&h.suffix, ic))
    } else if !h.contains.is_empty() {
        Some(proto::contains(&h.contains, ic))
    } else {
        None
    }
}
