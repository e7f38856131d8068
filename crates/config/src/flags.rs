//! `skein agent` command-line flags, parsed the way Go's `flag` package does.

use std::path::PathBuf;

use crate::check;
use crate::duration::{DurationValue, parse_go_duration};
use crate::error::{ConfigError, FieldError};
use crate::source::ConfigFormat;
use crate::user::{UserConfig, UserPorts, UserUi};

/// A `-config-file` or `-config-dir` argument, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPath {
    /// `-config-file PATH`: one file, format from its extension or `-config-format`.
    File(PathBuf),
    /// `-config-dir PATH`: every `.json`/`.hcl` file directly inside, in lexical order.
    Dir(PathBuf),
}

/// The parsed arguments of `skein agent`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `-dev`.
    pub dev: bool,
    /// `-config-file` and `-config-dir`, in the order given.
    pub config_paths: Vec<ConfigPath>,
    /// `-config-format`.
    pub config_format: Option<ConfigFormat>,
    /// `-hcl` snippets, merged after all files.
    pub hcl: Vec<String>,
    /// Every other flag, as a configuration source merged last.
    pub config: UserConfig,
}

/// Flags that take no value (`-flag`, `-flag=false`).
const BOOL_FLAGS: &[&str] = &[
    "dev",
    "server",
    "bootstrap",
    "enable-script-checks",
    "enable-local-script-checks",
    "disable-host-node-id",
    "disable-keyring-file",
    "ui",
    "log-json",
    "rejoin",
];

/// Flags that take a value (`-flag=v`, `-flag v`).
const VALUE_FLAGS: &[&str] = &[
    "bootstrap-expect",
    "node",
    "node-id",
    "datacenter",
    "primary-datacenter",
    "bind",
    "advertise",
    "client",
    "data-dir",
    "config-file",
    "config-dir",
    "config-format",
    "log-level",
    "http-port",
    "https-port",
    "dns-port",
    "grpc-port",
    "grpc-tls-port",
    "server-port",
    "serf-lan-port",
    "serf-wan-port",
    "pid-file",
    "retry-join",
    "join",
    "retry-join-wan",
    "join-wan",
    "retry-interval",
    "retry-interval-wan",
    "retry-max",
    "encrypt",
    "domain",
    "alt-domain",
    "recursor",
    "node-meta",
    "hcl",
    "ui-dir",
    "ui-content-path",
    "default-query-time",
    "max-query-time",
];

/// Parses the arguments after `agent` (e.g. `["-dev", "-http-port=8501"]`).
///
/// Accepts `-flag=value`, `-flag value`, `--flag`, bare boolean flags and
/// `-bool=false`; `--` ends the flags. Positional arguments are rejected.
pub fn parse_flags(args: &[String]) -> Result<Flags, ConfigError> {
    let mut flags = Flags::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            if let Some(extra) = rest.next() {
                return Err(ConfigError::UnexpectedArgument { arg: extra.clone() });
            }
            break;
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ConfigError::UnexpectedArgument { arg: arg.clone() })?;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if BOOL_FLAGS.contains(&name) {
            let value = match inline {
                None => true,
                Some(v) => parse_bool(v).ok_or_else(|| bad(name, v, "expected true or false"))?,
            };
            apply_bool(&mut flags, name, value);
        } else if VALUE_FLAGS.contains(&name) {
            let value = match inline {
                Some(v) => v,
                None => rest.next().map(String::as_str).ok_or_else(|| {
                    ConfigError::MissingFlagValue {
                        flag: name.to_string(),
                    }
                })?,
            };
            apply_value(&mut flags, name, value)?;
        } else {
            return Err(ConfigError::UnknownFlag {
                flag: name.to_string(),
            });
        }
    }
    Ok(flags)
}

