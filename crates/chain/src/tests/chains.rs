//! Chain compilation cases, expected JSON written after Consul's
//! `compile_test.go` facts (node keys, target IDs, SNIs, defaults).

use serde_json::{Value, json};
use skein_config_entry::GoDuration;

use super::{chain_error, chain_json, compile_main, protocol};
use crate::{Error, Overrides, service_sni};

/// A target as the compiler emits it with no resolver settings.
fn target(service: &str, subset: &str, dc: &str) -> Value {
    let id = if subset.is_empty() {
        format!("{service}.default.default.{dc}")
    } else {
        format!("{subset}.{service}.default.default.{dc}")
    };
    let sni = service_sni(
        service,
        subset,
        "default",
        "default",
        dc,
        super::TRUST_DOMAIN,
    );
    let mut t = json!({
        "ID": id, "Service": service, "Namespace": "default", "Partition": "default",
        "Datacenter": dc, "MeshGateway": {}, "Subset": {}, "TransparentProxy": {},
        "ConnectTimeout": "5s", "SNI": sni, "Name": sni
    });
    if !subset.is_empty() {
        t["ServiceSubset"] = json!(subset);
    }
    t
}

fn resolver_node(id: &str, default: bool) -> Value {
    let mut resolver = json!({"ConnectTimeout": "5s", "Target": id});
    if default {
        resolver["Default"] = json!(true);
    }
    json!({"Type": "resolver", "Name": id, "Resolver": resolver})
}

#[test]
fn default_chain_is_one_resolver_with_a_5s_timeout() {
    assert_eq!(
        chain_json(&[]),
        json!({
            "ServiceName": "main", "Namespace": "default", "Partition": "default", "Datacenter": "dc1",
            "Default": true, "Protocol": "tcp",
            "StartNode": "resolver:main.default.default.dc1",
            "Nodes": {"resolver:main.default.default.dc1": resolver_node("main.default.default.dc1", true)},
            "Targets": {"main.default.default.dc1": target("main", "", "dc1")},
            "AutoVirtualIPs": null, "ManualVirtualIPs": null
        })
    );
}

#[test]
fn protocol_comes_from_service_defaults_then_proxy_defaults() {
    let chain = chain_json(&[json!({"Kind": "proxy-defaults", "Config": {"protocol": "HTTP2"}})]);
    assert_eq!(chain["Protocol"], "http2");
    let chain = chain_json(&[
        json!({"Kind": "proxy-defaults", "Config": {"protocol": "http"}}),
        protocol("main", "grpc"),
    ]);
    assert_eq!(chain["Protocol"], "grpc");
}

#[test]
fn service_meta_and_extensions_are_projected() {
    let chain = chain_json(&[
        json!({"Kind": "proxy-defaults", "EnvoyExtensions": [{"Name": "builtin/lua"}]}),
        json!({"Kind": "service-defaults", "Name": "main", "Meta": {"team": "a"},
               "EnvoyExtensions": [{"Name": "builtin/wasm"}]}),
    ]);
    assert_eq!(chain["ServiceMeta"], json!({"team": "a"}));
    let names: Vec<&str> = chain["EnvoyExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["builtin/lua", "builtin/wasm"]);
}

#[test]
fn router_to_subsets_ends_with_the_default_route() {
    let chain = chain_json(&[
        protocol("main", "http"),
        protocol("admin", "http"),
        json!({"Kind": "service-resolver", "Name": "main",
               "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2", "OnlyPassing": true}}}),
        json!({"Kind": "service-router", "Name": "main", "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/v2"}}, "Destination": {"ServiceSubset": "v2"}},
            {"Match": {"HTTP": {"Header": [{"Name": "x-admin", "Present": true}]}}, "Destination": {"Service": "admin"}}
        ]}),
    ]);
    assert_eq!(chain["StartNode"], "router:main.default.default");
    assert_eq!(chain.get("Default"), None);
    let router = &chain["Nodes"]["router:main.default.default"];
    assert_eq!(router["Name"], "main.default.default");
    let next: Vec<&str> = router["Routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["NextNode"].as_str().unwrap())
        .collect();
    assert_eq!(
        next,
        [
            "resolver:v2.main.default.default.dc1",
            "resolver:admin.default.default.dc1",
            "resolver:main.default.default.dc1"
        ]
    );
    assert_eq!(
        router["Routes"][2]["Definition"],
        json!({"Match": {"HTTP": {"PathPrefix": "/"}},
               "Destination": {"Service": "main", "Namespace": "default", "Partition": "default"}})
    );
    let mut v2 = target("main", "v2", "dc1");
    v2["Subset"] = json!({"Filter": "Service.Meta.version == v2", "OnlyPassing": true});
    assert_eq!(chain["Targets"]["v2.main.default.default.dc1"], v2);
    assert_eq!(
        chain["Nodes"]["resolver:main.default.default.dc1"],
        resolver_node("main.default.default.dc1", false),
        "a resolver with subsets is not a default resolver"
    );
    assert_eq!(chain["Targets"].as_object().unwrap().len(), 3);
}

