//! The Connect CA on the leader: when connect is enabled and the cluster has
//! no CA yet, the leader creates the cluster id and the first root
//! (skein-ca) and proposes them. Check-and-set on "no CA" makes a second
//! leader racing to do the same lose.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use skein_ca::{KeyConfig, KeyType, RootOptions};
use skein_raft::{Raft, SharedStore};
use skein_state::{CaState, Command, Op};
use tokio::task::JoinHandle;
use tracing::{info, warn};

const TICK: Duration = Duration::from_millis(200);

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
fn key_config(config: &Map<String, Value>) -> KeyConfig {
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

/// A new CA: a fresh cluster id and one active root made with `overrides`
/// over the defaults.
pub(crate) fn new_ca(
    overrides: &Map<String, Value>,
    now: SystemTime,
) -> Result<CaState, skein_ca::Error> {
    let mut config = default_ca_config();
    config.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let cluster_id = uuid::Uuid::new_v4().to_string();
    let mut opts = RootOptions::new(&cluster_id, skein_ca::random_serial()?);
    opts.key = key_config(&config);
    let generated = skein_ca::generate_root(&opts, now)?;
    let mut root = generated.root;
    root.active = true;
    let root_json = serde_json::to_value(&root).unwrap_or(Value::Null);
    Ok(CaState {
        cluster_id,
        provider: "consul".into(),
        config: Value::Object(config),
        signing_keys: [(root.id.clone(), generated.signing_key.expose().to_owned())].into(),
        roots: vec![root_json],
        create_index: 0,
        modify_index: 0,
    })
}

/// Runs on every server; acts while this one leads and there is no CA.
pub(crate) fn spawn_initializer(
    raft: Raft,
    store: SharedStore,
    ca_config: Map<String, Value>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TICK).await;
            if let Err(e) = ensure(&raft, &store, &ca_config).await {
                warn!(error = %e, "cannot create the Connect CA");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    })
}

/// Creates the CA if this server leads and there is none yet.
pub(crate) async fn ensure(
    raft: &Raft,
    store: &SharedStore,
    ca_config: &Map<String, Value>,
) -> Result<(), String> {
    let leader = raft.metrics().borrow().state == openraft::ServerState::Leader;
    let missing = store
        .read()
        .map(|s| s.connect_ca().is_none())
        .unwrap_or(false);
    if !leader || !missing {
        return Ok(());
    }
    let ca = new_ca(ca_config, SystemTime::now()).map_err(|e| e.to_string())?;
    let trust_domain = ca.trust_domain();
    let cmd = Command {
        at_ms: crate::server::now_ms(),
        op: Op::ConnectCaSet {
            ca: Box::new(ca),
            cas: Some(0),
        },
    };
    raft.client_write(cmd).await.map_err(|e| e.to_string())?;
    info!(%trust_domain, "created the Connect CA");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ca_has_one_active_root_with_its_key() {
        let ca = new_ca(&Map::new(), SystemTime::now()).expect("ca");
        let root = ca.active_root().expect("active root");
        let id = root["ID"].as_str().expect("ID");
        assert!(ca.signing_keys.contains_key(id));
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
    fn operator_settings_override_the_defaults() {
        let mut overrides = Map::new();
        overrides.insert("LeafCertTTL".into(), json!("24h"));
        let ca = new_ca(&overrides, SystemTime::now()).expect("ca");
        assert_eq!(ca.config["LeafCertTTL"], "24h");
        assert_eq!(ca.config["RotationPeriod"], "2160h");
    }
}
