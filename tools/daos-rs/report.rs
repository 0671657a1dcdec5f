//! What a command prints: a text for people, or (--json) one JSON document.

use serde_json::Value;

/// A command's result, printed by `main` on stdout.
pub struct Report {
    text: String,
    json: Option<Value>,
}

impl Report {
    /// `text` (lines, each ending in a newline) or `json`.
    pub fn new(text: impl Into<String>, json: Value) -> Report {
        Report { text: text.into(), json: Some(json) }
    }

    /// Nothing to print (the command wrote its own output).
    pub fn none() -> Report {
        Report { text: String::new(), json: None }
    }

    pub fn print(&self, json: bool) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let r = match (&self.json, json) {
            (Some(j), true) => writeln!(out, "{}", serde_json::to_string_pretty(j).unwrap_or_default()),
            (_, false) => out.write_all(self.text.as_bytes()),
            (None, true) => Ok(()),
        };
        // stdout closed early (| head): nothing more to say
        let _ = r.and_then(|_| out.flush());
    }
}

/// Lines of text: `lines!["a: {x}", ...]` gives "a: ...\n...".
#[macro_export]
macro_rules! lines {
    ($($fmt:literal $(, $arg:expr)*);* $(;)?) => {{
        let mut s = String::new();
        $( s += &format!($fmt $(, $arg)*); s.push('\n'); )*
        s
    }};
}
