//! The inbound listener: mTLS with this proxy's leaf, intentions as RBAC,
//! then `local_app`.

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener};
use skein_proxycfg::ProxySnapshot;

use super::Logs;
use super::http::{self, HcmOptions, RouteSpec};
use crate::error::Result;
use crate::resources::config::{self, Protocol};
use crate::resources::{names, proto, rbac, tls};

/// `public_listener:<addr>:<port>`: one filter chain, TLS required.
pub(crate) fn listener(s: &ProxySnapshot, logs: &Logs) -> Result<Listener> {
    let protocol = config::local_protocol(s);
    let filters = if protocol.is_http_like() {
        vec![hcm(s, protocol, logs)?]
    } else {
        vec![
            rbac::network_filter(s)?,
            super::tcp_proxy(names::PUBLIC_LISTENER, names::LOCAL_APP, logs),
        ]
    };
    let chain = FilterChain {
        filters,
        transport_socket: Some(tls::downstream(s, protocol)),
        ..FilterChain::default()
    };
    Ok(Listener {
        name: names::public_listener(&s.bind_address, s.bind_port),
        address: Some(proto::socket_address(&s.bind_address, s.bind_port)),
        traffic_direction: TrafficDirection::Inbound as i32,
        filter_chains: vec![chain],
        access_log: logs.listeners.clone(),
        ..Listener::default()
    })
}

/// The HTTP connection manager of an HTTP-like service: RBAC per request,
/// client certificate details forwarded to the application.
fn hcm(s: &ProxySnapshot, protocol: Protocol, logs: &Logs) -> Result<Filter> {
    let route = RouteSpec::Inline {
        route_name: names::PUBLIC_LISTENER.to_owned(),
        virtual_host: names::PUBLIC_LISTENER.to_owned(),
        cluster: names::LOCAL_APP.to_owned(),
        timeout_ms: config::local_request_timeout_ms(s),
        idle_timeout_ms: config::local_idle_timeout_ms(s),
    };
    Ok(http::connection_manager(HcmOptions {
        stat_prefix: names::PUBLIC_LISTENER.to_owned(),
        route,
        protocol,
        authz: Some(rbac::http_filter(s)?),
        forward_client_cert: true,
        access_log: logs.filters.clone(),
    }))
}
