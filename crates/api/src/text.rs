//! Showing text from outside on a terminal, in a plain-text mail or in HTML
//! without letting it act on the reader.
//!
//! DMARC aggregate reports (org names, domains, IP addresses as text), the
//! names of zip and gzip members and the TXT records of any domain are
//! written by strangers. Shown as they are, they can
//!
//! - drive the terminal: ESC starts colour, cursor and OSC sequences (an
//!   OSC 8 hyperlink, a window title), BEL rings, CR returns to the start of
//!   the line and overwrites what was there;
//! - forge lines: a newline (or U+0085, U+2028, U+2029, a vertical tab or a
//!   form feed) in a member name starts a line that looks like the tool's own
//!   output;
//! - reorder what is read: a right-to-left override (U+202E) makes
//!   `gro.elpmaxe` read as `example.org`, and the other bidi controls
//!   reorder parts of a line;
//! - hide text: invisible characters (zero width space, word joiner, byte
//!   order mark, tag characters) make two different names look the same;
//! - bury the rest: a 60,000-character value in a list of names.
//!
//! [`display_value`] is the one to use for a value from outside: it escapes
//! every such character visibly and caps the length. [`display_safe`] only
//! escapes, [`display_safe_multiline`] keeps line breaks for a text whose
//! lines are meant, and [`truncate_display`] only shortens.
//!
//! An escaped character is shown as `\n`, `\r`, `\t` or `\u{1b}` (the code
//! point in hex), the way Rust's `escape_debug` shows it, so that the reader
//! sees that something was there and what. Everything else is kept as it is,
//! letters of every script included, and a value with nothing to change is
//! returned borrowed. Backslashes are not escaped: a value that spells out
//! `\u{1b}` shows those six characters, which act on nothing.
//!
//! These are for display only. JSON output needs none of it (the encoder
//! escapes controls), and a value that is compared, stored or looked up must
//! stay as it was.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The cap for a name from outside: a domain (253 characters at most), a
/// DKIM selector, an IP address, an org name, a file or member name.
pub const NAME_MAX_CHARS: usize = 256;

/// The cap for a longer text from outside: a DNS record, a message or a piece
/// of evidence quoting one. Far above any record that works (an SPF record
/// must fit a 512-byte answer, a 4096-bit DKIM key is about 740 characters),
/// so a record the reader has to copy is never cut.
pub const TEXT_MAX_CHARS: usize = 4096;

/// Whether `c` is escaped by [`display_safe`]: a control character (C0,
/// DEL, C1), a bidi control ([`is_bidi_control`]), the line and paragraph
/// separators U+2028 and U+2029, or an invisible formatting character.
///
/// The invisible ones are the soft hyphen (U+00AD), the Mongolian vowel
/// separator (U+180E), the zero width space (U+200B), the word joiner and
/// invisible operators (U+2060–U+2064), the deprecated format characters
/// (U+206A–U+206F), the byte order mark (U+FEFF), the interlinear
/// annotation characters (U+FFF9–U+FFFB) and the tag characters
/// (U+E0000–U+E007F). The zero width joiner and non-joiner (U+200C, U+200D)
/// are kept: Persian, the Indic scripts and emoji need them.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Whether `c` is one of the Unicode bidi controls (UAX #9): the Arabic
/// letter mark (U+061C), the left-to-right and right-to-left marks (U+200E,
/// U+200F), the embeddings and overrides (U+202A–U+202E) and the isolates
/// (U+2066–U+2069).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `s` as one line that does nothing but show: every character of
/// [`needs_escape`] (newlines and tabs too) replaced by a visible escape.
///
/// `display_safe("a\x1b]8;;http://x\x07b\nc")` is
/// `a\u{1b}]8;;http://x\u{7}b\nc`, with a backslash and an `n` rather than a
/// line break.
pub fn display_safe(s: &str) -> Cow<'_, str> {
    escape(s, Lines::One, None)
}

/// `s` as lines that do nothing but show: like [`display_safe`], but newlines
/// and tabs are kept, and CR LF becomes LF. For a text from outside whose
/// line breaks mean something; a lone CR, which would overwrite the line, is
/// still escaped.
pub fn display_safe_multiline(s: &str) -> Cow<'_, str> {
    escape(s, Lines::Many, None)
}

