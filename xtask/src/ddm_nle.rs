//! MNLE for the drift-diffusion model (issue 9): train `flows::Mnle` with sbi's
//! `build_mnle` defaults (τ a delay, a left tail in the decision time: see
//! [`mnle_config`]) on simulations of the DDM under the MNLE paper's prior, and
//! check what can be checked without the Wiener density: the learned choice
//! probability against its closed form, and the learned median reaction time per
//! choice against simulations. [`trained_mnle`] hands the estimator to later checks.

use std::fmt::Write as _;
use std::sync::OnceLock;

use anyhow::anyhow;
use flows::{ConditionalDensity, Mnle, MnleConfig, NsfConfig, Persist, RowsView};
use nle::{Dataset, EpochStats, InvalidCounts, LrDecay, TrainConfig, TrainingReport};
use ppl::{Distribution, Operand, Shape, Tape, Wiener};
use simulators::Task;
use simulators::prior::BoxUniform;
use simulators::tasks::Ddm;

use crate::validate::{Ctx, Metric, Outcome};

/// Simulations of the full run: the MNLE paper's budget (10⁵). Measured on the
/// shared 2-core machine (load 4–7, before the batched flow passes): 54 epochs, 319 s
/// of training; with the delay and the decays after them 71 epochs, 179 s; with the
/// tail scale too, 75 epochs, 136 s (load ~5); with the spline bound 5 too, 109
/// epochs, 85.5 s (quiet machine).
const N_SIMS_FULL: usize = 100_000;
/// Simulations of `--quick`, sized for the CI budget: measured 64 epochs, 45 s of
/// training (45 s of CPU) at load ~4 on the shared 2-core machine; with the spline
/// bound 5 and the faster spline rows, 84 epochs, 12–17 s in CI.
const N_SIMS_QUICK: usize = 20_000;

/// The trained MNLE and how it was made, shared by the checks of one `validate` run.
pub(crate) struct TrainedMnle {
    /// The estimator q(rt, choice | v, a, w, τ); x = [rt, choice], choice 1 = upper.
    pub(crate) estimator: Mnle,
    /// Epochs, losses, time.
    pub(crate) report: TrainingReport,
    /// Simulations requested.
    pub(crate) n_sims: usize,
    /// The seed of the simulations, split, initial weights and batches.
    pub(crate) seed: u64,
    /// Simulations excluded (reaching the DDM's time limit counts as `failed`).
    pub(crate) invalid: InvalidCounts,
    /// Wall-clock seconds of the simulations.
    pub(crate) simulation_seconds: f64,
}

/// The training seed (simulations, validation split, initial weights, batches)
/// unless `--ddm-seed` sets another.
const SEED: u64 = 9;

static TRAINED: OnceLock<Result<TrainedMnle, String>> = OnceLock::new();

/// The DDM's MNLE, trained once per process (10⁵ simulations, 2·10⁴ in `--quick`);
/// later checks (the hierarchical DDM) reuse it.
pub(crate) fn trained_mnle(ctx: &Ctx) -> anyhow::Result<&'static TrainedMnle> {
    TRAINED
        .get_or_init(|| train(ctx).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("training the DDM MNLE failed: {e}"))
}

fn train(ctx: &Ctx) -> anyhow::Result<TrainedMnle> {
    let n_sims = ctx
        .ddm_sims
        .unwrap_or(if ctx.quick { N_SIMS_QUICK } else { N_SIMS_FULL });
    let task = Ddm::new();
    let config = TrainConfig {
        seed: ctx.ddm_seed.unwrap_or(SEED),
        lr_decay: Some(LR_DECAY),
        ..TrainConfig::default()
    };
    let start = std::time::Instant::now();
    let bar = ctx.progress_bar(n_sims as u64, "simulating the DDM");
    let progress = |done: usize| bar.set_position(done as u64);
    let sims = nle::simulate(task.prior(), &task, n_sims, config.seed, Some(&progress))?;
    bar.finish_and_clear();
    let simulation_seconds = start.elapsed().as_secs_f64();
    let data = Dataset::new(&sims.simulations, config.validation_fraction, config.seed)?;
    let bar = ctx.progress_bar(0, "training the DDM MNLE (epochs)");
    let on_epoch = |s: &EpochStats| Ctx::show_epoch(&bar, s);
    // sbi's build_mnle: categorical net for the choice, NSF for ln rt given (θ, choice);
    // see [`mnle_config`] for the delay variant measured and not used.
    let mut estimator = nle::BuildEstimator::build(
        &mnle_config(),
        data.train_x(),
        data.train_theta(),
        config.init_seed(),
    )?;
    let report = nle::train_on(&mut estimator, &data, &config, Some(&on_epoch))?;
    bar.finish_and_clear();
    Ok(TrainedMnle {
        estimator,
        report,
        n_sims,
        seed: config.seed,
        invalid: sims.invalid,
        simulation_seconds,
    })
}

