//! The cookie models sampled with NUTS (issue 5): pooled and unpooled against their
//! conjugate Gamma posteriors, hierarchical against convergence criteria and the
//! published NumPyro figures. Draws are written as cmdstan CSV under `target/validate/`.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use bridge::ModelDensity;
use mcmc::diagnostics::Summary;
use mcmc::{Chain, ProgressUpdate, Settings};
use ppl::cookies::{self, Cookies};
use ppl::{Model, ModelFn};

use crate::stats::{gamma_cdf, ks_p_value, ks_statistic};
use crate::validate::{Ctx, Metric, Outcome};

/// The talk's settings (REFERENCES.md §1): target acceptance 0.9, 1000 warm-up + 2000
/// draws, 4 chains. The cookie models are cheap, so `--quick` runs them in full.
pub(crate) fn settings() -> Settings {
    Settings {
        num_warmup: 1000,
        num_draws: 2000,
        num_chains: 4,
        target_accept: 0.9,
        seed: 20_241_125,
        ..Default::default()
    }
}

/// A sampled model: constrained draws per chain (row-major, `names.len()` columns).
pub(crate) struct Run {
    pub(crate) names: Vec<String>,
    pub(crate) chains: Vec<Chain>,
    pub(crate) constrained: Vec<Vec<f64>>,
    pub(crate) summary: Summary,
    pub(crate) seconds: f64,
    /// CPU seconds of the whole process during the run (all threads; Linux only):
    /// unlike wall time, not inflated by other processes on a shared machine.
    pub(crate) cpu_seconds: Option<f64>,
}

impl Run {
    /// Every draw as a row (all chains), `names.len()` values each.
    pub(crate) fn joint_draws(&self) -> Vec<f64> {
        self.constrained.concat()
    }

    /// All chains' draws of column `j`.
    pub(crate) fn column(&self, j: usize) -> Vec<f64> {
        let k = self.names.len();
        self.constrained
            .iter()
            .flat_map(|c| c.iter().skip(j).step_by(k).copied())
            .collect()
    }

    pub(crate) fn divergences(&self) -> usize {
        self.chains.iter().map(Chain::divergences).sum()
    }

    /// The largest R-hat over the parameters.
    pub(crate) fn max_rhat(&self) -> f64 {
        self.summary
            .rows
            .iter()
            .map(|r| r.r_hat)
            .fold(0.0, f64::max)
    }

    /// Per parameter, its draws here and in `other` (the same model with another
    /// likelihood): the panels of [`crate::plots::density_overlay`].
    pub(crate) fn overlay_panels(&self, other: &Run) -> Vec<(String, Vec<f64>, Vec<f64>)> {
        (0..self.names.len())
            .map(|j| (self.names[j].clone(), self.column(j), other.column(j)))
            .collect()
    }

    pub(crate) fn grad_evals(&self) -> u64 {
        self.chains.iter().map(|c| c.grad_evals).sum()
    }
}

/// Runs NUTS on `model` with the talk's settings, maps the draws to constrained values,
/// prints the summary and writes the cmdstan CSVs.
pub(crate) fn run<F: ModelFn + Clone + Sync>(
    ctx: &Ctx,
    name: &str,
    model: F,
) -> anyhow::Result<Run> {
    run_with(ctx, name, model, &settings(), true)
}

