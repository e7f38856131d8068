//! Access logs from `proxy-defaults` `AccessLogs`: a file, stdout or stderr
//! logger on every tcp_proxy and HTTP connection manager, and on the
//! listeners themselves (connections no filter chain took) unless
//! `DisableListenerLogs`.
//!
//! A JSON format is a `google.protobuf.Struct`, a protobuf map the
//! generated type keeps in a `HashMap`; like the RBAC policies, the logger
//! configs are encoded through mirrors with sorted maps so the bytes (and
//! the resource versions) are stable.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::accesslog::v3::{AccessLog, access_log};
use envoy_types::pb::envoy::config::core::v3::{DataSource, data_source};
use envoy_types::pb::google::protobuf::{Any, Value};
use prost::Message;
use skein_config_entry::AccessLogsConfig;

use crate::error::{Error, Result};

/// Consul's default JSON access-log format.
const DEFAULT_JSON_FORMAT: [(&str, &str); 24] = [
    ("start_time", "%START_TIME%"),
    ("route_name", "%ROUTE_NAME%"),
    ("method", "%REQ(:METHOD)%"),
    ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ("protocol", "%PROTOCOL%"),
    ("response_code", "%RESPONSE_CODE%"),
    ("response_flags", "%RESPONSE_FLAGS%"),
    ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
    (
        "connection_termination_details",
        "%CONNECTION_TERMINATION_DETAILS%",
    ),
    ("bytes_received", "%BYTES_RECEIVED%"),
    ("bytes_sent", "%BYTES_SENT%"),
    ("duration", "%DURATION%"),
    (
        "upstream_service_time",
        "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    ),
    ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ("user_agent", "%REQ(USER-AGENT)%"),
    ("request_id", "%REQ(X-REQUEST-ID)%"),
    ("authority", "%REQ(:AUTHORITY)%"),
    ("upstream_host", "%UPSTREAM_HOST%"),
    ("upstream_cluster", "%UPSTREAM_CLUSTER%"),
    ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
    ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
    ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
    ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
    (
        "upstream_transport_failure_reason",
        "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    ),
];

/// `google.protobuf.Struct` with its fields in key order.
#[derive(Clone, PartialEq, Message)]
struct StableStruct {
    #[prost(btree_map = "string, message", tag = "1")]
    fields: BTreeMap<String, Value>,
}

/// `envoy.config.core.v3.SubstitutionFormatString`: JSON or text.
#[derive(Clone, PartialEq, Message)]
struct StableFormat {
    #[prost(message, optional, tag = "2")]
    json_format: Option<StableStruct>,
    #[prost(message, optional, tag = "5")]
    text_format_source: Option<DataSource>,
}

/// `envoy.extensions.access_loggers.file.v3.FileAccessLog`.
#[derive(Clone, PartialEq, Message)]
struct StableFileLog {
    #[prost(string, tag = "1")]
    path: String,
    #[prost(message, optional, tag = "5")]
    log_format: Option<StableFormat>,
}

/// `envoy.extensions.access_loggers.stream.v3.{Stdout,Stderr}AccessLog`.
#[derive(Clone, PartialEq, Message)]
struct StableStreamLog {
    #[prost(message, optional, tag = "1")]
    log_format: Option<StableFormat>,
}

/// Where an access log goes.
enum Sink {
    File(String),
    Stdout,
    Stderr,
}

/// The access loggers for filters, empty when logging is off.
pub(crate) fn filter_logs(config: &AccessLogsConfig) -> Result<Vec<AccessLog>> {
    if !config.enabled {
        return Ok(Vec::new());
    }
    let sink = match config.r#type.as_str() {
        "file" => Sink::File(config.path.clone()),
        "stderr" => Sink::Stderr,
        "" | "stdout" => Sink::Stdout,
        other => return Err(Error::Invalid(format!("access log type {other:?}"))),
    };
    Ok(vec![logger(&sink, format(config)?)])
}

/// The access loggers for listeners themselves.
pub(crate) fn listener_logs(config: &AccessLogsConfig) -> Result<Vec<AccessLog>> {
    if config.disable_listener_logs {
        return Ok(Vec::new());
    }
    filter_logs(config)
}

/// The configured format: text, JSON, or Consul's default JSON.
fn format(config: &AccessLogsConfig) -> Result<StableFormat> {
    if !config.text_format.is_empty() {
        return Ok(StableFormat {
            json_format: None,
            text_format_source: Some(DataSource {
                specifier: Some(data_source::Specifier::InlineString(
                    config.text_format.clone(),
                )),
                ..DataSource::default()
            }),
        });
    }
    let fields = if config.json_format.is_empty() {
        DEFAULT_JSON_FORMAT
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
            .collect()
    } else {
        match serde_json::from_str(&config.json_format) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(Error::Invalid(
                    "access log JSONFormat must be a JSON object".into(),
                ));
            }
        }
    };
    Ok(StableFormat {
        json_format: Some(StableStruct {
            fields: fields.into_iter().map(|(k, v)| (k, value(v))).collect(),
        }),
        text_format_source: None,
    })
}

