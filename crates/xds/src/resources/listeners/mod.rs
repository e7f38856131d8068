//! Listeners (LDS): the public listener and one listener per upstream.

mod http;
mod public;
mod upstream;

use envoy_types::pb::envoy::config::accesslog::v3::AccessLog;
use envoy_types::pb::envoy::config::listener::v3::{Filter, Listener};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::util::pack_any;
use skein_proxycfg::ProxySnapshot;

use super::{access_log, names, proto};
use crate::error::Result;

/// The public listener, then the upstream listeners in registration order.
pub(crate) fn build(s: &ProxySnapshot) -> Result<Vec<Listener>> {
    let logs = Logs {
        filters: access_log::filter_logs(&s.access_logs)?,
        listeners: access_log::listener_logs(&s.access_logs)?,
    };
    let mut out = vec![public::listener(s, &logs)?];
    for u in &s.upstreams {
        out.push(upstream::listener(u, &logs)?);
    }
    Ok(out)
}

/// Access loggers from `proxy-defaults` (empty when logging is off).
pub(crate) struct Logs {
    /// On tcp_proxy and HTTP connection managers.
    pub(crate) filters: Vec<AccessLog>,
    /// On the listeners themselves.
    pub(crate) listeners: Vec<AccessLog>,
}

/// `envoy.filters.network.tcp_proxy` to `cluster`.
fn tcp_proxy(stat_prefix: &str, cluster: &str, logs: &Logs) -> Filter {
    let config = TcpProxy {
        stat_prefix: stat_prefix.to_owned(),
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.to_owned())),
        access_log: logs.filters.clone(),
        ..TcpProxy::default()
    };
    proto::network_filter(names::TCP_PROXY, pack_any(config))
}
