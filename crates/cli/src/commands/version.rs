//! `version`: print skein's version; needs no agent.

use crate::commands::{Command, Ctx, emit};
use crate::error::Result;
use crate::flags::{FlagSet, Parsed};

/// The Consul release whose HTTP API and CLI this build follows.
pub(crate) const CONSUL_COMPAT: &str = "1.22.0";

/// `skein version`.
pub(crate) const COMMAND: Command = Command {
    path: &["version"],
    synopsis: "Prints the skein version",
    help: "Usage: skein version\n\n  Prints the version of this skein build.\n",
    flags: FlagSet::new,
    run,
};

fn run(flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    if !flags.args().is_empty() {
        return Err(crate::commands::too_many("0", flags.args().len()));
    }
    emit(ctx, text().as_bytes())
}

/// The version text, two lines.
pub(crate) fn text() -> String {
    format!(
        "skein v{}\nConsul API compatibility: {CONSUL_COMPAT}\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::testing::run_cli;

    #[test]
    fn prints_version_without_an_agent() {
        let expected = format!(
            "skein v{}\nConsul API compatibility: 1.22.0\n",
            env!("CARGO_PKG_VERSION")
        );
        for args in [&["version"][..], &["--version"], &["-v"]] {
            let out = run_cli(args, "127.0.0.1:1", b"");
            assert_eq!((out.code, out.stdout.as_str()), (0, expected.as_str()));
        }
    }
}
