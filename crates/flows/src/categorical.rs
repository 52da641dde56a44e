//! The categorical mass estimator: an MLP from θ to logits over a declared range
//! of integers (sbi's `CategoricalMassEstimator`; the talk's cookie NLE).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::io::{self, Persist};
use crate::nn::{Activation, Alloc, Mlp, with_scratch};
use crate::rows::{check_finite_vec, check_len, check_rows};
use crate::{ConditionalDensity, FlowError, Rows, RowsView, Trainable, XSupport, ZScore};

/// Largest number of categories (a guard against a typo making a huge output layer).
const MAX_CATEGORIES: i64 = 1 << 20;

/// Settings of [`CategoricalMass`]; defaults are sbi's `build_categoricalmassestimator`
/// (20 hidden units, 2 hidden layers, ReLU, z-scored θ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalConfig {
    /// Smallest value of x.
    pub min_value: i64,
    /// Largest value of x (inclusive).
    pub max_value: i64,
    /// Width of each hidden layer (sbi: 20).
    pub hidden_features: usize,
    /// Number of hidden layers (sbi: 2).
    pub num_layers: usize,
    /// Nonlinearity (sbi: ReLU).
    pub activation: Activation,
    /// Standardize θ with the training data's mean and sd (sbi: yes).
    pub z_score_context: bool,
}

impl CategoricalConfig {
    /// sbi's defaults for x in `min_value..=max_value`.
    pub fn new(min_value: i64, max_value: i64) -> Self {
        Self {
            min_value,
            max_value,
            hidden_features: 20,
            num_layers: 2,
            activation: Activation::Relu,
            z_score_context: true,
        }
    }
    fn categories(&self) -> Result<usize, FlowError> {
        let lim = 1i64 << 53;
        if self.min_value > self.max_value
            || self.min_value.abs() > lim
            || self.max_value.abs() > lim
        {
            return Err(FlowError::InvalidConfig(format!(
                "categorical range {}..={} must be non-empty and within ±2⁵³",
                self.min_value, self.max_value
            )));
        }
        let k = self.max_value - self.min_value + 1;
        if k > MAX_CATEGORIES {
            return Err(FlowError::InvalidConfig(format!(
                "{k} categories, at most {MAX_CATEGORIES}"
            )));
        }
        if self.hidden_features == 0 {
            return Err(FlowError::InvalidConfig(
                "hidden_features must be positive".into(),
            ));
        }
        Ok(k as usize)
    }
}

/// q(x | θ) for one integer x in a declared range: a softmax over the logits of an
/// MLP of θ.
///
/// A value outside `min_value..=max_value`, or not an integer, has probability 0:
/// its log-probability is −∞ (and a sum containing it is −∞, with no gradient
/// added). NaN in x or θ is an error. Training on an impossible value is an error.
#[derive(Debug, Clone)]
pub struct CategoricalMass {
    config: CategoricalConfig,
    context_z: ZScore,
    net: Mlp,
    params: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    config: CategoricalConfig,
    context_z: ZScore,
    params: Vec<f64>,
}

