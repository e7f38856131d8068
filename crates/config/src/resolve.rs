//! Turning the merged [`UserConfig`] into a [`RuntimeConfig`]: defaults,
//! derived values and cross-key validation.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::check;
use crate::defaults as d;
use crate::duration::DurationValue;
use crate::env::Environment;
use crate::error::{ConfigError, FieldError};
use crate::runtime::{
    AclConfig, AclTokens, Addresses, Autopilot, DnsConfig, Limits, Ports, RuntimeConfig, Soa,
    TlsConfig,
};
use crate::user::{UserAcl, UserAddresses, UserAutopilot, UserConfig, UserDns, UserPorts};

/// Origin used for problems found only after merging.
const MERGED: &str = "configuration";

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn set_dur(slot: &mut Duration, v: Option<DurationValue>) {
    if let Some(v) = v {
        *slot = v.0;
    }
}

fn port_or(key: &str, v: Option<i64>, default: i64) -> Result<Option<u16>, FieldError> {
    check::port(key, v.unwrap_or(default))
}

impl RuntimeConfig {
    /// Consul's non-dev defaults; `node_name` and `advertise_addr` are
    /// placeholders that [`resolve`] always replaces.
    pub(crate) fn base() -> Self {
        Self {
            dev: false,
            server: false,
            bootstrap: false,
            bootstrap_expect: 0,
            node_name: String::new(),
            node_id: None,
            node_meta: BTreeMap::new(),
            disable_host_node_id: false,
            datacenter: d::DATACENTER.to_string(),
            primary_datacenter: d::DATACENTER.to_string(),
            bind_addr: d::BIND_ADDR,
            advertise_addr: d::CLIENT_ADDR,
            client_addrs: vec![d::CLIENT_ADDR],
            addresses: Addresses::all(&[d::CLIENT_ADDR]),
            data_dir: None,
            pid_file: None,
            log_level: d::LOG_LEVEL,
            log_json: false,
            ports: Ports::base(),
            raft_multiplier: d::RAFT_MULTIPLIER,
            leave_drain_time: d::LEAVE_DRAIN_TIME,
            rpc_hold_timeout: d::RPC_HOLD_TIMEOUT,
            enable_script_checks: false,
            enable_local_script_checks: false,
            enable_debug: false,
            acl: AclConfig::base(),
            limits: Limits::base(),
            default_query_time: d::DEFAULT_QUERY_TIME,
            max_query_time: d::MAX_QUERY_TIME,
            domain: d::DOMAIN.to_string(),
            alt_domain: None,
            start_join: Vec::new(),
            start_join_wan: Vec::new(),
            retry_join: Vec::new(),
            retry_join_wan: Vec::new(),
            retry_interval: d::RETRY_INTERVAL,
            retry_interval_wan: d::RETRY_INTERVAL,
            retry_max: 0,
            retry_max_wan: 0,
            rejoin_after_leave: false,
            leave_on_terminate: true,
            skip_leave_on_interrupt: false,
            disable_update_check: false,
            disable_anonymous_signature: false,
            disable_remote_exec: true,
            default_intention_policy: None,
            disable_keyring_file: false,
            recursors: Vec::new(),
            encrypt: None,
            encrypt_verify_incoming: d::ENCRYPT_VERIFY,
            encrypt_verify_outgoing: d::ENCRYPT_VERIFY,
            services: Vec::new(),
            checks: Vec::new(),
            // Consul enables the service mesh on servers by default.
            connect_enabled: true,
            connect_ca_provider: None,
            connect_ca_config: Map::new(),
            peering_enabled: d::PEERING_ENABLED,
            session_ttl_min: d::SESSION_TTL_MIN,
            sync_coordinate_interval_min: d::SYNC_COORDINATE_INTERVAL_MIN,
            check_update_interval: d::CHECK_UPDATE_INTERVAL,
            reconnect_timeout: d::RECONNECT_TIMEOUT,
            reconnect_timeout_wan: d::RECONNECT_TIMEOUT,
            raft_snapshot_threshold: d::RAFT_SNAPSHOT_THRESHOLD,
            raft_snapshot_interval: d::RAFT_SNAPSHOT_INTERVAL,
            raft_trailing_logs: d::RAFT_TRAILING_LOGS,
            autopilot: Autopilot::base(),
            dns: DnsConfig::base(),
            ui: false,
            ui_dir: None,
            ui_content_path: d::UI_CONTENT_PATH.to_string(),
            segments: Vec::new(),
            telemetry: Map::new(),
            tls: TlsConfig::default(),
            experiments: Vec::new(),
        }
    }
}

