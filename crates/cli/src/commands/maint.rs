//! `maint`: enable, disable or list node and service maintenance mode.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::commands::{Command, Ctx, agent_node_name, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein maint`.
pub(crate) const COMMAND: Command = Command {
    path: &["maint"],
    synopsis: "Controls node or service maintenance mode",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein maint [options]

  Places a node or service into maintenance mode. During maintenance mode,
  the node or service will be excluded from all queries through the DNS
  or API interfaces, effectively taking it out of the pool of available
  nodes. This is done by registering an additional critical health check.

  When enabling maintenance mode for a node or service, you may optionally
  specify a reason string. This string will appear in the \"Notes\" field
  of the critical health check which is registered against the node or
  service. If no reason is provided, a default value will be used.

  Maintenance mode is persistent, and will be restored in the event of an
  agent restart. It is therefore required to disable maintenance mode on
  a given node or service before it will be placed back into the pool.

  By default, we operate on the node as a whole. By specifying the
  \"-service\" argument, this behavior can be changed to enable or disable
  only a specific service.

  If no arguments are given, the agent's maintenance status will be shown.
  This will return blank if nothing is currently under maintenance.
";

/// One entry of `GET /v1/agent/checks` (only what the listing needs).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    notes: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("disable", "Disable maintenance mode.")
        .bool("enable", "Enable maintenance mode.")
        .string("reason", "", "Text describing the maintenance reason.")
        .string(
            "service",
            "",
            "Control maintenance mode for a specific service ID.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let (enable, disable) = (flags.bool("enable"), flags.bool("disable"));
    let (reason, service) = (flags.str("reason"), flags.str("service"));
    if enable && disable {
        return Err(Error::msg(
            "Only one of -enable or -disable may be provided",
        ));
    }
    if !enable && !reason.is_empty() {
        return Err(Error::msg("Reason may only be provided with -enable"));
    }
    if !enable && !disable && !service.is_empty() {
        return Err(Error::msg("Service requires either -enable or -disable"));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let node = agent_node_name(&client).context("Error querying Consul agent")?;
    if !enable && !disable {
        return list(&client, &node, ctx);
    }
    let mut query: Query = vec![("enable", enable.to_string())];
    if enable {
        query.push(("reason", reason.to_owned()));
    }
    let (verb, state) = if enable {
        ("enabling", "enabled")
    } else {
        ("disabling", "disabled")
    };
    if service.is_empty() {
        client
            .put("/v1/agent/maintenance", query, b"")
            .and_then(|r| r.require_ok())
            .context(&format!("Error {verb} node maintenance"))?;
        info(ctx, &format!("Node maintenance is now {state}"))
    } else {
        client
            .put(
                &format!("/v1/agent/service/maintenance/{service}"),
                query,
                b"",
            )
            .and_then(|r| r.require_ok())
            .context(&format!("Error {verb} service maintenance"))?;
        info(
            ctx,
            &format!("Service maintenance is now {state} for {service:?}"),
        )
    }
}

/// Prints the node and the services that are in maintenance (by check ID).
fn list(client: &Client, node: &str, ctx: &mut Ctx<'_>) -> Result<()> {
    let checks: BTreeMap<String, Check> = client
        .get("/v1/agent/checks", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error getting checks")?;
    for check in checks.values() {
        if check.check_id == "_node_maintenance" {
            info(ctx, "Node:")?;
            info(ctx, &format!("  Name:   {node}"))?;
        } else if check.check_id.starts_with("_service_maintenance:") {
            info(ctx, "Service:")?;
            info(ctx, &format!("  ID:     {}", check.service_id))?;
        } else {
            continue;
        }
        info(ctx, &format!("  Reason: {}", check.notes))?;
        info(ctx, "")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const SELF: &[u8] = br#"{"Config":{"NodeName":"node-1","Datacenter":"dc1"},"Stats":{}}"#;

    #[test]
    fn enables_node_maintenance_with_a_reason() {
        let args = ["maint", "-enable", "-reason=patching kernel"];
        let (out, reqs) = run_against(&args, vec![reply(200, SELF), reply(200, b"")]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        assert_eq!(out.stdout, "Node maintenance is now enabled\n");
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("GET", "/v1/agent/self")
        );
        assert_eq!(reqs[1].method, "PUT");
        assert_eq!(
            reqs[1].target,
            "/v1/agent/maintenance?enable=true&reason=patching+kernel"
        );
    }

    #[test]
    fn toggles_service_maintenance() {
        let args = ["maint", "-enable", "-service=web-1"];
        let (out, reqs) = run_against(&args, vec![reply(200, SELF), reply(200, b"")]);
        assert_eq!(
            out.stdout,
            "Service maintenance is now enabled for \"web-1\"\n"
        );
        assert_eq!(
            reqs[1].target,
            "/v1/agent/service/maintenance/web-1?enable=true&reason="
        );
        let args = ["maint", "-disable", "-service=web-1"];
        let (out, reqs) = run_against(&args, vec![reply(200, SELF), reply(200, b"")]);
        assert_eq!(
            out.stdout,
            "Service maintenance is now disabled for \"web-1\"\n"
        );
        assert_eq!(reqs[1].method, "PUT");
        assert_eq!(
            reqs[1].target,
            "/v1/agent/service/maintenance/web-1?enable=false"
        );
        let (out, reqs) = run_against(
            &["maint", "-disable"],
            vec![reply(200, SELF), reply(200, b"")],
        );
        assert_eq!(out.stdout, "Node maintenance is now disabled\n");
        assert_eq!(reqs[1].target, "/v1/agent/maintenance?enable=false");
    }

    #[test]
    fn lists_what_is_in_maintenance() {
        let checks = br#"{
            "serfHealth":{"CheckID":"serfHealth","Notes":"","ServiceID":""},
            "_service_maintenance:web-1":{"CheckID":"_service_maintenance:web-1","Notes":"deploy","ServiceID":"web-1"},
            "_node_maintenance":{"CheckID":"_node_maintenance","Notes":"Maintenance mode is enabled for this node, but no reason was provided. This is a default message.","ServiceID":""}
        }"#;
        let (out, reqs) = run_against(&["maint"], vec![reply(200, SELF), reply(200, checks)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[1].target, "/v1/agent/checks");
        assert_eq!(
            out.stdout,
            "Node:\n  Name:   node-1\n  Reason: Maintenance mode is enabled for this node, but no \
             reason was provided. This is a default message.\n\n\
             Service:\n  ID:     web-1\n  Reason: deploy\n\n"
        );
    }

    #[test]
    fn flag_conflicts_and_errors() {
        let cases: [(&[&str], &str); 3] = [
            (
                &["maint", "-enable", "-disable"],
                "Only one of -enable or -disable may be provided\n",
            ),
            (
                &["maint", "-reason=x"],
                "Reason may only be provided with -enable\n",
            ),
            (
                &["maint", "-service=x"],
                "Service requires either -enable or -disable\n",
            ),
        ];
        for (args, msg) in cases {
            let (out, _) = run_against(args, vec![]);
            assert_eq!((out.code, out.stderr.as_str()), (1, msg));
        }
        let (out, _) = run_against(
            &["maint", "-enable"],
            vec![reply(200, SELF), reply(404, b"Unknown service")],
        );
        assert_eq!(
            out.stderr,
            "Error enabling node maintenance: Unexpected response code: 404 (Unknown service)\n"
        );
    }
}
