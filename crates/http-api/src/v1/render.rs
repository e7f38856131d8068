//! Consul's JSON shapes of skein's records.

use base64::Engine;
use serde_json::{Value, json};
use skein_types::{Check, KvEntry, Node, ServiceInstance, Session, SessionBehavior};

fn b64(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        Value::Null
    } else {
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// A KV entry (`Value` is base64 or null; `Session` only while locked).
pub(crate) fn kv_entry(e: &KvEntry) -> Value {
    let mut v = json!({
        "LockIndex": e.lock_index,
        "Key": e.key,
        "Flags": e.flags,
        "Value": b64(&e.value),
        "CreateIndex": e.create_index,
        "ModifyIndex": e.modify_index,
    });
    if let (Some(s), Some(obj)) = (&e.session, v.as_object_mut()) {
        obj.insert("Session".into(), json!(s));
    }
    v
}

/// A session.
pub(crate) fn session(s: &Session) -> Value {
    let behavior = match s.behavior {
        SessionBehavior::Release => "release",
        SessionBehavior::Delete => "delete",
    };
    let service_checks: Vec<Value> = s
        .service_checks
        .iter()
        .map(|id| json!({"ID": id, "Namespace": ""}))
        .collect();
    json!({
        "ID": s.id,
        "Name": s.name,
        "Node": s.node,
        "LockDelay": s.lock_delay_ns,
        "Behavior": behavior,
        "TTL": s.ttl,
        "NodeChecks": s.node_checks,
        "ServiceChecks": if service_checks.is_empty() { Value::Null } else { Value::Array(service_checks) },
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// A node.
pub(crate) fn node(n: &Node) -> Value {
    json!({
        "ID": n.id,
        "Node": n.node,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": n.tagged_addresses,
        "Meta": n.meta,
        "CreateIndex": n.create_index,
        "ModifyIndex": n.modify_index,
    })
}

fn extra(s: &ServiceInstance, key: &str, default: Value) -> Value {
    s.extra.get(key).cloned().unwrap_or(default)
}

/// A service as `/v1/agent/services` and `health/service` show it.
pub(crate) fn service(s: &ServiceInstance, datacenter: &str) -> Value {
    let mut v = service_fields(s, datacenter);
    if let (Some(locality), Some(obj)) = (s.extra.get("Locality"), v.as_object_mut()) {
        obj.insert("Locality".into(), locality.clone());
    }
    v
}

/// A service as `/v1/agent/services` shows it: empty optional fields left out.
pub(crate) fn agent_service(s: &ServiceInstance, datacenter: &str) -> Value {
    let mut v = json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Meta": s.meta,
        "Port": s.port,
        "Address": s.address,
        "Weights": extra(s, "Weights", json!({"Passing": 1, "Warning": 1})),
        "EnableTagOverride": extra(s, "EnableTagOverride", json!(false)),
        "Datacenter": datacenter,
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if !s.kind.is_empty() {
        obj.insert("Kind".into(), json!(s.kind));
    }
    for key in ["TaggedAddresses", "Proxy", "Connect", "Locality"] {
        match s.extra.get(key) {
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(val) => {
                obj.insert(key.into(), val.clone());
            }
            None => {}
        }
    }
    v
}

fn service_fields(s: &ServiceInstance, datacenter: &str) -> Value {
    json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Address": s.address,
        "TaggedAddresses": extra(s, "TaggedAddresses", json!({})),
        "Meta": s.meta,
        "Port": s.port,
        "Weights": extra(s, "Weights", json!({"Passing": 1, "Warning": 1})),
        "EnableTagOverride": extra(s, "EnableTagOverride", json!(false)),
        "Kind": s.kind,
        "Proxy": extra(s, "Proxy", json!({"Mode": "", "MeshGateway": {}, "Expose": {}})),
        "Connect": extra(s, "Connect", json!({})),
        "PeerName": "",
        "Datacenter": datacenter,
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// A `/v1/catalog/service/:name` row.
pub(crate) fn catalog_service(n: &Node, s: &ServiceInstance) -> Value {
    json!({
        "ID": n.id,
        "Node": n.node,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": n.tagged_addresses,
        "NodeMeta": n.meta,
        "ServiceKind": s.kind,
        "ServiceID": s.id,
        "ServiceName": s.service,
        "ServiceTags": s.tags,
        "ServiceAddress": s.address,
        "ServiceTaggedAddresses": extra(s, "TaggedAddresses", json!({})),
        "ServiceWeights": extra(s, "Weights", json!({"Passing": 1, "Warning": 1})),
        "ServiceMeta": s.meta,
        "ServicePort": s.port,
        "ServiceEnableTagOverride": extra(s, "EnableTagOverride", json!(false)),
        "ServiceProxy": extra(s, "Proxy", json!({"Mode": "", "MeshGateway": {}, "Expose": {}})),
        "ServiceConnect": extra(s, "Connect", json!({})),
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// A check.
pub(crate) fn check(c: &Check) -> Value {
    json!({
        "Node": c.node,
        "CheckID": c.check_id,
        "Name": c.name,
        "Status": c.status.as_str(),
        "Notes": c.notes,
        "Output": c.output,
        "ServiceID": c.service_id,
        "ServiceName": c.service_name,
        "ServiceTags": c.service_tags,
        "Type": c.check_type,
        "Interval": c.interval,
        "Timeout": c.timeout,
        "ExposedPort": 0,
        "Definition": {},
        "CreateIndex": c.create_index,
        "ModifyIndex": c.modify_index,
    })
}
