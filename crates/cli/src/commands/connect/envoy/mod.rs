//! `connect envoy`: build the bootstrap of an Envoy sidecar and run Envoy.
//!
//! The proxy is named by `-proxy-id`, or found with `-sidecar-for` among the
//! local agent's services (`GET /v1/agent/services`). Its registration
//! (`GET /v1/agent/service/<id>`) gives the destination service and the
//! `envoy_*` keys of `Proxy.Config`. The agent's gRPC (xDS) address comes
//! from `-grpc-addr`, the environment, or `GET /v1/agent/self`.
//!
//! With `-bootstrap` the document is printed. Otherwise it is written to a
//! file readable only by the user, in a fresh private directory under
//! `$TMPDIR`, and this process is replaced by
//! `envoy --config-path <file> [--disable-hot-restart] [args after --]`.

use std::io::Write as _;
use std::net::{IpAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::commands::{Command, Ctx, info, warn};
use crate::env::Env;
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

pub(crate) mod bootstrap;

use bootstrap::{AgentAddr, Args, Options};

/// `skein connect envoy`.
pub(crate) const COMMAND: Command = Command {
    path: &["connect", "envoy"],
    synopsis: "Runs or configures Envoy as a Connect proxy",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein connect envoy [options] [-- envoy options]

  Builds the bootstrap configuration of an Envoy proxy acting as the Connect
  sidecar of a service instance registered with the local agent, then runs
  Envoy with it in place of this process. Envoy gets the rest of its
  configuration (listeners, clusters, certificates) from the agent over xDS.

  The proxy must already be registered with the agent, for example through a
  sidecar_service block. Name it with -proxy-id, or name the service it
  serves with -sidecar-for.

  Envoy is looked up on $PATH unless -envoy-binary gives its path. With
  -bootstrap the configuration is printed instead and Envoy is not run.

  The proxy needs a token with service:write on the service it represents.
  Give it with -token, -token-file, or the SKEIN_HTTP_TOKEN or
  CONSUL_HTTP_TOKEN environment variable.

  Run the sidecar of the \"web\" service instance:

      $ skein connect envoy -sidecar-for web

  Arguments after a double dash are passed to Envoy unchanged:

      $ skein connect envoy -sidecar-for web -- --log-level debug
";

/// The admin access log used when none is given.
const DEFAULT_ADMIN_ACCESS_LOG_PATH: &str = "/dev/null";

/// The agent's gRPC address when neither flags, environment nor the agent give one.
const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:8502";

/// Envoy options that mean the caller manages hot restart itself.
const HOT_RESTART_OPTIONS: &[&str] = &[
    "--restart-epoch",
    "--hot-restart-version",
    "--drain-time-s",
    "--parent-shutdown-time-s",
];

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string(
            "proxy-id",
            "",
            "The proxy's service ID on the local agent. This can also be specified \
             via the CONNECT_PROXY_ID environment variable.",
        )
        .string(
            "sidecar-for",
            "",
            "The ID of the service instance on the local agent whose sidecar this \
             proxy is. Exactly one connect-proxy service with Proxy.DestinationServiceID \
             set to this ID must be registered with the agent. This can also be \
             specified via the CONNECT_SIDECAR_FOR environment variable.",
        )
        .string(
            "admin-bind",
            "localhost:19000",
            "The host:port of Envoy's admin server. The host is resolved to an IP \
             address. The admin server has full control over the proxy, so it must \
             not be reachable from untrusted networks.",
        )
        .string(
            "admin-access-log-path",
            DEFAULT_ADMIN_ACCESS_LOG_PATH,
            "The file the admin server writes its access log to. The default, \
             /dev/null, keeps no log.",
        )
        .string(
            "grpc-addr",
            "",
            "The agent's gRPC (xDS) address, as host:port, http://host:port or \
             unix:///path. This can also be specified via the SKEIN_GRPC_ADDR or \
             CONSUL_GRPC_ADDR environment variable. By default the port is asked \
             from the agent, falling back to 127.0.0.1:8502.",
        )
        .bool(
            "bootstrap",
            "Print the bootstrap configuration and exit instead of running Envoy.",
        )
        .string(
            "envoy-binary",
            "",
            "The path of the envoy binary to run. By default envoy is searched on \
             $PATH. Not used with -bootstrap.",
        )
        .bool(
            "omit-deprecated-tags",
            "Leave out the metric tags named consul.<tag> (consul.service, \
             consul.datacenter, ...), which were renamed consul.destination.<tag> \
             in Consul 1.9 and are still emitted by default.",
        )
        .bool(
            "no-central-config",
            "Ignore the envoy_* bootstrap settings of the proxy's Proxy.Config.",
        )
        .string(
            "prometheus-scrape-path",
            "/metrics",
            "The path at which the envoy_prometheus_bind_addr listener serves \
             Prometheus metrics.",
        )
        .string(
            "prometheus-backend-port",
            "",
            "Send the requests of the envoy_prometheus_bind_addr listener to this \
             local port (cluster prometheus_backend) instead of Envoy's own admin \
             server.",
        )
}

/// One service as `GET /v1/agent/services` and `GET /v1/agent/service/<id>` show it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentService {
    #[serde(rename = "ID")]
    id: String,
    service: String,
    kind: String,
    datacenter: String,
    namespace: String,
    partition: String,
    proxy: Option<ProxyRegistration>,
}

