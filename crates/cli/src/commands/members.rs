//! `members`: list the members of the agent's LAN (or WAN) gossip pool.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::columnize;
use crate::http::{self, Client, Query};

/// `skein members`.
pub(crate) const COMMAND: Command = Command {
    path: &["members"],
    synopsis: "Lists the members of a skein cluster",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein members [options]

  Outputs the members of a running skein agent.
";

/// One entry of `GET /v1/agent/members`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Member {
    name: String,
    addr: String,
    port: u16,
    tags: Option<BTreeMap<String, String>>,
    status: i64,
}

/// The decoded member row, with Consul's defaults applied to the tags.
struct Row {
    name: String,
    addr: String,
    status: &'static str,
    tags: BTreeMap<String, String>,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("detailed", "Provides detailed information about nodes.")
        .string("filter", "", "Filter to use with the request")
        .string(
            "status",
            ".*",
            "If provided, output is filtered to only nodes matching the regular expression \
             for status.",
        )
        .bool(
            "wan",
            "If the agent is in server mode, this can be used to return the other peers in \
             the WAN pool.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let status_re = regex::Regex::new(flags.str("status"))
        .map_err(|e| Error::msg(format!("Failed to compile status regexp: {e}")))?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let mut query: Query = Vec::new();
    if flags.bool("wan") {
        query.push(("wan", "1".to_owned()));
    }
    if !flags.str("filter").is_empty() {
        query.push(("filter", flags.str("filter").to_owned()));
    }
    let members: Vec<Member> = client
        .get("/v1/agent/members", query)
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error retrieving members")?;
    let mut rows: Vec<Row> = members
        .into_iter()
        .map(decode)
        .filter(|r| status_re.is_match(r.status))
        .collect();
    if rows.is_empty() {
        return Err(Error::Exit(2));
    }
    rows.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let table = if flags.bool("detailed") {
        detailed(&rows)
    } else {
        standard(&rows)
    };
    info(ctx, &columnize(&table))
}

/// Serf's member status names.
fn status_name(status: i64) -> &'static str {
    match status {
        0 => "none",
        1 => "alive",
        2 => "leaving",
        3 => "left",
        4 => "failed",
        _ => "unknown",
    }
}

fn decode(m: Member) -> Row {
    let mut tags = m.tags.unwrap_or_default();
    let partition = tags.entry("ap".to_owned()).or_default();
    if partition.is_empty() {
        *partition = "default".to_owned();
    }
    let default_partition = tags["ap"] == "default";
    let server = tags.get("role").map(String::as_str) == Some("consul");
    let segment = tags.entry("segment".to_owned()).or_default();
    if !default_partition {
        segment.clear();
    } else if server {
        *segment = "<all>".to_owned();
    } else if segment.is_empty() {
        *segment = "<default>".to_owned();
    }
    let addr = match m.addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", m.port),
        Ok(ip) => format!("{ip}:{}", m.port),
        Err(_) => format!(":{}", m.port),
    };
    Row {
        name: m.name,
        addr,
        status: status_name(m.status),
        tags,
    }
}

/// Servers first, then the default partition, then by segment, partition and name.
fn sort_key(r: &Row) -> (bool, bool, &str, &str, &str) {
    let tag = |k: &str| r.tags.get(k).map_or("", String::as_str);
    let partition = tag("ap");
    (
        tag("role") != "consul",
        !(partition.is_empty() || partition == "default"),
        tag("segment"),
        partition,
        &r.name,
    )
}

fn standard(rows: &[Row]) -> Vec<Vec<String>> {
    let header = [
        "Node",
        "Address",
        "Status",
        "Type",
        "Build",
        "Protocol",
        "DC",
        "Partition",
        "Segment",
    ];
    let mut out = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for r in rows {
        let tag = |k: &str| r.tags.get(k).cloned().unwrap_or_default();
        let kind = match tag("role").as_str() {
            "node" => "client",
            "consul" => "server",
            _ => {
                let mut row = vec![r.name.clone(), r.addr.clone(), r.status.to_owned()];
                row.push("unknown".to_owned());
                row.extend(std::iter::repeat_n(String::new(), 5));
                out.push(row);
                continue;
            }
        };
        let build = match tag("build") {
            b if b.is_empty() => "< 0.3".to_owned(),
            b => b.split(':').next().unwrap_or_default().to_owned(),
        };
        out.push(vec![
            r.name.clone(),
            r.addr.clone(),
            r.status.to_owned(),
            kind.to_owned(),
            build,
            tag("vsn"),
            tag("dc"),
            tag("ap"),
            tag("segment"),
        ]);
    }
    out
}

fn detailed(rows: &[Row]) -> Vec<Vec<String>> {
    let mut out = vec![vec![
        "Node".to_owned(),
        "Address".to_owned(),
        "Status".to_owned(),
        "Tags".to_owned(),
    ]];
    for r in rows {
        let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(vec![
            r.name.clone(),
            r.addr.clone(),
            r.status.to_owned(),
            tags.join(","),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const MEMBERS: &[u8] = br#"[
        {"Name":"client-1","Addr":"10.0.0.9","Port":8301,"Status":4,
         "Tags":{"role":"node","dc":"dc1","build":"1.22.0:abc","vsn":"2","segment":""}},
        {"Name":"srv","Addr":"127.0.0.1","Port":8301,"Status":1,
         "Tags":{"role":"consul","dc":"dc1","build":"1.22.0:skein","vsn":"2","port":"8300"}}
    ]"#;

    #[test]
    fn prints_the_member_table() {
        let (out, reqs) = run_against(&["members"], vec![reply(200, MEMBERS)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].target, "/v1/agent/members");
        assert_eq!(
            out.stdout,
            "Node      Address         Status  Type    Build   Protocol  DC   Partition  Segment\n\
             srv       127.0.0.1:8301  alive   server  1.22.0  2         dc1  default    <all>\n\
             client-1  10.0.0.9:8301   failed  client  1.22.0  2         dc1  default    <default>\n"
        );
    }

    #[test]
    fn detailed_wan_and_status_filter() {
        let args = ["members", "-detailed", "-wan", "-status=ali"];
        let (out, reqs) = run_against(&args, vec![reply(200, MEMBERS)]);
        assert_eq!(reqs[0].target, "/v1/agent/members?wan=1");
        assert_eq!(
            out.stdout,
            "Node  Address         Status  Tags\n\
             srv   127.0.0.1:8301  alive   ap=default,build=1.22.0:skein,dc=dc1,port=8300,role=consul,segment=<all>,vsn=2\n"
        );
    }

    #[test]
    fn no_match_exits_2_and_bad_regex_fails() {
        let (out, _) = run_against(&["members", "-status=left"], vec![reply(200, MEMBERS)]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (2, "", "")
        );
        let (out, _) = run_against(&["members", "-status=("], vec![]);
        assert_eq!(out.code, 1);
        assert!(out.stderr.starts_with("Failed to compile status regexp: "));
    }
}
