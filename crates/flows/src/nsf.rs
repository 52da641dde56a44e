//! The neural spline flow (Durkan et al. 2019): autoregressive rational-quadratic
//! spline transforms, 10 bins, linear tails outside ±3 (sbi's defaults).

use serde::{Deserialize, Serialize};

use crate::autoregressive::{
    ArFlow, ArShape, ArState, Elementwise, Permutation, delegate_to_flow, fit_zscores,
};
use crate::io::{self, Persist};
use crate::nn::Activation;
use crate::spline::{MAX_BINS, Spline};
use crate::{FlowError, RowsView, ZScore};

/// Settings of [`Nsf`]; defaults are sbi's (5 transforms, 50 hidden units, 2
/// blocks, 10 bins, tail bound 3; tanh as in sbi's autoregressive `maf_rqs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NsfConfig {
    /// Number of spline transforms (sbi: 5).
    pub num_transforms: usize,
    /// Hidden units of each MADE layer (sbi: 50).
    pub hidden_features: usize,
    /// Hidden-to-hidden blocks of each MADE (sbi: 2).
    pub num_blocks: usize,
    /// Bins of each spline (sbi: 10; at most 64).
    pub num_bins: usize,
    /// The spline acts on [−B, B] of the standardized x and is the identity outside
    /// (sbi: B = 3).
    pub tail_bound: f64,
    /// Nonlinearity (tanh, smooth for gradient-based samplers).
    pub activation: Activation,
    /// Permutation after each transform.
    pub permutation: Permutation,
    /// Standardize x with the training data (sbi: yes); the Jacobian is in the density.
    pub z_score_x: bool,
    /// Standardize θ with the training data (sbi: yes).
    pub z_score_context: bool,
}

impl Default for NsfConfig {
    fn default() -> Self {
        Self {
            num_transforms: 5,
            hidden_features: 50,
            num_blocks: 2,
            num_bins: 10,
            tail_bound: 3.0,
            activation: Activation::Tanh,
            permutation: Permutation::Reverse,
            z_score_x: true,
            z_score_context: true,
        }
    }
}

impl NsfConfig {
    fn shape(&self) -> Result<ArShape, FlowError> {
        if !((2..=MAX_BINS).contains(&self.num_bins)
            && self.tail_bound.is_finite()
            && self.tail_bound > 0.0)
        {
            return Err(FlowError::InvalidConfig(format!(
                "a spline needs 2..={MAX_BINS} bins and a finite positive tail bound; got {} and {}",
                self.num_bins, self.tail_bound
            )));
        }
        Ok(ArShape {
            num_transforms: self.num_transforms,
            hidden_features: self.hidden_features,
            num_blocks: self.num_blocks,
            activation: self.activation,
            elementwise: Elementwise::Spline(Spline {
                bins: self.num_bins,
                tail_bound: self.tail_bound,
                input_scale: 1.0 / (self.hidden_features.max(1) as f64).sqrt(),
            }),
        })
    }
}

/// A conditional neural spline flow q(x | θ) for continuous x, 1-D included.
///
/// Like [`Maf`](crate::Maf), but each transform maps u_i through a monotone
/// rational-quadratic spline on [−B, B] (identity outside, so the tails are the
/// standard normal's) whose bin widths, heights and knot derivatives come from a
/// MADE of (u_<i, θ) — nflows' `MaskedPiecewiseRationalQuadraticAutoregressiveTransform`,
/// sbi's `maf_rqs`. For 1-D x the MADE's hidden units see θ only, so the spline is
/// conditioned on θ alone (as sbi's 1-D NSF).
#[derive(Debug, Clone)]
pub struct Nsf {
    config: NsfConfig,
    flow: ArFlow,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    config: NsfConfig,
    #[serde(flatten)]
    flow: ArState,
}

