//! The batched MADE passes: many rows at once, feature-major (one row per unit,
//! one column per data row), each layer one matrix product.
//!
//! The hidden units run in order of degree ([`Bands`]): then every row of every
//! masked weight matrix is non-zero only on a prefix of its columns, and the
//! products skip the structurally zero blocks (about half of the work). The
//! flow keeps a copy of its parameters in that order (see
//! [`Made::sorted_index_map`]).

use crate::gemm::{Span, gemm_nn, gemm_nt, gemm_tn};
use crate::made::Made;
use crate::nn::Linear;

/// For one weight matrix W (out × in): the range of columns of each row that may
/// be non-zero, and the range of rows of each column (the rows of Wᵀ).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Band {
    rows: Vec<Span>,
    cols: Vec<Span>,
}

impl Band {
    /// Row o may be non-zero on columns 0..prefix\[o\] (prefix non-decreasing).
    fn from_prefix(prefix: &[usize], n_in: usize) -> Self {
        let n_out = prefix.len();
        let rows = prefix.iter().map(|&p| (0, p)).collect();
        let cols = (0..n_in)
            .map(|j| (prefix.iter().position(|&p| p > j).unwrap_or(n_out), n_out))
            .collect();
        Self { rows, cols }
    }
}

/// The hidden units of a MADE in order of degree, and the bands of its layers in
/// that order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bands {
    /// Sorted position → hidden unit (stable in the unit index).
    pub(crate) order: Vec<usize>,
    input: Band,
    context: Band,
    hidden: Band,
    output: Band,
}

impl Bands {
    /// From the hidden degrees (nflows' rule, see [`Made`]), the input and context
    /// widths and the number of outputs (features × multiplier).
    pub(crate) fn new(hidden_deg: &[usize], (d, c): (usize, usize), n_outputs: usize) -> Self {
        let h = hidden_deg.len();
        let mut order: Vec<usize> = (0..h).collect();
        order.sort_by_key(|&k| hidden_deg[k]);
        let deg: Vec<usize> = order.iter().map(|&k| hidden_deg[k]).collect();
        let at_most = |v: usize| deg.iter().filter(|&&x| x <= v).count();
        // Hidden unit of degree g sees inputs 0..g; another hidden unit of degree ≤ g;
        // output o (feature o / mult, degree o / mult + 1) hidden units of degree ≤ o / mult.
        let input: Vec<usize> = deg.iter().map(|&g| g.min(d)).collect();
        let hidden: Vec<usize> = deg.iter().map(|&g| at_most(g)).collect();
        let mult = n_outputs / d.max(1);
        let output: Vec<usize> = (0..n_outputs).map(|o| at_most(o / mult.max(1))).collect();
        Self {
            order,
            input: Band::from_prefix(&input, d),
            context: Band::from_prefix(&vec![c; h], c),
            hidden: Band::from_prefix(&hidden, h),
            output: Band::from_prefix(&output, h),
        }
    }
}

/// The θ part of a batched pass: one e per column, or one e shared by all columns.
#[derive(Clone, Copy)]
pub(crate) enum BatchContext<'a> {
    /// H × np, e of each column.
    PerRow(&'a [f64]),
    /// H entries, the same e for every column.
    Shared(&'a [f64]),
}

/// Where [`Made::backward_batch`] puts its adjoints (np columns each).
pub(crate) struct BatchSinks<'a> {
    /// Adjoint of the input U (D × np, added to), if wanted.
    pub(crate) du: Option<&'a mut [f64]>,
    /// Adjoint of the θ part e (H × np, overwritten).
    pub(crate) de: &'a mut [f64],
    /// Parameter gradient (added to), when training.
    pub(crate) grad: Option<&'a mut [f64]>,
}

