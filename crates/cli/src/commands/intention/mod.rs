//! `intention` commands and what they share: the intention wire type, its
//! `SRC => DST (action)` rendering, `[partition/][namespace/]name` targets,
//! and the lookup by ID or by source and destination.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::flags::go_quote;
use crate::http::{Client, Response};

pub(crate) mod check;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod r#match;

/// Consul's prefix when the client cannot be built.
pub(crate) const CONNECT_ERROR: &str = "Error connecting to Consul agent";

/// An intention as the `/v1/connect/intentions` endpoints read and write it
/// (Consul's `api.Intention`). Empty optional fields are left out of
/// request bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Intention {
    #[serde(rename = "ID", default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(rename = "SourceNS", default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) source_ns: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) source_name: String,
    #[serde(rename = "DestinationNS", default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) destination_ns: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) destination_name: String,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) source_partition: String,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) destination_partition: String,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) source_type: String,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) action: String,
    /// L7 permissions, kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) permissions: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) meta: BTreeMap<String, String>,
    /// Computed by the agent; never sent.
    #[serde(default, deserialize_with = "nullable", skip_serializing)]
    pub(crate) precedence: i64,
    /// RFC 3339; absent for intentions written as config entries.
    #[serde(default, skip_serializing)]
    pub(crate) created_at: Option<String>,
}

/// A `[partition/][namespace/]name` argument, split (Consul's
/// `ParseIntentionTarget`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) partition: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// Go's JSON `null` leaves the zero value.
fn nullable<'de, D, T>(de: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

// === impl Intention ===

impl Intention {
    /// `SRC => DST (action)` (Consul's `Intention.String`).
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} => {} ({})",
            self.source_string(),
            self.destination_string(),
            self.action
        )
    }

    /// The source, with its namespace unless it is the default one.
    pub(crate) fn source_string(&self) -> String {
        part_string(&self.source_ns, &self.source_name)
    }

    /// The destination, with its namespace unless it is the default one.
    pub(crate) fn destination_string(&self) -> String {
        part_string(&self.destination_ns, &self.destination_name)
    }
}

fn part_string(ns: &str, name: &str) -> String {
    if ns.is_empty() || ns == "default" {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    }
}

// === impl Target ===

impl Target {
    /// Splits `input`; two parts are namespace and name.
    pub(crate) fn parse(input: &str) -> std::result::Result<Self, &'static str> {
        let parts: Vec<&str> = input.split('/').collect();
        let owned = |s: &str| s.to_owned();
        match parts.as_slice() {
            [name] => Ok(Self {
                name: owned(name),
                ..Self::default()
            }),
            [ns, name] => Ok(Self {
                namespace: owned(ns),
                name: owned(name),
                ..Self::default()
            }),
            [partition, ns, name] => Ok(Self {
                partition: owned(partition),
                namespace: owned(ns),
                name: owned(name),
            }),
            _ => Err("input can contain at most two '/'"),
        }
    }
}

/// `GET /v1/connect/intentions/exact`: `None` on 404 (Consul's
/// `IntentionGetExact`).
pub(crate) fn get_exact(client: &Client, source: &str, dest: &str) -> Result<Option<Intention>> {
    let query = vec![
        ("source", source.to_owned()),
        ("destination", dest.to_owned()),
    ];
    let response = client.get("/v1/connect/intentions/exact", query)?;
    decode_found(response).map(|found| found.map(|(ixn, _)| ixn))
}

/// `GET /v1/connect/intentions/:id`: `None` on 404 (Consul's `IntentionGet`).
fn get_by_id(client: &Client, id: &str) -> Result<Option<(Intention, String)>> {
    let response = client.get(&format!("/v1/connect/intentions/{id}"), Vec::new())?;
    decode_found(response)
}

/// The intention (and its raw JSON) of a 200, `None` for a 404, and
/// Consul's `Unexpected response <code>: <body>` otherwise.
fn decode_found(response: Response) -> Result<Option<(Intention, String)>> {
    match response.status {
        404 => Ok(None),
        200 => {
            let raw = String::from_utf8_lossy(&response.body).into_owned();
            let ixn = serde_json::from_str(&raw)
                .map_err(|e| Error::json("Failed to decode response", e))?;
            Ok(Some((ixn, raw)))
        }
        code => Err(Error::msg(format!(
            "Unexpected response {code}: {}",
            String::from_utf8_lossy(&response.body).trim_end()
        ))),
    }
}

/// Looks an intention up by `ID` or by `SRC DST` (Consul's `GetFromArgs`);
/// returns it with its raw JSON.
pub(crate) fn get_from_args(client: &Client, args: &[String]) -> Result<(Intention, String)> {
    let reading = |e: Error| Error::msg(format!("Error reading the intention: {e}"));
    match args {
        [id] => get_by_id(client, id)
            .map_err(reading)?
            .ok_or_else(|| Error::msg(format!("Intention not found with ID {}", go_quote(id)))),
        [src, dst] => {
            let query = vec![("source", src.clone()), ("destination", dst.clone())];
            let response = client
                .get("/v1/connect/intentions/exact", query)
                .map_err(reading)?;
            decode_found(response).map_err(reading)?.ok_or_else(|| {
                Error::msg(format!(
                    "Intention not found with source {} and destination {}",
                    go_quote(src),
                    go_quote(dst)
                ))
            })
        }
        _ => Err(Error::msg("command requires exactly 1 or 2 arguments")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_consul() {
        let ixn = Intention {
            source_name: "web".into(),
            source_ns: "default".into(),
            destination_name: "db".into(),
            destination_ns: "team".into(),
            action: "deny".into(),
            ..Intention::default()
        };
        assert_eq!(ixn.summary(), "web => team/db (deny)");
    }

    #[test]
    fn parses_targets() {
        assert_eq!(Target::parse("web").unwrap().name, "web");
        let t = Target::parse("ns/web").unwrap();
        assert_eq!((t.namespace.as_str(), t.name.as_str()), ("ns", "web"));
        let t = Target::parse("p/ns/web").unwrap();
        assert_eq!(t.partition, "p");
        assert_eq!(
            Target::parse("a/b/c/d").unwrap_err(),
            "input can contain at most two '/'"
        );
    }

    #[test]
    fn decodes_nulls_and_encodes_only_what_is_set() {
        let ixn: Intention = serde_json::from_str(
            r#"{"ID":null,"SourceName":"web","DestinationName":"db","Meta":null,
                "Precedence":9,"CreatedAt":"2024-01-02T03:04:05Z","Action":"allow"}"#,
        )
        .unwrap();
        assert_eq!(ixn.precedence, 9);
        assert_eq!(
            serde_json::to_string(&ixn).unwrap(),
            r#"{"SourceName":"web","DestinationName":"db","Action":"allow"}"#
        );
    }
}
