//! The Connect CA on the servers. When connect is enabled and the cluster
//! has no CA yet, the leader creates the cluster id and the first root
//! (skein-ca) and proposes them; check-and-set on "no CA" makes a second
//! leader racing to do the same lose.
//!
//! The replicated state holds the roots but not their private keys, because
//! client agents receive the state as Raft learners. Each server keeps the
//! keys it knows in [`keys::CaKeys`]; the leader hands a new root's key to
//! every voter before it proposes the root, and a server that leads without
//! the key asks the other voters for it ([`runtime::ConnectCa`]).
//!
//! This module holds the pure parts: making and reconfiguring a CA.

mod keys;
mod runtime;

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use skein_ca::{
    Authority, CsrLimits, KeyConfig, KeyType, Root, RootOptions, SecretPem, TrustDomain,
};
use skein_state::CaState;
use tracing::info;

pub(crate) use keys::CaKeys;
pub(crate) use runtime::{ConnectCa, spawn_initializer};

/// The built-in provider's settings before the operator changes any.
pub(crate) fn default_ca_config() -> Map<String, Value> {
    let defaults = json!({
        "LeafCertTTL": "72h",
        "IntermediateCertTTL": "8760h",
        "RootCertTTL": "87600h",
        "RotationPeriod": "2160h",
        "PrivateKeyType": "ec",
        "PrivateKeyBits": 256,
        "CSRMaxPerSecond": 50,
        "CSRMaxConcurrent": 0,
    });
    match defaults {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The key a root gets from the CA configuration.
fn key_config(config: &Value) -> KeyConfig {
    let key_type = match config.get("PrivateKeyType").and_then(Value::as_str) {
        Some("rsa") => KeyType::Rsa,
        _ => KeyType::Ec,
    };
    let default_bits = if key_type == KeyType::Rsa { 2048 } else { 256 };
    let bits = config
        .get("PrivateKeyBits")
        .and_then(Value::as_u64)
        .and_then(|b| u32::try_from(b).ok())
        .unwrap_or(default_bits);
    KeyConfig { key_type, bits }
}

/// `connect.ca_config` keys as config files write them, and the names the
/// CA configuration API uses.
const CA_CONFIG_KEYS: [(&str, &str); 10] = [
    ("leaf_cert_ttl", "LeafCertTTL"),
    ("intermediate_cert_ttl", "IntermediateCertTTL"),
    ("root_cert_ttl", "RootCertTTL"),
    ("rotation_period", "RotationPeriod"),
    ("private_key_type", "PrivateKeyType"),
    ("private_key_bits", "PrivateKeyBits"),
    ("csr_max_per_second", "CSRMaxPerSecond"),
    ("csr_max_concurrent", "CSRMaxConcurrent"),
    ("private_key", "PrivateKey"),
    ("root_cert", "RootCert"),
];

/// The API's name for a `connect.ca_config` key (unknown keys unchanged).
fn api_key(key: &str) -> String {
    CA_CONFIG_KEYS
        .iter()
        .find(|(file, _)| *file == key)
        .map_or_else(|| key.to_owned(), |(_, api)| (*api).to_owned())
}

/// A root made here, with the private key that stays on the servers.
#[derive(Debug, Clone)]
pub(crate) struct NewRoot {
    /// The root's `ID`.
    pub(crate) id: String,
    /// Its signing key, PKCS#8 PEM.
    pub(crate) key_pem: String,
}

/// A new CA: a fresh cluster id and one active root made with `overrides`
/// (config-file or API key names) over the defaults.
pub(crate) fn new_ca(
    overrides: &Map<String, Value>,
    now: SystemTime,
) -> Result<(CaState, NewRoot), skein_ca::Error> {
    let mut config = default_ca_config();
    config.extend(overrides.iter().map(|(k, v)| (api_key(k), v.clone())));
    let config = Value::Object(config);
    let cluster_id = uuid::Uuid::new_v4().to_string();
    let mut ca = CaState {
        cluster_id,
        provider: "consul".into(),
        config,
        roots: Vec::new(),
        create_index: 0,
        modify_index: 0,
    };
    let root = fresh_root(&mut ca, now)?;
    Ok((ca, root))
}

/// Makes a new root with the key the configuration asks for, not
/// cross-signed, and makes it the only active one.
fn fresh_root(ca: &mut CaState, now: SystemTime) -> Result<NewRoot, skein_ca::Error> {
    let mut opts = RootOptions::new(&ca.cluster_id, skein_ca::random_serial()?);
    opts.key = key_config(&ca.config);
    let generated = skein_ca::generate_root(&opts, now)?;
    let mut root = generated.root;
    root.active = true;
    for old in &mut ca.roots {
        if let Some(o) = old.as_object_mut() {
            o.insert("Active".into(), Value::Bool(false));
        }
    }
    ca.roots
        .push(serde_json::to_value(&root).unwrap_or(Value::Null));
    Ok(NewRoot {
        id: root.id,
        key_pem: generated.signing_key.expose().to_owned(),
    })
}

/// Why a CSR was not signed or the CA not changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Over the CA's CSR rate or concurrency limit.
    #[error("{}", skein_types::wire::RATE_LIMITED)]
    RateLimited,
    /// The CSR is malformed or asks for an identity this CA does not issue.
    #[error("{0}")]
    Invalid(String),
    /// The CA cannot sign now.
    #[error("{0}")]
    Failed(String),
}

/// The signing authority of the active root, with its key.
fn authority(ca: &CaState, key_pem: &str) -> Result<Authority, SignError> {
    let failed = |e: &dyn std::fmt::Display| SignError::Failed(format!("CA: {e}"));
    let root_json = ca.active_root().ok_or_else(|| failed(&"no active root"))?;
    let root: Root = serde_json::from_value(root_json.clone()).map_err(|e| failed(&e))?;
    let td = TrustDomain::for_cluster(&ca.cluster_id).map_err(|e| failed(&e))?;
    Authority::from_root(&td, &root, &SecretPem::new(key_pem.to_owned())).map_err(|e| failed(&e))
}

/// The CSR limits in a CA configuration (Consul's defaults when unset).
fn limits(config: &Value) -> CsrLimits {
    let mut limits = CsrLimits::default();
    if let Some(rate) = config.get("CSRMaxPerSecond").and_then(Value::as_f64) {
        limits.max_per_second = rate;
    }
    if let Some(max) = config
        .get("CSRMaxConcurrent")
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
    {
        limits.max_concurrent = max;
    }
    limits
}

/// A Go duration setting (`"72h"`), if present and valid.
fn duration_setting(config: &Value, key: &str) -> Option<Duration> {
    let text = config.get(key)?.as_str()?;
    skein_config::parse_go_duration(text).ok()
}

/// The CA after `PUT /v1/connect/ca/configuration`: `given` settings over
/// the current ones. A change of key type or size rotates to a new root,
/// cross-signed by the old one (whose key is `active_key`) so that leaves
/// of both verify meanwhile; roots rotated out more than twice the leaf TTL
/// ago are pruned.
pub(crate) fn reconfigure(
    current: &CaState,
    active_key: &str,
    provider: &str,
    given: &Map<String, Value>,
    now: SystemTime,
) -> Result<(CaState, Option<NewRoot>), SignError> {
    if provider != "consul" {
        return Err(SignError::Invalid(format!(
            "unknown CA provider {provider:?}"
        )));
    }
    let mut next = current.clone();
    let mut config = current.config.as_object().cloned().unwrap_or_default();
    config.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    next.config = Value::Object(config);
    if key_config(&next.config) == key_config(&current.config) {
        return Ok((next, None));
    }
    let root = rotate_root(&mut next, active_key, now)?;
    Ok((next, Some(root)))
}

/// Replaces the active root with a new one made with the key its
/// configuration now asks for, cross-signed by the old one.
fn rotate_root(ca: &mut CaState, active_key: &str, now: SystemTime) -> Result<NewRoot, SignError> {
    let failed = |e: &dyn std::fmt::Display| SignError::Failed(format!("CA rotation: {e}"));
    let invalid = |e: &dyn std::fmt::Display| SignError::Invalid(e.to_string());
    let old = authority(ca, active_key)?;
    let mut opts = RootOptions::new(
        &ca.cluster_id,
        skein_ca::random_serial().map_err(|e| failed(&e))?,
    );
    opts.key = key_config(&ca.config);
    let generated = skein_ca::generate_root(&opts, now).map_err(|e| invalid(&e))?;
    let roots: Vec<Root> = ca
        .roots
        .iter()
        .map(|r| serde_json::from_value(r.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| failed(&e))?;
    let serial = skein_ca::random_serial().map_err(|e| failed(&e))?;
    let new_root = NewRoot {
        id: generated.root.id.clone(),
        key_pem: generated.signing_key.expose().to_owned(),
    };
    let rotated =
        skein_ca::rotate(&roots, &old, generated.root, serial, now).map_err(|e| failed(&e))?;
    let leaf_ttl =
        duration_setting(&ca.config, "LeafCertTTL").unwrap_or(skein_ca::DEFAULT_LEAF_CERT_TTL);
    let kept = skein_ca::prune(&rotated, leaf_ttl, now);
    ca.roots = kept
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| failed(&e)))
        .collect::<Result<_, _>>()?;
    info!(new_root = %new_root.id, "rotated the Connect CA root");
    Ok(new_root)
}

