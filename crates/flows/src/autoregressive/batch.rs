//! Batched passes of the autoregressive flow: rows go through in blocks of at
//! most [`BLOCK`], stored feature-major (one row per unit, one column per data
//! row, padded to [`LANES`](crate::gemm::LANES) with zero columns), so every MADE
//! layer is one matrix product over the block. The elementwise maps run per entry.
//! Results depend on the block cut only, which is fixed, never on threads.

use super::elementwise::{affine_backward_row, affine_forward_row};
use super::{ArFlow, Elementwise, HALF_LN_2PI};
use crate::RowsView;
use crate::gemm::padded;
use crate::made_batch::{BatchContext, BatchSinks, add_row_sums};

/// Rows per block: a block's activations (about 1.4 kB per row at sbi's MAF
/// sizes) stay in the L2 cache. Half of sbi's training batch of 200: `nle`
/// computes a batch's gradient in two chunks of 100 rows, one block each (64
/// with chunks of 50 was ~10% slower per epoch: more fixed work per block).
pub(super) const BLOCK: usize = 100;

/// The θ of a block: one per row (training, `log_prob_batch`), or one for all.
#[derive(Clone, Copy)]
pub(super) enum BlockContext<'a> {
    /// Rows of raw θ; standardized and passed through the context layers per row.
    PerRow(RowsView<'a>),
    /// The θ parts e_t of every MADE (T·H), computed once.
    Shared(&'a [f64]),
}

/// Where the backward pass sends the adjoints of the θ parts.
pub(super) enum ContextSink<'a> {
    /// Training: parameter gradients of the context layers (per-row θ) go with
    /// the others.
    Train,
    /// One shared θ: ∂/∂e_t summed over the rows into T·H entries.
    Shared(&'a mut [f64]),
}

/// The scratch of one block, carved from one slice.
pub(super) struct Bufs<'a> {
    np: usize,
    acts: &'a mut [f64],
    c: &'a mut [f64],
    e: &'a mut [f64],
    /// log q of each row (standardized x), after [`ArFlow::forward_block`].
    pub(super) logq: &'a mut [f64],
    du: &'a mut [f64],
    dv: &'a mut [f64],
    dout: &'a mut [f64],
    de: &'a mut [f64],
    tmp: &'a mut [f64],
    small: &'a mut [f64],
}

