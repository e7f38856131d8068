//! Tests: chain compilation cases and proposed-write validation.

mod chains;
mod overrides;
mod validate;

use serde_json::Value;
use skein_config_entry::{ConfigEntry, parse_request};

use crate::{CompileRequest, CompiledDiscoveryChain, EntrySet, Overrides, Result, compile};

/// The trust domain of the compile tests (as in Consul's own tests).
pub(super) const TRUST_DOMAIN: &str = "trustdomain.consul";

/// Entries from request bodies (decoded, normalized and validated).
pub(super) fn entries(bodies: &[Value]) -> Vec<ConfigEntry> {
    bodies
        .iter()
        .map(|b| parse_request(b).unwrap_or_else(|e| panic!("{b}: {e}")))
        .collect()
}

/// Compiles the chain of `main` in dc1 with `overrides`.
pub(super) fn compile_main(
    bodies: &[Value],
    overrides: Overrides,
) -> Result<CompiledDiscoveryChain> {
    let list = entries(bodies);
    let set = EntrySet::new(&list);
    let mut req = CompileRequest::new("main", "dc1", TRUST_DOMAIN, &set);
    req.overrides = overrides;
    compile(&req)
}

/// The chain of `main` as JSON; panics on a compile error.
pub(super) fn chain_json(bodies: &[Value]) -> Value {
    let chain = compile_main(bodies, Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(chain).unwrap()
}

/// The compile error text for `main`.
pub(super) fn chain_error(bodies: &[Value]) -> String {
    match compile_main(bodies, Overrides::default()) {
        Ok(chain) => panic!(
            "compiled: {}",
            serde_json::to_string_pretty(&chain).unwrap()
        ),
        Err(e) => e.to_string(),
    }
}

pub(super) fn protocol(service: &str, protocol: &str) -> Value {
    serde_json::json!({"Kind": "service-defaults", "Name": service, "Protocol": protocol})
}
