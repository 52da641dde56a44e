//! The posterior summary table (as cmdstan's `stansummary` and ArviZ's `summary`).

use std::fmt;

use super::ess::{mean, variance};
use super::transform::{quantile_sorted, split_chains, z_scale};
use super::{
    DiagnosticsError, MIN_DRAWS, check, ess_of_split, ess_tail_checked, mcse_mean_checked,
    rhat_checked, sorted_draws,
};

/// Column headers, in table order.
const HEADERS: [&str; 10] = [
    "",
    "mean",
    "sd",
    "5%",
    "50%",
    "95%",
    "mcse_mean",
    "ess_bulk",
    "ess_tail",
    "r_hat",
];

/// Significant digits of mean, sd, quantiles and MCSE unless the format asks
/// for another precision (`{:.6}`).
const DEFAULT_SIGNIFICANT_DIGITS: usize = 4;

/// The diagnostics of one scalar parameter: one row of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The parameter's name.
    pub name: String,
    /// Posterior mean over all draws.
    pub mean: f64,
    /// Posterior standard deviation over all draws (ddof 1).
    pub sd: f64,
    /// 5% quantile (numpy's linear interpolation).
    pub q5: f64,
    /// Median.
    pub q50: f64,
    /// 95% quantile.
    pub q95: f64,
    /// Monte Carlo standard error of the mean ([`mcse_mean`](super::mcse_mean)).
    pub mcse_mean: f64,
    /// Bulk effective sample size ([`ess_bulk`](super::ess_bulk)).
    pub ess_bulk: f64,
    /// Tail effective sample size ([`ess_tail`](super::ess_tail)).
    pub ess_tail: f64,
    /// Rank-normalized split R-hat ([`rhat`](super::rhat)); NaN for one chain, as
    /// in ArviZ's summary.
    pub r_hat: f64,
}

impl SummaryRow {
    /// The row of one parameter from its draws, one slice per chain.
    pub fn new(name: &str, chains: &[&[f64]]) -> Result<Self, DiagnosticsError> {
        check(chains)?;
        let sorted = sorted_draws(chains);
        let all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
        Ok(SummaryRow {
            name: name.to_string(),
            mean: mean(&all),
            sd: variance(&all, 1).sqrt(),
            q5: quantile_sorted(&sorted, 0.05),
            q50: quantile_sorted(&sorted, 0.5),
            q95: quantile_sorted(&sorted, 0.95),
            mcse_mean: mcse_mean_checked(chains),
            ess_bulk: ess_of_split(&z_scale(&split_chains(chains))),
            ess_tail: ess_tail_checked(chains),
            r_hat: if chains.len() >= 2 {
                rhat_checked(chains)
            } else {
                f64::NAN
            },
        })
    }

    /// The cells of this row, formatted, in [`HEADERS`] order.
    fn cells(&self, digits: usize) -> [String; 10] {
        let sig = |x: f64| significant(x, digits);
        [
            self.name.clone(),
            sig(self.mean),
            sig(self.sd),
            sig(self.q5),
            sig(self.q50),
            sig(self.q95),
            sig(self.mcse_mean),
            format!("{:.0}", self.ess_bulk),
            format!("{:.0}", self.ess_tail),
            format!("{:.3}", self.r_hat),
        ]
    }
}

