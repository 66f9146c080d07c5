//! A unified line diff (`---`/`+++` headers, `@@` hunks with three lines of context),
//! for showing how a transcript differs from the expected one.
//!
//! Transcripts are short, so a plain longest-common-subsequence table is enough; past a
//! size where the table would be large, every line is shown as changed.

use std::fmt::Write;

const CONTEXT: usize = 3;
/// Largest `old lines * new lines` for which the LCS table is built.
const TABLE_LIMIT: usize = 4_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// The diff from `old` (labelled `old_label`) to `new`, or an empty string when they
/// are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let script = edit_script(&a, &b);
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    if script.iter().all(|(op, _)| *op == Op::Same) {
        out.push_str("(the lines are equal; only line endings or the final newline differ)\n");
        return out;
    }

    // Each entry of the script, with the old and new line numbers before it.
    let mut positions = Vec::with_capacity(script.len());
    let (mut i, mut j) = (0, 0);
    for (op, _) in &script {
        positions.push((i, j));
        match op {
            Op::Same => (i, j) = (i + 1, j + 1),
            Op::Removed => i += 1,
            Op::Added => j += 1,
        }
    }

    let changes: Vec<usize> = (0..script.len())
        .filter(|&k| script[k].0 != Op::Same)
        .collect();
    let mut k = 0;
    while k < changes.len() {
        // Grow the hunk while the next change is within two contexts of the last one.
        let first = changes[k];
        let mut last = first;
        while k + 1 < changes.len() && changes[k + 1] - last <= 2 * CONTEXT {
            k += 1;
            last = changes[k];
        }
        k += 1;
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(script.len());
        let hunk = &script[start..end];
        let old_count = hunk.iter().filter(|(op, _)| *op != Op::Added).count();
        let new_count = hunk.iter().filter(|(op, _)| *op != Op::Removed).count();
        let (old_start, new_start) = positions[start];
        let _ = writeln!(
            out,
            "@@ -{},{old_count} +{},{new_count} @@",
            old_start + usize::from(old_count > 0),
            new_start + usize::from(new_count > 0)
        );
        for (op, line) in hunk {
            let sign = match op {
                Op::Same => ' ',
                Op::Removed => '-',
                Op::Added => '+',
            };
            let _ = writeln!(out, "{sign}{line}");
        }
    }
    out
}

/// The lines of `a` and `b` as kept, removed or added, in order.
fn edit_script<'t>(a: &[&'t str], b: &[&'t str]) -> Vec<(Op, &'t str)> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > TABLE_LIMIT {
        let removed = a.iter().map(|&l| (Op::Removed, l));
        return removed.chain(b.iter().map(|&l| (Op::Added, l))).collect();
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let mut script = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            script.push((Op::Same, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
            script.push((Op::Removed, a[i]));
            i += 1;
        } else {
            script.push((Op::Added, b[j]));
            j += 1;
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn one_changed_line_in_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(old, new, "expected", "actual"),
            "--- expected\n+++ actual\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .filter(|&i| i != 19)
            .map(|i| {
                if i == 2 {
                    "two\n".to_string()
                } else {
                    format!("{i}\n")
                }
            })
            .collect();
        let diff = unified(&old, &new, "a", "b");
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(
            diff.contains("-2\n+two\n") && diff.contains("-19\n"),
            "{diff}"
        );
    }

    #[test]
    fn a_missing_final_newline_is_named() {
        assert!(unified("a\n", "a", "x", "y").contains("final newline"));
    }
}
