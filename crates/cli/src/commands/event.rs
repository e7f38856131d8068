//! `event`: fire a user event to every agent of the datacenter.

use serde_json::Value;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein event`.
pub(crate) const COMMAND: Command = Command {
    path: &["event"],
    synopsis: "Fire a new event",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein event [options] [payload]

  Dispatches a custom user event across the datacenter. Agents whose node,
  services and tags match the filters record it; `skein watch -type=event`
  and `/v1/event/list` show it.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("name", "", "Name of the event.")
        .string("node", "", "Regular expression to filter on node names.")
        .string(
            "service",
            "",
            "Regular expression to filter on service instances.",
        )
        .string(
            "tag",
            "",
            "Regular expression to filter on service tags. Must be used with -service.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let name = flags.str("name");
    if name.is_empty() {
        return Err(Error::Flag("Event name must be specified".into()));
    }
    let (node, service, tag) = (flags.str("node"), flags.str("service"), flags.str("tag"));
    if !tag.is_empty() && service.is_empty() {
        return Err(Error::Flag(
            "Cannot provide tag filter without service filter.".into(),
        ));
    }
    for (what, expr) in [("node", node), ("service", service), ("tag", tag)] {
        if !expr.is_empty() && regex::Regex::new(expr).is_err() {
            return Err(Error::Flag(format!(
                "Failed to compile {what} filter regexp"
            )));
        }
    }
    let payload = match flags.args() {
        [] => Vec::new(),
        [p] => p.clone().into_bytes(),
        _ => return Err(Error::Flag("Too many command line arguments.".into())),
    };
    let mut query = Vec::new();
    for (key, value) in [("node", node), ("service", service), ("tag", tag)] {
        if !value.is_empty() {
            query.push((key, value.to_owned()));
        }
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let event: Value = client
        .put(&format!("/v1/event/fire/{name}"), query, &payload)
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())
        .context("Error firing event")?;
    info(
        ctx,
        &format!("Event ID: {}", event["ID"].as_str().unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn fires_with_filters_and_payload() {
        let (out, reqs) = run_against(
            &["event", "-name=deploy", "-service=web", "-tag=v2", "go"],
            vec![reply(200, br#"{"ID":"e1","Name":"deploy"}"#)],
        );
        assert_eq!(reqs[0].method, "PUT");
        assert_eq!(reqs[0].target, "/v1/event/fire/deploy?service=web&tag=v2");
        assert_eq!(reqs[0].body, b"go");
        assert_eq!(out.stdout, "Event ID: e1\n");
    }

    #[test]
    fn refuses_bad_arguments() {
        for args in [
            &["event"][..],
            &["event", "-name=x", "-tag=v1"],
            &["event", "-name=x", "-node=("],
            &["event", "-name=x", "a", "b"],
        ] {
            let (out, reqs) = run_against(args, vec![]);
            assert!(reqs.is_empty(), "{args:?}");
            assert!(!out.stderr.is_empty(), "{args:?}");
        }
    }
}
