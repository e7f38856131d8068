//! [`CompileRequest`] and the overrides `POST /v1/discovery-chain` accepts.

use serde_json::Value;
use skein_config_entry::{GoDuration, MeshGatewayConfig, validate_mesh_gateway_mode};

use crate::entries::EntrySet;
use crate::error::{Error, Result};

/// Everything the compiler needs: what to compile, where, and from which entries.
#[derive(Debug, Clone)]
pub struct CompileRequest<'a> {
    /// The service whose chain is compiled.
    pub service_name: String,
    /// Namespace to evaluate in (`default` in the community edition).
    pub evaluate_in_namespace: String,
    /// Partition to evaluate in (`default` in the community edition).
    pub evaluate_in_partition: String,
    /// Datacenter to evaluate in (targets default to it).
    pub evaluate_in_datacenter: String,
    /// CA trust domain (`<cluster-id>.consul`), used in SNIs.
    pub evaluate_in_trust_domain: String,
    /// Request-time overrides.
    pub overrides: Overrides,
    /// The config entries.
    pub entries: &'a EntrySet<'a>,
    /// Virtual IP assigned to the service, copied to the result.
    pub auto_virtual_ips: Option<Vec<String>>,
    /// Manually assigned virtual IPs, copied to the result.
    pub manual_virtual_ips: Option<Vec<String>>,
}

/// Overrides of `POST /v1/discovery-chain/:service`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replaces the chain protocol; a non-HTTP value drops routers and splitters.
    pub protocol: String,
    /// Replaces every resolver's connect timeout (when positive).
    pub connect_timeout: GoDuration,
    /// Replaces every target's mesh gateway mode (when set).
    pub mesh_gateway: MeshGatewayConfig,
}

// === impl CompileRequest ===

impl<'a> CompileRequest<'a> {
    /// A request for `service_name` in the default namespace and partition.
    pub fn new(
        service_name: impl Into<String>,
        datacenter: impl Into<String>,
        trust_domain: impl Into<String>,
        entries: &'a EntrySet<'a>,
    ) -> CompileRequest<'a> {
        CompileRequest {
            service_name: service_name.into(),
            evaluate_in_namespace: "default".to_string(),
            evaluate_in_partition: "default".to_string(),
            evaluate_in_datacenter: datacenter.into(),
            evaluate_in_trust_domain: trust_domain.into(),
            overrides: Overrides::default(),
            entries,
            auto_virtual_ips: None,
            manual_virtual_ips: None,
        }
    }
}

// === impl Overrides ===

impl Overrides {
    /// Whether no override is set.
    pub fn is_empty(&self) -> bool {
        self == &Overrides::default()
    }

    /// Reads a `POST /v1/discovery-chain` body: `OverrideProtocol`,
    /// `OverrideConnectTimeout` (Go duration or nanoseconds) and
    /// `OverrideMeshGateway.Mode`, in any key case or `snake_case`.
    /// Unknown keys are ignored, as Consul ignores them.
    pub fn from_request_json(body: &Value) -> Result<Overrides> {
        let Some(obj) = body.as_object() else {
            return Err(bad("request body must be a JSON object"));
        };
        let mut out = Overrides::default();
        for (key, value) in obj {
            match fold(key).as_str() {
                "overrideprotocol" => out.protocol = string(value, "OverrideProtocol")?,
                "overrideconnecttimeout" => out.connect_timeout = duration(value)?,
                "overridemeshgateway" => out.mesh_gateway = mesh_gateway(value)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn bad(message: impl Into<String>) -> Error {
    Error::BadOverrides {
        message: message.into(),
    }
}

fn string(value: &Value, field: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        _ => Err(bad(format!("{field}: expected a string"))),
    }
}

fn duration(value: &Value) -> Result<GoDuration> {
    serde_json::from_value(value.clone()).map_err(|e| bad(format!("OverrideConnectTimeout: {e}")))
}

fn mesh_gateway(value: &Value) -> Result<MeshGatewayConfig> {
    let mode = match value {
        Value::Object(obj) => obj
            .iter()
            .find(|(k, _)| fold(k) == "mode")
            .map(|(_, v)| string(v, "OverrideMeshGateway.Mode"))
            .transpose()?
            .unwrap_or_default(),
        Value::Null => String::new(),
        _ => return Err(bad("OverrideMeshGateway: expected an object")),
    };
    if validate_mesh_gateway_mode(&mode).is_err() {
        return Err(bad("Invalid OverrideMeshGateway.Mode parameter"));
    }
    Ok(MeshGatewayConfig { mode })
}
