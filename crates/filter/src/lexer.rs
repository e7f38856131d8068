//! Splits a filter expression into tokens.

use crate::error::FilterError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: an identifier or keyword (`Service`, `and`, `passing`).
    Word(String),
    /// A number literal, kept as written (`80`, `-1`, `0.5`).
    Number(String),
    /// A `"quoted"` or `` `raw` `` string, unquoted.
    Str(String),
    /// `.`
    Dot,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// End of input.
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::Word(word) => format!("{word:?}"),
            TokenKind::Number(number) => format!("number {number}"),
            TokenKind::Str(text) => format!("string {text:?}"),
            TokenKind::Dot => "\".\"".to_owned(),
            TokenKind::LBracket => "\"[\"".to_owned(),
            TokenKind::RBracket => "\"]\"".to_owned(),
            TokenKind::LParen => "\"(\"".to_owned(),
            TokenKind::RParen => "\")\"".to_owned(),
            TokenKind::Eq => "\"==\"".to_owned(),
            TokenKind::Ne => "\"!=\"".to_owned(),
            TokenKind::Eof => "the end of the expression".to_owned(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What the token is.
    pub(crate) kind: TokenKind,
    /// Byte offset of its first character in the input.
    pub(crate) offset: usize,
}

/// The tokenizer state.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    /// The previous token was a `.`, so a number here is an index (`Checks.0`).
    after_dot: bool,
}