/// A posterior summary: one [`SummaryRow`] per named parameter.
///
/// `Display` prints an aligned text table (significant digits settable with the
/// format precision, default 4; ESS rounded; R-hat to 3 decimals);
/// [`to_markdown`](Summary::to_markdown) renders a Markdown table.
///
/// R-hat is always [`rhat`](super::rhat)'s: for an odd number of draws per chain
/// it can differ in the last digits from `az.summary`, which folds the draws
/// around the median of all draws rather than of the split draws.
///
/// ```
/// use mcmc::diagnostics::Summary;
///
/// // Two chains of 50 draws of (mu, sigma), row-major: mu₀, σ₀, mu₁, σ₁, ...
/// let chain = |shift: f64| -> Vec<f64> {
///     (0..50).flat_map(|i| [(i as f64 * 0.9).sin() + shift, 1.0 + (i % 7) as f64]).collect()
/// };
/// let (a, b) = (chain(0.0), chain(0.1));
/// let summary = Summary::new(&["mu", "sigma"], &[&a, &b]).unwrap();
/// assert_eq!(summary.rows[1].name, "sigma");
/// let text = summary.to_string();
/// assert!(text.lines().next().unwrap().contains("ess_bulk"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// One row per parameter, in the order of the names.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// The summary of `names.len()` parameters whose draws come one flat slice per
    /// chain, row-major (`n_draws × names.len()`: draw 0 of every parameter, then
    /// draw 1, ...). A non-finite draw is reported as [`DiagnosticsError::Parameter`],
    /// naming the parameter.
    pub fn new<S: AsRef<str>>(names: &[S], chains: &[&[f64]]) -> Result<Self, DiagnosticsError> {
        let dim = names.len();
        if dim == 0 {
            return Err(DiagnosticsError::NoParameters);
        }
        if chains.is_empty() {
            return Err(DiagnosticsError::NoChains);
        }
        for (chain, values) in chains.iter().enumerate() {
            if values.len() % dim != 0 {
                return Err(DiagnosticsError::RaggedDraws {
                    chain,
                    len: values.len(),
                    dim,
                });
            }
        }
        // Shape errors concern every parameter: report them unwrapped.
        let expected = chains[0].len() / dim;
        if let Some((chain, values)) = chains
            .iter()
            .enumerate()
            .find(|(_, c)| c.len() / dim != expected)
        {
            return Err(DiagnosticsError::UnequalChains {
                chain,
                len: values.len() / dim,
                expected,
            });
        }
        if expected < MIN_DRAWS {
            return Err(DiagnosticsError::TooFewDraws {
                draws: expected,
                min: MIN_DRAWS,
            });
        }
        let rows = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let columns: Vec<Vec<f64>> = chains
                    .iter()
                    .map(|c| c.iter().skip(k).step_by(dim).copied().collect())
                    .collect();
                let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
                SummaryRow::new(name.as_ref(), &columns).map_err(|e| DiagnosticsError::Parameter {
                    name: name.as_ref().to_string(),
                    source: Box::new(e),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Summary { rows })
    }

    /// The row of the parameter called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The table in Markdown (GitHub-flavoured): names left-aligned, numbers
    /// right-aligned, formatted as by `Display`; `|` in names is escaped.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let headers: Vec<String> = HEADERS
            .iter()
            .map(|h| if h.is_empty() { "name" } else { h }.to_string())
            .collect();
        out.push_str(&line(&headers));
        let mut rule = vec![":---".to_string()];
        rule.extend(std::iter::repeat_n("---:".to_string(), HEADERS.len() - 1));
        out.push_str(&line(&rule));
        for row in &self.rows {
            let mut cells = row.cells(DEFAULT_SIGNIFICANT_DIGITS);
            cells[0] = cells[0].replace('|', "\\|");
            out.push_str(&line(&cells));
        }
        out
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(DEFAULT_SIGNIFICANT_DIGITS).max(1);
        let header = HEADERS.map(str::to_string);
        let body: Vec<[String; 10]> = self.rows.iter().map(|r| r.cells(digits)).collect();
        let mut widths = header.clone().map(|h| h.chars().count());
        for cells in &body {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        for cells in std::iter::once(&header).chain(&body) {
            write!(f, "{:<w$}", cells[0], w = widths[0])?;
            for (c, w) in cells.iter().zip(widths).skip(1) {
                write!(f, "  {c:>w$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `x` with `digits` significant digits: fixed-point for magnitudes in
/// [1e-3, 1e6), scientific otherwise; NaN and infinities as Rust prints them.
fn significant(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{:.*e}", digits - 1, x);
    // The exponent after rounding to `digits` digits (so 9.9996 counts as 10).
    let exponent: i32 = scientific
        .rsplit('e')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    if (-3..6).contains(&exponent) {
        let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        scientific
    }
}

#[cfg(test)]
mod tests {
    use super::significant;

    #[test]
    fn significant_digits() {
        assert_eq!(significant(1.23456, 3), "1.23");
        assert_eq!(significant(-0.0123456, 3), "-0.0123");
        assert_eq!(significant(9.9996, 4), "10.00");
        assert_eq!(significant(123456.7, 3), "123457");
        assert_eq!(significant(1.5e7, 3), "1.50e7");
        assert_eq!(significant(2.5e-5, 2), "2.5e-5");
        assert_eq!(significant(0.0, 3), "0");
        assert_eq!(significant(f64::NAN, 3), "NaN");
        assert_eq!(significant(f64::NEG_INFINITY, 3), "-inf");
    }
}