/// A JSON value as a `google.protobuf.Value` (objects through the stable
/// mirror are not needed: nested objects keep a `HashMap`, so they are
/// rendered as JSON text, which Envoy's formatter prints verbatim).
fn value(v: serde_json::Value) -> Value {
    use envoy_types::pb::google::protobuf::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        other => Kind::StringValue(other.to_string()),
    };
    Value { kind: Some(kind) }
}

fn logger(sink: &Sink, format: StableFormat) -> AccessLog {
    let (name, any) = match sink {
        Sink::File(path) => (
            "envoy.access_loggers.file",
            pack(
                "envoy.extensions.access_loggers.file.v3.FileAccessLog",
                &StableFileLog {
                    path: path.clone(),
                    log_format: Some(format),
                },
            ),
        ),
        Sink::Stdout => (
            "envoy.access_loggers.stdout",
            pack(
                "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                &StableStreamLog {
                    log_format: Some(format),
                },
            ),
        ),
        Sink::Stderr => (
            "envoy.access_loggers.stderr",
            pack(
                "envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
                &StableStreamLog {
                    log_format: Some(format),
                },
            ),
        ),
    };
    AccessLog {
        name: name.to_owned(),
        config_type: Some(access_log::ConfigType::TypedConfig(any)),
        ..AccessLog::default()
    }
}

fn pack(type_name: &str, message: &impl Message) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: message.encode_to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog;

    use super::*;

    fn on(kind: &str) -> AccessLogsConfig {
        AccessLogsConfig {
            enabled: true,
            r#type: kind.into(),
            path: "/tmp/access.log".into(),
            ..AccessLogsConfig::default()
        }
    }

    #[test]
    fn off_unless_enabled_and_listener_logs_can_be_turned_off() {
        assert!(
            filter_logs(&AccessLogsConfig::default())
                .unwrap()
                .is_empty()
        );
        let mut c = on("stdout");
        assert_eq!(
            filter_logs(&c).unwrap()[0].name,
            "envoy.access_loggers.stdout"
        );
        c.disable_listener_logs = true;
        assert!(listener_logs(&c).unwrap().is_empty());
        assert_eq!(filter_logs(&c).unwrap().len(), 1);
        assert!(filter_logs(&on("syslog")).is_err());
    }

    #[test]
    fn a_file_log_decodes_as_envoys_message_and_encodes_stably() {
        let logs = filter_logs(&on("file")).unwrap();
        let Some(access_log::ConfigType::TypedConfig(any)) = &logs[0].config_type else {
            panic!("typed config");
        };
        let decoded = FileAccessLog::decode(any.value.as_slice()).expect("decodes");
        assert_eq!(decoded.path, "/tmp/access.log");
        let again = filter_logs(&on("file")).unwrap();
        assert_eq!(logs, again, "same bytes every time");
    }
}