impl CategoricalMass {
    /// A freshly initialized estimator; `contexts` (training θ) sets the θ dimension
    /// and, if configured, the z-scoring of θ. `seed` fixes the initial weights.
    pub fn new(
        config: &CategoricalConfig,
        contexts: RowsView<'_>,
        seed: u64,
    ) -> Result<Self, FlowError> {
        let context_z = if config.z_score_context {
            ZScore::fit(contexts)?
        } else {
            ZScore::identity(contexts.cols())
        };
        let (net, len) = Self::layout(config, contexts.cols())?;
        let mut params = vec![0.0; len];
        net.init(&mut params, &mut ChaCha8Rng::seed_from_u64(seed));
        Ok(Self {
            config: config.clone(),
            context_z,
            net,
            params,
        })
    }
    fn layout(config: &CategoricalConfig, context_dim: usize) -> Result<(Mlp, usize), FlowError> {
        let k = config.categories()?;
        let mut sizes = vec![context_dim];
        sizes.extend(std::iter::repeat_n(
            config.hidden_features,
            config.num_layers,
        ));
        sizes.push(k);
        let mut alloc = Alloc::default();
        let net = Mlp::new(&mut alloc, &sizes, config.activation);
        Ok((net, alloc.len))
    }
    /// The settings.
    pub fn config(&self) -> &CategoricalConfig {
        &self.config
    }
    /// The θ standardization.
    pub fn context_zscore(&self) -> &ZScore {
        &self.context_z
    }
    /// Number of categories.
    pub fn num_categories(&self) -> usize {
        self.net.n_out()
    }
    /// Category index of `x`, or `None` outside the support.
    #[inline]
    pub(crate) fn index(&self, x: f64) -> Option<usize> {
        let (lo, hi) = (self.config.min_value as f64, self.config.max_value as f64);
        (x.fract() == 0.0 && x >= lo && x <= hi).then_some((x - lo) as usize)
    }
    /// log q(k | θ) for every category k, into `out` (length [`Self::num_categories`]).
    pub fn log_probs(&self, context: &[f64], out: &mut [f64]) -> Result<(), FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        if out.len() != self.num_categories() {
            return Err(FlowError::DimensionMismatch {
                what: "out",
                expected: self.num_categories(),
                got: out.len(),
            });
        }
        with_scratch(self.net.acts_len(), |acts| {
            let lse = self.logits(context, acts);
            let logits = &acts[acts.len() - out.len()..];
            for (o, l) in out.iter_mut().zip(logits) {
                *o = l - lse;
            }
        });
        Ok(())
    }
    /// Standardizes θ into the head of `acts`, runs the net; returns log ∑ exp(logits)
    /// (the logits are the tail of `acts`).
    #[inline]
    fn logits(&self, context: &[f64], acts: &mut [f64]) -> f64 {
        self.context_z.forward(context, &mut acts[..context.len()]);
        let logits = self.net.forward(&self.params, acts);
        log_sum_exp(logits)
    }
}

/// log ∑ exp(v), stable.
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl ConditionalDensity for CategoricalMass {
    fn x_dim(&self) -> usize {
        1
    }
    fn context_dim(&self) -> usize {
        self.context_z.dim()
    }
    fn x_support(&self) -> XSupport {
        XSupport::Integers {
            min: self.config.min_value,
            max: self.config.max_value,
        }
    }
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        check_batch(self, xs, contexts, out.len())?;
        with_scratch(self.net.acts_len(), |acts| {
            for ((x, ctx), o) in xs.iter().zip(contexts.iter()).zip(out.iter_mut()) {
                *o = match self.index(x[0]) {
                    Some(k) => {
                        let lse = self.logits(ctx, acts);
                        acts[acts.len() - self.num_categories() + k] - lse
                    }
                    None => f64::NEG_INFINITY,
                };
            }
        });
        Ok(())
    }
    fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_rows(xs, 1, "xs")?;
        check_finite_vec(context, self.context_dim(), "context")?;
        check_len(grad, self.context_dim(), "grad")?;
        let (cd, k) = (self.context_dim(), self.num_categories());
        let len = cd + k + self.net.acts_len() + self.net.tmp_len();
        Ok(with_scratch(len, |s| {
            let (dc, s) = s.split_at_mut(cd);
            let (counts, s) = s.split_at_mut(k);
            let (acts, tmp) = s.split_at_mut(self.net.acts_len());
            counts.fill(0.0);
            for x in xs.as_slice() {
                match self.index(*x) {
                    Some(i) => counts[i] += 1.0,
                    None => return f64::NEG_INFINITY,
                }
            }
            let n = xs.len() as f64;
            let lse = self.logits(context, acts);
            let off = acts.len() - k;
            let mut total = 0.0;
            // d/dlogit_k ∑ log softmax = n_k − N p_k; reuse `counts` for it.
            for (cnt, l) in counts.iter_mut().zip(&acts[off..]) {
                let lp = l - lse;
                if *cnt > 0.0 {
                    total += *cnt * lp;
                }
                *cnt -= n * lp.exp();
            }
            self.net
                .backward(&self.params, acts, counts, Some(dc), None, tmp);
            for ((g, d), sd) in grad.iter_mut().zip(dc.iter()).zip(self.context_z.std()) {
                *g += d / sd;
            }
            total
        }))
    }
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        let mut lp = vec![0.0; self.num_categories()];
        self.log_probs(context, &mut lp)?;
        let mut cdf = Vec::with_capacity(lp.len());
        let mut acc = 0.0;
        for l in &lp {
            acc += l.exp();
            cdf.push(acc);
        }
        let total = acc;
        let out = (0..n)
            .map(|_| {
                let u = rng.random::<f64>() * total;
                let k = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
                (self.config.min_value + k as i64) as f64
            })
            .collect();
        Rows::new(out, 1)
    }
}

