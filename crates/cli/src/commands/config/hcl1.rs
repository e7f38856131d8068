//! A compatibility rewrite of HCL 1 idioms that HCL 2 (`hcl-rs`) rejects
//! but Consul's config entry examples use:
//!
//! - a nested block inside an object expression, `[{ Match { HTTP { … } } }]`,
//!   becomes an attribute, `[{ Match = { HTTP = { … } } }]`;
//! - a one-word block whose body has quoted keys, `meta { "foo" = "bar" }`,
//!   becomes an object attribute, `meta = { "foo" = "bar" }`.
//!
//! Only the structure is looked at: strings, comments and heredocs are
//! skipped, and nothing else of the text changes. The caller tries the text
//! as written first and rewrites only when that fails.

/// A significant token of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Ident,
    Str,
    LBrace,
    RBrace,
    /// `=` or `:`.
    Assign,
    /// `[`, `,` or `(`: an expression starts after it.
    ExprStart,
    Newline,
    Other,
}

/// What an open `{` begins.
#[derive(Debug)]
struct Frame {
    object: bool,
    /// Byte offset of the `{`.
    at: usize,
    /// A block named by one identifier (may become an object attribute).
    simple_header: bool,
    quoted_keys: bool,
}

/// Rewrites `text` until it no longer changes (each pass may expose nested
/// blocks inside a block it turned into an object).
pub(crate) fn rewrite(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..16 {
        let next = rewrite_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn rewrite_once(text: &str) -> String {
    let tokens = tokenize(text);
    let mut inserts = insertion_points(&tokens);
    inserts.sort_unstable();
    inserts.dedup();
    let mut out = String::with_capacity(text.len() + inserts.len() * 2);
    let mut last = 0;
    for at in inserts {
        out.push_str(&text[last..at]);
        out.push_str("= ");
        last = at;
    }
    out.push_str(&text[last..]);
    out
}

/// Offsets of the `{` before which `= ` must be inserted.
fn insertion_points(tokens: &[(Tok, usize)]) -> Vec<usize> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut inserts = Vec::new();
    for (i, &(tok, at)) in tokens.iter().enumerate() {
        let prev = previous(tokens, i, true);
        match tok {
            Tok::LBrace => {
                let in_object = stack.last().is_some_and(|f| f.object);
                let frame = match prev {
                    Some(Tok::Ident | Tok::Str) if in_object => {
                        inserts.push(at);
                        object_frame(at)
                    }
                    Some(Tok::Ident | Tok::Str) => Frame {
                        object: false,
                        at,
                        simple_header: prev == Some(Tok::Ident) && header_is_one_word(tokens, i),
                        quoted_keys: false,
                    },
                    _ => object_frame(at),
                };
                stack.push(frame);
            }
            Tok::RBrace => {
                if let Some(f) = stack.pop()
                    && !f.object
                    && f.simple_header
                    && f.quoted_keys
                {
                    inserts.push(f.at);
                }
            }
            Tok::Str => {
                let line_start = matches!(
                    previous(tokens, i, false),
                    None | Some(Tok::Newline | Tok::LBrace)
                );
                let assigns = tokens.get(i + 1).map(|t| t.0) == Some(Tok::Assign);
                if let Some(f) = stack.last_mut()
                    && !f.object
                    && line_start
                    && assigns
                {
                    f.quoted_keys = true;
                }
            }
            _ => {}
        }
    }
    inserts
}

fn object_frame(at: usize) -> Frame {
    Frame {
        object: true,
        at,
        simple_header: false,
        quoted_keys: false,
    }
}

/// The token before `i`, optionally skipping newlines.
fn previous(tokens: &[(Tok, usize)], i: usize, skip_newlines: bool) -> Option<Tok> {
    tokens[..i]
        .iter()
        .rev()
        .map(|t| t.0)
        .find(|t| !skip_newlines || *t != Tok::Newline)
}

/// Whether the block opened at token `i` has a header of exactly one word.
fn header_is_one_word(tokens: &[(Tok, usize)], i: usize) -> bool {
    i >= 1
        && matches!(
            previous(tokens, i - 1, false),
            None | Some(Tok::Newline | Tok::LBrace | Tok::RBrace)
        )
}

/// The significant tokens of `text` with their byte offsets.
fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        i += 1;
        let tok = match c {
            b'\n' => Tok::Newline,
            b' ' | b'\t' | b'\r' => continue,
            b'#' => {
                i = line_end(bytes, i);
                continue;
            }
            b'/' if bytes.get(i) == Some(&b'/') => {
                i = line_end(bytes, i);
                continue;
            }
            b'/' if bytes.get(i) == Some(&b'*') => {
                i = block_comment_end(bytes, i + 1);
                continue;
            }
            b'<' if bytes.get(i) == Some(&b'<') => {
                i = heredoc_end(text, i + 1);
                Tok::Str
            }
            b'"' => {
                i = string_end(bytes, i);
                Tok::Str
            }
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'=' | b'!' | b'<' | b'>' if matches!(bytes.get(i), Some(b'=' | b'>')) => {
                i += 1;
                Tok::Other
            }
            b'=' => Tok::Assign,
            b':' => Tok::Assign,
            b'[' | b',' | b'(' => Tok::ExprStart,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
                {
                    i += 1;
                }
                Tok::Ident
            }
            _ => Tok::Other,
        };
        tokens.push((tok, start));
    }
    tokens
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .windows(2)
        .position(|w| w == b"*/")
        .map_or(bytes.len(), |p| from + p + 2)
}

/// The offset just past the closing quote of a string opened before `from`.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The offset just past a heredoc whose `<<` ends before `from`.
fn heredoc_end(text: &str, from: usize) -> usize {
    let header_end = line_end(text.as_bytes(), from);
    let marker = text[from..header_end].trim_start_matches('-').trim();
    if marker.is_empty() {
        return header_end;
    }
    let mut at = header_end;
    while at < text.len() {
        let next = line_end(text.as_bytes(), at + 1);
        if text[at + 1..next].trim() == marker {
            return next;
        }
        at = next;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn nested_blocks_in_object_expressions_become_attributes() {
        let text = "Routes = [\n  {\n    Match {\n      HTTP {\n        PathPrefix = \"/a\"\n      }\n    }\n  },\n]\n";
        assert_eq!(
            rewrite(text),
            "Routes = [\n  {\n    Match = {\n      HTTP = {\n        PathPrefix = \"/a\"\n      }\n    }\n  },\n]\n"
        );
    }

    #[test]
    fn blocks_with_quoted_keys_become_objects() {
        let text = "kind = \"mesh\"\nmeta {\n  \"foo\" = \"bar\"\n}\nhttp {\n  x = true\n}\n";
        assert_eq!(
            rewrite(text),
            "kind = \"mesh\"\nmeta = {\n  \"foo\" = \"bar\"\n}\nhttp {\n  x = true\n}\n"
        );
    }

    #[test]
    fn leaves_strings_comments_and_valid_hcl2_alone() {
        let text = "# a { b {\nName = \"x { y {\" // c { d {\nConfig {\n  k = 1\n}\n\
                    Sources = [{ Name = \"web\", Action = \"allow\" }]\nD = <<EOF\nq {\n r {\nEOF\n";
        assert_eq!(rewrite(text), text);
    }
}
