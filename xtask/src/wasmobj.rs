//! Hiding a relocatable wasm object's internal symbols: rewrites the symbol table of
//! its `linking` custom section so that every defined symbol outside a kept set binds
//! locally, as a C `static` would. `llvm-objcopy` cannot do this for wasm (19 only
//! dumps, removes and adds sections), and wasm-ld has no version scripts.
//!
//! The format is the one of <https://github.com/WebAssembly/tool-conventions/blob/main/Linking.md>:
//!
//! ```text
//! custom section "linking": version (2), then subsections: kind u8, size, payload
//!   kind 8, the symbol table: count, then per symbol
//!     kind u8, flags varuint32, then
//!       function / global / tag / table: index, and a name when defined (or when
//!                                        flags has EXPLICIT_NAME)
//!       data:                            name, and when defined index, offset, size
//!       section:                         section index (no name)
//! ```
//!
//! Only the flags change: relocations name symbols by their index in this table, which
//! stays as it is, and every other section and subsection is copied byte for byte.
//! Undefined symbols are never made local (a local symbol must be defined).

use std::collections::BTreeSet;

/// The binding bits of a symbol's flags: 0 global, 1 weak, 2 local.
const BINDING_MASK: u32 = 0x3;
const BINDING_LOCAL: u32 = 0x2;
const VISIBILITY_HIDDEN: u32 = 0x4;
const UNDEFINED: u32 = 0x10;
const EXPLICIT_NAME: u32 = 0x40;

const SYMBOL_TABLE: u8 = 8;
const KIND_DATA: u8 = 1;
const KIND_SECTION: u8 = 3;

/// What [`localize`] did: the global symbols it kept, by name, and how many it hid.
#[derive(Debug, Default, PartialEq)]
pub struct Localized {
    /// Defined symbols left global (or weak), by name.
    pub kept: BTreeSet<String>,
    /// Defined symbols made local.
    pub hidden: usize,
}

/// Rewrites the object `bytes` so that each defined, non-local symbol whose name is
/// not in `keep` becomes local and hidden.
pub fn localize(bytes: &[u8], keep: &[&str]) -> Result<(Vec<u8>, Localized), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a wasm object (no \\0asm header)".into());
    }
    let mut out = bytes[..8].to_vec();
    let mut done = Localized::default();
    let mut found = false;
    let mut r = Reader::new(&bytes[8..]);
    while !r.is_empty() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let payload = r.take(size)?;
        let mut body = payload.to_vec();
        if id == 0 {
            let mut p = Reader::new(payload);
            let name_len = p.leb()? as usize;
            if p.take(name_len)? == b"linking" {
                let head = payload.len() - p.rest().len();
                let mut new = payload[..head].to_vec();
                new.extend(linking(p.rest(), keep, &mut done)?);
                body = new;
                found = true;
            }
        }
        out.push(id);
        write_leb(&mut out, body.len() as u32);
        out.extend(body);
    }
    if !found {
        return Err("no `linking` section (not a relocatable object?)".into());
    }
    Ok((out, done))
}

/// The payload of the `linking` section after its name, rewritten.
fn linking(payload: &[u8], keep: &[&str], done: &mut Localized) -> Result<Vec<u8>, String> {
    let mut r = Reader::new(payload);
    let version = r.leb()?;
    if version != 2 {
        return Err(format!("linking section version {version}, expected 2"));
    }
    let mut out = Vec::new();
    write_leb(&mut out, version);
    while !r.is_empty() {
        let kind = r.byte()?;
        let size = r.leb()? as usize;
        let sub = r.take(size)?;
        let sub = if kind == SYMBOL_TABLE {
            symbol_table(sub, keep, done)?
        } else {
            sub.to_vec()
        };
        out.push(kind);
        write_leb(&mut out, sub.len() as u32);
        out.extend(sub);
    }
    Ok(out)
}

