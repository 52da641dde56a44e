//! The validation report: the terminal table, `report.md` and `report.json`.
//!
//! Both files are written atomically (a temporary file in the same folder, then
//! a rename), so a reader never sees half a report. `report.json` carries a
//! `format_version`; bump [`FORMAT_VERSION`] when a field changes meaning or
//! goes away (adding a field does not need a bump).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;

use crate::validate::{Check, Outcome, fmt_duration, fmt_value};

/// Version of the `report.json` layout.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The whole run, as serialized to `report.json`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) format_version: u32,
    /// `"quick"` or `"full"`.
    pub(crate) mode: &'static str,
    pub(crate) passed: bool,
    /// Start of the run, seconds since the Unix epoch.
    pub(crate) started_unix: u64,
    pub(crate) seconds: f64,
    /// `git rev-parse HEAD` of the workspace, when available.
    pub(crate) git_commit: Option<String>,
    pub(crate) checks: Vec<CheckRecord>,
}

impl Report {
    pub(crate) fn new(quick: bool, seconds: f64, checks: Vec<CheckRecord>, root: &Path) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Report {
            format_version: FORMAT_VERSION,
            mode: if quick { "quick" } else { "full" },
            passed: checks.iter().all(|c| c.passed),
            started_unix: now.as_secs().saturating_sub(seconds as u64),
            seconds,
            git_commit: git_commit(root),
            checks,
        }
    }
}

/// One check's result.
#[derive(Debug, Serialize)]
pub(crate) struct CheckRecord {
    pub(crate) name: String,
    pub(crate) about: String,
    pub(crate) passed: bool,
    pub(crate) summary: String,
    pub(crate) seconds: f64,
    pub(crate) metrics: Vec<MetricRecord>,
    pub(crate) sections: Vec<SectionRecord>,
    /// Why the check produced no outcome (`error: ...` or `panic: ...`).
    pub(crate) error: Option<String>,
}

impl CheckRecord {
    pub(crate) fn new(
        check: &Check,
        outcome: Option<Outcome>,
        error: Option<String>,
        seconds: f64,
    ) -> Self {
        let outcome = outcome.unwrap_or_else(|| Outcome {
            passed: false,
            summary: error.clone().unwrap_or_default(),
            metrics: Vec::new(),
            sections: Vec::new(),
        });
        CheckRecord {
            name: check.name.to_string(),
            about: check.about.to_string(),
            passed: outcome.passed && error.is_none(),
            summary: outcome.summary,
            seconds,
            metrics: outcome
                .metrics
                .into_iter()
                .map(|m| MetricRecord {
                    name: m.name,
                    value: m.value,
                    expect: m.expect,
                    ok: m.ok,
                })
                .collect(),
            sections: outcome
                .sections
                .into_iter()
                .map(|(title, markdown)| SectionRecord { title, markdown })
                .collect(),
            error,
        }
    }

    pub(crate) fn status(&self) -> &'static str {
        if self.passed { "PASS" } else { "FAIL" }
    }
}

/// A metric in the report; a non-finite `value` is written as `null`.
#[derive(Debug, Serialize)]
pub(crate) struct MetricRecord {
    pub(crate) name: String,
    pub(crate) value: f64,
    pub(crate) expect: String,
    pub(crate) ok: bool,
}

/// An extra markdown section of a check.
#[derive(Debug, Serialize)]
pub(crate) struct SectionRecord {
    pub(crate) title: String,
    pub(crate) markdown: String,
}

/// The terminal table: check, status, key figures, time; then the metrics that
/// missed their expectation, for the failed checks.
pub(crate) fn table(report: &Report) -> String {
    let rows: Vec<[String; 4]> = report
        .checks
        .iter()
        .map(|c| {
            let time = fmt_duration(Duration::from_secs_f64(c.seconds));
            [
                c.name.clone(),
                c.status().to_string(),
                c.summary.clone(),
                time,
            ]
        })
        .collect();
    let header = ["check", "status", "key figures", "time"].map(String::from);
    let mut width = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 4]| {
        let cells: Vec<String> = row
            .iter()
            .zip(width)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&header));
    let _ = writeln!(out, "{}", rule.join("  "));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row));
    }
    for c in report.checks.iter().filter(|c| !c.passed) {
        for m in c.metrics.iter().filter(|m| !m.ok) {
            let _ = writeln!(
                out,
                "  {}: {} = {} (expected {})",
                c.name,
                m.name,
                fmt_value(m.value),
                m.expect
            );
        }
        if let Some(err) = &c.error {
            let _ = writeln!(out, "  {}: {err}", c.name);
        }
    }
    out.trim_end().to_string()
}

