//! The gossip layer seen through the API: an encrypted pool of one server
//! and two client agents, user events reaching every agent that matches
//! their filters, a key rotation with `/v1/operator/keyring`, and network
//! coordinates measured by the pool reaching the catalog.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, delete, get, post, put, wait_until};

const KEY: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
const NEW_KEY: &str = "HBkfSOPy6CbwHFSOm+4Bm1LWbFK9QHIdu3nnEEDfZl8=";

fn alive(agent: &Agent) -> usize {
    get(&agent.url("/v1/agent/members"))
        .json()
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["Status"] == 1).count())
}

fn event_names(agent: &Agent) -> Vec<String> {
    get(&agent.url("/v1/event/list"))
        .json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["Name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn keyring(agent: &Agent) -> Value {
    let r = get(&agent.url("/v1/operator/keyring"));
    assert_eq!(r.status, 200, "{}", r.body);
    let pools = r.json();
    pools
        .as_array()
        .and_then(|p| p.iter().find(|p| p["WAN"] == false))
        .cloned()
        .unwrap_or_else(|| panic!("no LAN pool in {pools}"))
}

#[test]
fn an_encrypted_pool_carries_events_rotates_keys_and_measures_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let common = vec![
        format!("-encrypt={KEY}"),
        "-hcl=sync_coordinate_interval_min = \"1s\"".to_owned(),
    ];
    let mut server_args = common.clone();
    server_args.push("-bootstrap-expect=1".to_owned());
    let server = Agent::cluster_server("g0", "127.0.0.91", &dir.path().join("g0"), &server_args);
    let mut client_args = common.clone();
    client_args.push(format!(
        "-retry-join={}",
        server.serf_lan.clone().expect("serf address")
    ));
    let clients: Vec<Agent> = (1..=2)
        .map(|i| {
            let name = format!("g{i}");
            let ip = format!("127.0.0.{}", 91 + i);
            Agent::cluster_client(&name, &ip, &dir.path().join(&name), &client_args)
        })
        .collect();
    let all: Vec<&Agent> = std::iter::once(&server).chain(&clients).collect();
    wait_until(
        Duration::from_secs(20),
        "three members alive everywhere",
        || all.iter().all(|a| alive(a) == 3),
    );

    // A service on g2 only; an event filtered on it reaches g2 alone.
    let r = put(
        &clients[1].url("/v1/agent/service/register"),
        r#"{"Name": "web", "Tags": ["v2"], "Port": 80}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(
        &clients[0].url("/v1/event/fire/deploy?service=web&tag=v2"),
        "go",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Name"], "deploy");
    let r = put(&server.url("/v1/event/fire/ping"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(10),
        "ping everywhere, deploy on g2",
        || {
            all.iter()
                .all(|a| event_names(a).contains(&"ping".to_owned()))
                && event_names(&clients[1]).contains(&"deploy".to_owned())
        },
    );
    assert!(!event_names(&server).contains(&"deploy".to_owned()));
    assert!(!event_names(&clients[0]).contains(&"deploy".to_owned()));
    let payload = get(&clients[1].url("/v1/event/list?name=deploy")).json()[0]["Payload"].clone();
    assert_eq!(payload, "Z28=", "the payload travels base64-encoded");

    // Rotate the key: install, use, remove the old one. Every member
    // follows and the pool stays whole.
    let ring = keyring(&clients[0]);
    assert_eq!(ring["NumNodes"], 3);
    // The server lists its WAN pool too, under the same key.
    let pools = get(&server.url("/v1/operator/keyring")).json();
    assert_eq!(pools[0]["WAN"], true, "{pools}");
    assert_eq!(pools[0]["Keys"][KEY], 1, "{pools}");
    assert_eq!(ring["Keys"][KEY], 3);
    let body = |k: &str| format!(r#"{{"Key": "{k}"}}"#);
    assert_eq!(
        post(&server.url("/v1/operator/keyring"), body(NEW_KEY)).status,
        200
    );
    assert_eq!(keyring(&server)["Keys"][NEW_KEY], 3);
    let r = put(&server.url("/v1/operator/keyring"), body(NEW_KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(keyring(&clients[1])["PrimaryKeys"][NEW_KEY], 3);
    let r = delete_with_body(&server.url("/v1/operator/keyring"), &body(KEY));
    assert_eq!(r.0, 200, "{}", r.1);
    let ring = keyring(&clients[1]);
    assert_eq!(ring["Keys"].as_object().map(|k| k.len()), Some(1), "{ring}");
    assert_eq!(ring["Keys"][NEW_KEY], 3);
    // Removing the primary key is refused, with Serf's reason.
    let r = delete_with_body(&server.url("/v1/operator/keyring"), &body(NEW_KEY));
    assert_eq!(r.0, 500);
    assert!(r.1.contains("primary key"), "{}", r.1);
    // The pool still works under the new key.
    put(&clients[1].url("/v1/event/fire/after-rotation"), "");
    wait_until(
        Duration::from_secs(10),
        "an event after the rotation",
        || {
            all.iter()
                .all(|a| event_names(a).contains(&"after-rotation".to_owned()))
        },
    );
    assert!(all.iter().all(|a| alive(a) == 3));

    // Coordinates measured by the pool reach the catalog.
    wait_until(
        Duration::from_secs(20),
        "measured coordinates for every node",
        || {
            let nodes = get(&server.url("/v1/coordinate/nodes")).json();
            nodes.as_array().is_some_and(|n| {
                n.len() == 3
                    && n.iter().all(|c| {
                        c["Coord"]["Vec"]
                            .as_array()
                            .is_some_and(|v| v.iter().any(|x| x.as_f64() != Some(0.0)))
                    })
            })
        },
    );
}

/// `DELETE` with a body (the keyring's), as status and body.
fn delete_with_body(url: &str, body: &str) -> (u16, String) {
    let r = crate::harness::delete_body(url, body);
    (r.status, r.body)
}

#[test]
fn keyring_operations_fail_without_encryption() {
    let agent = Agent::dev(&[]);
    let r = get(&agent.url("/v1/operator/keyring"));
    assert_eq!(r.status, 500);
    assert!(r.body.contains("encryption not enabled"), "{}", r.body);
    let r = delete(&agent.url("/v1/operator/keyring"));
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn servers_of_two_datacenters_meet_in_the_wan_pool() {
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str, ip: &str, dc: &str, join: Option<&str>| {
        let mut args = vec![
            format!("-datacenter={dc}"),
            "-bootstrap-expect=1".to_owned(),
        ];
        if let Some(join) = join {
            args.push(format!("-retry-join-wan={join}"));
        }
        Agent::cluster_server(name, ip, &dir.path().join(name), &args)
    };
    let east = start("w1", "127.0.0.101", "dc1", None);
    let wan = east.serf_wan.clone().expect("a server has a WAN address");
    let west = start("w2", "127.0.0.102", "dc2", Some(&wan));
    let wan_names = |a: &Agent| -> Vec<(String, u64)> {
        get(&a.url("/v1/agent/members?wan=1"))
            .json()
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| {
                        (
                            m["Name"].as_str().unwrap_or_default().to_owned(),
                            m["Status"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let both = vec![("w1.dc1".to_owned(), 1), ("w2.dc2".to_owned(), 1)];
    wait_until(
        Duration::from_secs(20),
        "both servers in each WAN view",
        || wan_names(&east) == both && wan_names(&west) == both,
    );
    assert_eq!(
        get(&east.url("/v1/catalog/datacenters")).json(),
        serde_json::json!(["dc1", "dc2"])
    );
    assert_eq!(
        get(&west.url("/v1/catalog/datacenters")).json(),
        serde_json::json!(["dc2", "dc1"])
    );
    // The LAN pools stay apart.
    let lan = get(&east.url("/v1/agent/members")).json();
    assert_eq!(lan.as_array().map(Vec::len), Some(1), "{lan}");
    // A client agent has no WAN pool.
    let client = Agent::cluster_client(
        "w3",
        "127.0.0.103",
        &dir.path().join("w3"),
        &[format!(
            "-retry-join={}",
            east.serf_lan.clone().expect("lan")
        )],
    );
    assert!(client.serf_wan.is_none());
    assert_eq!(
        get(&client.url("/v1/agent/members?wan=1")).json(),
        serde_json::json!([])
    );
}
