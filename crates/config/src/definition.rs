//! Service and check definitions, as clients send them to
//! `/v1/agent/service/register` and `/v1/agent/check/register` and as
//! config files write them (`services`, `checks`).
//!
//! Consul accepts PascalCase and snake_case keys alike; lookups here ignore
//! case and underscores. Durations are Go strings (`"10s"`) or nanoseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::parse_go_duration;

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckKind {
    /// Passes while the application keeps reporting within the TTL.
    Ttl(Duration),
    /// An HTTP request; 2xx passing, 429 warning, else critical.
    Http {
        /// URL.
        url: String,
        /// Method (default GET).
        method: String,
        /// Request headers.
        headers: BTreeMap<String, Vec<String>>,
        /// Request body.
        body: String,
        /// How an `https://` URL is verified.
        tls: CheckTls,
    },
    /// A TCP connect.
    Tcp(String),
    /// A command; exit 0 passing, 1 warning, else critical.
    Script(Vec<String>),
    /// gRPC health checking protocol.
    Grpc {
        /// `host:port[/service]`.
        target: String,
        /// TLS settings; `None` speaks plaintext HTTP/2.
        tls: Option<CheckTls>,
    },
    /// HTTP/2 PING.
    H2Ping {
        /// `host:port`.
        addr: String,
        /// TLS settings; `None` speaks plaintext HTTP/2.
        tls: Option<CheckTls>,
    },
    /// Mirrors another service's health.
    Alias {
        /// The service id.
        service: String,
        /// Its node (default: this agent's).
        node: String,
    },
    /// Status only changes through the API.
    Manual,
}

/// How a check verifies the TLS server it probes (`TLSSkipVerify`,
/// `TLSServerName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckTls {
    /// Accept any certificate.
    pub skip_verify: bool,
    /// The name to send in SNI and to verify; empty: the host of the target.
    pub server_name: String,
}

/// A check as registered with the agent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckDefinition {
    /// Check id (defaulted by the registration path).
    pub id: String,
    /// Name.
    pub name: String,
    /// Notes.
    pub notes: String,
    /// The service it belongs to (empty: node check).
    pub service_id: String,
    /// Initial status, if given.
    pub status: Option<String>,
    /// What it does.
    pub kind: CheckKind,
    /// Run interval.
    pub interval: Option<Duration>,
    /// Per-run timeout.
    pub timeout: Option<Duration>,
    /// Consecutive passes needed to turn passing.
    pub success_before_passing: u32,
    /// Consecutive failures before warning.
    pub failures_before_warning: u32,
    /// Consecutive failures before critical.
    pub failures_before_critical: u32,
    /// Deregister the service after being critical this long.
    pub deregister_critical_service_after: Option<Duration>,
    /// Largest output kept.
    pub output_max_size: usize,
    /// Interval as written (for rendering).
    pub interval_text: String,
    /// Timeout as written (for rendering).
    pub timeout_text: String,
}

/// A service as registered with the agent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServiceDefinition {
    /// Instance id (defaults to the name).
    pub id: String,
    /// Service name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Metadata.
    pub meta: BTreeMap<String, String>,
    /// Kind (`connect-proxy`, gateways) or empty.
    pub kind: String,
    /// Other fields kept as JSON: TaggedAddresses, Weights, Proxy, Connect,
    /// EnableTagOverride, Locality.
    pub extra: BTreeMap<String, Value>,
    /// Its checks.
    pub checks: Vec<CheckDefinition>,
}

/// Default cap on kept check output (Consul's 4 KiB).
pub const DEFAULT_OUTPUT_MAX_SIZE: usize = 4096;

/// Fields of a service definition kept as raw JSON.
const EXTRA_SERVICE_FIELDS: &[&str] = &[
    "TaggedAddresses",
    "Weights",
    "Proxy",
    "Connect",
    "EnableTagOverride",
    "Locality",
];

/// Looks a field up by Consul's PascalCase name or any case/underscore
/// variant (`ServiceID`, `service_id`, `serviceid`); null counts as absent.
pub fn json_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let want = name.to_ascii_lowercase();
    obj.iter()
        .find(|(k, _)| k.replace('_', "").to_ascii_lowercase() == want)
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn string(obj: &Map<String, Value>, name: &str) -> Result<String, String> {
    match json_field(obj, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("invalid {name}: expected a string, got {other}")),
    }
}

fn boolean(obj: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match json_field(obj, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("invalid {name}: expected a boolean, got {other}")),
    }
}

fn check_tls(obj: &Map<String, Value>) -> Result<CheckTls, String> {
    Ok(CheckTls {
        skip_verify: boolean(obj, "TLSSkipVerify")?,
        server_name: string(obj, "TLSServerName")?,
    })
}

fn number(obj: &Map<String, Value>, name: &str) -> Result<u64, String> {
    match json_field(obj, name) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("invalid {name}: expected a non-negative integer, got {v}")),
    }
}

