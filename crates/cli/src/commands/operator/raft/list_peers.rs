//! `operator raft list-peers`: show the Raft configuration as a table.

use serde::Deserialize;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::columnize;
use crate::http::{self, Client};

/// `skein operator raft list-peers`.
pub(crate) const COMMAND: Command = Command {
    path: &["operator", "raft", "list-peers"],
    synopsis: "Display the current Raft peer configuration",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein operator raft list-peers [options]

  Displays the current Raft peer configuration.
";

/// `GET /v1/operator/raft/configuration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftConfiguration {
    servers: Vec<RaftServer>,
}

/// One server of the Raft configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftServer {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    leader: bool,
    voter: bool,
    protocol_version: String,
    last_index: u64,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let config: RaftConfiguration = client
        .get("/v1/operator/raft/configuration", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error getting peers: Failed to retrieve raft configuration")?;
    info(ctx, &table(&config.servers))
}

/// The peer table, with Consul 1.22's commit-index columns.
fn table(servers: &[RaftServer]) -> String {
    let leader_index = servers
        .iter()
        .find(|s| s.leader)
        .map_or(0, |s| s.last_index);
    let header = [
        "Node",
        "ID",
        "Address",
        "State",
        "Voter",
        "RaftProtocol",
        "Commit Index",
        "Trails Leader By",
    ];
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for s in servers {
        let protocol = if s.protocol_version.is_empty() {
            "<=1"
        } else {
            &s.protocol_version
        };
        let state = if s.leader { "leader" } else { "follower" };
        let trails = match leader_index.saturating_sub(s.last_index) {
            _ if s.leader => "-".to_owned(),
            1 => "1 commit".to_owned(),
            n => format!("{n} commits"),
        };
        rows.push(vec![
            s.node.clone(),
            s.id.clone(),
            s.address.clone(),
            state.to_owned(),
            s.voter.to_string(),
            protocol.to_owned(),
            s.last_index.to_string(),
            trails,
        ]);
    }
    columnize(&rows)
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const BODY: &[u8] = br#"{"Servers":[
        {"ID":"aaaa-1","Node":"n1","Address":"127.0.0.1:8300","Leader":true,"Voter":true,"ProtocolVersion":"3","LastIndex":12},
        {"ID":"bbbb-2","Node":"node-two","Address":"10.0.0.2:8300","Leader":false,"Voter":false,"ProtocolVersion":"3","LastIndex":11}
    ],"Index":12}"#;

    #[test]
    fn prints_an_aligned_table() {
        let (out, reqs) = run_against(
            &["operator", "raft", "list-peers", "-stale"],
            vec![reply(200, BODY)],
        );
        assert_eq!(reqs[0].target, "/v1/operator/raft/configuration?stale=");
        assert_eq!(
            out.stdout,
            "Node      ID      Address         State     Voter  RaftProtocol  Commit Index  Trails Leader By\n\
             n1        aaaa-1  127.0.0.1:8300  leader    true   3             12            -\n\
             node-two  bbbb-2  10.0.0.2:8300   follower  false  3             11            1 commit\n"
        );
    }

    #[test]
    fn reports_api_errors() {
        let (out, _) = run_against(
            &["operator", "raft", "list-peers"],
            vec![reply(500, b"No cluster leader")],
        );
        assert_eq!(
            out.stderr,
            "Error getting peers: Failed to retrieve raft configuration: \
             Unexpected response code: 500 (No cluster leader)\n"
        );
    }
}