/// sbi's `build_mnle` defaults with two changes that follow from the DDM's
/// definition (rt = τ + decision time, and no decision time is ever 0):
/// - τ (θ's fourth coordinate) is a delay (`MnleConfig::delay`): the networks model
///   the decision time t = rt − τ given (v, a, w), and q(rt | θ) = 0 below τ, as the
///   Wiener density is;
/// - the flow models ln t − s/t with s = [`TAIL_SCALE`] (`MnleConfig::tail_scale`)
///   instead of ln t, so that below the spline range the density vanishes like
///   e^{−c/t²} (at least as fast as the Wiener density's e^{−c/t}; faster, which
///   makes a steep wall for τ at the fastest response: see
///   `ddm_hier::QUICK_MNLE_DIVERGENCES`) instead of as a Gaussian in ln t;
/// - the spline covers ±[`NSF_TAIL_BOUND`] sds of the (z-scored) flow input instead
///   of sbi's ±3: under ln t − s/t the fastest decision times lie far out on the
///   left, and beyond the bound the flow is not learned at all.
///
/// Measured on the full run (10⁵ simulations, with [`LR_DECAY`]; C2ST of
/// `ddm-hierarchical` / `ddm-hierarchical-conditions`, goal 0.60; posterior shifts
/// MNLE − exact in exact sds, on `ddm-hierarchical`'s data):
///
/// | variant | C2ST | shifts | `--quick` NUTS |
/// |---|---|---|---|
/// | sbi's MNLE (τ a network input) | 0.825 / 0.861 | τ +0.5…−3.9 across training seeds, w +1.5…+2.0 | 0 divergences |
/// | delay, two decays | 0.788, 0.819 / 0.713, 0.674 (two runs) | w +1.3…+1.5, τ −0.85 | 35 divergences |
/// | delay, tail s = 0.05 s, two decays (spline bound 3) | 0.759 / 0.609 | w +1.36, τ −0.52, a −0.02 | 0 divergences, R-hat 1.004 |
/// | the same, `--ddm-sims 1000000` | 0.615 / – | w +0.25, a −0.54, τ +0.01 | – |
/// | the same at 10⁵, spline bound 5 (this) | 0.629 / 0.669 | w +0.16, τ −0.46, a −0.19 | 0 divergences, 95 leapfrog steps per draw |
/// | bound 5, `--ddm-seed 1` | 0.774 / 0.751 | a −1.09, w +1.03, τ +0.63 | – |
/// | bound 5, `--ddm-seed 2` | 0.635 / 0.657 | τ −0.80, v_sigma −0.30, a +0.27 | – |
/// | bound 5, `--ddm-sims 1000000` (seed 9) | **0.574** / – | a −0.38, w +0.29, v_mu −0.16, τ +0.05 | – |
/// | bound 5, seed 9, after the faster spline rows and the training chunks of 100 (last bits) | 0.627 / 0.654 | τ −0.56, w +0.24, v_sigma +0.20 | 1 divergence at target acceptance 0.95 |
///
/// With 10⁶ simulations (89 epochs, 1433 s of training at load 2–4) the KL(p ‖ q)
/// per trial at the four θ is 0.0002–0.0032 nats (10⁵: 0.0009–0.0044) and the
/// C2ST meets the goal; at the 10⁵ it does not on any seed measured.
///
/// Two runs of one posterior with the exact likelihood (other initial points and
/// NUTS seed) give 0.508 / 0.510: the C2ST tells apart posteriors shifted by a few
/// tenths of an sd. The training seed moves the MNLE's C2ST from 0.63 to 0.77 and
/// the shifts change sign between seeds (τ −0.46, +0.63, −0.80): at 10⁵ simulations
/// the error is the estimator's variance, not a bias of the configuration. For the
/// choice network alone the variance is the data's: trained alone on the same 10⁵
/// simulations, six architectures (20 × 2, 50 × 2 or 64 × 3 units; ReLU, tanh or
/// ELU) reach validation losses 0.0003–0.0004 nats above the exact likelihood's
/// and a mean |ΔP(upper)| of 0.010–0.014 over the training check's grid; 10⁶
/// simulations cut it to 0.005 (20 × 2, ReLU and tanh).
///
/// Ten times the simulations (with bound 3) cut the KL(p ‖ q) per trial at the four
/// θ of the training check from 0.004–0.020 to 0.003–0.018 nats and w's shift to a
/// fifth (1130 s of training at load ~5). The wider spline range did more at 10⁵:
/// KL 0.001–0.004 nats, validation loss 0.1599 against 0.2000, and the MNLE's NUTS
/// runs as smooth as the exact ones (20 against 17 leapfrog steps per draw; bound 3:
/// 20 in the full run, but 253 at step size 0.016 in `--quick`).
///
/// With s = 0.01 s, `--quick` had no divergences but τ's posterior was 1.7 times
/// the exact width, R-hat 1.013, ESS 296: the tail must reach into the bulk of the
/// fastest decision times to keep τ off the fastest observation.
fn mnle_config() -> MnleConfig {
    MnleConfig {
        delay: Some(3),
        tail_scale: Some(TAIL_SCALE),
        flow: NsfConfig {
            tail_bound: NSF_TAIL_BOUND,
            ..NsfConfig::default()
        },
        ..MnleConfig::new(0, 1)
    }
}

