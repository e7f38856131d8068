//! `intention create`: create intentions from a source and destination or
//! from JSON files, optionally replacing existing ones.

use std::collections::BTreeMap;

use crate::commands::intention::{CONNECT_ERROR, Intention, Target, get_exact};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed, go_quote};
use crate::http::{self, Client};

/// `skein intention create`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "create"],
    synopsis: "Create intentions for service connections.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention create [options] SRC DST
Usage: skein intention create [options] -file FILE...

  Create one or more intentions. The data can be specified as a single
  source and destination pair or via a set of files when the \"-file\" flag
  is specified.

      $ skein intention create web db

  To consume data from a set of files:

      $ skein intention create -file one.json two.json

  When specifying the \"-file\" flag, \"-\" may be used once to read from stdin:

      $ echo \"{ ... }\" | skein intention create -file -

  An \"allow\" intention is created by default (allowlist). To create a
  \"deny\" intention, the \"-deny\" flag should be specified.

  If a conflicting intention is found, creation will fail. To replace any
  conflicting intentions, specify the \"-replace\" flag. This will replace any
  conflicting intentions with the intention specified in this command.
  Metadata and any other fields of the previous intention will not be
  preserved.

  Additional flags and more advanced use cases are detailed below.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .bool("allow", "Create an intention that allows when matched.")
        .bool("deny", "Create an intention that denies when matched.")
        .bool("file", "Read intention data from one or more files.")
        .bool("replace", "Replace matching intentions.")
        .list(
            "meta",
            "Metadata to set on the intention, formatted as key=value. This flag may be \
             specified multiple times to set multiple meta fields.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if flags.bool("allow") && flags.bool("deny") {
        return Err(Error::msg("Only one of -allow or -deny may be specified."));
    }
    let meta = flags.map("meta")?;
    let ixns = if flags.bool("file") {
        from_files(flags.args(), ctx)
    } else {
        from_args(flags.args(), flags.bool("deny"), meta)
    }
    .map_err(|e| Error::msg(format!("Error: {e}")))?;
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    for ixn in ixns {
        if flags.bool("replace") && replace(&client, &ixn)? {
            continue;
        }
        create(&client, &ixn)?;
        info(ctx, &format!("Created: {}", ixn.summary()))?;
    }
    Ok(())
}

/// The one intention `SRC DST` and the flags describe.
fn from_args(
    args: &[String],
    deny: bool,
    meta: BTreeMap<String, String>,
) -> std::result::Result<Vec<Intention>, String> {
    let [src, dst] = args else {
        return Err("Must specify two arguments: source and destination".to_owned());
    };
    let src = Target::parse(src).map_err(|e| format!("Invalid intention source: {e}"))?;
    let dst = Target::parse(dst).map_err(|e| format!("Invalid intention destination: {e}"))?;
    Ok(vec![Intention {
        source_partition: src.partition,
        source_ns: src.namespace,
        source_name: src.name,
        destination_partition: dst.partition,
        destination_ns: dst.namespace,
        destination_name: dst.name,
        source_type: "consul".to_owned(),
        action: if deny { "deny" } else { "allow" }.to_owned(),
        meta,
        ..Intention::default()
    }])
}

/// One intention per JSON file (`-` reads stdin); L7 intentions are refused.
fn from_files(paths: &[String], ctx: &mut Ctx<'_>) -> std::result::Result<Vec<Intention>, String> {
    let mut out = Vec::new();
    for path in paths {
        let text = if path == "-" {
            let mut text = String::new();
            ctx.stdin
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())?;
            text
        } else {
            std::fs::read_to_string(path).map_err(|e| format!("open {path}: {e}"))?
        };
        let ixn: Intention = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if ixn
            .permissions
            .as_ref()
            .and_then(|p| p.as_array())
            .is_some_and(|p| !p.is_empty())
        {
            return Err(format!(
                "cannot create L7 intention from file {} using this CLI; use 'skein config \
                 write' instead",
                go_quote(path)
            ));
        }
        out.push(ixn);
    }
    Ok(out)
}

/// `[ns/]name` of the source and destination, as `-replace` looks them up.
fn lookup_names(ixn: &Intention) -> (String, String) {
    let part = |ns: &str, name: &str| {
        if ns.is_empty() {
            name.to_owned()
        } else {
            format!("{ns}/{name}")
        }
    };
    (
        part(&ixn.source_ns, &ixn.source_name),
        part(&ixn.destination_ns, &ixn.destination_name),
    )
}

/// With `-replace`: overwrites an existing intention for the same pair.
/// Returns whether one existed (and was replaced).
fn replace(client: &Client, ixn: &Intention) -> Result<bool> {
    let (src, dst) = lookup_names(ixn);
    let (qs, qd) = (go_quote(&src), go_quote(&dst));
    let lookup =
        format!("Error looking up intention for replacement with source {qs} and destination {qd}");
    let Some(old) = get_exact(client, &src, &dst).context(&lookup)? else {
        return Ok(false);
    };
    let context = format!("Error replacing intention with source {qs} and destination {qd}");
    let mut next = ixn.clone();
    next.id = old.id;
    let body = serde_json::to_vec(&next).map_err(|e| Error::json("Error encoding intention", e))?;
    let response = if next.id.is_empty() {
        // Written as a config entry, so it has no ID: replace it by name.
        let query = vec![("source", src), ("destination", dst)];
        client.put("/v1/connect/intentions/exact", query, &body)
    } else {
        client.put(
            &format!("/v1/connect/intentions/{}", next.id),
            Vec::new(),
            &body,
        )
    };
    response.and_then(|r| r.require_ok()).context(&context)?;
    Ok(true)
}

