//! `kv delete`: remove a key, a prefix (`-recurse`) or a key by check-and-set.

use crate::commands::kv::{kv_path, optional_key};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein kv delete`.
pub(crate) const COMMAND: Command = Command {
    path: &["kv", "delete"],
    synopsis: "Removes data from the KV store",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein kv delete [options] KEY_OR_PREFIX

  Removes the value from the key-value store at the given path. If no key
  exists at the path, no action is taken.

  To delete the value for the key named \"foo\":

      $ skein kv delete foo

  To delete all keys which start with \"foo\", specify the -recurse option:

      $ skein kv delete -recurse foo
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool(
            "cas",
            "Perform a Check-And-Set operation. Specifying this value also requires the \
             -modify-index flag to be set. The default value is false.",
        )
        .uint(
            "modify-index",
            "Unsigned integer representing the ModifyIndex of the key. This is used in \
             combination with the -cas flag.",
        )
        .bool(
            "recurse",
            "Recursively delete all keys with the path. The default value is false.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let key = optional_key(flags.args())?;
    let (recurse, cas) = (flags.bool("recurse"), flags.bool("cas"));
    if key.is_empty() && !recurse {
        return Err(Error::msg("Error! Missing KEY argument"));
    }
    if cas && flags.uint("modify-index") == 0 {
        return Err(Error::msg(
            "Error! Missing -modify-index (required with -cas)",
        ));
    }
    if recurse && cas {
        return Err(Error::msg("Cannot specify both -cas and -recurse!"));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    if recurse {
        let context = format!("Error! Did not delete prefix {key}");
        client
            .delete(&kv_path(&key), vec![("recurse", String::new())])
            .and_then(|r| r.require_ok())
            .context(&context)?;
        return info(ctx, &format!("Success! Deleted keys with prefix: {key}"));
    }
    if cas {
        return delete_cas(&client, &key, flags.uint("modify-index"), ctx);
    }
    let context = format!("Error deleting key {key}");
    client
        .delete(&kv_path(&key), Vec::new())
        .and_then(|r| r.require_ok())
        .context(&context)?;
    info(ctx, &format!("Success! Deleted key: {key}"))
}

fn delete_cas(client: &Client, key: &str, index: u64, ctx: &mut Ctx<'_>) -> Result<()> {
    let context = format!("Error! Did not delete key {key}");
    let response = client
        .delete(&kv_path(key), vec![("cas", index.to_string())])
        .and_then(|r| r.require_ok())
        .context(&context)?;
    if String::from_utf8_lossy(&response.body).trim() != "true" {
        return Err(Error::msg(format!("{context}: CAS failed")));
    }
    info(ctx, &format!("Success! Deleted key: {key}"))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn deletes_one_key() {
        let (out, reqs) = run_against(&["kv", "delete", "/a/b"], vec![reply(200, b"true")]);
        assert_eq!(out.stdout, "Success! Deleted key: a/b\n");
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("DELETE", "/v1/kv/a/b")
        );
    }

    #[test]
    fn deletes_a_prefix() {
        let (out, reqs) = run_against(
            &["kv", "delete", "-recurse", "a"],
            vec![reply(200, b"true")],
        );
        assert_eq!(out.stdout, "Success! Deleted keys with prefix: a\n");
        assert_eq!(reqs[0].target, "/v1/kv/a?recurse=");
    }

    #[test]
    fn cas_delete() {
        let args = ["kv", "delete", "-cas", "-modify-index=4", "a"];
        let (out, reqs) = run_against(&args, vec![reply(200, b"false")]);
        assert_eq!(reqs[0].target, "/v1/kv/a?cas=4");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Error! Did not delete key a: CAS failed\n")
        );
    }

    #[test]
    fn rejects_cas_with_recurse() {
        let (out, _) = run_against(
            &["kv", "delete", "-cas", "-modify-index=1", "-recurse", "a"],
            vec![],
        );
        assert_eq!(out.stderr, "Cannot specify both -cas and -recurse!\n");
    }
}
