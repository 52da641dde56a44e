//! The validation framework behind `cargo xtask validate`.
//!
//! A [`Check`] is a name, a one-line description and a plain function
//! `fn(&Ctx) -> anyhow::Result<Outcome>`; the registry lives in `checks.rs`.
//! The runner calls every check in turn, counts an `Err` or a panic as a
//! failure without stopping the others, prints a table and writes the report.

use std::io::IsTerminal as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checks;
use crate::report::{self, CheckRecord, Report};

/// A validation check: register it in [`checks::ALL`].
pub(crate) struct Check {
    /// Short kebab-case name, used on the command line and in the report.
    pub(crate) name: &'static str,
    /// One line: what the check establishes.
    pub(crate) about: &'static str,
    /// Runs the check. `Err` (or a panic) counts as a failure.
    pub(crate) run: fn(&Ctx) -> anyhow::Result<Outcome>,
}

impl Check {
    pub(crate) const fn new(
        name: &'static str,
        about: &'static str,
        run: fn(&Ctx) -> anyhow::Result<Outcome>,
    ) -> Self {
        Check { name, about, run }
    }
}

/// What a check gets to work with.
pub(crate) struct Ctx {
    /// CI-sized run: fewer draws, fewer simulations, fewer repetitions.
    pub(crate) quick: bool,
    /// The DDM MNLE's simulation budget, if the command line sets one.
    pub(crate) ddm_sims: Option<usize>,
    /// The DDM MNLE's training seed, if the command line sets one.
    pub(crate) ddm_seed: Option<u64>,
    /// This check's own output folder, `target/validate/<check>/`; created on
    /// demand by [`Ctx::output_path`].
    pub(crate) out_dir: PathBuf,
    progress: Progress,
}

impl Ctx {
    /// A progress bar of `len` steps for a long loop (draws, simulations,
    /// epochs). Hidden unless stdout is a terminal and `CI` is not set.
    pub(crate) fn progress_bar(&self, len: u64, what: &str) -> ProgressBar {
        self.progress.bar(len, what)
    }

    /// Shows a training epoch on a bar from [`Ctx::progress_bar`]: its number and
    /// validation loss (the bar counts epochs).
    pub(crate) fn show_epoch(bar: &ProgressBar, s: &nle::EpochStats) {
        bar.set_message(format!(
            "epoch {}: validation loss {:.4}",
            s.epoch, s.validation_loss
        ));
        bar.inc(1);
    }

    /// Prints `text` above the progress bars (summary tables worth seeing at once).
    pub(crate) fn println(&self, text: &str) {
        for line in text.lines() {
            self.progress.println(line);
        }
    }

    /// `out_dir/file`, with `out_dir` created; for plots, draws and tables.
    #[allow(dead_code, reason = "for the checks that write plots and draws")]
    pub(crate) fn output_path(&self, file: &str) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("creating {}", self.out_dir.display()))?;
        Ok(self.out_dir.join(file))
    }
}

#[cfg(test)]
impl Ctx {
    /// A quick context with hidden progress, writing under the temp folder.
    pub(crate) fn for_tests(check: &str) -> Ctx {
        let out_dir = std::env::temp_dir()
            .join("xtask-validate-tests")
            .join(check);
        Ctx {
            quick: true,
            ddm_sims: None,
            ddm_seed: None,
            out_dir,
            progress: Progress { multi: None },
        }
    }
}

/// What a check found.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Did the check pass?
    pub(crate) passed: bool,
    /// One line with the key figures, shown in the table.
    pub(crate) summary: String,
    /// Named figures with what they were held against.
    pub(crate) metrics: Vec<Metric>,
    /// Extra markdown sections for the report (tables, plots), as (title, body).
    pub(crate) sections: Vec<(String, String)>,
}

impl Outcome {
    /// An outcome that passes exactly when every metric does.
    pub(crate) fn from_metrics(summary: impl Into<String>, metrics: Vec<Metric>) -> Self {
        let passed = metrics.iter().all(|m| m.ok);
        Outcome {
            passed,
            summary: summary.into(),
            metrics,
            sections: Vec::new(),
        }
    }