/// `POST /v1/connect/intentions` (Consul's legacy create).
fn create(client: &Client, ixn: &Intention) -> Result<()> {
    let body = serde_json::to_vec(ixn).map_err(|e| Error::json("Error encoding intention", e))?;
    let context = format!("Error creating intention {}", go_quote(&ixn.summary()));
    client
        .post("/v1/connect/intentions", Vec::new(), &body)
        .and_then(|r| r.require_ok())
        .context(&context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::commands::testing::{reply, run_against, run_against_stdin};

    fn body(req: &crate::commands::testing::Recorded) -> Value {
        serde_json::from_slice(&req.body).unwrap()
    }

    #[test]
    fn creates_an_allow_intention_by_default() {
        let (out, reqs) = run_against(
            &["intention", "create", "-meta=team=a", "web", "db"],
            vec![reply(200, br#"{"ID":"x"}"#)],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Created: web => db (allow)\n")
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("POST", "/v1/connect/intentions")
        );
        assert_eq!(
            body(&reqs[0]),
            json!({"SourceName": "web", "DestinationName": "db", "SourceType": "consul",
                   "Action": "allow", "Meta": {"team": "a"}})
        );
    }

    #[test]
    fn creates_deny_intentions_from_files() {
        let (out, reqs) = run_against_stdin(
            &["intention", "create", "-deny", "-file", "-"],
            vec![reply(200, br#"{"ID":"x"}"#)],
            br#"{"SourceName": "a", "DestinationName": "b", "Action": "deny"}"#,
        );
        assert_eq!(out.stdout, "Created: a => b (deny)\n");
        assert_eq!(body(&reqs[0])["Action"], "deny");
    }

    #[test]
    fn replace_updates_an_existing_intention_by_id() {
        let existing =
            br#"{"ID":"id-1","SourceName":"web","DestinationName":"db","Action":"allow"}"#;
        let (out, reqs) = run_against(
            &["intention", "create", "-replace", "-deny", "web", "db"],
            vec![reply(200, existing), reply(200, b"null")],
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
        assert_eq!(
            reqs[0].target,
            "/v1/connect/intentions/exact?destination=db&source=web"
        );
        assert_eq!(
            (reqs[1].method.as_str(), reqs[1].target.as_str()),
            ("PUT", "/v1/connect/intentions/id-1")
        );
        assert_eq!(body(&reqs[1])["ID"], "id-1");
        assert_eq!(body(&reqs[1])["Action"], "deny");
    }

    #[test]
    fn replace_creates_when_nothing_matches_and_upserts_entries_without_id() {
        let (out, reqs) = run_against(
            &["intention", "create", "-replace", "web", "db"],
            vec![
                reply(404, b"Intention not found"),
                reply(200, br#"{"ID":"n"}"#),
            ],
        );
        assert_eq!(out.stdout, "Created: web => db (allow)\n");
        assert_eq!(reqs[1].method, "POST");
        let existing = br#"{"SourceName":"web","DestinationName":"db","Action":"allow"}"#;
        let (_, reqs) = run_against(
            &["intention", "create", "-replace", "web", "db"],
            vec![reply(200, existing), reply(200, b"true")],
        );
        assert_eq!(
            (reqs[1].method.as_str(), reqs[1].target.as_str()),
            (
                "PUT",
                "/v1/connect/intentions/exact?destination=db&source=web"
            )
        );
    }

    #[test]
    fn reports_errors_like_consul() {
        let (out, _) = run_against(
            &["intention", "create", "-allow", "-deny", "a", "b"],
            vec![],
        );
        assert_eq!(
            out.stderr,
            "Only one of -allow or -deny may be specified.\n"
        );
        let (out, _) = run_against(&["intention", "create", "web"], vec![]);
        assert_eq!(
            out.stderr,
            "Error: Must specify two arguments: source and destination\n"
        );
        let (out, _) = run_against(&["intention", "create", "a/b/c/d", "db"], vec![]);
        assert_eq!(
            out.stderr,
            "Error: Invalid intention source: input can contain at most two '/'\n"
        );
        let (out, _) = run_against_stdin(
            &["intention", "create", "-file", "-"],
            vec![],
            br#"{"SourceName":"a","DestinationName":"b","Permissions":[{"Action":"deny"}]}"#,
        );
        assert_eq!(
            out.stderr,
            "Error: cannot create L7 intention from file \"-\" using this CLI; use 'skein \
             config write' instead\n"
        );
        let (out, _) = run_against(
            &["intention", "create", "web", "db"],
            vec![reply(500, b"duplicate intention found")],
        );
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Error creating intention \"web => db (allow)\": Unexpected response code: 500 \
                 (duplicate intention found)\n"
            )
        );
    }
}
