//! The Adam optimizer and the trainable side of an estimator.

use crate::{ConditionalDensity, FlowError, RowsView};

/// Settings of [`Adam`]; the defaults are sbi's (`lr = 5e-4`, gradient-norm clip 5)
/// and PyTorch's (`β = (0.9, 0.999)`, `ε = 1e-8`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size (sbi: 5e-4).
    pub learning_rate: f64,
    /// Decay of the first-moment estimate (PyTorch: 0.9).
    pub beta1: f64,
    /// Decay of the second-moment estimate (PyTorch: 0.999).
    pub beta2: f64,
    /// Added to the root of the second moment (PyTorch: 1e-8).
    pub epsilon: f64,
    /// Rescale the gradient to at most this Euclidean norm before each step
    /// (sbi's `clip_max_norm = 5.0`); `None` turns clipping off.
    pub clip_max_norm: Option<f64>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 5e-4,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            clip_max_norm: Some(5.0),
        }
    }
}

/// Adam (Kingma & Ba 2015) with PyTorch's update rule, for one flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    m: Vec<f64>,
    v: Vec<f64>,
    t: u64,
    grad: Vec<f64>,
    params: Vec<f64>,
}

impl Adam {
    /// An optimizer for `n_params` parameters.
    pub fn new(config: AdamConfig, n_params: usize) -> Result<Self, FlowError> {
        let ok = config.learning_rate > 0.0
            && config.learning_rate.is_finite()
            && (0.0..1.0).contains(&config.beta1)
            && (0.0..1.0).contains(&config.beta2)
            && config.epsilon > 0.0
            && config.epsilon.is_finite()
            && config
                .clip_max_norm
                .is_none_or(|c| c > 0.0 && c.is_finite());
        if !ok {
            return Err(FlowError::InvalidConfig(format!(
                "Adam needs lr > 0, β₁, β₂ in [0, 1), ε > 0 and a positive clip norm; got {config:?}"
            )));
        }
        Ok(Self {
            config,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
            t: 0,
            grad: vec![0.0; n_params],
            params: Vec::with_capacity(n_params),
        })
    }
    /// The settings.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }
    /// One update of `params` with gradient `grad` (clipped first if configured).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64]) -> Result<(), FlowError> {
        if params.len() != self.m.len() || grad.len() != self.m.len() {
            return Err(FlowError::DimensionMismatch {
                what: "parameters or gradient",
                expected: self.m.len(),
                got: if params.len() != self.m.len() {
                    params.len()
                } else {
                    grad.len()
                },
            });
        }
        // One pass for the clipping norm and the finiteness check: a finite sum of
        // squares has finite terms; only when it is not are the entries looked at.
        let sum_sq = match self.config.clip_max_norm {
            Some(_) => sum_of_squares(grad),
            None => grad
                .iter()
                .fold(0.0, |a, g| if g.is_finite() { a } else { *g }),
        };
        if !sum_sq.is_finite() && grad.iter().any(|g| !g.is_finite()) {
            return Err(FlowError::NonFinite { what: "gradient" });
        }
        let scale = match self.config.clip_max_norm {
            Some(max) => {
                let norm = sum_sq.sqrt();
                // PyTorch's clip_grad_norm_: coefficient max / (norm + 1e-6), capped at 1.
                (max / (norm + 1e-6)).min(1.0)
            }
            None => 1.0,
        };
        self.t += 1;
        let c = &self.config;
        let t = self.t as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let step = c.learning_rate / bias1;
        // The same arithmetic at any SIMD width (no fused operations): vectorized
        // at run time where the CPU has wider registers.
        pulp::Arch::new().dispatch(|| {
            for (((p, &g), m), v) in params
                .iter_mut()
                .zip(grad)
                .zip(&mut self.m)
                .zip(&mut self.v)
            {
                let g = g * scale;
                *m = c.beta1 * *m + (1.0 - c.beta1) * g;
                *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
                *p -= step * *m / (v.sqrt() / bias2_sqrt + c.epsilon);
            }
        });
        Ok(())
    }
}

