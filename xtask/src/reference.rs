//! What blessing examples (`bless`) and bad modules (`badmod`) share: the reference
//! host whose output is written, the order the hosts run in, the report when one
//! disagrees with the reference, and writing an expected file.

use std::fs;
use std::path::Path;

use crate::hosts::Host;
use crate::{diff, rel, Error, Result};

/// The host whose transcripts are written.
pub const REFERENCE: Host = Host::Node26;

/// The hosts a bless runs on: the reference first, then every other one, each
/// compared with it.
pub fn hosts_in_order() -> impl Iterator<Item = Host> {
    std::iter::once(REFERENCE).chain(Host::ALL.into_iter().filter(|&h| h != REFERENCE))
}

/// Says that `host`'s output for run `label` differs from the reference's, with the
/// diff (`reference_label` names the reference's run).
pub fn report_disagreement(
    host: Host,
    label: &str,
    expected: &str,
    got: &str,
    reference_label: &str,
) {
    eprintln!(
        "error: {label}: {} and {} disagree:",
        REFERENCE.name(),
        host.name()
    );
    eprint!("{}", diff::unified(expected, got, reference_label, label));
}

/// Writes `text` to `path` unless it is already there, saying which.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    let shown = rel(path);
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        println!("unchanged {}", shown.display());
        return Ok(());
    }
    fs::write(path, text)
        .map_err(|e| Error::failure(format!("writing {}: {e}", shown.display())))?;
    println!("wrote {}", shown.display());
    Ok(())
}
