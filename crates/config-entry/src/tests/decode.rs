//! Decoding: PascalCase and snake_case keys, durations, kinds, unknown keys.

use serde_json::json;

use super::{parse, rejection};
use crate::{ConfigEntry, GoDuration, Kind, decode_request};

fn router_pascal() -> serde_json::Value {
    json!({
        "Kind": "service-router",
        "Name": "web",
        "Routes": [{
            "Match": {"HTTP": {
                "PathPrefix": "/admin",
                "Header": [{"Name": "x-debug", "Present": true}],
                "QueryParam": [{"Name": "v", "Exact": "2"}],
                "Methods": ["get", "POST"]
            }},
            "Destination": {
                "Service": "admin",
                "ServiceSubset": "v2",
                "PrefixRewrite": "/",
                "RequestTimeout": "1m30s",
                "NumRetries": 3,
                "RetryOnConnectFailure": true,
                "RetryOnStatusCodes": [503],
                "RequestHeaders": {"Set": {"X-Route": "admin"}}
            }
        }]
    })
}

fn router_snake() -> serde_json::Value {
    json!({
        "kind": "service-router",
        "name": "web",
        "routes": [{
            "match": {"http": {
                "path_prefix": "/admin",
                "header": [{"name": "x-debug", "present": true}],
                "query_param": [{"name": "v", "exact": "2"}],
                "methods": ["get", "POST"]
            }},
            "destination": {
                "service": "admin",
                "service_subset": "v2",
                "prefix_rewrite": "/",
                "request_timeout": "1m30s",
                "num_retries": 3,
                "retry_on_connect_failure": true,
                "retry_on_status_codes": [503],
                "request_headers": {"set": {"X-Route": "admin"}}
            }
        }]
    })
}

#[test]
fn pascal_and_snake_keys_decode_to_the_same_router() {
    let pascal = parse(router_pascal());
    let snake = parse(router_snake());
    assert_eq!(pascal, snake);
    let ConfigEntry::ServiceRouter(router) = pascal else {
        panic!("not a router")
    };
    let route = &router.routes[0];
    let http = route.route_match.as_ref().unwrap().http.as_ref().unwrap();
    assert_eq!(http.methods, ["GET", "POST"], "methods are upper-cased");
    let dest = route.destination.as_ref().unwrap();
    assert_eq!(dest.request_timeout, GoDuration::from_secs(90));
    assert_eq!(dest.service_subset, "v2");
    let set = &dest.request_headers.as_ref().unwrap().set;
    assert_eq!(
        set.get("X-Route").map(String::as_str),
        Some("admin"),
        "header names kept verbatim"
    );
}

#[test]
fn resolver_snake_case_with_durations_and_named_maps() {
    let entry = parse(json!({
        "kind": "service-resolver",
        "name": "web",
        "connect_timeout": "15s",
        "request_timeout": 2_000_000_000u64,
        "default_subset": "v1",
        "subsets": {
            "v1": {"filter": "Service.Meta.version == v1", "only_passing": true},
            "v2": {"Filter": "Service.Meta.version == v2"}
        },
        "failover": {"*": {"datacenters": ["dc2", "dc3"]}},
        "load_balancer": {
            "policy": "ring_hash",
            "ring_hash_config": {"minimum_ring_size": 1024},
            "hash_policies": [{"field": "cookie", "field_value": "s", "cookie_config": {"ttl": "10s"}}]
        },
        "meta": {"owner_team": "x"}
    }));
    let ConfigEntry::ServiceResolver(r) = entry else {
        panic!("not a resolver")
    };
    assert_eq!(r.connect_timeout, GoDuration::from_secs(15));
    assert_eq!(r.request_timeout, GoDuration::from_secs(2));
    assert!(r.subsets["v1"].only_passing);
    assert_eq!(r.failover["*"].datacenters, ["dc2", "dc3"]);
    let lb = r.load_balancer.unwrap();
    assert_eq!(lb.ring_hash_config.unwrap().minimum_ring_size, 1024);
    let ttl = lb.hash_policies[0].cookie_config.as_ref().unwrap().ttl;
    assert_eq!(ttl, GoDuration::from_secs(10));
    assert!(
        r.meta.contains_key("owner_team"),
        "meta keys are not translated"
    );
}

