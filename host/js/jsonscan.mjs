// What scenario text may not hold, found before it is parsed, in the same words as the
// wasmtime runner's twin of this file (host/src/runner/jsonscan.rs): JSON.parse and
// serde_json disagree on exactly these (serde_json refuses them, JSON.parse accepts
// them as Infinity, a lone surrogate, or any depth), so both runners refuse them
// first, by one rule.
//
// - nesting deeper than MAX_DEPTH arrays and objects;
// - a \uXXXX escape that is half of a surrogate pair without its other half;
// - a number too large for a double (1e400).
//
// Positions are 1-based lines and columns, counting Unicode characters.

export const MAX_DEPTH = 128;

const HIGH = (u) => u >= 0xd800 && u <= 0xdbff;
const LOW = (u) => u >= 0xdc00 && u <= 0xdfff;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** The first problem in `text`, as `line L, column C: what`, or null. Syntax errors
 * are left to the parser. */
export function scanJson(text) {
  let line = 1;
  let column = 1;
  let depth = 0;
  const at = (what) => `line ${line}, column ${column}: ${what}`;
  const chars = [...text];
  for (let i = 0; i < chars.length; ) {
    const c = chars[i];
    if (c === "\n") {
      line += 1;
      column = 1;
      i += 1;
      continue;
    }
    if (c === "[" || c === "{") {
      depth += 1;
      if (depth > MAX_DEPTH) return at(`nested deeper than ${MAX_DEPTH} levels`);
    } else if (c === "]" || c === "}") {
      depth = Math.max(0, depth - 1);
    } else if (c === '"') {
      // A string: find its escapes; it ends at an unescaped quote (or the line's end,
      // a syntax error the parser reports).
      let j = i + 1;
      let pendingHigh = null; // the column of a high surrogate escape awaiting its low half
      while (j < chars.length && chars[j] !== '"' && chars[j] !== "\n") {
        if (chars[j] === "\\" && chars[j + 1] === "u") {
          const hex = chars.slice(j + 2, j + 6).join("");
          const unit = /^[0-9a-fA-F]{4}$/.test(hex) ? parseInt(hex, 16) : -1;
          const col = column + (j - i);
          if (pendingHigh !== null && !LOW(unit)) {
            column = pendingHigh;
            return at("a lone surrogate escape in a string (the text must be valid Unicode)");
          }
          if (LOW(unit) && pendingHigh === null) {
            column = col;
            return at("a lone surrogate escape in a string (the text must be valid Unicode)");
          }
          pendingHigh = HIGH(unit) ? col : null;
          j += unit < 0 ? 2 : 6;
          continue;
        }
        if (pendingHigh !== null) {
          column = pendingHigh;
          return at("a lone surrogate escape in a string (the text must be valid Unicode)");
        }
        j += chars[j] === "\\" ? 2 : 1;
      }
      if (pendingHigh !== null) {
        column = pendingHigh;
        return at("a lone surrogate escape in a string (the text must be valid Unicode)");
      }
      column += j + 1 - i;
      i = j + 1;
      continue;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = 0;
      const rest = chars.slice(i, i + 400).join("");
      const match = NUMBER.exec(rest);
      if (match) {
        if (!Number.isFinite(Number(match[0]))) {
          return at(`the number ${match[0].length > 24 ? `${match[0].slice(0, 24)}...` : match[0]} is too large`);
        }
        column += match[0].length;
        i += match[0].length;
        continue;
      }
    }
    column += 1;
    i += 1;
  }
  return null;
}
