//! `catalog` commands: list datacenters, nodes and services from the catalog.

use std::collections::BTreeMap;

use crate::commands::{Ctx, load_data_source};
use crate::error::Result;
use crate::flags::{FlagSet, Parsed};
use crate::http::Query;

pub(crate) mod datacenters;
pub(crate) mod nodes;
pub(crate) mod services;

/// Adds `-node-meta` (repeatable `key=value`).
fn node_meta_flag(fs: FlagSet, help: &'static str) -> FlagSet {
    fs.list("node-meta", help)
}

/// The `node-meta=k:v` query parameters (one per pair, sorted by key), as
/// Consul's API client sends them.
pub(crate) fn node_meta_query(meta: &BTreeMap<String, String>) -> Query {
    meta.iter()
        .map(|(k, v)| ("node-meta", format!("{k}:{v}")))
        .collect()
}

/// `node-meta` and `filter` query parameters from the flags; `-filter`
/// accepts `@file` and `-` (stdin) like Consul's `LoadDataSource`.
fn list_query(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<Query> {
    let mut query = node_meta_query(&flags.map("node-meta")?);
    let filter = flags.str("filter");
    if !filter.is_empty() {
        query.push(("filter", load_data_source(filter, ctx, "filter")?));
    }
    Ok(query)
}
