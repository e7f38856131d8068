//! Behaviour tests for parsing and evaluation.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::{Filter, FilterError, MAX_EXPRESSION_LEN, MAX_NESTING_DEPTH, apply};

/// A `/v1/agent/services` entry.
fn service() -> Value {
    json!({
        "ID": "web-1",
        "Service": "web",
        "Tags": ["primary", "v1"],
        "Meta": {"env": "prod", "key-with-dash": "yes", "Empty": ""},
        "Port": 80,
        "Address": "",
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": false,
        "Ratio": 0.5,
        "Proxy": null,
        "Connect": {},
        "Datacenter": "dc1"
    })
}

/// A `/v1/health/service` row.
fn health_row(statuses: &[&str]) -> Value {
    let checks: Vec<Value> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            json!({"CheckID": format!("c{i}"), "Status": status, "ServiceTags": ["v1"]})
        })
        .collect();
    json!({
        "Node": {"Node": "n1", "Address": "10.0.0.1", "Meta": {"rack": "r1"}},
        "Service": {"ID": "web-1", "Service": "web", "Tags": ["primary"], "Port": 80},
        "Checks": checks
    })
}

fn check(expr: &str, record: &Value) -> bool {
    Filter::parse(expr)
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
        .matches(record)
}

fn assert_all(record: &Value, cases: &[(&str, bool)]) {
    for (expr, want) in cases {
        assert_eq!(check(expr, record), *want, "{expr:?}");
    }
}