/// The left-tail scale s of [`mnle_config`], in seconds: between the fastest
/// decision times in the training data (a few ms) and typical ones (hundreds of
/// ms); 0.01 s was measured too small (see [`mnle_config`]).
const TAIL_SCALE: f64 = 0.05;

/// The flow's spline range in sds of its z-scored input (sbi: 3); see [`mnle_config`].
const NSF_TAIL_BOUND: f64 = 5.0;

/// sbi's training loop, then two more stages at a fifth of the rate each, from the
/// best weights (`nle::LrDecay`).
const LR_DECAY: LrDecay = LrDecay {
    factor: 0.2,
    times: 2,
    patience: 10,
};

/// Pass criteria, `[full, --quick]`. P(upper): the categorical net learns a smooth
/// function of θ from 0/1 labels; away from the prior's edges its error should be a
/// few 10⁻², hence 0.05 for the largest error on the grid's interior (v, a, w off
/// their outermost grid lines) and 0.025 for the mean over the whole grid. The
/// edges and corners of the 4-D box hold a half to a sixteenth of an interior
/// point's neighbouring data and the net extrapolates there: the whole grid's
/// largest error is reported, not tested (full run: 0.10 at v = −2, a = 0.5,
/// w = 0.7). `--quick` (1.8·10⁴ training rows) is a smoke test of the pipeline at
/// twice to four times the tolerances; a net that ignored θ would be off by up to 0.5.
const P_UPPER_INTERIOR_TOL: [f64; 2] = [0.05, 0.15];
/// See [`P_UPPER_INTERIOR_TOL`].
const P_UPPER_MEAN_TOL: [f64; 2] = [0.025, 0.05];

/// Largest |learned − simulated| median rt per choice, relative to the simulated one
/// (whose standard error is below 0.5%). The full run's worst point is the
/// longest-tailed one, a = 1.8 with τ = 0.3 near the prior's edge (7%; ≤ 1.3% at the
/// other three); `--quick` measured 18% there.
const MEDIAN_RTOL: [f64; 2] = [0.1, 0.25];
/// Budget for KL(p ‖ q) per trial at the four interior θ (full, quick), in nats.
const KL_TOL: [f64; 2] = [0.05, 0.1];

/// θ = (v, a, w, τ) where the medians are compared: both choices likely, spread
/// over the prior.
const MEDIAN_POINTS: [[f64; 4]; 4] = [
    [0.5, 1.0, 0.5, 0.5],
    [-1.0, 1.5, 0.6, 0.8],
    [1.5, 0.8, 0.4, 1.2],
    [0.0, 1.8, 0.45, 0.3],
];

