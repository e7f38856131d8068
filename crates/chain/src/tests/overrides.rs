//! Decoding of `POST /v1/discovery-chain` bodies.

use serde_json::json;
use skein_config_entry::GoDuration;

use crate::Overrides;

#[test]
fn reads_pascal_and_snake_keys() {
    let o = Overrides::from_request_json(&json!({
        "OverrideProtocol": "grpc",
        "OverrideConnectTimeout": "7s",
        "OverrideMeshGateway": {"Mode": "local"}
    }))
    .unwrap();
    assert_eq!(o.protocol, "grpc");
    assert_eq!(o.connect_timeout, GoDuration::from_secs(7));
    assert_eq!(o.mesh_gateway.mode, "local");
    let snake = Overrides::from_request_json(&json!({
        "override_protocol": "grpc",
        "override_connect_timeout": 7_000_000_000u64,
        "override_mesh_gateway": {"mode": "local"},
        "ignored": true
    }))
    .unwrap();
    assert_eq!(snake, o);
}

#[test]
fn rejects_bad_mode_and_duration() {
    let err = Overrides::from_request_json(&json!({"OverrideMeshGateway": {"Mode": "nearby"}}));
    assert_eq!(
        err.unwrap_err().to_string(),
        "Invalid OverrideMeshGateway.Mode parameter"
    );
    let err = Overrides::from_request_json(&json!({"OverrideConnectTimeout": "soon"}));
    assert!(
        err.unwrap_err()
            .to_string()
            .starts_with("OverrideConnectTimeout: ")
    );
}
