//! Cross-entry checks on write (Consul's `validateProposedConfigEntryInGraph`):
//! every discovery chain the change can affect must still compile, ingress
//! listeners must match their services' protocols, L7 intentions need an
//! HTTP-like protocol, and gateway names may not clash.

use std::collections::{BTreeMap, BTreeSet};

use skein_config_entry::{ConfigEntry, EntryKey, IngressGateway, Kind, ServiceIntentions};

use crate::chain::NODE_RESOLVER;
use crate::compile::compile;
use crate::entries::EntrySet;
use crate::error::{Error, Result};
use crate::request::CompileRequest;

/// Consul compiles speculative chains in a throwaway datacenter and trust
/// domain: neither changes whether the graph is valid.
const CHECK_DATACENTER: &str = "dc1";
const CHECK_TRUST_DOMAIN: &str = "b6fc9da3-03d4-4b5a-9134-c045e9b20152.consul";

/// A write the state store is about to apply.
#[derive(Debug, Clone, Copy)]
pub enum ProposedChange<'a> {
    /// Create or replace this entry.
    Upsert(&'a ConfigEntry),
    /// Delete the entry with this key.
    Delete(&'a EntryKey),
}

/// What a change requires to be re-checked.
#[derive(Default)]
struct Plan<'a> {
    chains: BTreeSet<String>,
    ingress: Vec<&'a IngressGateway>,
    intentions: Vec<&'a ServiceIntentions>,
    /// Editing an ingress gateway itself: protocols must match exactly.
    strict_ingress: bool,
}

/// Protocol and top node type of each compiled chain.
type ChainFacts = BTreeMap<String, (String, String)>;

/// Checks `change` against `existing` (the entries before the change);
/// `Err` means the write must be refused with that message.
pub fn validate_proposed(existing: &EntrySet<'_>, change: ProposedChange<'_>) -> Result<()> {
    let key = change.key();
    if let ProposedChange::Upsert(entry) = change {
        check_gateway_clash(existing, entry)?;
        check_permissive_mtls(existing, entry)?;
    }
    if key.kind == Kind::Mesh {
        return Ok(());
    }
    let mut proposed = existing.clone();
    match change {
        ProposedChange::Upsert(entry) => proposed.insert(entry),
        ProposedChange::Delete(key) => proposed.remove(key),
    }
    let Some(plan) = plan(existing, change) else {
        return Ok(());
    };
    let facts = compile_chains(&proposed, &plan)?;
    check_ingress(&plan, &facts)?;
    check_intentions(&plan, &facts)
}

fn plan<'a>(existing: &EntrySet<'a>, change: ProposedChange<'a>) -> Option<Plan<'a>> {
    let key = change.key();
    let mut plan = Plan::default();
    match (key.kind, change) {
        (Kind::ProxyDefaults, _) => {
            for entry in existing.iter().filter(|e| e.kind().is_discovery_chain()) {
                plan.chains.insert(entry.name().to_string());
            }
            plan.ingress = ingress_of(existing.iter());
            plan.intentions = intentions_of(existing.iter());
        }
        (Kind::ServiceIntentions | Kind::IngressGateway, ProposedChange::Delete(_)) => return None,
        (Kind::ServiceIntentions, ProposedChange::Upsert(entry)) => {
            plan.intentions = intentions_of(std::iter::once(entry));
        }
        (Kind::IngressGateway, ProposedChange::Upsert(entry)) => {
            plan.ingress = ingress_of(std::iter::once(entry));
            plan.strict_ingress = true;
        }
        _ => plan_single_chain(existing, &key.name, &mut plan),
    }
    for ingress in &plan.ingress {
        plan.chains.extend(ingress.related_services());
    }
    for ixn in &plan.intentions {
        if !ixn.has_wildcard_destination() {
            plan.chains.insert(ixn.name.clone());
        }
    }
    Some(plan)
}

/// A change to one service's entries: its chain, every chain and ingress
/// gateway that links to it, and every intention.
fn plan_single_chain<'a>(existing: &EntrySet<'a>, name: &str, plan: &mut Plan<'a>) {
    plan.intentions = intentions_of(existing.iter());
    plan.chains.insert(name.to_string());
    for entry in existing.iter() {
        let related = match entry {
            ConfigEntry::ServiceRouter(e) => e.related_services(),
            ConfigEntry::ServiceSplitter(e) => e.related_services(),
            ConfigEntry::ServiceResolver(e) => e.related_services(),
            ConfigEntry::IngressGateway(e) => {
                if e.related_services().contains(name) {
                    plan.ingress.push(e);
                }
                continue;
            }
            _ => continue,
        };
        if related.contains(name) {
            plan.chains.insert(entry.name().to_string());
        }
    }
}

