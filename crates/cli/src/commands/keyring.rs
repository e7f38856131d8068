//! `keyring`: list, install, use and remove gossip encryption keys on every
//! member of the pool.

use serde_json::Value;

use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein keyring`.
pub(crate) const COMMAND: Command = Command {
    path: &["keyring"],
    synopsis: "Manages gossip layer encryption keys",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein keyring [options]

  Manages the gossip encryption keys of every member of the pool. Exactly one
  of -list, -install, -use or -remove must be given. To rotate keys, install
  the new key, make it the primary with -use, then remove the old one.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("list", "List all keys currently in use within the cluster.")
        .string("install", "", "Install a new encryption key.")
        .string(
            "use",
            "",
            "Change the primary encryption key, which encrypts all gossip.",
        )
        .string("remove", "", "Remove the given key from the cluster.")
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let (install, use_key, remove) = (flags.str("install"), flags.str("use"), flags.str("remove"));
    let given = [
        flags.bool("list"),
        !install.is_empty(),
        !use_key.is_empty(),
        !remove.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        return Err(Error::Flag(
            "Exactly one operation must be specified".into(),
        ));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let path = "/v1/operator/keyring";
    if flags.bool("list") {
        info(ctx, "==> Gathering installed encryption keys...")?;
        let pools: Vec<Value> = client
            .get(path, Vec::new())
            .and_then(|r| r.require_ok())
            .and_then(|r| r.json())
            .context("error")?;
        for pool in &pools {
            list_pool(ctx, pool)?;
        }
        return Ok(());
    }
    let body = |key: &str| serde_json::json!({ "Key": key }).to_string().into_bytes();
    let result = if !install.is_empty() {
        info(ctx, "==> Installing new gossip encryption key...")?;
        client.post(path, Vec::new(), &body(install))
    } else if !use_key.is_empty() {
        info(ctx, "==> Changing primary gossip encryption key...")?;
        client.put(path, Vec::new(), &body(use_key))
    } else {
        info(ctx, "==> Removing gossip encryption key...")?;
        client.delete_with_body(path, Vec::new(), &body(remove))
    };
    result.and_then(|r| r.require_ok()).context("error")?;
    Ok(())
}

/// One pool's keys with how many of its members have each.
fn list_pool(ctx: &mut Ctx<'_>, pool: &Value) -> Result<()> {
    let total = pool["NumNodes"].as_u64().unwrap_or(0);
    let title = if pool["WAN"] == true {
        "WAN".to_owned()
    } else {
        format!("{} (LAN)", pool["Datacenter"].as_str().unwrap_or_default())
    };
    info(ctx, "")?;
    info(ctx, &format!("{title}:"))?;
    if let Some(keys) = pool["Keys"].as_object() {
        for (key, count) in keys {
            info(
                ctx,
                &format!("  {key} [{}/{total}]", count.as_u64().unwrap_or(0)),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn lists_keys_per_pool() {
        let (out, reqs) = run_against(
            &["keyring", "-list"],
            vec![reply(
                200,
                br#"[{"WAN":false,"Datacenter":"dc1","Keys":{"k1=":3},"PrimaryKeys":{"k1=":3},"NumNodes":3}]"#,
            )],
        );
        assert_eq!(reqs[0].target, "/v1/operator/keyring");
        assert_eq!(
            out.stdout,
            "==> Gathering installed encryption keys...\n\ndc1 (LAN):\n  k1= [3/3]\n"
        );
    }

    #[test]
    fn installs_uses_and_removes_with_the_key_in_the_body() {
        for (flag, method) in [("-install", "POST"), ("-use", "PUT"), ("-remove", "DELETE")] {
            let arg = format!("{flag}=abc=");
            let (out, reqs) = run_against(&["keyring", &arg], vec![reply(200, b"")]);
            assert_eq!(reqs[0].method, method, "{}", out.stderr);
            assert_eq!(reqs[0].body, br#"{"Key":"abc="}"#);
        }
    }

    #[test]
    fn needs_exactly_one_operation_and_reports_errors() {
        let (out, reqs) = run_against(&["keyring"], vec![]);
        assert!(reqs.is_empty());
        assert!(
            out.stderr.contains("Exactly one operation"),
            "{}",
            out.stderr
        );
        let (out, _) = run_against(
            &["keyring", "-use=abc="],
            vec![reply(500, b"1/3 nodes reported failure")],
        );
        assert!(
            out.stderr.contains("1/3 nodes reported failure"),
            "{}",
            out.stderr
        );
    }
}
