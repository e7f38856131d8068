//! Rendering: the JSON shape Consul's GET answers use, and storage round trips.

use serde_json::json;

use super::parse;
use crate::ConfigEntry;

#[test]
fn service_defaults_render_like_consul() {
    let mut entry = parse(json!({"Kind": "service-defaults", "Name": "web", "Protocol": "HTTP"}));
    entry.set_indexes(12, 13);
    assert_eq!(
        entry.to_json(),
        json!({
            "Kind": "service-defaults",
            "Name": "web",
            "Protocol": "http",
            "TransparentProxy": {},
            "MeshGateway": {},
            "Expose": {},
            "CreateIndex": 12,
            "ModifyIndex": 13
        })
    );
}

#[test]
fn proxy_defaults_render_config_verbatim_and_empty_structs() {
    let entry = parse(json!({
        "Kind": "proxy-defaults", "Name": "global",
        "Config": {"protocol": "http", "envoy_prometheus_bind_addr": "0.0.0.0:9102"}
    }));
    assert_eq!(
        entry.to_json(),
        json!({
            "Kind": "proxy-defaults",
            "Name": "global",
            "Config": {"protocol": "http", "envoy_prometheus_bind_addr": "0.0.0.0:9102"},
            "TransparentProxy": {},
            "MeshGateway": {},
            "Expose": {},
            "AccessLogs": {},
            "CreateIndex": 0,
            "ModifyIndex": 0
        })
    );
    let bare = parse(json!({"Kind": "proxy-defaults", "Name": "global"}));
    assert_eq!(bare.to_json()["Config"], serde_json::Value::Null);
}

#[test]
fn resolver_renders_go_durations() {
    let entry = parse(json!({
        "kind": "service-resolver", "name": "web",
        "connect_timeout": 90_000_000_000u64,
        "subsets": {"v1": {"filter": "Service.Meta.version == 1"}},
        "default_subset": "v1",
        "load_balancer": {"policy": "maglev", "hash_policies": [
            {"field": "cookie", "field_value": "c", "cookie_config": {"ttl": "2m"}}
        ]}
    }));
    assert_eq!(
        entry.to_json(),
        json!({
            "Kind": "service-resolver",
            "Name": "web",
            "DefaultSubset": "v1",
            "Subsets": {"v1": {"Filter": "Service.Meta.version == 1"}},
            "ConnectTimeout": "1m30s",
            "LoadBalancer": {"Policy": "maglev", "HashPolicies": [
                {"Field": "cookie", "FieldValue": "c", "CookieConfig": {"TTL": 120_000_000_000u64}}
            ]},
            "CreateIndex": 0,
            "ModifyIndex": 0
        })
    );
}

#[test]
fn splitter_and_router_render_omitting_empty_fields() {
    let entry = parse(json!({
        "Kind": "service-splitter", "Name": "web",
        "Splits": [{"Weight": 33.333}, {"Weight": 66.667, "ServiceSubset": "v2"}]
    }));
    assert_eq!(
        entry.to_json(),
        json!({
            "Kind": "service-splitter",
            "Name": "web",
            "Splits": [{"Weight": 33.33}, {"Weight": 66.67, "ServiceSubset": "v2"}],
            "CreateIndex": 0,
            "ModifyIndex": 0
        })
    );
    let router = parse(json!({"Kind": "service-router", "Name": "web"}));
    assert_eq!(
        router.to_json(),
        json!({"Kind": "service-router", "Name": "web", "Routes": null, "CreateIndex": 0, "ModifyIndex": 0})
    );
}

#[test]
fn mesh_and_gateways_render_like_consul() {
    let mesh = parse(json!({"Kind": "mesh"}));
    assert_eq!(
        mesh.to_json(),
        json!({
            "Kind": "mesh",
            "TransparentProxy": {"MeshDestinationsOnly": false},
            "CreateIndex": 0,
            "ModifyIndex": 0
        })
    );
    let ingress = parse(json!({
        "Kind": "ingress-gateway", "Name": "igw",
        "Listeners": [{"Port": 8080, "Services": [{"Name": "web"}]}]
    }));
    assert_eq!(
        ingress.to_json(),
        json!({
            "Kind": "ingress-gateway",
            "Name": "igw",
            "TLS": {"Enabled": false},
            "Listeners": [{"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "web", "Hosts": null}]}],
            "CreateIndex": 0,
            "ModifyIndex": 0
        })
    );
}

#[test]
fn stored_form_round_trips_with_indexes() {
    let bodies = [
        json!({"Kind": "service-resolver", "Name": "web", "ConnectTimeout": "3s",
               "Failover": {"*": {"Datacenters": ["dc2"]}}}),
        json!({"Kind": "service-intentions", "Name": "db",
               "Sources": [{"Name": "web", "Action": "allow"}]}),
        json!({"Kind": "mesh", "HTTP": {"SanitizeXForwardedClientCert": true}}),
        json!({"Kind": "terminating-gateway", "Name": "tgw", "Services": [{"Name": "s3"}]}),
    ];
    for body in bodies {
        let mut entry = parse(body);
        entry.set_indexes(5, 7);
        let stored = serde_json::to_string(&entry).unwrap();
        let back: ConfigEntry = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, entry);
        assert_eq!((back.create_index(), back.modify_index()), (5, 7));
    }
}
