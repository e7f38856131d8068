//! service-router matches → Envoy route matches.

use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, QueryParameterMatcher, RouteMatch, header_matcher, query_parameter_matcher,
    route_match,
};
use envoy_types::pb::envoy::r#type::matcher::v3::StringMatcher;
use skein_config_entry::{
    HttpHeaderMatch, HttpQueryParamMatch, ServiceRouteHttpMatch, ServiceRouteMatch,
};

use crate::resources::{proto, rbac};

/// The route match of a chain route; no criteria matches every path.
pub(crate) fn route_match(m: Option<&ServiceRouteMatch>) -> RouteMatch {
    let Some(http) = m.and_then(|m| m.http.as_ref()) else {
        return proto::prefix_match("/");
    };
    let mut out = RouteMatch {
        path_specifier: Some(path(http)),
        headers: http.header.iter().filter_map(header).collect(),
        query_parameters: http.query_param.iter().filter_map(query_param).collect(),
        ..RouteMatch::default()
    };
    if !http.methods.is_empty() {
        out.headers.push(rbac::methods_header(&http.methods));
    }
    out
}

fn path(http: &ServiceRouteHttpMatch) -> route_match::PathSpecifier {
    use route_match::PathSpecifier::{Path, Prefix, SafeRegex};
    if !http.path_exact.is_empty() {
        Path(http.path_exact.clone())
    } else if !http.path_prefix.is_empty() {
        Prefix(http.path_prefix.clone())
    } else if !http.path_regex.is_empty() {
        SafeRegex(proto::safe_regex(&http.path_regex))
    } else {
        Prefix("/".to_owned())
    }
}

/// A header criterion; `None` when it sets no match kind.
fn header(h: &HttpHeaderMatch) -> Option<HeaderMatcher> {
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

fn header_string(h: &HttpHeaderMatch) -> Option<StringMatcher> {
    if !h.exact.is_empty() {
        Some(proto::exact(&h.exact, false))
    } else if !h.regex.is_empty() {
        Some(proto::regex(&h.regex))
    } else if !h.prefix.is_empty() {
        Some(proto::prefix(&h.prefix, false))
    } else if !h.suffix.is_empty() {
        Some(proto::suffix(&h.suffix, false))
    } else {
        None
    }
}

/// A query parameter criterion; `None` when it sets no match kind.
fn query_param(q: &HttpQueryParamMatch) -> Option<QueryParameterMatcher> {
    use query_parameter_matcher::QueryParameterMatchSpecifier::{PresentMatch, StringMatch};
    let specifier = if !q.exact.is_empty() {
        StringMatch(proto::exact(&q.exact, false))
    } else if !q.regex.is_empty() {
        StringMatch(proto::regex(&q.regex))
    } else if q.present {
        PresentMatch(true)
    } else {
        return None;
    };
    Some(QueryParameterMatcher {
        name: q.name.clone(),
        query_parameter_match_specifier: Some(specifier),
    })
}
