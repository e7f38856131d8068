//! `tests/compat/expected-failures.txt`: the py-consul tests known to fail, and the check
//! of a run's results against it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::junit::{Outcome, TestCase};

/// Reason given to failures that `--update-expectations` adds.
const NEW_REASON: &str = "TODO: triage";

/// The parsed file: its leading comment block and `node id → reason`.
pub(crate) struct Expectations {
    header: String,
    entries: BTreeMap<String, String>,
}

impl Expectations {
    /// Reads the file; a missing file means no known failures.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Self::parse(&text))
    }

    /// Parses `<node id>  # <reason>` lines; `#` lines and blank lines are comments.
    pub(crate) fn parse(text: &str) -> Self {
        let mut header = String::new();
        let mut entries = BTreeMap::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                if entries.is_empty() {
                    header.push_str(line);
                    header.push('\n');
                }
                continue;
            }
            let (id, reason) = trimmed.split_once(" #").unwrap_or((trimmed, ""));
            entries.insert(id.trim().to_owned(), reason.trim().to_owned());
        }
        Self { header, entries }
    }

    /// Whether `id` is listed.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The file rewritten for a run: entries for tests that ran now list exactly the
    /// failures (keeping known reasons); entries for tests that did not run are kept.
    pub(crate) fn updated(&self, cases: &[TestCase]) -> String {
        let ran: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let mut entries: BTreeMap<&str, &str> = self
            .entries
            .iter()
            .filter(|(id, _)| !ran.contains(id.as_str()))
            .map(|(id, reason)| (id.as_str(), reason.as_str()))
            .collect();
        for case in cases.iter().filter(|c| c.outcome == Outcome::Failed) {
            let reason = self
                .entries
                .get(&case.id)
                .map_or(NEW_REASON, String::as_str);
            entries.insert(&case.id, reason);
        }
        let mut text = self.header.trim_end().to_owned();
        text.push_str("\n\n");
        for (id, reason) in entries {
            let reason = if reason.is_empty() {
                NEW_REASON
            } else {
                reason
            };
            let _ = writeln!(text, "{id}  # {reason}");
        }
        text
    }
}

/// A run's results judged against the expectations.
#[derive(Default)]
pub(crate) struct Verdict {
    pub(crate) collected: usize,
    pub(crate) passed: usize,
    pub(crate) failed_listed: usize,
    pub(crate) skipped: usize,
    /// Failed or errored, not listed: `(id, message)`.
    pub(crate) unexpected: Vec<(String, String)>,
    /// Listed, but passed.
    pub(crate) now_passing: Vec<String>,
}

impl Verdict {
    /// Sorts every test case of a run into the counts.
    pub(crate) fn judge(cases: &[TestCase], expected: &Expectations) -> Self {
        let mut v = Self {
            collected: cases.len(),
            ..Self::default()
        };
        for case in cases {
            let listed = expected.contains(&case.id);
            match case.outcome {
                Outcome::Skipped => v.skipped += 1,
                Outcome::Passed if listed => {
                    v.passed += 1;
                    v.now_passing.push(case.id.clone());
                }
                Outcome::Passed => v.passed += 1,
                Outcome::Failed if listed => v.failed_listed += 1,
                Outcome::Failed => v.unexpected.push((case.id.clone(), case.message.clone())),
            }
        }
        v
    }

    /// Whether the run matches the expectations.
    pub(crate) fn ok(&self) -> bool {
        self.unexpected.is_empty() && self.now_passing.is_empty()
    }

    /// The counts, one `name: value` per line (also written to `summary.txt`).
    pub(crate) fn counts(&self) -> String {
        format!(
            "collected: {}\npassed: {}\nfailed (listed): {}\nfailed (unlisted): {}\n\
             skipped: {}\nlisted-but-passed: {}\n",
            self.collected,
            self.passed,
            self.failed_listed,
            self.unexpected.len(),
            self.skipped,
            self.now_passing.len(),
        )
    }

    /// The counts followed by every problem, one per line.
    pub(crate) fn report(&self) -> String {
        let mut text = self.counts();
        for (id, message) in &self.unexpected {
            let first = message.lines().next().unwrap_or_default();
            let _ = writeln!(text, "unexpected failure: {id}\n    {first}");
        }
        for id in &self.now_passing {
            let _ = writeln!(text, "now passing, remove from expected-failures.txt: {id}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: Outcome) -> TestCase {
        TestCase {
            id: id.to_owned(),
            outcome,
            message: "boom".to_owned(),
        }
    }

    const FILE: &str = "# header\n#\n\na[1]  # no kv yet\nb[1]  # acl\n# stray comment\nc[1]\n";

    #[test]
    fn judges_a_run() {
        let exp = Expectations::parse(FILE);
        let cases = [
            case("a[1]", Outcome::Failed),
            case("b[1]", Outcome::Passed),
            case("d[1]", Outcome::Failed),
            case("e[1]", Outcome::Passed),
            case("f[1]", Outcome::Skipped),
        ];
        let v = Verdict::judge(&cases, &exp);
        assert_eq!(
            (v.collected, v.passed, v.failed_listed, v.skipped),
            (5, 2, 1, 1)
        );
        assert_eq!(v.unexpected, [("d[1]".to_owned(), "boom".to_owned())]);
        assert_eq!(v.now_passing, ["b[1]"]);
        assert!(!v.ok());
    }

    #[test]
    fn update_keeps_reasons_and_tests_that_did_not_run() {
        let exp = Expectations::parse(FILE);
        let cases = [
            case("a[1]", Outcome::Failed),
            case("b[1]", Outcome::Passed),
            case("d[1]", Outcome::Failed),
        ];
        let want = "# header\n#\n\na[1]  # no kv yet\nc[1]  # TODO: triage\nd[1]  # TODO: triage\n";
        assert_eq!(exp.updated(&cases), want);
    }
}
