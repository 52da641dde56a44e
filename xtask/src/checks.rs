//! The validation checks and their registry.
//!
//! To add a check: write a `fn(&Ctx) -> anyhow::Result<Outcome>` (here or in
//! a module of its own) and add one line to [`ALL`]. Use `ctx.quick` to size
//! the run, `ctx.progress_bar` for long loops and `ctx.output_path` for plots.

use std::fmt::Write as _;

use ppl::cookies::{self, Cookies};
use ppl::{LogJoint, Model, Run};

use crate::validate::{Check, Ctx, Metric, Outcome};

/// Every validation check, in the order they run and appear in the report.
pub(crate) const ALL: &[Check] = &[
    Check::new(
        "cookie-data",
        "the cookie data set loads with its published summary",
        cookie_data,
    ),
    Check::new(
        "cookie-conjugate-densities",
        "ppl's pooled and unpooled cookie log densities integrate to the conjugate Gamma posteriors",
        cookie_conjugate,
    ),
    Check::new(
        "cookie-nuts-pooled",
        "NUTS on the pooled cookie model matches the conjugate posterior",
        crate::cookie_nuts::pooled,
    ),
    Check::new(
        "cookie-nuts-unpooled",
        "NUTS on the unpooled cookie model matches the conjugate posteriors",
        crate::cookie_nuts::unpooled,
    ),
    Check::new(
        "cookie-nuts-hierarchical",
        "NUTS on the hierarchical cookie model converges and matches the published means",
        crate::cookie_nuts::hierarchical,
    ),
    Check::new(
        "cookie-nuts-hierarchical-graddiag",
        "as cookie-nuts-hierarchical with mcmc's GradDiag warm-up (nuts-rs' draw + gradient metric)",
        crate::cookie_nuts::hierarchical_grad_diag,
    ),
    Check::new(
        "cookie-nle-training",
        "the cookie NLE trains with sbi's defaults and matches the Poisson pmf",
        crate::cookie_nle::training,
    ),
    Check::new(
        "cookie-nle-posteriors",
        "pooled, unpooled and hierarchical cookie posteriors with the NLE match the exact ones (C2ST)",
        crate::cookie_nle::posteriors,
    ),
    Check::new(
        "cookie-nle-sbc",
        "simulation-based calibration of the hierarchical NLE model",
        crate::cookie_nle::sbc,
    ),
    Check::new(
        "ddm-mnle-training",
        "the DDM's MNLE trains with sbi's defaults; learned choice probabilities and median rts match",
        crate::ddm_nle::training,
    ),
    Check::new(
        "ddm-hierarchical",
        "hierarchical DDM (10 subjects × 100 trials): MNLE vs exact Wiener posteriors, C2ST ≤ 0.60, recovery",
        crate::ddm_hier::hierarchical,
    ),
    Check::new(
        "ddm-hierarchical-conditions",
        "the hierarchical DDM with two stimulus strengths scaling the drift per trial: MNLE vs exact",
        crate::ddm_hier::two_conditions,
    ),
    Check::new(
        "ddm-nuts-speed",
        "NUTS iterations per second, one subject × 1000 trials: MNLE vs exact Wiener in the same run",
        crate::ddm_hier::speed,
    ),
    Check::new(
        "cookie-prior-predictive",
        "prior predictive draws of the hierarchical cookie model have the closed-form moments",
        cookie_prior_predictive,
    ),
    Check::new(
        "gaussian-linear-nle",
        "sbibm's gaussian_linear: NLE (MAF, 10^4 simulations) + NUTS vs the exact posterior (C2ST)",
        crate::sbibm_nle::gaussian_linear,
    ),
    Check::new(
        "two-moons-nle",
        "sbibm's two_moons: NLE (MAF, 10^4 simulations) + NUTS vs the reference posterior (C2ST, modes)",
        crate::sbibm_nle::two_moons,
    ),
];

/// Published per-location mean chip counts (REFERENCES.md §1).
const COOKIE_LOCATION_MEANS: [f64; 5] = [9.3, 5.967, 9.567, 8.933, 12.0];

/// The published means are rounded to three decimals.
const COOKIE_MEAN_TOL: f64 = 1e-3;

