//! `snapshot` commands: save and restore the servers' state.

pub(crate) mod restore;
pub(crate) mod save;

/// Consul's "Missing FILE argument" / "Too many arguments" check.
pub(crate) fn file_arg(args: &[String]) -> crate::error::Result<&str> {
    match args {
        [] => Err(crate::error::Error::msg("Missing FILE argument")),
        [file] => Ok(file),
        _ => Err(super::too_many("1", args.len())),
    }
}
