//! Request options common to every endpoint: token, datacenter, blocking
//! parameters, consistency, filter.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use skein_types::wire;

use crate::{ApiError, ApiState, Consistency};

/// Decoded query-string pairs (`+` is a space, repeats kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

// === impl Params ===

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query.map(form_urlencoded_pairs).unwrap_or_default();
        Self(pairs)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean flag: present counts as true unless it says false/0.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0"))
    }

    /// A number; absent is `None`, garbage is a 400 naming the parameter.
    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("Invalid {name} parameter: {v:?}"))),
        }
    }
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match hex_byte(&bytes[i + 1..i + 3]) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    std::str::from_utf8(pair)
        .ok()
        .and_then(|h| u8::from_str_radix(h, 16).ok())
}

/// Everything an endpoint needs to know about the request besides its body.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    /// The request path (without the query).
    pub(crate) path: String,
    pub(crate) params: Params,
    pub(crate) token: String,
    pub(crate) index: u64,
    pub(crate) wait: Duration,
    pub(crate) consistency: Consistency,
}

impl FromRequestParts<ApiState> for Req {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let params = Params::parse(parts.uri.query());
        check_datacenter(&params, &state.agent.datacenter)?;
        let token = token_of(&parts.headers, &params);
        let index = params
            .u64("index")
            .map_err(|_| ApiError::bad("Invalid index"))?
            .unwrap_or(0);
        let wait = wait_of(&params, state)?;
        let consistency = consistency_of(&params)?;
        // Parsed into fields; a parked query should not carry them twice.
        let mut params = params;
        params.0.retain(|(k, _)| k != "index" && k != "wait");
        params.0.shrink_to_fit();
        Ok(Self {
            path: parts.uri.path().to_owned(),
            params,
            token,
            index,
            wait,
            consistency,
        })
    }
}

// === impl Req ===

impl Req {
    /// What makes two reads identical: path, token and every parameter but
    /// the blocking ones (`index` and `wait` are not kept in `params`).
    pub(crate) fn share_key(&self) -> String {
        let mut key = self.path.clone();
        for (k, v) in &self.params.0 {
            key.push_str(if key.len() == self.path.len() {
                "?"
            } else {
                "&"
            });
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        key.push_str(" token=");
        key.push_str(&self.token);
        key
    }
}

fn check_datacenter(params: &Params, local: &str) -> Result<(), ApiError> {
    match params.get("dc") {
        Some(dc) if !dc.is_empty() && dc != local => {
            Err(ApiError::Internal(wire::NO_PATH_TO_DC.into()))
        }
        _ => Ok(()),
    }
}

/// `X-Consul-Token`, then `Authorization: Bearer`, then `?token=`.
fn token_of(headers: &HeaderMap, params: &Params) -> String {
    if let Some(t) = headers.get("x-consul-token").and_then(|v| v.to_str().ok()) {
        return t.trim().to_owned();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(t) = bearer {
        return t.trim().to_owned();
    }
    params.get("token").unwrap_or_default().to_owned()
}

fn wait_of(params: &Params, state: &ApiState) -> Result<Duration, ApiError> {
    let cfg = &state.config;
    let wait = match params.get("wait") {
        None | Some("") => cfg.default_query_time,
        Some(w) => {
            skein_config::parse_go_duration(w).map_err(|_| ApiError::bad("Invalid wait time"))?
        }
    };
    Ok(wait.min(cfg.max_query_time))
}

fn consistency_of(params: &Params) -> Result<Consistency, ApiError> {
    match (params.flag("stale"), params.flag("consistent")) {
        (true, true) => Err(ApiError::bad(
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        )),
        (true, false) => Ok(Consistency::Stale),
        (false, true) => Ok(Consistency::Consistent),
        (false, false) => Ok(Consistency::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_plus_and_percent() {
        let p = Params::parse(Some("filter=Service+%3D%3D+%22a%22&recurse&tag=a&tag=b"));
        assert_eq!(p.get("filter"), Some("Service == \"a\""));
        assert!(p.flag("recurse"));
        assert_eq!(p.all("tag"), vec!["a", "b"]);
    }
}
