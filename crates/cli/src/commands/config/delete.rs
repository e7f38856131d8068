//! `config delete`: remove a config entry named by flags or by a file,
//! optionally with check-and-set.

use crate::commands::config::{CONNECT_ERROR, entry_path, load_entry};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein config delete`.
pub(crate) const COMMAND: Command = Command {
    path: &["config", "delete"],
    synopsis: "Delete a centralized config entry",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein config delete [options] ([-kind <config kind> -name <config name>] | [-filename FILENAME])

  Deletes the configuration entry specified by the kind and name.

  Example:

    $ skein config delete -kind service-defaults -name web
    $ skein config delete -filename service-defaults-web.hcl
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string("filename", "", "The filename of the config entry to delete")
        .string("kind", "", "The kind of configuration to delete.")
        .string("name", "", "The name of configuration to delete.")
        .bool(
            "cas",
            "Perform a Check-And-Set operation. Specifying this value also requires the \
             -modify-index flag to be set. The default value is false.",
        )
        .uint(
            "modify-index",
            "Unsigned integer representing the ModifyIndex of the config entry. This is \
             used in combination with the -cas flag.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    validate(flags).map_err(Error::msg)?;
    let (kind, name) = match flags.str("filename") {
        "" => (flags.str("kind").to_owned(), flags.str("name").to_owned()),
        file => {
            let entry = load_entry(file, ctx)?;
            (entry.kind, entry.name)
        }
    };
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let context = format!("Error deleting config entry {kind}/{name}");
    let mut query = Vec::new();
    if flags.bool("cas") {
        query.push(("cas", flags.uint("modify-index").to_string()));
    }
    let response = client
        .delete(&entry_path(&kind, &name), query)
        .and_then(|r| r.require_ok())
        .context(&context)?;
    let deleted = !flags.bool("cas") || String::from_utf8_lossy(&response.body).trim() == "true";
    if !deleted {
        return Err(Error::msg(format!(
            "Config entry not deleted: {kind}/{name}"
        )));
    }
    info(ctx, &format!("Config entry deleted: {kind}/{name}"))
}

/// Consul's argument checks, in its order.
fn validate(flags: &Parsed) -> std::result::Result<(), &'static str> {
    let (file, kind, name) = (flags.str("filename"), flags.str("kind"), flags.str("name"));
    let given = [file, kind, name].iter().filter(|s| !s.is_empty()).count();
    if given == 0 {
        return Err("Must specify the -kind or -filename parameter");
    }
    if !file.is_empty() && given > 1 {
        return Err("filename can't be used with kind or name");
    }
    if file.is_empty() && kind.is_empty() {
        return Err("Must specify the -kind parameter");
    }
    if file.is_empty() && name.is_empty() {
        return Err("Must specify the -name parameter");
    }
    let (cas, index) = (flags.bool("cas"), flags.uint("modify-index"));
    if cas && index == 0 {
        return Err("Must specify a -modify-index greater than 0 with -cas");
    }
    if index != 0 && !cas {
        return Err("Cannot specify -modify-index without -cas");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn deletes_by_kind_and_name() {
        let (out, reqs) = run_against(
            &["config", "delete", "-kind=service-defaults", "-name=web"],
            vec![reply(200, b"{}")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Config entry deleted: service-defaults/web\n")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("DELETE", "/v1/config/service-defaults/web")
        );
    }

    #[test]
    fn deletes_the_entry_a_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.hcl");
        std::fs::write(&path, "Kind = \"service-defaults\"\nName = \"web\"\n").unwrap();
        let file = format!("-filename={}", path.display());
        let (out, reqs) = run_against(&["config", "delete", &file], vec![reply(200, b"{}")]);
        assert_eq!(out.stdout, "Config entry deleted: service-defaults/web\n");
        assert_eq!(reqs[0].target, "/v1/config/service-defaults/web");
    }

    #[test]
    fn cas_delete_reports_a_stale_index() {
        let args = [
            "config",
            "delete",
            "-kind=mesh",
            "-name=mesh",
            "-cas",
            "-modify-index=3",
        ];
        let (out, reqs) = run_against(&args, vec![reply(200, b"false")]);
        assert_eq!(reqs[0].target, "/v1/config/mesh/mesh?cas=3");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Config entry not deleted: mesh/mesh\n")
        );
        let (out, _) = run_against(&args, vec![reply(200, b"true")]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Config entry deleted: mesh/mesh\n")
        );
    }

    #[test]
    fn validates_arguments_like_consul() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "Must specify the -kind or -filename parameter"),
            (
                &["-filename=f", "-kind=k"],
                "filename can't be used with kind or name",
            ),
            (&["-name=n"], "Must specify the -kind parameter"),
            (&["-kind=k"], "Must specify the -name parameter"),
            (
                &["-kind=k", "-name=n", "-cas"],
                "Must specify a -modify-index greater than 0 with -cas",
            ),
            (
                &["-kind=k", "-name=n", "-modify-index=2"],
                "Cannot specify -modify-index without -cas",
            ),
        ];
        for (extra, want) in cases {
            let mut args = vec!["config", "delete"];
            args.extend_from_slice(extra);
            let (out, _) = run_against(&args, vec![]);
            assert_eq!(
                (out.code, out.stderr.as_str()),
                (1, format!("{want}\n").as_str())
            );
        }
    }
}