#[test]
fn nested_splitters_flatten_with_multiplied_weights_and_merged_headers() {
    let chain = chain_json(&[
        protocol("main", "http"),
        protocol("other", "http"),
        json!({"Kind": "service-resolver", "Name": "main", "Subsets": {"v1": {}}}),
        json!({"Kind": "service-resolver", "Name": "other", "Subsets": {"v1": {}, "v2": {}}}),
        json!({"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 50, "ServiceSubset": "v1"},
            {"Weight": 50, "Service": "other", "RequestHeaders": {"Set": {"x-from": "main"}}}
        ]}),
        json!({"Kind": "service-splitter", "Name": "other", "Splits": [
            {"Weight": 33.33, "ServiceSubset": "v1"},
            {"Weight": 66.67, "ServiceSubset": "v2", "RequestHeaders": {"Set": {"x-leg": "v2"}}}
        ]}),
    ]);
    assert_eq!(chain["StartNode"], "splitter:main.default.default");
    assert!(
        chain["Nodes"]
            .get("splitter:other.default.default")
            .is_none(),
        "inner splitter pruned"
    );
    assert_eq!(
        chain["Nodes"]["splitter:main.default.default"]["Splits"],
        json!([
            {"Definition": {"Weight": 50, "ServiceSubset": "v1"}, "Weight": 50,
             "NextNode": "resolver:v1.main.default.default.dc1"},
            {"Definition": {"Weight": 33.33, "ServiceSubset": "v1", "RequestHeaders": {"Set": {"x-from": "main"}}},
             "Weight": 16.67, "NextNode": "resolver:v1.other.default.default.dc1"},
            {"Definition": {"Weight": 66.67, "ServiceSubset": "v2", "RequestHeaders": {"Set": {"x-from": "main", "x-leg": "v2"}}},
             "Weight": 33.34, "NextNode": "resolver:v2.other.default.default.dc1"}
        ])
    );
}

#[test]
fn splitter_carries_the_first_hash_based_load_balancer() {
    let chain = chain_json(&[
        protocol("main", "http"),
        protocol("foo", "http"),
        protocol("bar", "http"),
        json!({"Kind": "service-resolver", "Name": "foo", "LoadBalancer": {"Policy": "least_request"}}),
        json!({"Kind": "service-resolver", "Name": "bar", "LoadBalancer": {"Policy": "ring_hash", "HashPolicies": [{"SourceIP": true}]}}),
        json!({"Kind": "service-splitter", "Name": "main", "Splits": [
            {"Weight": 60, "Service": "foo"}, {"Weight": 40, "Service": "bar"}
        ]}),
    ]);
    let splitter = &chain["Nodes"]["splitter:main.default.default"];
    assert_eq!(splitter["LoadBalancer"]["Policy"], "ring_hash");
    assert_eq!(
        chain["Nodes"]["resolver:foo.default.default.dc1"]["LoadBalancer"],
        json!({"Policy": "least_request"})
    );
}