fn duration(obj: &Map<String, Value>, name: &str) -> Result<(Option<Duration>, String), String> {
    match json_field(obj, name) {
        None => Ok((None, String::new())),
        Some(Value::String(s)) if s.is_empty() => Ok((None, String::new())),
        Some(Value::String(s)) => parse_go_duration(s)
            .map(|d| (Some(d), s.clone()))
            .map_err(|e| format!("invalid {name}: {e}")),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|ns| {
                (
                    Some(Duration::from_nanos(ns)),
                    crate::format_go_duration(Duration::from_nanos(ns)),
                )
            })
            .ok_or_else(|| format!("invalid {name}: {n}")),
        Some(other) => Err(format!("invalid {name}: expected a duration, got {other}")),
    }
}

fn decode<T: serde::de::DeserializeOwned + Default>(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<T, String> {
    match json_field(obj, name) {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("invalid {name}: {e}")),
    }
}

// === impl ServiceDefinition ===

impl ServiceDefinition {
    /// Parses a service definition object.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let obj = v.as_object().ok_or("expected a JSON object")?;
        let name = string(obj, "Name")?;
        if name.is_empty() {
            return Err("Missing service name".into());
        }
        let id = Some(string(obj, "ID")?)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| name.clone());
        let port = u16::try_from(number(obj, "Port")?)
            .map_err(|_| "invalid Port: out of range".to_owned())?;
        let mut extra: BTreeMap<String, Value> = EXTRA_SERVICE_FIELDS
            .iter()
            .filter_map(|k| json_field(obj, k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        if let Some(tagged) = extra.get_mut("TaggedAddresses") {
            *tagged = tagged_addresses(tagged)?;
        }
        let mut def = Self {
            id,
            name,
            tags: decode(obj, "Tags")?,
            address: string(obj, "Address")?,
            port,
            meta: decode(obj, "Meta")?,
            kind: string(obj, "Kind")?,
            extra,
            checks: Vec::new(),
        };
        def.checks = service_checks(obj, &def.id)?;
        Ok(def)
    }
}

/// `{"lan": {"address": .., "port": ..}}` in any key case, as Consul
/// renders it: `{"lan": {"Address": .., "Port": ..}}`.
fn tagged_addresses(v: &Value) -> Result<Value, String> {
    let obj = v
        .as_object()
        .ok_or("invalid TaggedAddresses: expected an object")?;
    let mut out = Map::new();
    for (tag, addr) in obj {
        let a = addr
            .as_object()
            .ok_or_else(|| format!("invalid TaggedAddresses.{tag}: expected an object"))?;
        let port = number(a, "Port")?;
        let port =
            u16::try_from(port).map_err(|_| format!("invalid TaggedAddresses.{tag}.Port"))?;
        out.insert(
            tag.clone(),
            serde_json::json!({ "Address": string(a, "Address")?, "Port": port }),
        );
    }
    Ok(Value::Object(out))
}

fn service_checks(
    obj: &Map<String, Value>,
    service_id: &str,
) -> Result<Vec<CheckDefinition>, String> {
    let mut raw: Vec<&Map<String, Value>> = Vec::new();
    if let Some(Value::Object(c)) = json_field(obj, "Check") {
        raw.push(c);
    }
    if let Some(Value::Array(list)) = json_field(obj, "Checks") {
        raw.extend(list.iter().filter_map(Value::as_object));
    }
    let many = raw.len() > 1;
    raw.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut check = CheckDefinition::from_object(c)?;
            check.service_id = service_id.to_owned();
            if check.id.is_empty() {
                check.id = match many {
                    true => format!("service:{service_id}:{}", i + 1),
                    false => format!("service:{service_id}"),
                };
            }
            Ok(check)
        })
        .collect()
}

// === impl CheckDefinition ===

impl CheckDefinition {
    /// Parses a check definition object (`/v1/agent/check/register`).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let obj = v.as_object().ok_or("expected a JSON object")?;
        let mut def = Self::from_object(obj)?;
        if def.id.is_empty() {
            def.id = def.name.clone();
        }
        if def.name.is_empty() {
            return Err("Missing check name".into());
        }
        Ok(def)
    }

    fn from_object(obj: &Map<String, Value>) -> Result<Self, String> {
        let id = Some(string(obj, "CheckID")?)
            .filter(|s| !s.is_empty())
            .map_or_else(|| string(obj, "ID"), Ok)?;
        let (interval, interval_text) = duration(obj, "Interval")?;
        let (timeout, timeout_text) = duration(obj, "Timeout")?;
        let kind = check_kind(obj, interval)?;
        let status = Some(string(obj, "Status")?).filter(|s| !s.is_empty());
        if let Some(s) = &status
            && !matches!(s.as_str(), "passing" | "warning" | "critical")
        {
            return Err(format!("invalid Status: {s:?}"));
        }
        let output_max_size = match number(obj, "OutputMaxSize")? {
            0 => DEFAULT_OUTPUT_MAX_SIZE,
            n => usize::try_from(n).unwrap_or(DEFAULT_OUTPUT_MAX_SIZE),
        };
        Ok(Self {
            id,
            name: string(obj, "Name")?,
            notes: string(obj, "Notes")?,
            service_id: string(obj, "ServiceID")?,
            status,
            kind,
            interval,
            timeout,
            success_before_passing: u32::try_from(number(obj, "SuccessBeforePassing")?)
                .unwrap_or(u32::MAX),
            failures_before_warning: u32::try_from(number(obj, "FailuresBeforeWarning")?)
                .unwrap_or(u32::MAX),
            failures_before_critical: u32::try_from(number(obj, "FailuresBeforeCritical")?)
                .unwrap_or(u32::MAX),
            deregister_critical_service_after: duration(obj, "DeregisterCriticalServiceAfter")?.0,
            output_max_size,
            interval_text,
            timeout_text,
        })
    }

    /// Consul's check type name (`ttl`, `http`, ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            CheckKind::Ttl(_) => "ttl",
            CheckKind::Http { .. } => "http",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Script(_) => "script",
            CheckKind::Grpc { .. } => "grpc",
            CheckKind::H2Ping { .. } => "h2ping",
            CheckKind::Alias { .. } => "alias",
            CheckKind::Manual => "",
        }
    }
}

