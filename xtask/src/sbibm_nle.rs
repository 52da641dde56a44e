//! sbibm's gaussian_linear and two_moons with a neural likelihood (issue 7): simulate
//! and train sbi's default MAF (sbibm's NLE), write the posterior of sbibm's observation 1
//! as a `ppl` model (the task's prior with `bridge::NeuralLikelihood` as the likelihood),
//! sample it with NUTS and compare with the task's reference posterior by C2ST, against
//! the published NLE figures (REFERENCES.md §5).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context as _, anyhow};
use bridge::{ModelDensity, NeuralLikelihood};
use flows::{ConditionalDensity, Maf, MafConfig, RowsView};
use mcmc::{Init, Settings};
use nle::{EpochStats, Progress, TrainConfig, TrainingReport};
use ppl::{Model, ModelFn, Normal, PplError, Uniform, Var};
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;
use simulators::Task;
use simulators::tasks::{GaussianLinear, TwoMoons};

use crate::cookie_nuts::{self, Run};
use crate::plots;
use crate::validate::{Ctx, Metric, Outcome};

/// sbibm's observation the posteriors are computed for.
const OBSERVATION: usize = 1;

/// The `ppl` prior of a task: θ as one vector site `theta` in a plate over its coordinates.
type PriorFn = for<'t> fn(&mut Model<'t>) -> Result<Var<'t>, PplError>;

/// gaussian_linear's prior, N(0, 0.1 · I): 0.1 is sbibm's prior *variance* (see
/// [`GaussianLinear`]), so each coordinate is Normal(0, √0.1).
fn gaussian_linear_prior<'t>(m: &mut Model<'t>) -> Result<Var<'t>, PplError> {
    let sd = GaussianLinear::PRIOR_VARIANCE.sqrt();
    m.plate("dim", GaussianLinear::DEFAULT_DIM, |m| {
        m.sample("theta", Normal::new(0.0, sd)?)
    })
}

/// two_moons' prior, U([−1, 1]²).
fn two_moons_prior<'t>(m: &mut Model<'t>) -> Result<Var<'t>, PplError> {
    m.plate("dim", 2, |m| m.sample("theta", Uniform::new(-1.0, 1.0)?))
}

/// The sizes of one task's run.
struct Plan {
    /// Simulations for training.
    sims: usize,
    /// NUTS chains, warm-up iterations and kept draws per chain.
    chains: usize,
    warmup: usize,
    draws: usize,
    /// Every `thin`-th draw of each chain enters the C2ST (sbibm thins its chains by 10).
    thin: usize,
    /// Start the chains at SIR draws (sbibm's `init_strategy = "sir"`) instead of Stan's
    /// uniform (−2, 2) on the unconstrained scale.
    sir_init: bool,
}

/// One task's specification: what differs between the two checks.
struct Spec {
    task: &'static str,
    prior: PriorFn,
    /// The published NLE C2ST at 10⁴ simulations (REFERENCES.md §5).
    published: f64,
    /// Pass thresholds on the C2ST, full and quick.
    c2st_max: f64,
    c2st_max_quick: f64,
    full: Plan,
    quick: Plan,
    seed: u64,
}

/// Proposals of the SIR initialization (sbibm: 100 batches of 1000).
const SIR_PROPOSALS: usize = 20_000;

/// What the shared part of both checks found.
struct TaskRun {
    est: Maf,
    /// The SIR proposals, when the chains started from them.
    sir: Option<Sir>,
    /// The observation.
    x: Vec<f64>,
    run: Run,
    /// Thinned NLE draws and as many reference draws, row-major.
    nle: Vec<f64>,
    reference: Vec<f64>,
    c2st: f64,
    report: TrainingReport,
    metrics: Vec<Metric>,
    table: String,
}

/// Trains sbi's default MAF on `sims` simulations of `task`, with a progress bar.
fn train(
    ctx: &Ctx,
    task: &dyn Task,
    sims: usize,
    seed: u64,
) -> anyhow::Result<(Maf, TrainingReport)> {
    let config = TrainConfig {
        seed,
        ..TrainConfig::default()
    };
    let bar = ctx.progress_bar(0, &format!("training NLE, {}", task.info().name));
    let on_epoch = |s: &EpochStats| Ctx::show_epoch(&bar, s);
    let progress = Progress {
        simulations: None,
        epochs: Some(&on_epoch),
    };
    let out = nle::train(
        task.prior(),
        task,
        sims,
        &MafConfig::default(),
        &config,
        progress,
    )?;
    bar.finish_and_clear();
    Ok(out)
}

