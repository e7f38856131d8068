//! `Connect.SidecarService`: a service registered with a sidecar block also
//! registers its mesh proxy, `<id>-sidecar-proxy`, filled in from the
//! parent the way Consul does.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use skein_config::{
    CheckDefinition, CheckKind, DEFAULT_OUTPUT_MAX_SIZE, ServiceDefinition, json_field as get,
};

const SIDECAR_SUFFIX: &str = "-sidecar-proxy";

/// Takes the sidecar block out of `parent` and returns the sidecar's
/// definition, if there was one.
pub(crate) fn split(
    parent: &mut ServiceDefinition,
    used_ports: &BTreeSet<u16>,
    ports: &std::ops::RangeInclusive<u16>,
) -> Result<Option<ServiceDefinition>, String> {
    let Some(Value::Object(connect)) = parent.extra.get_mut("Connect") else {
        return Ok(None);
    };
    let key = connect
        .keys()
        .find(|k| k.replace('_', "").eq_ignore_ascii_case("sidecarservice"))
        .cloned();
    let Some(block) = key.and_then(|k| connect.remove(&k)) else {
        return Ok(None);
    };
    let block = block.as_object().cloned().unwrap_or_default();
    let mut raw = block.clone();
    raw.entry("Name")
        .or_insert_with(|| json!(format!("{}{SIDECAR_SUFFIX}", parent.name)));
    let mut sidecar = ServiceDefinition::from_json(&Value::Object(raw))
        .map_err(|e| format!("sidecar_service: {e}"))?;
    if get(&block, "ID").is_none() {
        sidecar.id = format!("{}{SIDECAR_SUFFIX}", parent.id);
    }
    sidecar.kind = "connect-proxy".into();
    if sidecar.port == 0 {
        sidecar.port = ports
            .clone()
            .find(|p| !used_ports.contains(p))
            .ok_or("no free sidecar port")?;
    }
    if sidecar.address.is_empty() {
        sidecar.address.clone_from(&parent.address);
    }
    if get(&block, "Tags").is_none() {
        sidecar.tags.clone_from(&parent.tags);
    }
    if get(&block, "Meta").is_none() {
        sidecar.meta.clone_from(&parent.meta);
    }
    sidecar
        .extra
        .insert("Proxy".into(), proxy(parent, get(&block, "Proxy")));
    if sidecar.checks.is_empty() {
        sidecar.checks.push(listening_check(&sidecar));
    }
    Ok(Some(sidecar))
}

/// The parent a sidecar id belongs to, by Consul's naming.
pub(crate) fn sidecar_id(parent_id: &str) -> String {
    format!("{parent_id}{SIDECAR_SUFFIX}")
}

fn proxy(parent: &ServiceDefinition, given: Option<&Value>) -> Value {
    let mut p = given
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    p.entry("DestinationServiceName")
        .or_insert_with(|| json!(parent.name));
    p.entry("DestinationServiceID")
        .or_insert_with(|| json!(parent.id));
    p.entry("LocalServiceAddress")
        .or_insert_with(|| json!("127.0.0.1"));
    p.entry("LocalServicePort")
        .or_insert_with(|| json!(parent.port));
    p.entry("Mode").or_insert_with(|| json!(""));
    p.entry("MeshGateway").or_insert_with(|| json!({}));
    p.entry("Expose").or_insert_with(|| json!({}));
    Value::Object(p)
}

fn listening_check(sidecar: &ServiceDefinition) -> CheckDefinition {
    let host = if sidecar.address.is_empty() {
        "127.0.0.1"
    } else {
        &sidecar.address
    };
    let interval = Duration::from_secs(10);
    CheckDefinition {
        id: format!("service:{}:1", sidecar.id),
        name: "Connect Sidecar Listening".into(),
        notes: String::new(),
        service_id: sidecar.id.clone(),
        status: None,
        kind: CheckKind::Tcp(format!("{host}:{}", sidecar.port)),
        interval: Some(interval),
        timeout: None,
        success_before_passing: 0,
        failures_before_warning: 0,
        failures_before_critical: 0,
        deregister_critical_service_after: None,
        output_max_size: DEFAULT_OUTPUT_MAX_SIZE,
        interval_text: "10s".into(),
        timeout_text: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_block_becomes_a_proxy_registration() {
        let mut parent = ServiceDefinition::from_json(&json!({
            "Name": "web", "Port": 8080, "Tags": ["v1"], "Connect": {"sidecar_service": {}}
        }))
        .unwrap();
        let used = BTreeSet::from([21000]);
        let sidecar = split(&mut parent, &used, &(21000..=21255))
            .unwrap()
            .unwrap();
        assert_eq!(
            (sidecar.id.as_str(), sidecar.name.as_str()),
            ("web-sidecar-proxy", "web-sidecar-proxy")
        );
        assert_eq!(
            (sidecar.kind.as_str(), sidecar.port),
            ("connect-proxy", 21001)
        );
        assert_eq!(sidecar.tags, vec!["v1"]);
        assert_eq!(sidecar.extra["Proxy"]["DestinationServiceID"], "web");
        assert_eq!(sidecar.extra["Proxy"]["LocalServicePort"], 8080);
        assert_eq!(
            sidecar.checks[0].kind,
            CheckKind::Tcp("127.0.0.1:21001".into())
        );
        assert_eq!(
            parent.extra["Connect"],
            json!({}),
            "the block is taken out of the parent"
        );
    }

    #[test]
    fn sidecar_ports_come_from_the_configured_range_and_run_out() {
        let parent = || {
            ServiceDefinition::from_json(&json!({
                "Name": "api", "Port": 9090, "Connect": {"sidecar_service": {}}
            }))
            .unwrap()
        };
        let sidecar = split(&mut parent(), &BTreeSet::new(), &(22000..=22001))
            .unwrap()
            .unwrap();
        assert_eq!(sidecar.port, 22000);
        let full = BTreeSet::from([22000, 22001]);
        let err = split(&mut parent(), &full, &(22000..=22001)).unwrap_err();
        assert!(err.contains("no free sidecar port"), "{err}");
    }
}
