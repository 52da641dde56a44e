//! The masked autoregressive flow (Papamakarios et al. 2017) as sbi builds it
//! (`build_maf`: nflows' `MaskedAffineAutoregressiveTransform`, 5 transforms, 50
//! hidden units, 2 blocks, tanh, a permutation after each transform, z-scored x
//! and θ).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::categorical::check_batch;
use crate::io::{self, Persist};
use crate::made::{Made, MadeShape, Sinks};
use crate::nn::{Activation, Alloc, sigmoid, softplus, with_scratch};
use crate::rows::{check_finite_vec, check_rows};
use crate::{ConditionalDensity, FlowError, Rows, RowsView, Trainable, ZScore};

/// nflows' floor on the affine scale: scale = softplus(a) + 1e-3.
const MIN_SCALE: f64 = 1e-3;
/// ½ ln 2π.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The permutation of features after each transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Permutation {
    /// Reverse the features (nflows' `MaskedAutoregressiveFlow`): every transform
    /// sees the other order, so every feature depends on θ and on the others.
    Reverse,
    /// A random permutation per transform, drawn from the seed (sbi's `build_maf`
    /// uses `RandomPermutation`).
    Random,
}

/// Settings of [`Maf`]; defaults are sbi's `build_maf` (see REFERENCES.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MafConfig {
    /// Number of autoregressive transforms (sbi: 5).
    pub num_transforms: usize,
    /// Hidden units of each MADE layer (sbi: 50).
    pub hidden_features: usize,
    /// Hidden-to-hidden blocks of each MADE (sbi: 2).
    pub num_blocks: usize,
    /// Nonlinearity (sbi: tanh).
    pub activation: Activation,
    /// Permutation after each transform (default: reverse; sbi draws random ones).
    pub permutation: Permutation,
    /// Standardize x with the training data (sbi: yes); the Jacobian is in the density.
    pub z_score_x: bool,
    /// Standardize θ with the training data (sbi: yes).
    pub z_score_context: bool,
}

impl Default for MafConfig {
    fn default() -> Self {
        Self {
            num_transforms: 5,
            hidden_features: 50,
            num_blocks: 2,
            activation: Activation::Tanh,
            permutation: Permutation::Reverse,
            z_score_x: true,
            z_score_context: true,
        }
    }
}

/// A conditional masked autoregressive flow q(x | θ) for continuous x.
///
/// x is standardized, then passed through `num_transforms` affine autoregressive
/// transforms z_i = scale_i · u_i + shift_i with (scale, shift) from a MADE of
/// (u_<i, θ), scale = softplus(·) + 10⁻³, each followed by a permutation; the base
/// is a standard normal. log q(x | θ) = log N(z; 0, I) + ∑ log scale − ∑ ln sd_x.
/// An infinite x has log-probability −∞.
#[derive(Debug, Clone)]
pub struct Maf {
    config: MafConfig,
    x_z: ZScore,
    context_z: ZScore,
    mades: Vec<Made>,
    perms: Vec<Vec<usize>>,
    masked: Vec<usize>,
    params: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: MafConfig,
    x_z: ZScore,
    context_z: ZScore,
    permutations: Vec<Vec<usize>>,
    params: Vec<f64>,
}

struct Layout {
    mades: Vec<Made>,
    masked: Vec<usize>,
    len: usize,
}