/// Adds the row sums of `dy` (rows of `np`, a multiple of 4) to `gb` (a bias
/// gradient). Each sum runs in four interleaved partial sums (columns j mod 4),
/// which the compiler keeps in one SIMD register: the same numbers at any SIMD
/// width, and no chain of `np` dependent additions per row.
pub(crate) fn add_row_sums(dy: &[f64], np: usize, gb: &mut [f64]) {
    for (g, row) in gb.iter_mut().zip(dy.chunks_exact(np)) {
        let mut acc = [0.0f64; 4];
        for c in row.chunks_exact(4) {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        let rest: f64 = row.chunks_exact(4).remainder().iter().sum();
        *g += ((acc[0] + acc[2]) + (acc[1] + acc[3])) + rest;
    }
}

impl Made {
    /// For every parameter of this MADE in the sorted-unit order, the index of the
    /// same parameter in the estimator's layout: `map[sorted] = original`.
    pub(crate) fn sorted_index_map(&self, map: &mut [usize]) {
        let order = &self.bands.order;
        let mut put = |l: &Linear, rows: &dyn Fn(usize) -> usize, cols: &dyn Fn(usize) -> usize| {
            for o in 0..l.n_out {
                for i in 0..l.n_in {
                    map[l.weight_index(o, i)] = l.weight_index(rows(o), cols(i));
                }
                let bias = l.offset + l.n_out * l.n_in;
                map[bias + o] = bias + rows(o);
            }
        };
        let sorted = |k: usize| order[k];
        let same = |k: usize| k;
        put(&self.input, &sorted, &same);
        put(&self.context, &sorted, &same);
        for l in &self.hidden {
            put(l, &sorted, &sorted);
        }
        put(&self.output, &same, &sorted);
    }
    /// Scratch for [`Made::backward_batch`] with `np` columns.
    pub(crate) fn batch_tmp_len(&self, np: usize) -> usize {
        2 * self.hidden_features() * np
    }
    /// Batched [`Made::context_forward`]: E (H × np) = act(W_c C + b_c) for the
    /// columns of C (context × np).
    pub(crate) fn context_forward_batch(&self, p: &[f64], c: &[f64], np: usize, e: &mut [f64]) {
        let l = &self.context;
        l.forward_batch(p, c, np, e, &self.bands.context);
        self.activation.apply_all(&mut e[..l.n_out * np]);
    }
    /// Batched [`Made::forward`] over `np` columns: `acts` (acts_len × np) holds U
    /// in its first D rows and receives h₀..h_B and the output.
    pub(crate) fn forward_batch(
        &self,
        p: &[f64],
        e: BatchContext<'_>,
        np: usize,
        acts: &mut [f64],
    ) {
        let (d, h) = (self.features(), self.hidden_features());
        let (u, rest) = acts.split_at_mut(d * np);
        let (h0, mut rest) = rest.split_at_mut(h * np);
        let (_, b_in) = self.input.split(p);
        match e {
            BatchContext::PerRow(e) => {
                for ((row, er), b) in h0.chunks_exact_mut(np).zip(e.chunks_exact(np)).zip(b_in) {
                    for (v, ev) in row.iter_mut().zip(er) {
                        *v = ev + b;
                    }
                }
            }
            BatchContext::Shared(e) => {
                for ((row, ev), b) in h0.chunks_exact_mut(np).zip(e).zip(b_in) {
                    row.fill(ev + b);
                }
            }
        }
        let (w_in, _) = self.input.split(p);
        gemm_nn((h, d, np), w_in, u, h0, &self.bands.input.rows);
        self.activation.apply_all(h0);
        let mut prev: &[f64] = h0;
        for l in &self.hidden {
            let (cur, r) = rest.split_at_mut(h * np);
            l.forward_batch(p, prev, np, cur, &self.bands.hidden);
            self.activation.apply_all(cur);
            prev = cur;
            rest = r;
        }
        let out = &mut rest[..self.output.n_out * np];
        self.output
            .forward_batch(p, prev, np, out, &self.bands.output);
    }
    /// Batched [`Made::backward`] from the output adjoint `dout` (its padding
    /// columns zero) after [`Made::forward_batch`] filled `acts`.
    pub(crate) fn backward_batch(
        &self,
        p: &[f64],
        acts: &[f64],
        np: usize,
        dout: &[f64],
        sinks: BatchSinks<'_>,
        tmp: &mut [f64],
    ) {
        let BatchSinks { du, de, mut grad } = sinks;
        let (d, h) = (self.features(), self.hidden_features());
        let nb = self.hidden.len();
        let (u, hs) = acts.split_at(d * np);
        let (a, rest) = tmp.split_at_mut(h * np);
        let b = &mut rest[..h * np];
        let (mut cur, mut next) = (a, b);
        let hb = &hs[nb * h * np..(nb + 1) * h * np];
        if let Some(g) = grad.as_deref_mut() {
            self.output
                .accumulate_grad_batch(hb, dout, np, g, &self.bands.output);
        }
        self.output
            .backward_input_batch(p, dout, np, (cur, false), &self.bands.output);
        for k in (0..nb).rev() {
            let out = &hs[(k + 1) * h * np..(k + 2) * h * np];
            self.activation.scale_by_grad(cur, out);
            let input = &hs[k * h * np..(k + 1) * h * np];
            if let Some(g) = grad.as_deref_mut() {
                self.hidden[k].accumulate_grad_batch(input, cur, np, g, &self.bands.hidden);
            }
            let bh = &self.bands.hidden;
            self.hidden[k].backward_input_batch(p, cur, np, (next, false), bh);
            std::mem::swap(&mut cur, &mut next);
        }
        self.activation.scale_by_grad(cur, &hs[..h * np]);
        if let Some(g) = grad {
            self.input
                .accumulate_grad_batch(u, cur, np, g, &self.bands.input);
        }
        if let Some(du) = du {
            self.input
                .backward_input_batch(p, cur, np, (du, true), &self.bands.input);
        }
        de[..h * np].copy_from_slice(cur);
    }
    /// Batched [`Made::context_backward`] for training: from the adjoint `de` (H ×
    /// np, overwritten) of E = act(W_c C + b_c), adds the parameter gradient.
    pub(crate) fn context_backward_batch(
        &self,
        (c, e): (&[f64], &[f64]),
        np: usize,
        de: &mut [f64],
        grad: &mut [f64],
    ) {
        let n = self.context.n_out * np;
        self.activation.scale_by_grad(&mut de[..n], &e[..n]);
        self.context
            .accumulate_grad_batch(c, &de[..n], np, grad, &self.bands.context);
    }
}

impl Linear {
    /// Y (n_out × np) = W X + b for the columns of X (n_in × np); W zero outside `band`.
    fn forward_batch(&self, p: &[f64], x: &[f64], np: usize, y: &mut [f64], band: &Band) {
        let (w, b) = self.split(p);
        let y = &mut y[..self.n_out * np];
        for (row, bo) in y.chunks_exact_mut(np).zip(b) {
            row.fill(*bo);
        }
        gemm_nn((self.n_out, self.n_in, np), w, x, y, &band.rows);
    }
    /// DX (n_in × np) = Wᵀ DY, or += if `add`.
    fn backward_input_batch(
        &self,
        p: &[f64],
        dy: &[f64],
        np: usize,
        (dx, add): (&mut [f64], bool),
        band: &Band,
    ) {
        let (w, _) = self.split(p);
        let dx = &mut dx[..self.n_in * np];
        if !add {
            dx.fill(0.0);
        }
        gemm_tn((self.n_in, self.n_out, np), w, dy, dx, &band.cols);
    }
    /// ∂W += DY Xᵀ within the band (the rest is masked), ∂b += DY 1 over the columns.
    fn accumulate_grad_batch(&self, x: &[f64], dy: &[f64], np: usize, g: &mut [f64], band: &Band) {
        let (gw, gb) = self.split_mut(g);
        gemm_nt((self.n_out, self.n_in, np), dy, x, gw, &band.rows);
        add_row_sums(&dy[..self.n_out * np], np, gb);
    }
}

#[cfg(test)]
mod tests {
    use super::add_row_sums;

    /// The row sums against a plain sum (error budget: 1e-15 relative to the sum
    /// of magnitudes, a few roundings of a different order).
    #[test]
    fn row_sums_match_plain_sums() {
        for (rows, np) in [(1, 4), (7, 12), (9, 52), (3, 6)] {
            let dy: Vec<f64> = (0..rows * np)
                .map(|i| ((i * 7919 % 101) as f64 - 50.0) * 10f64.powi((i % 9) as i32 - 4))
                .collect();
            let start: Vec<f64> = (0..rows).map(|i| i as f64 * 0.1 - 0.3).collect();
            let mut got = start.clone();
            add_row_sums(&dy, np, &mut got);
            for (r, (g, s)) in got.iter().zip(&start).enumerate() {
                let row = &dy[r * np..(r + 1) * np];
                let want = s + row.iter().sum::<f64>();
                let scale = s.abs() + row.iter().map(|v| v.abs()).sum::<f64>();
                assert!((g - want).abs() <= 1e-15 * scale, "row {r}: {g} vs {want}");
            }
        }
    }
}
