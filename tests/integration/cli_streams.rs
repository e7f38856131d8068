//! Long-running CLI commands (`watch` with a handler, `monitor`) as child
//! processes of a test, read line by line against a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Agent, put, wait_until};

/// A running `skein <args>` whose stdout lines arrive on a channel; killed
/// on drop.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(agent: &Agent, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skein"))
            .args(args)
            .env("CONSUL_HTTP_ADDR", &agent.http)
            .env_remove("SKEIN_HTTP_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line, waiting at most `timeout`; `None` on timeout.
    fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "the command closed its output; it printed:\n{:#?}",
                    self.seen
                )
            }
        }
    }

    /// The next line, which must come within 30 s.
    fn expect_line(&mut self, what: &str) -> String {
        self.next_line(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("timed out waiting for {what}; printed:\n{:#?}", self.seen))
    }

    /// Waits for the process to exit, up to 30 s.
    fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        wait_until(Duration::from_secs(30), "the command to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn events(line: &str) -> Vec<Value> {
    let parsed: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    parsed.as_array().unwrap().clone()
}

#[test]
fn watch_event_runs_the_handler_once_per_new_event() {
    let agent = Agent::dev(&[]);
    let mut watch = Running::start(&agent, &["watch", "-type=event", "-name=deploy", "cat"]);
    // No event yet: the first delivery is the empty list, so the watch is
    // now blocking on the agent.
    assert_eq!(watch.expect_line("the first (empty) delivery"), "[]");

    assert_eq!(put(&agent.url("/v1/event/fire/restart"), "").status, 200);
    let fired = put(&agent.url("/v1/event/fire/deploy"), "v1").json();
    let first = events(&watch.expect_line("the deploy event"));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (&first[0]["ID"], &first[0]["Name"], &first[0]["Payload"]),
        (&fired["ID"], &Value::from("deploy"), &Value::from("djE="))
    );

    let again = put(&agent.url("/v1/event/fire/deploy"), "v2").json();
    let second = events(&watch.expect_line("the second deploy event"));
    assert_eq!(second.len(), 1, "only the new event: {second:?}");
    assert_eq!(second[0]["ID"], again["ID"]);

    // Without a handler, the current list is printed and the command ends.
    let out = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["watch", "-type=event", "-name=deploy"])
        .env("CONSUL_HTTP_ADDR", &agent.http)
        .env_remove("SKEIN_HTTP_ADDR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let listed: Vec<Value> = serde_json::from_str::<Vec<Value>>(&text).unwrap();
    let ids: Vec<&Value> = listed.iter().map(|e| &e["ID"]).collect();
    assert_eq!(ids, [&fired["ID"], &again["ID"]]);
}

#[test]
fn monitor_prints_agent_log_lines_until_the_agent_goes_away() {
    let agent = Agent::dev(&[]);
    let mut monitor = Running::start(&agent, &["monitor"]);
    // A reload logs "configuration reloaded" at info. The monitor may not be
    // attached yet when the first reload is logged, so reload until the line
    // arrives.
    let deadline = Instant::now() + Duration::from_secs(30);
    'reloading: loop {
        assert!(
            Instant::now() < deadline,
            "no reload logged by the monitor; printed:\n{:#?}",
            monitor.seen
        );
        assert_eq!(put(&agent.url("/v1/agent/reload"), "").status, 200);
        while let Some(line) = monitor.next_line(Duration::from_millis(500)) {
            if line.contains("configuration reloaded") {
                break 'reloading;
            }
        }
    }

    // The agent going away ends the stream: the monitor says so and exits.
    agent.kill9();
    let status = monitor.wait_exit();
    assert!(status.success(), "{status}");
    // The process is gone, so its output ends: read the rest to the end.
    let rest: Vec<String> = monitor.lines.iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("Remote side ended the monitor!")),
        "{rest:#?}"
    );
}
