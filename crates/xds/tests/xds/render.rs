//! Readable, stable JSON for prost messages, from their `Debug` output.
//!
//! envoy-types has neither serde nor reflection, but prost's `Debug` is
//! regular: `Name { field: value, .. }`, `Some(..)`, oneof variants as
//! `Variant(..)`, enums by variant name, maps as `{k: v}`. This parses that
//! text into a tree and renders it close to Envoy's own JSON form:
//!
//! - field names stay snake_case; oneofs are flattened to the variant's
//!   field (`port_specifier: Some(PortValue(1))` → `"port_value": 1`);
//! - unset (`None`) fields and proto3 defaults (`""`, `0`, `false`, `[]`)
//!   are left out, explicitly set messages are kept even when empty (`{}`);
//! - enums are upper snake case (`RoundRobin` → `"ROUND_ROBIN"`);
//! - durations are `"5s"`, wrappers (`UInt32Value`, `BoolValue`, ..) their
//!   value, maps are sorted by key;
//! - `Any` is decoded (for the type URLs in [`decode_any`]) and rendered
//!   with an `"@type"` key first.

use envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog;
use envoy_types::pb::envoy::extensions::access_loggers::stream::v3::StdoutAccessLog;
use std::fmt::Write as _;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3::ClusterConfig;
use envoy_types::pb::envoy::extensions::filters::http::grpc_http1_bridge::v3::Config as GrpcHttp1Bridge;
use envoy_types::pb::envoy::extensions::filters::http::grpc_stats::v3::FilterConfig as GrpcStats;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac as HttpRbac;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::filters::network::rbac::v3::Rbac as NetworkRbac;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    DownstreamTlsContext, UpstreamTlsContext,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};

/// Messages with no fields print as a bare name, like enum values.
const EMPTY_MESSAGES: &[&str] = &["AggregatedConfigSource", "Empty", "GoogleRe2"];

/// Enum fields at their proto3 zero value that say nothing here, left out
/// as proto3 JSON leaves them out. Zero values that carry meaning in a
/// review (`action: ALLOW`, `lb_policy: ROUND_ROBIN`, `health_status: HEALTHY`,
/// `append_action`) are kept.
const ZERO_ENUMS: &[(&str, &str)] = &[
    ("cluster_not_found_response_code", "SERVICE_UNAVAILABLE"),
    ("codec_type", "AUTO"),
    ("dns_lookup_family", "AUTO"),
    ("drain_type", "DEFAULT"),
    ("enforcement_type", "ONE_TIME_ON_FIRST_BYTE"),
    ("format", "TEXT"),
    ("forward_client_cert_details", "SANITIZE"),
    ("hash_function", "XX_HASH"),
    ("health_status", "UNKNOWN"),
    ("internal_redirect_action", "PASS_THROUGH_INTERNAL_REDIRECT"),
    ("ocsp_staple_policy", "LENIENT_STAPLING"),
    (
        "path_with_escaped_slashes_action",
        "IMPLEMENTATION_SPECIFIC_DEFAULT",
    ),
    ("priority", "DEFAULT"),
    ("protocol", "TCP"),
    ("protocol_selection", "USE_CONFIGURED_PROTOCOL"),
    ("proxy_protocol_tlv_merge_policy", "ADD_IF_ABSENT"),
    ("server_header_transformation", "OVERWRITE"),
    ("tls_maximum_protocol_version", "TLS_AUTO"),
    ("tls_minimum_protocol_version", "TLS_AUTO"),
    ("trust_chain_verification", "VERIFY_TRUST_CHAIN"),
    ("upstream_connect_mode", "IMMEDIATE"),
];

/// Wrapper messages rendered as their value.
const WRAPPERS: &[&str] = &[
    "DoubleValue",
    "FloatValue",
    "Int64Value",
    "UInt64Value",
    "Int32Value",
    "UInt32Value",
    "BoolValue",
    "StringValue",
    "BytesValue",
];

/// The `Debug` text of the message packed in `any`, for the types the
/// resources use; panics on any other type (add it here).
pub(crate) fn decode_any(any: &Any) -> String {
    macro_rules! decode {
        ($($t:ty),* $(,)?) => {
            $(if any.type_url == <$t>::type_url() {
                let msg = <$t>::decode(any.value.as_slice())
                    .unwrap_or_else(|e| panic!("decoding {}: {e}", any.type_url));
                return format!("{msg:?}");
            })*
        };
    }
    decode!(
        Listener,
        Cluster,
        ClusterLoadAssignment,
        RouteConfiguration,
        NetworkRbac,
        HttpRbac,
        TcpProxy,
        HttpConnectionManager,
        Router,
        GrpcStats,
        GrpcHttp1Bridge,
        DownstreamTlsContext,
        UpstreamTlsContext,
        HttpProtocolOptions,
        ClusterConfig,
        FileAccessLog,
        StdoutAccessLog,
    );
    panic!(
        "render: no decoder for {}; add it to decode_any",
        any.type_url
    )
}