    /// Adds a markdown section to the report.
    pub(crate) fn section(mut self, title: impl Into<String>, markdown: impl Into<String>) -> Self {
        self.sections.push((title.into(), markdown.into()));
        self
    }
}

/// One named figure of a check, with the expectation it was held against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) value: f64,
    /// The expectation in words, e.g. `= 150`, `9.3 ± 0.001`, `≤ 1.01`; the
    /// thresholds are printed as written in the check (shortest `f64` form).
    pub(crate) expect: String,
    pub(crate) ok: bool,
}

impl Metric {
    /// `value` must equal `expected` exactly (counts, sums of integers).
    pub(crate) fn equals(name: impl Into<String>, value: f64, expected: f64) -> Self {
        let expect = format!("= {expected}");
        Metric {
            name: name.into(),
            value,
            expect,
            ok: value == expected,
        }
    }

    /// `|value - expected| ≤ tol`.
    pub(crate) fn close(name: impl Into<String>, value: f64, expected: f64, tol: f64) -> Self {
        let expect = format!("{expected} ± {tol}");
        Metric {
            name: name.into(),
            value,
            expect,
            ok: (value - expected).abs() <= tol,
        }
    }

    /// `value ≤ max` (R-hat, C2ST, divergences).
    #[allow(dead_code, reason = "for the posterior checks to come")]
    pub(crate) fn at_most(name: impl Into<String>, value: f64, max: f64) -> Self {
        let expect = format!("≤ {max}");
        Metric {
            name: name.into(),
            value,
            expect,
            ok: value <= max,
        }
    }

    /// `value ≥ min` (ESS, p-values).
    #[allow(dead_code, reason = "for the posterior checks to come")]
    pub(crate) fn at_least(name: impl Into<String>, value: f64, min: f64) -> Self {
        let expect = format!("≥ {min}");
        Metric {
            name: name.into(),
            value,
            expect,
            ok: value >= min,
        }
    }

    /// A figure reported for information only (run time, draws per second).
    #[allow(dead_code, reason = "for the posterior checks to come")]
    pub(crate) fn info(name: impl Into<String>, value: f64) -> Self {
        Metric {
            name: name.into(),
            value,
            expect: "(info)".into(),
            ok: true,
        }
    }
}

/// Formats a figure for tables: integers without decimals, others with four
/// significant digits (`NaN` and infinities as Rust prints them).
pub(crate) fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let mag = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&mag) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - mag).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// Command-line options of `validate`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) list: bool,
    /// Run only these checks (all when empty).
    pub(crate) only: Vec<String>,
    /// `--ddm-sims N`: the DDM MNLE's simulation budget instead of the run's default.
    pub(crate) ddm_sims: Option<usize>,
    /// `--ddm-seed N`: the DDM MNLE's seed (simulations, validation split,
    /// initial weights, batches) instead of the default, to see the spread of a
    /// trained estimator's results across seeds.
    pub(crate) ddm_seed: Option<u64>,
}

/// The smallest `--ddm-sims`: the training loop's batch of 200 and a 10% validation
/// split need some rows; below this the MNLE is not worth checking.
const MIN_DDM_SIMS: usize = 1000;

impl Options {
    pub(crate) fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut opts = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => opts.quick = true,
                "--list" => opts.list = true,
                "--ddm-sims" => {
                    let n: usize = number(args.next(), arg)?;
                    if n < MIN_DDM_SIMS {
                        bail!("`--ddm-sims {n}`: at least {MIN_DDM_SIMS}");
                    }
                    opts.ddm_sims = Some(n);
                }
                "--ddm-seed" => opts.ddm_seed = Some(number(args.next(), arg)?),
                flag if flag.starts_with('-') => bail!("`validate`: unknown option `{flag}`"),
                name => opts.only.push(name.to_string()),
            }
        }
        Ok(opts)
    }
}

/// The whole number after `flag` (underscores allowed: `1_000_000`).
fn number<T: std::str::FromStr>(value: Option<&String>, flag: &str) -> anyhow::Result<T> {
    let v = value.ok_or_else(|| anyhow::anyhow!("`{flag}` needs a number"))?;
    v.replace('_', "")
        .parse()
        .map_err(|_| anyhow::anyhow!("`{flag} {v}`: not a whole number"))
}

