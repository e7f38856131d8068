//! The command tree (`kv get`, `snapshot save`, …) and the shared runner.
//!
//! Each command is a [`Command`] value: its words, help text, flag set and a
//! `run` function. The runner parses flags, runs the command and turns its
//! error into Consul-style stderr output and an exit code.

use std::io::{Read, Write};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::flags::{FlagError, FlagSet, Parsed};
use crate::http::Client;

pub(crate) mod catalog;
pub(crate) mod config;
pub(crate) mod connect;
pub(crate) mod event;
pub(crate) mod force_leave;
pub(crate) mod info;
pub(crate) mod intention;
pub(crate) mod join;
pub(crate) mod keygen;
pub(crate) mod keyring;
pub(crate) mod kv;
pub(crate) mod leave;
pub(crate) mod maint;
pub(crate) mod members;
pub(crate) mod monitor;
pub(crate) mod operator;
pub(crate) mod reload;
pub(crate) mod services;
pub(crate) mod snapshot;
pub(crate) mod version;
pub(crate) mod watch;

/// What a running command may touch: the environment and the standard streams.
pub(crate) struct Ctx<'a> {
    /// Environment lookups.
    pub(crate) env: Env<'a>,
    /// Standard input (for `-` arguments).
    pub(crate) stdin: &'a mut dyn Read,
    /// Standard output.
    pub(crate) out: &'a mut dyn Write,
    /// Standard error.
    pub(crate) err: &'a mut dyn Write,
}

/// One leaf command.
pub(crate) struct Command {
    /// The words naming it, e.g. `["kv", "get"]`.
    pub(crate) path: &'static [&'static str],
    /// One line for the parent's subcommand list.
    pub(crate) synopsis: &'static str,
    /// `Usage: …` line and description; the flag listing is appended.
    pub(crate) help: &'static str,
    /// Builds the command's flag set.
    pub(crate) flags: fn() -> FlagSet,
    /// Runs the command with parsed flags.
    pub(crate) run: fn(&Parsed, &mut Ctx<'_>) -> Result<()>,
}

/// Every leaf command.
const COMMANDS: &[&Command] = &[
    &catalog::datacenters::COMMAND,
    &catalog::nodes::COMMAND,
    &catalog::services::COMMAND,
    &config::write::COMMAND,
    &config::read::COMMAND,
    &config::list::COMMAND,
    &config::delete::COMMAND,
    &connect::ca::get_config::COMMAND,
    &connect::ca::set_config::COMMAND,
    &connect::envoy::COMMAND,
    &info::COMMAND,
    &intention::create::COMMAND,
    &intention::delete::COMMAND,
    &intention::get::COMMAND,
    &intention::list::COMMAND,
    &intention::r#match::COMMAND,
    &intention::check::COMMAND,
    &kv::get::COMMAND,
    &kv::put::COMMAND,
    &kv::delete::COMMAND,
    &kv::export::COMMAND,
    &kv::import::COMMAND,
    &event::COMMAND,
    &force_leave::COMMAND,
    &join::COMMAND,
    &keygen::COMMAND,
    &keyring::COMMAND,
    &leave::COMMAND,
    &maint::COMMAND,
    &members::COMMAND,
    &monitor::COMMAND,
    &reload::COMMAND,
    &services::register::COMMAND,
    &services::deregister::COMMAND,
    &snapshot::save::COMMAND,
    &snapshot::restore::COMMAND,
    &operator::raft::list_peers::COMMAND,
    &operator::raft::remove_peer::COMMAND,
    &operator::raft::transfer_leader::COMMAND,
    &version::COMMAND,
    &watch::COMMAND,
];