/// `s` cut to its first `max_chars` characters, followed by
/// `… (N more characters)` when anything was cut; on a character boundary,
/// nothing escaped.
pub fn truncate_display(s: &str, max_chars: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        None => Cow::Borrowed(s),
        Some((at, _)) => {
            let mut out = s[..at].to_string();
            push_marker(&mut out, s[at..].chars().count());
            Cow::Owned(out)
        }
    }
}

/// A value from outside, ready to show on one line: [`display_safe`], then
/// cut after `max_chars` characters of the escaped text like
/// [`truncate_display`] (an escape is never split; `N` counts the characters
/// of `s` that are not shown). Use [`NAME_MAX_CHARS`] for names and
/// [`TEXT_MAX_CHARS`] for records and messages.
pub fn display_value(s: &str, max_chars: usize) -> Cow<'_, str> {
    escape(s, Lines::One, Some(max_chars))
}

/// Whether line breaks are kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    One,
    Many,
}

/// Whether `c` is escaped in `lines` mode.
fn escaped(c: char, lines: Lines) -> bool {
    needs_escape(c) && !(lines == Lines::Many && matches!(c, '\n' | '\t'))
}

fn escape(s: &str, lines: Lines, max_chars: Option<usize>) -> Cow<'_, str> {
    let clean = if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        // Printable ASCII: nothing to escape, one byte per character.
        max_chars.is_none_or(|max| s.len() <= max)
    } else {
        !s.chars().any(|c| escaped(c, lines))
            && max_chars.is_none_or(|max| s.chars().nth(max).is_none())
    };
    if clean {
        return Cow::Borrowed(s);
    }
    let max = max_chars.unwrap_or(usize::MAX);
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)) + 16);
    let mut shown = 0usize;
    let mut chars = s.chars().peekable();
    let mut piece = String::new();
    while let Some(&c) = chars.peek() {
        piece.clear();
        let mut consumed = 1;
        if lines == Lines::Many && c == '\r' && next_is_lf(&chars) {
            // CR LF: the line break is kept, the CR is dropped.
            consumed = 2;
            piece.push('\n');
        } else if escaped(c, lines) {
            push_escape(&mut piece, c);
        } else {
            piece.push(c);
        }
        let len = piece.chars().count();
        if shown + len > max {
            push_marker(&mut out, chars.count());
            return Cow::Owned(out);
        }
        out.push_str(&piece);
        shown += len;
        for _ in 0..consumed {
            chars.next();
        }
    }
    Cow::Owned(out)
}

/// Whether the character after the peeked one is LF.
fn next_is_lf(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut ahead = chars.clone();
    ahead.next();
    ahead.next() == Some('\n')
}

/// `\n`, `\r`, `\t` or `\u{hex}`.
fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `… (1 more character)`, `… (59,744 more characters)`.
fn push_marker(out: &mut String, more: usize) {
    let digits = more.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let noun = if more == 1 { "character" } else { "characters" };
    let _ = write!(out, "… ({grouped} more {noun})");
}