/// SIR proposals: prior draws (rows of θ) and their weights, the learned likelihood of
/// the observation normalized to sum 1: an importance sample of the learned posterior.
struct Sir {
    thetas: Vec<f64>,
    weights: Vec<f64>,
}

impl Sir {
    /// `SIR_PROPOSALS` prior draws weighted by the learned likelihood of `x`.
    fn new(task: &dyn Task, est: &Maf, x: &[f64], seed: u64) -> anyhow::Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = task.info().theta_dim;
        let mut thetas = vec![0.0; SIR_PROPOSALS * d];
        let mut weights = Vec::with_capacity(SIR_PROPOSALS);
        for theta in thetas.chunks_exact_mut(d) {
            task.prior().sample_into(&mut rng, theta)?;
            weights.push(est.log_prob(x, theta)?);
        }
        let max = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return Err(anyhow!("SIR: no proposal has a finite learned likelihood"));
        }
        for w in &mut weights {
            *w = (*w - max).exp();
        }
        let total: f64 = weights.iter().sum();
        for w in &mut weights {
            *w /= total;
        }
        Ok(Sir { thetas, weights })
    }

    /// sbibm's SIR initialization: one proposal resampled (multinomially) per chain,
    /// mapped to the unconstrained scale.
    fn inits<F: ModelFn>(
        &self,
        probe: &ModelDensity<F>,
        chains: usize,
        seed: u64,
    ) -> anyhow::Result<Vec<Vec<f64>>> {
        let d = self.thetas.len() / self.weights.len();
        let cumulative: Vec<f64> = self
            .weights
            .iter()
            .scan(0.0, |c, w| {
                *c += w;
                Some(*c)
            })
            .collect();
        let total = cumulative[cumulative.len() - 1];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        (0..chains)
            .map(|_| {
                let u = rng.random::<f64>() * total;
                let i = cumulative
                    .partition_point(|&c| c <= u)
                    .min(self.weights.len() - 1);
                let theta = self.thetas[i * d..(i + 1) * d].to_vec();
                Ok(probe.unconstrain(&HashMap::from([("theta".to_string(), theta)]))?)
            })
            .collect()
    }
}

/// Every `thin`-th draw of every chain, rows in chain order.
fn thinned(run: &Run, thin: usize) -> Vec<f64> {
    let k = run.names.len();
    run.constrained
        .iter()
        .flat_map(|c| c.chunks_exact(k).step_by(thin).flatten().copied())
        .collect()
}

/// The `ppl` prior's log density equals the task's (sbibm's) at `rows` of θ: the largest
/// absolute difference.
fn prior_mismatch(prior: PriorFn, task: &dyn Task, rows: &[f64]) -> anyhow::Result<f64> {
    let d = task.info().theta_dim;
    let model = move |m: &mut Model<'_>| prior(m).map(|_| ());
    let mut worst = 0.0f64;
    for theta in rows.chunks_exact(d) {
        let values = HashMap::from([("theta".to_string(), theta.to_vec())]);
        let trace = ppl::Run::new(0).substitute(values).trace(&model)?;
        worst = worst.max((trace.log_joint() - task.prior().log_prob(theta)?).abs());
    }
    Ok(worst)
}

/// The ppl prior must equal sbibm's to rounding.
const PRIOR_TOL: f64 = 1e-10;

/// The posterior of observation `x` with the learned likelihood: the task's prior on θ,
/// and `x ~ q(x | θ)` as one observation row.
fn posterior_model<'a>(
    est: &'a Maf,
    prior: PriorFn,
    x: &'a [f64],
) -> impl ModelFn + Copy + Sync + 'a {
    move |m: &mut Model<'_>| -> Result<(), PplError> {
        let theta = prior(m)?;
        m.observe("x", NeuralLikelihood::new(est, theta)?, x)
    }
}

