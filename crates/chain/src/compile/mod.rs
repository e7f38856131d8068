//! The discovery chain compiler (Consul's `discoverychain.Compile`).
//!
//! ```text
//!   router? ──routes──▶ splitter? ──splits──▶ resolver ──redirect/default subset──▶ target
//!                                                     └──failover──▶ more targets
//! ```
//!
//! Assembly walks the entries from the top (router, else splitter, else
//! resolver), recording nodes as it goes so loops terminate; then cycles are
//! rejected, nested splitters flattened, unreachable nodes pruned, and the
//! protocol checked against the routing features used.

mod assemble;
mod graph;
mod resolver;
mod splitter;
mod targets;

use std::collections::{BTreeMap, BTreeSet};

use skein_config_entry::{EnvoyExtension, GoDuration, is_protocol_http_like};

use crate::chain::{CompiledDiscoveryChain, DiscoveryGraphNode, DiscoveryTarget};
use crate::error::{Error, Result};
use crate::request::CompileRequest;

/// Entries of the community edition live in this namespace and partition.
pub(crate) const DEFAULT_TENANCY: &str = "default";

/// Connect timeout of a resolver that sets none.
const DEFAULT_CONNECT_TIMEOUT: GoDuration = GoDuration::from_secs(5);

/// Compiles the discovery chain of `req.service_name`.
///
/// Errors are [`Error::MissingField`] for an incomplete request and
/// [`Error::Graph`] for entries that do not form a valid chain.
pub fn compile(req: &CompileRequest<'_>) -> Result<CompiledDiscoveryChain> {
    check_request(req)?;
    let mut c = Compiler::new(req);
    c.assemble()?;
    c.detect_circular_references()?;
    c.flatten_adjacent_splitters();
    c.remove_unused_nodes()?;
    c.finish()
}

fn check_request(req: &CompileRequest<'_>) -> Result<()> {
    let fields = [
        ("serviceName", &req.service_name),
        ("evaluateInNamespace", &req.evaluate_in_namespace),
        ("evaluateInPartition", &req.evaluate_in_partition),
        ("evaluateInDatacenter", &req.evaluate_in_datacenter),
        ("evaluateInTrustDomain", &req.evaluate_in_trust_domain),
    ];
    match fields.iter().find(|(_, v)| v.is_empty()) {
        Some((field, _)) => Err(Error::MissingField { field }),
        None => Ok(()),
    }
}

/// Which overrides changed the result.
#[derive(Debug, Default)]
struct Customized {
    mesh_gateway: bool,
    protocol: bool,
    connect_timeout: bool,
}

/// Single-use compilation state.
struct Compiler<'r, 'a> {
    req: &'r CompileRequest<'a>,
    nodes: BTreeMap<String, DiscoveryGraphNode>,
    loaded_targets: BTreeMap<String, DiscoveryTarget>,
    retained_targets: BTreeSet<String>,
    /// A router or splitter is part of the chain.
    uses_advanced_routing: bool,
    /// The protocol override is not HTTP-like: ignore routers and splitters.
    disable_advanced_routing: bool,
    customized: Customized,
    /// The protocol every service of the chain shares.
    protocol: Option<String>,
    service_meta: BTreeMap<String, String>,
    envoy_extensions: Vec<EnvoyExtension>,
    start_node: String,
}

// === impl Compiler ===

impl<'r, 'a> Compiler<'r, 'a> {
    fn new(req: &'r CompileRequest<'a>) -> Compiler<'r, 'a> {
        let protocol_override = &req.overrides.protocol;
        Compiler {
            req,
            nodes: BTreeMap::new(),
            loaded_targets: BTreeMap::new(),
            retained_targets: BTreeSet::new(),
            uses_advanced_routing: false,
            disable_advanced_routing: !protocol_override.is_empty()
                && !is_protocol_http_like(protocol_override),
            customized: Customized::default(),
            protocol: None,
            service_meta: BTreeMap::new(),
            envoy_extensions: Vec::new(),
            start_node: String::new(),
        }
    }

