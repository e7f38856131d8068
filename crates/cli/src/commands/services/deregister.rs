//! `services deregister`: deregister services by ID or by definition file.

use crate::commands::services::{from_files, string_field};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein services deregister`.
pub(crate) const COMMAND: Command = Command {
    path: &["services", "deregister"],
    synopsis: "Deregister services with the local agent",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein services deregister [options] [FILE...]

  Deregister one or more services that were previously registered with
  the local agent.

      $ skein services deregister web.json db.json

  The -id flag may be used to deregister a single service by ID:

      $ skein services deregister -id=web

  Services are deregistered from the local agent catalog. This command must
  be run against the same agent where the service was registered.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new()).string(
        "id",
        "",
        "ID to delete. This must not be set if arguments are given.",
    )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let files = flags.args();
    let id = flags.str("id");
    if files.is_empty() && id.is_empty() {
        return Err(Error::msg(
            "Service deregistration requires at least one argument or -id.",
        ));
    }
    if !files.is_empty() && !id.is_empty() {
        return Err(Error::msg(
            "Service deregistration requires arguments or -id, not both.",
        ));
    }
    // (ID, Name) of each service; the ID defaults to the name.
    let targets: Vec<(String, String)> = if files.is_empty() {
        vec![(id.to_owned(), String::new())]
    } else {
        from_files(files)?
            .iter()
            .map(|d| (string_field(d, "ID"), string_field(d, "Name")))
            .collect()
    };
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    for (id, name) in targets {
        let id = if id.is_empty() { name.clone() } else { id };
        if id.is_empty() {
            continue;
        }
        client
            .put(
                &format!("/v1/agent/service/deregister/{id}"),
                Vec::new(),
                b"",
            )
            .and_then(|r| r.require_ok())
            .context(&format!("Error registering service {name:?}"))?;
        info(ctx, &format!("Deregistered service: {id}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn deregisters_by_id() {
        let (out, reqs) = run_against(
            &["services", "deregister", "-id=web-1"],
            vec![reply(200, b"")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Deregistered service: web-1\n")
        );
        assert_eq!(reqs[0].method, "PUT");
        assert_eq!(reqs[0].target, "/v1/agent/service/deregister/web-1");
    }

    #[test]
    fn deregisters_file_services_by_id_or_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("svcs.json");
        std::fs::write(
            &file,
            r#"{"services": [{"id": "web-1", "name": "web"}, {"Name": "db"}]}"#,
        )
        .unwrap();
        let args = ["services", "deregister", file.to_str().unwrap()];
        let (out, reqs) = run_against(&args, vec![reply(200, b""), reply(200, b"")]);
        assert_eq!(
            out.stdout,
            "Deregistered service: web-1\nDeregistered service: db\n"
        );
        assert_eq!(reqs[0].target, "/v1/agent/service/deregister/web-1");
        assert_eq!(reqs[1].target, "/v1/agent/service/deregister/db");
    }

    #[test]
    fn argument_errors() {
        let (out, _) = run_against(&["services", "deregister"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Service deregistration requires at least one argument or -id.\n"
            )
        );
        let (out, _) = run_against(&["services", "deregister", "-id=a", "f"], vec![]);
        assert_eq!(
            out.stderr,
            "Service deregistration requires arguments or -id, not both.\n"
        );
    }
}