/// `1234567` → `1,234,567`: a count as the reports write it.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Unicode scalar value.
    fn all_chars() -> impl Iterator<Item = char> {
        (0..=0x10FFFF_u32).filter_map(char::from_u32)
    }

    /// The characters that must never reach a reader, listed here rather
    /// than taken from [`needs_escape`] so that the test checks it.
    fn dangerous(c: char) -> bool {
        let n = u32::from(c);
        n < 0x20
            || (0x7F..=0x9F).contains(&n)
            || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF, 0x200B].contains(&n)
            || (0x202A..=0x202E).contains(&n)
            || (0x2066..=0x2069).contains(&n)
            || (0xE0000..=0xE007F).contains(&n)
    }

    #[test]
    fn no_character_gets_through_unescaped() {
        // One string of every character below U+10000, and every one beyond.
        let all: String = all_chars().collect();
        let out = display_safe(&all);
        assert!(matches!(out, Cow::Owned(_)));
        let bad: Vec<char> = out.chars().filter(|&c| dangerous(c)).collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert!(!out.chars().any(needs_escape));
        assert_eq!(out.lines().count(), 1);

        let out = display_safe_multiline(&all);
        let bad: Vec<char> = out
            .chars()
            .filter(|&c| dangerous(c) && c != '\n' && c != '\t')
            .collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(out.matches('\n').count(), 1, "only the input's own LF");
    }

    #[test]
    fn each_character_is_kept_or_escaped_on_its_own() {
        for c in all_chars() {
            let s = c.to_string();
            let out = display_safe(&s);
            if needs_escape(c) {
                assert!(out.starts_with('\\'), "{:x}: {out}", u32::from(c));
                assert!(out.is_ascii(), "{:x}: {out}", u32::from(c));
            } else {
                assert!(matches!(out, Cow::Borrowed(_)), "{:x}", u32::from(c));
                assert!(!dangerous(c), "{:x} is not escaped", u32::from(c));
            }
        }
    }

    #[test]
    fn escapes_are_visible_and_named() {
        assert_eq!(
            display_safe("a\x1b]8;;http://evil\x07b"),
            "a\\u{1b}]8;;http://evil\\u{7}b"
        );
        assert_eq!(display_safe("x\ny\r\tz"), "x\\ny\\r\\tz");
        assert_eq!(display_safe("\u{202e}gro.elpmaxe"), "\\u{202e}gro.elpmaxe");
        assert_eq!(display_safe("a\u{85}b\u{2028}c"), "a\\u{85}b\\u{2028}c");
        assert_eq!(display_safe("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
    }

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in [
            "",
            "example.org",
            "Zürich Mail AG — 配信 · مرحبا",
            "v=DKIM1; k=rsa; p=MIIB",
            "\u{200d}\u{200c}",
            r"a\u{1b}b",
        ] {
            assert!(matches!(display_safe(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(display_safe_multiline(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(display_value(s, 100), Cow::Borrowed(_)), "{s}");
            assert!(matches!(truncate_display(s, 100), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn multiline_keeps_line_breaks_and_tabs_only() {
        assert_eq!(display_safe_multiline("a\nb\tc"), "a\nb\tc");
        assert_eq!(display_safe_multiline("a\r\nb"), "a\nb");
        assert_eq!(display_safe_multiline("a\rb\r"), "a\\rb\\r");
        assert_eq!(
            display_safe_multiline("a\u{2028}b\x1b[2J\u{202e}"),
            "a\\u{2028}b\\u{1b}[2J\\u{202e}"
        );
    }

    #[test]
    fn truncation_keeps_whole_characters_and_says_how_much_is_left() {
        assert_eq!(truncate_display("abcdef", 6), "abcdef");
        assert_eq!(truncate_display("abcdef", 5), "abcde… (1 more character)");
        assert_eq!(truncate_display("ééééé", 2), "éé… (3 more characters)");
        assert_eq!(truncate_display("abc", 0), "… (3 more characters)");
        let long = "x".repeat(60_000);
        assert_eq!(
            truncate_display(&long, 256),
            format!("{}… (59,744 more characters)", "x".repeat(256))
        );
    }

    #[test]
    fn display_value_caps_the_escaped_text_without_splitting_an_escape() {
        let long = "é".repeat(60_000);
        let out = display_value(&long, NAME_MAX_CHARS);
        assert_eq!(
            out,
            format!("{}… (59,744 more characters)", "é".repeat(256))
        );
        // `ab` + `\u{1b}` is 8 characters; with a cap of 6 the escape goes.
        assert_eq!(display_value("ab\x1bcd", 6), "ab… (3 more characters)");
        assert_eq!(
            display_value("ab\x1bcd", 8),
            "ab\\u{1b}… (2 more characters)"
        );
        assert_eq!(display_value("ab\x1bcd", 10), "ab\\u{1b}cd");
        assert_eq!(display_value("abc", 3), "abc");
        assert_eq!(display_value("abcd", 3), "abc… (1 more character)");
        let nasty = "\x1b".repeat(10_000);
        let out = display_value(&nasty, NAME_MAX_CHARS);
        assert!(out.chars().count() <= NAME_MAX_CHARS + 30, "{out}");
        assert!(!out.contains('\x1b'));
    }
}
