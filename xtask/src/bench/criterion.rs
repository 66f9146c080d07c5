//! Reading criterion's results from the files it writes, not from its terminal output.
//!
//! Criterion 0.5 (host and stack-state pin `0.5`) keeps each benchmark's latest result
//! in `<criterion dir>/<directory_name>/new/`: `benchmark.json` names it (`full_id`,
//! such as `stack_state/lifo/16/1024/lazy`; the directory name has `_` for the `/`
//! inside the function id, so the file, not the path, is the id), and
//! `estimates.json` holds its estimates in nanoseconds. The time kept is the one
//! criterion prints in the middle of `time: [low mid high]`: its "typical" estimate,
//! the slope's point estimate when it sampled linearly (the default), else the mean's
//! (flat sampling, for long iterations, has no slope).
//!
//! A directory can hold an earlier run's results (a benchmark this run filtered out,
//! or one that no longer exists). Only files written since this run's benchmark
//! started are read ([`Since`]). Deleting the directories before the run would do the
//! same, but would also throw away the baselines behind criterion's `change:` lines;
//! taking only the ids printed on stdout would mean scraping the output again.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{hosts, rel, Error, Result};

/// When a benchmark run started: files older than this belong to an earlier run.
#[derive(Clone, Copy, Debug)]
pub struct Since(SystemTime);

impl Since {
    /// Now, rounded down to the second, so that a file system that keeps coarse
    /// modification times cannot make this run's files look older than the run.
    pub fn now() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Since(UNIX_EPOCH + Duration::from_secs(seconds))
    }
}

/// Where criterion writes: `CRITERION_HOME` if set, else `criterion/` in cargo's
/// target directory (criterion's own rule).
pub fn dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(home) => crate::project_root().join(home),
        None => hosts::cargo_target_dir().join("criterion"),
    }
}

/// Every benchmark of `group` in `dir` written at or after `since`: its full id and
/// its typical time in nanoseconds, sorted by id. A missing group is no results.
pub fn estimates(dir: &Path, group: &str, since: Since) -> Result<Vec<(String, f64)>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.join(group)];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|name| name == "new") {
                if let Some(estimate) = read_new(&path, since)? {
                    found.push(estimate);
                }
            } else if path
                .file_name()
                .is_some_and(|n| n != "base" && n != "change")
            {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// One `new/` directory: its benchmark's id and typical time, or `None` if it is
/// from an earlier run or incomplete.
fn read_new(new: &Path, since: Since) -> Result<Option<(String, f64)>> {
    let estimates_path = new.join("estimates.json");
    let fresh = fs::metadata(&estimates_path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= since.0);
    if !fresh {
        return Ok(None);
    }
    let benchmark = read_json(&new.join("benchmark.json"))?;
    let id = benchmark["full_id"]
        .as_str()
        .ok_or_else(|| malformed(&new.join("benchmark.json"), "no full_id"))?;
    let estimates = read_json(&estimates_path)?;
    let typical = match &estimates["slope"] {
        Value::Null => &estimates["mean"],
        slope => slope,
    };
    let ns = typical["point_estimate"]
        .as_f64()
        .ok_or_else(|| malformed(&estimates_path, "no slope or mean point_estimate"))?;
    Ok(Some((id.to_string(), ns)))
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::failure(format!("reading {}: {e}", rel(path).display())))?;
    serde_json::from_str(&text).map_err(|e| malformed(path, &e.to_string()))
}

fn malformed(path: &Path, why: &str) -> Error {
    Error::failure(format!(
        "criterion's {} is not what criterion 0.5 writes: {why}",
        rel(path).display()
    ))
}

#[cfg(test)]
pub mod tests {
    //! Criterion's files as criterion 0.5 writes them, for the readers' tests.

    use super::*;

    /// A fresh, empty directory for one test's criterion files.
    pub fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-criterion-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes `<dir>/<directory>/new/{benchmark,estimates}.json` for `full_id` (as
    /// criterion names the directory), with `slope` (`None`: flat sampling) and `mean`
    /// point estimates in ns.
    pub fn write(dir: &Path, full_id: &str, slope: Option<f64>, mean: f64) -> PathBuf {
        let (group, rest) = full_id.split_once('/').unwrap();
        let (function, value) = rest.rsplit_once('/').unwrap();
        let directory = format!("{group}/{}/{value}", function.replace('/', "_"));
        let new = dir.join(&directory).join("new");
        fs::create_dir_all(&new).unwrap();
        let benchmark = format!(
            r#"{{"group_id":"{group}","function_id":"{function}","value_str":"{value}","throughput":null,"full_id":"{full_id}","directory_name":"{directory}","title":"{full_id}"}}"#
        );
        fs::write(new.join("benchmark.json"), benchmark).unwrap();
        let estimate = |point: f64| {
            format!(
                r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}},"point_estimate":{point},"standard_error":2.9}}"#,
                point * 0.9,
                point * 1.1
            )
        };
        let slope = slope.map_or("null".to_string(), estimate);
        let estimates = format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":{slope},"std_dev":{}}}"#,
            estimate(mean),
            estimate(mean * 1.02),
            estimate(7.5),
            estimate(6.3)
        );
        fs::write(new.join("estimates.json"), estimates).unwrap();
        new
    }

    #[test]
    fn reads_the_typical_estimate_of_this_run_only() {
        let dir = scratch("estimates");
        let since = Since::now();
        write(&dir, "stack_state/lifo/2/64/none", Some(83.766), 87.97);
        write(&dir, "stack_state/lifo/256/65536/eager", None, 4100.5);
        write(&dir, "stack_state/done/1023", Some(5.0), 5.5);
        write(&dir, "wasmtime/lifo/2/64/none", Some(900.0), 950.0);
        // An earlier run's result, and criterion's saved baseline beside this run's.
        let stale = write(&dir, "stack_state/fifo/2/64/lazy", Some(1.0), 1.0);
        let old = SystemTime::now() - Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(stale.join("estimates.json"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let new = dir.join("stack_state/lifo_2_64/none/new");
        fs::create_dir_all(new.with_file_name("base")).unwrap();
        for file in ["benchmark.json", "estimates.json"] {
            fs::copy(new.join(file), new.with_file_name("base").join(file)).unwrap();
        }

        let found = estimates(&dir, "stack_state", since).unwrap();
        assert_eq!(
            found,
            [
                ("stack_state/done/1023".to_string(), 5.0),
                ("stack_state/lifo/2/64/none".to_string(), 83.766),
                ("stack_state/lifo/256/65536/eager".to_string(), 4100.5),
            ]
        );
        assert!(estimates(&dir, "missing", since).unwrap().is_empty());
        fs::write(new.join("estimates.json"), "{").unwrap();
        let error = estimates(&dir, "stack_state", since).unwrap_err();
        assert!(error.to_string().contains("estimates.json"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
