//! `services register`: register services from flags or definition files.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::commands::services::{Definition, from_files, key_of, string_field};
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein services register`.
pub(crate) const COMMAND: Command = Command {
    path: &["services", "register"],
    synopsis: "Register services with the local agent",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein services register [options] [FILE...]

  Register one or more services using the local agent API. Services can
  be registered from standard Consul configuration files (HCL or JSON) or
  using flags. The service is registered and the command returns. The caller
  must remember to call \"skein services deregister\" or a similar API to
  deregister the service when complete.

      $ skein services register web.json

  Additional flags and more advanced use cases are detailed below.
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string(
            "address",
            "",
            "Address of the service to register for arg-based registration.",
        )
        .string(
            "id",
            "",
            "ID of the service to register for arg-based registration. If this isn't \
             set, it will default to the -name value.",
        )
        .string("kind", "", "The services 'kind'")
        .list(
            "meta",
            "Metadata to set on the service, formatted as key=value. This flag may be \
             specified multiple times to set multiple meta fields.",
        )
        .string(
            "name",
            "",
            "Name of the service to register for arg-based registration.",
        )
        .uint(
            "port",
            "Port of the service to register for arg-based registration.",
        )
        .string(
            "socket",
            "",
            "Path to the Unix domain socket to register for arg-based registration \
             (conflicts with address and port).",
        )
        .list(
            "tag",
            "Tag to add to the service. This flag can be specified multiple times to set \
             multiple tags.",
        )
        .list(
            "tagged-address",
            "Tagged address to set on the service, formatted as key=value. This flag may \
             be specified multiple times to set multiple addresses.",
        )
}

/// The values given by flags, to register alone or to fill in file definitions.
struct FromFlags {
    strings: Vec<(&'static str, String)>,
    port: u64,
    tags: Vec<String>,
    meta: BTreeMap<String, String>,
    tagged: BTreeMap<String, Value>,
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let given = from_flags(flags)?;
    let files = flags.args();
    let name = flags.str("name");
    if files.is_empty() && name.is_empty() {
        return Err(Error::msg(
            "Service registration requires at least one argument or flags.",
        ));
    }
    if !files.is_empty() && !name.is_empty() {
        return Err(Error::msg(
            "Service registration requires arguments or -id, not both.",
        ));
    }
    let defs = if files.is_empty() {
        vec![flag_definition(&given)]
    } else {
        let mut defs = from_files(files)?;
        defs.iter_mut().for_each(|d| combine(d, &given));
        defs
    };
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    for def in defs {
        let name = string_field(&def, "Name");
        let body =
            serde_json::to_vec(&def).map_err(|e| Error::json("Error encoding service", e))?;
        client
            .put("/v1/agent/service/register", Vec::new(), &body)
            .and_then(|r| r.require_ok())
            .context(&format!("Error registering service {name:?}"))?;
        info(ctx, &format!("Registered service: {name}"))?;
    }
    Ok(())
}

fn from_flags(flags: &Parsed) -> Result<FromFlags> {
    let mut tagged = BTreeMap::new();
    for (k, v) in flags.map("tagged-address")? {
        let addr = parse_service_addr(&v).ok_or_else(|| {
            Error::msg(format!(
                "Invalid Tagged Address: address {v}: missing port in address"
            ))
        })?;
        tagged.insert(k, addr);
    }
    let strings = [
        ("Kind", "kind"),
        ("ID", "id"),
        ("Name", "name"),
        ("Address", "address"),
        ("SocketPath", "socket"),
    ]
    .into_iter()
    .filter(|(_, flag)| !flags.str(flag).is_empty())
    .map(|(field, flag)| (field, flags.str(flag).to_owned()))
    .collect();
    Ok(FromFlags {
        strings,
        port: flags.uint("port"),
        tags: flags.list("tag").to_vec(),
        meta: flags.map("meta")?,
        tagged,
    })
}

/// `host:port` (or `[v6]:port`) as `{"Address", "Port"}` (Consul's `ParseServiceAddr`).
fn parse_service_addr(s: &str) -> Option<Value> {
    let (host, port) = s.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    let port: u16 = port.parse().ok()?;
    Some(json!({"Address": host, "Port": port}))
}

/// The registration built from flags alone (empty fields omitted, as Go's `omitempty`).
fn flag_definition(given: &FromFlags) -> Definition {
    let mut def = Map::new();
    for (field, value) in &given.strings {
        def.insert((*field).to_owned(), json!(value));
    }
    if given.port != 0 {
        def.insert("Port".into(), json!(given.port));
    }
    if !given.tags.is_empty() {
        def.insert("Tags".into(), json!(given.tags));
    }
    if !given.meta.is_empty() {
        def.insert("Meta".into(), json!(given.meta));
    }
    if !given.tagged.is_empty() {
        def.insert("TaggedAddresses".into(), json!(given.tagged));
    }
    def
}

/// Fills a file definition with flag values it lacks; meta and tagged
/// addresses are merged (flags win), tags appended (Consul's `CombineArgs`).
fn combine(def: &mut Definition, given: &FromFlags) {
    let is_empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    };
    let mut scalars: Vec<(&str, Value)> =
        given.strings.iter().map(|(f, v)| (*f, json!(v))).collect();
    if given.port != 0 {
        scalars.push(("Port", json!(given.port)));
    }
    for (field, value) in scalars {
        let key = key_of(def, field).unwrap_or_else(|| field.to_owned());
        if is_empty(def.get(&key)) {
            def.insert(key, value);
        }
    }
    let maps = [
        (
            "Meta",
            &given
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
        ("TaggedAddresses", &given.tagged),
    ];
    for (field, extra) in maps {
        if extra.is_empty() {
            continue;
        }
        let key = key_of(def, field).unwrap_or_else(|| field.to_owned());
        let slot = def.entry(key).or_insert_with(|| json!({}));
        if !slot.is_object() {
            *slot = json!({});
        }
        if let Value::Object(map) = slot {
            map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    if !given.tags.is_empty() {
        let key = key_of(def, "Tags").unwrap_or_else(|| "Tags".to_owned());
        let slot = def.entry(key).or_insert_with(|| json!([]));
        if !slot.is_array() {
            *slot = json!([]);
        }
        if let Value::Array(tags) = slot {
            tags.extend(given.tags.iter().map(|t| json!(t)));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::commands::testing::{reply, run_against};

    fn body(req: &crate::commands::testing::Recorded) -> Value {
        serde_json::from_slice(&req.body).unwrap()
    }

    #[test]
    fn registers_from_flags() {
        let args = [
            "services",
            "register",
            "-name=web",
            "-id=web-1",
            "-address=10.0.0.5",
            "-port=8080",
            "-tag=a",
            "-tag",
            "b",
            "-meta=env=prod",
            "-meta",
            "team=x",
            "-tagged-address=lan=10.0.0.5:80",
        ];
        let (out, reqs) = run_against(&args, vec![reply(200, b"")]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        assert_eq!(out.stdout, "Registered service: web\n");
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "PUT");
        assert_eq!(reqs[0].target, "/v1/agent/service/register");
        assert_eq!(
            body(&reqs[0]),
            json!({"Name": "web", "ID": "web-1", "Address": "10.0.0.5", "Port": 8080,
                   "Tags": ["a", "b"], "Meta": {"env": "prod", "team": "x"},
                   "TaggedAddresses": {"lan": {"Address": "10.0.0.5", "Port": 80}}})
        );
    }

    #[test]
    fn registers_every_service_of_json_and_hcl_files() {
        let dir = tempfile::tempdir().unwrap();
        let json_file = dir.path().join("web.json");
        std::fs::write(
            &json_file,
            r#"{"service": {"name": "web", "port": 80, "tags": ["x"], "meta": {"a": "1"}}}"#,
        )
        .unwrap();
        let hcl_file = dir.path().join("more.hcl");
        std::fs::write(
            &hcl_file,
            "services {\n  name = \"db\"\n  port = 5432\n}\nservices {\n  id = \"c1\"\n  name = \"cache\"\n}\n",
        )
        .unwrap();
        let args = [
            "services",
            "register",
            "-tag=extra",
            "-meta=b=2",
            "-address=10.9.9.9",
            json_file.to_str().unwrap(),
            hcl_file.to_str().unwrap(),
        ];
        let canned = vec![reply(200, b""), reply(200, b""), reply(200, b"")];
        let (out, reqs) = run_against(&args, canned);
        assert_eq!(out.stderr, "");
        assert_eq!(
            out.stdout,
            "Registered service: web\nRegistered service: db\nRegistered service: cache\n"
        );
        assert!(
            reqs.iter()
                .all(|r| r.target == "/v1/agent/service/register")
        );
        assert_eq!(
            body(&reqs[0]),
            json!({"name": "web", "port": 80, "tags": ["x", "extra"],
                   "meta": {"a": "1", "b": "2"}, "Address": "10.9.9.9"})
        );
        assert_eq!(
            body(&reqs[1]),
            json!({"name": "db", "port": 5432, "Tags": ["extra"], "Meta": {"b": "2"},
                   "Address": "10.9.9.9"})
        );
        assert_eq!(body(&reqs[2])["id"], "c1");
    }

    #[test]
    fn argument_errors() {
        let (out, _) = run_against(&["services", "register"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                1,
                "Service registration requires at least one argument or flags.\n"
            )
        );
        let (out, _) = run_against(&["services", "register", "-name=a", "f.json"], vec![]);
        assert_eq!(
            out.stderr,
            "Service registration requires arguments or -id, not both.\n"
        );
        let (out, _) = run_against(&["services", "register", "/nonexistent/x.json"], vec![]);
        assert!(
            out.stderr
                .starts_with("Error: failed to read /nonexistent/x.json: ")
        );
        let (out, _) = run_against(&["services", "register", "-name=a", "-meta=x"], vec![]);
        assert!(
            out.stderr
                .starts_with("invalid value \"x\" for flag -meta: Missing = in argument: x\n"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn agent_errors_name_the_service() {
        let (out, _) = run_against(
            &["services", "register", "-name=web"],
            vec![reply(400, b"Invalid service address")],
        );
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            "Error registering service \"web\": Unexpected response code: 400 (Invalid service address)\n"
        );
    }
}