#[test]
fn redirects_to_service_subset_and_datacenter() {
    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other", "ServiceSubset": "v1"}}),
        json!({"Kind": "service-resolver", "Name": "other", "Subsets": {"v1": {"Filter": "Service.Meta.v == 1"}}}),
    ]);
    assert_eq!(chain["StartNode"], "resolver:v1.other.default.default.dc1");
    assert_eq!(chain.get("Default"), None);
    let targets: Vec<&String> = chain["Targets"].as_object().unwrap().keys().collect();
    assert_eq!(targets, ["v1.other.default.default.dc1"]);

    let chain = chain_json(&[
        json!({"Kind": "proxy-defaults", "MeshGateway": {"Mode": "remote"}}),
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Datacenter": "dc9"}}),
    ]);
    let mut expected = target("main", "", "dc9");
    expected["MeshGateway"] = json!({"Mode": "remote"});
    assert_eq!(chain["Targets"]["main.default.default.dc9"], expected);
    assert_eq!(chain["StartNode"], "resolver:main.default.default.dc9");
}

#[test]
fn redirect_to_a_default_resolver_is_not_a_default_chain() {
    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}),
    ]);
    assert_eq!(
        chain["Nodes"]["resolver:other.default.default.dc1"]["Resolver"]["Default"],
        true
    );
    assert_eq!(chain.get("Default"), None);
}

#[test]
fn default_subset_rewrites_the_target() {
    let chain = chain_json(&[json!({"Kind": "service-resolver", "Name": "main",
        "DefaultSubset": "v1", "ConnectTimeout": "33s", "RequestTimeout": "2s",
        "Subsets": {"v1": {"OnlyPassing": true}}})]);
    assert_eq!(chain["StartNode"], "resolver:v1.main.default.default.dc1");
    assert_eq!(
        chain["Nodes"]["resolver:v1.main.default.default.dc1"]["Resolver"],
        json!({"ConnectTimeout": "33s", "RequestTimeout": 2_000_000_000u64, "Target": "v1.main.default.default.dc1"})
    );
    assert_eq!(
        chain["Targets"]["v1.main.default.default.dc1"]["ConnectTimeout"],
        "33s"
    );
}

#[test]
fn failover_to_service_subset_and_datacenters() {
    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Subsets": {"v1": {}, "v2": {}},
            "DefaultSubset": "v1",
            "Failover": {"v1": {"ServiceSubset": "v2"}, "*": {"Datacenters": ["dc2", "dc1", "dc3"]}}}),
        json!({"Kind": "service-resolver", "Name": "backup", "ConnectTimeout": "9s"}),
    ]);
    assert_eq!(
        chain["Nodes"]["resolver:v1.main.default.default.dc1"]["Resolver"]["Failover"],
        json!({"Targets": ["v2.main.default.default.dc1"]})
    );
    assert!(
        chain["Targets"]
            .get("v2.main.default.default.dc1")
            .is_some()
    );

    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Datacenters": ["dc2", "dc1", "dc3"]}}}),
    ]);
    let node = &chain["Nodes"]["resolver:main.default.default.dc1"];
    assert_eq!(
        node["Resolver"]["Failover"],
        json!({"Targets": ["main.default.default.dc2", "main.default.default.dc3"]}),
        "the primary datacenter is not a failover target of itself"
    );
    assert_eq!(
        chain["Targets"]["main.default.default.dc3"],
        target("main", "", "dc3")
    );
    assert_eq!(
        chain["Nodes"].as_object().unwrap().len(),
        1,
        "failover targets get no nodes"
    );

    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "backup"}}}),
        json!({"Kind": "service-resolver", "Name": "backup", "ConnectTimeout": "9s"}),
    ]);
    assert_eq!(
        chain["Nodes"]["resolver:main.default.default.dc1"]["Resolver"]["Failover"]["Targets"],
        json!(["backup.default.default.dc1"])
    );
    assert_eq!(
        chain["Targets"]["backup.default.default.dc1"]["ConnectTimeout"],
        "9s"
    );
}