/// ∑ g² in eight interleaved partial sums (entries i mod 8), combined pairwise:
/// the same numbers at any SIMD width, and eight short chains of dependent
/// additions instead of one as long as the gradient.
fn sum_of_squares(g: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let blocks = g.chunks_exact(8);
    let rest: f64 = blocks.remainder().iter().map(|v| v * v).sum();
    for b in blocks {
        for (a, v) in acc.iter_mut().zip(b) {
            *a += v * v;
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    (((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))) + rest
}

/// The trainable side of an estimator: one loop trains any of them.
///
/// ```
/// use flows::{Adam, AdamConfig, CategoricalConfig, CategoricalMass, Rows, Trainable};
///
/// let theta = Rows::new(vec![0.5, 1.5, 2.5, 3.5], 1)?;
/// let x = Rows::new(vec![0.0, 1.0, 2.0, 3.0], 1)?;
/// let mut q = CategoricalMass::new(&CategoricalConfig::new(0, 5), theta.view(), 7)?;
/// let mut adam = Adam::new(AdamConfig::default(), q.parameters().len())?;
/// let first = q.train_step(&mut adam, x.view(), theta.view())?;
/// assert!(first.is_finite());
/// # Ok::<(), flows::FlowError>(())
/// ```
pub trait Trainable: ConditionalDensity {
    /// The flat parameter vector.
    fn parameters(&self) -> &[f64];
    /// Replaces the parameters. Errors: a wrong length, a non-finite value, or a
    /// non-zero value where a MADE mask holds a weight at zero (the optimizer, fed
    /// this crate's gradients, keeps those at zero).
    fn set_parameters(&mut self, params: &[f64]) -> Result<(), FlowError>;
    /// Mean negative log-likelihood of rows `xs[i]` given `contexts[i]`, with its
    /// gradient in the parameters written into `grad` (length `parameters().len()`).
    fn loss_grad(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError>;
    /// Mean negative log-likelihood of rows `xs[i]` given `contexts[i]`.
    fn loss(&self, xs: RowsView<'_>, contexts: RowsView<'_>) -> Result<f64, FlowError> {
        let mut out = vec![0.0; xs.len()];
        self.log_prob_batch(xs, contexts, &mut out)?;
        if out.is_empty() {
            return Err(FlowError::Empty { what: "xs" });
        }
        Ok(-out.iter().sum::<f64>() / out.len() as f64)
    }
    /// Entries of a gradient in the estimator's internal order
    /// ([`Trainable::loss_grad_internal`]); by default the number of parameters.
    fn internal_grad_len(&self) -> usize {
        self.parameters().len()
    }
    /// [`Trainable::loss_grad`] with the gradient in the order the estimator computes
    /// it (length [`Trainable::internal_grad_len`]): a training loop that sums the
    /// gradients of several blocks of rows, entry by entry, converts the sum once
    /// with [`Trainable::grad_from_internal`] and gets the same numbers as from
    /// converting each. By default the parameter order itself.
    fn loss_grad_internal(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.loss_grad(xs, contexts, grad)
    }
    /// Writes `internal` (from [`Trainable::loss_grad_internal`], or an entrywise
    /// combination of such) into `grad` in parameter order. Errors: wrong lengths.
    fn grad_from_internal(&self, internal: &[f64], grad: &mut [f64]) -> Result<(), FlowError> {
        crate::rows::check_len(internal, self.internal_grad_len(), "internal gradient")?;
        crate::rows::check_len(grad, self.parameters().len(), "grad")?;
        grad.copy_from_slice(internal);
        Ok(())
    }
    /// One [`Adam::step`] of the parameters with `grad` (parameter order). Errors
    /// as [`Adam::step`] and [`Trainable::set_parameters`]; the parameters are then
    /// unchanged (Adam's moments are not).
    fn adam_step(&mut self, adam: &mut Adam, grad: &[f64]) -> Result<(), FlowError> {
        let mut params = std::mem::take(&mut adam.params);
        params.clear();
        params.extend_from_slice(self.parameters());
        let result = adam
            .step(&mut params, grad)
            .and_then(|()| self.set_parameters(&params));
        adam.params = params;
        result
    }
    /// One optimizer step on a batch: loss, gradient, clip, Adam update. Returns the
    /// batch loss before the step.
    fn train_step(
        &mut self,
        adam: &mut Adam,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
    ) -> Result<f64, FlowError> {
        let mut grad = std::mem::take(&mut adam.grad);
        grad.resize(self.parameters().len(), 0.0);
        let result = self.loss_grad(xs, contexts, &mut grad).and_then(|loss| {
            self.adam_step(adam, &grad)?;
            Ok(loss)
        });
        adam.grad = grad;
        result
    }
}