/// The roots' IDs, for pruning keys of roots no longer listed.
pub(crate) fn root_ids(ca: &CaState) -> Vec<&str> {
    ca.roots
        .iter()
        .filter_map(|r| r.get("ID").and_then(Value::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ca_has_one_active_root_with_its_key() {
        let (ca, key) = new_ca(&Map::new(), SystemTime::now()).expect("ca");
        let root = ca.active_root().expect("active root");
        assert_eq!(root["ID"].as_str(), Some(key.id.as_str()));
        assert!(key.key_pem.contains("PRIVATE KEY"));
        assert!(
            !serde_json::to_string(&ca)
                .expect("json")
                .contains("PRIVATE KEY"),
            "the replicated state carries no private key"
        );
        assert!(
            root["RootCert"]
                .as_str()
                .expect("pem")
                .contains("BEGIN CERTIFICATE")
        );
        assert_eq!(ca.config["LeafCertTTL"], "72h");
        assert!(ca.trust_domain().ends_with(".consul"));
    }

    #[test]
    fn a_key_change_rotates_to_a_cross_signed_root_and_keeps_the_old_one() {
        let now = SystemTime::now();
        let (ca, key) = new_ca(&Map::new(), now).expect("ca");
        let old_id = ca.active_root().expect("root")["ID"].clone();
        let (same, none) = reconfigure(
            &ca,
            &key.key_pem,
            "consul",
            &Map::from_iter([("LeafCertTTL".into(), json!("24h"))]),
            now,
        )
        .expect("config change");
        assert_eq!(same.roots, ca.roots, "no rotation without a key change");
        assert!(none.is_none());
        let bits = Map::from_iter([("PrivateKeyBits".into(), json!(384))]);
        let (rotated, new_key) =
            reconfigure(&ca, &key.key_pem, "consul", &bits, now).expect("rotation");
        assert_eq!(rotated.roots.len(), 2);
        let active = rotated.active_root().expect("active");
        assert_ne!(active["ID"], old_id);
        assert_eq!(
            active["IntermediateCerts"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(active["ID"].as_str(), new_key.map(|k| k.id).as_deref());
        assert!(reconfigure(&ca, &key.key_pem, "vault", &Map::new(), now).is_err());
        assert!(
            reconfigure(&ca, "not a key", "consul", &bits, now).is_err(),
            "rotation needs the old key to cross-sign"
        );
    }

    #[test]
    fn operator_settings_override_the_defaults() {
        let mut overrides = Map::new();
        overrides.insert("LeafCertTTL".into(), json!("24h"));
        overrides.insert("csr_max_per_second".into(), json!(10));
        let (ca, _) = new_ca(&overrides, SystemTime::now()).expect("ca");
        assert_eq!(ca.config["LeafCertTTL"], "24h");
        assert_eq!(
            ca.config["CSRMaxPerSecond"], 10,
            "config-file keys become API keys"
        );
        assert_eq!(ca.config["RotationPeriod"], "2160h");
    }
}