/// Training figures; learned vs closed-form P(upper | θ) on a grid over the prior
/// (max abs error); learned vs simulated median rt per choice at four θ.
pub(crate) fn training(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let t = trained_mnle(ctx)?;
    let tol = usize::from(ctx.quick);
    let est = &t.estimator;
    let r = &t.report;
    let mut metrics = vec![
        Metric::info("simulations", t.n_sims as f64),
        Metric::info("training seed", t.seed as f64),
        Metric::equals("excluded simulations", t.invalid.total() as f64, 0.0),
        Metric::info("simulation time (s)", t.simulation_seconds),
        Metric::info("epochs", r.history.len() as f64),
        Metric::info("best epoch", r.best_epoch as f64),
        Metric::info("best validation loss (nats)", r.best_validation_loss),
        Metric::info("training time (s)", r.seconds),
    ];
    let p_err = p_upper_error(est)?;
    let (worst, at) = (p_err.max, p_err.max_at);
    metrics.push(Metric::at_most(
        "max |P(upper) learned − closed form|, grid interior",
        p_err.interior_max,
        P_UPPER_INTERIOR_TOL[tol],
    ));
    metrics.push(Metric::at_most(
        "mean |P(upper) learned − closed form|, whole grid",
        p_err.mean,
        P_UPPER_MEAN_TOL[tol],
    ));
    metrics.push(Metric::info(
        "max |P(upper) learned − closed form|, whole grid (edges included)",
        worst,
    ));
    let mut table = String::from(
        "| v | a | w | τ | choice | P(choice) exact | learned | median rt simulated | learned | rel. error |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut worst_median = 0.0f64;
    for (i, theta) in MEDIAN_POINTS.iter().enumerate() {
        let simulated = simulated_medians(theta, if ctx.quick { 20_000 } else { 100_000 }, i)?;
        let p_up = Ddm::prob_upper(theta[0], theta[1], theta[2]);
        let q_up = est.log_prob_discrete(1.0, theta)?.exp();
        for choice in [0usize, 1] {
            let learned = learned_median(est, theta, choice as f64)?;
            let rel = (learned - simulated[choice]).abs() / simulated[choice];
            worst_median = worst_median.max(rel);
            let (p, q) = if choice == 1 {
                (p_up, q_up)
            } else {
                (1.0 - p_up, 1.0 - q_up)
            };
            let [v, a, w, tau] = theta;
            let _ = writeln!(
                table,
                "| {v} | {a} | {w} | {tau} | {choice} | {p:.3} | {q:.3} | {:.4} | {learned:.4} | {rel:.4} |",
                simulated[choice]
            );
        }
    }
    metrics.push(Metric::at_most(
        "max relative |median rt learned − simulated|",
        worst_median,
        MEDIAN_RTOL[tol],
    ));
    // For runs in other processes: flows' versioned JSON (`Mnle::load`).
    est.save(ctx.output_path("ddm_mnle.json")?)?;
    let grid = log_likelihood_grid(est)?;
    let non_finite = grid.iter().filter(|g| !g.log_q.is_finite()).count();
    let mut csv = String::from("v,a,w,tau,rt,choice,log_q,log_p\n");
    for g in &grid {
        let [v, a, w, tau] = g.theta;
        let _ = writeln!(
            csv,
            "{v},{a},{w},{tau},{},{},{},{}",
            g.x[0], g.x[1], g.log_q, g.log_p
        );
    }
    let grid_max = grid
        .iter()
        .map(|g| (g.log_q - g.log_p).abs())
        .fold(0.0, f64::max);
    metrics.push(Metric::info(
        "max |log q − log p| on the (θ, x) grid (prior corners included)",
        grid_max,
    ));
    let mut worst_kl = 0.0f64;
    for (i, theta) in MEDIAN_POINTS.iter().enumerate() {
        let kl = kl_per_trial(est, theta, 20_000, i)?;
        worst_kl = worst_kl.max(kl);
        metrics.push(Metric::info(
            format!("KL(p ‖ q) per trial at θ = {theta:?}"),
            kl,
        ));
    }
    metrics.push(Metric::at_most(
        "max KL(p ‖ q) per trial (nats), Monte Carlo over simulated trials",
        worst_kl,
        KL_TOL[tol],
    ));
    std::fs::write(ctx.output_path("log_q_grid.csv")?, csv)?;
    metrics.push(Metric::equals(
        "non-finite log q on the (θ, x) grid",
        non_finite as f64,
        0.0,
    ));
    let summary = format!(
        "{} sims ({} excluded, seed {}), {} epochs, val loss {:.4}, {:.1} s; |ΔP(upper)| mean {:.3}, interior max {:.3}, max {worst:.3} at θ = {at:?}; max median rt error {:.1}%",
        t.n_sims,
        t.invalid.total(),
        t.seed,
        r.history.len(),
        r.best_validation_loss,
        r.seconds,
        p_err.mean,
        p_err.interior_max,
        100.0 * worst_median
    );
    Ok(Outcome::from_metrics(summary, metrics).section(
        "DDM MNLE: choice probabilities and median reaction times",
        table,
    ))
}

/// |q(upper | θ) − P(upper | θ)| over a grid: its max, where, its max on the interior,
/// its mean.
struct PUpperError {
    max: f64,
    max_at: [f64; 4],
    interior_max: f64,
    mean: f64,
}

/// The errors of the learned P(upper) over v ∈ {−2, −1.5, …, 2}, a ∈ {0.5, 0.8, …,
/// 2}, w ∈ {0.3, 0.4, …, 0.7}, τ ∈ {0.2, 1.0, 1.8} (τ does not change P(upper); the
/// network must learn that too); the interior leaves out the outermost values of v,
/// a and w.
fn p_upper_error(est: &Mnle) -> anyhow::Result<PUpperError> {
    let mut e = PUpperError {
        max: 0.0,
        max_at: [0.0; 4],
        interior_max: 0.0,
        mean: 0.0,
    };
    let mut n = 0;
    for i in 0..=8 {
        for j in 0..=5 {
            for k in 0..=4 {
                for tau in [0.2, 1.0, 1.8] {
                    let theta = [
                        -2.0 + 0.5 * i as f64,
                        0.5 + 0.3 * j as f64,
                        0.3 + 0.1 * k as f64,
                        tau,
                    ];
                    let q = est.log_prob_discrete(1.0, &theta)?.exp();
                    let err = (q - Ddm::prob_upper(theta[0], theta[1], theta[2])).abs();
                    if err > e.max {
                        (e.max, e.max_at) = (err, theta);
                    }
                    if (1..8).contains(&i) && (1..5).contains(&j) && (1..4).contains(&k) {
                        e.interior_max = e.interior_max.max(err);
                    }
                    e.mean += err;
                    n += 1;
                }
            }
        }
    }
    e.mean /= n as f64;
    Ok(e)
}

/// The learned median rt given θ and the choice: the estimator's density of ln rt
/// on a fine grid over [ln 0.01, ln 40] (trapezoid rule), where the CDF crosses 1/2.
fn learned_median(est: &Mnle, theta: &[f64; 4], choice: f64) -> anyhow::Result<f64> {
    const NODES: usize = 4001;
    let (lo, hi) = (0.01f64.ln(), 40f64.ln());
    let h = (hi - lo) / (NODES - 1) as f64;
    let ys: Vec<f64> = (0..NODES).map(|i| lo + h * i as f64).collect();
    let xs: Vec<f64> = ys.iter().flat_map(|y| [y.exp(), choice]).collect();
    let context: Vec<f64> = theta.iter().copied().cycle().take(NODES * 4).collect();
    let mut lp = vec![0.0; NODES];
    est.log_prob_batch(RowsView::new(&xs, 2)?, RowsView::new(&context, 4)?, &mut lp)?;
    // q(rt, choice | θ)·rt is the density of ln rt (times q(choice | θ), normalized away).
    let dens: Vec<f64> = lp.iter().zip(&ys).map(|(l, y)| (l + y).exp()).collect();
    let total: f64 = dens.windows(2).map(|d| 0.5 * h * (d[0] + d[1])).sum();
    let mut cdf = 0.0;
    for (i, d) in dens.windows(2).enumerate() {
        let step = 0.5 * h * (d[0] + d[1]) / total;
        if cdf + step >= 0.5 {
            let y = ys[i] + h * (0.5 - cdf) / step;
            return Ok(y.exp());
        }
        cdf += step;
    }
    Err(anyhow!("the learned rt density has no median on the grid"))
}

/// KL(p ‖ q) per trial at θ: the mean of log p − log q over `n` simulated trials (its
/// Monte-Carlo sd is about sd(log p − log q)/√n, well under 0.01 nats here).
fn kl_per_trial(est: &Mnle, theta: &[f64; 4], n: usize, seed: usize) -> anyhow::Result<f64> {
    let xs = trials_at(theta, n, 700 + seed as u64)?;
    let lp = wiener_log_density(theta, &xs)?;
    let contexts: Vec<f64> = theta.iter().copied().cycle().take(4 * lp.len()).collect();
    let mut lq = vec![0.0; lp.len()];
    est.log_prob_batch(
        RowsView::new(&xs, 2)?,
        RowsView::new(&contexts, 4)?,
        &mut lq,
    )?;
    Ok(lp.iter().zip(&lq).map(|(p, q)| p - q).sum::<f64>() / lp.len() as f64)
}

/// `n` simulated trials at θ, rows `[rt, choice]`: θ as a box of width 10⁻⁹ (a prior
/// that draws θ), so `nle::simulate` runs them in parallel, one stream per index.
fn trials_at(theta: &[f64; 4], n: usize, seed: u64) -> anyhow::Result<Vec<f64>> {
    let point = BoxUniform::new(theta.to_vec(), theta.map(|t| t + 1e-9).to_vec())?;
    let sims = nle::simulate(&point, &Ddm::new(), n, seed, None)?;
    Ok(sims
        .simulations
        .iter()
        .flat_map(|(_, x)| x.to_vec())
        .collect())
}

/// Median rt of `n` simulations at θ, per choice (lower, upper).
fn simulated_medians(theta: &[f64; 4], n: usize, seed: usize) -> anyhow::Result<[f64; 2]> {
    let mut rts = [Vec::new(), Vec::new()];
    for x in trials_at(theta, n, 900 + seed as u64)?.chunks_exact(2) {
        rts[usize::from(x[1] == 1.0)].push(x[0]);
    }
    let median = |v: &mut Vec<f64>| -> anyhow::Result<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2)
            .copied()
            .ok_or_else(|| anyhow!("no simulated trial for one choice at θ = {theta:?}"))
    };
    Ok([median(&mut rts[0])?, median(&mut rts[1])?])
}