impl Maf {
    /// A freshly initialized flow (PyTorch's default layer initialization, from
    /// `seed`); `xs` and `contexts` (training data) set the dimensions and, if
    /// configured, the z-scoring.
    pub fn new(
        config: &MafConfig,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        seed: u64,
    ) -> Result<Self, FlowError> {
        let fit = |on: bool, rows: RowsView<'_>| {
            if on {
                ZScore::fit(rows)
            } else {
                Ok(ZScore::identity(rows.cols()))
            }
        };
        let x_z = fit(config.z_score_x, xs)?;
        let context_z = fit(config.z_score_context, contexts)?;
        let d = x_z.dim();
        let layout = Self::layout(config, d, context_z.dim())?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = vec![0.0; layout.len];
        for m in &layout.mades {
            for l in m.layers() {
                l.init(&mut params, &mut rng);
            }
        }
        for &i in &layout.masked {
            params[i] = 0.0;
        }
        let perms = (0..config.num_transforms)
            .map(|_| match config.permutation {
                Permutation::Reverse => (0..d).rev().collect(),
                Permutation::Random => {
                    let mut p: Vec<usize> = (0..d).collect();
                    for i in (1..d).rev() {
                        p.swap(i, rng.random_range(0..=i));
                    }
                    p
                }
            })
            .collect();
        Ok(Self {
            config: config.clone(),
            x_z,
            context_z,
            mades: layout.mades,
            perms,
            masked: layout.masked,
            params,
        })
    }
    fn layout(config: &MafConfig, d: usize, c: usize) -> Result<Layout, FlowError> {
        if config.num_transforms == 0 || config.hidden_features == 0 {
            return Err(FlowError::InvalidConfig(
                "a MAF needs at least one transform and one hidden unit".into(),
            ));
        }
        let mut alloc = Alloc::default();
        let mut masked = Vec::new();
        let shape = MadeShape {
            features: d,
            context_features: c,
            hidden_features: config.hidden_features,
            num_blocks: config.num_blocks,
            output_multiplier: 2,
            activation: config.activation,
        };
        let mades = (0..config.num_transforms)
            .map(|_| Made::new(&mut alloc, shape, &mut masked))
            .collect();
        Ok(Layout {
            mades,
            masked,
            len: alloc.len,
        })
    }
    /// The settings.
    pub fn config(&self) -> &MafConfig {
        &self.config
    }
    /// The x standardization.
    pub fn x_zscore(&self) -> &ZScore {
        &self.x_z
    }
    /// The θ standardization.
    pub fn context_zscore(&self) -> &ZScore {
        &self.context_z
    }
    fn hidden(&self) -> usize {
        self.config.hidden_features
    }
    /// Scratch per row: one MADE block per transform, then z.
    fn row_len(&self) -> usize {
        self.mades.len() * self.mades[0].acts_len() + self.x_dim()
    }
    fn tmp_len(&self) -> usize {
        4 * self.x_dim() + 2 * self.hidden() + self.x_dim().max(self.context_dim())
    }
    /// The θ part of every MADE, e_t = act(W_c c + b_c), into `e` (T·H).
    fn context_forward(&self, c: &[f64], e: &mut [f64]) {
        for (m, e) in self.mades.iter().zip(e.chunks_exact_mut(self.hidden())) {
            m.context_forward(&self.params, c, e);
        }
    }
    /// Forward pass of one row whose standardized x is in `acts[..D]`; returns
    /// log q of the standardized x (without the z-score Jacobian).
    fn forward_row(&self, e: &[f64], acts: &mut [f64]) -> f64 {
        let d = self.x_dim();
        let stride = self.mades[0].acts_len();
        let mut log_det = 0.0;
        for (t, (m, perm)) in self.mades.iter().zip(&self.perms).enumerate() {
            let (block, next) = acts[t * stride..].split_at_mut(stride);
            m.forward(
                &self.params,
                &e[t * self.hidden()..(t + 1) * self.hidden()],
                block,
            );
            let o = m.output_of(block);
            for (j, &i) in perm.iter().enumerate() {
                let scale = softplus(o[2 * i]) + MIN_SCALE;
                next[j] = scale * block[i] + o[2 * i + 1];
            }
            for i in 0..d {
                log_det += (softplus(o[2 * i]) + MIN_SCALE).ln();
            }
        }
        let z = &acts[self.mades.len() * stride..][..d];
        log_det - 0.5 * z.iter().map(|v| v * v).sum::<f64>() - d as f64 * HALF_LN_2PI
    }
    /// Backward pass of one row after [`Maf::forward_row`]: adds ∂ log q / ∂e into
    /// `de` and, when training, the parameter gradient into `grad`.
    fn backward_row(
        &self,
        acts: &[f64],
        de: &mut [f64],
        mut grad: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        let d = self.x_dim();
        let hd = self.hidden();
        let stride = self.mades[0].acts_len();
        let (du, tmp) = tmp.split_at_mut(d);
        let (dv, tmp) = tmp.split_at_mut(d);
        let (dout, tmp) = tmp.split_at_mut(2 * d);
        let z = &acts[self.mades.len() * stride..][..d];
        for (a, v) in du.iter_mut().zip(z) {
            *a = -v;
        }
        for (t, (m, perm)) in self.mades.iter().zip(&self.perms).enumerate().rev() {
            let block = &acts[t * stride..(t + 1) * stride];
            for (j, &i) in perm.iter().enumerate() {
                dv[i] = du[j];
            }
            let o = m.output_of(block);
            for i in 0..d {
                let a = o[2 * i];
                let scale = softplus(a) + MIN_SCALE;
                dout[2 * i] = (dv[i] * block[i] + 1.0 / scale) * sigmoid(a);
                dout[2 * i + 1] = dv[i];
                du[i] = dv[i] * scale;
            }
            let sinks = Sinks {
                du,
                de: &mut de[t * hd..(t + 1) * hd],
                grad: grad.as_deref_mut(),
            };
            m.backward(&self.params, block, dout, sinks, tmp);
        }
    }
    /// Standardizes `x` into `acts[..D]`; false if x is infinite somewhere.
    #[inline]
    fn load_x(&self, x: &[f64], acts: &mut [f64]) -> bool {
        self.x_z.forward(x, &mut acts[..x.len()]);
        x.iter().all(|v| v.is_finite())
    }
    /// Inverts the flow for one base draw `z` (length D) into x, using `acts` and
    /// `v` (length D) as working memory.
    fn invert(&self, e: &[f64], z: &[f64], acts: &mut [f64], v: &mut [f64], x: &mut [f64]) {
        let d = self.x_dim();
        let mut cur = z.to_vec();
        for (t, (m, perm)) in self.mades.iter().zip(&self.perms).enumerate().rev() {
            for (j, &i) in perm.iter().enumerate() {
                v[i] = cur[j];
            }
            acts[..d].fill(0.0);
            for _ in 0..d.max(1) {
                m.forward(
                    &self.params,
                    &e[t * self.hidden()..(t + 1) * self.hidden()],
                    acts,
                );
                let o = m.output_of(acts);
                let u: Vec<f64> = (0..d)
                    .map(|i| (v[i] - o[2 * i + 1]) / (softplus(o[2 * i]) + MIN_SCALE))
                    .collect();
                acts[..d].copy_from_slice(&u);
            }
            cur.copy_from_slice(&acts[..d]);
        }
        self.x_z.inverse(&cur, x);
    }
}

