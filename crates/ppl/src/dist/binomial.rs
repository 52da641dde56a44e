//! The binomial distribution.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{Distribution, Param, broadcast_shapes, broadcast_values, is_count, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::ln_factorial;

/// Above this many trials (2⁵³) counts are no longer exact in f64, so draws use the
/// normal approximation instead of `rand_distr`'s exact sampler.
const EXACT_SAMPLING_MAX_N: f64 = 9_007_199_254_740_992.0;

/// Binomial(n, p): P(k) = C(n, k) pᵏ (1 − p)ⁿ⁻ᵏ on k = 0, …, n.
#[derive(Clone, Debug)]
pub struct Binomial<'t> {
    total_count: Param<'t>,
    probs: Param<'t>,
    shape: Shape,
}

impl<'t> Binomial<'t> {
    /// `total_count` n a non-negative integer (as f64; not differentiated if a tape
    /// value), `probs` p in \[0, 1\].
    pub fn new(
        total_count: impl Into<Param<'t>>,
        probs: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let total_count = total_count.into().check(
            "Binomial",
            "total_count",
            "a non-negative integer",
            is_count,
        )?;
        let probs = probs.into().probability("Binomial", "probs")?;
        let shape = broadcast_shapes("Binomial", &[total_count.shape(), probs.shape()])?;
        Ok(Binomial {
            total_count,
            probs,
            shape,
        })
    }

    fn params(&self) -> (Vec<f64>, Vec<f64>) {
        (
            broadcast_values(&self.total_count, self.shape),
            broadcast_values(&self.probs, self.shape),
        )
    }
}

/// ln P(k | n, p) with ∂/∂p; −∞ (zero partial) for k outside 0..=n or a zero mass.
/// The terms k ln p and (n − k) ln(1 − p) are dropped when their count is 0, so p = 0
/// and p = 1 give exact 0 / −∞ instead of 0·(−∞).
#[inline]
fn binomial_lp(k: f64, n: f64, p: f64, d: &mut f64) -> f64 {
    *d = 0.0;
    if !is_count(k) || k > n {
        return f64::NEG_INFINITY;
    }
    let m = n - k;
    let mut v = ln_factorial(n) - ln_factorial(k) - ln_factorial(m);
    let mut dp = 0.0;
    if k > 0.0 {
        v += k * p.ln();
        dp += k / p;
    }
    if m > 0.0 {
        v += m * (-p).ln_1p();
        dp -= m / (1.0 - p);
    }
    // NaN only from ∞ − ∞ in ln C(n, k) for n beyond ~1e305, where no mass is representable.
    if v.is_nan() || v == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    *d = dp;
    v
}

/// One draw of Binomial(n, p) (n a count, p in \[0, 1\]).
fn sample_binomial(rng: &mut dyn Rng, n: f64, p: f64) -> f64 {
    if n > EXACT_SAMPLING_MAX_N {
        let z: f64 = StandardNormal.sample(rng);
        return (n * p + z * (n * p * (1.0 - p)).sqrt())
            .round()
            .clamp(0.0, n);
    }
    match rand_distr::Binomial::new(n as u64, p) {
        Ok(b) => b.sample(rng) as f64,
        Err(_) => f64::NAN,
    }
}

impl<'t> Distribution<'t> for Binomial<'t> {
    fn name(&self) -> &'static str {
        "Binomial"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    /// `IntegerInterval(0, n)`; for a batch of counts, the interval up to the largest
    /// one (a superset of each component's support; `log_prob` is exact per component).
    fn support(&self) -> Constraint {
        let n_max = self
            .total_count
            .with_values(|v| v.iter().copied().fold(0.0, f64::max));
        Constraint::IntegerInterval(0, n_max as i64)
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise(
            [value, self.total_count.operand(), self.probs.operand()],
            |&[k, n, p], d| {
                d[0] = 0.0;
                d[1] = 0.0;
                binomial_lp(k, n, p, &mut d[2])
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (n, p) = self.params();
        sample_batch(self.shape.len(), |i| sample_binomial(rng, n[i], p[i]))
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let (n, p) = self.params();
        Some(n.iter().zip(&p).map(|(n, p)| n * p).collect())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let (n, p) = self.params();
        Some(n.iter().zip(&p).map(|(n, p)| n * p * (1.0 - p)).collect())
    }
}