/// As [`run`] with other settings; `report` prints the summary and writes the CSVs.
pub(crate) fn run_with<F: ModelFn + Clone + Sync>(
    ctx: &Ctx,
    name: &str,
    model: F,
    settings: &Settings,
    report: bool,
) -> anyhow::Result<Run> {
    let probe = ModelDensity::new(model.clone())?;
    let names = probe.column_names();
    let total = (settings.num_warmup + settings.num_draws) * settings.num_chains;
    let bar = if report {
        ctx.progress_bar(total as u64, &format!("NUTS, {name}"))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |_: ProgressUpdate| bar.inc(1);
    let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
    let chains = mcmc::sample(
        |_| ModelDensity::new(model.clone()).expect("the model traced once already"),
        settings,
        Some(&progress),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds()
        .zip(cpu_start)
        .map(|(end, start)| end - start);
    bar.finish_and_clear();
    let mut constrained = Vec::with_capacity(chains.len());
    for chain in &chains {
        let mut rows = Vec::with_capacity(chain.num_draws() * names.len());
        for row in chain.rows() {
            rows.extend(probe.constrained_row(row)?);
        }
        constrained.push(rows);
    }
    let slices: Vec<&[f64]> = constrained.iter().map(Vec::as_slice).collect();
    let summary = Summary::new(&names, &slices)?;
    if report {
        // The CSVs hold the constrained values: chains with their draws replaced.
        let out_chains: Vec<Chain> = chains
            .iter()
            .zip(&constrained)
            .map(|(chain, rows)| {
                let mut c = chain.clone();
                c.draws = rows.clone();
                c.dim = names.len();
                c
            })
            .collect();
        let dir = ctx.output_path("")?;
        mcmc::io::write_cmdstan_csvs(&dir, name, &out_chains, &names, settings)
            .context("writing cmdstan CSV")?;
        ctx.println(&format!(
            "{name}: NUTS ({} chains × {} draws):\n{summary}",
            chains.len(),
            settings.num_draws
        ));
    }
    Ok(Run {
        cpu_seconds,
        names,
        chains,
        constrained,
        summary,
        seconds,
    })
}

/// Monte-Carlo budget for posterior means: 4 MCSE (issue 5).
const MEAN_MCSE: f64 = 4.0;
/// KS p-value below which the draws are declared not to follow the conjugate posterior.
const KS_ALPHA: f64 = 0.01;

/// Conjugate checks of one λ column: mean within 4 MCSE, KS p-value with n = ESS bulk.
fn conjugate_metrics(
    run: &Run,
    j: usize,
    a: f64,
    b: f64,
    metrics: &mut Vec<Metric>,
    table: &mut String,
) {
    let row = &run.summary.rows[j];
    let exact = a / b;
    let xs = run.column(j);
    let d = ks_statistic(&xs, gamma_cdf(a, b));
    let p = ks_p_value(d, row.ess_bulk.min(xs.len() as f64));
    let name = &row.name;
    metrics.push(Metric::close(
        format!("{name}: posterior mean"),
        row.mean,
        exact,
        MEAN_MCSE * row.mcse_mean,
    ));
    metrics.push(Metric::at_least(
        format!("{name}: KS p-value vs Gamma({a}, {b})"),
        p,
        KS_ALPHA,
    ));
    let _ = writeln!(
        table,
        "| {name} | {:.4} | {exact:.4} | {:.4} | {:.4} | {d:.4} | {p:.3} |",
        row.mean,
        row.mcse_mean,
        (a.sqrt() / b)
    );
}

fn conjugate_table_header() -> String {
    String::from(
        "| parameter | NUTS mean | conjugate mean | MCSE | conjugate sd | KS D | KS p (n = ESS) |\n|---|---:|---:|---:|---:|---:|---:|\n",
    )
}

/// Run-level figures shared by the three checks.
fn run_metrics(run: &Run, metrics: &mut Vec<Metric>) {
    metrics.push(Metric::info("wall time (s)", run.seconds));
    metrics.push(Metric::info(
        "gradient evaluations",
        run.grad_evals() as f64,
    ));
    let min_ess = run
        .summary
        .rows
        .iter()
        .map(|r| r.ess_bulk)
        .fold(f64::INFINITY, f64::min);
    metrics.push(Metric::info(
        "min bulk ESS per second",
        min_ess / run.seconds,
    ));
}

fn summary_section(run: &Run) -> String {
    format!(
        "{}\n\nDivergences: {}; draws: {} chains × {}.",
        run.summary.to_markdown(),
        run.divergences(),
        run.chains.len(),
        run.chains.first().map_or(0, Chain::num_draws)
    )
}

/// Pooled model: λ's posterior is Gamma(2 + Σx, 0.2 + n).
pub(crate) fn pooled(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let data = Cookies::load()?;
    let run = run(ctx, "pooled", {
        let d = data.clone();
        move |m: &mut Model<'_>| cookies::pooled(m, &d)
    })?;
    let (a, b) = (
        2.0 + data.chips.iter().sum::<f64>(),
        0.2 + data.len() as f64,
    );
    let (mut metrics, mut table) = (Vec::new(), conjugate_table_header());
    conjugate_metrics(&run, 0, a, b, &mut metrics, &mut table);
    metrics.push(Metric::at_most(
        "divergences",
        run.divergences() as f64,
        0.0,
    ));
    run_metrics(&run, &mut metrics);
    let summary = format!(
        "lam {:.4} (conjugate {:.4}), {:.1} s",
        run.summary.rows[0].mean,
        a / b,
        run.seconds
    );
    Ok(Outcome::from_metrics(summary, metrics)
        .section("Pooled: NUTS vs conjugate", table)
        .section("Pooled: summary", summary_section(&run)))
}

/// Unpooled model: λ_l's posterior is Gamma(2 + Σ_{i∈l} x_i, 0.2 + n_l).
pub(crate) fn unpooled(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let data = Cookies::load()?;
    let run = run(ctx, "unpooled", {
        let d = data.clone();
        move |m: &mut Model<'_>| cookies::unpooled(m, &d)
    })?;
    let (mut metrics, mut table) = (Vec::new(), conjugate_table_header());
    let mut n = vec![0.0; data.n_locations];
    let mut sum = vec![0.0; data.n_locations];
    for (&x, &l) in data.chips.iter().zip(&data.location) {
        n[l] += 1.0;
        sum[l] += x;
    }
    for l in 0..data.n_locations {
        conjugate_metrics(&run, l, 2.0 + sum[l], 0.2 + n[l], &mut metrics, &mut table);
    }
    metrics.push(Metric::at_most(
        "divergences",
        run.divergences() as f64,
        0.0,
    ));
    run_metrics(&run, &mut metrics);
    let means: Vec<String> = run
        .summary
        .rows
        .iter()
        .map(|r| format!("{:.3}", r.mean))
        .collect();
    let summary = format!("lam [{}], {:.1} s", means.join(", "), run.seconds);
    Ok(Outcome::from_metrics(summary, metrics)
        .section("Unpooled: NUTS vs conjugate", table)
        .section("Unpooled: summary", summary_section(&run)))
}

/// Published NumPyro posterior means of the hierarchical λ (REFERENCES.md §1).
const PUBLISHED_HIERARCHICAL: [f64; 5] = [9.283, 6.224, 9.527, 8.947, 11.759];
/// Allowed distance to the published means (issue 5).
const PUBLISHED_TOL: f64 = 0.15;

/// Hierarchical model: convergence (R-hat ≤ 1.01, ESS ≥ 400, no divergences) and the
/// published posterior means of λ.
pub(crate) fn hierarchical(ctx: &Ctx) -> anyhow::Result<Outcome> {
    hierarchical_with(ctx, "hierarchical", &settings())
}

/// As [`hierarchical`] with `mcmc::Warmup::GradDiag` (nuts-rs' warm-up) and nuts-rs'
/// step-size jitter of 0.1 instead of Stan's warm-up.
pub(crate) fn hierarchical_grad_diag(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let settings = Settings {
        warmup: mcmc::Warmup::GradDiag(mcmc::GradDiag::default()),
        step_size_jitter: 0.1,
        ..settings()
    };
    hierarchical_with(ctx, "hierarchical_graddiag", &settings)
}

fn hierarchical_with(ctx: &Ctx, name: &str, settings: &Settings) -> anyhow::Result<Outcome> {
    let data = Cookies::load()?;
    let model = move |m: &mut Model<'_>| cookies::hierarchical(m, &data);
    let run = run_with(ctx, name, model, settings, true)?;
    let mut metrics = Vec::new();
    for row in &run.summary.rows {
        metrics.push(Metric::at_most(
            format!("{}: R-hat", row.name),
            row.r_hat,
            1.01,
        ));
        metrics.push(Metric::at_least(
            format!("{}: bulk ESS", row.name),
            row.ess_bulk,
            400.0,
        ));
        metrics.push(Metric::at_least(
            format!("{}: tail ESS", row.name),
            row.ess_tail,
            400.0,
        ));
    }
    for (l, &published) in PUBLISHED_HIERARCHICAL.iter().enumerate() {
        let row = run
            .summary
            .get(&format!("lam.{}", l + 1))
            .context("lam column")?;
        metrics.push(Metric::close(
            format!("{}: mean vs published", row.name),
            row.mean,
            published,
            PUBLISHED_TOL,
        ));
    }
    metrics.push(Metric::at_most(
        "divergences",
        run.divergences() as f64,
        0.0,
    ));
    run_metrics(&run, &mut metrics);
    let means: Vec<String> = run.summary.rows[2..]
        .iter()
        .map(|r| format!("{:.3}", r.mean))
        .collect();
    let worst_rhat = run.max_rhat();
    let summary = format!(
        "lam [{}], max R-hat {worst_rhat:.3}, {} divergences, {:.1} s",
        means.join(", "),
        run.divergences(),
        run.seconds
    );
    Ok(Outcome::from_metrics(summary, metrics)
        .section("Hierarchical: summary", summary_section(&run)))
}

/// CPU seconds used by this process so far, all threads, from Linux's `/proc/self/stat`
/// (utime + stime, in ticks of 1/100 s, the kernel's USER_HZ); `None` elsewhere.
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After "pid (comm) ": field 3 (state) onwards; utime and stime are fields 14, 15.
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
