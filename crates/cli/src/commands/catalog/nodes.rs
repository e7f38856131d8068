//! `catalog nodes`: list the catalog's nodes, or the nodes providing a service.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::commands::catalog::{list_query, node_meta_flag};
use crate::commands::{Command, Ctx, info, too_many};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::columnize;
use crate::http::{self, Client};

/// `skein catalog nodes`.
pub(crate) const COMMAND: Command = Command {
    path: &["catalog", "nodes"],
    synopsis: "Lists all nodes in the given datacenter",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein catalog nodes [options]

  Retrieves the list nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of nodes:

      $ skein catalog nodes

  To print detailed information including full node IDs, tagged addresses, and
  metadata information:

      $ skein catalog nodes -detailed

  To list nodes which are running a particular service:

      $ skein catalog nodes -service=web

  To filter by node metadata:

      $ skein catalog nodes -node-meta=\"foo=bar\"

  To sort nodes by estimated round-trip time from node-web:

      $ skein catalog nodes -near=node-web
";

/// A node as `/v1/catalog/nodes` returns it; also decodes the node fields of
/// `/v1/catalog/service/:service` entries (`NodeMeta` there).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Node {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    datacenter: String,
    tagged_addresses: Option<BTreeMap<String, String>>,
    meta: Option<BTreeMap<String, String>>,
    node_meta: Option<BTreeMap<String, String>>,
}

fn flags() -> FlagSet {
    let fs = http::add_flags(FlagSet::new())
        .bool(
            "detailed",
            "Output detailed information about the nodes including their addresses and \
             metadata.",
        )
        .string("filter", "", "Filter to use with the request")
        .string(
            "near",
            "",
            "Node name to sort the node list in ascending order based on estimated \
             round-trip time from that node. Passing \"_agent\" will use this agent's \
             node for sorting.",
        );
    node_meta_flag(
        fs,
        "Metadata to filter nodes with the given `key=value` pairs. This flag may be \
         specified multiple times to filter on multiple sources of metadata.",
    )
    .string(
        "service",
        "",
        "Service `id or name` to filter nodes. Only nodes which are providing the given \
         service will be returned.",
    )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if !flags.args().is_empty() {
        return Err(too_many("0", flags.args().len()));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let mut query = list_query(flags, ctx).context("Could not process filter argument")?;
    if !flags.str("near").is_empty() {
        query.push(("near", flags.str("near").to_owned()));
    }
    let service = flags.str("service");
    let nodes: Vec<Node> = if service.is_empty() {
        client
            .get("/v1/catalog/nodes", query)
            .and_then(|r| r.require_ok())
            .and_then(|r| r.json())
            .context("Error listing nodes")?
    } else {
        let entries: Vec<Node> = client
            .get(&format!("/v1/catalog/service/{service}"), query)
            .and_then(|r| r.require_ok())
            .and_then(|r| r.json())
            .context("Error listing nodes for service")?;
        entries
            .into_iter()
            .map(|n| Node {
                meta: n.node_meta.clone(),
                ..n
            })
            .collect()
    };
    if nodes.is_empty() {
        return crate::commands::warn(
            ctx,
            "No nodes match the given query - try expanding your search.",
        );
    }
    info(ctx, &table(&nodes, flags.bool("detailed")))
}

/// Consul's node table; the ID is cut at its first `-` unless detailed.
fn table(nodes: &[Node], detailed: bool) -> String {
    let mut header = vec!["Node", "ID", "Address", "DC"];
    if detailed {
        header.extend(["TaggedAddresses", "Meta"]);
    }
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for n in nodes {
        let id = match n.id.find('-') {
            Some(i) if i > 0 && !detailed => &n.id[..i],
            _ => &n.id,
        };
        let mut row = vec![
            n.node.clone(),
            id.to_owned(),
            n.address.clone(),
            n.datacenter.clone(),
        ];
        if detailed {
            row.push(map_to_kv(n.tagged_addresses.as_ref()));
            row.push(map_to_kv(n.meta.as_ref()));
        }
        rows.push(row);
    }
    columnize(&rows)
}

/// `k1=v1, k2=v2`, sorted by key (Consul's `mapToKV`).
fn map_to_kv(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const NODES: &[u8] = br#"[
        {"ID":"9d2b7c51-4e1a-46a5-8f5c-2b1f0c1d2e3f","Node":"alpha","Address":"10.0.0.1","Datacenter":"dc1",
         "TaggedAddresses":{"lan":"10.0.0.1","wan":"1.2.3.4"},"Meta":{"rack":"r1","consul-network-segment":""}},
        {"ID":"","Node":"b","Address":"10.0.0.22","Datacenter":"dc1","TaggedAddresses":null,"Meta":null}
    ]"#;

    #[test]
    fn prints_a_short_table() {
        let (out, reqs) = run_against(&["catalog", "nodes"], vec![reply(200, NODES)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].target, "/v1/catalog/nodes");
        assert_eq!(
            out.stdout,
            "Node   ID        Address    DC\n\
             alpha  9d2b7c51  10.0.0.1   dc1\n\
             b                10.0.0.22  dc1\n"
        );
    }

    #[test]
    fn detailed_shows_full_ids_addresses_and_meta() {
        let args = [
            "catalog",
            "nodes",
            "-detailed",
            "-node-meta=rack=r1",
            "-node-meta",
            "a=b",
            "-filter=Node == alpha",
            "-near=_agent",
        ];
        let (out, reqs) = run_against(&args, vec![reply(200, NODES)]);
        assert_eq!(
            reqs[0].target,
            "/v1/catalog/nodes?filter=Node+%3D%3D+alpha&near=_agent&node-meta=a%3Ab&node-meta=rack%3Ar1"
        );
        assert_eq!(
            out.stdout,
            format!(
                "Node   ID                                    Address    DC   TaggedAddresses            Meta\n\
             alpha  9d2b7c51-4e1a-46a5-8f5c-2b1f0c1d2e3f  10.0.0.1   dc1  lan=10.0.0.1, wan=1.2.3.4  consul-network-segment=, rack=r1\n\
             b                                            10.0.0.22  dc1  {}  \n",
                // Go's columnize pads empty trailing cells too.
                " ".repeat("TaggedAddresses            ".len() - 2)
            )
        );
    }

    #[test]
    fn service_lists_the_nodes_providing_it() {
        let body = br#"[{"ID":"abcd-1","Node":"web1","Address":"10.1.1.1","Datacenter":"dc1",
            "NodeMeta":{"k":"v"},"ServiceName":"web"}]"#;
        let args = ["catalog", "nodes", "-service=web", "-detailed"];
        let (out, reqs) = run_against(&args, vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/catalog/service/web");
        assert_eq!(
            out.stdout,
            "Node  ID      Address   DC   TaggedAddresses  Meta\n\
             web1  abcd-1  10.1.1.1  dc1                   k=v\n"
        );
    }

    #[test]
    fn no_match_is_reported_on_stderr() {
        let (out, _) = run_against(&["catalog", "nodes"], vec![reply(200, b"[]")]);
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, "");
        assert_eq!(
            out.stderr,
            "No nodes match the given query - try expanding your search.\n"
        );
    }

    #[test]
    fn errors_name_the_listing() {
        let (out, _) = run_against(
            &["catalog", "nodes", "-service=web"],
            vec![reply(500, b"No path to datacenter")],
        );
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            "Error listing nodes for service: Unexpected response code: 500 (No path to datacenter)\n"
        );
    }
}
