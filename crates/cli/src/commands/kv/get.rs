//! `kv get`: read one key, a prefix (`-recurse`) or key names (`-keys`).

use crate::commands::kv::{KvPair, encode, kv_path, optional_key};
use crate::commands::{Command, Ctx, emit, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client, Query};

/// `skein kv get`.
pub(crate) const COMMAND: Command = Command {
    path: &["kv", "get"],
    synopsis: "Retrieves or lists data from the KV store",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein kv get [options] [KEY_OR_PREFIX]

  Retrieves the value from the key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned. If the name or prefix is omitted,
  it defaults to \"\" which is the root of the key-value store.

  To retrieve the value for the key named \"foo\":

      $ skein kv get foo

  To list keys under a prefix, or all pairs under it:

      $ skein kv get -keys foo/
      $ skein kv get -recurse foo
";

const QUERY_ERROR: &str = "Error querying Consul agent";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool(
            "base64",
            "Base64 encode the value. The default value is false.",
        )
        .bool(
            "detailed",
            "Provide additional metadata about the key in addition to the value such as \
             the ModifyIndex and any flags that may have been set on the key. The default \
             value is false.",
        )
        .bool(
            "keys",
            "List keys which start with the given prefix, but not their values. This is \
             especially useful if you only need the key names themselves. This option is \
             commonly combined with the -separator option. The default value is false.",
        )
        .bool(
            "recurse",
            "Recursively look at all keys prefixed with the given path. The default value \
             is false.",
        )
        .string(
            "separator",
            "/",
            "String to use as a separator between keys. The default value is \"/\", but \
             this option is only taken into account when paired with the -keys flag.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let key = optional_key(flags.args())?;
    if key.is_empty() && !(flags.bool("recurse") || flags.bool("keys")) {
        return Err(Error::msg("Error! Missing KEY argument"));
    }
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    if flags.bool("keys") {
        list_keys(&client, &key, flags.str("separator"), ctx)
    } else if flags.bool("recurse") {
        list_pairs(&client, &key, flags, ctx)
    } else {
        get_one(&client, &key, flags, ctx)
    }
}

fn list_keys(client: &Client, prefix: &str, separator: &str, ctx: &mut Ctx<'_>) -> Result<()> {
    let mut query: Query = vec![("keys", String::new())];
    if !separator.is_empty() {
        query.push(("separator", separator.to_owned()));
    }
    let response = client.get(&kv_path(prefix), query).context(QUERY_ERROR)?;
    let keys: Vec<String> = match response.require_ok_or_not_found().context(QUERY_ERROR)? {
        Some(r) => r.json().context(QUERY_ERROR)?,
        None => Vec::new(),
    };
    keys.iter().try_for_each(|k| info(ctx, k))
}

fn fetch_pairs(client: &Client, key: &str, query: Query) -> Result<Vec<KvPair>> {
    let response = client.get(&kv_path(key), query)?;
    match response.require_ok_or_not_found()? {
        Some(r) => r.json(),
        None => Ok(Vec::new()),
    }
}

fn list_pairs(client: &Client, prefix: &str, flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let pairs =
        fetch_pairs(client, prefix, vec![("recurse", String::new())]).context(QUERY_ERROR)?;
    let base64 = flags.bool("base64");
    for (i, pair) in pairs.iter().enumerate() {
        let value = pair.value_bytes()?;
        if flags.bool("detailed") {
            emit(ctx, &detailed(pair, &value, base64))?;
            if i + 1 < pairs.len() {
                info(ctx, "")?;
            }
        } else {
            let mut line = format!("{}:", pair.key).into_bytes();
            line.extend(render_value(&value, base64));
            line.push(b'\n');
            emit(ctx, &line)?;
        }
    }
    Ok(())
}

fn get_one(client: &Client, key: &str, flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let pairs = fetch_pairs(client, key, Vec::new()).context(QUERY_ERROR)?;
    let Some(pair) = pairs.into_iter().next() else {
        return Err(Error::msg(format!("Error! No key exists at: {key}")));
    };
    let value = pair.value_bytes()?;
    let base64 = flags.bool("base64");
    if flags.bool("detailed") {
        return emit(ctx, &detailed(&pair, &value, base64));
    }
    let mut line = render_value(&value, base64);
    line.push(b'\n');
    emit(ctx, &line)
}

fn render_value(value: &[u8], base64: bool) -> Vec<u8> {
    if base64 {
        encode(value).into_bytes()
    } else {
        value.to_vec()
    }
}

/// The `-detailed` block, aligned like Go's `tabwriter` (padding 6), newline-terminated.
pub(crate) fn detailed(pair: &KvPair, value: &[u8], base64: bool) -> Vec<u8> {
    let session = pair
        .session
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("-");
    let rows = [
        ("CreateIndex", pair.create_index.to_string()),
        ("Flags", pair.flags.to_string()),
        ("Key", pair.key.clone()),
        ("LockIndex", pair.lock_index.to_string()),
        ("ModifyIndex", pair.modify_index.to_string()),
        ("Session", session.to_owned()),
    ];
    let width = "CreateIndex".len() + 6;
    let mut out = Vec::new();
    for (label, text) in rows {
        out.extend(format!("{label:<width$}{text}\n").into_bytes());
    }
    out.extend(format!("{:<width$}", "Value").into_bytes());
    out.extend(render_value(value, base64));
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, reply_with_index, run_against};

    const PAIR: &[u8] = br#"[{"LockIndex":0,"Key":"foo","Flags":42,"Value":"YmFy","CreateIndex":5,"ModifyIndex":7}]"#;

    #[test]
    fn prints_the_value() {
        let (out, reqs) = run_against(&["kv", "get", "foo"], vec![reply(200, PAIR)]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "bar\n", "")
        );
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].target, "/v1/kv/foo");
    }

    #[test]
    fn missing_key_is_an_error() {
        let (out, reqs) = run_against(&["kv", "get", "/nope"], vec![reply_with_index(404, 3, b"")]);
        assert_eq!(out.code, 1);
        assert_eq!(out.stderr, "Error! No key exists at: nope\n");
        assert_eq!(reqs[0].target, "/v1/kv/nope");
    }

    #[test]
    fn detailed_output_is_aligned() {
        let args = ["kv", "get", "-detailed", "-stale", "-datacenter=dc2", "foo"];
        let (out, reqs) = run_against(&args, vec![reply(200, PAIR)]);
        assert_eq!(reqs[0].target, "/v1/kv/foo?dc=dc2&stale=");
        assert_eq!(
            out.stdout,
            "CreateIndex      5\nFlags            42\nKey              foo\n\
             LockIndex        0\nModifyIndex      7\nSession          -\nValue            bar\n"
        );
    }

    #[test]
    fn keys_use_separator() {
        let body = br#"["web/a","web/sub/"]"#;
        let (out, reqs) = run_against(&["kv", "get", "-keys", "web/"], vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/kv/web/?keys=&separator=%2F");
        assert_eq!(out.stdout, "web/a\nweb/sub/\n");
    }

    #[test]
    fn recurse_prints_key_value_lines() {
        let body = br#"[{"Key":"a","Value":"MQ=="},{"Key":"b","Value":null}]"#;
        let args = ["kv", "get", "-recurse", "-base64"];
        let (out, reqs) = run_against(&args, vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/kv/?recurse=");
        assert_eq!(out.stdout, "a:MQ==\nb:\n");
    }

    #[test]
    fn api_errors_are_reported() {
        let (out, _) = run_against(
            &["kv", "get", "x"],
            vec![reply(403, b"Permission denied\n")],
        );
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            "Error querying Consul agent: Unexpected response code: 403 (Permission denied)\n"
        );
    }

    #[test]
    fn argument_errors() {
        let (out, _) = run_against(&["kv", "get"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Error! Missing KEY argument\n")
        );
        let (out, _) = run_against(&["kv", "get", "a", "b"], vec![]);
        assert_eq!(out.stderr, "Too many arguments (expected 1, got 2)\n");
    }
}