impl<'a> Lexer<'a> {
    /// Tokenizes all of `input`; the last token is always [`TokenKind::Eof`].
    pub(crate) fn tokenize(input: &'a str) -> Result<Vec<Token>, FilterError> {
        let mut lexer = Lexer {
            input,
            pos: 0,
            after_dot: false,
        };
        let mut tokens = Vec::new();
        loop {
            let token = lexer.next_token()?;
            let done = token.kind == TokenKind::Eof;
            lexer.after_dot = token.kind == TokenKind::Dot;
            tokens.push(token);
            if done {
                return Ok(tokens);
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input.get(self.pos..)?.chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.input.get(self.pos..)?.chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> FilterError {
        FilterError::syntax(self.input, offset, message)
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.bump();
        }
        let offset = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                offset,
            });
        };
        let kind = match c {
            '.' => self.single(TokenKind::Dot),
            '[' => self.single(TokenKind::LBracket),
            ']' => self.single(TokenKind::RBracket),
            '(' => self.single(TokenKind::LParen),
            ')' => self.single(TokenKind::RParen),
            '=' | '!' => self.operator(c)?,
            '"' => self.quoted()?,
            '`' => self.raw()?,
            '-' | '0'..='9' => self.number()?,
            c if is_word_start(c) => self.word(),
            other => return Err(self.error(offset, format!("unexpected character {other:?}"))),
        };
        Ok(Token { kind, offset })
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        kind
    }

    fn operator(&mut self, first: char) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        self.bump();
        if self.peek() != Some('=') {
            let hint = if first == '=' { "==" } else { "!=" };
            return Err(self.error(
                start,
                format!("unexpected character {first:?} (did you mean {hint:?}?)"),
            ));
        }
        self.bump();
        Ok(if first == '=' {
            TokenKind::Eq
        } else {
            TokenKind::Ne
        })
    }

    fn word(&mut self) -> TokenKind {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.bump();
        }
        TokenKind::Word(self.input[start..self.pos].to_owned())
    }

    fn number(&mut self) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error(start, "expected a digit after \"-\""));
            }
        }
        self.digits();
        let fraction =
            self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit());
        if fraction && !self.after_dot {
            self.bump();
            self.digits();
        }
        if self.peek().is_some_and(is_word_char) {
            return Err(self.error(start, "invalid number literal"));
        }
        Ok(TokenKind::Number(self.input[start..self.pos].to_owned()))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn raw(&mut self) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        self.bump();
        let body = self.pos;
        loop {
            match self.bump() {
                None => return Err(self.error(start, "unterminated string literal")),
                Some('`') => break,
                Some(_) => {}
            }
        }
        Ok(TokenKind::Str(self.input[body..self.pos - 1].to_owned()))
    }

    fn quoted(&mut self) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(start, "unterminated string literal")),
                Some('"') => return Ok(TokenKind::Str(text)),
                Some('\\') => text.push(self.escape()?),
                Some(c) => text.push(c),
            }
        }
    }

    /// Decodes the escape after a backslash (Go string-literal escapes).
    fn escape(&mut self) -> Result<char, FilterError> {
        let start = self.pos.saturating_sub(1);
        let Some(c) = self.bump() else {
            return Err(self.error(start, "unterminated string literal"));
        };
        let decoded = match c {
            '"' | '\\' | '\'' | '/' => Some(c),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{07}'),
            'b' => Some('\u{08}'),
            'f' => Some('\u{0c}'),
            'v' => Some('\u{0b}'),
            'x' => self.hex(2),
            'u' => self.hex(4),
            'U' => self.hex(8),
            _ => None,
        };
        decoded.ok_or_else(|| self.error(start, "invalid escape sequence in string literal"))
    }

    /// Reads exactly `count` hex digits as one code point.
    fn hex(&mut self, count: usize) -> Option<char> {
        let mut code: u32 = 0;
        for _ in 0..count {
            let digit = self.peek()?.to_digit(16)?;
            self.bump();
            code = code.checked_mul(16)?.checked_add(digit)?;
        }
        char::from_u32(code)
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        Lexer::tokenize(input)
            .unwrap_or_else(|e| panic!("{input:?}: {e}"))
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn word(w: &str) -> TokenKind {
        TokenKind::Word(w.to_owned())
    }

    #[test]
    fn splits_a_simple_match() {
        assert_eq!(
            kinds("Service.Port==80"),
            vec![
                word("Service"),
                TokenKind::Dot,
                word("Port"),
                TokenKind::Eq,
                TokenKind::Number("80".into()),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn numbers_after_a_dot_are_indexes() {
        assert_eq!(
            kinds("Checks.0.Status"),
            vec![
                word("Checks"),
                TokenKind::Dot,
                TokenKind::Number("0".into()),
                TokenKind::Dot,
                word("Status"),
                TokenKind::Eof
            ]
        );
        assert_eq!(
            kinds("-1.5"),
            vec![TokenKind::Number("-1.5".into()), TokenKind::Eof]
        );
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\u00e9""#)[0],
            TokenKind::Str("a\"b\\c\né".into())
        );
        assert_eq!(kinds(r"`a\b`")[0], TokenKind::Str(r"a\b".into()));
        assert_eq!(kinds(r#""""#)[0], TokenKind::Str(String::new()));
    }

    #[test]
    fn words_may_contain_dashes_and_slashes() {
        assert_eq!(kinds("foo-bar/baz")[0], word("foo-bar/baz"));
    }

    #[test]
    fn rejects_bad_input_with_positions() {
        let cases = [
            ("\"abc", "filter: 1:1: unterminated string literal"),
            ("a == `x", "filter: 1:6: unterminated string literal"),
            (
                "a = b",
                "filter: 1:3: unexpected character '=' (did you mean \"==\"?)",
            ),
            (
                "a ! b",
                "filter: 1:3: unexpected character '!' (did you mean \"!=\"?)",
            ),
            ("a == 80abc", "filter: 1:6: invalid number literal"),
            ("a == -x", "filter: 1:6: expected a digit after \"-\""),
            (
                "a == \"\\q\"",
                "filter: 1:7: invalid escape sequence in string literal",
            ),
            ("a\n  # b", "filter: 2:3: unexpected character '#'"),
        ];
        for (input, want) in cases {
            let err = Lexer::tokenize(input).err().map(|e| e.to_string());
            assert_eq!(err.as_deref(), Some(want), "{input:?}");
        }
    }
}
