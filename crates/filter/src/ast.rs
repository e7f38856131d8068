//! The parsed form of a filter expression.

use regex::Regex;

/// A boolean expression over one record.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// True when every operand is true (`a and b and c`).
    And(Vec<Expr>),
    /// True when any operand is true (`a or b or c`).
    Or(Vec<Expr>),
    /// `not <expr>`.
    Not(Box<Expr>),
    /// A single comparison such as `Service == web`.
    Match(MatchExpr),
}

/// `<selector> <op> <value>` (or `<value> in <selector>`, `<selector> is empty`).
#[derive(Debug, Clone)]
pub(crate) struct MatchExpr {
    /// The path into the record.
    pub(crate) selector: Selector,
    /// The comparison.
    pub(crate) op: MatchOp,
    /// The right-hand value; `None` only for `is empty` / `is not empty`.
    pub(crate) value: Option<MatchValue>,
}

/// The comparison operators of the filter language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `is empty`
    IsEmpty,
    /// `is not empty`
    IsNotEmpty,
    /// `<value> in <selector>`
    In,
    /// `<value> not in <selector>`
    NotIn,
    /// `<selector> contains <value>`
    Contains,
    /// `<selector> not contains <value>`
    NotContains,
    /// `<selector> matches <regex>`
    Matches,
    /// `<selector> not matches <regex>`
    NotMatches,
}

impl MatchOp {
    /// The operator as written in an expression.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "==",
            MatchOp::NotEqual => "!=",
            MatchOp::IsEmpty => "is empty",
            MatchOp::IsNotEmpty => "is not empty",
            MatchOp::In => "in",
            MatchOp::NotIn => "not in",
            MatchOp::Contains => "contains",
            MatchOp::NotContains => "not contains",
            MatchOp::Matches => "matches",
            MatchOp::NotMatches => "not matches",
        }
    }

    /// Whether the value is a regular expression.
    pub(crate) fn is_regex(self) -> bool {
        matches!(self, MatchOp::Matches | MatchOp::NotMatches)
    }
}

/// A dotted / indexed path such as `Service.Meta["env"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    /// The path components, outermost first.
    pub(crate) segments: Vec<Segment>,
}

impl Selector {
    /// The path joined with dots; a bare selector used as a value means this text.
    pub(crate) fn render(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(Segment::name).collect();
        names.join(".")
    }
}

/// One component of a [`Selector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.Name`: matches an object key exactly, else ignoring ASCII case.
    Field(String),
    /// `["name"]` or a JSON-pointer part: matches an object key exactly.
    Key(String),
}

impl Segment {
    /// The key text.
    pub(crate) fn name(&self) -> &str {
        match self {
            Segment::Field(name) | Segment::Key(name) => name,
        }
    }

    /// Whether object keys may match ignoring ASCII case.
    pub(crate) fn case_insensitive(&self) -> bool {
        matches!(self, Segment::Field(_))
    }

    /// The array index this segment denotes, if it is all digits.
    pub(crate) fn index(&self) -> Option<usize> {
        let name = self.name();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        name.parse().ok()
    }
}

/// The literal a selector is compared with.
#[derive(Debug, Clone)]
pub(crate) struct MatchValue {
    /// The value's text, unquoted; converted to the field's JSON type when compared.
    pub(crate) raw: String,
    /// The compiled pattern, for `matches` / `not matches`.
    pub(crate) regex: Option<Regex>,
}