fn bad(flag: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidFlagValue {
        flag: flag.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn apply_bool(f: &mut Flags, name: &str, v: bool) {
    let c = &mut f.config;
    match name {
        "dev" => f.dev = v,
        "server" => c.server = Some(v),
        "bootstrap" => c.bootstrap = Some(v),
        "enable-script-checks" => c.enable_script_checks = Some(v),
        "enable-local-script-checks" => c.enable_local_script_checks = Some(v),
        "disable-host-node-id" => c.disable_host_node_id = Some(v),
        "disable-keyring-file" => c.disable_keyring_file = Some(v),
        "ui" => ui(c).enabled = Some(v),
        "log-json" => c.log_json = Some(v),
        "rejoin" => c.rejoin_after_leave = Some(v),
        _ => {}
    }
}

fn ui(c: &mut UserConfig) -> &mut UserUi {
    c.ui_config.get_or_insert_with(UserUi::default)
}

fn ports(c: &mut UserConfig) -> &mut UserPorts {
    c.ports.get_or_insert_with(UserPorts::default)
}

fn apply_value(f: &mut Flags, name: &str, v: &str) -> Result<(), ConfigError> {
    if let Some(slot) = port_slot(&mut f.config, name) {
        let n: i64 = v.parse().map_err(|_| bad(name, v, "expected integer"))?;
        check::port(name, n).map_err(|e| e.for_flag(name))?;
        *slot = Some(n);
        return Ok(());
    }
    match name {
        "config-file" => f.config_paths.push(ConfigPath::File(v.into())),
        "config-dir" => f.config_paths.push(ConfigPath::Dir(v.into())),
        "config-format" => {
            let fmt = ConfigFormat::parse(v).ok_or_else(|| bad(name, v, "expected json or hcl"))?;
            f.config_format = Some(fmt);
        }
        "hcl" => f.hcl.push(v.to_string()),
        _ => return apply_config_value(&mut f.config, name, v).map_err(|e| e.for_flag(name)),
    }
    Ok(())
}

fn port_slot<'a>(c: &'a mut UserConfig, name: &str) -> Option<&'a mut Option<i64>> {
    let p = match name {
        "http-port" | "https-port" | "dns-port" | "grpc-port" | "grpc-tls-port" | "server-port"
        | "serf-lan-port" | "serf-wan-port" => ports(c),
        _ => return None,
    };
    Some(match name {
        "http-port" => &mut p.http,
        "https-port" => &mut p.https,
        "dns-port" => &mut p.dns,
        "grpc-port" => &mut p.grpc,
        "grpc-tls-port" => &mut p.grpc_tls,
        "server-port" => &mut p.server,
        "serf-lan-port" => &mut p.serf_lan,
        _ => &mut p.serf_wan,
    })
}

/// Flags that set a configuration key.
fn apply_config_value(c: &mut UserConfig, name: &str, v: &str) -> Result<(), FieldError> {
    let s = Some(v.to_string());
    match name {
        "node" => c.node_name = s,
        "node-id" => c.node_id = Some(check::node_id(name, v)?),
        "datacenter" => c.datacenter = Some(check::datacenter(name, v)?),
        "primary-datacenter" => c.primary_datacenter = Some(check::datacenter(name, v)?),
        "bind" => c.bind_addr = Some(check::ip(name, v).map(|_| v.to_string())?),
        "advertise" => c.advertise_addr = Some(check::ip(name, v).map(|_| v.to_string())?),
        "client" => c.client_addr = Some(check::ips(name, v).map(|_| v.to_string())?),
        "data-dir" => c.data_dir = s,
        "pid-file" => c.pid_file = s,
        "log-level" => c.log_level = Some(check::log_level(name, v).map(|_| v.to_string())?),
        "encrypt" => c.encrypt = Some(check::encrypt_key(v).map(|_| v.to_string())?),
        "domain" => c.domain = s,
        "alt-domain" => c.alt_domain = s,
        "ui-dir" => ui(c).dir = s,
        "ui-content-path" => ui(c).content_path = s,
        _ => return apply_other_value(c, name, v),
    }
    Ok(())
}