impl ConditionalDensity for Maf {
    fn x_dim(&self) -> usize {
        self.x_z.dim()
    }
    fn context_dim(&self) -> usize {
        self.context_z.dim()
    }
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        check_batch(self, xs, contexts, out.len())?;
        let (cd, th) = (self.context_dim(), self.mades.len() * self.hidden());
        let jac = self.x_z.log_abs_det();
        with_scratch(cd + th + self.row_len(), |s| {
            let (c, s) = s.split_at_mut(cd);
            let (e, acts) = s.split_at_mut(th);
            for ((x, ctx), o) in xs.iter().zip(contexts.iter()).zip(out.iter_mut()) {
                *o = if self.load_x(x, acts) {
                    self.context_z.forward(ctx, c);
                    self.context_forward(c, e);
                    self.forward_row(e, acts) + jac
                } else {
                    f64::NEG_INFINITY
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
        check_rows(xs, self.x_dim(), "xs")?;
        check_finite_vec(context, self.context_dim(), "context")?;
        if grad.len() != self.context_dim() {
            return Err(FlowError::DimensionMismatch {
                what: "grad",
                expected: self.context_dim(),
                got: grad.len(),
            });
        }
        if xs.as_slice().iter().any(|v| v.is_infinite()) {
            return Ok(f64::NEG_INFINITY);
        }
        let (cd, th) = (self.context_dim(), self.mades.len() * self.hidden());
        let len = 2 * cd + 2 * th + self.row_len() + self.tmp_len();
        Ok(with_scratch(len, |s| {
            let (c, s) = s.split_at_mut(cd);
            let (dc, s) = s.split_at_mut(cd);
            let (e, s) = s.split_at_mut(th);
            let (de, s) = s.split_at_mut(th);
            let (acts, tmp) = s.split_at_mut(self.row_len());
            self.context_z.forward(context, c);
            self.context_forward(c, e);
            de.fill(0.0);
            let mut total = 0.0;
            for x in xs.iter() {
                self.load_x(x, acts);
                total += self.forward_row(e, acts);
                self.backward_row(acts, de, None, tmp);
            }
            total += xs.len() as f64 * self.x_z.log_abs_det();
            dc.fill(0.0);
            let hd = self.hidden();
            for (t, m) in self.mades.iter().enumerate() {
                let r = t * hd..(t + 1) * hd;
                m.context_backward(
                    &self.params,
                    (c, &e[r.clone()]),
                    &mut de[r],
                    (Some(dc), None),
                    tmp,
                );
            }
            for ((g, d), sd) in grad.iter_mut().zip(dc.iter()).zip(self.context_z.std()) {
                *g += d / sd;
            }
            total
        }))
    }
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        let d = self.x_dim();
        let mut c = vec![0.0; self.context_dim()];
        self.context_z.forward(context, &mut c);
        let mut e = vec![0.0; self.mades.len() * self.hidden()];
        self.context_forward(&c, &mut e);
        let mut acts = vec![0.0; self.mades[0].acts_len()];
        let (mut z, mut v) = (vec![0.0; d], vec![0.0; d]);
        let mut out = Rows::zeros(n, d)?;
        for k in 0..n {
            for zi in z.iter_mut() {
                *zi = StandardNormal.sample(rng);
            }
            self.invert(&e, &z, &mut acts, &mut v, out.row_mut(k));
        }
        Ok(out)
    }
}

impl Trainable for Maf {
    fn parameters(&self) -> &[f64] {
        &self.params
    }
    fn parameters_mut(&mut self) -> &mut [f64] {
        &mut self.params
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
        if xs.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(FlowError::NonFinite { what: "xs" });
        }
        if grad.len() != self.params.len() {
            return Err(FlowError::DimensionMismatch {
                what: "grad",
                expected: self.params.len(),
                got: grad.len(),
            });
        }
        grad.fill(0.0);
        let (cd, th, hd) = (
            self.context_dim(),
            self.mades.len() * self.hidden(),
            self.hidden(),
        );
        let len = cd + 2 * th + self.row_len() + self.tmp_len();
        let total = with_scratch(len, |s| {
            let (c, s) = s.split_at_mut(cd);
            let (e, s) = s.split_at_mut(th);
            let (de, s) = s.split_at_mut(th);
            let (acts, tmp) = s.split_at_mut(self.row_len());
            let mut total = 0.0;
            for (x, ctx) in xs.iter().zip(contexts.iter()) {
                self.context_z.forward(ctx, c);
                self.context_forward(c, e);
                self.load_x(x, acts);
                total += self.forward_row(e, acts);
                de.fill(0.0);
                self.backward_row(acts, de, Some(&mut *grad), tmp);
                for (t, m) in self.mades.iter().enumerate() {
                    let r = t * hd..(t + 1) * hd;
                    m.context_backward(
                        &self.params,
                        (c, &e[r.clone()]),
                        &mut de[r],
                        (None, Some(&mut *grad)),
                        tmp,
                    );
                }
            }
            total
        });
        let n = xs.len() as f64;
        for g in grad.iter_mut() {
            *g /= -n;
        }
        for &i in &self.masked {
            grad[i] = 0.0;
        }
        Ok(-(total / n + self.x_z.log_abs_det()))
    }
}

impl Persist for Maf {
    const KIND: &'static str = "maf";
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError> {
        io::to_bytes(
            Self::KIND,
            &State {
                config: self.config.clone(),
                x_z: self.x_z.clone(),
                context_z: self.context_z.clone(),
                permutations: self.perms.clone(),
                params: self.params.clone(),
            },
        )
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError> {
        let s: State = io::from_bytes(Self::KIND, bytes)?;
        let (d, c) = (s.x_z.dim(), s.context_z.dim());
        if d == 0 || c == 0 {
            return Err(FlowError::Corrupt("x or θ has no coordinates".into()));
        }
        s.x_z.validate(d, "x z-score")?;
        s.context_z.validate(c, "context z-score")?;
        let layout = Self::layout(&s.config, d, c)
            .map_err(|e| FlowError::Corrupt(format!("configuration: {e}")))?;
        io::check_params(&s.params, layout.len)?;
        if layout.masked.iter().any(|&i| s.params[i] != 0.0) {
            return Err(FlowError::Corrupt(
                "a masked MADE weight is not zero".into(),
            ));
        }
        let is_perm = |p: &Vec<usize>| {
            let mut seen = vec![false; d];
            p.len() == d
                && p.iter()
                    .all(|&i| i < d && !std::mem::replace(&mut seen[i], true))
        };
        if s.permutations.len() != s.config.num_transforms || !s.permutations.iter().all(is_perm) {
            return Err(FlowError::Corrupt("bad permutations".into()));
        }
        Ok(Self {
            config: s.config,
            x_z: s.x_z,
            context_z: s.context_z,
            mades: layout.mades,
            perms: s.permutations,
            masked: layout.masked,
            params: s.params,
        })
    }
}
