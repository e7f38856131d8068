//! Consul's `?filter=` expression language (HashiCorp's go-bexpr), evaluated
//! against records rendered as [`serde_json::Value`]s in the shapes Consul's
//! HTTP API returns them.
//!
//! ```text
//!   Service == web and "primary" in Tags
//!   Checks.Status != critical
//!   Node.Meta["rack"] == "r1" or not (Service.Service matches "^we")
//! ```
//!
//! * Match operators: `==`, `!=`, `is empty`, `is not empty`, `<v> in <sel>`,
//!   `<v> not in <sel>`, `<sel> contains <v>`, `<sel> not contains <v>`,
//!   `<sel> matches <regex>`, `<sel> not matches <regex>`. There are no
//!   ordering operators (`<`, `>`), just as in bexpr.
//! * Logic: `not` binds tighter than `and`, which binds tighter than `or`;
//!   parentheses group. Keywords are lowercase.
//! * Selectors: `A.B.C`, `Meta["key-with-dash"]`, `Checks.0.Status`, or a
//!   quoted JSON pointer `"/Service/Meta/env"`. `.Field` steps fall back to
//!   an ASCII-case-insensitive key match; `["key"]` steps are exact.
//! * Values: `"double"` (Go escapes) or `` `raw` `` strings, numbers, or bare
//!   words (`passing`, `true`); a value is converted to the type of the JSON
//!   field it is compared with.
//! * Arrays: a step through an array continues into every element; positive
//!   operators hold if ANY reached value satisfies them, negated ones if NONE
//!   does. A missing field makes `==` false and `!=` true.
//!
//! Pure logic: URL-decoding the query parameter and choosing which records to
//! feed in (e.g. the values of `/v1/agent/services`' map) is the caller's job.

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;

use serde_json::Value;

pub use error::FilterError;

/// Longest accepted expression, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// Deepest accepted nesting of parentheses and `not`s.
pub const MAX_NESTING_DEPTH: usize = 64;

/// A parsed filter expression, ready to test records.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: ast::Expr,
}

impl Filter {
    /// Parses `expr`; regular expressions are compiled here, so a bad one is
    /// a parse error.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        parser::parse(expr).map(|expr| Filter { expr })
    }

    /// Whether `record` satisfies the expression.
    pub fn matches(&self, record: &Value) -> bool {
        self.expr.evaluate(record)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(expr: &str) -> Result<Filter, FilterError> {
        Filter::parse(expr)
    }
}

/// Parses `expr` (`None` or empty = keep everything) and keeps the matching records.
pub fn apply(expr: Option<&str>, records: Vec<Value>) -> Result<Vec<Value>, FilterError> {
    let Some(expr) = expr.filter(|e| !e.is_empty()) else {
        return Ok(records);
    };
    let filter = Filter::parse(expr)?;
    Ok(records.into_iter().filter(|r| filter.matches(r)).collect())
}

#[cfg(test)]
mod tests;
