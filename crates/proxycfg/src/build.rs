//! Building a [`ProxySnapshot`] from one read of the state store: the proxy's
//! registration, the CA, the intentions, the discovery chains of its
//! upstreams and the endpoints of every chain target.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value};
use skein_chain::{CompileRequest, CompiledDiscoveryChain, DiscoveryTarget, EntrySet};
use skein_config_entry::ConfigEntry;
use skein_intention::{MatchBy, ServiceIntentions, ServiceName};
use skein_state::Store;
use skein_types::catalog::{CheckStatus, ServiceInstance};

use crate::snapshot::{
    Endpoint, EndpointHealth, LeafCert, ProxyKind, ProxySnapshot, UpstreamSnapshot,
};
use crate::{Error, Result};

/// Agent settings that shape every snapshot.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The local datacenter.
    pub datacenter: String,
    /// Whether traffic no intention matches is allowed.
    pub default_allow: bool,
}

/// Endpoints of chain targets, each computed once per index of its
/// service and shared by every proxy with that target (many proxies have
/// the same upstreams).
#[derive(Debug, Default)]
pub struct EndpointCache {
    inner: Mutex<HashMap<String, (u64, Vec<Endpoint>)>>,
}

// === impl EndpointCache ===

impl EndpointCache {
    /// The endpoints of `target` at the current index of its service.
    fn get(&self, store: &Store, target: &DiscoveryTarget) -> Vec<Endpoint> {
        let key = format!(
            "{}|{}|{}",
            target.service, target.subset.filter, target.subset.only_passing
        );
        let index = store.service_index(&target.service);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, found)) = inner.get(&key)
            && *at == index
        {
            return found.clone();
        }
        let found = target_endpoints(store, target);
        inner.insert(key, (index, found.clone()));
        found
    }
}

/// The snapshot of `proxy` (a `connect-proxy` registration of this agent)
/// with `leaf` as its certificate, from the state in `store`.
pub fn build(
    store: &Store,
    proxy: &ServiceInstance,
    leaf: LeafCert,
    settings: &Settings,
) -> Result<ProxySnapshot> {
    build_cached(store, proxy, leaf, settings, &EndpointCache::default())
}

/// [`build`], with target endpoints shared through `cache`.
pub fn build_cached(
    store: &Store,
    proxy: &ServiceInstance,
    leaf: LeafCert,
    settings: &Settings,
    cache: &EndpointCache,
) -> Result<ProxySnapshot> {
    if proxy.kind != "connect-proxy" {
        return Err(Error::NotAProxy(proxy.id.to_string()));
    }
    let ca = store.connect_ca().ok_or(Error::NoCa)?;
    let spec = proxy.extra.get("Proxy").cloned().unwrap_or(Value::Null);
    let destination = str_field(&spec, "DestinationServiceName");
    if destination.is_empty() {
        return Err(Error::NotAProxy(proxy.id.to_string()));
    }
    let entries = stored_entries(store);
    let set = EntrySet::new(entries.iter());
    let trust_domain = ca.trust_domain();
    let config = merged_config(&set, &spec);
    let upstreams = upstreams(&spec, &set, &settings.datacenter, &trust_domain)?;
    let endpoints = endpoints(store, &upstreams, cache);
    Ok(ProxySnapshot {
        kind: ProxyKind::ConnectProxy,
        proxy_id: proxy.id.to_string(),
        proxy_service: proxy.service.to_string(),
        destination_id: str_field(&spec, "DestinationServiceID"),
        bind_address: bind_address(proxy, &config),
        bind_port: bind_port(proxy, &config),
        local_service_address: non_empty(str_field(&spec, "LocalServiceAddress"), "127.0.0.1"),
        local_service_port: port_field(&spec, "LocalServicePort"),
        protocol: protocol(&set, &destination, &config),
        config,
        datacenter: settings.datacenter.clone(),
        trust_domain,
        leaf,
        roots: root_pems(&ca.roots),
        intentions: intentions(&entries, &destination),
        default_allow: settings.default_allow,
        access_logs: set
            .proxy_defaults()
            .map(|p| p.access_logs.clone())
            .unwrap_or_default(),
        upstreams,
        endpoints,
        destination,
    })
}

/// The config entries in the store, decoded.
fn stored_entries(store: &Store) -> Vec<ConfigEntry> {
    store
        .config_entries(None)
        .into_iter()
        .filter_map(|e| ConfigEntry::from_stored_json(e.to_json()).ok())
        .collect()
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn port_field(v: &Value, key: &str) -> u16 {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0)
}