/// Commands that only group subcommands: words, synopsis, description.
const NOUNS: &[(&[&str], &str, &str)] = &[
    (&["agent"], "Runs a skein agent", ""),
    (
        &["catalog"],
        "Interact with the catalog",
        "This command has subcommands for interacting with skein's catalog. The \
         catalog should not be confused with the agent, although the APIs and \
         responses may be similar.",
    ),
    (
        &["config"],
        "Interact with skein's Centralized Configurations",
        "This command has subcommands for interacting with skein's Centralized \
         Configuration system. Here are some simple examples, and more detailed examples \
         are available in the subcommands or the documentation.",
    ),
    (
        &["connect"],
        "Interact with skein Connect",
        "This command has subcommands for interacting with skein Connect: the \
         Connect Certificate Authority (ca) and running Envoy as a Connect sidecar \
         proxy (envoy).",
    ),
    (
        &["connect", "ca"],
        "Interact with the skein Connect Certificate Authority (CA)",
        "This command has subcommands for interacting with skein Connect's Certificate \
         Authority (CA).",
    ),
    (
        &["intention"],
        "Interact with Connect service intentions",
        "This command has subcommands for interacting with intentions. Intentions are \
         permissions describing which services are allowed to communicate via Connect.",
    ),
    (
        &["kv"],
        "Interact with the key-value store",
        "This command has subcommands for interacting with the key-value store. Here \
         are some simple examples, and more detailed examples are available in the \
         subcommands or the documentation.",
    ),
    (
        &["operator"],
        "Provides cluster-level tools for operators",
        "Provides cluster-level tools for operators, such as interacting with the Raft \
         subsystem.",
    ),
    (
        &["operator", "raft"],
        "Provides cluster-level tools for Raft",
        "The Raft operator command is used to interact with the Raft configuration.",
    ),
    (
        &["services"],
        "Interact with services",
        "This command has subcommands for interacting with services. The subcommands \
         default to working with services registered with the local agent. Please see \
         the \"skein catalog\" command for interacting with the entire catalog.",
    ),
    (
        &["snapshot"],
        "Saves and restores snapshots of server state",
        "This command has subcommands for saving and restoring the state of the servers \
         for disaster recovery. These are atomic, point-in-time snapshots which include \
         key/value entries, service catalog, prepared queries, sessions, and ACLs.",
    ),
];

impl From<FlagError> for Error {
    fn from(e: FlagError) -> Self {
        match e {
            FlagError::Help => Error::Help,
            FlagError::Invalid(msg) => Error::Flag(msg),
        }
    }
}

/// Runs the command named by the leading words of `args`; returns the exit code.
pub(crate) fn dispatch(args: &[String], ctx: &mut Ctx<'_>) -> u8 {
    let first = args.first().map(String::as_str);
    match first {
        None => return print_help(ctx, &[], false),
        Some("-h" | "-help" | "--help" | "help") => return print_help(ctx, &[], true),
        Some("-v" | "-version" | "--version") => return run_command(&version::COMMAND, &[], ctx),
        Some("agent") => {
            let _ = writeln!(
                ctx.err,
                "The agent command is run by the skein binary itself."
            );
            return 1;
        }
        _ => {}
    }
    if let Some(cmd) = find_command(args) {
        return run_command(cmd, &args[cmd.path.len()..], ctx);
    }
    let depth = noun_depth(args);
    let wants_help = matches!(
        args.get(depth).map(String::as_str),
        Some("-h" | "-help" | "--help")
    );
    print_help(ctx, &args[..depth], wants_help)
}

fn is_prefix(path: &[&str], args: &[String]) -> bool {
    path.len() <= args.len() && path.iter().zip(args).all(|(p, a)| p == a)
}

fn find_command(args: &[String]) -> Option<&'static Command> {
    COMMANDS.iter().copied().find(|c| is_prefix(c.path, args))
}

/// How many leading words of `args` name a known noun (0 if none).
fn noun_depth(args: &[String]) -> usize {
    NOUNS
        .iter()
        .filter(|(path, _, _)| is_prefix(path, args))
        .map(|(path, _, _)| path.len())
        .max()
        .unwrap_or(0)
}

/// Parses flags, runs `cmd` and reports its outcome.
pub(crate) fn run_command(cmd: &Command, args: &[String], ctx: &mut Ctx<'_>) -> u8 {
    let flags = (cmd.flags)();
    let result = flags
        .parse(args)
        .map_err(Error::from)
        .and_then(|p| (cmd.run)(&p, ctx));
    let usage = || format!("{}\n{}", cmd.help.trim_end(), flags.usage());
    match result {
        Ok(()) => 0,
        Err(Error::Exit(code)) => code,
        Err(Error::Help) => {
            let _ = write!(ctx.out, "{}", usage());
            0
        }
        Err(Error::Flag(msg)) => {
            let _ = write!(ctx.err, "{msg}\n\n{}", usage());
            flag_error_code(cmd)
        }
        Err(e) => {
            let _ = writeln!(ctx.err, "{e}");
            1
        }
    }
}

