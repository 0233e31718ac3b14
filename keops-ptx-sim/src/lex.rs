//! Tokenizer for PTX text.
//!
//! Comments (`//` and `/* */`) are dropped; every token keeps its 1-based
//! source line so that later stages can report errors precisely.

use super::SimError;

/// One token kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier, a directive (`.reg`), a register (`%r1`), an opcode
    /// with its modifiers (`ld.global.f32`), a label name.
    Ident(String),
    /// A numeric literal as written (`42`, `0x1F`, `0f3F800000`, `1.5e-3`).
    Num(String),
    /// A string literal (without quotes).
    Str(String),
    /// A single punctuation character.
    Punct(char),
}

/// A token with its 1-based source line.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c == b'%' || c == b'.'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.'
}

/// Splits PTX source text into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, SimError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1usize;
    let err = |line: usize, msg: String| SimError::Parse {
        kernel: None,
        line,
        text: src.lines().nth(line - 1).unwrap_or("").trim().to_string(),
        message: msg,
    };
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
            let start_line = line;
            i += 2;
            loop {
                if i + 1 >= b.len() {
                    return Err(err(start_line, "unterminated `/*` comment".into()));
                }
                if b[i] == b'*' && b[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                if b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            continue;
        }
        if c == b'"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\n' {
                    return Err(err(line, "unterminated string literal".into()));
                }
                i += 1;
            }
            if i >= b.len() {
                return Err(err(line, "unterminated string literal".into()));
            }
            out.push(Token {
                tok: Tok::Str(src[start..i].to_string()),
                line,
            });
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            let prefixed = c == b'0'
                && i + 1 < b.len()
                && matches!(
                    b[i + 1],
                    b'x' | b'X' | b'f' | b'F' | b'd' | b'D' | b'b' | b'B'
                );
            i += 1;
            while i < b.len() {
                let d = b[i];
                let exponent_sign =
                    !prefixed && (d == b'+' || d == b'-') && matches!(b[i - 1], b'e' | b'E');
                if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token {
                tok: Tok::Num(src[start..i].to_string()),
                line,
            });
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            i += 1;
            while i < b.len() {
                if is_ident_char(b[i]) {
                    i += 1;
                } else if b[i] == b':' && i + 1 < b.len() && b[i + 1] == b':' {
                    // scoped qualifiers such as `.shared::cta`
                    i += 2;
                } else {
                    break;
                }
            }
            out.push(Token {
                tok: Tok::Ident(src[start..i].to_string()),
                line,
            });
            continue;
        }
        match c {
            b',' | b';' | b'{' | b'}' | b'(' | b')' | b'[' | b']' | b'+' | b'-' | b'!' | b'|'
            | b'@' | b':' | b'<' | b'>' | b'=' => {
                out.push(Token {
                    tok: Tok::Punct(c as char),
                    line,
                });
                i += 1;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(line, format!("unexpected character `{ch}`")));
            }
        }
    }
    Ok(out)
}
