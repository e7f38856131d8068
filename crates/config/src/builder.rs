//! Reading and merging every configuration source in Consul's order.

use std::path::Path;

use serde_json::{Map, Value};

use crate::de_error::from_path_error;
use crate::defaults as d;
use crate::env::Environment;
use crate::error::ConfigError;
use crate::flags::{ConfigPath, Flags};
use crate::merge::merge;
use crate::resolve::resolve;
use crate::runtime::RuntimeConfig;
use crate::source::{self, ConfigFormat};
use crate::user::{UserConfig, UserConnect, UserPerformance, UserPorts, UserUi};

/// Assembles a [`RuntimeConfig`] from flags, files and defaults.
///
/// Order (later wins for scalars; lists append; maps merge): built-in
/// defaults, `-dev` defaults, each `-config-file`/`-config-dir` in
/// command-line order (files of a directory in lexical order), `-hcl`
/// snippets, then the other flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builder;

impl Builder {
    /// Builds and validates the runtime configuration.
    pub fn build(flags: &Flags, env: &dyn Environment) -> Result<RuntimeConfig, ConfigError> {
        let user = Self::merged(flags, env)?;
        resolve(&user, flags.dev, env)
    }

    /// The merged user configuration, before defaults and validation
    /// (what `consul validate` checks file by file).
    pub fn merged(flags: &Flags, env: &dyn Environment) -> Result<UserConfig, ConfigError> {
        let mut merged = Value::Object(Map::new());
        if flags.dev {
            merge(
                &mut merged,
                source::from_user("-dev defaults", &dev_config())?,
            );
        }
        for path in &flags.config_paths {
            for layer in load_path(path, flags.config_format, env)? {
                merge(&mut merged, layer);
            }
        }
        for (i, snippet) in flags.hcl.iter().enumerate() {
            let origin = format!("-hcl argument {}", i + 1);
            merge(
                &mut merged,
                source::load(&origin, snippet, ConfigFormat::Hcl)?,
            );
        }
        merge(
            &mut merged,
            source::from_user("command-line flags", &flags.config)?,
        );
        serde_path_to_error::deserialize(&merged)
            .map_err(|e| from_path_error("merged configuration", e))
    }
}

/// What `-dev` changes, as a source merged before any file.
fn dev_config() -> UserConfig {
    UserConfig {
        bind_addr: Some(d::DEV_BIND_ADDR.to_string()),
        server: Some(true),
        bootstrap: Some(true),
        log_level: Some(d::DEV_LOG_LEVEL.as_filter().to_string()),
        enable_debug: Some(true),
        disable_anonymous_signature: Some(true),
        disable_keyring_file: Some(true),
        connect: Some(UserConnect {
            enabled: Some(true),
            ..UserConnect::default()
        }),
        ui_config: Some(UserUi {
            enabled: Some(true),
            ..UserUi::default()
        }),
        ports: Some(UserPorts {
            grpc: Some(d::DEV_GRPC_PORT),
            grpc_tls: Some(d::DEV_GRPC_TLS_PORT),
            ..UserPorts::default()
        }),
        performance: Some(UserPerformance {
            raft_multiplier: Some(d::DEV_RAFT_MULTIPLIER),
            ..UserPerformance::default()
        }),
        ..UserConfig::default()
    }
}

fn load_path(
    path: &ConfigPath,
    format: Option<ConfigFormat>,
    env: &dyn Environment,
) -> Result<Vec<Value>, ConfigError> {
    match path {
        ConfigPath::File(file) => {
            let fmt = format
                .or_else(|| ConfigFormat::from_path(file))
                .ok_or_else(|| ConfigError::UnknownFormat {
                    origin: file_origin(file),
                })?;
            Ok(vec![load_file(file, fmt, env)?])
        }
        ConfigPath::Dir(dir) => load_dir(dir, format, env),
    }
}

/// Every `.json`/`.hcl` file in `dir` (any file if `format` is set), in
/// lexical order; other files are skipped, as Consul does.
fn load_dir(
    dir: &Path,
    format: Option<ConfigFormat>,
    env: &dyn Environment,
) -> Result<Vec<Value>, ConfigError> {
    let mut files = env.read_dir(dir).map_err(|source| ConfigError::Io {
        origin: format!("config dir {}", dir.display()),
        source,
    })?;
    files.sort();
    files
        .iter()
        .filter_map(|f| {
            format
                .or_else(|| ConfigFormat::from_path(f))
                .map(|fmt| (f, fmt))
        })
        .map(|(f, fmt)| load_file(f, fmt, env))
        .collect()
}

fn load_file(file: &Path, fmt: ConfigFormat, env: &dyn Environment) -> Result<Value, ConfigError> {
    let origin = file_origin(file);
    let text = env.read_file(file).map_err(|source| ConfigError::Io {
        origin: origin.clone(),
        source,
    })?;
    source::load(&origin, &text, fmt)
}

fn file_origin(file: &Path) -> String {
    format!("config file {}", file.display())
}