fn apply_other_value(c: &mut UserConfig, name: &str, v: &str) -> Result<(), FieldError> {
    let push =
        |list: &mut Option<Vec<String>>| list.get_or_insert_with(Vec::new).push(v.to_string());
    let int = || {
        v.parse::<u32>()
            .map_err(|_| FieldError::new(name, v, "expected integer"))
    };
    let dur = || {
        parse_go_duration(v)
            .map(|d| Some(DurationValue(d)))
            .map_err(|_| FieldError::new(name, v, "expected a duration such as \"10s\""))
    };
    match name {
        "bootstrap-expect" => c.bootstrap_expect = Some(int()?),
        "retry-max" => c.retry_max = Some(int()?),
        "retry-join" => push(&mut c.retry_join),
        "join" => push(&mut c.start_join),
        "retry-join-wan" => push(&mut c.retry_join_wan),
        "join-wan" => push(&mut c.start_join_wan),
        "recursor" => push(&mut c.recursors),
        "retry-interval" => c.retry_interval = dur()?,
        "retry-interval-wan" => c.retry_interval_wan = dur()?,
        "default-query-time" => c.default_query_time = dur()?,
        "max-query-time" => c.max_query_time = dur()?,
        "node-meta" => {
            // Consul splits on the first ':'; no ':' means an empty value.
            let (k, val) = v.split_once(':').unwrap_or((v, ""));
            let meta = c.node_meta.get_or_insert_with(Default::default);
            meta.insert(k.to_string(), val.to_string());
        }
        _ => return Err(FieldError::new(name, v, "flag is not supported")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, ConfigError> {
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_flags(&owned)
    }

    #[test]
    fn all_value_forms() {
        let f = parse(&[
            "-node=a",
            "--datacenter",
            "DC2",
            "-log-level",
            "trace",
            "--dev",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.config.node_name.as_deref(), Some("a"));
        assert_eq!(f.config.datacenter.as_deref(), Some("dc2"));
        assert_eq!(f.config.log_level.as_deref(), Some("trace"));
        assert!(f.dev);
    }

    #[test]
    fn bool_forms() {
        let f = parse(&["-dev=false", "-server", "-ui=true"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!f.dev);
        assert_eq!(f.config.server, Some(true));
        assert_eq!(f.config.ui_config.and_then(|u| u.enabled), Some(true));
        let err = parse(&["-dev=maybe"]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid value \"maybe\" for flag -dev: expected true or false")
        );
    }

    #[test]
    fn repeatable_and_ordered() {
        let f = parse(&[
            "-config-file",
            "a.json",
            "-config-dir=d",
            "-config-file=b.hcl",
            "-retry-join=x",
            "-retry-join",
            "y",
            "-node-meta",
            "rack:r1",
            "-node-meta=zone:z:1",
            "-hcl",
            "a = 1",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f.config_paths,
            vec![
                ConfigPath::File("a.json".into()),
                ConfigPath::Dir("d".into()),
                ConfigPath::File("b.hcl".into()),
            ]
        );
        assert_eq!(f.config.retry_join, Some(vec!["x".into(), "y".into()]));
        let meta = f.config.node_meta.unwrap_or_default();
        assert_eq!(meta.get("rack").map(String::as_str), Some("r1"));
        assert_eq!(meta.get("zone").map(String::as_str), Some("z:1"));
        assert_eq!(f.hcl, vec!["a = 1".to_string()]);
    }

    #[test]
    fn ports_and_errors() {
        let f = parse(&["-http-port=-1", "-dns-port", "8653"]).unwrap_or_else(|e| panic!("{e}"));
        let p = f.config.ports.unwrap_or_default();
        assert_eq!((p.http, p.dns), (Some(-1), Some(8653)));
        let msg = |args: &[&str]| parse(args).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg(&["-http-port", "x"]),
            "invalid value \"x\" for flag -http-port: expected integer"
        );
        assert!(
            msg(&["-http-port=70000"]).starts_with("invalid value \"70000\" for flag -http-port")
        );
        assert_eq!(msg(&["-bogus"]), "unknown flag -bogus");
        assert_eq!(msg(&["--bogus=1"]), "unknown flag -bogus");
        assert_eq!(msg(&["-node"]), "flag needs an argument: -node");
        assert_eq!(msg(&["stray"]), "unexpected argument \"stray\"");
        assert!(msg(&["-log-level", "loud"]).contains("-log-level"));
        assert!(msg(&["-bind", "nope"]).contains("\"nope\" for flag -bind"));
        assert!(msg(&["-config-format", "yaml"]).contains("-config-format"));
    }

    #[test]
    fn every_value_flag_is_handled() {
        for name in VALUE_FLAGS {
            let v = match *name {
                n if n.ends_with("-port") => "8500",
                "bootstrap-expect" | "retry-max" => "1",
                "node-id" => "4e1b1b3c-1a1b-4c1d-8e1f-1a2b3c4d5e6f",
                "bind" | "advertise" | "client" => "127.0.0.1",
                "log-level" => "info",
                "config-format" => "json",
                "encrypt" => "pUqJrVyVRj5jsiYEkM/tFQ==",
                n if n.ends_with("-time") || n.starts_with("retry-interval") => "1s",
                _ => "x",
            };
            let arg = format!("-{name}={v}");
            if let Err(e) = parse(&[arg.as_str()]) {
                panic!("{arg}: {e}");
            }
        }
    }
}