impl ArFlow {
    /// Scratch entries for blocks of up to `rows` rows.
    pub(super) fn block_len(&self, rows: usize) -> usize {
        let np = padded(rows.min(BLOCK));
        let (t, d, h, cd, m) = (
            self.mades.len(),
            self.x_dim(),
            self.hidden(),
            self.context_dim(),
            self.mult(),
        );
        let acts = (t * self.mades[0].acts_len() + d) * np;
        acts + cd * np
            + t * h * np
            + np
            + (2 * d + m * d + h) * np
            + self.mades[0].batch_tmp_len(np)
            + 2 * m
            + d.max(cd)
    }
    /// Splits `s` (at least [`ArFlow::block_len`]) for a block of `n` rows.
    pub(super) fn carve<'a>(&self, s: &'a mut [f64], n: usize) -> Bufs<'a> {
        let np = padded(n);
        let (t, d, h, cd, m) = (
            self.mades.len(),
            self.x_dim(),
            self.hidden(),
            self.context_dim(),
            self.mult(),
        );
        let (acts, s) = s.split_at_mut((t * self.mades[0].acts_len() + d) * np);
        let (c, s) = s.split_at_mut(cd * np);
        let (e, s) = s.split_at_mut(t * h * np);
        let (logq, s) = s.split_at_mut(np);
        let (du, s) = s.split_at_mut(d * np);
        let (dv, s) = s.split_at_mut(d * np);
        let (dout, s) = s.split_at_mut(m * d * np);
        let (de, s) = s.split_at_mut(h * np);
        let (tmp, s) = s.split_at_mut(self.mades[0].batch_tmp_len(np));
        Bufs {
            np,
            acts,
            c,
            e,
            logq,
            du,
            dv,
            dout,
            de,
            tmp,
            small: s,
        }
    }
    /// Loads the standardized rows of `xs` as the columns of the first input;
    /// a row with a non-finite entry gets zeros and `false` in `ok` (if given).
    pub(super) fn load_block_x(
        &self,
        xs: RowsView<'_>,
        b: &mut Bufs<'_>,
        mut ok: Option<&mut [bool]>,
    ) {
        let (d, np) = (self.x_dim(), b.np);
        let row = &mut b.small[..d];
        b.acts[..d * np].fill(0.0);
        for (col, x) in xs.iter().enumerate() {
            let finite = x.iter().all(|v| v.is_finite());
            if let Some(ok) = ok.as_deref_mut() {
                ok[col] = finite;
            }
            if finite {
                self.x_z.forward(x, row);
                for (i, v) in row.iter().enumerate() {
                    b.acts[i * np + col] = *v;
                }
            }
        }
    }
    /// Forward pass of the `n` loaded rows: fills the activations and `b.logq`.
    /// For the affine map the MADE outputs (a, shift) are replaced by (scale, σ(a)),
    /// what [`ArFlow::backward_block`] needs.
    pub(super) fn forward_block(&self, n: usize, ctx: BlockContext<'_>, b: &mut Bufs<'_>) {
        let (d, h, m, np) = (self.x_dim(), self.hidden(), self.mult(), b.np);
        if let BlockContext::PerRow(rows) = ctx {
            let cd = self.context_dim();
            b.c.fill(0.0);
            let row = &mut b.small[..cd];
            for (col, ctx) in rows.iter().enumerate() {
                self.context_z.forward(ctx, row);
                for (k, v) in row.iter().enumerate() {
                    b.c[k * np + col] = *v;
                }
            }
            for (made, e) in self.mades.iter().zip(b.e.chunks_exact_mut(h * np)) {
                made.context_forward_batch(&self.work, b.c, np, e);
            }
        }
        let acts_len = self.mades[0].acts_len();
        let stride = acts_len * np;
        let out_at = (acts_len - m * d) * np;
        let el = &self.shape.elementwise;
        let (o, _) = b.small.split_at_mut(m);
        b.logq.fill(0.0);
        for (t, (made, perm)) in self.mades.iter().zip(&self.perms).enumerate() {
            let (block, next) = b.acts[t * stride..].split_at_mut(stride);
            let e = match ctx {
                BlockContext::PerRow(_) => BatchContext::PerRow(&b.e[t * h * np..(t + 1) * h * np]),
                BlockContext::Shared(e) => BatchContext::Shared(&e[t * h..(t + 1) * h]),
            };
            made.forward_batch(&self.work, e, np, block);
            if let Elementwise::Affine = el {
                // Keeps (scale, σ(a)) in place of (a, shift) for the backward pass.
                let (u, out) = block.split_at_mut(out_at);
                for (j, &i) in perm.iter().enumerate() {
                    let next_row = &mut next[j * np..(j + 1) * np];
                    let (ra, rs) = out[2 * i * np..(2 * i + 2) * np].split_at_mut(np);
                    let ui = &u[i * np..i * np + n];
                    let ab = (&mut ra[..n], &mut rs[..n]);
                    affine_forward_row(ab, ui, &mut next_row[..n], &mut b.logq[..n]);
                    next_row[n..].fill(0.0);
                }
                continue;
            }
            let out = &block[out_at..];
            for (j, &i) in perm.iter().enumerate() {
                let next_row = &mut next[j * np..(j + 1) * np];
                for col in 0..n {
                    for (q, oq) in o.iter_mut().enumerate() {
                        *oq = out[(i * m + q) * np + col];
                    }
                    let (v, ld) = el.forward(o, block[i * np + col]);
                    next_row[col] = v;
                    b.logq[col] += ld;
                }
                next_row[n..].fill(0.0);
            }
        }
        let z = &b.acts[self.mades.len() * stride..][..d * np];
        for (col, lq) in b.logq[..n].iter_mut().enumerate() {
            let ssq: f64 = (0..d).map(|i| z[i * np + col] * z[i * np + col]).sum();
            *lq = *lq - 0.5 * ssq - d as f64 * HALF_LN_2PI;
        }
    }
    /// Backward pass of ∑ log q over the `n` rows after [`ArFlow::forward_block`]:
    /// parameter gradients into `grad` if given, θ adjoints into `sink`.
    pub(super) fn backward_block(
        &self,
        n: usize,
        b: &mut Bufs<'_>,
        mut grad: Option<&mut [f64]>,
        mut sink: ContextSink<'_>,
    ) {
        let (d, h, m, np) = (self.x_dim(), self.hidden(), self.mult(), b.np);
        let acts_len = self.mades[0].acts_len();
        let stride = acts_len * np;
        let out_at = (acts_len - m * d) * np;
        let el = &self.shape.elementwise;
        let (o, rest) = b.small.split_at_mut(m);
        let dob = &mut rest[..m];
        let z = &b.acts[self.mades.len() * stride..][..d * np];
        for (a, v) in b.du.iter_mut().zip(z) {
            *a = -v;
        }
        for (t, (made, perm)) in self.mades.iter().zip(&self.perms).enumerate().rev() {
            let block = &b.acts[t * stride..(t + 1) * stride];
            for (j, &i) in perm.iter().enumerate() {
                b.dv[i * np..(i + 1) * np].copy_from_slice(&b.du[j * np..(j + 1) * np]);
            }
            b.dout.fill(0.0);
            let out = &block[out_at..];
            if let Elementwise::Affine = el {
                // (scale, σ(a)) as the forward pass left them.
                for i in 0..d {
                    let (scale, sig) = out[2 * i * np..(2 * i + 2) * np].split_at(np);
                    let (da, ds) = b.dout[2 * i * np..(2 * i + 2) * np].split_at_mut(np);
                    let ui = &block[i * np..i * np + n];
                    let (du, dv) = (&mut b.du[i * np..(i + 1) * np], &b.dv[i * np..i * np + n]);
                    affine_backward_row(
                        (&scale[..n], &sig[..n]),
                        (ui, dv),
                        (&mut da[..n], &mut ds[..n]),
                        &mut du[..n],
                    );
                    du[n..].fill(0.0);
                }
            }
            for i in (0..d).filter(|_| !matches!(el, Elementwise::Affine)) {
                for col in 0..n {
                    for (q, oq) in o.iter_mut().enumerate() {
                        *oq = out[(i * m + q) * np + col];
                    }
                    b.du[i * np + col] =
                        el.backward(o, block[i * np + col], b.dv[i * np + col], dob);
                    for (q, g) in dob.iter().enumerate() {
                        b.dout[(i * m + q) * np + col] = *g;
                    }
                }
                b.du[i * np + n..(i + 1) * np].fill(0.0);
            }
            let sinks = BatchSinks {
                du: (t > 0).then_some(&mut *b.du),
                de: b.de,
                grad: grad.as_deref_mut(),
            };
            made.backward_batch(&self.work, block, np, b.dout, sinks, b.tmp);
            match &mut sink {
                ContextSink::Train => {
                    if let Some(g) = grad.as_deref_mut() {
                        made.context_backward_batch(
                            (b.c, &b.e[t * h * np..(t + 1) * h * np]),
                            np,
                            b.de,
                            g,
                        );
                    }
                }
                ContextSink::Shared(de) => add_row_sums(b.de, np, &mut de[t * h..(t + 1) * h]),
            }
        }
    }
}