fn parse_error(expr: &str) -> FilterError {
    match Filter::parse(expr) {
        Ok(f) => panic!("{expr:?} should not parse: {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn equality_on_strings_numbers_and_bools() {
    assert_all(
        &service(),
        &[
            ("Service == web", true),
            ("Service == \"web\"", true),
            ("Service == `web`", true),
            ("Service == \"db\"", false),
            ("Service != db", true),
            ("Service != web", false),
            ("Port == 80", true),
            ("Port == \"80\"", true),
            ("Port == 80.0", true),
            ("Port == 81", false),
            ("Port != 81", true),
            ("Port == eighty", false),
            ("Ratio == 0.5", true),
            ("Weights.Passing == 1", true),
            ("EnableTagOverride == false", true),
            ("EnableTagOverride == true", false),
            ("EnableTagOverride != true", true),
            ("EnableTagOverride == F", true),
        ],
    );
}

#[test]
fn missing_and_null_fields() {
    assert_all(
        &service(),
        &[
            ("Nope == x", false),
            ("Nope != x", true),
            ("Meta.nope == x", false),
            ("Meta.nope != x", true),
            ("Proxy == x", false),
            ("Proxy.Mode == x", false),
            ("Proxy.Mode != x", true),
            ("Port.Sub == 1", false),
            ("\"x\" in Nope", false),
            ("\"x\" not in Nope", true),
            ("Nope matches \".*\"", false),
            ("Nope not matches \".*\"", true),
        ],
    );
}

#[test]
fn empty_forms() {
    assert_all(
        &service(),
        &[
            ("Nope is empty", true),
            ("Nope is not empty", false),
            ("Proxy is empty", true),
            ("Address is empty", true),
            ("Service is empty", false),
            ("Service is not empty", true),
            ("Tags is not empty", true),
            ("Connect is empty", true),
            ("Meta is not empty", true),
            ("Meta.Empty is empty", true),
            ("Port is not empty", true),
            ("EnableTagOverride is not empty", true),
        ],
    );
    let record = json!({"Tags": [], "Meta": {}});
    assert!(check("Tags is empty and Meta is empty", &record));
}

#[test]
fn in_and_contains_on_arrays_maps_and_strings() {
    assert_all(
        &service(),
        &[
            ("\"primary\" in Tags", true),
            ("primary in Tags", true),
            ("\"pri\" in Tags", false),
            ("\"v2\" in Tags", false),
            ("\"v2\" not in Tags", true),
            ("\"v1\" not in Tags", false),
            ("Tags contains v1", true),
            ("Tags not contains v1", false),
            ("Tags contains \"v3\"", false),
            ("env in Meta", true),
            ("prod in Meta", false),
            ("Meta contains \"key-with-dash\"", true),
            ("Meta not contains env", false),
            ("\"eb\" in Service", true),
            ("Service contains \"we\"", true),
            ("Service not contains \"db\"", true),
            ("ID contains -1", true),
            ("\"x\" in Port", false),
        ],
    );
    let ports = json!({"Ports": [80, 443], "Flags": [true]});
    assert!(check("443 in Ports", &ports));
    assert!(check("8080 not in Ports", &ports));
    assert!(check("Flags contains true", &ports));
}

#[test]
fn matches_uses_regex_search() {
    assert_all(
        &service(),
        &[
            ("Service matches \"^we\"", true),
            ("Service matches `b$`", true),
            ("Service matches \"^db\"", false),
            ("Service not matches \"^db\"", true),
            ("Service not matches \"^we\"", false),
            ("Tags matches \"^v[0-9]+$\"", true),
            ("Tags not matches \"^v[0-9]+$\"", false),
            ("Port matches \"^8\"", true),
            ("Meta.env matches \"pro\"", true),
        ],
    );
}

#[test]
fn bad_regex_is_a_parse_error() {
    let err = parse_error("Service matches \"(\"");
    assert!(
        matches!(&err, FilterError::InvalidRegex { line: 1, column: 17, pattern, .. } if pattern == "("),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("filter: 1:17: invalid regular expression \"(\"")
    );
    // The same pattern is fine as a plain string value.
    assert!(Filter::parse("Service == \"(\"").is_ok());
}

#[test]
fn selectors_index_and_case() {
    let record = service();
    assert_all(
        &record,
        &[
            ("Meta[\"key-with-dash\"] == yes", true),
            ("Meta[`env`] == prod", true),
            ("Meta.key-with-dash == yes", true),
            ("Meta.env == \"prod\"", true),
            ("Meta[\"ENV\"] == prod", false),
            ("Meta.ENV == prod", true),
            ("service == web", true),
            ("weights.passing == 1", true),
            ("Tags.0 == primary", true),
            ("Tags.1 == primary", false),
            ("Tags.7 is empty", true),
            ("\"/Meta/env\" == prod", true),
            ("\"/Tags/1\" == v1", true),
            ("v1 in \"/Tags\"", true),
        ],
    );
    let exact = json!({"name": "lower", "Name": "upper"});
    assert!(check("Name == upper", &exact));
    assert!(check("name == lower", &exact));
}

#[test]
fn any_semantics_across_check_arrays() {
    let healthy = health_row(&["passing", "passing"]);
    let mixed = health_row(&["passing", "critical"]);
    let none = health_row(&[]);
    assert!(check("Checks.Status == passing", &healthy));
    assert!(check("Checks.Status == passing", &mixed));
    assert!(!check("Checks.Status == passing", &none));
    assert!(check("Checks.Status != critical", &healthy));
    assert!(!check("Checks.Status != critical", &mixed));
    assert!(check("Checks.Status != critical", &none));
    assert!(check("Checks.Status not matches \"crit\"", &healthy));
    assert!(!check("Checks.Status not matches \"crit\"", &mixed));
    assert!(check("Checks.Status is empty", &none));
    assert!(check("Checks.Status is not empty", &mixed));
    assert!(check("v1 in Checks.ServiceTags", &mixed));
    assert!(check("Checks.ServiceTags not contains v2", &mixed));
    assert!(check("Checks.0.Status == passing", &mixed));
    assert!(check("Checks.1.Status == critical", &mixed));
    assert!(check("Checks.CheckID == c1", &mixed));
    assert!(check("Checks.Status == critical", &mixed));
    assert!(check("Checks is empty", &none));
}

#[test]
fn precedence_and_grouping() {
    let r = json!({"a": 1, "b": 0, "c": 0});
    // `or` binds loosest: a or (b and c).
    assert!(check("a == 1 or b == 1 and c == 1", &r));
    assert!(!check("(a == 1 or b == 1) and c == 1", &r));
    assert!(check("b == 1 and c == 1 or a == 1", &r));
    // `not` binds tightest.
    assert!(!check("not a == 1 or b == 1", &r));
    assert!(check("not (a == 1 and b == 1)", &r));
    assert!(!check("not a == 1 and b == 0", &r));
    assert!(check("not not a == 1", &r));
    assert!(check("((a == 1))", &r));
    assert!(check("not(b == 1)", &r));
    assert!(check("a==1 and(b==0)", &r));
    assert!(check("a == 1 and b == 0 and c == 0 and not c == 1", &r));
    assert!(check("b == 1 or c == 1 or a == 1", &r));
    assert!(check("\n\ta == 1\r\n\tand b == 0\n", &r));
}

#[test]
fn string_escapes() {
    let r = json!({"Name": "a\"b", "Path": "C:\\x", "Tab": "a\tb"});
    assert!(check(r#"Name == "a\"b""#, &r));
    assert!(check(r#"Path == `C:\x`"#, &r));
    assert!(check(r#"Path == "C:\\x""#, &r));
    assert!(check(r#"Tab == "a\tb""#, &r));
    assert!(check(r#"Tab == "a\u0009b""#, &r));
}

#[test]
fn consul_doc_examples() {
    let row = health_row(&["passing"]);
    assert!(check("Service.Service matches \"^we\"", &row));
    assert!(check("Node.Meta[\"rack\"] == \"r1\"", &row));
    assert!(check("Node.Meta.rack == r1 and Service.Port == 80", &row));
    assert!(check("primary in Service.Tags", &row));
    assert!(check("Checks.Status == passing", &row));
    let catalog = json!({"ServiceName": "web", "ServiceTags": ["v1"], "ServiceMeta": {}});
    assert!(check(
        "ServiceName == web and \"v1\" in ServiceTags",
        &catalog
    ));
    assert!(check("ServiceMeta is empty", &catalog));
    assert!(check("Service == \"web\"", &service()));
    assert!(check("Meta.env == \"prod\" and Port == 80", &service()));
}

#[test]
fn apply_keeps_matching_records() {
    let records = vec![
        json!({"Service": "web", "Port": 80}),
        json!({"Service": "db", "Port": 5432}),
        json!({"Service": "web", "Port": 8080}),
    ];
    let kept = apply(Some("Service == web"), records.clone()).unwrap();
    assert_eq!(kept, vec![records[0].clone(), records[2].clone()]);
    assert_eq!(apply(None, records.clone()).unwrap(), records);
    assert_eq!(apply(Some(""), records.clone()).unwrap(), records);
    assert!(apply(Some("Service =="), records).is_err());
}

#[test]
fn syntax_errors_have_positions() {
    let cases = [
        (
            "Port ==",
            "filter: 1:8: expected a value after \"==\", found the end of the expression",
        ),
        ("Port > 0", "filter: 1:6: unexpected character '>'"),
        (
            "Meta.env == \"prod\" and Port > 0",
            "filter: 1:29: unexpected character '>'",
        ),
        (
            "Port",
            "filter: 1:5: expected an operator (==, !=, is empty, is not empty, in, not in, contains, not contains, matches, not matches), found the end of the expression",
        ),
        (
            "Port is",
            "filter: 1:8: expected \"empty\" after \"is\", found the end of the expression",
        ),
        (
            "Port is not full",
            "filter: 1:13: expected \"empty\" after \"is not\", found \"full\"",
        ),
        (
            "a not b",
            "filter: 1:7: expected \"in\", \"contains\" or \"matches\" after \"not\", found \"b\"",
        ),
        (
            "\"a\" == b",
            "filter: 1:1: expected a selector for \"==\", found the value \"a\"",
        ),
        (
            "a in 5",
            "filter: 1:6: expected a selector after \"in\", found number 5",
        ),
        (
            "(a == 1",
            "filter: 1:8: expected \")\" to close the \"(\" at column 1, found the end of the expression",
        ),
        (
            "a == 1)",
            "filter: 1:7: expected \"and\", \"or\" or the end of the expression, found \")\"",
        ),
        (
            "a == 1 and",
            "filter: 1:11: expected a selector or value, found the end of the expression",
        ),
        (
            "a == 1 AND b == 2",
            "filter: 1:8: expected \"and\", \"or\" or the end of the expression, found \"AND\"",
        ),
        (
            "Meta[env] == 1",
            "filter: 1:6: expected a quoted key after \"[\", found \"env\"",
        ),
        (
            "Meta[\"env\" == 1",
            "filter: 1:12: expected \"]\" to close the index, found \"==\"",
        ),
        (
            "Meta. == 1",
            "filter: 1:7: expected a field name after \".\", found \"==\"",
        ),
        (
            "",
            "filter: 1:1: expected a selector or value, found the end of the expression",
        ),
        (
            "and == 1",
            "filter: 1:1: expected a selector or value, found \"and\"",
        ),
        (
            "a ==\n  == 1",
            "filter: 2:3: expected a value after \"==\", found \"==\"",
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(parse_error(expr).to_string(), want, "{expr:?}");
    }
}

#[test]
fn limits() {
    let long = format!("a == \"{}\"", "x".repeat(MAX_EXPRESSION_LEN));
    assert!(matches!(parse_error(&long), FilterError::TooLong { .. }));
    let ok_depth = format!(
        "{}a == 1{}",
        "(".repeat(MAX_NESTING_DEPTH - 1),
        ")".repeat(MAX_NESTING_DEPTH - 1)
    );
    assert!(check(&ok_depth, &json!({"a": 1})));
    let deep = format!(
        "{}a == 1{}",
        "(".repeat(MAX_NESTING_DEPTH),
        ")".repeat(MAX_NESTING_DEPTH)
    );
    assert!(matches!(parse_error(&deep), FilterError::TooDeep { .. }));
    let nots = "not ".repeat(1000) + "a == 1";
    assert!(matches!(parse_error(&nots), FilterError::TooDeep { .. }));
    let parens = "(".repeat(4000);
    assert!(matches!(parse_error(&parens), FilterError::TooDeep { .. }));
    let chain = vec!["a == 1"; 350].join(" and ");
    assert!(check(&chain, &json!({"a": 1})));
}

/// xorshift64*: deterministic, dependency-free noise for the garbage test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "Service",
    "Checks",
    "Status",
    "Meta",
    "Tags",
    "Port",
    ".",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "`",
    "\\",
    "==",
    "!=",
    "=",
    "!",
    "and",
    "or",
    "not",
    "in",
    "is",
    "empty",
    "contains",
    "matches",
    " ",
    " ",
    " ",
    "\n",
    "\"web\"",
    "`^w`",
    "\"(\"",
    "80",
    "-1",
    "0.5",
    "-",
    "0",
    "\"/Meta/env\"",
    "é",
    "\u{0}",
    "#",
    "\"\\u12\"",
    "[\"a\"]",
    "true",
    "_x",
    "a-b",
];

fn garbage(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(24) {
        if rng.below(8) == 0 {
            let byte = (rng.next() % 128) as u8;
            out.push(char::from(byte));
        } else {
            out.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    out
}

const SELECTORS: &[&str] = &[
    "Service",
    "Checks.Status",
    "Meta[\"env\"]",
    "Tags",
    "Port",
    "Tags.0",
    "\"/Meta/env\"",
    "Node.Meta.rack",
    "Nope.x",
    "weights.passing",
];
const VALUES: &[&str] = &[
    "web",
    "\"primary\"",
    "`^w`",
    "80",
    "-1",
    "0.5",
    "true",
    "passing",
    "\"\"",
];
const OPS: &[&str] = &[
    "==",
    "!=",
    "contains",
    "not contains",
    "matches",
    "not matches",
];

/// A random, mostly well-formed expression of bounded depth.
fn structured(rng: &mut Rng, depth: usize) -> String {
    let choice = if depth == 0 {
        3 + rng.below(3)
    } else {
        rng.below(6)
    };
    let pick = |rng: &mut Rng, list: &[&str]| list[rng.below(list.len())].to_owned();
    match choice {
        0 => format!(
            "{} and {}",
            structured(rng, depth - 1),
            structured(rng, depth - 1)
        ),
        1 => format!(
            "{} or {}",
            structured(rng, depth - 1),
            structured(rng, depth - 1)
        ),
        2 => format!("not ({})", structured(rng, depth - 1)),
        3 => {
            let (sel, op, val) = (pick(rng, SELECTORS), pick(rng, OPS), pick(rng, VALUES));
            format!("{sel} {op} {val}")
        }
        4 => format!(
            "{} {} {}",
            pick(rng, VALUES),
            pick(rng, &["in", "not in"]),
            pick(rng, SELECTORS)
        ),
        _ => format!(
            "{} {}",
            pick(rng, SELECTORS),
            pick(rng, &["is empty", "is not empty"])
        ),
    }
}

/// `structured`, then a few random byte-level edits.
fn mutated(rng: &mut Rng) -> String {
    let mut chars: Vec<char> = structured(rng, 3).chars().collect();
    for _ in 0..rng.below(3) {
        let at = rng.below(chars.len() + 1);
        if rng.below(2) == 0 && at < chars.len() {
            chars.remove(at);
        } else {
            let piece = PIECES[rng.below(PIECES.len())];
            chars.splice(at..at, piece.chars());
        }
    }
    chars.into_iter().collect()
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let records = [
        service(),
        health_row(&["passing", "critical"]),
        json!(null),
        json!([1, [2, [3]]]),
    ];
    let mut parsed = 0;
    for _ in 0..20_000 {
        let expr = match rng.below(3) {
            0 => garbage(&mut rng),
            1 => structured(&mut rng, 3),
            _ => mutated(&mut rng),
        };
        if let Ok(filter) = Filter::parse(&expr) {
            parsed += 1;
            for record in &records {
                let _ = filter.matches(record);
            }
        }
    }
    // Sanity: the generator does produce some valid expressions too.
    assert!(parsed > 5_000, "only {parsed} parsed");
}
