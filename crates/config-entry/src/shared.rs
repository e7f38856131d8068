//! Building blocks shared by several kinds: mesh gateway and transparent
//! proxy settings, expose paths, access logs, Envoy extensions, header
//! modifiers, passive health checks, and the `Meta` limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::duration::{self, GoDuration};
use crate::error::{Error, Result};
use crate::serde_util::{is_false, is_zero};

/// Most `Meta` pairs a config entry may carry.
pub(crate) const META_MAX_KEY_PAIRS: usize = 64;
/// Longest `Meta` key.
pub(crate) const META_KEY_MAX_LENGTH: usize = 128;
/// Longest `Meta` value.
pub(crate) const META_VALUE_MAX_LENGTH: usize = 512;

/// Built-in Envoy extension names Consul accepts in `EnvoyExtensions`.
const BUILTIN_EXTENSIONS: [&str; 6] = [
    "builtin/aws/lambda",
    "builtin/ext-authz",
    "builtin/lua",
    "builtin/otel-access-logging",
    "builtin/property-override",
    "builtin/wasm",
];

/// How upstream connections use mesh gateways (`MeshGateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshGatewayConfig {
    /// `""` (inherit), `none`, `local` or `remote`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
}

/// Transparent-proxy settings of a service or of all proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TransparentProxyConfig {
    /// Port of the outbound listener traffic is redirected to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outbound_listener_port: i64,
    /// Whether other transparent proxies may dial instances directly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dialed_directly: bool,
}

/// Paths exposed through the proxy without mTLS (`Expose`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExposeConfig {
    /// Expose every HTTP/gRPC check path.
    #[serde(default, skip_serializing_if = "is_false")]
    pub checks: bool,
    /// Explicit paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<ExposePath>,
}

/// One exposed path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExposePath {
    /// Port the proxy listens on for this path.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub listener_port: i64,
    /// The HTTP path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Local port of the application.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_path_port: i64,
    /// `http` or `http2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Set by Consul for paths derived from checks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parsed_from_check: bool,
}

/// Envoy access-log settings (`AccessLogs` of proxy-defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AccessLogsConfig {
    /// Turns access logging on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Turns off logs of connections no listener matched.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_listener_logs: bool,
    /// `file`, `stderr` or `stdout` (empty = stdout).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub r#type: String,
    /// Output file for `file` logs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// JSON log format.
    #[serde(
        rename = "JSONFormat",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub json_format: String,
    /// Text log format.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_format: String,
}

/// One Envoy extension (`EnvoyExtensions[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EnvoyExtension {
    /// Built-in extension name, e.g. `builtin/lua`.
    #[serde(default)]
    pub name: String,
    /// Whether a failure to apply it must fail the proxy configuration.
    #[serde(default)]
    pub required: bool,
    /// Extension-specific arguments, kept verbatim.
    #[serde(default)]
    pub arguments: Option<Map<String, Value>>,
    /// Consul version constraint.
    #[serde(default)]
    pub consul_version: String,
    /// Envoy version constraint.
    #[serde(default)]
    pub envoy_version: String,
}

/// Header edits applied by proxies (`RequestHeaders` / `ResponseHeaders`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HttpHeaderModifiers {
    /// Headers appended (duplicates allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    /// Headers set, replacing existing values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Headers removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// Outlier detection settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PassiveHealthCheck {
    /// Time between ejection sweeps (rendered as nanoseconds, like Go).
    #[serde(
        default,
        skip_serializing_if = "GoDuration::is_zero",
        serialize_with = "duration::serialize_nanos"
    )]
    pub interval: GoDuration,
    /// Consecutive failures before ejection.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_failures: u32,
    /// Percent chance a host is ejected on consecutive 5xx.
    #[serde(
        rename = "EnforcingConsecutive5xx",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_5xx: Option<u32>,
    /// Most hosts (percent) that may be ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
    /// Base ejection time (rendered as nanoseconds).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "duration::serialize_opt_nanos"
    )]
    pub base_ejection_time: Option<GoDuration>,
}

/// Connection limits towards one upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpstreamLimits {
    /// Most connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    /// Most queued requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<i64>,
    /// Most concurrent requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<i64>,
}

// === impl MeshGatewayConfig ===

impl MeshGatewayConfig {
    /// Checks `Mode` is one of Consul's values.
    pub fn validate(&self) -> Result<()> {
        validate_mesh_gateway_mode(&self.mode)
    }
}

/// Checks a mesh gateway mode (`""`, `none`, `local`, `remote`).
pub fn validate_mesh_gateway_mode(mode: &str) -> Result<()> {
    match mode {
        "" | "none" | "local" | "remote" => Ok(()),
        other => Err(Error::invalid(format!(
            "Invalid Mesh Gateway Mode: {other:?}"
        ))),
    }
}

/// Checks a proxy mode (`""`, `direct`, `transparent`).
pub(crate) fn validate_proxy_mode(mode: &str) -> Result<()> {
    match mode {
        "" | "direct" | "transparent" => Ok(()),
        other => Err(Error::invalid(format!("Invalid Proxy Mode: {other:?}"))),
    }
}

/// Checks a mutual TLS mode (`""`, `strict`, `permissive`).
pub(crate) fn validate_mutual_tls_mode(mode: &str) -> Result<()> {
    match mode {
        "" | "strict" | "permissive" => Ok(()),
        other => Err(Error::invalid(format!(
            "Invalid MutualTLSMode {other:?}. Must be one of \"\", \"strict\", or \"permissive\"."
        ))),
    }
}

// === impl AccessLogsConfig ===