/// Runs the selected checks, prints the table, writes the report; returns
/// whether every check passed.
pub(crate) fn run(root: &Path, opts: &Options) -> anyhow::Result<bool> {
    if opts.list {
        for c in checks::ALL {
            println!("{:<24} {}", c.name, c.about);
        }
        return Ok(true);
    }
    let selected = select(checks::ALL, &opts.only)?;
    let out_dir = root.join("target").join("validate");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let progress = Progress::new();
    let started = Instant::now();
    let mut records = Vec::with_capacity(selected.len());
    for (i, check) in selected.iter().enumerate() {
        let spinner = progress.spinner(format!("[{}/{}] {}", i + 1, selected.len(), check.name));
        let ctx = Ctx {
            quick: opts.quick,
            ddm_sims: opts.ddm_sims,
            ddm_seed: opts.ddm_seed,
            out_dir: out_dir.join(check.name),
            progress: progress.clone(),
        };
        let record = run_one(check, &ctx);
        spinner.finish_and_clear();
        progress.println(&format!(
            "[{}/{}] {} {} in {}",
            i + 1,
            selected.len(),
            check.name,
            record.status(),
            fmt_duration(Duration::from_secs_f64(record.seconds))
        ));
        records.push(record);
    }

    let report = Report::new(opts.quick, started.elapsed().as_secs_f64(), records, root);
    println!("{}", report::table(&report));
    let (md, json) = report::write(&report, &out_dir)?;
    println!("report: {} and {}", rel(root, &md), rel(root, &json));
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    let n = report.checks.len();
    let verdict = if failed == 0 { "PASS" } else { "FAIL" };
    println!("validate: {verdict}: {} of {n} checks passed", n - failed);
    Ok(failed == 0)
}

/// The checks named in `only` (all when empty), in registry order.
fn select<'a>(all: &'a [Check], only: &[String]) -> anyhow::Result<Vec<&'a Check>> {
    if let Some(unknown) = only
        .iter()
        .find(|n| !all.iter().any(|c| c.name == n.as_str()))
    {
        let names: Vec<_> = all.iter().map(|c| c.name).collect();
        bail!(
            "no check named `{unknown}`; the checks are: {}",
            names.join(", ")
        );
    }
    Ok(all
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|n| n == c.name))
        .collect())
}

/// Runs one check, turning an error or a panic into a failed record.
pub(crate) fn run_one(check: &Check, ctx: &Ctx) -> CheckRecord {
    let t0 = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| (check.run)(ctx)));
    let seconds = t0.elapsed().as_secs_f64();
    let (outcome, error) = match result {
        Ok(Ok(outcome)) => (Some(outcome), None),
        Ok(Err(err)) => (None, Some(format!("error: {err:#}"))),
        Err(payload) => (
            None,
            Some(format!("panic: {}", panic_message(payload.as_ref()))),
        ),
    };
    CheckRecord::new(check, outcome, error, seconds)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 59.995 {
        return format!("{s:.2} s");
    }
    let whole = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    format!("{}m{:02}s", whole / 60, whole % 60)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Progress display shared by the runner and the checks: one `MultiProgress`
