//! A small Go-`flag`-style parser, as Consul's commands use.
//!
//! Accepted forms: `-name`, `--name` (bool flags only), `-name=value`,
//! `--name=value`, `-name value` (non-bool flags only). Parsing stops at the
//! first argument that is not a flag, at a lone `-`, or after `--`. Error
//! texts follow Go's `flag` package.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The type of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    U64,
    /// A repeatable string flag; every occurrence appends.
    List,
}

/// A flag's typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Bool(bool),
    Str(String),
    U64(u64),
    List(Vec<String>),
}

/// One declared flag.
#[derive(Debug, Clone)]
struct Spec {
    name: &'static str,
    kind: Kind,
    default: Value,
    help: &'static str,
    group: &'static str,
}

/// Why parsing stopped without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlagError {
    /// `-h`, `-help` or `--help` was given.
    Help,
    /// A malformed or unknown flag, or a bad value (Go's message).
    Invalid(String),
}

/// The set of flags a command accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlagSet {
    specs: Vec<Spec>,
    group: &'static str,
}

/// The outcome of a successful parse: flag values and positional arguments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    values: BTreeMap<&'static str, Value>,
    args: Vec<String>,
}

// === impl FlagSet ===

impl FlagSet {
    /// An empty flag set whose flags are listed under "Command Options".
    pub(crate) fn new() -> Self {
        Self {
            specs: Vec::new(),
            group: "Command Options",
        }
    }

    /// Lists the flags declared from now on under `group` in the usage text.
    pub(crate) fn group(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }

    /// Declares a boolean flag, false by default.
    pub(crate) fn bool(self, name: &'static str, help: &'static str) -> Self {
        self.declare(name, Kind::Bool, Value::Bool(false), help)
    }

    /// Declares a boolean flag that is true unless set to false.
    pub(crate) fn bool_true(self, name: &'static str, help: &'static str) -> Self {
        self.declare(name, Kind::Bool, Value::Bool(true), help)
    }

    /// Declares a repeatable string flag (Go's `AppendSliceValue`), empty by default.
    pub(crate) fn list(self, name: &'static str, help: &'static str) -> Self {
        self.declare(name, Kind::List, Value::List(Vec::new()), help)
    }

    /// Declares a string flag with a default.
    pub(crate) fn string(self, name: &'static str, default: &str, help: &'static str) -> Self {
        self.declare(name, Kind::Str, Value::Str(default.to_owned()), help)
    }

    /// Declares an unsigned integer flag, 0 by default.
    pub(crate) fn uint(self, name: &'static str, help: &'static str) -> Self {
        self.declare(name, Kind::U64, Value::U64(0), help)
    }

    fn declare(
        mut self,
        name: &'static str,
        kind: Kind,
        default: Value,
        help: &'static str,
    ) -> Self {
        let group = self.group;
        self.specs.push(Spec {
            name,
            kind,
            default,
            help,
            group,
        });
        self
    }

    fn spec(&self, name: &str) -> Option<&Spec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// Parses `args`: flags first, then positional arguments.
    pub(crate) fn parse(&self, args: &[String]) -> Result<Parsed, FlagError> {
        let mut parsed = Parsed::default();
        for spec in &self.specs {
            parsed.values.insert(spec.name, spec.default.clone());
        }
        let mut rest = args.iter().peekable();
        while let Some(&arg) = rest.peek() {
            let Some(body) = flag_body(arg)? else { break };
            rest.next();
            let Some(body) = body else { break }; // "--" terminator
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            let spec = self.spec(name).ok_or_else(|| unknown_flag(name))?;
            let value = match (spec.kind, inline) {
                (Kind::Bool, v) => parse_bool(name, v.as_deref())?,
                (_, Some(v)) => parse_value(spec, v)?,
                (_, None) => match rest.next() {
                    Some(v) => parse_value(spec, v.clone())?,
                    None => return Err(invalid(format!("flag needs an argument: -{name}"))),
                },
            };
            match (parsed.values.get_mut(spec.name), value) {
                (Some(Value::List(items)), Value::List(more)) => items.extend(more),
                (_, value) => {
                    parsed.values.insert(spec.name, value);
                }
            }
        }
        parsed.args = rest.cloned().collect();
        Ok(parsed)
    }