#[test]
fn failover_targets_follow_redirects_and_peers() {
    let chain = chain_json(&[
        json!({"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Targets": [
            {"Service": "backup"}, {"Peer": "cluster-02"}
        ]}}}),
        json!({"Kind": "service-resolver", "Name": "backup", "Redirect": {"Service": "backup2"}}),
    ]);
    let failover = &chain["Nodes"]["resolver:main.default.default.dc1"]["Resolver"]["Failover"];
    assert_eq!(
        failover["Targets"],
        json!([
            "backup2.default.default.dc1",
            "main.default.default.external.cluster-02"
        ])
    );
    let peer = &chain["Targets"]["main.default.default.external.cluster-02"];
    assert_eq!(peer["Peer"], "cluster-02");
    assert_eq!(
        peer.get("SNI"),
        None,
        "no SNI without the peer's trust domain"
    );
    assert_eq!(peer.get("Datacenter"), None);
}

#[test]
fn external_sni_makes_the_target_external() {
    let chain = chain_json(&[
        json!({"Kind": "proxy-defaults", "MeshGateway": {"Mode": "local"}}),
        json!({"Kind": "service-defaults", "Name": "main", "ExternalSNI": "main.example.com"}),
    ]);
    let t = &chain["Targets"]["main.default.default.dc1"];
    assert_eq!(t["SNI"], "main.example.com");
    assert_eq!(t["External"], true);
    assert_eq!(
        t["MeshGateway"],
        json!({}),
        "external targets bypass mesh gateways"
    );
    assert_eq!(t["Name"], "main.default.dc1.internal.trustdomain.consul");

    let err = chain_error(&[
        json!({"Kind": "service-defaults", "Name": "main", "ExternalSNI": "main.example.com"}),
        json!({"Kind": "service-resolver", "Name": "main", "Failover": {"*": {"Service": "b"}}}),
    ]);
    assert_eq!(
        err,
        "service \"main\" has an external SNI set; cannot define failover for external services"
    );
}