impl Nsf {
    /// A freshly initialized flow (from `seed`); `xs` and `contexts` (training data)
    /// set the dimensions and, if configured, the z-scoring.
    pub fn new(
        config: &NsfConfig,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        seed: u64,
    ) -> Result<Self, FlowError> {
        let shape = config.shape()?;
        let z = fit_zscores((config.z_score_x, config.z_score_context), xs, contexts)?;
        let flow = ArFlow::new(shape, z, config.permutation, seed)?;
        Ok(Self {
            config: config.clone(),
            flow,
        })
    }
    /// The settings.
    pub fn config(&self) -> &NsfConfig {
        &self.config
    }
    /// The x standardization.
    pub fn x_zscore(&self) -> &ZScore {
        self.flow.x_z()
    }
    /// The θ standardization.
    pub fn context_zscore(&self) -> &ZScore {
        self.flow.context_z()
    }
}

delegate_to_flow!(Nsf);

impl Nsf {
    /// [`ConditionalDensity::sum_log_prob_grad_context`](crate::ConditionalDensity)
    /// that also writes ∂ log q(xᵢ | θ) / ∂xᵢ into `grad_x` (row-major like `xs`).
    pub(crate) fn sum_log_prob_grads(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
        grad_x: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.flow
            .sum_log_prob_grads(xs, context, grad, Some(grad_x))
    }
    pub(crate) fn state(&self) -> State {
        State {
            config: self.config.clone(),
            flow: self.flow.state(),
        }
    }
    pub(crate) fn from_state(s: State) -> Result<Self, FlowError> {
        let shape = s
            .config
            .shape()
            .map_err(|e| FlowError::Corrupt(format!("configuration: {e}")))?;
        let flow = ArFlow::from_state(shape, s.flow)?;
        Ok(Self {
            config: s.config,
            flow,
        })
    }
}

impl Persist for Nsf {
    const KIND: &'static str = "nsf";
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError> {
        io::to_bytes(Self::KIND, &self.state())
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError> {
        Self::from_state(io::from_bytes(Self::KIND, bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConditionalDensity, Rows, Trainable};

    /// ∂ log q(xᵢ | θ) / ∂xᵢ of `sum_log_prob_grads` against central differences of
    /// `log_prob` (step 1e-5: error ~1e-9 for these smooth splines; budget 1e-6
    /// relative), for 1-D x (the shared-knots path) and 2-D x (the MADE path), rows
    /// inside and outside the splines' [−B, B].
    #[test]
    fn input_gradient_matches_finite_differences() {
        for d in [1usize, 2] {
            let n = 40;
            let xs: Vec<f64> = (0..n * d)
                .map(|i| ((i * 37 % 101) as f64 / 101.0 - 0.5) * 9.0)
                .collect();
            let ctx: Vec<f64> = (0..n * 2)
                .map(|i| ((i * 13 % 29) as f64 / 29.0 - 0.5) * 2.0)
                .collect();
            let config = NsfConfig {
                hidden_features: 8,
                num_transforms: 3,
                ..NsfConfig::default()
            };
            let mut q = Nsf::new(
                &config,
                RowsView::new(&xs, d).unwrap(),
                RowsView::new(&ctx, 2).unwrap(),
                3,
            )
            .unwrap();
            let p: Vec<f64> = q.parameters().iter().map(|v| 3.0 * v).collect();
            q.set_parameters(&p).unwrap();
            let theta = [0.3, -0.7];
            let (mut g, mut gx) = (vec![0.0; 2], vec![0.0; n * d]);
            let rows = Rows::new(xs.clone(), d).unwrap();
            let total = q
                .sum_log_prob_grads(rows.view(), &theta, &mut g, &mut gx)
                .unwrap();
            let mut g2 = vec![0.0; 2];
            let plain = q
                .sum_log_prob_grad_context(rows.view(), &theta, &mut g2)
                .unwrap();
            // the same sums, but the block pass orders them differently (rounding)
            assert!((total - plain).abs() < 1e-12 * plain.abs());
            for (a, b) in g.iter().zip(&g2) {
                assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
            }
            for (i, x) in rows.view().iter().enumerate() {
                for j in 0..d {
                    let h = 1e-5;
                    let (mut up, mut dn) = (x.to_vec(), x.to_vec());
                    up[j] += h;
                    dn[j] -= h;
                    let fd = (q.log_prob(&up, &theta).unwrap() - q.log_prob(&dn, &theta).unwrap())
                        / (2.0 * h);
                    let a = gx[i * d + j];
                    assert!(
                        (a - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "d {d} row {i}: {a} vs {fd}"
                    );
                }
            }
        }
    }
}
