//! Recursive-descent parser from tokens to an [`Expr`].
//!
//! ```text
//! or    := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "not" unary | "(" or ")" | match
//! match := selector ("==" | "!=") value
//!        | selector ("contains" | "not contains" | "matches" | "not matches") value
//!        | selector "is" ["not"] "empty"
//!        | value ("in" | "not in") selector
//! selector := word ("." (word | digits) | "[" string "]")*  |  "\"/json/pointer\""
//! value := string | number | selector (read as its dotted text)
//! ```

use regex::RegexBuilder;

use crate::ast::{Expr, MatchExpr, MatchOp, MatchValue, Segment, Selector};
use crate::error::FilterError;
use crate::lexer::{Lexer, Token, TokenKind};
use crate::{MAX_EXPRESSION_LEN, MAX_NESTING_DEPTH};

/// Words that cannot start a selector.
const RESERVED: &[&str] = &["and", "or", "not", "in", "is", "contains", "matches"];

/// Size limit for a compiled `matches` pattern, so a hostile one can't eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The left-hand side of a match, before the operator says what it must be.
enum Operand {
    /// A bare path such as `Service.Meta.env`.
    Path(Selector),
    /// A quoted string or number.
    Literal(String, usize),
}

/// Parser state over the token list.
pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    /// Returned by `peek` once the tokens run out (they end with Eof anyway).
    end: Token,
    pos: usize,
    depth: usize,
}

