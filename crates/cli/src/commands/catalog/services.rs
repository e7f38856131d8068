//! `catalog services`: list the catalog's service names (optionally with tags).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::commands::catalog::{list_query, node_meta_flag};
use crate::commands::{Command, Ctx, info, too_many, warn};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein catalog services`.
pub(crate) const COMMAND: Command = Command {
    path: &["catalog", "services"],
    synopsis: "Lists all registered services in a datacenter",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein catalog services [options]

  Retrieves the list services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of services:

      $ skein catalog services

  To include the services' tags in the output:

      $ skein catalog services -tags

  To list services which run on a particular node:

      $ skein catalog services -node=web

  To filter services on node metadata:

      $ skein catalog services -node-meta=\"foo=bar\"
";

/// `GET /v1/catalog/node/:node` (only what the listing needs).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CatalogNode {
    services: Option<BTreeMap<String, NodeService>>,
}

/// One service instance on a node.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NodeService {
    service: String,
    tags: Option<Vec<String>>,
}

fn flags() -> FlagSet {
    let fs = http::add_flags(FlagSet::new())
        .string("filter", "", "Filter to use with the request")
        .string("node", "", "Node `id or name` for which to list services.");
    node_meta_flag(
        fs,
        "Metadata to filter nodes with the given `key=value` pairs. If specified, only \
         services running on nodes matching the given metadata will be returned. This \
         flag may be specified multiple times to filter on multiple sources of metadata.",
    )
    .bool(
        "tags",
        "Display each service's tags as a comma-separated list beside each service entry.",
    )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if !flags.args().is_empty() {
        return Err(too_many("0", flags.args().len()));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let query = list_query(flags, ctx).context("Could not process filter argument")?;
    let node = flags.str("node");
    let services: BTreeMap<String, Vec<String>> = if node.is_empty() {
        let listed: BTreeMap<String, Option<Vec<String>>> = client
            .get("/v1/catalog/services", query)
            .and_then(|r| r.require_ok())
            .and_then(|r| r.json())
            .context("Error listing services")?;
        listed
            .into_iter()
            .map(|(name, tags)| (name, tags.unwrap_or_default()))
            .collect()
    } else {
        let found: Option<CatalogNode> = client
            .get(&format!("/v1/catalog/node/{node}"), query)
            .and_then(|r| r.require_ok_or_not_found())
            .and_then(|r| r.map(|r| r.json()).transpose())
            .context("Error listing services for node")?
            .flatten();
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for svc in found
            .and_then(|n| n.services)
            .unwrap_or_default()
            .into_values()
        {
            by_name
                .entry(svc.service)
                .or_default()
                .extend(svc.tags.unwrap_or_default());
        }
        by_name
    };
    if services.is_empty() {
        return warn(
            ctx,
            "No services match the given query - try expanding your search.",
        );
    }
    if !flags.bool("tags") {
        return services.keys().try_for_each(|name| info(ctx, name));
    }
    info(ctx, &tags_table(services))
}

/// Names and comma-joined sorted tags, aligned like Go's `tabwriter`
/// (padding 6) and trimmed as a whole, as Consul prints them.
fn tags_table(services: BTreeMap<String, Vec<String>>) -> String {
    let width = services
        .keys()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        + 6;
    let lines: Vec<String> = services
        .into_iter()
        .map(|(name, mut tags)| {
            tags.sort();
            let pad = width - name.chars().count();
            format!("{name}{}{}", " ".repeat(pad), tags.join(","))
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const SERVICES: &[u8] = br#"{"web":["v2","primary"],"consul":[],"db":null}"#;

    #[test]
    fn prints_sorted_names() {
        let (out, reqs) = run_against(&["catalog", "services"], vec![reply(200, SERVICES)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].target, "/v1/catalog/services");
        assert_eq!(out.stdout, "consul\ndb\nweb\n");
    }

    #[test]
    fn tags_are_a_second_column() {
        let args = [
            "catalog",
            "services",
            "-tags",
            "-node-meta=k=v",
            "-filter=x",
        ];
        let (out, reqs) = run_against(&args, vec![reply(200, SERVICES)]);
        assert_eq!(
            reqs[0].target,
            "/v1/catalog/services?filter=x&node-meta=k%3Av"
        );
        assert_eq!(
            out.stdout,
            "consul      \ndb          \nweb         primary,v2\n"
        );
    }

    #[test]
    fn node_lists_the_services_on_it() {
        let body = br#"{"Node":{"Node":"n1"},"Services":{
            "web-1":{"ID":"web-1","Service":"web","Tags":["b"]},
            "web-2":{"ID":"web-2","Service":"web","Tags":["a"]},
            "redis":{"ID":"redis","Service":"redis","Tags":null}}}"#;
        let args = ["catalog", "services", "-node=n1", "-tags"];
        let (out, reqs) = run_against(&args, vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/catalog/node/n1");
        assert_eq!(out.stdout, "redis      \nweb        a,b\n");
    }

    #[test]
    fn unknown_node_matches_nothing() {
        for canned in [reply(404, b""), reply(200, b"null")] {
            let (out, _) = run_against(&["catalog", "services", "-node=x"], vec![canned]);
            assert_eq!(out.code, 0);
            assert_eq!(
                out.stderr,
                "No services match the given query - try expanding your search.\n"
            );
        }
    }
}