/// The `Proxy` block of a registration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ProxyRegistration {
    destination_service_name: String,
    #[serde(rename = "DestinationServiceID")]
    destination_service_id: String,
    config: Option<Map<String, Value>>,
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let sidecar_for = flag_or_env(flags, "sidecar-for", &ctx.env, &["CONNECT_SIDECAR_FOR"]);
    let mut proxy_id = flag_or_env(flags, "proxy-id", &ctx.env, &["CONNECT_PROXY_ID"]);
    if proxy_id.is_empty() && !sidecar_for.is_empty() {
        proxy_id = lookup_sidecar(&client, &sidecar_for)?;
    }
    if proxy_id.is_empty() {
        return Err(Error::msg(
            "No proxy ID specified. One of -proxy-id or -sidecar-for is required",
        ));
    }

    let agent = grpc_address(flags, ctx, &client)?;
    let admin_bind = flags.str("admin-bind");
    let (admin_host, admin_port) = split_host_port(admin_bind)
        .map_err(|e| Error::msg(format!("Invalid admin bind address {admin_bind:?}: {e}")))?;
    let admin_ip = resolve_ip(&admin_host)
        .map_err(|e| Error::msg(format!("Failed to resolve admin bind address: {e}")))?;
    let prometheus_backend_port = match flags.str("prometheus-backend-port") {
        "" => None,
        p => Some(
            p.parse::<u16>()
                .map_err(|_| Error::msg(format!("Invalid -prometheus-backend-port {p:?}")))?,
        ),
    };
    let access_log = match flags.str("admin-access-log-path") {
        "" => DEFAULT_ADMIN_ACCESS_LOG_PATH,
        path => path,
    };

    let svc: AgentService = client
        .get(&format!("/v1/agent/service/{proxy_id}"), Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("failed fetch proxy config from local agent")?;
    let Some(proxy) = svc.proxy else {
        return Err(Error::msg("service is not a Connect proxy or gateway"));
    };
    let (cluster, source_service) = if !proxy.destination_service_name.is_empty() {
        let name = proxy.destination_service_name.clone();
        (name.clone(), name)
    } else if !sidecar_for.is_empty() {
        (sidecar_for.clone(), svc.service.clone())
    } else {
        (proxy_id.clone(), svc.service.clone())
    };
    let or_default = |s: &str| if s.is_empty() { "default" } else { s }.to_owned();
    let datacenter = if svc.datacenter.is_empty() {
        flags.str("datacenter").to_owned()
    } else {
        svc.datacenter.clone()
    };
    let args = Args {
        proxy_id,
        cluster,
        source_service,
        namespace: or_default(&svc.namespace),
        partition: or_default(&svc.partition),
        datacenter,
        token: client.token().unwrap_or_default().to_owned(),
        admin_ip,
        admin_port,
        admin_access_log_path: access_log.to_owned(),
        agent,
        omit_deprecated_tags: flags.bool("omit-deprecated-tags"),
        prometheus_scrape_path: flags.str("prometheus-scrape-path").to_owned(),
        prometheus_backend_port,
    };
    let options = match (&proxy.config, flags.bool("no-central-config")) {
        (Some(config), false) => Options::from_proxy_config(config)?,
        _ => Options::default(),
    };
    if !options.tracing_json.trim().is_empty() {
        warn(
            ctx,
            "Warning: envoy_tracing_json sets the bootstrap's top-level tracing, which \
             Envoy reports as deprecated",
        )?;
    }
    let document = bootstrap::generate(&args, &options, &ctx.env)?;
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| Error::json("Error formatting the bootstrap configuration", e))?;

    if flags.bool("bootstrap") {
        return info(ctx, &text);
    }
    let binary = find_binary(flags.str("envoy-binary"), &ctx.env)?;
    let tmp = ctx
        .env
        .var("TMPDIR")
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let (dir, file) = write_bootstrap(&tmp, &text)?;
    let _ = ctx.out.flush();
    let err = exec(&binary, &envoy_args(&file, flags.args()));
    let _ = std::fs::remove_dir_all(&dir);
    Err(Error::io(
        format!(
            "Failed to run the envoy binary {:?}",
            binary.display().to_string()
        ),
        err,
    ))
}