/// Trains, samples and compares one task: the part both checks share.
fn run_task(ctx: &Ctx, task: &dyn Task, spec: &Spec) -> anyhow::Result<TaskRun> {
    let plan = if ctx.quick { &spec.quick } else { &spec.full };
    let obs = task
        .observation(OBSERVATION)
        .context("sbibm's observation 1")?;
    let x = obs.x.as_slice();
    let (est, report) = train(ctx, task, plan.sims, spec.seed)?;
    let invalid = report.simulation.as_ref().map_or(0, |s| s.invalid.total());
    let sir = if plan.sir_init {
        Some(Sir::new(task, &est, x, spec.seed)?)
    } else {
        None
    };
    let run = {
        let model = posterior_model(&est, spec.prior, x);
        let init = match &sir {
            Some(sir) => {
                Init::Given(sir.inits(&ModelDensity::new(model)?, plan.chains, spec.seed)?)
            }
            None => Init::default(),
        };
        let settings = Settings {
            num_warmup: plan.warmup,
            num_draws: plan.draws,
            num_chains: plan.chains,
            seed: spec.seed,
            init,
            ..Settings::default()
        };
        cookie_nuts::run_with(ctx, spec.task, model, &settings, false)?
    };
    let nle_draws = thinned(&run, plan.thin);
    let n = nle_draws.len() / obs.theta.len();
    let reference_sampler = task
        .reference_posterior()
        .context("the task's reference posterior")?;
    // Stream 2 of the seed: the SIR proposals use streams 0 and 1.
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    rng.set_stream(2);
    let reference = reference_sampler.sample_posterior(x, n, &mut rng)?;
    let d = obs.theta.len();
    let bar = ctx.progress_bar(0, &format!("C2ST, {n} × 2 draws"));
    bar.tick();
    let t0 = std::time::Instant::now();
    let c2st = nle::c2st(
        RowsView::new(&reference, d)?,
        RowsView::new(&nle_draws, d)?,
        spec.seed,
    )?;
    let c2st_seconds = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let max = if ctx.quick {
        spec.c2st_max_quick
    } else {
        spec.c2st_max
    };
    let mismatch = prior_mismatch(spec.prior, task, &reference[..d * n.min(100)])?;
    let metrics = vec![
        Metric::info("simulations", plan.sims as f64),
        Metric::info("invalid simulations", invalid as f64),
        Metric::info("epochs", report.history.len() as f64),
        Metric::info("best validation loss (nats)", report.best_validation_loss),
        Metric::info("training time (s)", report.seconds),
        Metric::at_most(
            "ppl prior vs sbibm prior: max |Δ log p|",
            mismatch,
            PRIOR_TOL,
        ),
        Metric::info("NUTS chains", plan.chains as f64),
        Metric::info("NUTS wall time (s)", run.seconds),
        Metric::info("NUTS gradient evaluations", run.grad_evals() as f64),
        Metric::info("C2ST draws per sample", n as f64),
        Metric::info("C2ST time (s)", c2st_seconds),
        Metric::at_most(
            format!("C2ST vs reference posterior (published {})", spec.published),
            c2st,
            max,
        ),
    ];
    let mut table = String::from(
        "| parameter | reference mean | NLE mean | reference sd | NLE sd | R-hat | bulk ESS |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (j, row) in run.summary.rows.iter().enumerate() {
        let col: Vec<f64> = reference.iter().skip(j).step_by(d).copied().collect();
        let (m, s) = mean_sd(&col);
        let _ = writeln!(
            table,
            "| {} | {m:.4} | {:.4} | {s:.4} | {:.4} | {:.3} | {:.0} |",
            row.name, row.mean, row.sd, row.r_hat, row.ess_bulk
        );
    }
    Ok(TaskRun {
        est,
        sir,
        x: obs.x.clone(),
        run,
        nle: nle_draws,
        reference,
        c2st,
        report,
        metrics,
        table,
    })
}

/// Mean and sd (n − 1) of `xs`.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The training figures shared by both checks' summaries.
fn training_line(r: &TaskRun) -> String {
    format!(
        "{} epochs, val loss {:.3}, {:.0} s training",
        r.report.history.len(),
        r.report.best_validation_loss,
        r.report.seconds
    )
}