/// One point of the (θ, x) grid on which the learned log-likelihood is evaluated.
pub(crate) struct GridPoint {
    /// θ = (v, a, w, τ).
    pub(crate) theta: [f64; 4],
    /// x = (rt, choice).
    pub(crate) x: [f64; 2],
    /// log q(x | θ) of the MNLE.
    pub(crate) log_q: f64,
    /// The exact log p(x | θ) (`ppl::Wiener`).
    pub(crate) log_p: f64,
}

/// The exact Wiener log density of rows `xs` (`[rt, choice]` each) at θ = (v, a, w, τ).
pub(crate) fn wiener_log_density(theta: &[f64; 4], xs: &[f64]) -> anyhow::Result<Vec<f64>> {
    let tape = Tape::new();
    let [v, a, w, tau] = *theta;
    let d = Wiener::new(v, a, w, tau)?;
    let lp = d.log_prob(&tape, Operand::Data(xs, Shape::matrix(xs.len() / 2, 2)));
    if let Some(e) = tape.error() {
        return Err(e.into());
    }
    Ok(lp.value())
}

/// The learned and the exact log-likelihood on a grid: θ at the corners and centre of
/// the prior box in (v, a) with w = 0.5, τ = 0.5, and x at rt = τ + {0.1, 0.3, 0.6, 1,
/// 1.5, 2.5} for both choices.
pub(crate) fn log_likelihood_grid(est: &Mnle) -> anyhow::Result<Vec<GridPoint>> {
    let mut grid = Vec::new();
    for (v, a) in [
        (-2.0, 0.5),
        (-2.0, 2.0),
        (2.0, 0.5),
        (2.0, 2.0),
        (0.0, 1.25),
    ] {
        let theta = [v, a, 0.5, 0.5];
        for dt in [0.1, 0.3, 0.6, 1.0, 1.5, 2.5] {
            for choice in [0.0, 1.0] {
                let x = [theta[3] + dt, choice];
                let log_q = est.log_prob(&x, &theta)?;
                let log_p = wiener_log_density(&theta, &x)?[0];
                grid.push(GridPoint {
                    theta,
                    x,
                    log_q,
                    log_p,
                });
            }
        }
    }
    Ok(grid)
}
