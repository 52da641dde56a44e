//! The machinery shared by [`Maf`](crate::Maf) and [`Nsf`](crate::Nsf): a stack of
//! autoregressive transforms, each a MADE of (u_<i, θ) giving the parameters of an
//! elementwise map of u_i (affine or rational-quadratic spline), each followed by
//! a permutation; z-scored x and θ; a standard normal base.
//!
//! The θ part of every MADE (its context layer) is computed once per θ; rows then
//! cost one forward and one backward pass each, in per-thread scratch memory.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

mod batch;
mod elementwise;
mod train;
mod wrap;

use batch::{BLOCK, BlockContext, ContextSink};

pub(crate) use elementwise::Elementwise;
pub use elementwise::Permutation;
pub(crate) use wrap::{delegate_to_flow, fit_zscores};

use crate::made::{Made, MadeShape, Sinks};
use crate::nn::{Activation, Alloc, with_scratch};
use crate::rows::{check_finite_vec, check_len, check_rows};
use crate::spline::{KnotGrad, Knots, Local};
use crate::{FlowError, Rows, RowsView, ZScore};

/// ½ ln 2π.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Sizes of an autoregressive flow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArShape {
    pub(crate) num_transforms: usize,
    pub(crate) hidden_features: usize,
    pub(crate) num_blocks: usize,
    pub(crate) activation: Activation,
    pub(crate) elementwise: Elementwise,
}

/// The saved form shared by both flows.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArState {
    pub(crate) x_z: ZScore,
    pub(crate) context_z: ZScore,
    pub(crate) permutations: Vec<Vec<usize>>,
    pub(crate) params: Vec<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ArFlow {
    shape: ArShape,
    x_z: ZScore,
    context_z: ZScore,
    mades: Vec<Made>,
    perms: Vec<Vec<usize>>,
    masked: Vec<usize>,
    pub(crate) params: Vec<f64>,
    /// `params` with each MADE's hidden units in order of degree (what every pass
    /// computes with; see `made_batch`), and `work[k] = params[sorted_from[k]]`.
    work: Vec<f64>,
    sorted_from: Vec<usize>,
    /// Whether a parameter is free (not a masked weight): in the layout, and at
    /// each position of the sorted order.
    free: Vec<bool>,
    free_sorted: Vec<bool>,
}

struct Layout {
    mades: Vec<Made>,
    masked: Vec<usize>,
    len: usize,
    sorted_from: Vec<usize>,
    free: Vec<bool>,
    free_sorted: Vec<bool>,
}

fn layout(shape: &ArShape, d: usize, c: usize) -> Result<Layout, FlowError> {
    if shape.num_transforms == 0 || shape.hidden_features == 0 {
        return Err(FlowError::InvalidConfig(
            "a flow needs at least one transform and one hidden unit".into(),
        ));
    }
    let mut alloc = Alloc::default();
    let mut masked = Vec::new();
    let made = MadeShape {
        features: d,
        context_features: c,
        hidden_features: shape.hidden_features,
        num_blocks: shape.num_blocks,
        output_multiplier: shape.elementwise.multiplier(),
        activation: shape.activation,
    };
    let mades: Vec<Made> = (0..shape.num_transforms)
        .map(|_| Made::new(&mut alloc, made, &mut masked))
        .collect();
    let mut sorted_from = vec![0; alloc.len];
    for m in &mades {
        m.sorted_index_map(&mut sorted_from);
    }
    let mut free = vec![true; alloc.len];
    for &i in &masked {
        free[i] = false;
    }
    let free_sorted = sorted_from.iter().map(|&i| free[i]).collect();
    Ok(Layout {
        mades,
        masked,
        len: alloc.len,
        sorted_from,
        free,
        free_sorted,
    })
}

