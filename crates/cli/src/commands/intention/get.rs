//! `intention get`: show one intention, found by ID or by source and
//! destination, as an aligned table.

use crate::commands::intention::{CONNECT_ERROR, Intention, get_from_args};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::{columnize, object_field, reformat_json, rfc850_utc};
use crate::http::{self, Client};

/// `skein intention get`.
pub(crate) const COMMAND: Command = Command {
    path: &["intention", "get"],
    synopsis: "Show information about an intention.",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein intention get [options] SRC DST
Usage: skein intention get [options] ID

  Read and show the details about an intention. The intention can be looked
  up via an exact source/destination match or via the unique intention ID.

      $ skein intention get web db
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let client = Client::from_flags(flags, &ctx.env).context(CONNECT_ERROR)?;
    let (ixn, raw) = get_from_args(&client, flags.args())?;
    info(ctx, &render(&ixn, &raw))
}

/// The table Consul prints, then the permissions as JSON when there are any.
fn render(ixn: &Intention, raw: &str) -> String {
    let row = |k: &str, v: &str| vec![k.to_owned(), v.to_owned()];
    let mut rows = vec![
        row("Source:", &ixn.source_string()),
        row("Destination:", &ixn.destination_string()),
    ];
    let optional = [
        ("Action:", &ixn.action),
        ("ID:", &ixn.id),
        ("Description:", &ixn.description),
    ];
    for (label, value) in optional {
        if !value.is_empty() {
            rows.push(row(label, value));
        }
    }
    for (k, v) in &ixn.meta {
        rows.push(row(&format!("Meta[{k}]:"), v));
    }
    rows.push(row("Created At:", &rfc850_utc(ixn.created_at.as_deref())));
    let mut out = columnize(&rows);
    let has_permissions = ixn
        .permissions
        .as_ref()
        .and_then(|p| p.as_array())
        .is_some_and(|p| !p.is_empty());
    if let Some(perms) = object_field(raw, "Permissions").filter(|_| has_permissions) {
        out.push_str("\nPermissions:\n");
        out.push_str(&reformat_json(perms, Some("  ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    const IXN: &[u8] = br#"{"ID":"e9ebc19f-d481-42b1-4871-4d298d3acd5c","Description":"d",
        "SourceNS":"default","SourceName":"web","DestinationNS":"default","DestinationName":"db",
        "SourceType":"consul","Action":"allow","Meta":{"b":"2","a":"1"},"Precedence":9,
        "CreatedAt":"2024-03-04T05:06:07.5Z","UpdatedAt":"2024-03-04T05:06:07.5Z"}"#;

    #[test]
    fn shows_an_intention_by_source_and_destination() {
        let (out, reqs) = run_against(&["intention", "get", "web", "db"], vec![reply(200, IXN)]);
        assert_eq!(
            reqs[0].target,
            "/v1/connect/intentions/exact?destination=db&source=web"
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (
                0,
                "Source:       web\n\
                 Destination:  db\n\
                 Action:       allow\n\
                 ID:           e9ebc19f-d481-42b1-4871-4d298d3acd5c\n\
                 Description:  d\n\
                 Meta[a]:      1\n\
                 Meta[b]:      2\n\
                 Created At:   Monday, 04-Mar-24 05:06:07 UTC\n"
            )
        );
    }

    #[test]
    fn shows_permissions_of_an_l7_intention_by_id() {
        let body = br#"{"SourceName":"web","DestinationName":"api","Precedence":9,
            "Permissions":[{"Action":"deny","HTTP":{"PathPrefix":"/admin"}}]}"#;
        let (out, reqs) = run_against(&["intention", "get", "abc"], vec![reply(200, body)]);
        assert_eq!(reqs[0].target, "/v1/connect/intentions/abc");
        assert_eq!(
            out.stdout,
            "Source:       web\nDestination:  api\n\
             Created At:   Monday, 01-Jan-01 00:00:00 UTC\n\
             Permissions:\n[\n  {\n    \"Action\": \"deny\",\n    \"HTTP\": {\n      \
             \"PathPrefix\": \"/admin\"\n    }\n  }\n]\n"
        );
    }

    #[test]
    fn reports_missing_intentions_and_bad_arguments() {
        let (out, _) = run_against(
            &["intention", "get", "web", "db"],
            vec![reply(404, b"Intention not found")],
        );
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Intention not found with source \"web\" and destination \"db\"\n"
            )
        );
        let (out, _) = run_against(
            &["intention", "get", "x"],
            vec![reply(400, b"invalid intention ID")],
        );
        assert_eq!(
            out.stderr,
            "Error reading the intention: Unexpected response 400: invalid intention ID\n"
        );
        let (out, _) = run_against(&["intention", "get"], vec![]);
        assert_eq!(out.stderr, "command requires exactly 1 or 2 arguments\n");
    }
}
