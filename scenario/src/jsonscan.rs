//! What scenario text may not hold, found before it is parsed: the twin of the Node
//! runner's `host/js/jsonscan.mjs`, rule for rule and word for word. `JSON.parse` and
//! serde_json disagree on exactly these (serde_json refuses them, `JSON.parse`
//! accepts them as `Infinity`, a lone surrogate, or any depth), so both runners refuse
//! them first, by one rule:
//!
//! - nesting deeper than [`MAX_DEPTH`] arrays and objects;
//! - a `\uXXXX` escape that is half of a surrogate pair without its other half;
//! - a number too large for a double (`1e400`).
//!
//! Positions are 1-based lines and columns, counting Unicode characters. One pass
//! over the text: linear time. The rules in full are in the JS file's header;
//! `tests/scenario-text/scan.json` holds the cases both files are tested against.

/// The deepest nesting of arrays and objects a scenario may have.
pub const MAX_DEPTH: usize = 128;

const LONE: &str = "a lone surrogate escape in a string (the text must be valid Unicode)";

fn high(unit: Option<u16>) -> bool {
    matches!(unit, Some(0xD800..=0xDBFF))
}

fn low(unit: Option<u16>) -> bool {
    matches!(unit, Some(0xDC00..=0xDFFF))
}

/// The UTF-16 unit of the four hex digits at `i`, if they are four hex digits.
fn hex4(text: &[u8], i: usize) -> Option<u16> {
    let digits = text.get(i..i + 4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    // Four ASCII hex digits are valid UTF-8 and a valid u16.
    u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Bytes (and characters: all ASCII) of the number at `i`, or 0:
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, longest match.
fn number_length(text: &[u8], i: usize) -> usize {
    let at = |p: usize| text.get(p).copied();
    let digit = |p: usize| at(p).is_some_and(|b| b.is_ascii_digit());
    let mut p = i;
    if at(p) == Some(b'-') {
        p += 1;
    }
    if at(p) == Some(b'0') {
        p += 1;
    } else if digit(p) {
        while digit(p) {
            p += 1;
        }
    } else {
        return 0;
    }
    if at(p) == Some(b'.') && digit(p + 1) {
        p += 2;
        while digit(p) {
            p += 1;
        }
    }
    if matches!(at(p), Some(b'e' | b'E')) {
        let mut q = p + 1;
        if matches!(at(q), Some(b'+' | b'-')) {
            q += 1;
        }
        if digit(q) {
            while digit(q) {
                q += 1;
            }
            p = q;
        }
    }
    p - i
}

/// Bytes of the UTF-8 character starting at `i` (1 past the end).
fn width(text: &[u8], i: usize) -> usize {
    match text.get(i) {
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    }
}

/// The first problem in `text`, as `line L, column C: what`, or `None`. Syntax errors
/// are left to the parser.
pub fn scan(text: &str) -> Option<String> {
    let mut scanner = Scanner {
        text: text.as_bytes(),
        i: 0,
        line: 1,
        column: 1,
    };
    scanner.all().err()
}

/// Where [`scan`] is: byte `i` of `text`, at `line` and `column` (in characters).
struct Scanner<'t> {
    text: &'t [u8],
    i: usize,
    line: usize,
    column: usize,
}

impl Scanner<'_> {
    /// `line L, column C: what`.
    fn at(&self, column: usize, what: &str) -> String {
        format!("line {}, column {column}: {what}", self.line)
    }

    /// Moves on by `bytes` bytes that are `columns` characters.
    fn advance(&mut self, bytes: usize, columns: usize) {
        self.i += bytes;
        self.column += columns;
    }

    /// The whole text: nesting, strings and numbers.
    fn all(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while self.i < self.text.len() {
            match self.text[self.i] {
                b'\n' => {
                    self.line += 1;
                    self.column = 1;
                    self.i += 1;
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        let what = format!("nested deeper than {MAX_DEPTH} levels");
                        return Err(self.at(self.column, &what));
                    }
                    self.advance(1, 1);
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.advance(1, 1);
                }
                b'"' => {
                    self.advance(1, 1);
                    self.string()?;
                }
                c if c == b'-' || c.is_ascii_digit() => self.number()?,
                _ => self.advance(width(self.text, self.i), 1),
            }
        }
        Ok(())
    }

    /// The rest of a string, after its opening quote, to its closing quote or the end
    /// of the line: every `\u` escape of a surrogate must be half of a pair.
    fn string(&mut self) -> Result<(), String> {
        let text = self.text;
        // The column of a high surrogate escape awaiting its low half.
        let mut pending_high: Option<usize> = None;
        while self.i < text.len() && text[self.i] != b'\n' {
            let i = self.i;
            if text[i] == b'"' {
                self.advance(1, 1);
                break;
            }
            if text[i] == b'\\' && text.get(i + 1) == Some(&b'u') {
                let unit = hex4(text, i + 2);
                if let Some(col) = pending_high.filter(|_| !low(unit)) {
                    return Err(self.at(col, LONE));
                }
                if low(unit) && pending_high.is_none() {
                    return Err(self.at(self.column, LONE));
                }
                pending_high = high(unit).then_some(self.column);
                let skip = if unit.is_none() { 2 } else { 6 };
                self.advance(skip, skip);
                continue;
            }
            if let Some(col) = pending_high {
                return Err(self.at(col, LONE));
            }
            if text[i] == b'\\' && i + 1 < text.len() && text[i + 1] != b'\n' {
                self.advance(1 + width(text, i + 1), 2);
            } else {
                self.advance(width(text, i), 1);
            }
        }
        match pending_high {
            Some(col) => Err(self.at(col, LONE)),
            None => Ok(()),
        }
    }

    /// What starts with `-` or a digit: a number must not overflow a double.
    fn number(&mut self) -> Result<(), String> {
        let length = number_length(self.text, self.i);
        if length == 0 {
            self.advance(width(self.text, self.i), 1);
            return Ok(());
        }
        // The match is ASCII, so valid UTF-8; Rust and JavaScript both round a decimal
        // to the nearest double, and overflow to infinity alike.
        let number = std::str::from_utf8(&self.text[self.i..self.i + length]).unwrap_or("");
        if number.parse::<f64>().is_ok_and(f64::is_infinite) {
            let shown = if length > 24 {
                format!("{}...", &number[..24])
            } else {
                number.to_string()
            };
            return Err(self.at(self.column, &format!("the number {shown} is too large")));
        }
        self.advance(length, length);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases shared with the Node runner's scanner (`host/js/test/scenario-text.mjs`
    /// checks the same file): `[text, expected problem or null]`.
    #[test]
    fn agrees_with_the_shared_cases() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/scenario-text/scan.json")).unwrap();
        let cases = cases["cases"].as_array().unwrap();
        assert!(cases.len() > 10);
        for case in cases {
            let text = case[0].as_str().unwrap();
            let expected = case[1].as_str();
            assert_eq!(scan(text).as_deref(), expected, "scanning {text:?}");
        }
    }

    #[test]
    fn generated_cases() {
        let deep = "[".repeat(200);
        assert_eq!(
            scan(&deep).as_deref(),
            Some("line 1, column 129: nested deeper than 128 levels")
        );
        let fine = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(scan(&fine), None);
        let long = format!("[1{}]", "0".repeat(500));
        assert_eq!(
            scan(&long).as_deref(),
            Some("line 1, column 2: the number 100000000000000000000000... is too large")
        );
    }
}