/// The flag's value, else the first set environment variable of `vars`.
fn flag_or_env(flags: &Parsed, name: &str, env: &Env<'_>, vars: &[&str]) -> String {
    match flags.str(name) {
        "" => vars.iter().find_map(|v| env.var(v)).unwrap_or_default(),
        value => value.to_owned(),
    }
}

/// The ID of the one connect-proxy whose `Proxy.DestinationServiceID` is
/// `sidecar_for` (compared without regard to case).
fn lookup_sidecar(client: &Client, sidecar_for: &str) -> Result<String> {
    let services: std::collections::BTreeMap<String, AgentService> = client
        .get("/v1/agent/services", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .map_err(|e| {
            Error::msg(format!(
                "Failed looking up sidecar proxy info for {sidecar_for}: {e}"
            ))
        })?;
    let ids: Vec<&str> = services
        .values()
        .filter(|s| s.kind == "connect-proxy")
        .filter(|s| {
            s.proxy
                .as_ref()
                .is_some_and(|p| p.destination_service_id.eq_ignore_ascii_case(sidecar_for))
        })
        .map(|s| s.id.as_str())
        .collect();
    match ids.as_slice() {
        [] => Err(Error::msg(format!(
            "No sidecar proxy registered for {sidecar_for}"
        ))),
        [id] => Ok((*id).to_owned()),
        many => Err(Error::msg(format!(
            "More than one sidecar proxy registered for {sidecar_for}.\n    \
             Start proxy with -proxy-id and one of the following IDs: {}",
            many.join(", ")
        ))),
    }
}

/// The agent's xDS address: `-grpc-addr`, `SKEIN_GRPC_ADDR`,
/// `CONSUL_GRPC_ADDR`, the port the agent reports, or 127.0.0.1:8502.
fn grpc_address(flags: &Parsed, ctx: &mut Ctx<'_>, client: &Client) -> Result<AgentAddr> {
    let mut addr = flag_or_env(
        flags,
        "grpc-addr",
        &ctx.env,
        &["SKEIN_GRPC_ADDR", "CONSUL_GRPC_ADDR"],
    );
    if addr.is_empty() {
        let port = match discover_grpc_port(client) {
            Ok(port) => port,
            Err(e) => {
                warn(ctx, &format!("Error connecting to Consul agent: {e}"))?;
                None
            }
        };
        addr = match port {
            Some(port) => format!("127.0.0.1:{port}"),
            None => {
                warn(
                    ctx,
                    &format!(
                        "-grpc-addr not provided and unable to discover a gRPC address \
                         for xDS. Defaulting to {DEFAULT_GRPC_ADDR}"
                    ),
                )?;
                DEFAULT_GRPC_ADDR.to_owned()
            }
        };
    }
    parse_grpc_addr(&addr)
}

/// The agent's plaintext gRPC port from `GET /v1/agent/self`: `xDS.Ports.Plaintext`
/// (or `xDS.Port` when there is no `Ports`), else `DebugConfig.GRPCPort`.
/// `None` when the agent reports no usable port.
fn discover_grpc_port(client: &Client) -> Result<Option<u16>> {
    let me: Value = client
        .get("/v1/agent/self", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())?;
    let port = |v: Option<&Value>| {
        v.and_then(Value::as_i64)
            .filter(|p| *p > 0)
            .and_then(|p| u16::try_from(p).ok())
    };
    let xds = get_ci(&me, "xDS");
    let from_xds = match xds.and_then(|x| get_ci(x, "Ports")) {
        Some(ports) => port(get_ci(ports, "Plaintext")),
        None => port(xds.and_then(|x| get_ci(x, "Port"))),
    };
    Ok(from_xds.or_else(|| port(get_ci(&me, "DebugConfig").and_then(|d| get_ci(d, "GRPCPort")))))
}

/// An object member by name, ignoring case (as Consul's decoder does).
fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Parses `host:port`, `http://host:port` or `unix:///path`; the host is
/// resolved to an IP because the `local_agent` cluster is STATIC.
pub(crate) fn parse_grpc_addr(addr: &str) -> Result<AgentAddr> {
    let trimmed = addr.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(Error::Address(format!(
            "gRPC address {addr:?} is not supported: TLS to the agent is not \
             implemented yet; use an http:// address"
        )));
    }
    if lower.starts_with("unix://") {
        let path = &addr.trim()["unix://".len()..];
        if path.is_empty() {
            return Err(Error::Address(format!("invalid gRPC address {addr:?}")));
        }
        return Ok(AgentAddr::Unix(path.to_owned()));
    }
    let host_port = if lower.starts_with("http://") {
        &trimmed["http://".len()..]
    } else {
        trimmed
    };
    if host_port.contains("://") {
        return Err(Error::Address(format!(
            "unsupported gRPC address {addr:?}: use host:port, http://host:port or unix:///path"
        )));
    }
    let (host, port) = split_host_port(host_port)
        .map_err(|e| Error::Address(format!("Invalid gRPC address {addr:?}: {e}")))?;
    let ip = resolve_ip(&host)
        .map_err(|e| Error::Address(format!("Failed to resolve agent address: {e}")))?;
    Ok(AgentAddr::Tcp { ip, port })
}

