//! The error type returned when a filter expression cannot be parsed.

use thiserror::Error;

/// Why a `?filter=` expression was rejected.
///
/// Consul answers a bad filter with HTTP 400 and the error text as the body;
/// the [`Display`](std::fmt::Display) form of this type is meant for exactly
/// that. Positions are 1-based `line:column`, counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The expression is not well formed.
    #[error("filter: {line}:{column}: {message}")]
    Syntax {
        /// 1-based line of the offending input.
        line: usize,
        /// 1-based column (in characters) of the offending input.
        column: usize,
        /// What was wrong, e.g. `expected a value after "=="`.
        message: String,
    },
    /// The expression is longer than [`MAX_EXPRESSION_LEN`](crate::MAX_EXPRESSION_LEN) bytes.
    #[error("filter: expression is {len} bytes long; the maximum is {max}")]
    TooLong {
        /// Length of the rejected expression, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Parentheses and `not`s are nested more than
    /// [`MAX_NESTING_DEPTH`](crate::MAX_NESTING_DEPTH) levels deep.
    #[error("filter: {line}:{column}: expression is nested more than {max} levels deep")]
    TooDeep {
        /// 1-based line where the limit was crossed.
        line: usize,
        /// 1-based column where the limit was crossed.
        column: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern of a `matches` / `not matches` is not a valid regular expression.
    #[error("filter: {line}:{column}: invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex {
        /// 1-based line of the pattern.
        line: usize,
        /// 1-based column of the pattern.
        column: usize,
        /// The pattern as written (after unquoting).
        pattern: String,
        /// The regex engine's complaint.
        reason: String,
    },
}

impl FilterError {
    /// A [`FilterError::Syntax`] at byte `offset` of `input`.
    pub(crate) fn syntax(input: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = position(input, offset);
        FilterError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }

    /// A [`FilterError::TooDeep`] at byte `offset` of `input`.
    pub(crate) fn too_deep(input: &str, offset: usize, max: usize) -> Self {
        let (line, column) = position(input, offset);
        FilterError::TooDeep { line, column, max }
    }

    /// A [`FilterError::InvalidRegex`] for the pattern starting at byte `offset`.
    pub(crate) fn invalid_regex(input: &str, offset: usize, pattern: &str, reason: String) -> Self {
        let (line, column) = position(input, offset);
        FilterError::InvalidRegex {
            line,
            column,
            pattern: pattern.to_owned(),
            reason,
        }
    }
}

/// 1-based `(line, column)` of byte `offset` in `input`; columns count chars.
fn position(input: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (at, c) in input.char_indices() {
        if at >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_lines() {
        assert_eq!(position("abc", 0), (1, 1));
        assert_eq!(position("abc", 2), (1, 3));
        assert_eq!(position("a\nbc", 3), (2, 2));
        assert_eq!(position("é==", 2), (1, 2));
        assert_eq!(position("ab", 99), (1, 3));
    }

    #[test]
    fn display_carries_the_position() {
        let err = FilterError::syntax("Port ==", 7, "expected a value after \"==\"");
        assert_eq!(
            err.to_string(),
            "filter: 1:8: expected a value after \"==\""
        );
    }
}