/// Pretty JSON for the message packed in `any`.
pub(crate) fn any_to_json(any: &Any) -> Json {
    let text = decode_any(any);
    let tree = Parser::new(&text).value();
    let mut fields = vec![("@type".to_owned(), Json::Str(any.type_url.clone()))];
    if let Some(Json::Obj(rest)) = explicit(&tree) {
        fields.extend(rest);
    }
    Json::Obj(fields)
}

/// A JSON value with ordered object keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// `true` / `false`.
    Bool(bool),
    /// A number, as printed.
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in order.
    Obj(Vec<(String, Json)>),
}

/// A parsed `Debug` value.
#[derive(Debug, Clone)]
enum Node {
    Struct(String, Vec<(String, Node)>),
    Tuple(String, Vec<Node>),
    Ident(String),
    Str(String),
    Num(String),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

// === impl Json ===

impl Json {
    /// Two-space indented JSON text with a final newline.
    pub(crate) fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => out.push_str(&serde_json::to_string(s).expect("string encodes")),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Obj(items) if items.is_empty() => out.push_str("{}"),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 1);
                    item.write(out, indent + 1);
                }
                out.push('\n');
                pad(out, indent);
                out.push(']');
            }
            Json::Obj(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 1);
                    let _ = write!(out, "{}: ", serde_json::to_string(k).expect("key encodes"));
                    v.write(out, indent + 1);
                }
                out.push('\n');
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.push_str(&"  ".repeat(indent));
}

// === rendering ===

/// A value that was set: rendered even when it is a default.
fn explicit(node: &Node) -> Option<Json> {
    Some(match node {
        Node::Ident(id) => ident(id),
        Node::Str(s) => Json::Str(s.clone()),
        Node::Num(n) => Json::Num(n.clone()),
        Node::List(items) => Json::Arr(items.iter().filter_map(explicit).collect()),
        Node::Map(entries) => map(entries),
        Node::Tuple(name, items) if name == "Some" => return items.first().and_then(explicit),
        Node::Tuple(_, items) => return items.first().and_then(explicit),
        Node::Struct(name, fields) => structure(name, fields),
    })
}

/// A plain proto3 field: left out when it holds the default.
fn implicit(node: &Node) -> Option<Json> {
    match node {
        Node::Ident(id) if id == "None" || id == "false" => None,
        Node::Str(s) if s.is_empty() => None,
        Node::Num(n) if n.parse::<f64>().is_ok_and(|f| f == 0.0) => None,
        Node::List(items) if items.is_empty() => None,
        Node::Map(entries) if entries.is_empty() => None,
        other => explicit(other),
    }
}

fn ident(id: &str) -> Json {
    match id {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        _ if EMPTY_MESSAGES.contains(&id) => Json::Obj(Vec::new()),
        _ => Json::Str(upper_snake(id)),
    }
}

fn map(entries: &[(Node, Node)]) -> Json {
    let mut items: Vec<(String, Json)> = entries
        .iter()
        .filter_map(|(k, v)| {
            let key = match k {
                Node::Str(s) | Node::Num(s) | Node::Ident(s) => s.clone(),
                other => format!("{other:?}"),
            };
            explicit(v).map(|v| (key, v))
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Json::Obj(items)
}

fn structure(name: &str, fields: &[(String, Node)]) -> Json {
    if name == "Duration" {
        return duration(fields);
    }
    if name == "Any" {
        return any_node(fields);
    }
    if WRAPPERS.contains(&name) {
        let value = fields.iter().find(|(k, _)| k == "value").map(|(_, v)| v);
        return value.and_then(explicit).unwrap_or(Json::Obj(Vec::new()));
    }
    Json::Obj(fields.iter().filter_map(|(k, v)| field(k, v)).collect())
}

/// A field; `Some(Variant(x))` is a oneof, named after the variant.
fn field(key: &str, value: &Node) -> Option<(String, Json)> {
    let key = key.trim_start_matches("r#");
    if let Node::Tuple(some, items) = value
        && some == "Some"
    {
        let inner = items.first()?;
        if let Node::Tuple(variant, payload) = inner {
            let json = payload.first().and_then(explicit)?;
            return Some((snake(variant), json));
        }
        return explicit(inner).map(|j| (key.to_owned(), j));
    }
    let json = implicit(value)?;
    if let Json::Str(name) = &json
        && matches!(value, Node::Ident(_))
        && ZERO_ENUMS.contains(&(key, name.as_str()))
    {
        return None;
    }
    Some((key.to_owned(), json))
}

fn duration(fields: &[(String, Node)]) -> Json {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| match v {
                Node::Num(n) => n.parse::<i64>().ok(),
                _ => None,
            })
            .unwrap_or(0)
    };
    let (secs, nanos) = (get("seconds"), get("nanos"));
    if nanos == 0 {
        Json::Str(format!("{secs}s"))
    } else {
        let frac = format!("{nanos:09}");
        Json::Str(format!("{secs}.{}s", frac.trim_end_matches('0')))
    }
}

