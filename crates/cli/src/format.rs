//! Output formatting shared by commands.

/// Aligns `rows` into columns like Consul's `columnize.Format`: cells are
/// trimmed, every column but the last is left-aligned to its widest cell and
/// followed by two spaces; lines are joined with `\n` (no trailing newline).
pub(crate) fn columnize(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.trim().chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let lines: Vec<String> = rows.iter().map(|row| format_row(row, &widths)).collect();
    lines.join("\n")
}

fn format_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in row.iter().enumerate() {
        let cell = cell.trim();
        if i + 1 == row.len() {
            line.push_str(cell);
        } else {
            let width = widths.get(i).copied().unwrap_or(0);
            line.push_str(&format!("{cell:<width$}  "));
        }
    }
    line
}

/// Re-encodes raw JSON text as Go's `encoding/json` writes it, keeping the
/// key order of the input: compact when `indent` is `None`
/// (`json.Encoder`, without the newline), otherwise one element per line
/// with `indent` per level (`json.MarshalIndent(v, "", indent)`). Inside
/// strings `<`, `>`, `&`, U+2028 and U+2029 are escaped, as Go does.
/// The input must be valid JSON.
pub(crate) fn reformat_json(raw: &str, indent: Option<&str>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0usize;
    let mut chars = raw.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(indent);
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => copy_string(&mut chars, &mut out),
            '{' | '[' => {
                out.push(c);
                let close = if c == '{' { '}' } else { ']' };
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => {
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
            }
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Copies the rest of a JSON string (after its opening quote), escaping
/// like Go's encoder.
fn copy_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    out.push('"');
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '"' => {
                out.push(c);
                return;
            }
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

/// The raw text of the first element of a top-level JSON array, if any.
/// The input must be valid JSON.
pub(crate) fn first_array_element(raw: &str) -> Option<&str> {
    array_elements(raw)?.into_iter().next()
}

/// The raw text of each element of a top-level JSON array, in order;
/// `None` when `raw` is not an array. The input must be valid JSON.
pub(crate) fn array_elements(raw: &str) -> Option<Vec<&str>> {
    let body = raw.trim_start().strip_prefix('[')?;
    let offset = raw.len() - body.len();
    let mut elements = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = None;
    for (i, c) in body.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if start.is_none() && !c.is_ascii_whitespace() {
            if c == ']' {
                return Some(elements);
            }
            start = Some(i);
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' if depth > 0 => depth -= 1,
            ',' | ']' if depth == 0 => {
                let begin = offset + start.take()?;
                elements.push(raw[begin..offset + i].trim_end());
                if c == ']' {
                    return Some(elements);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reformats_json_like_go() {
        let raw = r#"{"b": [1, {"x":"a<b"}], "a":{}, "c":[ ], "d":"q\"\\"}"#;
        assert_eq!(
            reformat_json(raw, None),
            r#"{"b":[1,{"x":"a\u003cb"}],"a":{},"c":[],"d":"q\"\\"}"#
        );
        assert_eq!(
            reformat_json(raw, Some("    ")),
            "{\n    \"b\": [\n        1,\n        {\n            \"x\": \"a\\u003cb\"\n        }\n    ],\n    \
             \"a\": {},\n    \"c\": [],\n    \"d\": \"q\\\"\\\\\"\n}"
        );
        assert_eq!(reformat_json("null", Some("  ")), "null");
    }

    #[test]
    fn finds_the_first_array_element() {
        assert_eq!(
            first_array_element(r#" [ {"a":"],"} , {"b":2}]"#),
            Some(r#"{"a":"],"}"#)
        );
        assert_eq!(first_array_element("[3]"), Some("3"));
        assert_eq!(first_array_element("[ ]"), None);
        assert_eq!(first_array_element("{}"), None);
    }

    #[test]
    fn splits_array_elements() {
        assert_eq!(
            array_elements(r#" [ {"a":"],\"x"} , [1,2], "s" ]"#),
            Some(vec![r#"{"a":"],\"x"}"#, "[1,2]", r#""s""#])
        );
        assert_eq!(array_elements("[ ]"), Some(vec![]));
        assert_eq!(array_elements("null"), None);
    }

    #[test]
    fn aligns_columns_without_padding_the_last() {
        let rows = vec![
            vec!["Node".to_owned(), "ID".to_owned(), "Voter".to_owned()],
            vec!["server-long".to_owned(), "1".to_owned(), "true".to_owned()],
        ];
        assert_eq!(
            columnize(&rows),
            "Node         ID  Voter\nserver-long  1   true"
        );
    }
}
