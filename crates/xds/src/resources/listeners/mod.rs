//! Listeners (LDS): the public listener and one listener per upstream.

mod http;
mod public;
mod upstream;

use envoy_types::pb::envoy::config::listener::v3::{Filter, Listener};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::util::pack_any;
use skein_proxycfg::ProxySnapshot;

use super::{names, proto};
use crate::error::Result;

/// The public listener, then the upstream listeners in registration order.
pub(crate) fn build(s: &ProxySnapshot) -> Result<Vec<Listener>> {
    let mut out = vec![public::listener(s)?];
    for u in &s.upstreams {
        out.push(upstream::listener(u)?);
    }
    Ok(out)
}

/// `envoy.filters.network.tcp_proxy` to `cluster`.
fn tcp_proxy(stat_prefix: &str, cluster: &str) -> Filter {
    let config = TcpProxy {
        stat_prefix: stat_prefix.to_owned(),
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.to_owned())),
        ..TcpProxy::default()
    };
    proto::network_filter(names::TCP_PROXY, pack_any(config))
}