/// Resolves the merged user configuration.
pub(crate) fn resolve(
    u: &UserConfig,
    dev: bool,
    env: &dyn Environment,
) -> Result<RuntimeConfig, ConfigError> {
    let mut c = RuntimeConfig::base();
    c.dev = dev;
    apply_identity(&mut c, u).map_err(|e| e.at(MERGED))?;
    apply_network(&mut c, u, env)?;
    apply_agent(&mut c, u).map_err(|e| e.at(MERGED))?;
    apply_cluster(&mut c, u);
    apply_features(&mut c, u);
    if let Some(acl) = &u.acl {
        c.acl.apply(acl);
    }
    if let Some(dns) = &u.dns_config {
        c.dns.apply(dns);
    }
    if let Some(a) = &u.autopilot {
        c.autopilot.apply(a);
    }
    validate(&c)?;
    Ok(c)
}

fn apply_identity(c: &mut RuntimeConfig, u: &UserConfig) -> Result<(), FieldError> {
    set(&mut c.server, u.server);
    set(&mut c.bootstrap, u.bootstrap);
    set(&mut c.bootstrap_expect, u.bootstrap_expect);
    if let Some(dc) = &u.datacenter {
        c.datacenter = check::datacenter("datacenter", dc)?;
    }
    c.primary_datacenter = match &u.primary_datacenter {
        Some(p) => check::datacenter("primary_datacenter", p)?,
        None => c.datacenter.clone(),
    };
    if let Some(name) = &u.node_name {
        c.node_name = name.clone();
    }
    c.node_id = u
        .node_id
        .as_deref()
        .map(|id| check::node_id("node_id", id))
        .transpose()?;
    set(&mut c.node_meta, u.node_meta.clone());
    set(&mut c.disable_host_node_id, u.disable_host_node_id);
    c.data_dir = u
        .data_dir
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    c.pid_file = u.pid_file.as_ref().map(PathBuf::from);
    if let Some(l) = &u.log_level {
        c.log_level = check::log_level("log_level", l)?;
    }
    set(&mut c.log_json, u.log_json);
    Ok(())
}

fn apply_network(
    c: &mut RuntimeConfig,
    u: &UserConfig,
    env: &dyn Environment,
) -> Result<(), ConfigError> {
    if u.node_name.is_none() {
        c.node_name = env.hostname().map_err(ConfigError::Hostname)?;
    }
    apply_addrs(c, u).map_err(|e| e.at(MERGED))?;
    c.advertise_addr = match &u.advertise_addr {
        Some(a) => check::ip("advertise_addr", a).map_err(|e| e.at(MERGED))?,
        None if !c.bind_addr.is_unspecified() => c.bind_addr,
        None if c.dev => d::DEV_BIND_ADDR,
        None => IpAddr::V4(env.private_ipv4().ok_or(ConfigError::NoPrivateIp)?),
    };
    Ok(())
}

fn apply_addrs(c: &mut RuntimeConfig, u: &UserConfig) -> Result<(), FieldError> {
    if let Some(b) = &u.bind_addr {
        c.bind_addr = check::ip("bind_addr", b)?;
    }
    if let Some(cl) = &u.client_addr {
        c.client_addrs = check::ips("client_addr", cl)?;
    }
    c.addresses = Addresses::resolve(u.addresses.as_ref(), &c.client_addrs)?;
    c.ports = Ports::resolve(u.ports.as_ref())?;
    Ok(())
}

