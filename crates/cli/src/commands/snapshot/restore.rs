//! `snapshot restore`: upload a snapshot file to replace the servers' state.

use crate::commands::snapshot::file_arg;
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein snapshot restore`.
pub(crate) const COMMAND: Command = Command {
    path: &["snapshot", "restore"],
    synopsis: "Restores snapshot of server state",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein snapshot restore [options] FILE

  Restores an atomic, point-in-time snapshot of the state of the servers,
  which includes key/value entries, service catalog, prepared queries,
  sessions, and ACLs. The snapshot is read from the given file.

  Restores involve a potentially dangerous low-level Raft operation that is not
  designed to handle server failures during a restore. This command is
  primarily intended to be used when recovering from a disaster, restoring into
  a fresh cluster of servers.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To restore a snapshot from the file \"backup.snap\":

      $ skein snapshot restore backup.snap
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let file = file_arg(flags.args())?;
    let data = std::fs::read(file).map_err(|e| Error::io("Error opening snapshot file", e))?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    client
        .put("/v1/snapshot", Vec::new(), &data)
        .and_then(|r| r.require_ok())
        .context("Error restoring snapshot")?;
    info(ctx, "Restored snapshot")
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, run_against};

    #[test]
    fn uploads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.snap");
        std::fs::write(&path, b"\x1f\x8barchive").unwrap();
        let args = ["snapshot", "restore", "-token=mgmt", path.to_str().unwrap()];
        let (out, reqs) = run_against(&args, vec![reply(200, b"")]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Restored snapshot\n"),
            "{}",
            out.stderr
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("PUT", "/v1/snapshot")
        );
        assert_eq!(reqs[0].body, b"\x1f\x8barchive");
        assert_eq!(reqs[0].header("X-Consul-Token"), Some("mgmt"));
    }

    #[test]
    fn missing_file_is_reported() {
        let (out, _) = run_against(&["snapshot", "restore", "/nonexistent/x.snap"], vec![]);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.starts_with("Error opening snapshot file: "),
            "{}",
            out.stderr
        );
    }
}
