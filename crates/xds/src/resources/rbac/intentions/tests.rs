//! Precedence removal, checked on the rules and on the Envoy principals.

use skein_intention::{HttpPermission, IntentionPermission};
use skein_proxycfg::{LeafCert, ProxyKind};

use super::*;
use crate::resources::rbac::matchers::spiffe_pattern;

fn snapshot(default_allow: bool, intentions: Vec<Intention>) -> ProxySnapshot {
    ProxySnapshot {
        kind: ProxyKind::ConnectProxy,
        proxy_id: "db-sidecar-proxy".into(),
        proxy_service: "db-sidecar-proxy".into(),
        destination: "db".into(),
        destination_id: "db".into(),
        bind_address: "0.0.0.0".into(),
        bind_port: 21000,
        local_service_address: "127.0.0.1".into(),
        local_service_port: 8080,
        config: Default::default(),
        protocol: "tcp".into(),
        datacenter: "dc1".into(),
        trust_domain: "td.consul".into(),
        leaf: LeafCert::default(),
        roots: Vec::new(),
        intentions,
        default_allow,
        access_logs: Default::default(),
        upstreams: Vec::new(),
        endpoints: Default::default(),
    }
}

fn l4(src: &str, action: Action) -> Intention {
    Intention::l4(src, "db", action)
}

fn with_ns(ns: &str, src: &str, action: Action) -> Intention {
    Intention {
        source_ns: ns.into(),
        ..l4(src, action)
    }
}

/// `name AND NOT a AND NOT b` as plain names.
fn shape(rules: &[Rule]) -> Vec<(String, Vec<String>, Verdict)> {
    rules
        .iter()
        .map(|r| {
            let nots = r.not_sources.iter().map(|s| s.name.clone()).collect();
            (r.source.name.clone(), nots, r.verdict)
        })
        .collect()
}

#[test]
fn default_deny_keeps_allows_minus_higher_denies() {
    let s = snapshot(
        false,
        vec![
            l4("*", Action::Allow),
            l4("evil", Action::Deny),
            l4("web", Action::Allow),
        ],
    );
    let rules = rules(&s, false).unwrap();
    assert_eq!(
        shape(&rules),
        vec![
            ("web".into(), vec![], Verdict::Allow),
            (
                "*".into(),
                vec!["web".into(), "evil".into()],
                Verdict::Allow
            ),
        ]
    );
}

#[test]
fn default_allow_keeps_denies_minus_higher_allows() {
    let s = snapshot(
        true,
        vec![l4("admin", Action::Allow), l4("*", Action::Deny)],
    );
    let rules = rules(&s, false).unwrap();
    assert_eq!(
        shape(&rules),
        vec![("*".into(), vec!["admin".into()], Verdict::Deny)]
    );
}

#[test]
fn l7_intentions_deny_on_tcp_services() {
    let perm = IntentionPermission::new(
        Action::Allow,
        HttpPermission {
            path_prefix: "/".into(),
            ..HttpPermission::default()
        },
    );
    let ixn = Intention {
        action: None,
        permissions: vec![perm],
        ..l4("web", Action::Allow)
    };
    let s = snapshot(true, vec![ixn.clone()]);
    assert_eq!(shape(&rules(&s, false).unwrap())[0].2, Verdict::Deny);
    let s = snapshot(false, vec![ixn]);
    let http = rules(&s, true).unwrap();
    assert_eq!(http[0].verdict, Verdict::Layer7);
    assert_eq!(http[0].permissions.len(), 1);
}

#[test]
fn l7_rules_whose_permissions_all_match_the_default_vanish() {
    let perm = IntentionPermission::new(Action::Deny, HttpPermission::default());
    let ixn = Intention {
        action: None,
        permissions: vec![perm],
        ..l4("web", Action::Allow)
    };
    let s = snapshot(false, vec![ixn]);
    assert!(rules(&s, true).unwrap().is_empty());
}

#[test]
fn not_sources_collapse_into_the_widest() {
    // default/web (9) deny, default/* (8) deny, */* (7) allow.
    let s = snapshot(
        false,
        vec![
            l4("web", Action::Deny),
            with_ns("default", "*", Action::Deny),
            with_ns("*", "*", Action::Allow),
        ],
    );
    let rules = rules(&s, false).unwrap();
    assert_eq!(rules.len(), 1);
    let nots: Vec<_> = rules[0]
        .not_sources
        .iter()
        .map(|s| format!("{}/{}", s.namespace, s.name))
        .collect();
    assert_eq!(nots, ["default/*"]);
}

#[test]
fn duplicates_of_a_source_keep_the_highest_precedence() {
    let wide = Intention {
        destination_name: "*".into(),
        ..l4("web", Action::Allow)
    };
    let s = snapshot(false, vec![wide, l4("web", Action::Deny)]);
    // The exact-destination deny (9) wins over the wildcard allow (6).
    assert!(rules(&s, false).unwrap().is_empty());
}

#[test]
fn invalid_wildcards_are_errors() {
    let s = snapshot(false, vec![with_ns("*", "web", Action::Allow)]);
    assert!(matches!(rules(&s, false), Err(Error::InvalidSource { .. })));
}

#[test]
fn peered_sources_are_left_out() {
    let peered = Intention {
        source_peer: "other".into(),
        ..l4("web", Action::Allow)
    };
    assert!(
        rules(&snapshot(false, vec![peered]), false)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn spiffe_patterns_use_any_segment_for_wildcards() {
    let src = |p: &str, ns: &str, n: &str| Source {
        partition: p.into(),
        namespace: ns.into(),
        name: n.into(),
    };
    assert_eq!(
        spiffe_pattern("td.consul", &src("default", "default", "web")),
        "^spiffe://td.consul/ns/default/dc/[^/]+/svc/web$"
    );
    assert_eq!(
        spiffe_pattern("td.consul", &src("default", "*", "*")),
        "^spiffe://td.consul/ns/[^/]+/dc/[^/]+/svc/[^/]+$"
    );
    assert_eq!(
        spiffe_pattern("td.consul", &src("eng", "default", "*")),
        "^spiffe://td.consul/ap/eng/ns/default/dc/[^/]+/svc/[^/]+$"
    );
}