fn any_node(fields: &[(String, Node)]) -> Json {
    let type_url = fields.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("type_url", Node::Str(s)) => Some(s.clone()),
        _ => None,
    });
    let bytes: Vec<u8> = fields
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("value", Node::List(items)) => Some(
                items
                    .iter()
                    .filter_map(|n| match n {
                        Node::Num(b) => b.parse().ok(),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    any_to_json(&Any {
        type_url: type_url.unwrap_or_default(),
        value: bytes,
    })
}

/// `RoundRobin` → `ROUND_ROBIN`, `Http11` → `HTTP11`.
fn upper_snake(id: &str) -> String {
    snake(id).to_uppercase()
}

/// `PortValue` → `port_value`, `Http2ProtocolOptions` → `http2_protocol_options`.
fn snake(id: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in id.chars() {
        if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            out.push('_');
        }
        out.extend(c.to_lowercase());
        prev = Some(c);
    }
    out
}

// === parsing ===

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn peek(&mut self) -> char {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
        self.chars.get(self.pos).copied().unwrap_or('\0')
    }

    fn expect(&mut self, c: char) {
        let got = self.peek();
        assert_eq!(got, c, "render: expected {c:?} at {}", self.pos);
        self.pos += 1;
    }

    fn value(&mut self) -> Node {
        match self.peek() {
            '"' => Node::Str(self.string()),
            '[' => Node::List(self.seq('[', ']', Parser::value)),
            '{' => Node::Map(self.seq('{', '}', Parser::entry)),
            c if c == '-' || c.is_ascii_digit() => Node::Num(self.number()),
            _ => self.named(),
        }
    }

    fn named(&mut self) -> Node {
        let name = self.ident();
        match self.peek() {
            '{' => Node::Struct(name, self.seq('{', '}', Parser::field)),
            '(' => Node::Tuple(name, self.seq('(', ')', Parser::value)),
            _ => Node::Ident(name),
        }
    }

    /// `open item, item, … close`, a trailing comma allowed.
    fn seq<T>(&mut self, open: char, close: char, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        self.expect(open);
        let mut out = Vec::new();
        loop {
            if self.peek() == close {
                self.pos += 1;
                return out;
            }
            out.push(item(self));
            if self.peek() == ',' {
                self.pos += 1;
            }
        }
    }

    fn field(&mut self) -> (String, Node) {
        let name = self.ident();
        self.expect(':');
        (name, self.value())
    }

    fn entry(&mut self) -> (Node, Node) {
        let key = self.value();
        self.expect(':');
        (key, self.value())
    }

    fn ident(&mut self) -> String {
        self.peek();
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '#')
        {
            self.pos += 1;
        }
        assert!(self.pos > start, "render: expected a name at {start}");
        self.chars[start..self.pos].iter().collect()
    }

    fn number(&mut self) -> String {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A Rust-escaped string literal.
    fn string(&mut self) -> String {
        self.expect('"');
        let mut out = String::new();
        loop {
            let c = self.chars[self.pos];
            self.pos += 1;
            match c {
                '"' => return out,
                '\\' => out.push(self.escape()),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> char {
        let c = self.chars[self.pos];
        self.pos += 1;
        match c {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '0' => '\0',
            'u' => {
                let end = self.chars[self.pos..]
                    .iter()
                    .position(|c| *c == '}')
                    .expect("render: unterminated \\u{..}");
                let hex: String = self.chars[self.pos + 1..self.pos + end].iter().collect();
                self.pos += end + 1;
                char::from_u32(u32::from_str_radix(&hex, 16).expect("hex escape"))
                    .expect("valid char")
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        let tree = Parser::new(text).value();
        explicit(&tree).map(|j| j.pretty()).unwrap_or_default()
    }

    #[test]
    fn flattens_oneofs_and_drops_defaults() {
        let text = r#"Address { address: Some(SocketAddress(SocketAddress { protocol: Tcp, address: "1.2.3.4", ipv4_compat: false, resolver_name: "", port_specifier: Some(PortValue(80)) })) }"#;
        let want = "{\n  \"socket_address\": {\n    \"address\": \"1.2.3.4\",\n    \"port_value\": 80\n  }\n}\n";
        assert_eq!(render(text), want);
    }

    #[test]
    fn durations_wrappers_and_escapes() {
        let text = r#"X { t: Some(Duration { seconds: 1, nanos: 250000000 }), w: Some(UInt32Value { value: 0 }), s: "a\"b\n\u{7f}", e: Some(AggregatedConfigSource), m: {"b": 1, "a": 2} }"#;
        let want = "{\n  \"t\": \"1.25s\",\n  \"w\": 0,\n  \"s\": \"a\\\"b\\n\u{7f}\",\n  \"e\": {},\n  \"m\": {\n    \"a\": 2,\n    \"b\": 1\n  }\n}\n";
        assert_eq!(render(text), want);
    }

    #[test]
    fn enum_names_become_upper_snake() {
        assert_eq!(upper_snake("ClusterProvided"), "CLUSTER_PROVIDED");
        assert_eq!(upper_snake("V3"), "V3");
        assert_eq!(snake("Http2ProtocolOptions"), "http2_protocol_options");
    }
}
