//! One encoder per context untrusted text (ids, names, raw rows from event
//! data or flow files) lands in. HTML has its own in `report::format`.
//!
//! - [`terminal`]: control characters (ESC, BEL, …, DEL, C1 controls) and
//!   bidirectional overrides become visible `\u{..}` escapes.
//! - [`csv_cell`]: a cell a spreadsheet would read as a formula (it begins
//!   with `=`, `+`, `-`, `@`, tab or carriage return) gets a `'` in front;
//!   so does a cell beginning with `'`, so removing one leading `'` from a
//!   cell that has one always gives the text back.
//! - [`toml_comment`]: as [`terminal`], so a comment stays one printable line.
//! - [`file_name`]: a portable file-name part; lossy slugs carry a short
//!   hash of the original so two names never share a file.

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Whether a character must not reach a terminal, a TOML comment or a log
/// line as itself.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn escape_unsafe(text: &str) -> Cow<'_, str> {
    escape_where(text, is_unsafe_char)
}

fn escape_where(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text from data, made safe to print on a terminal.
pub fn terminal(text: &str) -> Cow<'_, str> {
    escape_unsafe(text)
}

/// Lines of text for a terminal (a rendered table, an error message):
/// as [`terminal`], keeping line breaks and tabs.
pub fn terminal_text(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && c != '\t' && is_unsafe_char(c))
}

/// Text from data, made safe inside a TOML `#` comment.
pub fn toml_comment(text: &str) -> Cow<'_, str> {
    escape_unsafe(text)
}

/// A CSV cell that no spreadsheet evaluates (OWASP's rule: a leading `'`).
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// A file-name part for `name`: lower-case ASCII letters, digits, `_` and
/// `-`; when that loses anything, `-` and 8 hex digits of the name's
/// SHA-256 follow, so distinct names give distinct file names.
pub fn file_name(name: &str) -> String {
    let slug: String = name
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if slug == name && !slug.is_empty() {
        return slug;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{slug}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_controls() {
        assert_eq!(terminal("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(terminal("plain ü"), "plain ü");
        assert_eq!(terminal("x\u{202e}y"), "x\\u{202e}y");
        assert!(!toml_comment("a\nb\u{1}").contains(['\n', '\u{1}']));
        assert_eq!(terminal_text("a\n\u{7}b\n"), "a\n\\u{7}b\n");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for bad in ["=1+2", "+cmd", "-2+3", "@SUM(1)", "\tx", "\rx", "'quoted"] {
            let c = csv_cell(bad);
            assert!(c.starts_with('\''), "{c}");
            assert_eq!(&c[1..], bad);
        }
        assert_eq!(csv_cell("2026-03-05"), "2026-03-05");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name("flow"), "flow");
        let a = file_name("Flow A");
        let b = file_name("flow_a");
        let c = file_name("flow a");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
        for n in [&a, &b, &c] {
            assert!(n
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'));
        }
        assert!(file_name("../../etc").starts_with("______etc-"));
        assert!(!file_name("").is_empty());
    }
}
