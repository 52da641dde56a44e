//! The categorical mass estimator: an MLP from θ to logits over a declared range
//! of integers (sbi's `CategoricalMassEstimator`; the talk's cookie NLE).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::io::{self, Persist};
use crate::nn::{Activation, Alloc, Mlp, with_scratch};
use crate::rows::{check_finite_vec, check_len, check_rows};
use crate::softmax;
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
    /// Feed ln θ instead of θ to the network (then standardized if `z_score_context`);
    /// every θ coordinate must then be positive (sbi: no). For a rate θ the log is the
    /// natural feature: log Poisson(x | θ) = x ln θ − θ − ln x! is linear in ln θ up to
    /// the normalizer, and a skewed prior (Gamma) becomes nearly symmetric. A θ with a
    /// non-positive coordinate has probability 0 for every x.
    #[serde(default)]
    pub log_context: bool,
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
            log_context: false,
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
    /// The output layer in the hot path's form (see [`crate::softmax`]), kept in
    /// step with `params`.
    head: softmax::Head,
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
        let features;
        let contexts = if config.log_context {
            if let Some(&v) = contexts.as_slice().iter().find(|v| **v <= 0.0) {
                return Err(FlowError::OutOfSupport {
                    value: v,
                    reason: "θ must be positive with log_context",
                });
            }
            features = contexts
                .as_slice()
                .iter()
                .map(|v| v.ln())
                .collect::<Vec<_>>();
            RowsView::new(&features, contexts.cols())?
        } else {
            contexts
        };
        let context_z = if config.z_score_context {
            ZScore::fit(contexts)?
        } else {
            ZScore::identity(contexts.cols())
        };
        let (net, len) = Self::layout(config, contexts.cols())?;
        let mut params = vec![0.0; len];
        net.init(&mut params, &mut ChaCha8Rng::seed_from_u64(seed));
        let head = head_layer(&net, &params);
        Ok(Self {
            config: config.clone(),
            context_z,
            net,
            params,
            head,
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
    /// The standardization of the network's θ features (of ln θ with `log_context`).
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
        // Compare and round instead of `fract` (a libm call without SSE4.1): adding and
        // subtracting 2⁵² rounds a value in [0, 2⁵²) to the nearest integer, which
        // equals it only for an integer. NaN fails the range test. Exact: both ends are
        // within ±2⁵³, and the span below 2²⁰ (so the index fits a u32).
        const ROUND: f64 = 4_503_599_627_370_496.0; // 2⁵²
        let i = x - self.config.min_value as f64;
        let span = (self.config.max_value - self.config.min_value) as f64;
        if (0.0..=span).contains(&i) && (i + ROUND) - ROUND == i {
            Some(i as u32 as usize)
        } else {
            None
        }
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
        if self.inadmissible(context).is_some() {
            out.fill(f64::NEG_INFINITY);
            return Ok(());
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
    /// The first θ coordinate the network cannot take (non-positive under
    /// `log_context`), if any.
    #[inline]
    fn inadmissible(&self, context: &[f64]) -> Option<f64> {
        if self.config.log_context {
            context.iter().copied().find(|v| *v <= 0.0)
        } else {
            None
        }
    }
    /// The network's features of θ (θ or ln θ, standardized) into the head of `acts`,
    /// runs the net; returns log ∑ exp(logits) (the logits are the tail of `acts`).
    #[inline]
    fn logits(&self, context: &[f64], acts: &mut [f64]) -> f64 {
        log_sum_exp(self.forward(context, acts))
    }
    /// As [`Self::logits`] without the normalizer; returns the logits.
    #[inline]
    fn forward<'a>(&self, context: &[f64], acts: &'a mut [f64]) -> &'a [f64] {
        self.features(context, acts);
        self.net.forward(&self.params, acts)
    }
    /// The network's features of θ (θ or ln θ, standardized) into the head of `acts`.
    #[inline]
    fn features(&self, context: &[f64], acts: &mut [f64]) {
        let u = &mut acts[..context.len()];
        if self.config.log_context {
            let (m, s) = (self.context_z.mean(), self.context_z.std());
            for (((u, c), m), s) in u.iter_mut().zip(context).zip(m).zip(s) {
                *u = (c.ln() - m) / s;
            }
        } else {
            self.context_z.forward(context, u);
        }
    }
    /// ∂/∂θ from the adjoint `du` of the network's input features, added into `grad`.
    #[inline]
    fn feature_grad(&self, context: &[f64], du: &[f64], grad: &mut [f64]) {
        let std = self.context_z.std();
        for (((g, d), s), c) in grad.iter_mut().zip(du).zip(std).zip(context) {
            *g += if self.config.log_context {
                d / (s * c)
            } else {
                d / s
            };
        }
    }
}