/// The cookie data set has 150 rows, 5 locations x 30, Σ chips = 1373 and the
/// published location means.
fn cookie_data(_ctx: &Ctx) -> anyhow::Result<Outcome> {
    let cookies = Cookies::load()?;
    let mut count = [0usize; 5];
    for &l in &cookies.location {
        count[l] += 1;
    }
    let sum: f64 = cookies.chips.iter().sum();
    let means = cookies.location_means();
    let mut metrics = vec![
        Metric::equals("rows", cookies.len() as f64, 150.0),
        Metric::equals("locations", cookies.n_locations as f64, 5.0),
        Metric::equals("sum of chips", sum, 1373.0),
    ];
    let mut table =
        String::from("| location | cookies | mean chips | published |\n|---:|---:|---:|---:|\n");
    for (l, (&mean, &published)) in means.iter().zip(&COOKIE_LOCATION_MEANS).enumerate() {
        metrics.push(Metric::equals(
            format!("cookies at location {}", l + 1),
            count[l] as f64,
            30.0,
        ));
        metrics.push(Metric::close(
            format!("mean at location {}", l + 1),
            mean,
            published,
            COOKIE_MEAN_TOL,
        ));
        let _ = writeln!(
            table,
            "| {} | {} | {mean:.4} | {published} |",
            l + 1,
            count[l]
        );
    }
    let shown: Vec<String> = means.iter().map(|m| format!("{m:.3}")).collect();
    let summary = format!(
        "{} rows, Σ chips {sum}, location means [{}]",
        cookies.len(),
        shown.join(", ")
    );
    Ok(Outcome::from_metrics(summary, metrics).section("Cookies per location", table))
}

/// Quadrature on the unconstrained scale must reproduce the conjugate moments to this
/// relative accuracy (the trapezoid rule on a smooth, decaying integrand converges
/// geometrically; 4001 nodes over ±12 posterior sds leave ~1e-12).
const QUADRATURE_RTOL: f64 = 1e-8;

/// The published NumPyro figures are MCMC estimates: allow their Monte-Carlo error.
const PUBLISHED_TOL: f64 = 0.01;

/// Posterior mean and sd of λ = e^u from an unnormalized log density in u, by the
/// trapezoid rule over `centre ± 12·scale`.
fn quadrature_moments(
    mut log_density: impl FnMut(f64) -> anyhow::Result<f64>,
    centre: f64,
    scale: f64,
) -> anyhow::Result<(f64, f64)> {
    const NODES: usize = 4001;
    let (lo, hi) = (centre - 12.0 * scale, centre + 12.0 * scale);
    let h = (hi - lo) / (NODES - 1) as f64;
    let mut lps = Vec::with_capacity(NODES);
    for i in 0..NODES {
        lps.push(log_density(lo + i as f64 * h)?);
    }
    let max = lps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for (i, lp) in lps.iter().enumerate() {
        let w = if i == 0 || i == NODES - 1 { 0.5 } else { 1.0 } * (lp - max).exp();
        let lam = (lo + i as f64 * h).exp();
        z += w;
        m1 += w * lam;
        m2 += w * lam * lam;
    }
    let mean = m1 / z;
    Ok((mean, (m2 / z - mean * mean).sqrt()))
}

