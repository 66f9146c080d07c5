//! The test environment's files (module `env`, docs/abi.md "Host environment"): byte
//! arrays by name, behind promises that settle after fixed virtual-time delays, for
//! the async VFS of c-examples/15-sqlite. The twin of host/js/files.mjs: the same
//! names, the same delays, the same words for misuse. Files last for the whole
//! scenario: a `reset` step's fresh instance finds them as the last one left them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::env::{read_string, Env};
use crate::{Cx, Error, Exception, Imports, JsValue, Val};

/// Virtual milliseconds each operation takes before its promise settles.
const READ_MS: i32 = 1;
const WRITE_MS: i32 = 1;
const TRUNCATE_MS: i32 = 1;
const SYNC_MS: i32 = 2;
const SIZE_MS: i32 = 1;
const DELETE_MS: i32 = 1;

/// Every file of a scenario.
#[derive(Clone, Default)]
pub struct Files(Rc<RefCell<FileSet>>);

#[derive(Default)]
struct FileSet {
    /// Id -> bytes.
    files: Vec<Vec<u8>>,
    /// Name -> id; a deleted file keeps its bytes for the ids still held.
    names: HashMap<String, usize>,
}

fn arg(args: &[Val], i: usize) -> i32 {
    args.get(i).and_then(Val::i32).unwrap_or(0)
}

fn offset(what: &str, args: &[Val], i: usize) -> Result<usize, Error> {
    let value = args.get(i).and_then(Val::i64).unwrap_or(0);
    // JavaScript's safe integers bound the Node runner's offsets.
    if !(0..=(1 << 53) - 1).contains(&value) {
        return Err(Exception::error(format!(
            "env.{what}: offset {value} out of range"
        )));
    }
    Ok(value as usize)
}

fn length(what: &str, len: i32) -> Result<usize, Error> {
    if len < 0 {
        return Err(Exception::error(format!(
            "env.{what}: length {len} is negative"
        )));
    }
    Ok(len as usize)
}

impl FileSet {
    fn file(&mut self, what: &str, id: i32) -> Result<&mut Vec<u8>, Error> {
        usize::try_from(id)
            .ok()
            .and_then(|id| self.files.get_mut(id))
            .ok_or_else(|| Exception::error(format!("env.{what}: no file {id}")))
    }
}

fn files<'a>(cx: &'a Cx<'_, '_, Env>) -> std::cell::RefMut<'a, FileSet> {
    cx.data().files.0.borrow_mut()
}

fn later(cx: &Cx<'_, '_, Env>, ms: i32, value: JsValue) -> Option<Val> {
    Some(JsValue::Promise(cx.data().clock.resolve_after(ms, value)).into_val())
}

/// Adds the `env.file_*` imports.
pub fn add(imports: &mut Imports<Env>) {
    imports
        .func("env", "file_open", open)
        .func("env", "file_read", read)
        .func("env", "file_write", write)
        .func("env", "file_exists", |cx, args| {
            let name = read_string(cx.memory(), arg(args, 0))?;
            let exists = files(cx).names.contains_key(&name);
            Ok(Some(Val::I32(exists as i32)))
        })
        .func("env", "file_truncate", |cx, args| {
            let size = offset("file_truncate", args, 1)?;
            files(cx)
                .file("file_truncate", arg(args, 0))?
                .resize(size, 0);
            Ok(later(cx, TRUNCATE_MS, JsValue::Int(0)))
        })
        .func("env", "file_sync", |cx, args| {
            files(cx).file("file_sync", arg(args, 0))?;
            Ok(later(cx, SYNC_MS, JsValue::Int(0)))
        })
        .func("env", "file_size", |cx, args| {
            let id = arg(args, 0);
            let size = files(cx).file("file_size", id)?.len();
            let Ok(size) = i32::try_from(size) else {
                return Err(Exception::error(format!(
                    "env.file_size: file {id} is over 2 GiB"
                )));
            };
            Ok(later(cx, SIZE_MS, JsValue::Int(size)))
        })
        .func("env", "file_delete", |cx, args| {
            let name = read_string(cx.memory(), arg(args, 0))?;
            let existed = files(cx).names.remove(&name).is_some();
            Ok(later(
                cx,
                DELETE_MS,
                JsValue::Int(if existed { 0 } else { -1 }),
            ))
        });
}

/// `file_open(name, create) -> id`: the file's id, -1 for a missing one not created.
fn open(cx: &mut Cx<'_, '_, Env>, args: &[Val]) -> Result<Option<Val>, Error> {
    let name = read_string(cx.memory(), arg(args, 0))?;
    let mut set = files(cx);
    let id = match set.names.get(&name) {
        Some(&id) => id as i32,
        None if arg(args, 1) == 0 => -1,
        None => {
            let id = set.files.len();
            set.files.push(Vec::new());
            set.names.insert(name, id);
            id as i32
        }
    };
    Ok(Some(Val::I32(id)))
}

/// `file_read(id, at, len)`: a promise of up to `len` bytes from `at`.
fn read(cx: &mut Cx<'_, '_, Env>, args: &[Val]) -> Result<Option<Val>, Error> {
    let at = offset("file_read", args, 1)?;
    let len = length("file_read", arg(args, 2))?;
    let bytes = {
        let mut set = files(cx);
        let file = set.file("file_read", arg(args, 0))?;
        let from = at.min(file.len());
        let to = (from + len).min(file.len());
        file[from..to].to_vec()
    };
    Ok(later(cx, READ_MS, JsValue::Bytes(bytes.into())))
}

/// `file_write(id, src, len, at)`: writes `len` bytes of memory from `src` at `at`
/// (growing the file); a promise of `len`.
fn write(cx: &mut Cx<'_, '_, Env>, args: &[Val]) -> Result<Option<Val>, Error> {
    let at = offset("file_write", args, 3)?;
    let len = length("file_write", arg(args, 2))?;
    let start = arg(args, 1) as u32 as usize;
    let memory = cx.memory();
    let Some(bytes) = memory.get(start..start + len).map(<[u8]>::to_vec) else {
        return Err(Exception::error(format!(
            "env.file_write: bytes at {start}..{} lie outside memory ({} bytes)",
            start + len,
            memory.len()
        )));
    };
    {
        let mut set = files(cx);
        let file = set.file("file_write", arg(args, 0))?;
        if file.len() < at + len {
            file.resize(at + len, 0);
        }
        file[at..at + len].copy_from_slice(&bytes);
    }
    Ok(later(cx, WRITE_MS, JsValue::Int(len as i32)))
}