#[test]
fn gateway_and_defaults_snake_case() {
    let entry = parse(json!({
        "kind": "terminating-gateway",
        "name": "tgw",
        "services": [{"name": "billing", "ca_file": "/ca.pem", "sni": "billing.example"}]
    }));
    let ConfigEntry::TerminatingGateway(t) = entry else {
        panic!()
    };
    assert_eq!(t.services[0].ca_file, "/ca.pem");
    assert_eq!(t.services[0].sni, "billing.example");

    let entry = parse(json!({
        "Kind": "proxy-defaults",
        "config": {"protocol": "http", "local_connect_timeout_ms": 1000},
        "mesh_gateway": {"mode": "local"},
        "transparent_proxy": {"outbound_listener_port": 15001}
    }));
    let ConfigEntry::ProxyDefaults(p) = entry else {
        panic!()
    };
    assert_eq!(p.name, "global", "an empty name becomes global");
    assert_eq!(p.protocol(), "http");
    assert!(p.config.unwrap().contains_key("local_connect_timeout_ms"));
    assert_eq!(p.mesh_gateway.mode, "local");
    assert_eq!(p.transparent_proxy.outbound_listener_port, 15001);
}

#[test]
fn kind_errors_use_consuls_text() {
    assert_eq!(
        rejection(&json!({"Name": "web"})),
        "Payload does not contain a kind/Kind key at the top level"
    );
    assert_eq!(
        rejection(&json!({"Kind": 7, "Name": "web"})),
        "Kind value in payload is not a string"
    );
    assert_eq!(
        rejection(&json!({"Kind": "service-bogus", "Name": "web"})),
        "invalid config entry kind: service-bogus"
    );
}

#[test]
fn unknown_keys_are_named_with_their_path() {
    assert_eq!(
        rejection(&json!({"Kind": "service-defaults", "Name": "web", "Bogus": 1})),
        "invalid config key \"Bogus\""
    );
    let nested = json!({
        "Kind": "service-router", "Name": "web",
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/", "not_a_field": true}}}]
    });
    assert_eq!(
        rejection(&nested),
        "invalid config key \"Routes[0].Match.HTTP.not_a_field\""
    );
    let in_subset = json!({
        "Kind": "service-resolver", "Name": "web",
        "Subsets": {"v1": {"Filtre": "x"}}
    });
    assert_eq!(
        rejection(&in_subset),
        "invalid config key \"Subsets.v1.Filtre\""
    );
}

#[test]
fn enterprise_and_ignored_top_level_keys() {
    assert_eq!(
        rejection(&json!({"Kind": "service-defaults", "Name": "web", "Namespace": "team-a"})),
        "invalid config key \"Namespace\", namespaces are a consul enterprise feature"
    );
    let entry = parse(json!({
        "Kind": "service-defaults", "Name": "web", "Namespace": "default",
        "Partition": "", "CreateIndex": 9, "ModifyIndex": 10
    }));
    assert_eq!(entry.create_index(), 0, "request indexes are ignored");
    assert_eq!(entry.key().kind, Kind::ServiceDefaults);
}

#[test]
fn bad_values_name_the_field() {
    let msg = rejection(&json!({
        "Kind": "service-resolver", "Name": "web", "ConnectTimeout": "5 seconds"
    }));
    assert!(msg.starts_with("ConnectTimeout: "), "{msg}");
    let msg = rejection(&json!({
        "Kind": "service-resolver", "Name": "web", "ConnectTimeout": "5"
    }));
    assert!(
        msg.contains("time: missing unit in duration \"5\""),
        "{msg}"
    );
    let msg = rejection(
        &json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": "half"}]}),
    );
    assert!(msg.starts_with("Splits[0].Weight: invalid type"), "{msg}");
}

