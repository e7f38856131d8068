//! A minimal client of the agent's HTTP API v1 (plain HTTP, blocking).
//!
//! It resolves the agent address, token and datacenter from the common HTTP
//! flags and the environment, adds `?dc=` (and `?stale` on reads), sends the
//! token as `X-Consul-Token`, and returns status, headers and body.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::flags::{FlagSet, Parsed};

/// The agent address used when neither a flag nor the environment gives one.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:8500";

/// Query parameters of one request, in any order (they are sent sorted).
pub(crate) type Query = Vec<(&'static str, String)>;

/// A client bound to one agent, token and datacenter.
#[derive(Debug)]
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    datacenter: Option<String>,
    stale: bool,
    agent: ureq::Agent,
}

/// A response of any status.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// The HTTP status code.
    pub(crate) status: u16,
    /// The response headers (names lower-case).
    pub(crate) headers: Vec<(String, String)>,
    /// The raw body.
    pub(crate) body: Vec<u8>,
}

/// Adds the flags every agent-talking command accepts.
pub(crate) fn add_flags(fs: FlagSet) -> FlagSet {
    fs.group("HTTP API Options")
        .string(
            "http-addr",
            "",
            "The address and port of the skein HTTP agent. The value can be an IP \
             address or DNS address, but it must also include the port. This can also \
             be specified via the SKEIN_HTTP_ADDR or CONSUL_HTTP_ADDR environment \
             variable. The default value is http://127.0.0.1:8500. Only the http \
             scheme is supported.",
        )
        .string(
            "token",
            "",
            "ACL token to use in the request. This can also be specified via the \
             SKEIN_HTTP_TOKEN or CONSUL_HTTP_TOKEN environment variable. If unspecified, \
             the query will default to the token of the agent.",
        )
        .string(
            "token-file",
            "",
            "File containing the ACL token to use in the request instead of one \
             specified via the -token argument.",
        )
        .string(
            "datacenter",
            "",
            "Name of the datacenter to query. If unspecified, this will default to the \
             datacenter of the queried agent.",
        )
        .bool(
            "stale",
            "Permit any server in the datacenter to service the request, even if it is \
             not the leader. Only read requests honour this flag.",
        )
        .group("Command Options")
}

/// Turns `host:port` or `http://host:port` into a base URL without a trailing `/`.
pub(crate) fn base_url(addr: &str) -> Result<String> {
    let addr = addr.trim().trim_end_matches('/');
    let lower = addr.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(Error::Address(format!(
            "HTTPS address {addr:?} is not supported: this client speaks plain HTTP \
             only (TLS is not implemented yet); use an http:// address"
        )));
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        return if rest.is_empty() {
            Err(Error::Address(format!("invalid address {addr:?}")))
        } else {
            Ok(format!("http://{}", &addr["http://".len()..]))
        };
    }
    if lower.contains("://") {
        return Err(Error::Address(format!(
            "unsupported address {addr:?}: only http:// addresses are supported"
        )));
    }
    if addr.is_empty() {
        return Err(Error::Address("empty HTTP address".to_owned()));
    }
    Ok(format!("http://{addr}"))
}

/// Escapes a URL path like Go's `url.URL.EscapedPath` (keeps `/`).
pub(crate) fn escape_path(path: &str) -> String {
    escape(path, |b| b"-_.~$&+,/:;=@".contains(&b), false)
}

/// Encodes query parameters like Go's `url.Values.Encode` (sorted by key).
pub(crate) fn encode_query(query: &[(&str, String)]) -> String {
    let mut pairs: Vec<&(&str, String)> = query.iter().collect();
    pairs.sort_by_key(|(k, _)| *k);
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape_query(k), escape_query(v)))
        .collect();
    parts.join("&")
}

fn escape_query(s: &str) -> String {
    escape(s, |b| b"-_.~".contains(&b), true)
}

