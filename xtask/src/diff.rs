//! A unified line diff (`---`/`+++` headers, `@@` hunks with three lines of context),
//! for showing how a transcript differs from the expected one: `similar`'s, with one
//! addition, a plain sentence when only line endings or the final newline differ
//! (a line diff would show nothing there).

use similar::TextDiff;

const CONTEXT: usize = 3;

/// The diff from `old` (labelled `old_label`) to `new`, or an empty string when they
/// are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    if old.lines().eq(new.lines()) {
        return format!(
            "--- {old_label}\n+++ {new_label}\n(the lines are equal; only line endings or the final newline differ)\n"
        );
    }
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified
        .context_radius(CONTEXT)
        .header(old_label, new_label)
        .missing_newline_hint(false);
    unified.to_string()
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