fn apply_agent(c: &mut RuntimeConfig, u: &UserConfig) -> Result<(), FieldError> {
    if let Some(p) = &u.performance {
        if let Some(m) = p.raft_multiplier {
            c.raft_multiplier = check::raft_multiplier(m)?;
        }
        set_dur(&mut c.leave_drain_time, p.leave_drain_time);
        set_dur(&mut c.rpc_hold_timeout, p.rpc_hold_timeout);
    }
    set(&mut c.enable_script_checks, u.enable_script_checks);
    set(
        &mut c.enable_local_script_checks,
        u.enable_local_script_checks,
    );
    set(&mut c.enable_debug, u.enable_debug);
    if let Some(l) = &u.limits {
        c.limits.apply(l);
    }
    set_dur(&mut c.default_query_time, u.default_query_time);
    set_dur(&mut c.max_query_time, u.max_query_time);
    set_dur(&mut c.session_ttl_min, u.session_ttl_min);
    set_dur(
        &mut c.sync_coordinate_interval_min,
        u.sync_coordinate_interval_min,
    );
    set_dur(&mut c.check_update_interval, u.check_update_interval);
    if let Some(domain) = &u.domain {
        c.domain = dotted(domain);
    }
    c.alt_domain = u.alt_domain.as_deref().map(dotted);
    set(&mut c.recursors, u.recursors.clone());
    if let Some(e) = &u.encrypt {
        check::encrypt_key(e)?;
        c.encrypt = Some(e.clone());
    }
    set(&mut c.encrypt_verify_incoming, u.encrypt_verify_incoming);
    set(&mut c.encrypt_verify_outgoing, u.encrypt_verify_outgoing);
    set(&mut c.disable_update_check, u.disable_update_check);
    set(
        &mut c.disable_anonymous_signature,
        u.disable_anonymous_signature,
    );
    set(&mut c.disable_remote_exec, u.disable_remote_exec);
    set(&mut c.disable_keyring_file, u.disable_keyring_file);
    c.default_intention_policy = match u.default_intention_policy.as_deref() {
        None | Some("") => None,
        Some(p @ ("allow" | "deny")) => Some(p.to_owned()),
        Some(other) => {
            return Err(FieldError::new(
                "default_intention_policy",
                other,
                "expected allow or deny",
            ));
        }
    };
    Ok(())
}

/// Consul stores domains with a trailing dot.
fn dotted(domain: &str) -> String {
    if domain.ends_with('.') {
        domain.to_string()
    } else {
        format!("{domain}.")
    }
}

fn apply_cluster(c: &mut RuntimeConfig, u: &UserConfig) {
    set(&mut c.start_join, u.start_join.clone());
    set(&mut c.start_join_wan, u.start_join_wan.clone());
    set(&mut c.retry_join, u.retry_join.clone());
    set(&mut c.retry_join_wan, u.retry_join_wan.clone());
    set_dur(&mut c.retry_interval, u.retry_interval);
    set_dur(&mut c.retry_interval_wan, u.retry_interval_wan);
    set(&mut c.retry_max, u.retry_max);
    set(&mut c.retry_max_wan, u.retry_max_wan);
    set(&mut c.rejoin_after_leave, u.rejoin_after_leave);
    c.leave_on_terminate = u.leave_on_terminate.unwrap_or(!c.server);
    c.skip_leave_on_interrupt = u.skip_leave_on_interrupt.unwrap_or(c.server);
    set_dur(&mut c.reconnect_timeout, u.reconnect_timeout);
    set_dur(&mut c.reconnect_timeout_wan, u.reconnect_timeout_wan);
    set(&mut c.raft_snapshot_threshold, u.raft_snapshot_threshold);
    set_dur(&mut c.raft_snapshot_interval, u.raft_snapshot_interval);
    set(&mut c.raft_trailing_logs, u.raft_trailing_logs);
    let objects = |list: &Option<Vec<Map<String, Value>>>| -> Vec<Value> {
        list.iter().flatten().cloned().map(Value::Object).collect()
    };
    c.services = objects(&u.services);
    c.checks = objects(&u.checks);
    set(&mut c.segments, u.segments.clone());
}

