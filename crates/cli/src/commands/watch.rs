//! `watch`: follow a view of the cluster with blocking queries and print it
//! or hand it to a command on every change (Consul's `watch` plans).
//!
//! Each round sends the view's request with `?index=<last X-Consul-Index>`,
//! so the agent answers when the data may have changed. A result is
//! delivered when the index moved and the data differs from the last one
//! delivered; an index that goes backwards resets to 0. Without a handler
//! the first result is printed (indented JSON) and the command ends, as
//! Consul's does; with one, the handler runs on every change, fed the JSON on
//! stdin with `CONSUL_INDEX` in its environment, and the watch goes on until
//! a request or the handler fails.
//!
//! Event watches (`-type=event`) deliver only the events after the newest
//! one delivered before (Consul prunes by the last event's index), so a
//! handler sees each event once; a wake-up that brings no new event (another
//! name's event fired) delivers nothing.

use std::io::Write as _;
use std::process::{Command as Process, Stdio};

use crate::commands::{Command, Ctx, agent_node_name, emit, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::format::{array_elements, first_array_element, reformat_json};
use crate::http::{self, Client, Query, Response};

/// `skein watch`.
pub(crate) const COMMAND: Command = Command {
    path: &["watch"],
    synopsis: "Watch for changes in skein",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein watch [options] [child...]

  Watches for changes in a given data view from skein. If a child process
  is specified, it will be invoked with the latest results on changes. Otherwise,
  the latest values are dumped to stdout and the watch terminates.

  Providing the watch type is required, and other parameters may be required
  or supported depending on the watch type.
";

const QUERY_ERROR: &str = "Error querying Consul agent";

/// What one watch type reads and how its result is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    path: String,
    query: Query,
    shape: Shape,
}

/// How a response body becomes the watched value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The body as is.
    Body,
    /// The first entry of a KV list; `null` when the key is missing.
    OneKey,
    /// A KV list; `null` when nothing is under the prefix.
    KeyList,
    /// A list of user events, pruned to the ones not delivered yet.
    Events,
}

/// What a watch has seen so far.
#[derive(Debug, Default)]
struct Progress {
    /// The index to block on next (`None` before the first answer).
    index: Option<u64>,
    /// The value delivered last.
    value: Option<serde_json::Value>,
    /// For event watches: the ID of the newest event seen.
    last_event: Option<String>,
}

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
        .string(
            "key",
            "",
            "Specifies the key to watch. Only for 'key' type.",
        )
        .string(
            "name",
            "",
            "Specifies an event name to watch. Only for 'event' type.",
        )
        .bool("passing", "Same as -passingonly=true (a skein shorthand).")
        .string(
            "passingonly",
            "",
            "Specifies if only hosts passing all checks are displayed. Optional for \
             'service' type, must be one of `[true|false]`. Defaults false.",
        )
        .string(
            "prefix",
            "",
            "Specifies the key prefix to watch. Only for 'keyprefix' type.",
        )
        .string(
            "service",
            "",
            "Specifies the service to watch. Required for 'service' type, optional for \
             'checks' type.",
        )
        .bool_true(
            "shell",
            "Use a shell to run the command (can set a custom shell via the SHELL \
             environment variable). The default value is true.",
        )
        .string(
            "state",
            "",
            "Specifies the states to watch. Optional for 'checks' type.",
        )
        .string(
            "tag",
            "",
            "Specifies the service tag to filter on. Optional for 'service' type.",
        )
        .string(
            "type",
            "",
            "Specifies the watch type. One of key, keyprefix, services, nodes, service, \
             checks, or event.",
        )
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let plan = plan(flags)?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    agent_node_name(&client).context(QUERY_ERROR)?;
    let handler = flags.args();
    let mut progress = Progress::default();
    loop {
        let mut query = plan.query.clone();
        if let Some(index) = progress.index.filter(|i| *i > 0) {
            query.push(("index", index.to_string()));
        }
        let response = client.get(&plan.path, query).context(QUERY_ERROR)?;
        let index = response.index();
        let raw = watched_value(plan.shape, response).context(QUERY_ERROR)?;
        let Some(raw) = progress
            .observe(plan.shape, index, raw)
            .context(QUERY_ERROR)?
        else {
            continue;
        };
        if handler.is_empty() {
            return info(ctx, &reformat_json(&raw, Some("    ")));
        }
        run_handler(handler, flags.bool("shell"), index, &raw, ctx)?;
    }
}