    fn record_node(&mut self, node: DiscoveryGraphNode) -> String {
        let key = node.map_key();
        self.nodes.insert(key.clone(), node);
        key
    }

    /// Records the protocol of `service` (service-defaults, else
    /// proxy-defaults `Config.protocol`, else `tcp`); all must agree.
    fn record_service_protocol(&mut self, service: &str) -> Result<()> {
        let protocol = self.req.entries.service_protocol(service);
        match &self.protocol {
            None => {
                self.protocol = Some(protocol);
                Ok(())
            }
            Some(p) if *p == protocol => Ok(()),
            Some(p) => Err(Error::graph(format!(
                "discovery chain {:?} uses inconsistent protocols; service {service:?} has {protocol:?} which is not {p:?}",
                self.req.service_name
            ))),
        }
    }

    /// Final checks and the output value.
    fn finish(mut self) -> Result<CompiledDiscoveryChain> {
        let retained = std::mem::take(&mut self.retained_targets);
        self.loaded_targets.retain(|id, _| retained.contains(id));
        let mut protocol = self.protocol.take().unwrap_or_default();
        if !is_protocol_http_like(&protocol) && self.uses_advanced_routing {
            return Err(Error::graph(format!(
                "discovery chain {:?} uses a protocol {protocol:?} that does not permit advanced routing or splitting behavior",
                self.req.service_name
            )));
        }
        let overrides = &self.req.overrides;
        if !overrides.protocol.is_empty() && overrides.protocol != protocol {
            protocol = overrides.protocol.clone();
            self.customized.protocol = true;
        }
        let req = self.req;
        Ok(CompiledDiscoveryChain {
            service_name: req.service_name.clone(),
            namespace: req.evaluate_in_namespace.clone(),
            partition: req.evaluate_in_partition.clone(),
            datacenter: req.evaluate_in_datacenter.clone(),
            customization_hash: self.customization_hash(),
            default: self.is_default_chain(),
            protocol,
            service_meta: std::mem::take(&mut self.service_meta),
            envoy_extensions: std::mem::take(&mut self.envoy_extensions),
            start_node: std::mem::take(&mut self.start_node),
            nodes: std::mem::take(&mut self.nodes),
            targets: std::mem::take(&mut self.loaded_targets),
            auto_virtual_ips: req.auto_virtual_ips.clone(),
            manual_virtual_ips: req.manual_virtual_ips.clone(),
        })
    }

    /// Eight hex digits identifying the overrides that changed the result
    /// (Consul hashes the same inputs, with a different hash function).
    fn customization_hash(&self) -> String {
        let c = &self.customized;
        if !c.mesh_gateway && !c.protocol && !c.connect_timeout {
            return String::new();
        }
        let o = &self.req.overrides;
        let text = format!(
            "mesh_gateway={}|protocol={}|connect_timeout={}",
            if c.mesh_gateway {
                o.mesh_gateway.mode.as_str()
            } else {
                ""
            },
            if c.protocol { o.protocol.as_str() } else { "" },
            if c.connect_timeout {
                o.connect_timeout.as_nanos()
            } else {
                0
            },
        );
        format!("{:016x}", fnv1a(text.as_bytes()))[..8].to_string()
    }

    /// No routing, no splitting, only the default resolution of this very
    /// service (a redirect to another default resolver does not count).
    fn is_default_chain(&self) -> bool {
        let Some(node) = self.nodes.get(&self.start_node) else {
            return true;
        };
        let Some(resolver) = node.resolver.as_ref().filter(|_| node.is_resolver()) else {
            return false;
        };
        if !resolver.default {
            return false;
        }
        self.loaded_targets.get(&resolver.target).is_some_and(|t| {
            t.service == self.req.service_name
                && t.namespace == self.req.evaluate_in_namespace
                && t.partition == self.req.evaluate_in_partition
        })
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