fn check_kind(obj: &Map<String, Value>, interval: Option<Duration>) -> Result<CheckKind, String> {
    let needs_interval = |kind: CheckKind| match interval {
        Some(_) => Ok(kind),
        None => Err("Interval must be > 0 for Script, HTTP, H2PING, or TCP checks".to_owned()),
    };
    if let (Some(ttl), _) = duration(obj, "TTL")? {
        return Ok(CheckKind::Ttl(ttl));
    }
    let http = string(obj, "HTTP")?;
    if !http.is_empty() {
        let method = Some(string(obj, "Method")?)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "GET".into());
        let kind = CheckKind::Http {
            url: http,
            method,
            headers: decode(obj, "Header")?,
            body: string(obj, "Body")?,
            tls: check_tls(obj)?,
        };
        return needs_interval(kind);
    }
    let tcp = string(obj, "TCP")?;
    if !tcp.is_empty() {
        return needs_interval(CheckKind::Tcp(tcp));
    }
    let args: Vec<String> = decode(obj, "Args")?;
    if !args.is_empty() {
        return needs_interval(CheckKind::Script(args));
    }
    let grpc = string(obj, "GRPC")?;
    if !grpc.is_empty() {
        return needs_interval(CheckKind::Grpc {
            target: grpc,
            tls: boolean(obj, "GRPCUseTLS")?
                .then(|| check_tls(obj))
                .transpose()?,
        });
    }
    let h2 = string(obj, "H2PING")?;
    if !h2.is_empty() {
        return needs_interval(CheckKind::H2Ping {
            addr: h2,
            // Consul pings over TLS unless told otherwise.
            tls: (json_field(obj, "H2PingUseTLS").is_none() || boolean(obj, "H2PingUseTLS")?)
                .then(|| check_tls(obj))
                .transpose()?,
        });
    }
    let alias = string(obj, "AliasService")?;
    if !alias.is_empty() {
        return Ok(CheckKind::Alias {
            service: alias,
            node: string(obj, "AliasNode")?,
        });
    }
    Ok(CheckKind::Manual)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn service_with_several_checks_gets_numbered_ids() {
        let def = ServiceDefinition::from_json(&json!({
            "name": "web", "port": 80, "tags": ["a"],
            "checks": [{"ttl": "10s"}, {"http": "http://x", "interval": "1s"}, {"TCP": "x:1", "Interval": "5s", "CheckID": "own"}]
        }))
        .unwrap();
        assert_eq!(def.id, "web");
        let ids: Vec<&str> = def.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["service:web:1", "service:web:2", "own"]);
        assert_eq!(def.checks[0].kind, CheckKind::Ttl(Duration::from_secs(10)));
        assert!(def.checks.iter().all(|c| c.service_id == "web"));
    }

    #[test]
    fn single_check_id_and_errors() {
        let def = ServiceDefinition::from_json(&json!({"Name": "db", "ID": "db1", "Check": {"Args": ["/bin/true"], "Interval": "10s"}})).unwrap();
        assert_eq!(def.checks[0].id, "service:db1");
        assert_eq!(def.checks[0].type_name(), "script");
        assert!(
            ServiceDefinition::from_json(&json!({"Port": 1}))
                .unwrap_err()
                .contains("Missing service name")
        );
        assert!(ServiceDefinition::from_json(&json!({"Name": "x", "Port": "80"})).is_err());
        assert!(
            CheckDefinition::from_json(&json!({"Name": "h", "HTTP": "http://x"}))
                .unwrap_err()
                .contains("Interval")
        );
        assert!(CheckDefinition::from_json(&json!({"Name": "t", "TTL": "abc"})).is_err());
        assert!(
            CheckDefinition::from_json(&json!({"Name": "t", "TTL": "1s", "Status": "bogus"}))
                .is_err()
        );
    }
}