    /// The flag listing of the usage text, grouped like Consul's help.
    pub(crate) fn usage(&self) -> String {
        let mut out = String::new();
        let mut groups: Vec<&str> = Vec::new();
        for spec in &self.specs {
            if !groups.contains(&spec.group) {
                groups.push(spec.group);
            }
        }
        for group in groups {
            let _ = write!(out, "\n{group}:\n");
            for spec in self.specs.iter().filter(|s| s.group == group) {
                let example = if spec.kind == Kind::Bool {
                    ""
                } else {
                    "=<value>"
                };
                let _ = write!(
                    out,
                    "\n  -{}{}\n{}\n",
                    spec.name,
                    example,
                    wrap(spec.help, 5, 80)
                );
            }
        }
        out
    }
}

/// Classifies one argument: `Ok(None)` = not a flag (stop), `Ok(Some(None))` =
/// `--` terminator, `Ok(Some(Some(body)))` = a flag without its dashes.
fn flag_body(arg: &str) -> Result<Option<Option<&str>>, FlagError> {
    if arg.len() < 2 || !arg.starts_with('-') {
        return Ok(None);
    }
    let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
    if arg == "--" {
        return Ok(Some(None));
    }
    if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
        return Err(invalid(format!("bad flag syntax: {arg}")));
    }
    Ok(Some(Some(body)))
}

fn invalid(msg: String) -> FlagError {
    FlagError::Invalid(msg)
}

fn unknown_flag(name: &str) -> FlagError {
    if name == "h" || name == "help" {
        FlagError::Help
    } else {
        invalid(format!("flag provided but not defined: -{name}"))
    }
}

/// Go's `strconv.ParseBool`; a bare bool flag means true.
fn parse_bool(name: &str, value: Option<&str>) -> Result<Value, FlagError> {
    match value {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(Value::Bool(true)),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(Value::Bool(false)),
        Some(v) => Err(invalid(format!(
            "invalid boolean value {} for -{name}: parse error",
            go_quote(v)
        ))),
    }
}