/// gaussian_linear (10-D): 4 chains from Stan's initialization; the full run keeps
/// 4 × 5000 draws thinned by 2 for the C2ST against 10,000 exact posterior draws.
pub(crate) fn gaussian_linear(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let spec = Spec {
        task: "gaussian_linear",
        prior: gaussian_linear_prior,
        published: 0.55,
        // Full: the published 0.55 plus 0.05 for one training run, one observation and
        // one C2ST (sbibm's figure is a mean over its 10 observations); measured 0.533.
        // Quick (2·10³ simulations, 1000 draws per sample): sbibm's figure at 10³
        // simulations, 0.65; measured 0.584.
        c2st_max: 0.60,
        c2st_max_quick: 0.65,
        full: Plan {
            sims: 10_000,
            chains: 4,
            warmup: 1000,
            draws: 5000,
            thin: 2,
            sir_init: false,
        },
        quick: Plan {
            sims: 2_000,
            chains: 4,
            warmup: 500,
            draws: 1000,
            thin: 4,
            sir_init: false,
        },
        seed: 7_001,
    };
    let task = GaussianLinear::new();
    let mut r = run_task(ctx, &task, &spec)?;
    let rhat = r.run.max_rhat();
    let ess = r
        .run
        .summary
        .rows
        .iter()
        .map(|r| r.ess_bulk)
        .fold(f64::INFINITY, f64::min);
    r.metrics.push(Metric::at_most("max R-hat", rhat, 1.01));
    r.metrics.push(Metric::info("min bulk ESS", ess));
    r.metrics
        .push(Metric::info("divergences", r.run.divergences() as f64));
    let summary = format!(
        "C2ST {:.3} (published 0.55); {}; max R-hat {rhat:.3}, {} divergences",
        r.c2st,
        training_line(&r),
        r.run.divergences()
    );
    Ok(Outcome::from_metrics(summary, r.metrics)
        .section("gaussian_linear: reference vs NLE posterior", r.table))
}

/// Rotated first coordinate z₀ = (θ₀ + θ₁)/√2 of two_moons: the simulator sees only
/// |z₀|, so the posterior has one crescent at z₀ > 0 and its mirror image at z₀ < 0.
fn z0(theta: &[f64]) -> f64 {
    (theta[0] + theta[1]) * std::f64::consts::FRAC_1_SQRT_2
}

/// Fraction of the rows (2 values each) in the z₀ > 0 mode.
fn upper_fraction(rows: &[f64]) -> f64 {
    let n = rows.len() / 2;
    rows.chunks_exact(2).filter(|t| z0(t) > 0.0).count() as f64 / n as f64
}

/// Mode balance of the chains: chains per mode (by the majority of their draws), chains
/// that visited both modes, and the largest split R-hat among chains of one mode.
struct Modes {
    upper: usize,
    lower: usize,
    switched: usize,
    within_rhat: f64,
}

fn modes(run: &Run) -> anyhow::Result<Modes> {
    let (mut upper, mut lower) = (Vec::new(), Vec::new());
    let mut switched = 0;
    for chain in &run.constrained {
        let f = upper_fraction(chain);
        if f > 0.0 && f < 1.0 {
            switched += 1;
        }
        if f >= 0.5 {
            upper.push(chain);
        } else {
            lower.push(chain);
        }
    }
    let mut within_rhat = 0.0f64;
    for group in [&upper, &lower] {
        if group.len() < 2 {
            continue;
        }
        for j in 0..2 {
            let cols: Vec<Vec<f64>> = group
                .iter()
                .map(|c| c.iter().skip(j).step_by(2).copied().collect())
                .collect();
            let slices: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            within_rhat = within_rhat.max(mcmc::diagnostics::rhat(&slices)?);
        }
    }
    Ok(Modes {
        upper: upper.len(),
        lower: lower.len(),
        switched,
        within_rhat,
    })
}