fn apply_features(c: &mut RuntimeConfig, u: &UserConfig) {
    if let Some(conn) = &u.connect {
        set(&mut c.connect_enabled, conn.enabled);
        c.connect_ca_provider = conn.ca_provider.clone();
        set(&mut c.connect_ca_config, conn.ca_config.clone());
    }
    if let Some(p) = &u.peering {
        set(&mut c.peering_enabled, p.enabled);
    }
    if let Some(ui) = &u.ui_config {
        set(&mut c.ui, ui.enabled);
        c.ui_dir = ui.dir.as_ref().map(PathBuf::from);
        set(&mut c.ui_content_path, ui.content_path.clone());
    }
    set(&mut c.telemetry, u.telemetry.clone());
    set(&mut c.experiments, u.experiments.clone());
    c.tls = TlsConfig {
        verify_incoming: u.verify_incoming.unwrap_or(false),
        verify_outgoing: u.verify_outgoing.unwrap_or(false),
        verify_server_hostname: u.verify_server_hostname.unwrap_or(false),
        ca_file: u.ca_file.as_ref().map(PathBuf::from),
        cert_file: u.cert_file.as_ref().map(PathBuf::from),
        key_file: u.key_file.as_ref().map(PathBuf::from),
        server_name: u.server_name.clone(),
        tls: u.tls.clone().unwrap_or_default(),
    };
}

/// Cross-key rules, with Consul's wording.
fn validate(c: &RuntimeConfig) -> Result<(), ConfigError> {
    let fail = |m: &str| Err(ConfigError::Invalid(m.to_string()));
    if c.node_name.is_empty() {
        return fail("node_name cannot be empty");
    }
    if !c.dev && c.data_dir.is_none() {
        return fail("data_dir cannot be empty");
    }
    if c.bootstrap && c.bootstrap_expect > 0 {
        return fail("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive");
    }
    if c.bootstrap_expect > 0 && !c.server {
        return fail("'bootstrap_expect > 0' not allowed in client mode");
    }
    if c.bootstrap && !c.server {
        return fail("'bootstrap = true' not allowed in client mode");
    }
    Ok(())
}

impl Ports {
    fn base() -> Self {
        let p = |v: i64| u16::try_from(v).ok().filter(|p| *p > 0);
        Self {
            http: p(d::HTTP_PORT),
            https: p(d::HTTPS_PORT),
            dns: p(d::DNS_PORT),
            grpc: p(d::GRPC_PORT),
            grpc_tls: p(d::GRPC_TLS_PORT),
            serf_lan: p(d::SERF_LAN_PORT),
            serf_wan: p(d::SERF_WAN_PORT),
            server: p(d::SERVER_PORT),
            sidecar_min_port: Some(d::SIDECAR_MIN_PORT),
            sidecar_max_port: Some(d::SIDECAR_MAX_PORT),
            expose_min_port: Some(d::EXPOSE_MIN_PORT),
            expose_max_port: Some(d::EXPOSE_MAX_PORT),
        }
    }

    fn resolve(p: Option<&UserPorts>) -> Result<Self, FieldError> {
        let u = p.cloned().unwrap_or_default();
        Ok(Self {
            http: port_or("ports.http", u.http, d::HTTP_PORT)?,
            https: port_or("ports.https", u.https, d::HTTPS_PORT)?,
            dns: port_or("ports.dns", u.dns, d::DNS_PORT)?,
            grpc: port_or("ports.grpc", u.grpc, d::GRPC_PORT)?,
            grpc_tls: port_or("ports.grpc_tls", u.grpc_tls, d::GRPC_TLS_PORT)?,
            serf_lan: port_or("ports.serf_lan", u.serf_lan, d::SERF_LAN_PORT)?,
            serf_wan: port_or("ports.serf_wan", u.serf_wan, d::SERF_WAN_PORT)?,
            server: port_or("ports.server", u.server, d::SERVER_PORT)?,
            sidecar_min_port: port_or(
                "ports.sidecar_min_port",
                u.sidecar_min_port,
                d::SIDECAR_MIN_PORT.into(),
            )?,
            sidecar_max_port: port_or(
                "ports.sidecar_max_port",
                u.sidecar_max_port,
                d::SIDECAR_MAX_PORT.into(),
            )?,
            expose_min_port: port_or(
                "ports.expose_min_port",
                u.expose_min_port,
                d::EXPOSE_MIN_PORT.into(),
            )?,
            expose_max_port: port_or(
                "ports.expose_max_port",
                u.expose_max_port,
                d::EXPOSE_MAX_PORT.into(),
            )?,
        })
    }
}

