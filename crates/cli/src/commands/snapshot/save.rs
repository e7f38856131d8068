//! `snapshot save`: download a snapshot and write it to a file atomically.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use crate::commands::snapshot::file_arg;
use crate::commands::{Command, Ctx, info};
use crate::error::{Context as _, Error, Result};
use crate::flags::{FlagSet, Parsed};
use crate::http::{self, Client};

/// `skein snapshot save`.
pub(crate) const COMMAND: Command = Command {
    path: &["snapshot", "save"],
    synopsis: "Saves snapshot of server state",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the state of the servers,
  which includes key/value entries, service catalog, prepared queries,
  sessions, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to
  perform snapshot operations.

  To create a snapshot from the leader server and save it to \"backup.snap\":

      $ skein snapshot save backup.snap

  To create a potentially stale snapshot from any available server (useful if
  no leader is available):

      $ skein snapshot save -stale backup.snap
";

fn flags() -> FlagSet {
    http::add_flags(FlagSet::new())
}

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    let file = file_arg(flags.args())?;
    let client = Client::from_flags(flags, &ctx.env).context("Error connecting to Consul agent")?;
    let response = client
        .get("/v1/snapshot", Vec::new())
        .and_then(|r| r.require_ok())
        .context("Error saving snapshot")?;
    let unverified = format!("{file}.unverified");
    let result =
        write_verified(&unverified, &response.body).and_then(|()| rename(&unverified, file));
    let _ = fs::remove_file(&unverified);
    result?;
    info(
        ctx,
        &format!("Saved and verified snapshot to index {}", response.index()),
    )
}

/// Writes `data` to `path` (mode 0600, synced), then reads it back to check it.
fn write_verified(path: &str, data: &[u8]) -> Result<()> {
    let write_err = |e| Error::io("Error writing unverified snapshot file", e);
    let mut file = create_private(Path::new(path)).map_err(write_err)?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    let written =
        fs::read(path).map_err(|e| Error::io("Error opening snapshot file for verify", e))?;
    if data.is_empty() || written != data {
        return Err(Error::msg(
            "Error verifying snapshot file: snapshot is empty or was not written completely",
        ));
    }
    Ok(())
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn rename(from: &str, to: &str) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io("Error renaming unverified snapshot file", e))
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::{reply, reply_with_index, run_against};

    #[test]
    fn saves_snapshot_and_reports_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.snap");
        let path_s = path.to_str().unwrap();
        let body = b"\x1f\x8bsnapshot-bytes";
        let (out, reqs) = run_against(
            &["snapshot", "save", "-stale", path_s],
            vec![reply_with_index(200, 42, body)],
        );
        assert_eq!(
            out.stdout, "Saved and verified snapshot to index 42\n",
            "{}",
            out.stderr
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("GET", "/v1/snapshot?stale=")
        );
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert!(!dir.path().join("backup.snap.unverified").exists());
    }

    #[test]
    fn api_error_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        let args = ["snapshot", "save", path.to_str().unwrap()];
        let (out, _) = run_against(&args, vec![reply(403, b"Permission denied")]);
        assert_eq!(
            out.stderr,
            "Error saving snapshot: Unexpected response code: 403 (Permission denied)\n"
        );
        assert!(!path.exists());
    }

    #[test]
    fn requires_one_file() {
        let (out, _) = run_against(&["snapshot", "save"], vec![]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "Missing FILE argument\n")
        );
    }
}
