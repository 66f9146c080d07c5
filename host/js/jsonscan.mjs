// What scenario text may not hold, found before it is parsed, in the same words as the
// wasmtime runner's twin of this file (scenario/src/jsonscan.rs): JSON.parse and
// serde_json disagree on exactly these (serde_json refuses them, JSON.parse accepts
// them as Infinity, a lone surrogate, or any depth), so both runners refuse them
// first, by one rule.
//
// - nesting deeper than MAX_DEPTH arrays and objects;
// - a \uXXXX escape that is half of a surrogate pair without its other half;
// - a number too large for a double (1e400).
//
// Positions are 1-based lines and columns, counting Unicode characters. One pass over
// the text, each character looked at a bounded number of times: linear time.
//
// The rules, exactly (the Rust twin follows them step for step):
// - outside strings, `[` and `{` count one level deeper (the first one past MAX_DEPTH
//   is the error, at its own column), `]` and `}` one shallower (never below 0), a
//   newline starts a line;
// - a string runs from `"` to the next unescaped `"`, or stops before a raw newline
//   or at the end of the text (syntax errors, left to the parser); inside it `\` and
//   the character after it go together, except a newline; a `\u` followed by four hex
//   digits is a UTF-16 unit: a low surrogate without a high one just before it, or a
//   high one not followed at once by a `\u` low one, is the error, at the column of
//   the lone half's backslash;
// - a number is the longest match of -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//   at a `-` or a digit; one whose value as a double is infinite is the error (shown
//   cut to 24 characters and "...").

export const MAX_DEPTH = 128;

const HIGH = (u) => u >= 0xd800 && u <= 0xdbff;
const LOW = (u) => u >= 0xdc00 && u <= 0xdfff;
const isDigit = (c) => c >= 48 && c <= 57; // a UTF-16 unit
const isHex = (c) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/** UTF-16 units of the character at `i`: 2 for a surrogate pair, else 1. */
function width(text, i) {
  return HIGH(text.charCodeAt(i)) && LOW(text.charCodeAt(i + 1)) ? 2 : 1;
}

/** The unit of the four hex digits at `i`, or -1. */
function hex4(text, i) {
  for (let k = i; k < i + 4; k++) if (!isHex(text.charCodeAt(k))) return -1;
  return parseInt(text.slice(i, i + 4), 16);
}

/** Length of the number at `i` (see the rules above), or 0. */
function numberLength(text, i) {
  let p = i;
  if (text[p] === "-") p += 1;
  if (text[p] === "0") {
    p += 1;
  } else if (isDigit(text.charCodeAt(p))) {
    while (isDigit(text.charCodeAt(p))) p += 1;
  } else {
    return 0;
  }
  if (text[p] === "." && isDigit(text.charCodeAt(p + 1))) {
    p += 2;
    while (isDigit(text.charCodeAt(p))) p += 1;
  }
  if (text[p] === "e" || text[p] === "E") {
    let q = p + 1;
    if (text[q] === "+" || text[q] === "-") q += 1;
    if (isDigit(text.charCodeAt(q))) {
      while (isDigit(text.charCodeAt(q))) q += 1;
      p = q;
    }
  }
  return p - i;
}

/** The first problem in `text`, as `line L, column C: what`, or null. Syntax errors
 * are left to the parser. */
export function scanJson(text) {
  let line = 1;
  let column = 1;
  let depth = 0;
  const at = (col, what) => `line ${line}, column ${col}: ${what}`;
  const LONE = "a lone surrogate escape in a string (the text must be valid Unicode)";
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === "\n") {
      line += 1;
      column = 1;
      i += 1;
    } else if (c === "[" || c === "{") {
      depth += 1;
      if (depth > MAX_DEPTH) return at(column, `nested deeper than ${MAX_DEPTH} levels`);
      column += 1;
      i += 1;
    } else if (c === "]" || c === "}") {
      depth = Math.max(0, depth - 1);
      column += 1;
      i += 1;
    } else if (c === '"') {
      column += 1;
      i += 1;
      let pendingHigh = null; // the column of a high surrogate escape awaiting its low half
      while (i < text.length && text[i] !== "\n") {
        if (text[i] === '"') {
          column += 1;
          i += 1;
          break;
        }
        if (text[i] === "\\" && text[i + 1] === "u") {
          const unit = hex4(text, i + 2);
          if (pendingHigh !== null && !LOW(unit)) return at(pendingHigh, LONE);
          if (LOW(unit) && pendingHigh === null) return at(column, LONE);
          pendingHigh = HIGH(unit) ? column : null;
          const skip = unit < 0 ? 2 : 6;
          column += skip;
          i += skip;
          continue;
        }
        if (pendingHigh !== null) return at(pendingHigh, LONE);
        if (text[i] === "\\" && i + 1 < text.length && text[i + 1] !== "\n") {
          column += 2;
          i += 1 + width(text, i + 1);
        } else {
          column += 1;
          i += width(text, i);
        }
      }
      if (pendingHigh !== null) return at(pendingHigh, LONE);
    } else {
      const length = c === "-" || isDigit(text.charCodeAt(i)) ? numberLength(text, i) : 0;
      if (length > 0) {
        const number = text.slice(i, i + length);
        if (!Number.isFinite(Number(number))) {
          return at(column, `the number ${length > 24 ? `${number.slice(0, 24)}...` : number} is too large`);
        }
        column += length;
        i += length;
      } else {
        column += 1;
        i += width(text, i);
      }
    }
  }
  return null;
}