fn escape(s: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep(b) {
            out.push(char::from(b));
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// === impl Client ===

impl Client {
    /// Builds a client from the HTTP flags, falling back to the environment.
    pub(crate) fn from_flags(flags: &Parsed, env: &Env<'_>) -> Result<Self> {
        let addr = non_empty(flags.str("http-addr"))
            .or_else(|| env.var("SKEIN_HTTP_ADDR"))
            .or_else(|| env.var("CONSUL_HTTP_ADDR"))
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let token = match non_empty(flags.str("token")) {
            Some(t) => Some(t),
            None => token_from_file(flags.str("token-file"))?,
        };
        let token = token
            .or_else(|| env.var("SKEIN_HTTP_TOKEN"))
            .or_else(|| env.var("CONSUL_HTTP_TOKEN"));
        Ok(Self {
            base: base_url(&addr)?,
            token,
            datacenter: non_empty(flags.str("datacenter")),
            stale: flags.bool("stale"),
            agent: new_agent(),
        })
    }

    /// The ACL token sent with every request, if any.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET path?query` (adds `dc` and, with `-stale`, `stale`).
    pub(crate) fn get(&self, path: &str, query: Query) -> Result<Response> {
        let mut query = query;
        if self.stale {
            query.push(("stale", String::new()));
        }
        let url = self.url(path, query);
        let request = self.with_token(self.agent.get(&url));
        read_response("Get", &url, request.call())
    }

    /// `GET path?query` whose body is read as it arrives (a stream such as
    /// `/v1/agent/monitor`). A non-2xx answer is read whole and returned as
    /// Consul's `Unexpected response code` error. `-stale` does not apply.
    pub(crate) fn get_stream(&self, path: &str, query: Query) -> Result<impl BufRead + use<>> {
        let url = self.url(path, query);
        let request = self.with_token(self.agent.get(&url));
        let response = request.call().map_err(|e| transport("Get", &url, e))?;
        if response.status().is_success() {
            return Ok(BufReader::new(response.into_body().into_reader()));
        }
        Err(read_response("Get", &url, Ok(response))?.status_error())
    }

    /// `PUT path?query` with `body` as the raw request body.
    pub(crate) fn put(&self, path: &str, query: Query, body: &[u8]) -> Result<Response> {
        let url = self.url(path, query);
        let request = self.with_token(self.agent.put(&url));
        read_response("Put", &url, request.send(body))
    }

    /// `POST path?query` with `body` as the raw request body.
    pub(crate) fn post(&self, path: &str, query: Query, body: &[u8]) -> Result<Response> {
        let url = self.url(path, query);
        let request = self.with_token(self.agent.post(&url));
        read_response("Post", &url, request.send(body))
    }

    /// `DELETE path?query`.
    pub(crate) fn delete(&self, path: &str, query: Query) -> Result<Response> {
        let url = self.url(path, query);
        let request = self.with_token(self.agent.delete(&url));
        read_response("Delete", &url, request.call())
    }

    /// `DELETE path?query` with `body` (`/v1/operator/keyring` takes one).
    pub(crate) fn delete_with_body(
        &self,
        path: &str,
        query: Query,
        body: &[u8],
    ) -> Result<Response> {
        let url = self.url(path, query);
        let request = self.with_token(self.agent.delete(&url).force_send_body());
        read_response("Delete", &url, request.send(body))
    }

    fn url(&self, path: &str, mut query: Query) -> String {
        if let Some(dc) = &self.datacenter {
            query.push(("dc", dc.clone()));
        }
        let mut url = format!("{}{}", self.base, escape_path(path));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(&query));
        }
        url
    }

    fn with_token<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("X-Consul-Token", token),
            None => request,
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn token_from_file(path: &str) -> Result<Option<String>> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("Error loading token file {path}"), e))?;
    Ok(non_empty(text.trim()))
}