#[test]
fn cycles_are_rejected() {
    let err = chain_error(&[
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}),
        json!({"Kind": "service-resolver", "Name": "other", "Redirect": {"Service": "main"}}),
    ]);
    assert_eq!(
        err,
        "detected circular resolver redirect: [main.default.default.dc1 -> other.default.default.dc1 -> main.default.default.dc1]"
    );
    let err = chain_error(&[
        json!({"Kind": "proxy-defaults", "Config": {"protocol": "http"}}),
        json!({"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 100, "Service": "other"}]}),
        json!({"Kind": "service-splitter", "Name": "other", "Splits": [{"Weight": 100, "Service": "main"}]}),
    ]);
    assert_eq!(
        err,
        "detected circular reference: [splitter:main.default.default -> splitter:other.default.default -> splitter:main.default.default]"
    );
}

#[test]
fn protocol_errors_are_graph_errors() {
    let bodies = [
        protocol("main", "tcp"),
        json!({"Kind": "service-splitter", "Name": "main", "Splits": [{"Weight": 90}, {"Weight": 10, "Service": "other"}]}),
    ];
    let err = compile_main(&bodies, Overrides::default()).unwrap_err();
    assert!(matches!(err, Error::Graph { .. }));
    assert_eq!(
        err.to_string(),
        "discovery chain \"main\" uses a protocol \"tcp\" that does not permit advanced routing or splitting behavior"
    );
    let err = chain_error(&[
        protocol("main", "grpc"),
        protocol("other", "tcp"),
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other"}}),
    ]);
    assert_eq!(
        err,
        "discovery chain \"main\" uses inconsistent protocols; service \"other\" has \"tcp\" which is not \"grpc\""
    );
    let err = chain_error(&[
        json!({"Kind": "service-resolver", "Name": "main", "Redirect": {"Service": "other", "ServiceSubset": "v1"}}),
        json!({"Kind": "service-resolver", "Name": "other", "ConnectTimeout": "33s"}),
    ]);
    assert_eq!(err, "service \"other\" does not have a subset named \"v1\"");
}

#[test]
fn override_protocol_drops_routers_and_sets_a_customization_hash() {
    let bodies = [
        protocol("main", "grpc"),
        json!({"Kind": "service-router", "Name": "main"}),
    ];
    let overrides = Overrides {
        protocol: "tcp".to_string(),
        ..Overrides::default()
    };
    let chain = compile_main(&bodies, overrides).unwrap();
    assert_eq!(chain.protocol, "tcp");
    assert_eq!(chain.start_node, "resolver:main.default.default.dc1");
    assert!(chain.default);
    assert_eq!(chain.customization_hash.len(), 8);

    let overrides = Overrides {
        protocol: "http2".to_string(),
        ..Overrides::default()
    };
    let chain = compile_main(&[protocol("main", "grpc")], overrides.clone()).unwrap();
    assert_eq!(chain.protocol, "http2");
    assert!(!chain.customization_hash.is_empty());
    let same = compile_main(&[protocol("main", "http2")], overrides).unwrap();
    assert_eq!(
        same.customization_hash, "",
        "an override equal to the protocol is ignored"
    );
}

#[test]
fn override_connect_timeout_and_mesh_gateway() {
    let overrides = Overrides {
        connect_timeout: GoDuration::from_secs(10),
        mesh_gateway: skein_config_entry::MeshGatewayConfig {
            mode: "local".to_string(),
        },
        ..Overrides::default()
    };
    let chain = compile_main(&[], overrides).unwrap();
    let json = serde_json::to_value(&chain).unwrap();
    let target = &json["Targets"]["main.default.default.dc1"];
    assert_eq!(target["ConnectTimeout"], "10s");
    assert_eq!(target["MeshGateway"], json!({"Mode": "local"}));
    assert_eq!(
        json["Nodes"]["resolver:main.default.default.dc1"]["Resolver"]["ConnectTimeout"],
        "10s"
    );
    assert_eq!(chain.customization_hash.len(), 8);
}

#[test]
fn sni_formats() {
    let td = "11111111-2222-3333-4444-555555555555.consul";
    assert_eq!(
        service_sni("web", "", "default", "default", "dc1", td),
        format!("web.default.dc1.internal.{td}")
    );
    assert_eq!(
        service_sni("web", "v1", "", "", "dc1", td),
        format!("v1.web.default.dc1.internal.{td}")
    );
    assert_eq!(
        service_sni("web", "v1", "ns", "ap1", "dc1", td),
        format!("v1.web.ns.ap1.dc1.internal-v1.{td}")
    );
}

#[test]
fn incomplete_requests_are_refused() {
    let set = crate::EntrySet::default();
    let req = crate::CompileRequest::new("", "dc1", "td.consul", &set);
    assert_eq!(
        crate::compile(&req).unwrap_err().to_string(),
        "serviceName is required"
    );
    let req = crate::CompileRequest::new("web", "dc1", "", &set);
    assert_eq!(
        crate::compile(&req).unwrap_err().to_string(),
        "evaluateInTrustDomain is required"
    );
}

#[test]
fn response_wraps_the_chain() {
    let chain = compile_main(&[], Overrides::default()).unwrap();
    let body = serde_json::to_value(crate::DiscoveryChainResponse { chain }).unwrap();
    assert_eq!(body["Chain"]["ServiceName"], "main");
}