impl Addresses {
    fn all(ips: &[IpAddr]) -> Self {
        Self {
            http: ips.to_vec(),
            https: ips.to_vec(),
            dns: ips.to_vec(),
            grpc: ips.to_vec(),
            grpc_tls: ips.to_vec(),
        }
    }

    fn resolve(a: Option<&UserAddresses>, client: &[IpAddr]) -> Result<Self, FieldError> {
        let a = a.cloned().unwrap_or_default();
        let pick = |key: &str, v: &Option<String>| match v {
            Some(s) => check::ips(key, s),
            None => Ok(client.to_vec()),
        };
        Ok(Self {
            http: pick("addresses.http", &a.http)?,
            https: pick("addresses.https", &a.https)?,
            dns: pick("addresses.dns", &a.dns)?,
            grpc: pick("addresses.grpc", &a.grpc)?,
            grpc_tls: pick("addresses.grpc_tls", &a.grpc_tls)?,
        })
    }
}

impl AclConfig {
    fn base() -> Self {
        Self {
            enabled: false,
            default_policy: d::ACL_DEFAULT_POLICY.to_string(),
            down_policy: d::ACL_DOWN_POLICY.to_string(),
            enable_token_persistence: false,
            enable_token_replication: false,
            token_ttl: d::ACL_TTL,
            policy_ttl: d::ACL_TTL,
            role_ttl: d::ACL_TTL,
            tokens: AclTokens::default(),
        }
    }

    fn apply(&mut self, a: &UserAcl) {
        set(&mut self.enabled, a.enabled);
        set(&mut self.default_policy, a.default_policy.clone());
        set(&mut self.down_policy, a.down_policy.clone());
        set(
            &mut self.enable_token_persistence,
            a.enable_token_persistence,
        );
        set(
            &mut self.enable_token_replication,
            a.enable_token_replication,
        );
        set_dur(&mut self.token_ttl, a.token_ttl);
        set_dur(&mut self.policy_ttl, a.policy_ttl);
        set_dur(&mut self.role_ttl, a.role_ttl);
        let Some(t) = &a.tokens else {
            return;
        };
        self.tokens = AclTokens {
            initial_management: t.initial_management.clone().or_else(|| t.master.clone()),
            agent: t.agent.clone(),
            agent_recovery: t.agent_recovery.clone().or_else(|| t.agent_master.clone()),
            default: t.default.clone(),
            replication: t.replication.clone(),
            dns: t.dns.clone(),
            config_file_service_registration: t.config_file_service_registration.clone(),
        };
    }
}

impl Limits {
    fn base() -> Self {
        Self {
            kv_max_value_size: d::KV_MAX_VALUE_SIZE,
            txn_max_req_len: d::TXN_MAX_REQ_LEN,
            txn_max_ops: d::TXN_MAX_OPS,
            http_max_conns_per_client: d::HTTP_MAX_CONNS_PER_CLIENT,
            rpc_max_conns_per_client: d::RPC_MAX_CONNS_PER_CLIENT,
            rpc_rate: d::RPC_RATE,
            rpc_max_burst: d::RPC_MAX_BURST,
        }
    }