/// two_moons: bimodal, and a NUTS chain stays in the crescent it starts in (the modes of
/// observation 1 lie ≈ 1.8 apart in θ, with no mass between). As sbibm's NLE, the chains
/// start at SIR draws, so each mode gets chains in proportion to its learned posterior
/// mass; many chains (full: 100 × 1000 draws thinned by 10, as sbibm) keep the binomial
/// noise of that split small. R-hat is reported within each mode, and 4 chains from
/// Stan's initialization are run for comparison (their split decides their C2ST).
pub(crate) fn two_moons(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let spec = Spec {
        task: "two_moons",
        prior: two_moons_prior,
        published: 0.71,
        // Full: the published 0.71 plus 0.09, which also covers the binomial split of
        // 100 chains between the modes (sd 0.05 of the fraction, ≈ +0.025 of C2ST);
        // measured 0.569 with a 60/40 split. Quick (2·10³ simulations, 40 chains,
        // 2000 draws): sbibm's figure at 10³ simulations, 0.77; measured 0.528.
        c2st_max: 0.80,
        c2st_max_quick: 0.77,
        full: Plan {
            sims: 10_000,
            chains: 100,
            warmup: 500,
            draws: 1000,
            thin: 10,
            sir_init: true,
        },
        quick: Plan {
            sims: 2_000,
            chains: 40,
            warmup: 300,
            draws: 250,
            thin: 5,
            sir_init: true,
        },
        seed: 7_002,
    };
    let task = TwoMoons::new();
    let mut r = run_task(ctx, &task, &spec)?;
    let m = modes(&r.run)?;
    let (f_nle, f_ref) = (upper_fraction(&r.nle), upper_fraction(&r.reference));
    // The learned posterior's own mass in the z₀ > 0 mode (importance estimate from the
    // SIR proposals): the chain split should scatter around it binomially.
    let sir = r
        .sir
        .as_ref()
        .context("two_moons starts its chains from SIR")?;
    let f_sir: f64 = sir
        .thetas
        .chunks_exact(2)
        .zip(&sir.weights)
        .filter(|(t, _)| z0(t) > 0.0)
        .map(|(_, w)| w)
        .sum();
    let ess_sir = 1.0 / sir.weights.iter().map(|w| w * w).sum::<f64>();
    r.metrics.extend([
        Metric::info("chains in the z₀ > 0 mode", m.upper as f64),
        Metric::info("chains in the z₀ < 0 mode", m.lower as f64),
        Metric::info("chains that visited both modes", m.switched as f64),
        Metric::info("NLE draws in the z₀ > 0 mode (fraction)", f_nle),
        Metric::info("reference draws in the z₀ > 0 mode (fraction)", f_ref),
        Metric::info(
            "learned posterior mass in the z₀ > 0 mode (SIR estimate)",
            f_sir,
        ),
        Metric::info("SIR effective sample size", ess_sir),
        Metric::info("max R-hat within a mode", m.within_rhat),
        Metric::info("divergences", r.run.divergences() as f64),
    ]);
    // For comparison: 4 chains from Stan's initialization, as many draws (unthinned).
    let model = posterior_model(&r.est, spec.prior, &r.x);
    let n = r.nle.len() / 2;
    let settings = Settings {
        num_warmup: 1000,
        num_draws: n / 4,
        num_chains: 4,
        seed: spec.seed,
        ..Settings::default()
    };
    let four = cookie_nuts::run_with(ctx, "two_moons_4_chains", model, &settings, false)?;
    let four_draws = four.joint_draws();
    let four_c2st = nle::c2st(
        RowsView::new(&r.reference, 2)?,
        RowsView::new(&four_draws, 2)?,
        spec.seed,
    )?;
    let four_modes = modes(&four)?;
    r.metrics.extend([
        Metric::info(
            "4 chains from Stan's init: chains in the z₀ > 0 mode",
            four_modes.upper as f64,
        ),
        Metric::info(
            "4 chains from Stan's init: chains that visited both modes",
            four_modes.switched as f64,
        ),
        Metric::info("4 chains from Stan's init: C2ST", four_c2st),
    ]);
    let pairs =
        |rows: &[f64]| -> Vec<(f64, f64)> { rows.chunks_exact(2).map(|t| (t[0], t[1])).collect() };
    plots::pair_scatter(
        &ctx.output_path("two_moons_reference_vs_nle.png")?,
        "two_moons, observation 1: reference (blue) vs NLE + NUTS (red)",
        &pairs(&r.reference),
        &pairs(&r.nle),
    )?;
    let summary = format!(
        "C2ST {:.3} (published 0.71); {}; modes {}/{} chains, NLE {:.2} vs reference {:.2} in z₀ > 0; within-mode R-hat {:.3}; 4 chains from Stan's init: {}/{} chains, C2ST {four_c2st:.3}",
        r.c2st,
        training_line(&r),
        m.upper,
        m.lower,
        f_nle,
        f_ref,
        m.within_rhat,
        four_modes.upper,
        four_modes.lower
    );
    Ok(Outcome::from_metrics(summary, r.metrics)
        .section("two_moons: reference vs NLE posterior", r.table))
}
