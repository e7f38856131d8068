//! Multi-process tests of the real `skein` binary: each test starts agents
//! on free loopback ports, talks to them over HTTP, and kills them on drop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_checks;
mod bad_requests;
mod blocking;
mod cli;
mod cli_connect;
mod cli_streams;
mod cluster;
mod connect;
mod connect_ca;
mod dns;
mod durability;
mod events;
mod gossip;
mod harness;
mod health_flow;
mod jepsen;
mod locks;
mod mesh;
mod mesh_l7;