/// The exit code of a flag error: 2 for the commands whose Consul
/// counterparts reserve 1 for an answer (`intention check` prints `Denied`).
fn flag_error_code(cmd: &Command) -> u8 {
    const EXIT_2: &[&[&str]] = &[&["intention", "check"], &["intention", "match"]];
    if EXIT_2.contains(&cmd.path) { 2 } else { 1 }
}

/// Prints the help of the noun `path` (top level if empty). Help that was asked
/// for goes to stdout with exit 0; otherwise to stderr with exit 1.
fn print_help(ctx: &mut Ctx<'_>, path: &[String], asked: bool) -> u8 {
    let text = help_text(path);
    if asked {
        let _ = write!(ctx.out, "{text}");
        0
    } else {
        let _ = write!(ctx.err, "{text}");
        1
    }
}

fn help_text(path: &[String]) -> String {
    let words: Vec<&str> = path.iter().map(String::as_str).collect();
    if words.is_empty() {
        let list = subcommands(&[]);
        return format!(
            "Usage: skein [--version] [--help] <command> [<args>]\n\n\
             Available commands are:\n{list}"
        );
    }
    let description = NOUNS
        .iter()
        .find(|(p, _, _)| *p == words.as_slice())
        .map(|(_, _, d)| *d)
        .unwrap_or_default();
    format!(
        "Usage: skein {} <subcommand> [options] [args]\n\n{}\n\nSubcommands:\n{}",
        words.join(" "),
        crate::flags::wrap(description, 2, 80),
        subcommands(&words)
    )
}

/// The sorted, aligned list of direct children of `parent`.
fn subcommands(parent: &[&str]) -> String {
    let leaves = COMMANDS.iter().map(|c| (c.path, c.synopsis));
    let nouns = NOUNS.iter().map(|(p, s, _)| (*p, *s));
    let mut rows: Vec<(&str, &str)> = leaves
        .chain(nouns)
        .filter(|(p, _)| p.len() == parent.len() + 1 && p.starts_with(parent))
        .map(|(p, s)| (p[parent.len()], s))
        .collect();
    rows.sort();
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(name, synopsis)| format!("    {name:<width$}    {synopsis}\n"))
        .collect()
}

/// Writes bytes to stdout, mapping failures to an error.
pub(crate) fn emit(ctx: &mut Ctx<'_>, bytes: &[u8]) -> Result<()> {
    ctx.out
        .write_all(bytes)
        .map_err(|e| Error::io("Error writing output", e))
}

/// Writes one line to stdout (Consul's `UI.Info`).
pub(crate) fn info(ctx: &mut Ctx<'_>, line: &str) -> Result<()> {
    emit(ctx, format!("{line}\n").as_bytes())
}

/// Writes one line to stderr (Consul's `UI.Error` for non-fatal notices).
pub(crate) fn warn(ctx: &mut Ctx<'_>, line: &str) -> Result<()> {
    writeln!(ctx.err, "{line}").map_err(|e| Error::io("Error writing output", e))
}

/// Resolves an argument like Consul's `LoadDataSource`: `@path` reads a
/// file, `-` reads stdin, anything else is the data itself. `what` names the
/// argument in errors.
pub(crate) fn load_data_source(arg: &str, ctx: &mut Ctx<'_>, what: &str) -> Result<String> {
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("Failed to read file for {what}"), e));
    }
    if arg == "-" {
        let mut data = String::new();
        ctx.stdin
            .read_to_string(&mut data)
            .map_err(|e| Error::io(format!("Failed to read stdin for {what}"), e))?;
        return Ok(data);
    }
    Ok(arg.to_owned())
}

/// The agent's node name from `GET /v1/agent/self` (Consul's `Agent().NodeName()`).
pub(crate) fn agent_node_name(client: &Client) -> Result<String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct SelfInfo {
        config: Config,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Config {
        node_name: String,
    }
    let me: SelfInfo = client
        .get("/v1/agent/self", Vec::new())
        .and_then(|r| r.require_ok())
        .and_then(|r| r.json())?;
    Ok(me.config.node_name)
}

/// Consul's "Too many arguments (expected N, got M)".
pub(crate) fn too_many(expected: &str, got: usize) -> Error {
    Error::msg(format!(
        "Too many arguments (expected {expected}, got {got})"
    ))
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