/// `report.md`: the summary table, then one section per check.
pub(crate) fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Validation report\n");
    let passed = report.checks.iter().filter(|c| c.passed).count();
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(
        md,
        "**{verdict}**: {passed} of {} checks passed; mode {}; {}.",
        report.checks.len(),
        report.mode,
        fmt_duration(Duration::from_secs_f64(report.seconds))
    );
    if let Some(commit) = &report.git_commit {
        let _ = writeln!(md, "Commit: `{commit}`.");
    }
    let _ = writeln!(
        md,
        "\n| check | status | key figures | time |\n|---|---|---|---|"
    );
    for c in &report.checks {
        let time = fmt_duration(Duration::from_secs_f64(c.seconds));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {time} |",
            c.name,
            c.status(),
            cell(&c.summary)
        );
    }
    for c in &report.checks {
        let _ = writeln!(md, "\n## {} — {}\n\n{}", c.name, c.status(), c.about);
        if let Some(err) = &c.error {
            let _ = writeln!(md, "\n```text\n{err}\n```");
        }
        if !c.metrics.is_empty() {
            let _ = writeln!(
                md,
                "\n| metric | value | expected | ok |\n|---|---:|---|---|"
            );
            for m in &c.metrics {
                let ok = if m.ok { "yes" } else { "**no**" };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {ok} |",
                    cell(&m.name),
                    fmt_value(m.value),
                    cell(&m.expect)
                );
            }
        }
        for s in &c.sections {
            let _ = writeln!(md, "\n### {}\n\n{}", s.title, s.markdown.trim_end());
        }
    }
    md
}

/// A table cell: pipes escaped, newlines flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Writes `report.md` and `report.json` into `dir`; returns their paths.
pub(crate) fn write(report: &Report, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let md = dir.join("report.md");
    let json = dir.join("report.json");
    write_atomic(&md, markdown(report).as_bytes())?;
    let mut text = serde_json::to_string_pretty(report).context("serializing the report")?;
    text.push('\n');
    write_atomic(&json, text.as_bytes())?;
    Ok((md, json))
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over
/// `path` (atomic on one file system).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("report path has no folder")?;
    let name = path
        .file_name()
        .context("report path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

fn git_commit(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Metric;

    fn sample() -> Report {
        let ok = Check::new("good", "works", |_| unreachable!());
        let bad = Check::new("bad", "fails", |_| unreachable!());
        let outcome = Outcome::from_metrics(
            "x = 1.1 | off",
            vec![
                Metric::close("x", 1.1, 1.0, 0.05),
                Metric::equals("n", f64::NAN, 3.0),
            ],
        )
        .section("Extra", "| a |\n|---|\n| 1 |");
        let records = vec![
            CheckRecord::new(&ok, Some(Outcome::from_metrics("fine", vec![])), None, 0.5),
            CheckRecord::new(&bad, Some(outcome), None, 61.0),
        ];
        Report::new(true, 61.5, records, Path::new("/nonexistent"))
    }

    #[test]
    fn json_has_a_format_version_and_all_checks() {
        let report = sample();
        let v: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(v["format_version"], FORMAT_VERSION);
        assert_eq!(v["mode"], "quick");
        assert_eq!(v["passed"], false);
        assert_eq!(
            v["checks"][1]["metrics"][1]["value"],
            serde_json::Value::Null
        );
        assert_eq!(v["checks"][1]["sections"][0]["title"], "Extra");
    }

    #[test]
    fn table_and_markdown_show_status_and_misses() {
        let report = sample();
        let t = table(&report);
        assert!(t.lines().nth(2).unwrap().starts_with("good   PASS"), "{t}");
        assert!(t.contains("bad: x = 1.100 (expected 1 ± 0.05)"), "{t}");
        assert!(t.contains("1m01s"), "{t}");
        let md = markdown(&report);
        assert!(
            md.contains("| bad | FAIL | x = 1.1 \\| off | 1m01s |"),
            "{md}"
        );
        assert!(md.contains("| x | 1.100 | 1 ± 0.05 | **no** |"), "{md}");
        assert!(md.contains("### Extra\n\n| a |"), "{md}");
        assert!(
            md.contains("**FAIL**: 1 of 2 checks passed; mode quick;"),
            "{md}"
        );
    }

    #[test]
    fn writes_atomically_without_leftovers() {
        let dir = std::env::temp_dir().join(format!("xtask-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (md, json) = write(&sample(), &dir).unwrap();
        write_atomic(&md, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&md).unwrap(), "second");
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back["checks"].as_array().unwrap().len(), 2);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["report.json", "report.md"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