impl ArFlow {
    pub(crate) fn new(
        shape: ArShape,
        (x_z, context_z): (ZScore, ZScore),
        permutation: Permutation,
        seed: u64,
    ) -> Result<Self, FlowError> {
        let d = x_z.dim();
        let lay = layout(&shape, d, context_z.dim())?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = vec![0.0; lay.len];
        for m in &lay.mades {
            for l in m.layers() {
                l.init(&mut params, &mut rng);
            }
        }
        for &i in &lay.masked {
            params[i] = 0.0;
        }
        let perms = (0..shape.num_transforms)
            .map(|_| match permutation {
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
        let work = lay.sorted_from.iter().map(|&i| params[i]).collect();
        Ok(Self {
            shape,
            x_z,
            context_z,
            mades: lay.mades,
            perms,
            masked: lay.masked,
            params,
            work,
            sorted_from: lay.sorted_from,
            free: lay.free,
            free_sorted: lay.free_sorted,
        })
    }
    pub(crate) fn state(&self) -> ArState {
        ArState {
            x_z: self.x_z.clone(),
            context_z: self.context_z.clone(),
            permutations: self.perms.clone(),
            params: self.params.clone(),
        }
    }
    pub(crate) fn from_state(shape: ArShape, s: ArState) -> Result<Self, FlowError> {
        let (d, c) = (s.x_z.dim(), s.context_z.dim());
        if d == 0 || c == 0 {
            return Err(FlowError::Corrupt("x or θ has no coordinates".into()));
        }
        s.x_z.validate(d, "x z-score")?;
        s.context_z.validate(c, "context z-score")?;
        let lay =
            layout(&shape, d, c).map_err(|e| FlowError::Corrupt(format!("configuration: {e}")))?;
        crate::io::check_params(&s.params, lay.len)?;
        if lay.masked.iter().any(|&i| s.params[i] != 0.0) {
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
        if s.permutations.len() != shape.num_transforms || !s.permutations.iter().all(is_perm) {
            return Err(FlowError::Corrupt("bad permutations".into()));
        }
        let work = lay.sorted_from.iter().map(|&i| s.params[i]).collect();
        Ok(Self {
            shape,
            x_z: s.x_z,
            context_z: s.context_z,
            mades: lay.mades,
            perms: s.permutations,
            masked: lay.masked,
            params: s.params,
            work,
            sorted_from: lay.sorted_from,
            free: lay.free,
            free_sorted: lay.free_sorted,
        })
    }
    pub(crate) fn set_parameters(&mut self, params: &[f64]) -> Result<(), FlowError> {
        crate::io::check_new_params(params, self.params.len(), &self.masked)?;
        self.params.copy_from_slice(params);
        for (w, &i) in self.work.iter_mut().zip(&self.sorted_from) {
            *w = params[i];
        }
        Ok(())
    }
    pub(crate) fn x_z(&self) -> &ZScore {
        &self.x_z
    }
    pub(crate) fn context_z(&self) -> &ZScore {
        &self.context_z
    }
    pub(crate) fn x_dim(&self) -> usize {
        self.x_z.dim()
    }
    pub(crate) fn context_dim(&self) -> usize {
        self.context_z.dim()
    }
    fn hidden(&self) -> usize {
        self.shape.hidden_features
    }
    fn mult(&self) -> usize {
        self.shape.elementwise.multiplier()
    }
    /// Scratch per row: one MADE block per transform, then z.
    fn row_len(&self) -> usize {
        self.mades.len() * self.mades[0].acts_len() + self.x_dim()
    }
    fn tmp_len(&self) -> usize {
        let d = self.x_dim();
        2 * d + self.mult() * d + 2 * self.hidden() + d.max(self.context_dim())
    }
    /// The θ part of every MADE, e_t = act(W_c c + b_c), into `e` (T·H).
    fn context_forward(&self, c: &[f64], e: &mut [f64]) {
        for (m, e) in self.mades.iter().zip(e.chunks_exact_mut(self.hidden())) {
            m.context_forward(&self.work, c, e);
        }
    }
    /// Forward pass of one row whose standardized x is in `acts[..D]`; returns
    /// log q of the standardized x (without the z-score Jacobian).
    fn forward_row(&self, e: &[f64], acts: &mut [f64]) -> f64 {
        let d = self.x_dim();
        let (m_out, hd) = (self.mult(), self.hidden());
        let stride = self.mades[0].acts_len();
        let mut log_det = 0.0;
        for (t, (m, perm)) in self.mades.iter().zip(&self.perms).enumerate() {
            let (block, next) = acts[t * stride..].split_at_mut(stride);
            m.forward(&self.work, &e[t * hd..(t + 1) * hd], block);
            let o = m.output_of(block);
            for (j, &i) in perm.iter().enumerate() {
                let (v, ld) = self
                    .shape
                    .elementwise
                    .forward(&o[i * m_out..(i + 1) * m_out], block[i]);
                next[j] = v;
                log_det += ld;
            }
        }
        let z = &acts[self.mades.len() * stride..][..d];
        log_det - 0.5 * z.iter().map(|v| v * v).sum::<f64>() - d as f64 * HALF_LN_2PI
    }
    /// Backward pass of one row after [`ArFlow::forward_row`]: adds ∂ log q / ∂e
    /// into `de` and, when training, the parameter gradient into `grad`.
    fn backward_row(
        &self,
        acts: &[f64],
        de: &mut [f64],
        mut grad: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        let d = self.x_dim();
        let (m_out, hd) = (self.mult(), self.hidden());
        let stride = self.mades[0].acts_len();
        let (du, tmp) = tmp.split_at_mut(d);
        let (dv, tmp) = tmp.split_at_mut(d);
        let (dout, tmp) = tmp.split_at_mut(m_out * d);
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
                let r = i * m_out..(i + 1) * m_out;
                du[i] =
                    self.shape
                        .elementwise
                        .backward(&o[r.clone()], block[i], dv[i], &mut dout[r]);
            }
            let sinks = Sinks {
                du,
                de: &mut de[t * hd..(t + 1) * hd],
                grad: grad.as_deref_mut(),
            };
            m.backward(&self.work, block, dout, sinks, tmp);
        }
    }
    /// Standardizes `x` into `acts[..D]`; false if x is infinite somewhere.
    #[inline]
    fn load_x(&self, x: &[f64], acts: &mut [f64]) -> bool {
        self.x_z.forward(x, &mut acts[..x.len()]);
        x.iter().all(|v| v.is_finite())
    }
    pub(crate) fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        let jac = self.x_z.log_abs_det();
        let mut ok = [true; BLOCK];
        with_scratch(self.block_len(xs.len()), |s| {
            for (start, out) in (0..xs.len()).step_by(BLOCK).zip(out.chunks_mut(BLOCK)) {
                let end = start + out.len();
                let mut b = self.carve(s, out.len());
                self.load_block_x(xs.slice(start, end), &mut b, Some(&mut ok));
                let ctx = BlockContext::PerRow(contexts.slice(start, end));
                self.forward_block(out.len(), ctx, &mut b);
                for ((o, lq), ok) in out.iter_mut().zip(b.logq.iter()).zip(&ok) {
                    *o = if *ok { lq + jac } else { f64::NEG_INFINITY };
                }
            }
        });
        Ok(())
    }
    pub(crate) fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.sum_log_prob_grads(xs, context, grad, None)
    }
    /// ∑ log q(xᵢ | θ), adding ∂/∂θ into `grad` and, if given, writing ∂ log q(xᵢ | θ)
    /// / ∂xᵢ into `grad_x` (row-major like `xs`; left as is when the sum is −∞).
    pub(crate) fn sum_log_prob_grads(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
        grad_x: Option<&mut [f64]>,
    ) -> Result<f64, FlowError> {
        check_rows(xs, self.x_dim(), "xs")?;
        if let Some(gx) = grad_x.as_deref() {
            check_len(gx, xs.as_slice().len(), "grad_x")?;
        }
        check_finite_vec(context, self.context_dim(), "context")?;
        check_len(grad, self.context_dim(), "grad")?;
        if xs.as_slice().iter().any(|v| v.is_infinite()) {
            return Ok(f64::NEG_INFINITY);
        }
        let (cd, th, hd) = (
            self.context_dim(),
            self.mades.len() * self.hidden(),
            self.hidden(),
        );
        let extra = (self.mades.len() + 1) * (self.mult() + 1);
        let len = 2 * cd + 2 * th + self.row_len() + extra + self.tmp_len();
        let len = len + self.block_len(xs.len());
        Ok(with_scratch(len, |s| {
            let (c, s) = s.split_at_mut(cd);
            let (dc, s) = s.split_at_mut(cd);
            let (e, s) = s.split_at_mut(th);
            let (de, s) = s.split_at_mut(th);
            let (acts, s) = s.split_at_mut(self.row_len());
            let (extra, s) = s.split_at_mut(extra);
            let (tmp, s) = s.split_at_mut(self.tmp_len());
            self.context_z.forward(context, c);
            self.context_forward(c, e);
            de.fill(0.0);
            let mut total = 0.0;
            let mut gx = grad_x.map(|g| (g, self.x_z.std()));
            if self.x_dim() == 1 {
                total += self.rows_1d(xs, e, de, acts, (extra, tmp), gx);
            } else if xs.len() == 1 || gx.is_some() {
                // Row by row: one row (a block would be three quarters padding, about
                // twice the time), or the input gradient (the block pass leaves out the
                // first MADE's input adjoint, which training does not need).
                for (i, x) in xs.iter().enumerate() {
                    self.load_x(x, acts);
                    total += self.forward_row(e, acts);
                    self.backward_row(acts, de, None, tmp);
                    // backward_row leaves ∂/∂(standardized x) in tmp[..D].
                    if let Some((g, sd)) = gx.as_mut() {
                        let d = self.x_dim();
                        for ((g, du), sd) in
                            g[i * d..(i + 1) * d].iter_mut().zip(&tmp[..d]).zip(*sd)
                        {
                            *g = du / sd;
                        }
                    }
                }
            } else {
                for start in (0..xs.len()).step_by(BLOCK) {
                    let end = (start + BLOCK).min(xs.len());
                    let mut b = self.carve(s, end - start);
                    self.load_block_x(xs.slice(start, end), &mut b, None);
                    self.forward_block(end - start, BlockContext::Shared(e), &mut b);
                    total += b.logq[..end - start].iter().sum::<f64>();
                    self.backward_block(end - start, &mut b, None, ContextSink::Shared(de));
                }
            }
            total += xs.len() as f64 * self.x_z.log_abs_det();
            dc.fill(0.0);
            for (t, m) in self.mades.iter().enumerate() {
                let r = t * hd..(t + 1) * hd;
                m.context_backward(
                    &self.work,
                    (c, &e[r.clone()]),
                    &mut de[r],
                    (Some(dc), None),
                    tmp,
                );
            }
            // x so large that z² overflows: no mass, and no (NaN) gradient.
            if !total.is_finite() {
                return f64::NEG_INFINITY;
            }
            for ((g, d), sd) in grad.iter_mut().zip(dc.iter()).zip(self.context_z.std()) {
                *g += d / sd;
            }
            total
        }))
    }
    /// ∑ log q over rows of 1-D x (standardized-x units), adding ∂/∂e into `de`.
    ///
    /// With one feature, every MADE input weight is masked (hidden degree 0): each
    /// transform's elementwise parameters depend on θ only. They are computed once;
    /// rows run only the elementwise maps (for splines, at knots computed once), and
    /// the output adjoints, summed over rows, go back through each MADE once.
    fn rows_1d(
        &self,
        xs: RowsView<'_>,
        e: &[f64],
        de: &mut [f64],
        acts: &mut [f64],
        (extra, tmp): (&mut [f64], &mut [f64]),
        mut grad_x: Option<(&mut [f64], &[f64])>,
    ) -> f64 {
        let (nt, m_out, hd) = (self.mades.len(), self.mult(), self.hidden());
        let stride = self.mades[0].acts_len();
        for (t, m) in self.mades.iter().enumerate() {
            let block = &mut acts[t * stride..(t + 1) * stride];
            block[0] = 0.0;
            m.forward(&self.work, &e[t * hd..(t + 1) * hd], block);
        }
        let (d_out, extra) = extra.split_at_mut(nt * m_out);
        let (us, dtmp) = extra.split_at_mut(nt);
        let dtmp = &mut dtmp[..m_out];
        d_out.fill(0.0);
        let (mu, sd) = (self.x_z.mean()[0], self.x_z.std()[0]);
        let el = &self.shape.elementwise;
        let out = |t: usize| self.mades[t].output_of(&acts[t * stride..(t + 1) * stride]);
        let mut total = 0.0;
        match el {
            Elementwise::Spline(sp) => {
                // Knots once per transform (the softmaxes are most of a spline's cost).
                let knots: Vec<Knots> = (0..nt).map(|t| sp.knots(out(t))).collect();
                let mut grads: Vec<KnotGrad> = (0..nt).map(|_| KnotGrad::new()).collect();
                // Each transform's place in its spline, kept for the reverse pass. Rows
                // go LANES at a time, transform by transform, so that the rows' chains of
                // dependent divisions overlap; each knot adjoint still sums rows in order.
                const LANES: usize = 4;
                let mut locals = vec![Local::default(); nt * LANES];
                for (c, chunk) in xs.as_slice().chunks(LANES).enumerate() {
                    let m = chunk.len();
                    let mut u = [0.0; LANES];
                    // ∏ dv/du over the transforms, one logarithm per row: a spline's
                    // slope is bounded away from 0 by the minimum bin size and knot
                    // derivative (10⁻³), so the product of a few stays far inside f64.
                    let mut slope = [1.0; LANES];
                    for (ur, x) in u.iter_mut().zip(chunk) {
                        *ur = (x - mu) / sd;
                    }
                    for (kn, ls) in knots.iter().zip(locals.chunks_exact_mut(LANES)) {
                        for r in 0..m {
                            ls[r] = sp.local(kn, u[r]);
                            u[r] = ls[r].v;
                            slope[r] *= ls[r].slope;
                        }
                    }
                    let mut ub = [0.0; LANES];
                    for r in 0..m {
                        total += slope[r].ln() - (0.5 * u[r] * u[r] + HALF_LN_2PI);
                        ub[r] = -u[r];
                    }
                    for (ls, g) in locals.chunks_exact(LANES).zip(grads.iter_mut()).rev() {
                        for r in 0..m {
                            ub[r] = sp.backward_local(&ls[r], ub[r], g);
                        }
                    }
                    if let Some((g, _)) = grad_x.as_mut() {
                        for (gi, b) in g[c * LANES..c * LANES + m].iter_mut().zip(&ub) {
                            *gi = b / sd;
                        }
                    }
                }
                for t in 0..nt {
                    sp.params_backward(
                        out(t),
                        &knots[t],
                        &grads[t],
                        &mut d_out[t * m_out..(t + 1) * m_out],
                    );
                }
            }
            Elementwise::Affine => {
                for (i, x) in xs.as_slice().iter().enumerate() {
                    let mut u = (x - mu) / sd;
                    for (t, ut) in us.iter_mut().enumerate() {
                        *ut = u;
                        let (v, ld) = el.forward(out(t), u);
                        u = v;
                        total += ld;
                    }
                    total -= 0.5 * u * u + HALF_LN_2PI;
                    let mut ub = -u;
                    for t in (0..nt).rev() {
                        ub = el.backward(out(t), us[t], ub, dtmp);
                        for (a, b) in d_out[t * m_out..(t + 1) * m_out]
                            .iter_mut()
                            .zip(dtmp.iter())
                        {
                            *a += b;
                        }
                    }
                    if let Some((g, _)) = grad_x.as_mut() {
                        g[i] = ub / sd;
                    }
                }
            }
        }
        for (t, m) in self.mades.iter().enumerate() {
            let mut du = [0.0];
            let sinks = Sinks {
                du: &mut du,
                de: &mut de[t * hd..(t + 1) * hd],
                grad: None,
            };
            m.backward(
                &self.work,
                &acts[t * stride..(t + 1) * stride],
                &d_out[t * m_out..(t + 1) * m_out],
                sinks,
                tmp,
            );
        }
        total
    }
    pub(crate) fn sample(
        &self,
        context: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Rows, FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        let (d, hd, m_out) = (self.x_dim(), self.hidden(), self.mult());
        let mut c = vec![0.0; self.context_dim()];
        self.context_z.forward(context, &mut c);
        let mut e = vec![0.0; self.mades.len() * hd];
        self.context_forward(&c, &mut e);
        let mut acts = vec![0.0; self.mades[0].acts_len()];
        let (mut cur, mut v, mut u) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let mut out = Rows::zeros(n, d)?;
        for k in 0..n {
            for zi in cur.iter_mut() {
                *zi = StandardNormal.sample(rng);
            }
            for (t, (m, perm)) in self.mades.iter().zip(&self.perms).enumerate().rev() {
                for (j, &i) in perm.iter().enumerate() {
                    v[i] = cur[j];
                }
                // Feature i depends on u_<i only: d passes fix one more feature each.
                acts[..d].fill(0.0);
                for _ in 0..d {
                    m.forward(&self.work, &e[t * hd..(t + 1) * hd], &mut acts);
                    let o = m.output_of(&acts);
                    for i in 0..d {
                        u[i] = self
                            .shape
                            .elementwise
                            .inverse(&o[i * m_out..(i + 1) * m_out], v[i]);
                    }
                    acts[..d].copy_from_slice(&u);
                }
                cur.copy_from_slice(&u);
            }
            self.x_z.inverse(&cur, out.row_mut(k));
        }
        Ok(out)
    }
}
