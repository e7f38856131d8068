//! Tests of dispatch and help output.

use crate::commands::testing::run_cli;

#[test]
fn no_arguments_lists_commands_on_stderr() {
    let out = run_cli(&[], "127.0.0.1:1", b"");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "Usage: skein [--version] [--help] <command> [<args>]\n\n\
         Available commands are:\n\
         \x20   agent          Runs a skein agent\n\
         \x20   catalog        Interact with the catalog\n\
         \x20   config         Interact with skein's Centralized Configurations\n\
         \x20   connect        Interact with skein Connect\n\
         \x20   event          Fire a new event\n\
         \x20   force-leave    Forces a member of the cluster to enter the \"left\" state\n\
         \x20   info           Provides debugging information for operators.\n\
         \x20   intention      Interact with Connect service intentions\n\
         \x20   join           Tell skein agent to join cluster\n\
         \x20   keygen         Generates a new encryption key\n\
         \x20   keyring        Manages gossip layer encryption keys\n\
         \x20   kv             Interact with the key-value store\n\
         \x20   leave          Gracefully leaves the skein cluster and shuts down\n\
         \x20   maint          Controls node or service maintenance mode\n\
         \x20   members        Lists the members of a skein cluster\n\
         \x20   monitor        Stream logs from a skein agent\n\
         \x20   operator       Provides cluster-level tools for operators\n\
         \x20   reload         Triggers the agent to reload configuration files\n\
         \x20   services       Interact with services\n\
         \x20   snapshot       Saves and restores snapshots of server state\n\
         \x20   version        Prints the skein version\n\
         \x20   watch          Watch for changes in skein\n"
    );
}

#[test]
fn help_goes_to_stdout() {
    let out = run_cli(&["--help"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Available commands are:"));
}

#[test]
fn unknown_command_lists_commands() {
    let out = run_cli(&["bogus"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("    kv             Interact"),
        "{}",
        out.stderr
    );
}

#[test]
fn noun_without_verb_lists_subcommands() {
    let out = run_cli(&["kv"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Usage: skein kv <subcommand> [options] [args]\n")
    );
    assert!(out.stderr.ends_with(
        "Subcommands:\n    delete    Removes data from the KV store\n\
         \x20   export    Exports a tree from the KV store as JSON\n\
         \x20   get       Retrieves or lists data from the KV store\n\
         \x20   import    Imports a tree stored as JSON to the KV store\n\
         \x20   put       Sets or updates data in the KV store\n"
    ));
    let out = run_cli(&["catalog"], "127.0.0.1:1", b"");
    assert!(out.stderr.ends_with(
        "Subcommands:\n    datacenters    Lists all known datacenters\n\
         \x20   nodes          Lists all nodes in the given datacenter\n\
         \x20   services       Lists all registered services in a datacenter\n"
    ));
    let out = run_cli(&["services", "--help"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(out.stdout.ends_with(
        "Subcommands:\n    deregister    Deregister services with the local agent\n\
         \x20   register      Register services with the local agent\n"
    ));
    let out = run_cli(&["operator", "-h"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("    raft    Provides cluster-level tools for Raft\n")
    );
}

#[test]
fn command_help_shows_flags() {
    let out = run_cli(&["kv", "get", "-h"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .starts_with("Usage: skein kv get [options] [KEY_OR_PREFIX]\n")
    );
    assert!(
        out.stdout
            .contains("\nHTTP API Options:\n\n  -http-addr=<value>\n")
    );
    assert!(out.stdout.contains("\nCommand Options:\n\n  -base64\n"));
}

#[test]
fn https_addresses_are_refused() {
    let out = run_cli(
        &["kv", "get", "-http-addr=https://h:8501", "k"],
        "127.0.0.1:1",
        b"",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Error connecting to Consul agent: HTTPS address"),
        "{}",
        out.stderr
    );
}

#[test]
fn connection_failures_name_the_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let out = run_cli(&["kv", "get", "k"], &addr, b"");
    assert_eq!(out.code, 1);
    let prefix = format!("Error querying Consul agent: Get \"http://{addr}/v1/kv/k\": ");
    assert!(out.stderr.starts_with(&prefix), "{}", out.stderr);
}

#[test]
fn connect_config_and_intention_nouns_list_their_verbs() {
    let out = run_cli(&["connect", "ca"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 1);
    assert!(out.stderr.ends_with(
        "Subcommands:\n    get-config    Display the current Connect Certificate Authority (CA) \
         configuration\n\
         \x20   set-config    Modify the current Connect CA configuration\n"
    ));
    let out = run_cli(&["connect", "-h"], "127.0.0.1:1", b"");
    assert_eq!(out.code, 0);
    assert!(out.stdout.ends_with(
        "Subcommands:\n    ca       Interact with the skein Connect Certificate Authority (CA)\n\
         \x20   envoy    Runs or configures Envoy as a Connect proxy\n"
    ));
    let out = run_cli(&["config"], "127.0.0.1:1", b"");
    assert!(out.stderr.ends_with(
        "Subcommands:\n    delete    Delete a centralized config entry\n\
         \x20   list      List centralized config entries of a given kind\n\
         \x20   read      Read a centralized config entry\n\
         \x20   write     Create or update a centralized config entry\n"
    ));
    let out = run_cli(&["intention", "--help"], "127.0.0.1:1", b"");
    assert!(out.stdout.ends_with(
        "Subcommands:\n    check     Check whether a connection between two services is allowed.\n\
         \x20   create    Create intentions for service connections.\n\
         \x20   delete    Delete an intention.\n\
         \x20   get       Show information about an intention.\n\
         \x20   list      List intentions.\n\
         \x20   match     Show intentions that match a source or destination.\n"
    ));
}