    fn apply(&mut self, l: &crate::user::UserLimits) {
        set(&mut self.kv_max_value_size, l.kv_max_value_size);
        set(&mut self.txn_max_req_len, l.txn_max_req_len);
        set(
            &mut self.http_max_conns_per_client,
            l.http_max_conns_per_client,
        );
        set(
            &mut self.rpc_max_conns_per_client,
            l.rpc_max_conns_per_client,
        );
        // Consul treats a non-positive rate as "unlimited".
        if let Some(r) = l.rpc_rate {
            self.rpc_rate = if r > 0.0 { r } else { f64::INFINITY };
        }
        set(&mut self.rpc_max_burst, l.rpc_max_burst);
    }
}

impl DnsConfig {
    fn base() -> Self {
        Self {
            allow_stale: true,
            max_stale: d::DNS_MAX_STALE,
            node_ttl: Duration::ZERO,
            service_ttl: BTreeMap::new(),
            udp_answer_limit: d::DNS_UDP_ANSWER_LIMIT,
            a_record_limit: 0,
            enable_truncate: false,
            only_passing: false,
            recursor_timeout: d::DNS_RECURSOR_TIMEOUT,
            recursor_strategy: d::DNS_RECURSOR_STRATEGY.to_string(),
            enable_additional_node_meta_txt: true,
            disable_compression: false,
            use_cache: false,
            cache_max_age: Duration::ZERO,
            soa: Soa {
                expire: d::DNS_SOA_EXPIRE,
                min_ttl: d::DNS_SOA_MIN_TTL,
                refresh: d::DNS_SOA_REFRESH,
                retry: d::DNS_SOA_RETRY,
            },
        }
    }

    fn apply(&mut self, u: &UserDns) {
        set(&mut self.allow_stale, u.allow_stale);
        set_dur(&mut self.max_stale, u.max_stale);
        set_dur(&mut self.node_ttl, u.node_ttl);
        if let Some(ttls) = &u.service_ttl {
            self.service_ttl = ttls.iter().map(|(k, v)| (k.clone(), v.0)).collect();
        }
        set(&mut self.udp_answer_limit, u.udp_answer_limit);
        set(&mut self.a_record_limit, u.a_record_limit);
        set(&mut self.enable_truncate, u.enable_truncate);
        set(&mut self.only_passing, u.only_passing);
        set_dur(&mut self.recursor_timeout, u.recursor_timeout);
        set(&mut self.recursor_strategy, u.recursor_strategy.clone());
        set(
            &mut self.enable_additional_node_meta_txt,
            u.enable_additional_node_meta_txt,
        );
        set(&mut self.disable_compression, u.disable_compression);
        set(&mut self.use_cache, u.use_cache);
        set_dur(&mut self.cache_max_age, u.cache_max_age);
        if let Some(s) = &u.soa {
            set(&mut self.soa.expire, s.expire);
            set(&mut self.soa.min_ttl, s.min_ttl);
            set(&mut self.soa.refresh, s.refresh);
            set(&mut self.soa.retry, s.retry);
        }
    }
}

impl Autopilot {
    fn base() -> Self {
        Self {
            cleanup_dead_servers: true,
            last_contact_threshold: d::AUTOPILOT_LAST_CONTACT_THRESHOLD,
            max_trailing_logs: d::AUTOPILOT_MAX_TRAILING_LOGS,
            min_quorum: 0,
            server_stabilization_time: d::AUTOPILOT_SERVER_STABILIZATION_TIME,
            redundancy_zone_tag: None,
            disable_upgrade_migration: false,
            upgrade_version_tag: None,
        }
    }

    fn apply(&mut self, a: &UserAutopilot) {
        set(&mut self.cleanup_dead_servers, a.cleanup_dead_servers);
        set_dur(&mut self.last_contact_threshold, a.last_contact_threshold);
        set(&mut self.max_trailing_logs, a.max_trailing_logs);
        set(&mut self.min_quorum, a.min_quorum);
        set_dur(
            &mut self.server_stabilization_time,
            a.server_stabilization_time,
        );
        self.redundancy_zone_tag = a.redundancy_zone_tag.clone();
        set(
            &mut self.disable_upgrade_migration,
            a.disable_upgrade_migration,
        );
        self.upgrade_version_tag = a.upgrade_version_tag.clone();
    }
}