/// The output layer of `net` in `params`, in the hot path's form.
fn head_layer(net: &Mlp, params: &[f64]) -> softmax::Head {
    let l = net.layers.last().expect("a network has an output layer");
    let (w, b) = l.split(params);
    softmax::Head::new(w, b, l.n_in)
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
                    Some(_) if self.inadmissible(ctx).is_some() => f64::NEG_INFINITY,
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
        if self.inadmissible(context).is_some() {
            return Ok(f64::NEG_INFINITY);
        }
        let (cd, k) = (self.context_dim(), self.num_categories());
        let (stride, n_h) = (
            self.head.stride(),
            self.net.layers.last().expect("a layer").n_in,
        );
        let hidden_len = self.net.acts_len() - k;
        let len = cd + 4 * stride + n_h + hidden_len + self.net.tmp_len();
        Ok(with_scratch(len, |s| {
            let (dc, s) = s.split_at_mut(cd);
            let (counts, s) = s.split_at_mut(stride);
            let (logits, s) = s.split_at_mut(stride);
            let (probs, s) = s.split_at_mut(stride);
            let (tangents, s) = s.split_at_mut(stride);
            let (dh, s) = s.split_at_mut(n_h);
            let (hidden, tmp) = s.split_at_mut(hidden_len);
            counts.fill(0.0);
            for x in xs.as_slice() {
                match self.index(*x) {
                    Some(i) => counts[i] += 1.0,
                    None => return f64::NEG_INFINITY,
                }
            }
            self.features(context, hidden);
            self.net.forward_hidden(&self.params, hidden);
            let hidden = &*hidden;
            let h = &hidden[hidden.len() - n_h..];
            // One θ coordinate (the cookie rate): forward mode, the logits' derivatives
            // in the same pass over the weights as the logits; else reverse mode.
            let forward_mode = cd == 1;
            let mode = if forward_mode {
                let v = self.net.hidden_tangent(&self.params, hidden, tmp);
                softmax::Mode::Forward { v, tangents }
            } else {
                softmax::Mode::Reverse { dh: &mut *dh }
            };
            let sums = softmax::Group {
                head: &self.head,
                h,
                counts,
                logits,
                probs,
                rows: xs.len(),
                mode,
            }
            .run();
            if forward_mode {
                dc[0] = sums.d_input;
            } else {
                self.net.backward_hidden(&self.params, hidden, dh, dc, tmp);
            }
            self.feature_grad(context, dc, grad);
            sums.total
        }))
    }
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        if let Some(value) = self.inadmissible(context) {
            return Err(FlowError::OutOfSupport {
                value,
                reason: "θ must be positive with log_context",
            });
        }
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
/// The checks every `loss_grad` starts with: a consistent, non-empty batch and a
/// gradient buffer of `n_params` values.
pub(crate) fn check_loss_batch(
    q: &dyn ConditionalDensity,
    xs: RowsView<'_>,
    contexts: RowsView<'_>,
    grad: &[f64],
    n_params: usize,
) -> Result<(), FlowError> {
    check_batch(q, xs, contexts, xs.len())?;
    if xs.is_empty() {
        return Err(FlowError::Empty { what: "xs" });
    }
    check_len(grad, n_params, "grad")
}

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
        self.head = head_layer(&self.net, &self.params);
        Ok(())
    }
    fn loss_grad(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_loss_batch(self, xs, contexts, grad, self.params.len())?;
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
        if let Some(value) = contexts.iter().find_map(|c| self.inadmissible(c)) {
            return Err(FlowError::OutOfSupport {
                value,
                reason: "θ must be positive with log_context",
            });
        }
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
        let head = head_layer(&net, &s.params);
        Ok(Self {
            config: s.config,
            context_z: s.context_z,
            net,
            params: s.params,
            head,
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

#[cfg(test)]
mod tests;
