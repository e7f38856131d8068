//! A small reader for pytest's JUnit XML (`--junitxml`, `junit_family=xunit1`): just the
//! `<testcase>` elements and whether each has a `<failure>`, `<error>` or `<skipped>` child.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// One `<testcase>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestCase {
    /// pytest's node id, e.g. `tests/api/test_kv.py::TestConsul::test_kv[1.22.0]`.
    pub(crate) id: String,
    pub(crate) outcome: Outcome,
    /// The `message` of the failure, error or skip, if any.
    pub(crate) message: String,
}

/// Reads and parses a report file.
pub(crate) fn parse_file(path: &Path) -> Result<Vec<TestCase>> {
    let xml = std::fs::read_to_string(path)
        .with_context(|| format!("reading JUnit report {}", path.display()))?;
    parse(&xml).with_context(|| format!("parsing JUnit report {}", path.display()))
}

/// Parses every `<testcase>` of a report.
pub(crate) fn parse(xml: &str) -> Result<Vec<TestCase>> {
    let mut cases = Vec::new();
    let mut rest = xml;
    while let Some(start) = find_tag(rest, "testcase") {
        let after = &rest[start + "<testcase".len()..];
        let Some(end) = after.find('>') else {
            bail!("unterminated <testcase> tag");
        };
        let attrs = &after[..end];
        let (body, next) = if attrs.ends_with('/') {
            ("", &after[end + 1..])
        } else {
            let close = after[end..]
                .find("</testcase>")
                .context("<testcase> without </testcase>")?;
            (&after[end + 1..end + close], &after[end + close..])
        };
        cases.push(test_case(attrs, body));
        rest = next;
    }
    Ok(cases)
}

/// Index of the next `<name` tag (followed by whitespace, `>` or `/`).
fn find_tag(text: &str, name: &str) -> Option<usize> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(i) = text[from..].find(&open) {
        let at = from + i;
        let next = text[at + open.len()..].chars().next();
        if next.is_some_and(|c| c.is_whitespace() || c == '>' || c == '/') {
            return Some(at);
        }
        from = at + open.len();
    }
    None
}

fn test_case(attrs: &str, body: &str) -> TestCase {
    let (outcome, message) = outcome(body);
    let id = node_id(
        attr(attrs, "file").as_deref(),
        &attr(attrs, "classname").unwrap_or_default(),
        &attr(attrs, "name").unwrap_or_default(),
    );
    TestCase {
        id,
        outcome,
        message,
    }
}

fn outcome(body: &str) -> (Outcome, String) {
    for (tag, outcome) in [
        ("error", Outcome::Failed),
        ("failure", Outcome::Failed),
        ("skipped", Outcome::Skipped),
    ] {
        if let Some(at) = find_tag(body, tag) {
            let tag_text = &body[at..];
            let end = tag_text.find('>').unwrap_or(tag_text.len());
            let message = attr(&tag_text[..end], "message").unwrap_or_default();
            return (outcome, message);
        }
    }
    (Outcome::Passed, String::new())
}

/// Rebuilds pytest's node id from xunit1's `file`, `classname` and `name`:
/// `tests/api/test_kv.py` + `tests.api.test_kv.TestConsul` + `test_kv[1.22.0]`
/// → `tests/api/test_kv.py::TestConsul::test_kv[1.22.0]`.
fn node_id(file: Option<&str>, classname: &str, name: &str) -> String {
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        // e.g. collection errors: classname "" and name "tests.api.test_x"
        return [classname, name]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(".");
    };
    let module = file.trim_end_matches(".py").replace('/', ".");
    let mut id = file.to_owned();
    if let Some(classes) = classname
        .strip_prefix(&module)
        .and_then(|c| c.strip_prefix('.'))
    {
        for class in classes.split('.') {
            id.push_str("::");
            id.push_str(class);
        }
    }
    id.push_str("::");
    id.push_str(name);
    id
}

/// The unescaped value of attribute `name` in a tag's attribute text.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = attrs[from..].find(name) {
        let at = from + i;
        let before_ok = at == 0 || attrs[..at].ends_with(char::is_whitespace);
        let rest = attrs[at + name.len()..].trim_start();
        if before_ok && let Some(value) = rest.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            let inner = &value[1..];
            let end = inner.find(quote)?;
            return Some(unescape(&inner[..end]));
        }
        from = at + name.len();
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let entity = &rest[amp + 1..];
        match entity
            .find(';')
            .and_then(|end| decode(&entity[..end]).map(|c| (c, end)))
        {
            Some((c, end)) => {
                out.push(c);
                rest = &entity[end + 1..];
            }
            None => {
                out.push('&');
                rest = entity;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode(entity: &str) -> Option<char> {
    match entity {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = entity.strip_prefix('#')?;
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.api.test_kv.TestConsul" name="test_kv[1.22.0]" file="tests/api/test_kv.py" line="8" time="0.1" />
<testcase classname="tests.api.test_kv.TestConsul" name="test_kv_wait[1.22.0]" file="tests/api/test_kv.py" line="16" time="0.2"><failure message="assert &quot;a&quot; == &#39;b&#39;">trace &lt;failure</failure></testcase>
<testcase classname="tests.test_base" name="test_env[a&amp;b]" file="tests/test_base.py" line="3" time="0"><skipped type="pytest.skip" message="why">x</skipped></testcase>
<testcase classname="tests.api.test_acl.TestConsulAcl" name="test_acl[1.22.0]" file="tests/api/test_acl.py" line="1" time="1"><system-out>out</system-out><error message="failed on setup with &quot;RuntimeError&quot;">e</error></testcase>
<testcase classname="" name="tests.api.test_query" time="0.0"><error message="collection failure">boom</error></testcase>
<testcases-not-a-case/>
</testsuite></testsuites>"#;

    #[test]
    fn parses_outcomes_and_node_ids() {
        let cases = parse(REPORT).unwrap();
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                (
                    "tests/api/test_kv.py::TestConsul::test_kv[1.22.0]",
                    Outcome::Passed
                ),
                (
                    "tests/api/test_kv.py::TestConsul::test_kv_wait[1.22.0]",
                    Outcome::Failed
                ),
                ("tests/test_base.py::test_env[a&b]", Outcome::Skipped),
                (
                    "tests/api/test_acl.py::TestConsulAcl::test_acl[1.22.0]",
                    Outcome::Failed
                ),
                ("tests.api.test_query", Outcome::Failed),
            ]
        );
        assert_eq!(cases[1].message, "assert \"a\" == 'b'");
        assert_eq!(cases[3].message, "failed on setup with \"RuntimeError\"");
    }

    #[test]
    fn empty_report_has_no_cases() {
        assert!(parse("<testsuites></testsuites>").unwrap().is_empty());
    }
}