/// Checks a batch of rows with per-row contexts against an estimator.
pub(crate) fn check_batch(
    q: &dyn ConditionalDensity,
    xs: RowsView<'_>,
    contexts: RowsView<'_>,
    out_len: usize,
) -> Result<(), FlowError> {
    check_rows(xs, q.x_dim(), "xs")?;
    check_rows(contexts, q.context_dim(), "contexts")?;
    if contexts.as_slice().iter().any(|v| !v.is_finite()) {
        return Err(FlowError::NonFinite { what: "contexts" });
    }
    if contexts.len() != xs.len() {
        return Err(FlowError::RowCountMismatch {
            what: "contexts",
            expected: xs.len(),
            got: contexts.len(),
        });
    }
    if out_len != xs.len() {
        return Err(FlowError::DimensionMismatch {
            what: "out",
            expected: xs.len(),
            got: out_len,
        });
    }
    Ok(())
}

impl Trainable for CategoricalMass {
    fn parameters(&self) -> &[f64] {
        &self.params
    }
    fn set_parameters(&mut self, params: &[f64]) -> Result<(), FlowError> {
        crate::io::check_new_params(params, self.params.len(), &[])?;
        self.params.copy_from_slice(params);
        Ok(())
    }
    fn loss_grad(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_batch(self, xs, contexts, xs.len())?;
        if xs.is_empty() {
            return Err(FlowError::Empty { what: "xs" });
        }
        check_len(grad, self.params.len(), "grad")?;
        let idx: Vec<usize> = xs
            .as_slice()
            .iter()
            .map(|&x| {
                self.index(x).ok_or(FlowError::OutOfSupport {
                    value: x,
                    reason: "not an integer in the declared range",
                })
            })
            .collect::<Result<_, _>>()?;
        grad.fill(0.0);
        let k = self.num_categories();
        let len = k + self.net.acts_len() + self.net.tmp_len();
        let total = with_scratch(len, |s| {
            let (dl, s) = s.split_at_mut(k);
            let (acts, tmp) = s.split_at_mut(self.net.acts_len());
            let mut total = 0.0;
            for (&i, ctx) in idx.iter().zip(contexts.iter()) {
                let lse = self.logits(ctx, acts);
                let off = acts.len() - k;
                total += acts[off + i] - lse;
                // gradient of −log p_i: p − onehot(i)
                for (d, l) in dl.iter_mut().zip(&acts[off..]) {
                    *d = (l - lse).exp();
                }
                dl[i] -= 1.0;
                self.net
                    .backward(&self.params, acts, dl, None, Some(&mut *grad), tmp);
            }
            total
        });
        let n = xs.len() as f64;
        grad.iter_mut().for_each(|g| *g /= n);
        Ok(-total / n)
    }
}

impl CategoricalMass {
    pub(crate) fn state(&self) -> State {
        State {
            config: self.config.clone(),
            context_z: self.context_z.clone(),
            params: self.params.clone(),
        }
    }
    pub(crate) fn from_state(s: State) -> Result<Self, FlowError> {
        let (net, len) = Self::layout(&s.config, s.context_z.dim())
            .map_err(|e| FlowError::Corrupt(format!("configuration: {e}")))?;
        s.context_z.validate(s.context_z.dim(), "context z-score")?;
        if s.context_z.dim() == 0 {
            return Err(FlowError::Corrupt("θ has no coordinates".into()));
        }
        io::check_params(&s.params, len)?;
        Ok(Self {
            config: s.config,
            context_z: s.context_z,
            net,
            params: s.params,
        })
    }
}

impl Persist for CategoricalMass {
    const KIND: &'static str = "categorical";
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError> {
        io::to_bytes(Self::KIND, &self.state())
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError> {
        Self::from_state(io::from_bytes(Self::KIND, bytes)?)
    }
}
