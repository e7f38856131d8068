//! `keygen`: a new gossip encryption key.

use rand::RngCore;
use rand::rngs::OsRng;

use crate::commands::{Command, Ctx, info};
use crate::error::Result;
use crate::flags::{FlagSet, Parsed};

/// `skein keygen`.
pub(crate) const COMMAND: Command = Command {
    path: &["keygen"],
    synopsis: "Generates a new encryption key",
    help: HELP,
    flags,
    run,
};

const HELP: &str = "\
Usage: skein keygen

  Generates a new 32-byte gossip encryption key from the operating system's
  random source, base64-encoded, for the `encrypt` setting.
";

fn flags() -> FlagSet {
    FlagSet::new()
}

fn run(_flags: &Parsed, ctx: &mut Ctx<'_>) -> Result<()> {
    use base64::Engine;
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    info(ctx, &base64::engine::general_purpose::STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use crate::commands::testing::run_against;

    #[test]
    fn prints_a_fresh_32_byte_key() {
        let (a, reqs) = run_against(&["keygen"], vec![]);
        assert!(reqs.is_empty());
        let (b, _) = run_against(&["keygen"], vec![]);
        let key = base64::engine::general_purpose::STANDARD
            .decode(a.stdout.trim())
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(a.stdout, b.stdout);
    }
}