fn symbol_table(sub: &[u8], keep: &[&str], done: &mut Localized) -> Result<Vec<u8>, String> {
    let mut r = Reader::new(sub);
    let count = r.leb()?;
    let mut out = Vec::new();
    write_leb(&mut out, count);
    for _ in 0..count {
        let kind = r.byte()?;
        let mut flags = r.leb()?;
        // Everything after the flags, copied as is; the name is read on the way.
        let start = r.position();
        let defined = flags & UNDEFINED == 0;
        let name = match kind {
            KIND_SECTION => {
                r.leb()?;
                None
            }
            KIND_DATA => {
                let name = r.name()?;
                if defined {
                    r.leb()?;
                    r.leb()?;
                    r.leb()?;
                }
                Some(name)
            }
            _ => {
                r.leb()?;
                if defined || flags & EXPLICIT_NAME != 0 {
                    Some(r.name()?)
                } else {
                    None
                }
            }
        };
        let rest = &sub[start..r.position()];
        if let (true, Some(name)) = (defined, name) {
            if flags & BINDING_MASK != BINDING_LOCAL {
                if keep.contains(&name.as_str()) {
                    done.kept.insert(name);
                } else {
                    flags = (flags & !BINDING_MASK) | BINDING_LOCAL | VISIBILITY_HIDDEN;
                    done.hidden += 1;
                }
            }
        }
        out.push(kind);
        write_leb(&mut out, flags);
        out.extend(rest);
    }
    if !r.is_empty() {
        return Err("trailing bytes after the symbol table".into());
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn position(&self) -> usize {
        self.at
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or("truncated object")?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or("truncated object")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn leb(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varuint32 longer than 5 bytes".into())
    }

    fn name(&mut self) -> Result<String, String> {
        let len = self.leb()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "symbol name is not UTF-8".into())
    }
}

fn write_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made object: a linking section whose symbol table holds a defined
    /// function `keep_me`, a defined function `hide_me` (weak), an undefined function
    /// (no name) and a defined data symbol `hidden_data`, plus another section.
    fn object() -> Vec<u8> {
        let mut table = Vec::new();
        write_leb(&mut table, 4);
        for (kind, flags, index, name) in [(0u8, 0u32, 0u32, "keep_me"), (0, 1, 1, "hide_me")] {
            table.push(kind);
            write_leb(&mut table, flags);
            write_leb(&mut table, index);
            write_leb(&mut table, name.len() as u32);
            table.extend(name.as_bytes());
        }
        table.extend([0, UNDEFINED as u8, 2]);
        table.extend([KIND_DATA, 0, 11]);
        table.extend(b"hidden_data");
        table.extend([0, 4, 200, 1]); // segment 0, offset 4, size 200 (two bytes)
        let mut linking = vec![7];
        linking.extend(b"linking");
        linking.push(2);
        linking.push(SYMBOL_TABLE);
        write_leb(&mut linking, table.len() as u32);
        linking.extend(table);
        let mut object = b"\0asm\x01\0\0\0".to_vec();
        object.extend([1, 1, 0]); // a type section with no types
        object.push(0);
        write_leb(&mut object, linking.len() as u32);
        object.extend(linking);
        object
    }

    #[test]
    fn hides_every_defined_symbol_but_the_kept_ones() {
        let (out, done) = localize(&object(), &["keep_me"]).unwrap();
        assert_eq!(done.kept.iter().collect::<Vec<_>>(), ["keep_me"]);
        assert_eq!(done.hidden, 2);
        // Hiding again finds nothing more: the hidden ones are local now.
        let (again, second) = localize(&out, &["keep_me"]).unwrap();
        assert_eq!(second.hidden, 0);
        assert_eq!(again, out);
        // A function symbol is kind, flags, index, name length, name: the flags byte
        // sits three bytes before the name.
        let flags_before = |name: &[u8]| {
            let at = out.windows(name.len()).position(|w| w == name).unwrap();
            out[at - 3]
        };
        assert_eq!(
            flags_before(b"hide_me"),
            (BINDING_LOCAL | VISIBILITY_HIDDEN) as u8
        );
        assert_eq!(flags_before(b"keep_me"), 0);
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        assert!(localize(b"\0asm\x01\0\0\0", &[]).is_err());
        assert!(localize(b"ELF", &[]).is_err());
        let mut cut = object();
        cut.truncate(cut.len() - 3);
        assert!(localize(&cut, &[]).is_err());
    }
}
