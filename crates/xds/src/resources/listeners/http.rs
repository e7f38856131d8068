//! The HTTP connection manager shared by public and upstream listeners.

use envoy_types::pb::envoy::config::accesslog::v3::AccessLog;
use envoy_types::pb::envoy::config::core::v3::Http2ProtocolOptions;
use envoy_types::pb::envoy::config::listener::v3::Filter;
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, VirtualHost, route, route_action,
};
use envoy_types::pb::envoy::extensions::filters::http::grpc_http1_bridge::v3::Config as GrpcHttp1Bridge;
use envoy_types::pb::envoy::extensions::filters::http::grpc_stats::v3::{
    FilterConfig as GrpcStats, filter_config,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager as hcm,
};
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::pb::google::protobuf::BoolValue;
use envoy_types::util::pack_any;

use crate::resources::config::Protocol;
use crate::resources::{names, proto};

/// Where the connection manager's routes come from.
#[derive(Debug, Clone)]
pub(crate) enum RouteSpec {
    /// RDS over ADS, route configuration `route_name`.
    Rds {
        /// The RouteConfiguration's name.
        route_name: String,
    },
    /// One catch-all route to `cluster`.
    Inline {
        /// The route configuration's name.
        route_name: String,
        /// The virtual host's name.
        virtual_host: String,
        /// Where every request goes.
        cluster: String,
        /// Route timeout in milliseconds (0 disables it).
        timeout_ms: Option<u64>,
        /// Route idle timeout in milliseconds (0 disables it).
        idle_timeout_ms: Option<u64>,
    },
}

/// How to build a connection manager.
#[derive(Debug, Clone)]
pub(crate) struct HcmOptions {
    /// Stat prefix.
    pub(crate) stat_prefix: String,
    /// Routes.
    pub(crate) route: RouteSpec,
    /// The protocol spoken.
    pub(crate) protocol: Protocol,
    /// The authorization filter, first in the chain (after gRPC helpers).
    pub(crate) authz: Option<HttpFilter>,
    /// Append the client certificate to `x-forwarded-client-cert`.
    pub(crate) forward_client_cert: bool,
    /// Access loggers.
    pub(crate) access_log: Vec<AccessLog>,
}

/// `envoy.filters.network.http_connection_manager`.
pub(crate) fn connection_manager(opts: HcmOptions) -> Filter {
    let mut cfg = HttpConnectionManager {
        stat_prefix: opts.stat_prefix.clone(),
        codec_type: hcm::CodecType::Auto as i32,
        http_filters: http_filters(&opts),
        access_log: opts.access_log.clone(),
        tracing: Some(hcm::Tracing {
            random_sampling: Some(Percent { value: 0.0 }),
            ..hcm::Tracing::default()
        }),
        upgrade_configs: vec![hcm::UpgradeConfig {
            upgrade_type: "websocket".to_owned(),
            ..hcm::UpgradeConfig::default()
        }],
        route_specifier: Some(route_specifier(opts.route)),
        ..HttpConnectionManager::default()
    };
    if opts.protocol.is_http2() {
        cfg.http2_protocol_options = Some(Http2ProtocolOptions::default());
    }
    if opts.forward_client_cert {
        cfg.forward_client_cert_details = hcm::ForwardClientCertDetails::AppendForward as i32;
        cfg.set_current_client_cert_details = Some(hcm::SetCurrentClientCertDetails {
            subject: Some(BoolValue { value: true }),
            cert: true,
            chain: true,
            dns: true,
            uri: true,
            ..hcm::SetCurrentClientCertDetails::default()
        });
    }
    proto::network_filter(names::HTTP_CONNECTION_MANAGER, pack_any(cfg))
}

/// `[grpc_stats, grpc_http1_bridge]` for gRPC, then authz, then the router.
fn http_filters(opts: &HcmOptions) -> Vec<HttpFilter> {
    let mut filters = Vec::new();
    if opts.protocol == Protocol::Grpc {
        filters.push(grpc_stats());
        let bridge = GrpcHttp1Bridge::default();
        filters.push(proto::http_filter(
            names::HTTP_GRPC_HTTP1_BRIDGE,
            pack_any(bridge),
        ));
    }
    filters.extend(opts.authz.clone());
    filters.push(proto::http_filter(
        names::HTTP_ROUTER,
        pack_any(Router::default()),
    ));
    filters
}

fn grpc_stats() -> HttpFilter {
    let config = GrpcStats {
        per_method_stat_specifier: Some(filter_config::PerMethodStatSpecifier::StatsForAllMethods(
            BoolValue { value: true },
        )),
        ..GrpcStats::default()
    };
    proto::http_filter(names::HTTP_GRPC_STATS, pack_any(config))
}

fn route_specifier(route: RouteSpec) -> hcm::RouteSpecifier {
    match route {
        RouteSpec::Rds { route_name } => hcm::RouteSpecifier::Rds(Rds {
            config_source: Some(proto::ads_config_source()),
            route_config_name: route_name,
        }),
        RouteSpec::Inline {
            route_name,
            virtual_host,
            cluster,
            timeout_ms,
            idle_timeout_ms,
        } => hcm::RouteSpecifier::RouteConfig(RouteConfiguration {
            name: route_name,
            virtual_hosts: vec![VirtualHost {
                name: virtual_host,
                domains: vec!["*".to_owned()],
                routes: vec![catch_all(cluster, timeout_ms, idle_timeout_ms)],
                ..VirtualHost::default()
            }],
            ..RouteConfiguration::default()
        }),
    }
}

fn catch_all(cluster: String, timeout_ms: Option<u64>, idle_timeout_ms: Option<u64>) -> Route {
    let action = RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster)),
        timeout: timeout_ms.map(proto::millis),
        idle_timeout: idle_timeout_ms.map(proto::millis),
        ..RouteAction::default()
    };
    Route {
        r#match: Some(proto::prefix_match("/")),
        action: Some(route::Action::Route(action)),
        ..Route::default()
    }
}
