//! The Connect CA on the leader: when connect is enabled and the cluster has
//! no CA yet, the leader creates the cluster id and the first root
//! (skein-ca) and proposes them. Check-and-set on "no CA" makes a second
//! leader racing to do the same lose.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};
use skein_ca::{
    Authority, CsrLimiter, CsrLimits, IssuedCert, KeyConfig, KeyType, Root, RootOptions, SecretPem,
    SignRequest, TrustDomain,
};
use skein_raft::{Raft, SharedStore};
use skein_state::{CaState, Command, Op, Topic};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Pause after a failed attempt to create the CA.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

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

/// A new CA: a fresh cluster id and one active root made with `overrides`
/// (config-file or API key names) over the defaults.
pub(crate) fn new_ca(
    overrides: &Map<String, Value>,
    now: SystemTime,
) -> Result<CaState, skein_ca::Error> {
    let mut config = default_ca_config();
    config.extend(overrides.iter().map(|(k, v)| (api_key(k), v.clone())));
    let config = Value::Object(config);
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
        config,
        signing_keys: [(root.id.clone(), generated.signing_key.expose().to_owned())].into(),
        roots: vec![root_json],
        create_index: 0,
        modify_index: 0,
    })
}

/// Runs on every server; acts while this one leads and there is no CA.
/// Woken by leadership changes (server metrics: state, leader, membership,
/// not every commit) and by writes to the CA (a restore may remove it).
pub(crate) fn spawn_initializer(
    raft: Raft,
    store: SharedStore,
    ca_config: Map<String, Value>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut leadership = raft.server_metrics();
        loop {
            // The server metrics are sent before the full metrics, so the
            // leadership is read from the channel that woke us.
            let leader = leadership.borrow_and_update().state == openraft::ServerState::Leader;
            if let Err(e) = create_if_missing(leader, &raft, &store, &ca_config).await {
                warn!(error = %e, "cannot create the Connect CA");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
                continue;
            }
            let Ok(ca_written) = store.read().map(|s| s.watch(&[Topic::ConnectCa])) else {
                return;
            };
            tokio::select! {
                changed = leadership.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = ca_written => {}
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
    create_if_missing(leader, raft, store, ca_config).await
}

/// Creates the CA when `leader` and there is none yet.
async fn create_if_missing(
    leader: bool,
    raft: &Raft,
    store: &SharedStore,
    ca_config: &Map<String, Value>,
) -> Result<(), String> {
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

/// Signs leaf CSRs with the active root on the leader, within the CA's
/// `CSRMaxPerSecond` / `CSRMaxConcurrent` limits.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    limiter: CsrLimiter,
}

// === impl Signer ===

impl Signer {
    pub(crate) fn new() -> Self {
        Self {
            limiter: CsrLimiter::new(CsrLimits::default()),
        }
    }

    /// Signs `csr_pem` for `datacenter`, or says why not.
    pub(crate) async fn sign(
        &self,
        store: &SharedStore,
        datacenter: &str,
        csr_pem: &str,
    ) -> Result<IssuedCert, SignError> {
        let ca = store
            .read()
            .map_err(|_| SignError::Failed("state store poisoned".into()))?
            .connect_ca()
            .cloned()
            .ok_or_else(|| SignError::Failed("CA has not finished initializing".into()))?;
        self.limiter.set_limits(limits(&ca.config));
        let permit = self
            .limiter
            .acquire(Instant::now())
            .map_err(|_| SignError::RateLimited)?;
        tokio::time::sleep(permit.wait()).await;
        let authority = authority(&ca)?;
        let serial = skein_ca::random_serial().map_err(|e| SignError::Failed(e.to_string()))?;
        let mut request = SignRequest::new(csr_pem, datacenter, serial, SystemTime::now());
        if let Some(ttl) = duration_setting(&ca.config, "LeafCertTTL") {
            request.leaf_ttl = ttl;
        }
        let mut cert = authority
            .sign_csr(&request)
            .map_err(|e| SignError::Invalid(e.to_string()))?;
        cert.create_index = ca.modify_index;
        cert.modify_index = ca.modify_index;
        drop(permit);
        Ok(cert)
    }
}

/// Why a CSR was not signed.
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

/// The signing authority of the active root.
fn authority(ca: &CaState) -> Result<Authority, SignError> {
    let failed = |e: &dyn std::fmt::Display| SignError::Failed(format!("CA: {e}"));
    let root_json = ca.active_root().ok_or_else(|| failed(&"no active root"))?;
    let root: Root = serde_json::from_value(root_json.clone()).map_err(|e| failed(&e))?;
    let key = ca
        .signing_keys
        .get(&root.id)
        .ok_or_else(|| failed(&"the active root has no signing key here"))?;
    let td = TrustDomain::for_cluster(&ca.cluster_id).map_err(|e| failed(&e))?;
    Authority::from_root(&td, &root, &SecretPem::new(key.clone())).map_err(|e| failed(&e))
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
/// cross-signed by the old one so that leaves of both verify meanwhile;
/// roots rotated out more than twice the leaf TTL ago are pruned.
pub(crate) fn reconfigure(
    current: &CaState,
    provider: &str,
    given: &Map<String, Value>,
    now: SystemTime,
) -> Result<CaState, SignError> {
    if provider != "consul" {
        return Err(SignError::Invalid(format!(
            "unknown CA provider {provider:?}"
        )));
    }
    let mut next = current.clone();
    let mut config = current.config.as_object().cloned().unwrap_or_default();
    config.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    next.config = Value::Object(config);
    if key_config(&next.config) != key_config(&current.config) {
        rotate_root(&mut next, now)?;
    }
    Ok(next)
}

/// Replaces the active root with a new one made with the key its
/// configuration now asks for.
fn rotate_root(ca: &mut CaState, now: SystemTime) -> Result<(), SignError> {
    let failed = |e: &dyn std::fmt::Display| SignError::Failed(format!("CA rotation: {e}"));
    let invalid = |e: &dyn std::fmt::Display| SignError::Invalid(e.to_string());
    let old = authority(ca)?;
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
    let new_id = generated.root.id.clone();
    let rotated =
        skein_ca::rotate(&roots, &old, generated.root, serial, now).map_err(|e| failed(&e))?;
    let leaf_ttl =
        duration_setting(&ca.config, "LeafCertTTL").unwrap_or(skein_ca::DEFAULT_LEAF_CERT_TTL);
    let kept = skein_ca::prune(&rotated, leaf_ttl, now);
    ca.signing_keys
        .insert(new_id, generated.signing_key.expose().to_owned());
    ca.signing_keys
        .retain(|id, _| kept.iter().any(|r| &r.id == id));
    ca.roots = kept
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| failed(&e)))
        .collect::<Result<_, _>>()?;
    info!(
        new_root = ca.active_root_id().unwrap_or_default(),
        "rotated the Connect CA root"
    );
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
    fn a_key_change_rotates_to_a_cross_signed_root_and_keeps_the_old_one() {
        let now = SystemTime::now();
        let ca = new_ca(&Map::new(), now).expect("ca");
        let old_id = ca.active_root().expect("root")["ID"].clone();
        let same = reconfigure(
            &ca,
            "consul",
            &Map::from_iter([("LeafCertTTL".into(), json!("24h"))]),
            now,
        )
        .expect("config change");
        assert_eq!(same.roots, ca.roots, "no rotation without a key change");
        let bits = Map::from_iter([("PrivateKeyBits".into(), json!(384))]);
        let rotated = reconfigure(&ca, "consul", &bits, now).expect("rotation");
        assert_eq!(rotated.roots.len(), 2);
        let active = rotated.active_root().expect("active");
        assert_ne!(active["ID"], old_id);
        assert_eq!(
            active["IntermediateCerts"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(rotated.signing_keys.len(), 2);
        assert!(reconfigure(&ca, "vault", &Map::new(), now).is_err());
    }

    #[test]
    fn operator_settings_override_the_defaults() {
        let mut overrides = Map::new();
        overrides.insert("LeafCertTTL".into(), json!("24h"));
        overrides.insert("csr_max_per_second".into(), json!(10));
        let ca = new_ca(&overrides, SystemTime::now()).expect("ca");
        assert_eq!(ca.config["LeafCertTTL"], "24h");
        assert_eq!(
            ca.config["CSRMaxPerSecond"], 10,
            "config-file keys become API keys"
        );
        assert_eq!(ca.config["RotationPeriod"], "2160h");
    }
}