#[test]
fn mesh_accepts_only_its_own_name() {
    let entry = parse(
        json!({"Kind": "mesh", "Name": "mesh", "TransparentProxy": {"MeshDestinationsOnly": true}}),
    );
    assert_eq!(entry.name(), "mesh");
    let entry =
        parse(json!({"kind": "mesh", "transparent_proxy": {"mesh_destinations_only": true}}));
    assert_eq!(entry.key().name, "mesh");
    assert_eq!(
        rejection(&json!({"Kind": "mesh", "Name": "other"})),
        "invalid name (\"other\"), only \"mesh\" is supported"
    );
}

#[test]
fn service_intentions_are_decoded_by_the_intention_crate() {
    let entry = parse(json!({
        "kind": "service-intentions",
        "name": "db",
        "sources": [{"name": "web", "action": "allow"}, {"name": "*", "action": "deny"}]
    }));
    let ConfigEntry::ServiceIntentions(ixn) = &entry else {
        panic!()
    };
    assert_eq!(ixn.sources.len(), 2);
    assert_eq!(entry.key().kind, Kind::ServiceIntentions);
    assert_eq!(entry.name(), "db");
}

#[test]
fn decode_request_does_not_validate() {
    let entry = decode_request(&json!({"Kind": "service-splitter", "Name": "web"})).unwrap();
    assert!(entry.validate().is_err());
}

#[test]
fn nulls_mean_unset_like_in_consul() {
    let entry = parse(json!({
        "Kind": "service-router", "Name": "web", "Routes": null, "Meta": null,
        "CreateIndex": null
    }));
    assert_eq!(entry.name(), "web");
    let entry = parse(json!({
        "Kind": "service-resolver", "Name": "web", "Subsets": {"v1": null}, "Redirect": null,
        "ConnectTimeout": null
    }));
    let ConfigEntry::ServiceResolver(r) = entry else {
        panic!()
    };
    assert!(r.subsets.contains_key("v1"));
}

#[test]
fn nested_namespace_keys_name_the_enterprise_feature() {
    let body = json!({"Kind": "service-defaults", "Name": "web",
        "UpstreamConfig": {"Overrides": [{"Name": "db", "Namespace": "other"}]}});
    assert_eq!(
        rejection(&body),
        "invalid config key \"UpstreamConfig.Overrides[0].Namespace\", namespaces are a consul enterprise feature"
    );
}

#[test]
fn snake_case_intentions_with_permissions() {
    let entry = parse(json!({
        "kind": "service-intentions",
        "name": "db",
        "sources": [{
            "name": "web",
            "permissions": [{
                "action": "allow",
                "http": {"path_prefix": "/v1", "methods": ["GET"],
                         "header": [{"name": "x-team", "ignore_case": true, "contains": "ops"}]}
            }],
            "description": "reads only"
        }]
    }));
    let ConfigEntry::ServiceIntentions(ixn) = entry else {
        panic!()
    };
    let http = ixn.sources[0].permissions[0].http.as_ref().unwrap();
    assert_eq!(http.path_prefix, "/v1");
    assert!(http.header[0].ignore_case);
    assert_eq!(ixn.sources[0].description, "reads only");
}

#[test]
fn a_single_block_where_a_list_is_expected_decodes_as_a_list() {
    let one = json!({"Kind": "service-intentions", "Name": "db",
        "Sources": {"Name": "web", "Action": "allow"}});
    let many = json!({"Kind": "service-intentions", "Name": "db",
        "Sources": [{"Name": "web", "Action": "allow"}]});
    assert_eq!(
        decode_request(&one).expect("single block"),
        decode_request(&many).expect("list")
    );
}