/// Splits `host:port` or `[v6]:port` like Go's `net.SplitHostPort`, with a
/// numeric port.
pub(crate) fn split_host_port(addr: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in address {addr:?}"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("missing port in address {addr:?}"))?;
        (host, port)
    } else {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("missing port in address {addr:?}"))?;
        if host.contains(':') {
            return Err(format!("too many colons in address {addr:?}"));
        }
        (host, port)
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("invalid port {port:?} in address {addr:?}"))?;
    Ok((host.to_owned(), port))
}

/// An IP literal as is; a name through the system resolver, IPv4 preferred.
fn resolve_ip(host: &str) -> std::result::Result<IpAddr, String> {
    if host.is_empty() {
        return Err("no host given".to_owned());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("lookup {host}: no addresses"))
}

/// The Envoy to run: `-envoy-binary` (default `envoy`); a name without `/`
/// is searched on `$PATH`. Checked before anything is written, because a
/// failed `exec` leaves little room for a clear error.
fn find_binary(flag: &str, env: &Env<'_>) -> Result<PathBuf> {
    let name = if flag.is_empty() { "envoy" } else { flag };
    let context = || format!("Failed to run the envoy binary {name:?}");
    if name.contains('/') {
        let meta = std::fs::metadata(name).map_err(|e| Error::io(context(), e))?;
        return if meta.is_file() && is_executable(Path::new(name)) {
            Ok(PathBuf::from(name))
        } else {
            Err(Error::msg(format!("{}: not an executable file", context())))
        };
    }
    let path = env.var("PATH").unwrap_or_default();
    path.split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            Error::msg(format!(
                "Couldn't find envoy binary: exec: {name:?}: executable file not found \
                 in $PATH (install Envoy or give its path with -envoy-binary)"
            ))
        })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Writes `text` to `bootstrap.json` (mode 0600) in a new directory (mode
/// 0700) under `base`; returns the directory and the file.
fn write_bootstrap(base: &Path, text: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = create_private_dir(base)?;
    let file = dir.join("bootstrap.json");
    let written = create_private_file(&file).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(Error::io(
            format!(
                "Error writing the bootstrap configuration to {}",
                file.display()
            ),
            e,
        ));
    }
    Ok((dir, file))
}

fn create_private_dir(base: &Path) -> Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let mut last = None;
    for _ in 0..16 {
        let dir = base.join(format!("skein-envoy-{:016x}", rand::random::<u64>()));
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(Error::io(
                    format!("Error creating a directory in {}", base.display()),
                    e,
                ));
            }
        }
    }
    Err(Error::io(
        format!("Error creating a directory in {}", base.display()),
        last.unwrap_or_else(|| std::io::Error::other("no free name")),
    ))
}

fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Envoy's arguments: the config file, `--disable-hot-restart` unless the
/// caller passed a hot-restart option, then the caller's arguments.
pub(crate) fn envoy_args(config: &Path, extra: &[String]) -> Vec<String> {
    let mut args = vec!["--config-path".to_owned(), config.display().to_string()];
    let hot_restart = extra.iter().any(|arg| {
        HOT_RESTART_OPTIONS.iter().any(|opt| {
            arg == opt
                || arg
                    .strip_prefix(opt)
                    .is_some_and(|rest| rest.starts_with('='))
        })
    });
    if !hot_restart {
        args.push("--disable-hot-restart".to_owned());
    }
    args.extend(extra.iter().cloned());
    args
}

/// Replaces this process with `binary args…`; returns only on failure.
#[cfg(unix)]
fn exec(binary: &Path, args: &[String]) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    std::process::Command::new(binary).args(args).exec()
}

#[cfg(not(unix))]
fn exec(_binary: &Path, _args: &[String]) -> std::io::Error {
    std::io::Error::other(
        "running Envoy directly is only supported on unix systems; use -bootstrap",
    )
}

#[cfg(test)]
mod tests;