/// Pooled and unpooled cookie models: the posterior mean and sd of every λ computed by
/// quadrature of `LogJoint` (model, plates, Jacobian) equal the conjugate Gamma posterior,
/// and agree with the published NumPyro figures.
fn cookie_conjugate(_ctx: &Ctx) -> anyhow::Result<Outcome> {
    let data = Cookies::load()?;
    let mut metrics = Vec::new();
    let mut table = String::from(
        "| model | parameter | quadrature mean | conjugate mean | quadrature sd | conjugate sd | published mean |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut row = |metrics: &mut Vec<Metric>,
                   model: &str,
                   name: &str,
                   q: (f64, f64),
                   a: f64,
                   b: f64,
                   published: f64| {
        let (mean, sd) = (a / b, a.sqrt() / b);
        metrics.push(Metric::close(
            format!("{model} {name} mean (rel. error)"),
            (q.0 - mean) / mean,
            0.0,
            QUADRATURE_RTOL,
        ));
        metrics.push(Metric::close(
            format!("{model} {name} sd (rel. error)"),
            (q.1 - sd) / sd,
            0.0,
            QUADRATURE_RTOL,
        ));
        metrics.push(Metric::close(
            format!("{model} {name} vs published"),
            q.0,
            published,
            PUBLISHED_TOL,
        ));
        let _ = writeln!(
            table,
            "| {model} | {name} | {:.6} | {mean:.6} | {:.6} | {sd:.6} | {published} |",
            q.0, q.1
        );
    };

    let d = data.clone();
    let mut pooled = LogJoint::new(move |m: &mut Model<'_>| cookies::pooled(m, &d))?;
    let total: f64 = data.chips.iter().sum();
    let (a, b) = (2.0 + total, 0.2 + data.len() as f64);
    let q = quadrature_moments(
        |u| Ok(pooled.log_density(&[u])?),
        (a / b).ln(),
        1.0 / a.sqrt(),
    )?;
    row(&mut metrics, "pooled", "lam", q, a, b, 9.158);

    let d = data.clone();
    let mut unpooled = LogJoint::new(move |m: &mut Model<'_>| cookies::unpooled(m, &d))?;
    let published = [9.304, 5.992, 9.570, 8.944, 11.992];
    let means = data.location_means();
    // The posterior factorizes over locations: vary one coordinate, hold the others.
    let base: Vec<f64> = means.iter().map(|m| m.ln()).collect();
    for l in 0..data.n_locations {
        let (a, b) = (2.0 + means[l] * 30.0, 0.2 + 30.0);
        let mut u = base.clone();
        let q = quadrature_moments(
            |v| {
                u[l] = v;
                Ok(unpooled.log_density(&u)?)
            },
            base[l],
            1.0 / a.sqrt(),
        )?;
        row(
            &mut metrics,
            "unpooled",
            &format!("lam.{}", l + 1),
            q,
            a,
            b,
            published[l],
        );
    }
    let worst = metrics
        .iter()
        .filter(|m| m.name.contains("rel. error"))
        .map(|m| m.value.abs())
        .fold(0.0, f64::max);
    let summary =
        format!("6 posteriors by quadrature; worst relative error vs conjugate {worst:.1e}");
    Ok(Outcome::from_metrics(summary, metrics).section("Conjugate cookie posteriors", table))
}

/// Monte-Carlo budget of the prior-predictive check, in standard errors.
const MC_SIGMAS: f64 = 5.0;

/// Prior predictive of the hierarchical cookie model: one chip count per independent
/// run. Closed form: `E(x) = E(mu) = 10`; `Var(x) = E(lam) + Var(lam) = 10 + (E(sigma²) +
/// Var(mu)) = 10 + 2 + 50 = 62`.
fn cookie_prior_predictive(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let data = Cookies::load()?;
    let n: usize = if ctx.quick { 4_000 } else { 40_000 };
    let bar = ctx.progress_bar(n as u64, "prior predictive draws");
    let model = |m: &mut Model<'_>| cookies::hierarchical(m, &data);
    let mut xs = Vec::with_capacity(n);
    for seed in 0..n as u64 {
        let t = Run::new(seed).predictive().trace(&model)?;
        xs.push(
            t.value("obs")
                .and_then(|v| v.first().copied())
                .unwrap_or(f64::NAN),
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    let nf = n as f64;
    let mean = xs.iter().sum::<f64>() / nf;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let m4 = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / nf;
    let (se_mean, se_var) = ((62.0 / nf).sqrt(), ((m4 - var * var) / nf).sqrt());
    let metrics = vec![
        Metric::close(
            "mean chips (prior predictive)",
            mean,
            10.0,
            MC_SIGMAS * se_mean,
        ),
        Metric::close(
            "variance of chips (prior predictive)",
            var,
            62.0,
            MC_SIGMAS * se_var,
        ),
    ];
    let summary =
        format!("{n} draws: mean {mean:.3} (expected 10), variance {var:.2} (expected 62)");
    Ok(Outcome::from_metrics(summary, metrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_checks_pass() {
        for (name, f) in [
            (
                "cookie-data",
                cookie_data as fn(&Ctx) -> anyhow::Result<Outcome>,
            ),
            ("cookie-conjugate-densities", cookie_conjugate),
        ] {
            let outcome = f(&Ctx::for_tests(name)).unwrap();
            assert!(outcome.passed, "{outcome:?}");
        }
    }
}
