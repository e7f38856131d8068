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

/// The raw text of the value of `key` in a top-level JSON object, if any.
/// The input must be valid JSON.
pub(crate) fn object_field<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    let body = raw.trim_start().strip_prefix('{')?;
    let offset = raw.len() - body.len();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0;
    let mut last_string: Option<(usize, usize)> = None;
    let mut value_start: Option<(usize, (usize, usize))> = None;
    for (i, c) in body.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_string = false;
                    last_string = Some((string_start, i));
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                string_start = i + 1;
            }
            ':' if depth == 0 => value_start = last_string.map(|k| (i + 1, k)),
            '{' | '[' => depth += 1,
            '}' | ']' if depth > 0 => depth -= 1,
            ',' | '}' if depth == 0 => {
                if let Some((start, (ks, ke))) = value_start.take()
                    && serde_json::from_str::<String>(&format!("\"{}\"", &body[ks..ke]))
                        .is_ok_and(|k| k == key)
                {
                    return Some(raw[offset + start..offset + i].trim());
                }
                if c == '}' {
                    return None;
                }
            }
            _ => {}
        }
    }
    None
}

/// An RFC 3339 time as Go's `time.RFC850` layout in UTC
/// (`Monday, 02-Jan-06 15:04:05 UTC`); Go's zero time when `None` or
/// unreadable, as Consul prints it for intentions without a creation time.
pub(crate) fn rfc850_utc(time: Option<&str>) -> String {
    let secs = time.and_then(unix_seconds).unwrap_or(ZERO_TIME);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    format!(
        "{weekday}, {d:02}-{month}-{:02} {:02}:{:02}:{:02} UTC",
        y.rem_euclid(100),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds.
const ZERO_TIME: i64 = -62_135_596_800;

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn unix_seconds(text: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let rest = text
        .get(19..)?
        .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_object_fields() {
        let raw = r#" {"a": {"b": [1, "}"]}, "k\"ey": 2 , "Permissions": [{"Action": "deny"}]}"#;
        assert_eq!(object_field(raw, "a"), Some(r#"{"b": [1, "}"]}"#));
        assert_eq!(object_field(raw, "k\"ey"), Some("2"));
        assert_eq!(
            object_field(raw, "Permissions"),
            Some(r#"[{"Action": "deny"}]"#)
        );
        assert_eq!(object_field(raw, "b"), None);
        assert_eq!(object_field("[1]", "a"), None);
    }

    #[test]
    fn formats_times_like_go_rfc850() {
        assert_eq!(
            rfc850_utc(Some("2024-02-29T13:04:05.123456Z")),
            "Thursday, 29-Feb-24 13:04:05 UTC"
        );
        assert_eq!(
            rfc850_utc(Some("2006-01-02T15:04:05-07:00")),
            "Monday, 02-Jan-06 22:04:05 UTC"
        );
        assert_eq!(rfc850_utc(None), "Monday, 01-Jan-01 00:00:00 UTC");
        assert_eq!(
            rfc850_utc(Some("garbage")),
            "Monday, 01-Jan-01 00:00:00 UTC"
        );
    }

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
