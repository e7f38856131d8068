//! Invalid entries and intentions, each rejected with Consul's message.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use serde_json::{Value, json};
use skein_intention::{Action, Error, Intention, Problem, ServiceIntentions};

fn entry(v: Value) -> ServiceIntentions {
    let mut e: ServiceIntentions = serde_json::from_value(v).unwrap();
    e.normalize();
    e
}

/// A destination `api` with one source.
fn one_source(src: Value) -> ServiceIntentions {
    entry(json!({"Kind": "service-intentions", "Name": "api", "Sources": [src]}))
}

/// A destination `api` whose source `web` has one permission.
fn one_perm(perm: Value) -> ServiceIntentions {
    one_source(json!({"Name": "web", "Permissions": [perm]}))
}

fn http(h: Value) -> ServiceIntentions {
    one_perm(json!({"Action": "allow", "HTTP": h}))
}

#[test]
fn invalid_entries_table() {
    let long = "x".repeat(513);
    let cases: Vec<(&str, ServiceIntentions, &str)> = vec![
        (
            "no name",
            entry(json!({"Sources": [{"Name": "web", "Action": "allow"}]})),
            "Name is required",
        ),
        (
            "partial wildcard dest",
            entry(json!({"Name": "api*", "Sources": [{"Name": "web", "Action": "allow"}]})),
            "Name: wildcard character '*' cannot be used with partial values",
        ),
        (
            "exact under wildcard ns",
            entry(
                json!({"Name": "api", "Namespace": "*", "Sources": [{"Name": "web", "Action": "allow"}]}),
            ),
            "Name: exact value cannot follow wildcard namespace",
        ),
        (
            "wildcard partition",
            entry(
                json!({"Name": "api", "Partition": "p*", "Sources": [{"Name": "web", "Action": "allow"}]}),
            ),
            "Partition: cannot use wildcard '*' in partition",
        ),
        (
            "no sources",
            entry(json!({"Name": "api", "Sources": []})),
            "At least one source is required",
        ),
        (
            "source without name",
            one_source(json!({"Action": "allow"})),
            "Sources[0].Name is required",
        ),
        (
            "partial wildcard source",
            one_source(json!({"Name": "we*", "Action": "allow"})),
            "Sources[0].Name: wildcard character '*' cannot be used with partial values",
        ),
        (
            "partial wildcard source ns",
            one_source(json!({"Name": "web", "Namespace": "n*", "Action": "allow"})),
            "Sources[0].Namespace: wildcard character '*' cannot be used with partial values",
        ),
        (
            "wildcard peer",
            one_source(json!({"Name": "web", "Peer": "*", "Action": "allow"})),
            "Sources[0].Peer: cannot use wildcard '*' in peer",
        ),
        (
            "peer and partition",
            one_source(
                json!({"Name": "web", "Peer": "east", "Partition": "p1", "Action": "allow"}),
            ),
            "Sources[0].Peer: cannot set Peer and Partition at the same time.",
        ),
        (
            "sameness group",
            one_source(json!({"Name": "web", "SamenessGroup": "sg", "Action": "allow"})),
            "Sources[0].SamenessGroup: Sameness groups are a Consul Enterprise feature. ",
        ),
        (
            "long description",
            one_source(json!({"Name": "web", "Action": "allow", "Description": long})),
            "Sources[0].Description exceeds maximum length 512",
        ),
        (
            "legacy meta",
            one_source(json!({"Name": "web", "Action": "allow", "LegacyMeta": {"a": "b"}})),
            "Sources[0].LegacyMeta must be omitted",
        ),
        (
            "missing action",
            one_source(json!({"Name": "web"})),
            "Sources[0].Action must be set to 'allow' or 'deny'",
        ),
        (
            "bad action",
            one_source(json!({"Name": "web", "Action": "permit"})),
            "Sources[0].Action must be set to 'allow' or 'deny'",
        ),
        (
            "action with permissions",
            one_source(json!({"Name": "web", "Action": "allow",
            "Permissions": [{"Action": "allow", "HTTP": {"PathExact": "/"}}]})),
            "Sources[0].Action must be omitted if Permissions are specified",
        ),
        (
            "permissions on wildcard dest",
            entry(json!({"Name": "*", "Sources": [{"Name": "web",
            "Permissions": [{"Action": "allow", "HTTP": {"PathExact": "/"}}]}]})),
            "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations",
        ),
        (
            "bad type",
            one_source(json!({"Name": "web", "Action": "allow", "Type": "external"})),
            "Sources[0].Type must be set to 'consul'",
        ),
        (
            "duplicate source",
            entry(json!({"Name": "api", "Sources": [
            {"Name": "web", "Action": "allow"}, {"Name": "web", "Action": "deny"}]})),
            "Sources[1] defines \"web\" more than once",
        ),
        (
            "duplicate peered source",
            entry(json!({"Name": "api", "Sources": [
            {"Name": "web", "Peer": "east", "Action": "allow"}, {"Name": "web", "Peer": "east", "Action": "deny"}]})),
            "Sources[1] defines peer(\"east\") \"web\" more than once",
        ),
        (
            "permission action",
            one_perm(json!({"HTTP": {"PathExact": "/"}})),
            "Sources[0].Permissions[0].Action must be set to 'allow' or 'deny'",
        ),
        (
            "permission without http",
            one_perm(json!({"Action": "allow"})),
            "Sources[0].Permissions[0].HTTP is required",
        ),
        (
            "exact without slash",
            http(json!({"PathExact": "foo"})),
            "Sources[0].Permissions[0].HTTP.PathExact doesn't start with '/': \"foo\"",
        ),
        (
            "prefix without slash",
            http(json!({"PathPrefix": "foo"})),
            "Sources[0].Permissions[0].HTTP.PathPrefix doesn't start with '/': \"foo\"",
        ),
        (
            "two paths",
            http(json!({"PathExact": "/a", "PathPrefix": "/b"})),
            "Sources[0].Permissions[0].HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex",
        ),
        (
            "bad path regex",
            http(json!({"PathRegex": "/(unclosed"})),
            "Sources[0].Permissions[0].HTTP.PathRegex is not a valid regular expression: error: unclosed group",
        ),
        (
            "header without name",
            http(json!({"Header": [{"Exact": "a"}]})),
            "Sources[0].Permissions[0].HTTP.Header[0] missing required Name field",
        ),
        (
            "header two criteria",
            http(json!({"Header": [{"Name": "x", "Exact": "a", "Prefix": "b"}]})),
            "Sources[0].Permissions[0].HTTP.Header[0] should only contain one of Present, Exact, Prefix, Suffix, Contains, or Regex",
        ),
        (
            "header no criteria",
            http(json!({"Header": [{"Name": "x", "Invert": true}]})),
            "Sources[0].Permissions[0].HTTP.Header[0] should only contain one of Present, Exact, Prefix, Suffix, Contains, or Regex",
        ),
        (
            "bad header regex",
            http(json!({"Header": [{"Name": "x", "Regex": "("}]})),
            "Sources[0].Permissions[0].HTTP.Header[0].Regex is not a valid regular expression: error: unclosed group",
        ),
        (
            "bad method",
            http(json!({"Methods": ["FETCH"]})),
            "Sources[0].Permissions[0].HTTP.Methods contains an invalid method \"FETCH\"",
        ),
        (
            "repeated method",
            http(json!({"Methods": ["get", "GET"]})),
            "Sources[0].Permissions[0].HTTP.Methods contains \"GET\" more than once",
        ),
        (
            "empty http",
            http(json!({})),
            "Sources[0].Permissions[0].HTTP should not be empty",
        ),
        (
            "jwt without provider name",
            one_perm(json!({"Action": "allow", "HTTP": {"PathExact": "/"},
            "JWT": {"Providers": [{"VerifyClaims": [{"Path": ["aud"], "Value": "x"}]}]}})),
            "1 error occurred:\n\t* JWT provider name is required\n\n",
        ),
    ];
    for (name, e, want) in cases {
        let got = e.validate().expect_err(name).to_string();
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn meta_limits_report_like_multierror() {
    let mut e = one_source(json!({"Name": "web", "Action": "allow"}));
    e.meta.insert("k".repeat(129), "v".repeat(513));
    let err = e.validate().unwrap_err();
    let key = "k".repeat(129);
    let want = format!(
        "2 errors occurred:\n\t* Meta key \"{key}\" exceeds maximum length 128\n\t* Meta value for key \"{key}\" exceeds maximum length 512\n\n"
    );
    assert_eq!(err.to_string(), want);
    assert!(matches!(
        err.failures()[0].problem,
        Problem::MetaKeyTooLong { max: 128, .. }
    ));

    let mut e = one_source(json!({"Name": "web", "Action": "allow"}));
    e.meta = (0..65).map(|i| (i.to_string(), String::new())).collect();
    assert_eq!(
        e.validate().unwrap_err().to_string(),
        "1 error occurred:\n\t* Meta exceeds maximum element count 64\n\n"
    );
}

#[test]
fn legacy_validation_rules() {
    let mut e = one_source(json!({"Name": "web", "Action": "allow"}));
    e.legacy_normalize();
    assert_eq!(
        e.legacy_validate().unwrap_err().to_string(),
        "Sources[0].LegacyCreateTime must be set"
    );
    e.meta.insert("a".into(), "b".into());
    assert_eq!(
        e.legacy_validate().unwrap_err().to_string(),
        "Meta must be omitted for legacy intention writes"
    );
}

#[test]
fn valid_entries_pass() {
    let e = entry(json!({"Name": "*", "Sources": [{"Name": "*", "Action": "deny"}]}));
    e.validate().unwrap();
    let e = http(json!({"Methods": ["get"], "Header": [{"Name": "x", "Contains": "y"}]}));
    e.validate().unwrap();
}

#[test]
fn l7_needs_an_http_protocol() {
    let e = http(json!({"PathExact": "/"}));
    for ok in ["http", "http2", "grpc"] {
        e.check_protocol(ok).unwrap();
    }
    let err = e.check_protocol("tcp").unwrap_err();
    assert_eq!(
        err.to_string(),
        "service \"api\" has protocol \"tcp\", which is incompatible with L7 intentions permissions"
    );
    assert!(matches!(err, Error::ProtocolNotHttp { .. }));
    one_source(json!({"Name": "web", "Action": "allow"}))
        .check_protocol("tcp")
        .unwrap();
}

#[test]
fn legacy_intention_validation_collects_everything() {
    let ixn = Intention {
        source_name: "we*".into(),
        destination_ns: "*".into(),
        destination_name: "api".into(),
        source_type: "consul".into(),
        ..Intention::default()
    };
    let want = "4 errors occurred:\n\
        \t* SourceNS must be set\n\
        \t* SourceName: wildcard character '*' cannot be used with partial values\n\
        \t* DestinationName: exact value cannot follow wildcard namespace\n\
        \t* Action must be set to 'allow' or 'deny'\n\n";
    assert_eq!(ixn.validate().unwrap_err().to_string(), want);

    let mut ixn = Intention::l4("web", "api", Action::Allow);
    ixn.permissions
        .push(skein_intention::IntentionPermission::default());
    ixn.source_type = "k8s".into();
    let want = "2 errors occurred:\n\
        \t* Permissions must not be set when using the legacy APIs\n\
        \t* SourceType must be set to 'consul'\n\n";
    assert_eq!(ixn.validate().unwrap_err().to_string(), want);
}