/// on stderr, hidden when stdout is not a terminal or `CI=true`.
#[derive(Clone)]
struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    fn new() -> Self {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        let shown = std::io::stdout().is_terminal() && !ci;
        Progress {
            multi: shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let style = ProgressStyle::with_template(
            "  {msg:<24} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        multi.add(
            ProgressBar::new(len)
                .with_style(style)
                .with_message(what.to_string()),
        )
    }

    fn spinner(&self, what: String) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = multi.add(
            ProgressBar::new_spinner()
                .with_style(style)
                .with_message(what),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A log line on stderr that does not tear the bars.
    fn println(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                if multi.println(line).is_err() {
                    eprintln!("{line}");
                }
            }
            None => eprintln!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(_: &Ctx) -> anyhow::Result<Outcome> {
        Ok(Outcome::from_metrics(
            "fine",
            vec![Metric::equals("n", 3.0, 3.0)],
        ))
    }
    fn misses(_: &Ctx) -> anyhow::Result<Outcome> {
        Ok(Outcome::from_metrics(
            "off",
            vec![Metric::close("x", 1.1, 1.0, 0.05)],
        ))
    }
    fn errs(_: &Ctx) -> anyhow::Result<Outcome> {
        bail!("no data")
    }
    fn panics(_: &Ctx) -> anyhow::Result<Outcome> {
        let v: Vec<f64> = Vec::new();
        Ok(Outcome::from_metrics(
            "unreachable",
            vec![Metric::info("x", v[3])],
        ))
    }

    #[test]
    fn errors_and_panics_are_failures_and_do_not_stop_the_run() {
        let all = [
            Check::new("panics", "", panics),
            Check::new("passes", "", passes),
            Check::new("errs", "", errs),
            Check::new("misses", "", misses),
        ];
        let ctx = Ctx::for_tests("framework");
        let records: Vec<_> = all.iter().map(|c| run_one(c, &ctx)).collect();
        let status: Vec<_> = records
            .iter()
            .map(|r| (r.name.as_str(), r.passed))
            .collect();
        assert_eq!(
            status,
            [
                ("panics", false),
                ("passes", true),
                ("errs", false),
                ("misses", false)
            ]
        );
        assert!(
            records[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("panic: index out of bounds")
        );
        assert_eq!(records[2].error.as_deref(), Some("error: no data"));
        assert_eq!(records[3].error, None);
    }

    #[test]
    fn metrics_compare_as_documented() {
        assert!(Metric::equals("n", 150.0, 150.0).ok);
        assert!(!Metric::equals("n", 149.0, 150.0).ok);
        assert!(Metric::close("m", 5.9667, 5.967, 1e-3).ok);
        assert!(!Metric::close("m", f64::NAN, 5.967, 1e-3).ok);
        assert!(Metric::at_most("rhat", 1.005, 1.01).ok);
        assert!(!Metric::at_least("ess", f64::NAN, 400.0).ok);
        assert_eq!(Metric::close("m", 1.0, 9.3, 0.001).expect, "9.3 ± 0.001");
    }

    #[test]
    fn values_format_for_tables() {
        assert_eq!(fmt_value(1373.0), "1373");
        assert_eq!(fmt_value(5.966_666), "5.967");
        assert_eq!(fmt_value(0.243), "0.2430");
        assert_eq!(fmt_value(12345.678), "12346");
        assert_eq!(fmt_value(1.5e-7), "1.500e-7");
        assert_eq!(fmt_value(f64::NAN), "NaN");
    }

    #[test]
    fn options_parse_by_hand() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&["--quick", "cookie-data"])).unwrap();
        assert_eq!(
            o,
            Options {
                quick: true,
                list: false,
                only: vec!["cookie-data".into()],
                ddm_sims: None,
                ddm_seed: None,
            }
        );
        assert!(Options::parse(&args(&["--fast"])).is_err());
        let o = Options::parse(&args(&["--ddm-sims", "1_000_000", "ddm-hierarchical"])).unwrap();
        assert_eq!(o.ddm_sims, Some(1_000_000));
        assert_eq!(o.only, vec!["ddm-hierarchical".to_string()]);
        let o = Options::parse(&args(&["--ddm-seed", "3", "--quick"])).unwrap();
        assert_eq!((o.ddm_seed, o.quick), (Some(3), true));
        for bad in [
            &["--ddm-sims"][..],
            &["--ddm-sims", "lots"],
            &["--ddm-sims", "999"],
            &["--ddm-seed"],
            &["--ddm-seed", "-1"],
            &["--ddm-seed", "1.5"],
        ] {
            assert!(Options::parse(&args(bad)).is_err(), "{bad:?}");
        }
        assert!(select(checks::ALL, &["no-such-check".into()]).is_err());
        assert_eq!(select(checks::ALL, &[]).unwrap().len(), checks::ALL.len());
    }

    #[test]
    fn check_names_are_unique_kebab_case() {
        let mut names: Vec<_> = checks::ALL.iter().map(|c| c.name).collect();
        for n in &names {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), checks::ALL.len());
    }
}