fn non_empty(s: String, default: &str) -> String {
    if s.is_empty() { default.to_owned() } else { s }
}

/// `proxy-defaults` config under the proxy's own `Proxy.Config`.
fn merged_config(set: &EntrySet<'_>, spec: &Value) -> Map<String, Value> {
    let mut config = set
        .proxy_defaults()
        .and_then(|p| p.config.clone())
        .unwrap_or_default();
    if let Some(own) = spec.get("Config").and_then(Value::as_object) {
        config.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    config
}

/// The destination's protocol: service-defaults, then the proxy config,
/// then proxy-defaults, then `tcp`.
fn protocol(set: &EntrySet<'_>, destination: &str, config: &Map<String, Value>) -> String {
    if set.service_defaults(destination).is_some() {
        return set.service_protocol(destination);
    }
    match config.get("protocol").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => p.to_lowercase(),
        _ => set.service_protocol(destination),
    }
}

fn bind_address(proxy: &ServiceInstance, config: &Map<String, Value>) -> String {
    if let Some(a) = config.get("bind_address").and_then(Value::as_str) {
        return a.to_owned();
    }
    non_empty(proxy.address.to_string(), "0.0.0.0")
}

fn bind_port(proxy: &ServiceInstance, config: &Map<String, Value>) -> u16 {
    config
        .get("bind_port")
        .and_then(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(proxy.port)
}

/// Root PEMs, the active one first.
fn root_pems(roots: &[Value]) -> Vec<String> {
    let mut sorted: Vec<&Value> = roots.iter().collect();
    sorted.sort_by_key(|r| r.get("Active").and_then(Value::as_bool) != Some(true));
    sorted
        .into_iter()
        .filter_map(|r| r.get("RootCert").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Intentions whose destination covers `destination`, by precedence.
fn intentions(entries: &[ConfigEntry], destination: &str) -> Vec<skein_intention::Intention> {
    let stored: Vec<ServiceIntentions> = entries
        .iter()
        .filter_map(|e| match e {
            ConfigEntry::ServiceIntentions(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    let mut found = skein_intention::matches(
        stored.iter(),
        MatchBy::Destination,
        &ServiceName::local(destination),
    );
    found.sort_by_key(|i| std::cmp::Reverse(i.precedence));
    found
}

/// The explicit service upstreams, each with its compiled chain.
fn upstreams(
    spec: &Value,
    set: &EntrySet<'_>,
    local_dc: &str,
    trust_domain: &str,
) -> Result<Vec<UpstreamSnapshot>> {
    let listed = spec
        .get("Upstreams")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    listed
        .iter()
        .filter(|u| {
            let kind = str_field(u, "DestinationType");
            kind.is_empty() || kind == "service"
        })
        .map(|u| upstream(u, set, local_dc, trust_domain))
        .collect()
}

fn upstream(
    u: &Value,
    set: &EntrySet<'_>,
    local_dc: &str,
    trust_domain: &str,
) -> Result<UpstreamSnapshot> {
    let name = str_field(u, "DestinationName");
    let datacenter = str_field(u, "Datacenter");
    let compile_dc = if datacenter.is_empty() {
        local_dc
    } else {
        &datacenter
    };
    let request = CompileRequest::new(
        name.clone(),
        compile_dc.to_owned(),
        trust_domain.to_owned(),
        set,
    );
    let chain: CompiledDiscoveryChain =
        skein_chain::compile(&request).map_err(|e| Error::Chain {
            upstream: name.clone(),
            reason: e.to_string(),
        })?;
    let envoy_id = if datacenter.is_empty() {
        name.clone()
    } else {
        format!("{name}?dc={datacenter}")
    };
    Ok(UpstreamSnapshot {
        envoy_id,
        destination_name: name,
        datacenter,
        local_bind_address: non_empty(str_field(u, "LocalBindAddress"), "127.0.0.1"),
        local_bind_port: port_field(u, "LocalBindPort"),
        config: u
            .get("Config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        chain,
    })
}

/// Endpoints of every target of every upstream chain.
fn endpoints(
    store: &Store,
    upstreams: &[UpstreamSnapshot],
    cache: &EndpointCache,
) -> BTreeMap<String, Vec<Endpoint>> {
    upstreams
        .iter()
        .flat_map(|u| u.chain.targets.values())
        .map(|t| (t.id.clone(), cache.get(store, t)))
        .collect()
}

/// The mesh instances (sidecar proxies) of a target, with the subset's
/// filter applied and Consul's health rules: critical (or, for an
/// only-passing subset, anything but passing) is unhealthy.
fn target_endpoints(store: &Store, target: &DiscoveryTarget) -> Vec<Endpoint> {
    let filter = Some(target.subset.filter.as_str())
        .filter(|f| !f.is_empty())
        .and_then(|f| skein_filter::Filter::parse(f).ok());
    let mut found: Vec<Endpoint> = store
        .instance_health(&target.service, true)
        .into_iter()
        .filter(|h| {
            filter.as_ref().is_none_or(|f| {
                f.matches(&serde_json::json!({
                    "Node": {"Node": h.node.node, "Meta": h.node.meta},
                    "Service": {"Service": h.service.service, "ID": h.service.id,
                                "Tags": h.service.tags, "Meta": h.service.meta},
                }))
            })
        })
        .map(|h| {
            let unhealthy = match h.status {
                CheckStatus::Critical => true,
                CheckStatus::Warning => target.subset.only_passing,
                CheckStatus::Passing => false,
            };
            Endpoint {
                address: non_empty(h.service.address.to_string(), &h.node.address),
                port: h.service.port,
                health: if unhealthy {
                    EndpointHealth::Unhealthy
                } else {
                    EndpointHealth::Healthy
                },
                weight: weight(h.service, h.status),
                node: h.node.node.to_string(),
                service_id: h.service.id.to_string(),
            }
        })
        .collect();
    found.sort_by(|a, b| (&a.node, &a.service_id).cmp(&(&b.node, &b.service_id)));
    found
}

/// `Weights.Passing` (or `Weights.Warning` when warning), at least 1.
fn weight(service: &ServiceInstance, status: CheckStatus) -> u32 {
    let key = if status == CheckStatus::Warning {
        "Warning"
    } else {
        "Passing"
    };
    service
        .extra
        .get("Weights")
        .and_then(|w| w.get(key))
        .and_then(Value::as_u64)
        .and_then(|w| u32::try_from(w).ok())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use skein_state::{CaState, Command, Op, Registration};
    use skein_types::catalog::{Check, Node};

    use super::*;

    fn apply(store: &mut Store, index: u64, op: Op) {
        store.apply(index, &Command { at_ms: 0, op });
    }

    fn proxy(id: &str, dest: &str, port: u16, upstreams: Value) -> ServiceInstance {
        ServiceInstance {
            id: id.into(),
            service: format!("{dest}-sidecar-proxy").into(),
            port,
            kind: "connect-proxy".into(),
            extra: [(
                "Proxy".to_owned(),
                json!({"DestinationServiceName": dest, "DestinationServiceID": dest,
                       "LocalServicePort": 8080, "Upstreams": upstreams}),
            )]
            .into(),
            ..ServiceInstance::default()
        }
    }

    fn register(
        store: &mut Store,
        index: u64,
        node: &str,
        svc: ServiceInstance,
        status: CheckStatus,
    ) {
        let check = Check {
            node: node.into(),
            check_id: format!("{}-check", svc.id).into(),
            status,
            service_id: svc.id.clone(),
            service_name: svc.service.clone(),
            ..Check::default()
        };
        let reg = Registration {
            node: Node {
                node: node.into(),
                address: format!("10.0.0.{index}").into(),
                ..Node::default()
            },
            skip_node_update: false,
            service: Some(svc),
            checks: vec![check],
        };
        apply(store, index, Op::Register(Box::new(reg)));
    }

    fn store() -> Store {
        let mut s = Store::new();
        let ca = CaState {
            cluster_id: "11111111-2222-3333-4444-555555555555".into(),
            provider: "consul".into(),
            config: json!({}),
            roots: vec![
                json!({"ID": "old", "Active": false, "RootCert": "OLD"}),
                json!({"ID": "new", "Active": true, "RootCert": "NEW"}),
            ],
            create_index: 0,
            modify_index: 0,
        };
        apply(
            &mut s,
            1,
            Op::ConnectCaSet {
                ca: Box::new(ca),
                cas: None,
            },
        );
        let upstreams = json!([{"DestinationName": "api", "LocalBindPort": 9191}]);
        register(
            &mut s,
            2,
            "n1",
            proxy("web-sidecar-proxy", "web", 21000, upstreams),
            CheckStatus::Passing,
        );
        register(
            &mut s,
            3,
            "n2",
            proxy("api-sidecar-proxy", "api", 21001, json!([])),
            CheckStatus::Passing,
        );
        register(
            &mut s,
            4,
            "n3",
            proxy("api-sidecar-proxy", "api", 21001, json!([])),
            CheckStatus::Critical,
        );
        apply(
            &mut s,
            5,
            Op::ConfigEntrySet {
                kind: "service-intentions".into(),
                name: "web".into(),
                entry: json!({"Kind": "service-intentions", "Name": "web",
                              "Sources": [{"Name": "*", "Action": "deny", "Precedence": 8},
                                          {"Name": "frontend", "Action": "allow", "Precedence": 9}]}),
                cas: None,
            },
        );
        s
    }

    fn settings() -> Settings {
        Settings {
            datacenter: "dc1".into(),
            default_allow: false,
        }
    }

    #[test]
    fn a_sidecar_snapshot_has_its_chain_endpoints_roots_and_intentions() {
        let s = store();
        let (_, web) = s.node("n1");
        let web_proxy = web.expect("n1").1.remove(0);
        let snap = build(&s, &web_proxy, LeafCert::default(), &settings()).expect("snapshot");
        assert_eq!(snap.destination, "web");
        assert_eq!(
            (snap.bind_address.as_str(), snap.bind_port),
            ("0.0.0.0", 21000)
        );
        assert_eq!(
            (snap.local_service_address.as_str(), snap.local_service_port),
            ("127.0.0.1", 8080)
        );
        assert_eq!(snap.protocol, "tcp");
        assert_eq!(snap.roots, vec!["NEW", "OLD"], "active root first");
        assert_eq!(
            snap.trust_domain,
            "11111111-2222-3333-4444-555555555555.consul"
        );
        let sources: Vec<&str> = snap
            .intentions
            .iter()
            .map(|i| i.source_name.as_str())
            .collect();
        assert_eq!(sources, vec!["frontend", "*"], "by precedence");
        assert_eq!(snap.upstreams.len(), 1);
        let up = &snap.upstreams[0];
        assert_eq!((up.envoy_id.as_str(), up.local_bind_port), ("api", 9191));
        let target = up.chain.targets.values().next().expect("a target");
        assert_eq!(
            target.sni,
            "api.default.dc1.internal.11111111-2222-3333-4444-555555555555.consul"
        );
        let eps = &snap.endpoints[&target.id];
        let health: Vec<(&str, EndpointHealth)> =
            eps.iter().map(|e| (e.node.as_str(), e.health)).collect();
        assert_eq!(
            health,
            vec![
                ("n2", EndpointHealth::Healthy),
                ("n3", EndpointHealth::Unhealthy)
            ]
        );
        assert_eq!((eps[0].address.as_str(), eps[0].port), ("10.0.0.3", 21001));
    }

    #[test]
    fn cached_endpoints_follow_the_service_index() {
        let mut s = store();
        let (_, web) = s.node("n1");
        let web_proxy = web.expect("n1").1.remove(0);
        let cache = EndpointCache::default();
        let count = |s: &Store| {
            let snap = build_cached(s, &web_proxy, LeafCert::default(), &settings(), &cache)
                .expect("snapshot");
            snap.endpoints.values().map(Vec::len).sum::<usize>()
        };
        assert_eq!(count(&s), 2);
        assert_eq!(count(&s), 2, "served from the cache");
        let third = proxy("api-sidecar-proxy-2", "api", 21002, json!([]));
        register(&mut s, 6, "n4", third, CheckStatus::Passing);
        assert_eq!(count(&s), 3, "a new api proxy invalidates api's entry");
        let before = cache.inner.lock().expect("cache").clone();
        let other = proxy("db-sidecar-proxy", "db", 21003, json!([]));
        register(&mut s, 7, "n5", other, CheckStatus::Passing);
        assert_eq!(count(&s), 3);
        let after = cache.inner.lock().expect("cache").clone();
        assert_eq!(
            before, after,
            "a write to another service keeps api's entry"
        );
    }

    #[test]
    fn a_plain_service_is_not_a_proxy() {
        let s = store();
        let plain = ServiceInstance {
            id: "web".into(),
            service: "web".into(),
            ..ServiceInstance::default()
        };
        assert_eq!(
            build(&s, &plain, LeafCert::default(), &settings()),
            Err(Error::NotAProxy("web".into()))
        );
        assert_eq!(
            build(
                &Store::new(),
                &proxy("p", "web", 1, json!([])),
                LeafCert::default(),
                &settings()
            ),
            Err(Error::NoCa)
        );
    }
}
