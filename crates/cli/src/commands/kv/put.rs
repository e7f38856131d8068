//! `kv put`: write a key, optionally with check-and-set or a lock session.

use crate::commands::kv::{decode, kv_path, read_data};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein kv put`.
pub(crate) const COMMAND: Command = Command {
    path: &["kv", "put"],
    synopsis: "Sets or updates data in the KV store",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ skein kv put config/redis/maxconns 5

  The data can also be consumed from a file on disk by prefixing with the \"@\"
  symbol. For example:

      $ skein kv put config/program/license @license.lic

  Or it can be read from stdin using the \"-\" symbol:

      $ echo \"abcd1234\" | skein kv put config/program/license -

  The DATA argument itself is optional. If omitted, this will create a key
  with no data.
";

/// How the write is guarded.
enum Mode {
    Plain,
    Cas(u64),
    Acquire(String),
    Release(String),
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool(
            "acquire",
            "Obtain a lock on the key. If the key does not exist, this will create the \
             key and obtain the lock. The session must already exist and be specified \
             via the -session flag. The default value is false.",
        )
        .bool(
            "base64",
            "Treat the data as base 64 encoded. The default value is false.",
        )
        .bool(
            "cas",
            "Perform a Check-And-Set operation. Specifying this value also requires the \
             -modify-index flag to be set. The default value is false.",
        )
        .uint(
            "flags",
            "Unsigned integer value to assign to this key-value pair. This value is not \
             read by the server, so clients can use this value however makes sense for \
             their use case. The default value is 0 (no flags).",
        )
        .uint(
            "modify-index",
            "Unsigned integer representing the ModifyIndex of the key. This is used in \
             combination with the -cas flag.",
        )
        .bool(
            "release",
            "Forfeit the lock on the key at the given path. This requires the -session \
             flag to be set. The key must be held by the session in order to be \
             unlocked. The default value is false.",
        )
        .string(
            "session",
            "",
            "User-defined identifier for this session as a string. This is commonly used \
             with the -acquire and -release operations to build robust locking, but it \
             can be set on any key. The default value is empty (no session).",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let (key, data) = key_and_data(flags.args(), ctx)?;
    let data = if flags.bool("base64") {
        decode(&String::from_utf8_lossy(&data).replace(['\n', '\r'], ""))
            .map_err(|e| Error::msg(format!("Error! Cannot base 64 decode data: {e}")))?
    } else {
        data
    };
    let mode = mode(flags)?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let mut query: Query = Vec::new();
    if flags.uint("flags") != 0 {
        query.push(("flags", flags.uint("flags").to_string()));
    }
    match &mode {
        Mode::Plain => {}
        Mode::Cas(index) => query.push(("cas", index.to_string())),
        Mode::Acquire(s) => query.push(("acquire", s.clone())),
        Mode::Release(s) => query.push(("release", s.clone())),
    }
    let written = write(&client, &key, query, &data, &mode)?;
    report(ctx, &key, &mode, written)
}

/// KEY and the optional DATA (`@file`, `-` for stdin, or literal).
fn key_and_data(args: &[String], ctx: &mut Ctx<'_>) -> Result<(String, Vec<u8>)> {
    match args {
        [] => Err(Error::msg("Error! Missing KEY argument")),
        [key] => Ok((key.clone(), Vec::new())),
        [key, data] => Ok((key.clone(), read_data(data, ctx)?)),
        _ => Err(Error::msg(format!(
            "Error! Too many arguments (expected 1 or 2, got {})",
            args.len()
        ))),
    }
}

fn mode(flags: &Parsed) -> Result<Mode> {
    let session = flags.str("session").to_owned();
    if (flags.bool("acquire") || flags.bool("release")) && session.is_empty() {
        return Err(Error::msg(
            "Error! Missing -session (required with -acquire and -release)",
        ));
    }
    if flags.bool("cas") && flags.uint("modify-index") == 0 {
        return Err(Error::msg(
            "Error! Missing -modify-index (required with -cas)",
        ));
    }
    Ok(if flags.bool("cas") {
        Mode::Cas(flags.uint("modify-index"))
    } else if flags.bool("acquire") {
        Mode::Acquire(session)
    } else if flags.bool("release") {
        Mode::Release(session)
    } else {
        Mode::Plain
    })
}

/// PUTs the value; returns the agent's `true`/`false`.
fn write(client: &Client, key: &str, query: Query, data: &[u8], mode: &Mode) -> Result<bool> {
    let context = match mode {
        Mode::Cas(_) => format!("Error! Did not write to {key}"),
        _ => "Error! Failed writing data".to_owned(),
    };
    let response = client
        .put(&kv_path(key), query, data)
        .and_then(|r| r.require_ok())
        .context(&context)?;
    Ok(String::from_utf8_lossy(&response.body).trim() == "true")
}

fn report(ctx: &mut Ctx<'_>, key: &str, mode: &Mode, written: bool) -> Result<()> {
    let (ok, failed) = match mode {
        Mode::Plain => return info(ctx, &format!("Success! Data written to: {key}")),
        Mode::Cas(_) => (
            format!("Success! Data written to: {key}"),
            format!("Error! Did not write to {key}: CAS failed"),
        ),
        Mode::Acquire(_) => (
            format!("Success! Lock acquired on: {key}"),
            "Error! Did not acquire lock".to_owned(),
        ),
        Mode::Release(_) => (
            format!("Success! Lock released on: {key}"),
            "Error! Did not release lock".to_owned(),
        ),
    };
    if written {
        info(ctx, &ok)
    } else {
        Err(Error::msg(failed))
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against, run_against_stdin};

    #[test]
    fn puts_a_literal_value() {
        let (out, reqs) = run_against(
            &["kv", "put", "-flags=42", "a b", "hello"],
            vec![reply(200, b"true")],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Success! Data written to: a b\n")
        );
        assert_eq!(reqs[0].method, "PUT");
        assert_eq!(reqs[0].target, "/v1/kv/a%20b?flags=42");
        assert_eq!(reqs[0].body, b"hello");
    }

    #[test]
    fn reads_stdin_and_decodes_base64() {
        let (out, reqs) = run_against_stdin(
            &["kv", "put", "-base64", "k", "-"],
            vec![reply(200, b"true")],
            b"aGk=\n",
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[0].target, "/v1/kv/k");
        assert_eq!(reqs[0].body, b"hi");
    }

    #[test]
    fn reads_a_file_and_sends_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.txt");
        std::fs::write(&path, "from file").unwrap();
        let at = format!("@{}", path.display());
        let (out, reqs) = run_against(
            &["kv", "put", "-token=secret", "k", &at],
            vec![reply(200, b"true")],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(reqs[0].body, b"from file");
        assert_eq!(reqs[0].header("X-Consul-Token"), Some("secret"));
    }

    #[test]
    fn cas_failure_exits_1() {
        let args = ["kv", "put", "-cas", "-modify-index=9", "k", "v"];
        let (out, reqs) = run_against(&args, vec![reply(200, b"false")]);
        assert_eq!(reqs[0].target, "/v1/kv/k?cas=9");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Error! Did not write to k: CAS failed\n")
        );
    }

    #[test]
    fn acquire_and_release_use_the_session() {
        let args = ["kv", "put", "-acquire", "-session=s1", "k", "v"];
        let (out, reqs) = run_against(&args, vec![reply(200, b"true")]);
        assert_eq!(reqs[0].target, "/v1/kv/k?acquire=s1");
        assert_eq!(out.stdout, "Success! Lock acquired on: k\n");
        let args = ["kv", "put", "-release", "-session=s1", "k"];
        let (out, reqs) = run_against(&args, vec![reply(200, b"false")]);
        assert_eq!(reqs[0].target, "/v1/kv/k?release=s1");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Error! Did not release lock\n")
        );
    }

    #[test]
    fn validates_flags_before_any_request() {
        let (out, _) = run_against(&["kv", "put", "-acquire", "k"], vec![]);
        assert_eq!(
            out.stderr,
            "Error! Missing -session (required with -acquire and -release)\n"
        );
        let (out, _) = run_against(&["kv", "put", "-cas", "k"], vec![]);
        assert_eq!(
            out.stderr,
            "Error! Missing -modify-index (required with -cas)\n"
        );
        let (out, _) = run_against(&["kv", "put"], vec![]);
        assert_eq!(out.stderr, "Error! Missing KEY argument\n");
        let (out, _) = run_against(&["kv", "put", "-flags=x", "k"], vec![]);
        assert_eq!(out.code, 1);
        assert!(out.stderr.starts_with(
            "invalid value \"x\" for flag -flags: parse error\n\nUsage: skein kv put"
        ));
    }

    #[test]
    fn server_errors_are_reported() {
        let (out, _) = run_against(
            &["kv", "put", "k", "v"],
            vec![reply(413, b"Request body too large")],
        );
        assert_eq!(
            out.stderr,
            "Error! Failed writing data: Unexpected response code: 413 (Request body too large)\n"
        );
    }
}
