//! An ordered tree of labelled values that `inspect` builds once and renders either as one JSON
//! object (keys, for programs) or as indented text (labels, for people).

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt::Write as _;

/// A value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Absent or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text (shown with control characters escaped in text mode).
    Str(String),
    /// A list.
    List(Vec<Val>),
    /// A nested object.
    Obj(Obj),
    /// A part that could not be decoded: `{"code", "message"}` in JSON.
    Error {
        /// A stable snake_case code.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// An object: entries in the order they were added, each with a JSON key and a text label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obj {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    label: String,
    value: Val,
}

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Obj::default()
    }

    /// Appends an entry.
    pub fn add(&mut self, key: &str, label: &str, value: impl Into<Val>) -> &mut Self {
        self.entries.push(Entry {
            key: key.to_owned(),
            label: label.to_owned(),
            value: value.into(),
        });
        self
    }

    /// Appends an entry whose label is its key (for names that come from the input).
    pub fn add_raw(&mut self, key: &str, value: impl Into<Val>) -> &mut Self {
        self.add(key, key, value)
    }

    /// Appends the `error` entry: why (the rest of) this part could not be decoded.
    pub fn error(&mut self, code: &str, message: impl Into<String>) -> &mut Self {
        self.add("error", "Error", Val::error(code, message))
    }

    /// Appends every entry of `other`.
    pub fn append(&mut self, other: Obj) -> &mut Self {
        self.entries.extend(other.entries);
        self
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of the entry with this key.
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// An object holding only an `error` entry.
    pub fn failed(code: &str, message: impl Into<String>) -> Self {
        let mut o = Obj::new();
        o.error(code, message);
        o
    }
}

impl Val {
    /// An error value.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Val::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Self {
        i64::try_from(v).map_or_else(|_| Val::Str(v.to_string()), Val::Int)
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or_else(|_| Val::Str(v.to_string()), Val::Int)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Str(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Str(v.to_owned())
    }
}
impl From<Obj> for Val {
    fn from(v: Obj) -> Self {
        Val::Obj(v)
    }
}
impl From<Vec<Val>> for Val {
    fn from(v: Vec<Val>) -> Self {
        Val::List(v)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Null => s.serialize_none(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Int(i) => s.serialize_i64(*i),
            Val::Str(t) => s.serialize_str(t),
            Val::List(items) => items.serialize(s),
            Val::Obj(o) => o.serialize(s),
            Val::Error { code, message } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("code", code)?;
                map.serialize_entry("message", message)?;
                map.end()
            }
        }
    }
}

impl Serialize for Obj {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            map.serialize_entry(&e.key, &e.value)?;
        }
        map.end()
    }
}

/// Renders the tree as indented text under a title line.
pub fn render_text(title: &str, body: &Obj) -> String {
    let mut out = String::new();
    out.push_str(title);
    out.push('\n');
    write_obj(&mut out, body, 2);
    out
}

fn write_obj(out: &mut String, obj: &Obj, indent: usize) {
    for e in &obj.entries {
        write_entry(out, &e.label, &e.value, indent);
    }
}

fn write_entry(out: &mut String, label: &str, value: &Val, indent: usize) {
    let pad = " ".repeat(indent);
    let label = printable(label);
    match value {
        Val::Obj(o) if !o.is_empty() => {
            let _ = writeln!(out, "{pad}{label}:");
            write_obj(out, o, indent + 2);
        }
        Val::List(items) if !is_inline(items) => {
            let _ = writeln!(out, "{pad}{label}:");
            for item in items {
                write_item(out, item, indent + 2);
            }
        }
        scalar => {
            let _ = writeln!(out, "{pad}{label}: {}", inline(scalar));
        }
    }
}

/// One list item, YAML-like: `- ` before its first line.
fn write_item(out: &mut String, item: &Val, indent: usize) {
    let pad = " ".repeat(indent);
    match item {
        Val::Obj(o) if !o.is_empty() => {
            let start = out.len();
            write_obj(out, o, indent + 2);
            // The first line starts with indent + 2 spaces: turn the last two into "- ".
            let at = start + indent;
            if out.get(at..at + 2) == Some("  ") {
                out.replace_range(at..at + 2, "- ");
            }
        }
        Val::List(items) if !is_inline(items) => {
            let _ = writeln!(out, "{pad}-");
            for inner in items {
                write_item(out, inner, indent + 2);
            }
        }
        scalar => {
            let _ = writeln!(out, "{pad}- {}", inline(scalar));
        }
    }
}

/// Whether a list fits on one line: empty, or a few short scalars.
fn is_inline(items: &[Val]) -> bool {
    items.len() <= 8
        && items.iter().all(|v| match v {
            Val::Null | Val::Bool(_) | Val::Int(_) => true,
            Val::Str(s) => s.len() <= 40,
            _ => false,
        })
}

fn inline(value: &Val) -> String {
    match value {
        Val::Null => "(none)".into(),
        Val::Bool(true) => "yes".into(),
        Val::Bool(false) => "no".into(),
        Val::Int(i) => i.to_string(),
        Val::Str(s) if s.is_empty() => "\"\"".into(),
        Val::Str(s) => printable(s),
        Val::List(items) if items.is_empty() => "(none)".into(),
        Val::List(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Val::Obj(_) => "(none)".into(),
        Val::Error { code, message } => {
            format!("{} [{}]", printable(message), code)
        }
    }
}

/// Escapes control characters, so that input cannot drive the terminal.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Obj {
        let mut inner = Obj::new();
        inner.add("subject", "Subject", "CN=a\u{1b}[31m");
        inner.add("is_ca", "CA", false);
        let mut o = Obj::new();
        o.add("fmt", "Format", "packed");
        o.add("certificates", "Certificates", vec![Val::Obj(inner)]);
        o.add(
            "transports",
            "Transports",
            vec![Val::from("usb"), Val::from("nfc")],
        );
        o.add("empty", "Empty", Vec::<Val>::new());
        o.error("bad_thing", "it broke");
        o
    }

    #[test]
    fn json_keeps_order_and_keys() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert_eq!(
            json,
            r#"{"fmt":"packed","certificates":[{"subject":"CN=a\u001b[31m","is_ca":false}],"transports":["usb","nfc"],"empty":[],"error":{"code":"bad_thing","message":"it broke"}}"#
        );
    }

    #[test]
    fn text_is_indented_and_escaped() {
        let text = render_text("Title", &sample());
        assert_eq!(
            text,
            "Title\n  Format: packed\n  Certificates:\n    - Subject: CN=a\\u{1b}[31m\n      CA: no\n  Transports: usb, nfc\n  Empty: (none)\n  Error: it broke [bad_thing]\n"
        );
    }
}