fn parse_value(spec: &Spec, value: String) -> Result<Value, FlagError> {
    match spec.kind {
        Kind::U64 => parse_u64(&value).map(Value::U64).ok_or_else(|| {
            invalid(format!(
                "invalid value {} for flag -{}: parse error",
                go_quote(&value),
                spec.name
            ))
        }),
        Kind::List => Ok(Value::List(vec![value])),
        _ => Ok(Value::Str(value)),
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: decimal, `0x` hex, `0o`/`0` octal, `0b` binary.
fn parse_u64(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    let (digits, radix) = match s.get(..2) {
        Some("0x" | "0X") => (&s[2..], 16),
        Some("0o" | "0O") => (&s[2..], 8),
        Some("0b" | "0B") => (&s[2..], 2),
        _ if s.len() > 1 && s.starts_with('0') => (&s[1..], 8),
        _ => (s.as_str(), 10),
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Quotes like Go's `%q` for the common printable case.
pub(crate) fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Wraps `text` at `width` columns, indenting each line by `indent` spaces.
pub(crate) fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            lines.push(format!("{pad}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{pad}{line}"));
    }
    lines.join("\n")
}

// === impl Parsed ===

impl Parsed {
    /// The value of a bool flag (false if undeclared).
    pub(crate) fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    /// The value of a string flag (empty if undeclared).
    pub(crate) fn str(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }

    /// The value of an unsigned integer flag (0 if undeclared).
    pub(crate) fn uint(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(Value::U64(n)) => *n,
            _ => 0,
        }
    }

    /// Every value of a repeatable flag, in the order given.
    pub(crate) fn list(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(Value::List(items)) => items,
            _ => &[],
        }
    }

    /// A repeatable `key=value` flag as a map (Go's `FlagMapValue`); a later
    /// key wins. A value without `=` is a flag error, as Go reports it.
    pub(crate) fn map(&self, name: &str) -> Result<BTreeMap<String, String>, FlagError> {
        let mut out = BTreeMap::new();
        for item in self.list(name) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(invalid(format!(
                    "invalid value {} for flag -{name}: Missing = in argument: {item}",
                    go_quote(item)
                )));
            };
            out.insert(k.to_owned(), v.to_owned());
        }
        Ok(out)
    }

    /// The positional arguments after the flags.
    pub(crate) fn args(&self) -> &[String] {
        &self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new()
            .bool("recurse", "Recurse.")
            .string("separator", "/", "Separator.")
            .uint("flags", "Flags.")
    }

    fn parse(args: &[&str]) -> Result<Parsed, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        set().parse(&args)
    }

    #[test]
    fn defaults_apply_when_absent() {
        let p = parse(&["key"]).unwrap();
        assert!(!p.bool("recurse"));
        assert_eq!(p.str("separator"), "/");
        assert_eq!(p.uint("flags"), 0);
        assert_eq!(p.args(), ["key"]);
    }

    #[test]
    fn accepts_go_flag_forms() {
        let p = parse(&["-recurse", "--separator=:", "-flags", "42", "k", "v"]).unwrap();
        assert!(p.bool("recurse"));
        assert_eq!(p.str("separator"), ":");
        assert_eq!(p.uint("flags"), 42);
        assert_eq!(p.args(), ["k", "v"]);
        let p = parse(&["--recurse=false", "-flags=0x10", "-separator="]).unwrap();
        assert!(!p.bool("recurse"));
        assert_eq!(p.uint("flags"), 16);
        assert_eq!(p.str("separator"), "");
    }

    #[test]
    fn stops_at_first_positional_dash_and_terminator() {
        let p = parse(&["k", "-recurse"]).unwrap();
        assert!(!p.bool("recurse"));
        assert_eq!(p.args(), ["k", "-recurse"]);
        let p = parse(&["-", "-recurse"]).unwrap();
        assert_eq!(p.args(), ["-", "-recurse"]);
        let p = parse(&["-recurse", "--", "-flags"]).unwrap();
        assert!(p.bool("recurse"));
        assert_eq!(p.args(), ["-flags"]);
    }

    #[test]
    fn bool_flag_does_not_take_next_argument() {
        let p = parse(&["-recurse", "true"]).unwrap();
        assert!(p.bool("recurse"));
        assert_eq!(p.args(), ["true"]);
    }

    #[test]
    fn reports_errors_like_go() {
        let err = |a: &[&str]| match parse(a) {
            Err(FlagError::Invalid(m)) => m,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(err(&["-nope"]), "flag provided but not defined: -nope");
        assert_eq!(err(&["-flags"]), "flag needs an argument: -flags");
        assert_eq!(
            err(&["-flags=x"]),
            "invalid value \"x\" for flag -flags: parse error"
        );
        assert_eq!(
            err(&["-flags=-1"]),
            "invalid value \"-1\" for flag -flags: parse error"
        );
        assert_eq!(
            err(&["-recurse=maybe"]),
            "invalid boolean value \"maybe\" for -recurse: parse error"
        );
        assert_eq!(err(&["---x"]), "bad flag syntax: ---x");
        assert_eq!(err(&["-=x"]), "bad flag syntax: -=x");
    }

    #[test]
    fn help_flags_request_help() {
        for h in ["-h", "-help", "--help"] {
            assert_eq!(parse(&[h]).unwrap_err(), FlagError::Help);
        }
    }

    #[test]
    fn parses_go_integer_syntax() {
        assert_eq!(parse_u64("10"), Some(10));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("0b11"), Some(3));
        assert_eq!(parse_u64("1_000"), Some(1000));
        assert_eq!(parse_u64("+1"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn usage_lists_flags_by_group() {
        let fs = FlagSet::new()
            .group("HTTP API Options")
            .string("http-addr", "", "The address.")
            .group("Command Options")
            .bool("recurse", "Recurse.");
        assert_eq!(
            fs.usage(),
            "\nHTTP API Options:\n\n  -http-addr=<value>\n     The address.\n\
             \nCommand Options:\n\n  -recurse\n     Recurse.\n"
        );
    }

    #[test]
    fn list_flags_repeat_and_maps_split() {
        let fs = FlagSet::new()
            .list("tag", "Tag.")
            .list("meta", "Meta.")
            .bool_true("shell", "Shell.");
        let args: Vec<String> = ["-tag=a", "-tag", "b", "-meta=k=v=w", "-shell=false", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = fs.parse(&args).unwrap();
        assert_eq!(p.list("tag"), ["a", "b"]);
        assert_eq!(p.map("meta").unwrap()["k"], "v=w");
        assert!(!p.bool("shell"));
        assert_eq!(p.args(), ["x"]);
        assert!(fs.parse(&[]).unwrap().bool("shell"));
        let bad = fs.parse(&["-meta=nope".to_owned()]).unwrap();
        assert_eq!(
            bad.map("meta").unwrap_err(),
            FlagError::Invalid(
                "invalid value \"nope\" for flag -meta: Missing = in argument: nope".into()
            )
        );
    }

    #[test]
    fn wraps_help_text() {
        assert_eq!(wrap("aaa bbb ccc", 2, 9), "  aaa bbb\n  ccc");
    }
}
