//! Golden files: `tests/golden/<case>/<type>.json`, one per resource type,
//! resources in name order with their versions. `UPDATE_GOLDEN=1` rewrites
//! them; otherwise any difference fails and names the file.

use std::path::{Path, PathBuf};

use skein_ads::{CLUSTER, ENDPOINT, LISTENER, ROUTE, ResourceSet};

use crate::render::{Json, any_to_json};

/// File stem and type URL of each resource type.
const TYPES: [(&str, &str); 4] = [
    ("listeners", LISTENER),
    ("clusters", CLUSTER),
    ("endpoints", ENDPOINT),
    ("routes", ROUTE),
];

/// Compares (or with `UPDATE_GOLDEN=1`, writes) every golden of `case`.
pub(crate) fn check(case: &str, set: &ResourceSet) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0" && !v.is_empty());
    let mut failures = Vec::new();
    for (stem, type_url) in TYPES {
        let path = dir().join(case).join(format!("{stem}.json"));
        let got = render(set, type_url).pretty();
        if update {
            write(&path, &got);
        } else if let Some(problem) = compare(&path, &got) {
            failures.push(problem);
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch (run `UPDATE_GOLDEN=1 cargo test -p skein-xds` to accept):\n{}",
        failures.join("\n")
    );
}

/// `{type_url, versions: {name: version}, resources: [..]}`.
pub(crate) fn render(set: &ResourceSet, type_url: &str) -> Json {
    let versions = set
        .of_type(type_url)
        .map(|r| (r.name.clone(), Json::Str(r.version.clone())))
        .collect();
    let resources = set
        .of_type(type_url)
        .map(|r| any_to_json(&r.body))
        .collect();
    Json::Obj(vec![
        ("type_url".to_owned(), Json::Str(type_url.to_owned())),
        ("versions".to_owned(), Json::Obj(versions)),
        ("resources".to_owned(), Json::Arr(resources)),
    ])
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create golden dir");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A description of how `path` differs from `got`, if it does.
fn compare(path: &Path, got: &str) -> Option<String> {
    let Ok(want) = std::fs::read_to_string(path) else {
        return Some(format!("  {}: missing", path.display()));
    };
    if want == got {
        return None;
    }
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    let show = |text: &str| text.lines().nth(line).unwrap_or("<end of file>").to_owned();
    Some(format!(
        "  {}: differs at line {}\n    want: {}\n    got:  {}",
        path.display(),
        line + 1,
        show(&want),
        show(got)
    ))
}