fn ingress_of<'a>(entries: impl Iterator<Item = &'a ConfigEntry>) -> Vec<&'a IngressGateway> {
    entries
        .filter_map(|e| match e {
            ConfigEntry::IngressGateway(g) => Some(g),
            _ => None,
        })
        .collect()
}

fn intentions_of<'a>(entries: impl Iterator<Item = &'a ConfigEntry>) -> Vec<&'a ServiceIntentions> {
    entries
        .filter_map(|e| match e {
            ConfigEntry::ServiceIntentions(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn compile_chains(proposed: &EntrySet<'_>, plan: &Plan<'_>) -> Result<ChainFacts> {
    let mut facts = ChainFacts::new();
    for name in &plan.chains {
        let req = CompileRequest::new(name.clone(), CHECK_DATACENTER, CHECK_TRUST_DOMAIN, proposed);
        let chain = compile(&req)?;
        let top = chain
            .nodes
            .get(&chain.start_node)
            .map(|n| n.r#type.clone())
            .unwrap_or_default();
        facts.insert(name.clone(), (chain.protocol, top));
    }
    Ok(facts)
}

/// A listener's protocol must match each service's chain, except that a TCP
/// listener may front an L7 service whose chain is just a resolver.
fn check_ingress(plan: &Plan<'_>, facts: &ChainFacts) -> Result<()> {
    for gateway in &plan.ingress {
        for listener in &gateway.listeners {
            let expected = &listener.protocol;
            for service in listener.services.iter().filter(|s| s.name != "*") {
                let (protocol, top) = facts.get(&service.name).cloned().unwrap_or_default();
                if protocol == *expected {
                    continue;
                }
                if plan.strict_ingress || expected != "tcp" || top != NODE_RESOLVER {
                    return Err(Error::conflict(format!(
                        "service {:?} has protocol {protocol:?}, which does not match defined listener protocol {expected:?}",
                        service.name
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_intentions(plan: &Plan<'_>, facts: &ChainFacts) -> Result<()> {
    for ixn in &plan.intentions {
        let protocol = facts.get(&ixn.name).map(|f| f.0.as_str()).unwrap_or("tcp");
        ixn.check_protocol(protocol)?;
    }
    Ok(())
}

/// An ingress and a terminating gateway may not share a name.
fn check_gateway_clash(existing: &EntrySet<'_>, entry: &ConfigEntry) -> Result<()> {
    let other = match entry.kind() {
        Kind::IngressGateway => Kind::TerminatingGateway,
        Kind::TerminatingGateway => Kind::IngressGateway,
        _ => return Ok(()),
    };
    if existing.get(other, entry.name()).is_none() {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "cannot create a {:?} config entry with name {:?}, a {:?} config entry with that name already exists",
        entry.kind().as_str(),
        entry.name(),
        other.as_str()
    )))
}

/// `MutualTLSMode = "permissive"` needs the mesh entry's consent, unless the
/// entry already had it.
fn check_permissive_mtls(existing: &EntrySet<'_>, entry: &ConfigEntry) -> Result<()> {
    let mode_of = |e: &ConfigEntry| match e {
        ConfigEntry::ServiceDefaults(s) => s.mutual_tls_mode.clone(),
        ConfigEntry::ProxyDefaults(p) => p.mutual_tls_mode.clone(),
        _ => String::new(),
    };
    if mode_of(entry) != "permissive" {
        return Ok(());
    }
    let allowed = existing
        .mesh()
        .is_some_and(|m| m.allow_enabling_permissive_mutual_tls);
    let unchanged = existing
        .get(entry.kind(), entry.name())
        .is_some_and(|prev| mode_of(prev) == "permissive");
    if allowed || unchanged {
        return Ok(());
    }
    Err(Error::conflict(
        "cannot set MutualTLSMode=permissive because AllowEnablingPermissiveMutualTLS=false in the mesh config entry",
    ))
}

// === impl ProposedChange ===

impl ProposedChange<'_> {
    /// The key of the entry written or deleted.
    pub fn key(&self) -> EntryKey {
        match self {
            ProposedChange::Upsert(entry) => entry.key(),
            ProposedChange::Delete(key) => (*key).clone(),
        }
    }
}