/// Parses a whole expression.
pub(crate) fn parse(input: &str) -> Result<Expr, FilterError> {
    if input.len() > MAX_EXPRESSION_LEN {
        return Err(FilterError::TooLong {
            len: input.len(),
            max: MAX_EXPRESSION_LEN,
        });
    }
    let tokens = Lexer::tokenize(input)?;
    let end = Token {
        kind: TokenKind::Eof,
        offset: input.len(),
    };
    let mut parser = Parser {
        input,
        tokens,
        end,
        pos: 0,
        depth: 0,
    };
    let expr = parser.parse_or()?;
    if parser.peek().kind != TokenKind::Eof {
        return Err(parser.unexpected("expected \"and\", \"or\" or the end of the expression"));
    }
    Ok(expr)
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&self.end)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(w) if w == word)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> FilterError {
        FilterError::syntax(self.input, offset, message)
    }

    /// An error at the next token: `<expected>, found <token>`.
    fn unexpected(&self, expected: &str) -> FilterError {
        let token = self.peek();
        let message = format!("{expected}, found {}", token.kind.describe());
        self.error_at(token.offset, message)
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.parse_and()?];
        while self.at_word("or") {
            self.advance();
            terms.push(self.parse_and()?);
        }
        Ok(collapse(terms, Expr::Or))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.parse_unary()?];
        while self.at_word("and") {
            self.advance();
            terms.push(self.parse_unary()?);
        }
        Ok(collapse(terms, Expr::And))
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        self.depth += 1;
        let result = if self.depth > MAX_NESTING_DEPTH {
            Err(FilterError::too_deep(
                self.input,
                self.peek().offset,
                MAX_NESTING_DEPTH,
            ))
        } else {
            self.parse_unary_inner()
        };
        self.depth -= 1;
        result
    }

    fn parse_unary_inner(&mut self) -> Result<Expr, FilterError> {
        if self.at_word("not") {
            self.advance();
            return Ok(Expr::Not(Box::new(self.parse_unary()?)));
        }
        if self.peek().kind != TokenKind::LParen {
            return self.parse_match();
        }
        let open = self.advance();
        let expr = self.parse_or()?;
        if self.peek().kind != TokenKind::RParen {
            let message = format!(
                "expected \")\" to close the \"(\" at column {}, found {}",
                column_of(self.input, open.offset),
                self.peek().kind.describe()
            );
            return Err(self.error_at(self.peek().offset, message));
        }
        self.advance();
        Ok(expr)
    }

    fn parse_match(&mut self) -> Result<Expr, FilterError> {
        let lhs = self.parse_operand()?;
        let op_token = self.advance();
        let op = match &op_token.kind {
            TokenKind::Eq => MatchOp::Equal,
            TokenKind::Ne => MatchOp::NotEqual,
            TokenKind::Word(w) => match w.as_str() {
                "is" => return self.finish_is(lhs),
                "contains" => MatchOp::Contains,
                "matches" => MatchOp::Matches,
                "in" => MatchOp::In,
                "not" => self.negated_op()?,
                _ => return Err(self.bad_operator(&op_token)),
            },
            _ => return Err(self.bad_operator(&op_token)),
        };
        if matches!(op, MatchOp::In | MatchOp::NotIn) {
            self.finish_in(lhs, op)
        } else {
            self.finish_selector_op(lhs, op)
        }
    }

    fn bad_operator(&self, token: &Token) -> FilterError {
        let message = format!(
            "expected an operator (==, !=, is empty, is not empty, in, not in, contains, \
             not contains, matches, not matches), found {}",
            token.kind.describe()
        );
        self.error_at(token.offset, message)
    }

    /// The word after `not` in `x not in y`, `x not contains y`, `x not matches y`.
    fn negated_op(&mut self) -> Result<MatchOp, FilterError> {
        let op = if self.at_word("in") {
            MatchOp::NotIn
        } else if self.at_word("contains") {
            MatchOp::NotContains
        } else if self.at_word("matches") {
            MatchOp::NotMatches
        } else {
            return Err(
                self.unexpected("expected \"in\", \"contains\" or \"matches\" after \"not\"")
            );
        };
        self.advance();
        Ok(op)
    }

    fn finish_is(&mut self, lhs: Operand) -> Result<Expr, FilterError> {
        let selector = self.require_selector(lhs, "is")?;
        let op = if self.at_word("not") {
            self.advance();
            MatchOp::IsNotEmpty
        } else {
            MatchOp::IsEmpty
        };
        if !self.at_word("empty") {
            let after = if op == MatchOp::IsEmpty {
                "is"
            } else {
                "is not"
            };
            return Err(self.unexpected(&format!("expected \"empty\" after \"{after}\"")));
        }
        self.advance();
        Ok(Expr::Match(MatchExpr {
            selector,
            op,
            value: None,
        }))
    }

    fn finish_selector_op(&mut self, lhs: Operand, op: MatchOp) -> Result<Expr, FilterError> {
        let selector = self.require_selector(lhs, op.as_str())?;
        let offset = self.peek().offset;
        let raw = self.parse_value(op)?;
        let regex = if op.is_regex() {
            let compiled = RegexBuilder::new(&raw)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| FilterError::invalid_regex(self.input, offset, &raw, e.to_string()))?;
            Some(compiled)
        } else {
            None
        };
        Ok(Expr::Match(MatchExpr {
            selector,
            op,
            value: Some(MatchValue { raw, regex }),
        }))
    }

    fn finish_in(&mut self, lhs: Operand, op: MatchOp) -> Result<Expr, FilterError> {
        let raw = match lhs {
            Operand::Path(selector) => selector.render(),
            Operand::Literal(raw, _) => raw,
        };
        let operand = match self.peek().kind {
            TokenKind::Word(_) | TokenKind::Str(_) => self.parse_operand()?,
            _ => {
                let expected = format!("expected a selector after \"{}\"", op.as_str());
                return Err(self.unexpected(&expected));
            }
        };
        let selector = self.require_selector(operand, op.as_str())?;
        Ok(Expr::Match(MatchExpr {
            selector,
            op,
            value: Some(MatchValue { raw, regex: None }),
        }))
    }

    /// The operand as a selector; a quoted `"/a/b"` is read as a JSON pointer.
    fn require_selector(&self, operand: Operand, op: &str) -> Result<Selector, FilterError> {
        match operand {
            Operand::Path(selector) => Ok(selector),
            Operand::Literal(text, _) if text.starts_with('/') => Ok(json_pointer(&text)),
            Operand::Literal(text, offset) => {
                let message = format!("expected a selector for \"{op}\", found the value {text:?}");
                Err(self.error_at(offset, message))
            }
        }
    }

    fn parse_value(&mut self, op: MatchOp) -> Result<String, FilterError> {
        match self.peek().kind {
            TokenKind::Word(_) | TokenKind::Str(_) | TokenKind::Number(_) => {
                match self.parse_operand()? {
                    Operand::Path(selector) => Ok(selector.render()),
                    Operand::Literal(raw, _) => Ok(raw),
                }
            }
            _ => Err(self.unexpected(&format!("expected a value after \"{}\"", op.as_str()))),
        }
    }

    fn parse_operand(&mut self) -> Result<Operand, FilterError> {
        let token = self.advance();
        match token.kind {
            TokenKind::Str(text) | TokenKind::Number(text) => {
                Ok(Operand::Literal(text, token.offset))
            }
            TokenKind::Word(word) if !RESERVED.contains(&word.as_str()) => {
                let selector = self.parse_path(word)?;
                Ok(Operand::Path(selector))
            }
            other => {
                let message = format!("expected a selector or value, found {}", other.describe());
                Err(self.error_at(token.offset, message))
            }
        }
    }

    /// The rest of a dotted / indexed path after its first word.
    fn parse_path(&mut self, first: String) -> Result<Selector, FilterError> {
        let mut segments = vec![Segment::Field(first)];
        loop {
            match self.peek().kind {
                TokenKind::Dot => {
                    self.advance();
                    segments.push(self.dotted_segment()?);
                }
                TokenKind::LBracket => {
                    self.advance();
                    segments.push(self.index_segment()?);
                }
                _ => return Ok(Selector { segments }),
            }
        }
    }

    fn dotted_segment(&mut self) -> Result<Segment, FilterError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Word(name) => {
                self.advance();
                Ok(Segment::Field(name))
            }
            TokenKind::Number(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                self.advance();
                Ok(Segment::Field(digits))
            }
            _ => Err(self.unexpected("expected a field name after \".\"")),
        }
    }

    fn index_segment(&mut self) -> Result<Segment, FilterError> {
        let TokenKind::Str(key) = self.peek().kind.clone() else {
            return Err(self.unexpected("expected a quoted key after \"[\""));
        };
        self.advance();
        if self.peek().kind != TokenKind::RBracket {
            return Err(self.unexpected("expected \"]\" to close the index"));
        }
        self.advance();
        Ok(Segment::Key(key))
    }
}

/// One term stays itself; several become an `and` / `or` node.
fn collapse(mut terms: Vec<Expr>, build: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1
        && let Some(only) = terms.pop()
    {
        return only;
    }
    build(terms)
}

/// A JSON pointer (`/Service/Meta/a~1b`) as exact-key segments.
fn json_pointer(text: &str) -> Selector {
    let segments = text
        .split('/')
        .skip(1)
        .map(|part| Segment::Key(part.replace("~1", "/").replace("~0", "~")))
        .collect();
    Selector { segments }
}

/// 1-based character column of byte `offset` on its line.
fn column_of(input: &str, offset: usize) -> usize {
    let line_start = input
        .get(..offset)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |nl| nl + 1);
    input
        .get(line_start..offset)
        .map_or(1, |text| text.chars().count() + 1)
}
