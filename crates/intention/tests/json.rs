//! Consul-shaped JSON in and out.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use serde_json::{Value, json};
use skein_intention::{Action, Intention, ServiceIntentions, Timestamp};

/// An entry as `consul config write` would send it (keys PascalCase).
fn sample() -> Value {
    json!({
        "Kind": "service-intentions",
        "Name": "api",
        "Meta": {"owner": "team-a"},
        "Sources": [
            {"Name": "web", "Action": "allow", "Description": "web may call"},
            {"Name": "*", "Action": "deny"},
            {
                "Name": "admin",
                "Permissions": [
                    {
                        "Action": "allow",
                        "HTTP": {
                            "PathPrefix": "/admin",
                            "Methods": ["GET", "POST"],
                            "Header": [
                                {"Name": "x-debug", "Present": true, "Invert": true},
                                {"Name": "x-tenant", "Exact": "a", "IgnoreCase": true}
                            ]
                        }
                    },
                    {"Action": "deny", "HTTP": {"PathRegex": "/v[0-9]+/secret"}}
                ]
            }
        ],
        "CreateIndex": 0,
        "ModifyIndex": 0
    })
}

#[test]
fn decodes_a_consul_entry() {
    let e: ServiceIntentions = serde_json::from_value(sample()).unwrap();
    assert_eq!(e.name, "api");
    assert_eq!(e.sources.len(), 3);
    assert_eq!(e.sources[0].action, Some(Action::Allow));
    let http = e.sources[2].permissions[0].http.as_ref().unwrap();
    assert_eq!(http.path_prefix, "/admin");
    assert!(http.header[0].present && http.header[0].invert);
    assert!(http.header[1].ignore_case);
}

#[test]
fn normalized_entry_encodes_like_consul() {
    let mut e: ServiceIntentions = serde_json::from_value(sample()).unwrap();
    e.normalize();
    e.validate().unwrap();
    let got = serde_json::to_value(&e).unwrap();
    let want = json!({
        "Kind": "service-intentions",
        "Name": "api",
        "Sources": [
            {"Name": "web", "Action": "allow", "Precedence": 9, "Type": "consul",
             "Description": "web may call"},
            {"Name": "admin", "Precedence": 9, "Type": "consul", "Permissions": [
                {"Action": "allow", "HTTP": {"PathPrefix": "/admin", "Methods": ["GET", "POST"],
                  "Header": [{"Name": "x-debug", "Present": true, "Invert": true},
                             {"Name": "x-tenant", "Exact": "a", "IgnoreCase": true}]}},
                {"Action": "deny", "HTTP": {"PathRegex": "/v[0-9]+/secret"}}
            ]},
            {"Name": "*", "Action": "deny", "Precedence": 8, "Type": "consul"}
        ],
        "Meta": {"owner": "team-a"},
        "CreateIndex": 0,
        "ModifyIndex": 0
    });
    assert_eq!(got, want);
}

#[test]
fn round_trips_through_json() {
    let mut e: ServiceIntentions = serde_json::from_value(sample()).unwrap();
    e.normalize();
    let text = serde_json::to_string(&e).unwrap();
    let back: ServiceIntentions = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
}

#[test]
fn unknown_fields_are_rejected_in_entries() {
    let mut v = sample();
    v["Sources"][0]["Acton"] = json!("allow");
    let err = serde_json::from_value::<ServiceIntentions>(v).unwrap_err();
    assert!(err.to_string().contains("unknown field `Acton`"), "{err}");

    let mut v = sample();
    v["Sources"][2]["Permissions"][0]["HTTP"]["PathSuffix"] = json!("/x");
    assert!(serde_json::from_value::<ServiceIntentions>(v).is_err());
}

#[test]
fn accepts_tenancy_and_nulls() {
    let v = json!({
        "Kind": "service-intentions", "Name": "api", "Namespace": "default",
        "Partition": "default", "Meta": null,
        "Sources": [{"Name": "web", "Action": "allow", "Namespace": "default",
                     "Permissions": null, "LegacyMeta": null}]
    });
    let e: ServiceIntentions = serde_json::from_value(v).unwrap();
    assert_eq!(e.namespace_or_default(), "default");
    assert!(e.meta.is_empty() && e.sources[0].permissions.is_empty());
}

#[test]
fn bad_action_decodes_and_is_left_to_validation() {
    let v = json!({"Kind": "service-intentions", "Name": "api",
                   "Sources": [{"Name": "web", "Action": "permit"}]});
    let mut e: ServiceIntentions = serde_json::from_value(v).unwrap();
    e.normalize();
    let err = e.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Sources[0].Action must be set to 'allow' or 'deny'"
    );
}

#[test]
fn config_entry_source_renders_without_id_or_times() {
    let mut e: ServiceIntentions = serde_json::from_value(sample()).unwrap();
    e.normalize();
    e.create_index = 10;
    e.modify_index = 12;
    let got = serde_json::to_value(e.to_intention(&e.sources[0])).unwrap();
    let want = json!({
        "Description": "web may call",
        "SourceNS": "default", "SourceName": "web",
        "DestinationNS": "default", "DestinationName": "api",
        "SourceType": "consul", "Action": "allow",
        "Meta": {"owner": "team-a"},
        "Precedence": 9, "CreateIndex": 10, "ModifyIndex": 12
    });
    assert_eq!(got, want);
}

#[test]
fn legacy_source_renders_id_times_and_its_own_meta() {
    let mut e = ServiceIntentions::new("api");
    e.meta.insert("entry".into(), "meta".into());
    let mut src = skein_intention::SourceIntention::l4("web", Action::Deny);
    src.legacy_id = "5c8ba3ec-4e4a-4d52-9c5a-2c2fd3c3a7d0".into();
    src.legacy_meta.insert("k".into(), "v".into());
    src.legacy_create_time = Some(Timestamp::new("2024-05-01T12:00:00.5Z"));
    src.legacy_update_time = Some(Timestamp::new("2024-05-02T12:00:00Z"));
    e.sources.push(src);
    e.legacy_normalize();
    let ixn = e.to_intention(&e.sources[0]);
    let got = serde_json::to_value(&ixn).unwrap();
    assert_eq!(got["ID"], "5c8ba3ec-4e4a-4d52-9c5a-2c2fd3c3a7d0");
    assert_eq!(got["Meta"], json!({"k": "v"}));
    assert_eq!(got["CreatedAt"], "2024-05-01T12:00:00.5Z");
    assert_eq!(got["UpdatedAt"], "2024-05-02T12:00:00Z");
    assert_eq!(
        ixn.to_string(),
        "default/web => default/api (ID: 5c8ba3ec-4e4a-4d52-9c5a-2c2fd3c3a7d0, Precedence: 9, Action: DENY)"
    );
}

#[test]
fn intention_bodies_decode_leniently() {
    let v = json!({
        "SourceName": "web", "DestinationName": "api", "Action": "allow",
        "Description": null, "Meta": {"a": "b"}, "SomethingNew": 1,
        "CreatedAt": "2020-01-01T00:00:00Z", "Hash": "opaque", "Precedence": 3
    });
    let ixn: Intention = serde_json::from_value(v).unwrap();
    assert_eq!(ixn.source_name, "web");
    assert_eq!(ixn.action, Some(Action::Allow));
    assert_eq!(ixn.meta["a"], "b");
}