impl AccessLogsConfig {
    /// Consul's `AccessLogsConfig.Validate`.
    pub fn validate(&self) -> Result<()> {
        match self.r#type.as_str() {
            "" | "stderr" | "stdout" => {}
            "file" if self.path.is_empty() => {
                return Err(Error::invalid(
                    "path must be specified when using file type access logs",
                ));
            }
            "file" => {}
            other => return Err(Error::invalid(format!("invalid access log type: {other}"))),
        }
        if !self.json_format.is_empty() && !self.text_format.is_empty() {
            return Err(Error::invalid(
                "cannot specify both access log JSONFormat and TextFormat",
            ));
        }
        if self.r#type != "file" && !self.path.is_empty() {
            return Err(Error::invalid(
                "path is only valid for file type access logs",
            ));
        }
        if !self.json_format.is_empty() {
            serde_json::from_str::<Value>(&self.json_format).map_err(|e| {
                Error::invalid(format!("invalid access log json for JSON format: {e}"))
            })?;
        }
        Ok(())
    }
}

/// Checks every extension names a built-in extension.
pub(crate) fn validate_envoy_extensions(extensions: &[EnvoyExtension]) -> Result<()> {
    for (i, ext) in extensions.iter().enumerate() {
        if ext.name.is_empty() {
            return Err(Error::invalid(format!(
                "invalid EnvoyExtensions[{i}]: Name is required"
            )));
        }
        if !BUILTIN_EXTENSIONS.contains(&ext.name.as_str()) {
            return Err(Error::invalid(format!(
                "invalid EnvoyExtensions[{i}][{}]: not a built-in extension",
                ext.name
            )));
        }
    }
    Ok(())
}

// === impl HttpHeaderModifiers ===

impl HttpHeaderModifiers {
    /// Whether nothing is configured.
    pub fn is_zero(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.remove.is_empty()
    }

    /// Consul's `MergeHTTPHeaderModifiers`: `overrides` wins on collisions,
    /// removes are de-duplicated.
    pub fn merge(
        base: Option<&HttpHeaderModifiers>,
        overrides: Option<&HttpHeaderModifiers>,
    ) -> Option<HttpHeaderModifiers> {
        let base = match base {
            Some(b) if !b.is_zero() => b,
            _ => return overrides.cloned(),
        };
        let mut merged = base.clone();
        let Some(overrides) = overrides.filter(|o| !o.is_zero()) else {
            return Some(merged);
        };
        merged.add.extend(overrides.add.clone());
        merged.set.extend(overrides.set.clone());
        for name in &overrides.remove {
            if !merged.remove.contains(name) {
                merged.remove.push(name.clone());
            }
        }
        Some(merged)
    }
}

/// Checks header modifiers are only used with an HTTP-like protocol.
pub(crate) fn validate_headers_for_protocol(
    modifiers: Option<&HttpHeaderModifiers>,
    protocol: &str,
) -> std::result::Result<(), &'static str> {
    match modifiers {
        Some(m) if !m.is_zero() && !is_protocol_http_like(protocol) => {
            Err("only valid for http, http2 and grpc protocols")
        }
        _ => Ok(()),
    }
}

// === impl PassiveHealthCheck ===

impl PassiveHealthCheck {
    /// Consul's `PassiveHealthCheck.Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.interval.is_negative() {
            return Err(Error::invalid(
                "passive health check interval cannot be negative",
            ));
        }
        if self.enforcing_consecutive_5xx.is_some_and(|v| v > 100) {
            return Err(Error::invalid(
                "passive health check enforcing_consecutive_5xx must be a percentage between 0 and 100",
            ));
        }
        if self.max_ejection_percent.is_some_and(|v| v > 100) {
            return Err(Error::invalid(
                "passive health check max_ejection_percent must be a percentage between 0 and 100",
            ));
        }
        if self.base_ejection_time.is_some_and(|d| d.is_negative()) {
            return Err(Error::invalid(
                "passive health check base_ejection_time cannot be negative",
            ));
        }
        Ok(())
    }
}

// === impl UpstreamLimits ===

impl UpstreamLimits {
    /// Consul's `UpstreamLimits.Validate`.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            (self.max_connections, "max connections cannot be negative"),
            (
                self.max_pending_requests,
                "max pending requests cannot be negative",
            ),
            (
                self.max_concurrent_requests,
                "max concurrent requests cannot be negative",
            ),
        ];
        for (value, message) in checks {
            if value.is_some_and(|v| v < 0) {
                return Err(Error::invalid(message));
            }
        }
        Ok(())
    }
}

/// Whether `protocol` is one of the L7 protocols routers and splitters need.
pub fn is_protocol_http_like(protocol: &str) -> bool {
    matches!(protocol, "http" | "http2" | "grpc")
}

/// Consul's `validateConfigEntryMeta`: at most 64 pairs, keys ≤ 128 bytes,
/// values ≤ 512 bytes.
pub(crate) fn validate_meta(meta: &BTreeMap<String, String>) -> Result<()> {
    if meta.len() > META_MAX_KEY_PAIRS {
        return Err(Error::invalid(format!(
            "Meta exceeds maximum element count {META_MAX_KEY_PAIRS}"
        )));
    }
    for (key, value) in meta {
        if key.len() > META_KEY_MAX_LENGTH {
            return Err(Error::invalid(format!(
                "Meta key {key:?} exceeds maximum length {META_KEY_MAX_LENGTH}"
            )));
        }
        if value.len() > META_VALUE_MAX_LENGTH {
            return Err(Error::invalid(format!(
                "Meta value for key {key:?} exceeds maximum length {META_VALUE_MAX_LENGTH}"
            )));
        }
    }
    Ok(())
}

/// Checks a connection balance setting (`""` or `exact_balance`).
pub(crate) fn validate_connection_balance(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value == "exact_balance" {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "invalid value for {field}: {value}"
    )))
}
