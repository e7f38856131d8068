//! Small constructors for the Envoy protobuf pieces every resource uses.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ApiVersion, ConfigSource, Http2ProtocolOptions, SocketAddress,
    address, config_source, socket_address,
};
use envoy_types::pb::envoy::config::listener::v3::{Filter, filter};
use envoy_types::pb::envoy::config::route::v3::{RouteMatch, route_match};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};
use envoy_types::util::pack_any;
use skein_config_entry::GoDuration;

use super::names;

const NANOS_PER_MILLI: u64 = 1_000_000;
const MILLIS_PER_SEC: u64 = 1_000;

/// A protobuf duration of `ms` milliseconds.
pub(crate) fn millis(ms: u64) -> Duration {
    Duration {
        seconds: saturate_i64(ms / MILLIS_PER_SEC),
        nanos: saturate_i32((ms % MILLIS_PER_SEC) * NANOS_PER_MILLI),
    }
}

/// A protobuf duration from a Go duration; negative becomes zero.
pub(crate) fn go_duration(d: GoDuration) -> Duration {
    let nanos = d.as_nanos().max(0);
    Duration {
        seconds: nanos / 1_000_000_000,
        nanos: saturate_i32(u64::try_from(nanos % 1_000_000_000).unwrap_or(0)),
    }
}

/// `socket_address {address, port_value}`.
pub(crate) fn socket_address(addr: &str, port: u16) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: addr.to_owned(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(port))),
            ..SocketAddress::default()
        })),
    }
}

/// `{ads: {}, resource_api_version: V3}`.
pub(crate) fn ads_config_source() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource {},
        )),
        ..ConfigSource::default()
    }
}

/// A network filter with a typed config.
pub(crate) fn network_filter(name: &str, config: Any) -> Filter {
    Filter {
        name: name.to_owned(),
        config_type: Some(filter::ConfigType::TypedConfig(config)),
    }
}

/// An HTTP filter with a typed config.
pub(crate) fn http_filter(name: &str, config: Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..HttpFilter::default()
    }
}

/// `typed_extension_protocol_options` forcing HTTP/2 to the upstream.
pub(crate) fn http2_protocol_options() -> HashMap<String, Any> {
    use http_protocol_options::explicit_http_config::ProtocolConfig;
    let options = HttpProtocolOptions {
        upstream_protocol_options: Some(
            http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
                http_protocol_options::ExplicitHttpConfig {
                    protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                        Http2ProtocolOptions::default(),
                    )),
                },
            ),
        ),
        ..HttpProtocolOptions::default()
    };
    // A single entry: a map's encoding is only stable with one key.
    HashMap::from([(names::HTTP_PROTOCOL_OPTIONS.to_owned(), pack_any(options))])
}

/// A string matcher on the exact value.
pub(crate) fn exact(value: &str, ignore_case: bool) -> StringMatcher {
    string_matcher(
        string_matcher::MatchPattern::Exact(value.to_owned()),
        ignore_case,
    )
}

/// A string matcher on a prefix.
pub(crate) fn prefix(value: &str, ignore_case: bool) -> StringMatcher {
    string_matcher(
        string_matcher::MatchPattern::Prefix(value.to_owned()),
        ignore_case,
    )
}

/// A string matcher on a suffix.
pub(crate) fn suffix(value: &str, ignore_case: bool) -> StringMatcher {
    string_matcher(
        string_matcher::MatchPattern::Suffix(value.to_owned()),
        ignore_case,
    )
}

/// A string matcher on a substring.
pub(crate) fn contains(value: &str, ignore_case: bool) -> StringMatcher {
    string_matcher(
        string_matcher::MatchPattern::Contains(value.to_owned()),
        ignore_case,
    )
}

/// A string matcher on a whole-value RE2 regex.
pub(crate) fn regex(pattern: &str) -> StringMatcher {
    string_matcher(
        string_matcher::MatchPattern::SafeRegex(safe_regex(pattern)),
        false,
    )
}

/// An RE2 regex matcher (Envoy's default engine).
pub(crate) fn safe_regex(pattern: &str) -> RegexMatcher {
    RegexMatcher {
        regex: pattern.to_owned(),
        engine_type: None,
    }
}

/// A route match on a path prefix.
pub(crate) fn prefix_match(prefix: &str) -> RouteMatch {
    RouteMatch {
        path_specifier: Some(route_match::PathSpecifier::Prefix(prefix.to_owned())),
        ..RouteMatch::default()
    }
}

/// A `UInt32Value`.
pub(crate) fn uint32(value: u32) -> UInt32Value {
    UInt32Value { value }
}

fn string_matcher(pattern: string_matcher::MatchPattern, ignore_case: bool) -> StringMatcher {
    StringMatcher {
        ignore_case,
        match_pattern: Some(pattern),
    }
}

fn saturate_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn saturate_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_split_seconds_and_nanos() {
        assert_eq!(
            millis(5_000),
            Duration {
                seconds: 5,
                nanos: 0
            }
        );
        assert_eq!(
            millis(1_250),
            Duration {
                seconds: 1,
                nanos: 250_000_000
            }
        );
        let d = go_duration(GoDuration::from_millis(1_500));
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
        assert_eq!(go_duration(GoDuration::from_secs(-3)).seconds, 0);
    }
}