/// Validates the flags like Consul's `watch.Parse` and builds the request.
fn plan(flags: &Parsed) -> Result<Plan> {
    let kind = flags.str("type");
    if kind.is_empty() {
        return Err(Error::Flag("Watch type must be specified".into()));
    }
    let passing = match flags.str("passingonly") {
        "" => flags.bool("passing"),
        v => parse_go_bool(v).ok_or_else(|| {
            Error::msg(format!(
                "Failed to parse passingonly flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
            ))
        })?,
    };
    let given = |name: &str| !flags.str(name).is_empty();
    let allowed: &[&str] = match kind {
        "key" => &["key"],
        "keyprefix" => &["prefix"],
        "services" | "nodes" => &[],
        "service" => &["service", "tag", "passingonly"],
        "checks" => &["service", "state"],
        "event" => &["name"],
        other => return Err(Error::msg(format!("Unsupported watch type: {other}"))),
    };
    let mut unused: Vec<&str> = ["key", "prefix", "service", "tag", "state", "name"]
        .into_iter()
        .filter(|n| given(n) && !allowed.contains(n))
        .collect();
    if (given("passingonly") || flags.bool("passing")) && !allowed.contains(&"passingonly") {
        unused.push("passingonly");
    }
    // Consul's event watch takes no `stale` parameter.
    if kind == "event" && flags.bool("stale") {
        unused.push("stale");
    }
    if !unused.is_empty() {
        unused.sort_unstable();
        return Err(Error::msg(format!(
            "Invalid parameters: [{}]",
            unused.join(" ")
        )));
    }
    let simple = |path: &str, shape| Plan {
        path: path.to_owned(),
        query: Vec::new(),
        shape,
    };
    let key = |flag: &str| {
        let v = flags.str(flag);
        v.strip_prefix('/').unwrap_or(v).to_owned()
    };
    Ok(match kind {
        "key" => {
            if !given("key") {
                return Err(Error::msg("Must specify a single key to watch"));
            }
            simple(&format!("/v1/kv/{}", key("key")), Shape::OneKey)
        }
        "keyprefix" => {
            if !given("prefix") {
                return Err(Error::msg("Must specify a single prefix to watch"));
            }
            Plan {
                query: vec![("recurse", String::new())],
                ..simple(&format!("/v1/kv/{}", key("prefix")), Shape::KeyList)
            }
        }
        "services" => simple("/v1/catalog/services", Shape::Body),
        "event" => {
            let mut query: Query = Vec::new();
            if given("name") {
                query.push(("name", flags.str("name").to_owned()));
            }
            Plan {
                query,
                ..simple("/v1/event/list", Shape::Events)
            }
        }
        "nodes" => simple("/v1/catalog/nodes", Shape::Body),
        "service" => {
            if !given("service") {
                return Err(Error::msg("Must specify a single service to watch"));
            }
            let mut query: Query = Vec::new();
            if given("tag") {
                query.push(("tag", flags.str("tag").to_owned()));
            }
            if passing {
                query.push(("passing", "1".to_owned()));
            }
            Plan {
                query,
                ..simple(
                    &format!("/v1/health/service/{}", flags.str("service")),
                    Shape::Body,
                )
            }
        }
        _ => {
            if given("service") && given("state") {
                return Err(Error::msg("Cannot specify service and state"));
            }
            if given("service") {
                simple(
                    &format!("/v1/health/checks/{}", flags.str("service")),
                    Shape::Body,
                )
            } else {
                let state = if given("state") {
                    flags.str("state")
                } else {
                    "any"
                };
                simple(&format!("/v1/health/state/{state}"), Shape::Body)
            }
        }
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The raw JSON of the watched value from one response.
fn watched_value(shape: Shape, response: Response) -> Result<String> {
    let response = match shape {
        Shape::Body | Shape::Events => Some(response.require_ok()?),
        Shape::OneKey | Shape::KeyList => response.require_ok_or_not_found()?,
    };
    let Some(response) = response else {
        return Ok("null".to_owned());
    };
    let text = String::from_utf8(response.body)
        .map_err(|e| Error::msg(format!("Failed to decode response: {e}")))?;
    // Validate before slicing the text.
    serde_json::from_str::<serde::de::IgnoredAny>(&text)
        .map_err(|e| Error::json("Failed to decode response", e))?;
    Ok(match shape {
        Shape::OneKey => first_array_element(&text).unwrap_or("null").to_owned(),
        Shape::Body | Shape::KeyList | Shape::Events => text.trim().to_owned(),
    })
}

// === impl Progress ===

impl Progress {
    /// Takes one answer; returns the raw JSON to deliver, if it is a change.
    ///
    /// An unchanged index delivers nothing; an index that went backwards
    /// resets to 0; the same data under a new index delivers nothing.
    fn observe(&mut self, shape: Shape, index: u64, raw: String) -> Result<Option<String>> {
        if self.index == Some(index) {
            return Ok(None);
        }
        let previous = self.index;
        self.index = Some(if previous.is_some_and(|p| index < p) {
            0
        } else {
            index
        });
        let raw = match shape {
            Shape::Events => match self.new_events(&raw, previous.is_none())? {
                Some(events) => events,
                None => return Ok(None),
            },
            Shape::Body | Shape::OneKey | Shape::KeyList => raw,
        };
        let value: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| Error::json("Failed to decode response", e))?;
        if previous.is_some() && self.value.as_ref() == Some(&value) {
            return Ok(None);
        }
        self.value = Some(value);
        Ok(Some(raw))
    }

    /// The events of `raw` after the newest one seen before, as a JSON
    /// array; `None` when there is none and this is not the first answer.
    /// When the newest seen is no longer listed, every event is new.
    fn new_events(&mut self, raw: &str, first: bool) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Event {
            #[serde(rename = "ID")]
            id: String,
        }
        let elements = array_elements(raw)
            .ok_or_else(|| Error::msg("Failed to decode response: expected a list of events"))?;
        let ids = elements
            .iter()
            .map(|e| serde_json::from_str::<Event>(e).map(|e| e.id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::json("Failed to decode response", e))?;
        let seen = self.last_event.as_ref();
        let start = seen
            .and_then(|seen| ids.iter().position(|id| id == seen))
            .map_or(0, |i| i + 1);
        if let Some(newest) = ids.last() {
            self.last_event = Some(newest.clone());
        }
        if start == elements.len() && !first {
            return Ok(None);
        }
        Ok(Some(format!("[{}]", elements[start..].join(","))))
    }
}

/// Runs the handler with the value on stdin (compact JSON and a newline) and
/// `CONSUL_INDEX` set; its output is copied to ours. A failure ends the watch.
fn run_handler(
    args: &[String],
    shell: bool,
    index: u64,
    raw: &str,
    ctx: &mut Ctx<'_>,
) -> Result<()> {
    let mut command = if shell {
        let sh = ctx.env.var("SHELL").unwrap_or_else(|| "/bin/sh".to_owned());
        let mut c = Process::new(sh);
        c.arg("-c").arg(args.join(" "));
        c
    } else {
        let mut c = Process::new(&args[0]);
        c.args(&args[1..]);
        c
    };
    command
        .env("CONSUL_INDEX", index.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| Error::msg(format!("Error starting handler: {e}")))?;
    let input = format!("{}\n", reformat_json(raw, None));
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            // A handler that does not read its input is not an error.
            let _ = stdin.write_all(input.as_bytes());
        })
    });
    let output = child
        .wait_with_output()
        .map_err(|e| Error::msg(format!("Error executing handler: {e}")))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    emit(ctx, &output.stdout)?;
    ctx.err
        .write_all(&output.stderr)
        .map_err(|e| Error::io("Error writing output", e))?;
    if output.status.success() {
        return Ok(());
    }
    let reason = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => output.status.to_string(),
    };
    Err(Error::msg(format!("Error executing handler: {reason}")))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, reply_with_index, run_against};

    const SELF: &[u8] = br#"{"Config":{"NodeName":"node-1"}}"#;

    #[test]
    fn without_handler_prints_the_first_result_and_stops() {
        let pair = br#"[{"Key":"foo","CreateIndex":5,"ModifyIndex":7,"Flags":0,"Value":"YmFy"}]"#;
        let args = ["watch", "-type=key", "-key=foo"];
        let (out, reqs) = run_against(
            &args,
            vec![reply(200, SELF), reply_with_index(200, 7, pair)],
        );
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].target, "/v1/agent/self");
        assert_eq!(
            (reqs[1].method.as_str(), reqs[1].target.as_str()),
            ("GET", "/v1/kv/foo")
        );
        assert_eq!(
            out.stdout,
            "{\n    \"Key\": \"foo\",\n    \"CreateIndex\": 5,\n    \"ModifyIndex\": 7,\n    \
             \"Flags\": 0,\n    \"Value\": \"YmFy\"\n}\n"
        );
    }

    #[test]
    fn missing_key_is_null() {
        let args = ["watch", "-type=key", "-key=/nope"];
        let (out, reqs) = run_against(&args, vec![reply(200, SELF), reply_with_index(404, 3, b"")]);
        assert_eq!(reqs[1].target, "/v1/kv/nope");
        assert_eq!((out.code, out.stdout.as_str()), (0, "null\n"));
    }

    #[test]
    fn handler_runs_on_every_change_with_blocking_indexes() {
        let args = [
            "watch",
            "-type=services",
            "cat;",
            "echo",
            "idx=$CONSUL_INDEX",
        ];
        let responses = vec![
            reply(200, SELF),
            reply_with_index(200, 5, br#"{"consul": []}"#),
            // Same index: no change, nothing delivered.
            reply_with_index(200, 5, br#"{"consul": []}"#),
            reply_with_index(200, 9, br#"{"consul":[],"web":["v1"]}"#),
            // Index moved but same data: nothing delivered.
            reply_with_index(200, 11, br#"{"consul":[],"web":["v1"]}"#),
            // Index went backwards: reset to 0, data changed: delivered.
            reply_with_index(200, 4, br#"{"consul":[]}"#),
            reply(500, b"boom"),
        ];
        let (out, reqs) = run_against(&args, responses);
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stdout,
            "{\"consul\":[]}\nidx=5\n{\"consul\":[],\"web\":[\"v1\"]}\nidx=9\n{\"consul\":[]}\nidx=4\n"
        );
        assert_eq!(
            out.stderr,
            "Error querying Consul agent: Unexpected response code: 500 (boom)\n"
        );
        let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "/v1/agent/self",
                "/v1/catalog/services",
                "/v1/catalog/services?index=5",
                "/v1/catalog/services?index=5",
                "/v1/catalog/services?index=9",
                "/v1/catalog/services?index=11",
                "/v1/catalog/services",
            ]
        );
    }

    #[test]
    fn handler_failure_stops_the_watch() {
        let args = ["watch", "-type=nodes", "exit 3"];
        let responses = vec![reply(200, SELF), reply_with_index(200, 2, b"[]")];
        let (out, reqs) = run_against(&args, responses);
        assert_eq!(reqs[1].target, "/v1/catalog/nodes");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Error executing handler: exit status 3\n")
        );
    }

    #[test]
    fn builds_each_watch_type_request() {
        let cases: [(&[&str], &str); 8] = [
            (&["-type=keyprefix", "-prefix=web/"], "/v1/kv/web/?recurse="),
            (&["-type=event"], "/v1/event/list"),
            (
                &["-type=event", "-name=deploy", "-datacenter=dc1"],
                "/v1/event/list?dc=dc1&name=deploy",
            ),
            (
                &[
                    "-type=service",
                    "-service=web",
                    "-tag=v1",
                    "-passingonly=true",
                ],
                "/v1/health/service/web?passing=1&tag=v1",
            ),
            (
                &["-type=service", "-service=web", "-passing"],
                "/v1/health/service/web?passing=1",
            ),
            (&["-type=checks"], "/v1/health/state/any"),
            (
                &["-type=checks", "-state=critical"],
                "/v1/health/state/critical",
            ),
            (
                &["-type=checks", "-service=web", "-stale"],
                "/v1/health/checks/web?stale=",
            ),
        ];
        for (flags, target) in cases {
            let mut args = vec!["watch"];
            args.extend_from_slice(flags);
            let responses = vec![reply(200, SELF), reply_with_index(200, 1, b"[]")];
            let (out, reqs) = run_against(&args, responses);
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (0, "[]\n"),
                "{flags:?}: {}",
                out.stderr
            );
            assert_eq!(reqs[1].target, target, "{flags:?}");
        }
    }

    fn event(id: &str) -> String {
        format!(r#"{{"ID":"{id}","Name":"deploy","Payload":null,"LTime":1}}"#)
    }

    fn events(ids: &[&str]) -> Vec<u8> {
        let rows: Vec<String> = ids.iter().map(|id| event(id)).collect();
        format!("[{}]", rows.join(", ")).into_bytes()
    }

    #[test]
    fn event_handler_sees_each_new_event_once() {
        let args = [
            "watch",
            "-type=event",
            "-name=deploy",
            "cat;",
            "echo",
            "idx=$CONSUL_INDEX",
        ];
        let responses = vec![
            reply(200, SELF),
            // No event yet: the first answer is delivered as is.
            reply_with_index(200, 1, b"[]"),
            reply_with_index(200, 50, &events(&["a"])),
            // Another name's event woke the query: nothing new.
            reply_with_index(200, 70, &events(&["a"])),
            reply_with_index(200, 90, &events(&["a", "b"])),
            // Event indexes come from UUIDs and are not ordered: reset to 0.
            reply_with_index(200, 20, &events(&["a", "b", "c"])),
            reply_with_index(200, 20, &events(&["a", "b", "c"])),
            reply(500, b"boom"),
        ];
        let (out, reqs) = run_against(&args, responses);
        assert_eq!(
            out.stdout,
            format!(
                "[]\nidx=1\n[{}]\nidx=50\n[{}]\nidx=90\n[{}]\nidx=20\n",
                event("a"),
                event("b"),
                event("c")
            )
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "/v1/agent/self",
                "/v1/event/list?name=deploy",
                "/v1/event/list?index=1&name=deploy",
                "/v1/event/list?index=50&name=deploy",
                "/v1/event/list?index=70&name=deploy",
                "/v1/event/list?index=90&name=deploy",
                "/v1/event/list?name=deploy",
                "/v1/event/list?index=20&name=deploy",
            ]
        );
    }

    #[test]
    fn event_watch_without_handler_prints_every_event() {
        let responses = vec![
            reply(200, SELF),
            reply_with_index(200, 9, &events(&["a", "b"])),
        ];
        let (out, _) = run_against(&["watch", "-type=event"], responses);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let printed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(printed[1]["ID"], "b");
        assert!(out.stdout.starts_with("[\n    {\n        \"ID\": \"a\",\n"));
    }

    #[test]
    fn keyprefix_without_keys_is_null() {
        let args = ["watch", "-type=keyprefix", "-prefix=none/"];
        let (out, _) = run_against(&args, vec![reply(200, SELF), reply_with_index(404, 8, b"")]);
        assert_eq!(out.stdout, "null\n");
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases: [(&[&str], &str); 9] = [
            (&["-type=bogus"], "Unsupported watch type: bogus\n"),
            (&["-type=key"], "Must specify a single key to watch\n"),
            (
                &["-type=keyprefix"],
                "Must specify a single prefix to watch\n",
            ),
            (
                &["-type=service"],
                "Must specify a single service to watch\n",
            ),
            (
                &["-type=checks", "-service=a", "-state=any"],
                "Cannot specify service and state\n",
            ),
            (
                &["-type=nodes", "-key=a", "-tag=x"],
                "Invalid parameters: [key tag]\n",
            ),
            (
                &["-type=event", "-stale", "-service=a"],
                "Invalid parameters: [service stale]\n",
            ),
            (
                &["-type=key", "-key=a", "-name=x"],
                "Invalid parameters: [name]\n",
            ),
            (
                &["-type=service", "-service=a", "-passingonly=maybe"],
                "Failed to parse passingonly flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\n",
            ),
        ];
        for (flags, msg) in cases {
            let mut args = vec!["watch"];
            args.extend_from_slice(flags);
            let (out, reqs) = run_against(&args, vec![]);
            assert_eq!((out.code, out.stderr.as_str()), (1, msg));
            assert!(reqs.is_empty());
        }
        let (out, _) = run_against(&["watch"], vec![]);
        assert!(
            out.stderr
                .starts_with("Watch type must be specified\n\nUsage: skein watch")
        );
    }
}
