//! Splits master-file text into logical entries of tokens (RFC 1035 section 5.1):
//! parentheses join physical lines, `;` starts a comment, quoted strings may
//! hold blanks, and `\X` / `\DDD` escape a character or give a byte in decimal.

use crate::error::ZoneError;

/// One token of an entry.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The token as written (escapes intact; for a quoted string, without the quotes).
    pub raw: String,
    /// The token's bytes with escapes decoded.
    pub bytes: Vec<u8>,
    /// True for a quoted string.
    pub quoted: bool,
    /// 1-based line of the token's first character.
    pub line: usize,
    /// 1-based column of the token's first character.
    pub column: usize,
}

impl Token {
    /// True when the token is the unquoted word `word`, compared ASCII-case-insensitively.
    pub fn is_word(&self, word: &str) -> bool {
        !self.quoted && self.raw.eq_ignore_ascii_case(word)
    }
}

/// One logical line: a directive or a resource record.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// True when the physical line began with a blank: the owner is omitted.
    pub blank_start: bool,
    /// The tokens, parentheses removed.
    pub tokens: Vec<Token>,
}

struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Reads an escape sequence; the cursor is on the backslash.
fn read_escape(
    cur: &mut Cursor<'_>,
    file: &str,
    raw: &mut String,
    bytes: &mut Vec<u8>,
) -> Result<(), ZoneError> {
    let (line, column) = (cur.line, cur.column);
    cur.bump();
    raw.push('\\');
    let digits: Vec<char> = (0..3).filter_map(|i| cur.peek_at(i)).collect();
    if digits.len() == 3 && digits.iter().all(char::is_ascii_digit) {
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + d.to_digit(10).unwrap_or(0));
        let byte = u8::try_from(value).map_err(|_| {
            ZoneError::at(
                file,
                line,
                column,
                format!("escape \\{value:03} is not a byte value (000 to 255)"),
            )
        })?;
        for _ in 0..3 {
            if let Some(c) = cur.bump() {
                raw.push(c);
            }
        }
        bytes.push(byte);
        return Ok(());
    }
    match cur.peek() {
        None | Some('\n') => Err(ZoneError::at(
            file,
            line,
            column,
            "backslash at the end of a line",
        )),
        Some(c) if c.is_ascii_digit() => Err(ZoneError::at(
            file,
            line,
            column,
            "a \\DDD escape needs exactly three decimal digits",
        )),
        Some(c) => {
            cur.bump();
            raw.push(c);
            push_char(bytes, c);
            Ok(())
        }
    }
}

/// Splits `text` into entries.
pub(crate) fn lex(text: &str, file: &str) -> Result<Vec<Entry>, ZoneError> {
    let chars: Vec<char> = text.chars().collect();
    let mut cur = Cursor {
        chars: &chars,
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut depth = 0usize;
    let mut open_paren = (0, 0);
    let mut at_line_start = true;
    let mut line_blank = false;

    while let Some(c) = cur.peek() {
        match c {
            '\n' => {
                cur.bump();
                if depth == 0 {
                    if let Some(entry) = current.take() {
                        entries.push(entry);
                    }
                }
                at_line_start = true;
                line_blank = false;
                continue;
            }
            ' ' | '\t' | '\r' => {
                if at_line_start {
                    line_blank = true;
                }
                cur.bump();
            }
            ';' => {
                while cur.peek().is_some_and(|c| c != '\n') {
                    cur.bump();
                }
            }
            '(' => {
                current.get_or_insert_with(|| Entry {
                    blank_start: line_blank,
                    tokens: Vec::new(),
                });
                depth += 1;
                if depth == 1 {
                    open_paren = (cur.line, cur.column);
                }
                cur.bump();
            }
            ')' => {
                if depth == 0 {
                    return Err(ZoneError::at(
                        file,
                        cur.line,
                        cur.column,
                        "')' without a matching '('",
                    ));
                }
                depth -= 1;
                cur.bump();
            }
            '"' => {
                let (line, column) = (cur.line, cur.column);
                cur.bump();
                let mut raw = String::new();
                let mut bytes = Vec::new();
                loop {
                    match cur.peek() {
                        None | Some('\n') => {
                            return Err(ZoneError::at(
                                file,
                                line,
                                column,
                                "unterminated quoted string",
                            ))
                        }
                        Some('"') => {
                            cur.bump();
                            break;
                        }
                        Some('\\') => read_escape(&mut cur, file, &mut raw, &mut bytes)?,
                        Some(c) => {
                            cur.bump();
                            raw.push(c);
                            push_char(&mut bytes, c);
                        }
                    }
                }
                current
                    .get_or_insert_with(|| Entry {
                        blank_start: line_blank,
                        tokens: Vec::new(),
                    })
                    .tokens
                    .push(Token {
                        raw,
                        bytes,
                        quoted: true,
                        line,
                        column,
                    });
            }
            _ => {
                let (line, column) = (cur.line, cur.column);
                let mut raw = String::new();
                let mut bytes = Vec::new();
                while let Some(c) = cur.peek() {
                    match c {
                        ' ' | '\t' | '\r' | '\n' | ';' | '(' | ')' | '"' => break,
                        '\\' => read_escape(&mut cur, file, &mut raw, &mut bytes)?,
                        _ => {
                            cur.bump();
                            raw.push(c);
                            push_char(&mut bytes, c);
                        }
                    }
                }
                current
                    .get_or_insert_with(|| Entry {
                        blank_start: line_blank,
                        tokens: Vec::new(),
                    })
                    .tokens
                    .push(Token {
                        raw,
                        bytes,
                        quoted: false,
                        line,
                        column,
                    });
            }
        }
        at_line_start = false;
    }
    if depth > 0 {
        return Err(ZoneError::at(
            file,
            open_paren.0,
            open_paren.1,
            "'(' is never closed",
        ));
    }
    if let Some(entry) = current.take() {
        entries.push(entry);
    }
    // An entry made only of "()" has no tokens: nothing to parse.
    entries.retain(|e| !e.tokens.is_empty());
    Ok(entries)
}
