//! Evaluates an [`Expr`] against a record rendered as JSON.
//!
//! A selector can reach several values: when a path step meets an array of
//! objects (`Checks.Status` on a health row) it continues into every element.
//! Positive operators (`==`, `in`, `contains`, `matches`, `is not empty`) hold
//! when ANY reached value satisfies them; their negations hold when none does,
//! so a missing field makes `==` false and `!=` true.

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::ast::{Expr, MatchExpr, MatchOp, MatchValue, Segment, Selector};

/// The positive test behind each operator.
#[derive(Debug, Clone, Copy)]
enum Test {
    Equal,
    NotEmpty,
    Contains,
    Matches,
}

impl Expr {
    /// Whether `record` satisfies the expression.
    pub(crate) fn evaluate(&self, record: &Value) -> bool {
        match self {
            Expr::And(terms) => terms.iter().all(|t| t.evaluate(record)),
            Expr::Or(terms) => terms.iter().any(|t| t.evaluate(record)),
            Expr::Not(inner) => !inner.evaluate(record),
            Expr::Match(m) => evaluate_match(m, record),
        }
    }
}

fn evaluate_match(m: &MatchExpr, record: &Value) -> bool {
    let (test, negated) = split(m.op);
    let reached = resolve(record, &m.selector);
    let any = reached
        .iter()
        .any(|value| run(test, value, m.value.as_ref()));
    any != negated
}

/// The positive test and whether the operator negates it.
fn split(op: MatchOp) -> (Test, bool) {
    match op {
        MatchOp::Equal => (Test::Equal, false),
        MatchOp::NotEqual => (Test::Equal, true),
        MatchOp::IsNotEmpty => (Test::NotEmpty, false),
        MatchOp::IsEmpty => (Test::NotEmpty, true),
        MatchOp::In | MatchOp::Contains => (Test::Contains, false),
        MatchOp::NotIn | MatchOp::NotContains => (Test::Contains, true),
        MatchOp::Matches => (Test::Matches, false),
        MatchOp::NotMatches => (Test::Matches, true),
    }
}

fn run(test: Test, value: &Value, operand: Option<&MatchValue>) -> bool {
    match (test, operand) {
        (Test::NotEmpty, _) => !is_empty(value),
        (Test::Equal, Some(m)) => equals(value, &m.raw),
        (Test::Contains, Some(m)) => contains(value, &m.raw),
        (Test::Matches, Some(m)) => m.regex.as_ref().is_some_and(|re| regex_matches(value, re)),
        (_, None) => false,
    }
}

/// All values the selector reaches, continuing through arrays along the way.
fn resolve<'a>(root: &'a Value, selector: &Selector) -> Vec<&'a Value> {
    let mut current = vec![root];
    for segment in &selector.segments {
        let mut next = Vec::new();
        for value in current {
            step(value, segment, &mut next);
        }
        if next.is_empty() {
            return next;
        }
        current = next;
    }
    current
}

/// Follows one segment from `value`, pushing what it reaches onto `out`.
fn step<'a>(value: &'a Value, segment: &Segment, out: &mut Vec<&'a Value>) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => out.extend(lookup(map, segment)),
            Value::Array(items) => match segment.index() {
                Some(index) => out.extend(items.get(index)),
                None => pending.extend(items.iter().rev()),
            },
            _ => {}
        }
    }
}

/// The key exactly, else (for `.Field` segments) the first key equal ignoring ASCII case.
fn lookup<'a>(map: &'a Map<String, Value>, segment: &Segment) -> Option<&'a Value> {
    let name = segment.name();
    if let Some(found) = map.get(name) {
        return Some(found);
    }
    if !segment.case_insensitive() {
        return None;
    }
    map.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// `==`: a scalar equal to `raw` in its own type, or an array holding one.
fn equals(value: &Value, raw: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| scalar_equals(item, raw)),
        other => scalar_equals(other, raw),
    }
}

/// `in` / `contains`: array membership, object key, or substring.
fn contains(value: &Value, raw: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| scalar_equals(item, raw)),
        Value::Object(map) => map.contains_key(raw),
        Value::String(s) => s.contains(raw),
        _ => false,
    }
}

fn regex_matches(value: &Value, re: &Regex) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| scalar_matches(item, re)),
        other => scalar_matches(other, re),
    }
}

fn scalar_matches(value: &Value, re: &Regex) -> bool {
    match value {
        Value::String(s) => re.is_match(s),
        Value::Number(n) => re.is_match(&n.to_string()),
        Value::Bool(b) => re.is_match(if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// Compares `raw` with a scalar after converting it to the scalar's type.
fn scalar_equals(value: &Value, raw: &str) -> bool {
    match value {
        Value::String(s) => s == raw,
        Value::Number(n) => number_equals(n, raw),
        Value::Bool(b) => parse_bool(raw) == Some(*b),
        _ => false,
    }
}

fn number_equals(n: &Number, raw: &str) -> bool {
    if let (Some(a), Ok(b)) = (n.as_i64(), raw.parse::<i64>()) {
        return a == b;
    }
    if let (Some(a), Ok(b)) = (n.as_u64(), raw.parse::<u64>()) {
        return a == b;
    }
    match (n.as_f64(), raw.parse::<f64>()) {
        (Some(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Go's `strconv.ParseBool`, which bexpr uses.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
