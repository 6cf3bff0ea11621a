//! Text from strangers made safe to print: zip member names, attachment
//! names and report content end up in `source` labels and error lines that
//! are printed one per line, so a newline in a member name could forge an
//! output line and an escape sequence could drive the terminal.

use std::borrow::Cow;

/// The most characters of one name taken from inside a container (a zip
/// member, an attachment) kept in a source label.
pub const MAX_NAME_CHARS: usize = 200;

/// Whether `c` must not be printed as is: C0 controls (newline, carriage
/// return, escape, bell, tab…), DEL, C1 controls, the Unicode bidi controls
/// (which reorder what a terminal shows) and the line and paragraph
/// separators.
#[inline]
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character (see [`is_unsafe_char`]) written as a
/// visible escape (`\u{1b}`), cut to `max_chars` characters with an
/// ellipsis. Borrows when nothing needs changing, the usual case.
///
/// ```
/// use authwarden_aggregate::display_safe;
/// assert_eq!(display_safe("report.xml", 200), "report.xml");
/// assert_eq!(display_safe("a\nb\u{1b}[2J", 200), "a\\u{a}b\\u{1b}[2J");
/// assert_eq!(display_safe("abcdef", 4), "abc…");
/// ```
pub fn display_safe(s: &str, max_chars: usize) -> Cow<'_, str> {
    let max_chars = max_chars.max(1);
    let clean = if s.is_ascii() {
        s.bytes().all(|b| (0x20..0x7f).contains(&b))
    } else {
        !s.chars().any(is_unsafe_char)
    };
    let fits = s.len() <= max_chars || s.chars().count() <= max_chars;
    if clean && fits {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)) + 8);
    for (i, c) in s.chars().enumerate() {
        if !fits && i + 1 == max_chars {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name from inside a container, for a source label.
pub(crate) fn member_name(s: &str) -> Cow<'_, str> {
    display_safe(s, MAX_NAME_CHARS)
}

/// A path or a label we formed, for printing: escaped, never cut.
pub(crate) fn path_label(s: &str) -> Cow<'_, str> {
    display_safe(s, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(
            display_safe("x\r\ny\u{7}\u{85}\u{202e}gpj.exe\u{2066}", 200),
            "x\\u{d}\\u{a}y\\u{7}\\u{85}\\u{202e}gpj.exe\\u{2066}"
        );
        assert_eq!(
            display_safe("\u{61c}\u{200e}\u{200f}", 200),
            "\\u{61c}\\u{200e}\\u{200f}"
        );
        assert!(matches!(
            display_safe("b\u{fc}cher.xml", 200),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn long_names_are_cut_with_an_ellipsis() {
        let long = "a".repeat(1000);
        let cut = display_safe(&long, 200);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with('…'));
        assert_eq!(display_safe(&"a".repeat(200), 200).chars().count(), 200);
        // Escapes count as one character each toward the cap.
        let newlines = "\n".repeat(1000);
        let cut = display_safe(&newlines, 10);
        assert_eq!(cut.matches("\\u{a}").count(), 9);
        assert!(cut.ends_with('…'));
    }
}