fn new_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(10)))
        .user_agent(concat!("skein/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

fn read_response(
    method: &'static str,
    url: &str,
    result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response> {
    let transport = |e| transport(method, url, e);
    let mut response = result.map_err(transport)?;
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(transport)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn transport(method: &'static str, url: &str, e: ureq::Error) -> Error {
    Error::Transport {
        method,
        url: url.to_owned(),
        message: e.to_string(),
    }
}

// === impl Response ===

impl Response {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `X-Consul-Index` header, 0 when absent or malformed.
    pub(crate) fn index(&self) -> u64 {
        self.header("X-Consul-Index")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Fails with Consul's `Unexpected response code` unless the status is 2xx.
    pub(crate) fn require_ok(self) -> Result<Self> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(self.status_error())
        }
    }

    /// Consul's `Unexpected response code: <status> (<trimmed body>)`.
    fn status_error(&self) -> Error {
        Error::Status {
            code: self.status,
            body: String::from_utf8_lossy(&self.body).trim().to_owned(),
        }
    }

    /// Like [`Response::require_ok`], but a 404 yields `None` (Consul's `requireNotFoundOrOK`).
    pub(crate) fn require_ok_or_not_found(self) -> Result<Option<Self>> {
        if self.status == 404 {
            Ok(None)
        } else {
            self.require_ok().map(Some)
        }
    }

    /// Decodes a JSON body.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::json("Failed to decode response", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_accepts_host_port_and_http() {
        assert_eq!(base_url("127.0.0.1:8500").unwrap(), "http://127.0.0.1:8500");
        assert_eq!(base_url("http://h:1/").unwrap(), "http://h:1");
        assert_eq!(base_url("HTTP://h:1").unwrap(), "http://h:1");
    }

    #[test]
    fn base_url_rejects_tls_and_other_schemes() {
        let e = base_url("https://h:8501").unwrap_err().to_string();
        assert!(e.contains("TLS is not implemented"), "{e}");
        assert!(base_url("unix:///tmp/s").is_err());
        assert!(base_url("").is_err());
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            escape_path("/v1/kv/a b/c?d#e%"),
            "/v1/kv/a%20b/c%3Fd%23e%25"
        );
        assert_eq!(escape_path("/v1/kv/x:y@z=1"), "/v1/kv/x:y@z=1");
        let q = vec![
            ("separator", "/".to_owned()),
            ("dc", "d c".to_owned()),
            ("keys", String::new()),
        ];
        assert_eq!(encode_query(&q), "dc=d+c&keys=&separator=%2F");
    }

    #[test]
    fn env_and_flags_resolve_in_order() {
        let lookup = |k: &str| match k {
            "SKEIN_HTTP_ADDR" => Some("10.0.0.1:1".to_owned()),
            "CONSUL_HTTP_ADDR" => Some("10.0.0.2:2".to_owned()),
            "CONSUL_HTTP_TOKEN" => Some("ct".to_owned()),
            _ => None,
        };
        let env = Env::new(&lookup);
        let fs = add_flags(FlagSet::new());
        let c = Client::from_flags(&fs.parse(&[]).unwrap(), &env).unwrap();
        assert_eq!(c.base, "http://10.0.0.1:1");
        assert_eq!(c.token.as_deref(), Some("ct"));
        let args = ["-http-addr=h:3".to_owned(), "-token=t".to_owned()];
        let c = Client::from_flags(&fs.parse(&args).unwrap(), &env).unwrap();
        assert_eq!(c.base, "http://h:3");
        assert_eq!(c.token.as_deref(), Some("t"));
        let none = |_: &str| None;
        let c = Client::from_flags(&fs.parse(&[]).unwrap(), &Env::new(&none)).unwrap();
        assert_eq!(c.base, "http://127.0.0.1:8500");
        assert_eq!(c.token, None);
    }

    #[test]
    fn non_ok_status_becomes_consul_error() {
        let r = Response {
            status: 500,
            headers: vec![("x-consul-index".into(), "7".into())],
            body: b"No path to datacenter\n".to_vec(),
        };
        assert_eq!(r.index(), 7);
        let e = r.require_ok().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 500 (No path to datacenter)"
        );
    }
}
