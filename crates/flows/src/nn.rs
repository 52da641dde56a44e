//! Plain dense layers over one flat parameter vector, with hand-written
//! forward and backward passes.
//!
//! A [`Linear`] layer is an offset into the estimator's flat `Vec<f64>` of
//! parameters (weights row-major `[out][in]`, then the bias), in the spirit of
//! candle-nn's `linear.rs`: no trait towers, one small struct per layer. The same
//! layout serves evaluation (analytic input gradients), training (parameter
//! gradients) and the saved form.

use std::cell::RefCell;

use rand::{Rng, RngExt};

pub use crate::activation::Activation;
pub(crate) use crate::activation::{sigmoid, softplus};

/// ∑ a_i b_i with four accumulators (so the loop vectorizes).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// (∑ a_i x_i, ∑ b_i x_i), each summed exactly as [`dot`] does.
#[inline]
pub(crate) fn dot2(a: &[f64], b: &[f64], x: &[f64]) -> (f64, f64) {
    let n = a.len().min(b.len()).min(x.len());
    let (a, b, x) = (&a[..n], &b[..n], &x[..n]);
    let (mut p, mut q) = ([0.0f64; 4], [0.0f64; 4]);
    let (ca, cb, cx) = (a.chunks_exact(4), b.chunks_exact(4), x.chunks_exact(4));
    let (ra, rb, rx) = (ca.remainder(), cb.remainder(), cx.remainder());
    for ((u, v), w) in ca.zip(cb).zip(cx) {
        for j in 0..4 {
            p[j] += u[j] * w[j];
            q[j] += v[j] * w[j];
        }
    }
    let mut s = (p[0] + p[1]) + (p[2] + p[3]);
    let mut t = (q[0] + q[1]) + (q[2] + q[3]);
    for ((u, v), w) in ra.iter().zip(rb).zip(rx) {
        s += u * w;
        t += v * w;
    }
    (s, t)
}

/// y += alpha x.
#[inline]
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * *xi;
    }
}

/// A dense layer y = W x + b whose parameters live at `offset` in a flat vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Linear {
    pub(crate) offset: usize,
    pub(crate) n_in: usize,
    pub(crate) n_out: usize,
}

impl Linear {
    /// Number of parameters (weights and bias).
    pub(crate) fn len(&self) -> usize {
        self.n_out * (self.n_in + 1)
    }
    /// Index of weight (o, i) in the flat vector.
    pub(crate) fn weight_index(&self, o: usize, i: usize) -> usize {
        self.offset + o * self.n_in + i
    }
    pub(crate) fn split<'a>(&self, p: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        let w_end = self.offset + self.n_out * self.n_in;
        (&p[self.offset..w_end], &p[w_end..w_end + self.n_out])
    }
    pub(crate) fn split_mut<'a>(&self, p: &'a mut [f64]) -> (&'a mut [f64], &'a mut [f64]) {
        let w_end = self.offset + self.n_out * self.n_in;
        let (w, b) = p[self.offset..w_end + self.n_out].split_at_mut(w_end - self.offset);
        (w, b)
    }
    /// y = W x + b.
    #[inline]
    pub(crate) fn forward(&self, p: &[f64], x: &[f64], y: &mut [f64]) {
        let (w, b) = self.split(p);
        if self.n_in == 0 {
            y[..self.n_out].copy_from_slice(b);
            return;
        }
        if self.n_in == 1 {
            // A 1-D input (θ of the categorical estimator): no dot products.
            for ((yo, wo), bo) in y.iter_mut().zip(w).zip(b) {
                *yo = bo + wo * x[0];
            }
            return;
        }
        // Two rows at a time: twice the independent additions in flight, the same
        // arithmetic per row as `dot`.
        let mut rows = w.chunks_exact(2 * self.n_in);
        let mut ys = y[..self.n_out].chunks_exact_mut(2);
        let mut bs = b.chunks_exact(2);
        for ((yo, pair), bo) in (&mut ys).zip(&mut rows).zip(&mut bs) {
            let (d0, d1) = dot2(&pair[..self.n_in], &pair[self.n_in..], x);
            yo[0] = bo[0] + d0;
            yo[1] = bo[1] + d1;
        }
        for ((yo, row), bo) in ys
            .into_remainder()
            .iter_mut()
            .zip(rows.remainder().chunks_exact(self.n_in))
            .zip(bs.remainder())
        {
            *yo = bo + dot(row, x);
        }
    }
    /// y = W x: the tangent of the output for an input tangent `x` (no bias).
    #[inline]
    pub(crate) fn tangent(&self, p: &[f64], x: &[f64], y: &mut [f64]) {
        let (w, _) = self.split(p);
        if self.n_in == 1 {
            for (yo, wo) in y.iter_mut().zip(w) {
                *yo = wo * x[0];
            }
            return;
        }
        for (yo, row) in y.iter_mut().zip(w.chunks_exact(self.n_in.max(1))) {
            *yo = dot(row, x);
        }
    }
    /// dx = Wᵀ dy (overwrites `dx`).
    #[inline]
    pub(crate) fn backward_input(&self, p: &[f64], dy: &[f64], dx: &mut [f64]) {
        let (w, _) = self.split(p);
        let dx = &mut dx[..self.n_in];
        dx.fill(0.0);
        if self.n_in == 0 {
            return;
        }
        if self.n_in == 1 {
            dx[0] = w.iter().zip(dy).fold(0.0, |s, (wo, d)| s + d * wo);
            return;
        }
        // Two rows per pass over dx, added in the same order as one row at a time.
        let mut rows = w.chunks_exact(2 * self.n_in);
        let mut ds = dy[..self.n_out].chunks_exact(2);
        for (pair, d) in (&mut rows).zip(&mut ds) {
            match (d[0] != 0.0, d[1] != 0.0) {
                (true, true) => {
                    let (r0, r1) = pair.split_at(self.n_in);
                    for ((x, a), b) in dx.iter_mut().zip(r0).zip(r1) {
                        *x = (*x + d[0] * a) + d[1] * b;
                    }
                }
                (true, false) => axpy(d[0], &pair[..self.n_in], dx),
                (false, true) => axpy(d[1], &pair[self.n_in..], dx),
                (false, false) => {}
            }
        }
        for (row, &d) in rows.remainder().chunks_exact(self.n_in).zip(ds.remainder()) {
            if d != 0.0 {
                axpy(d, row, dx);
            }
        }
    }
    /// ∂W += dy xᵀ, ∂b += dy.
    #[inline]
    pub(crate) fn accumulate_grad(&self, x: &[f64], dy: &[f64], g: &mut [f64]) {
        let (gw, gb) = self.split_mut(g);
        if self.n_in > 0 {
            for (row, &d) in gw.chunks_exact_mut(self.n_in).zip(dy) {
                if d != 0.0 {
                    axpy(d, x, row);
                }
            }
        }
        for (b, d) in gb.iter_mut().zip(dy) {
            *b += d;
        }
    }
    /// PyTorch's `nn.Linear` default initialization: weights and bias uniform on
    /// ±1/√n_in.
    pub(crate) fn init(&self, p: &mut [f64], rng: &mut dyn Rng) {
        let bound = 1.0 / (self.n_in.max(1) as f64).sqrt();
        let (w, b) = self.split_mut(p);
        for v in w.iter_mut().chain(b.iter_mut()) {
            *v = bound * (2.0 * rng.random::<f64>() - 1.0);
        }
    }
}

/// Hands out consecutive parameter ranges for layers.
#[derive(Debug, Default)]
pub(crate) struct Alloc {
    pub(crate) len: usize,
}

impl Alloc {
    /// The next layer `n_in → n_out`.
    pub(crate) fn linear(&mut self, n_in: usize, n_out: usize) -> Linear {
        let l = Linear {
            offset: self.len,
            n_in,
            n_out,
        };
        self.len += l.len();
        l
    }
}

/// A plain multilayer perceptron: `activation` after every layer but the last.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mlp {
    pub(crate) layers: Vec<Linear>,
    pub(crate) activation: Activation,
}

impl Mlp {
    /// Layers of widths `sizes[0] → sizes[1] → … → sizes[last]`.
    pub(crate) fn new(alloc: &mut Alloc, sizes: &[usize], activation: Activation) -> Self {
        let layers = sizes.windows(2).map(|w| alloc.linear(w[0], w[1])).collect();
        Self { layers, activation }
    }
    pub(crate) fn n_out(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
    }
    pub(crate) fn n_in(&self) -> usize {
        self.layers.first().map_or(0, |l| l.n_in)
    }
    /// Scratch length for [`Mlp::forward`]: the input and all layer outputs.
    pub(crate) fn acts_len(&self) -> usize {
        self.n_in() + self.layers.iter().map(|l| l.n_out).sum::<usize>()
    }
    /// Scratch length for [`Mlp::backward`]: two adjoint buffers.
    pub(crate) fn tmp_len(&self) -> usize {
        2 * self
            .layers
            .iter()
            .map(|l| l.n_out.max(l.n_in))
            .max()
            .unwrap_or(0)
    }
    pub(crate) fn init(&self, p: &mut [f64], rng: &mut dyn Rng) {
        for l in &self.layers {
            l.init(p, rng);
        }
    }
    /// Forward pass over `acts`, whose first `n_in` entries hold the input; the
    /// rest receives every layer's output (after the activation for hidden
    /// layers). Returns the network output (the tail of `acts`).
    pub(crate) fn forward<'a>(&self, p: &[f64], acts: &'a mut [f64]) -> &'a [f64] {
        let end = self.forward_layers(p, acts, self.layers.len());
        &acts[end - self.n_out()..end]
    }
    /// As [`Mlp::forward`] without the output layer, on `acts` without the output's
    /// slots: the output layer's input (the last hidden layer's activations, or the
    /// network input if there is none) is then the tail of `acts`.
    pub(crate) fn forward_hidden(&self, p: &[f64], acts: &mut [f64]) {
        self.forward_layers(p, acts, self.layers.len().saturating_sub(1));
    }
    /// For a network of one input, after [`Mlp::forward_hidden`] filled `acts`: the
    /// derivative of the output layer's input with respect to the network input
    /// (forward mode: one W t per hidden layer, as the reverse pass would cost), in
    /// `tmp`.
    pub(crate) fn hidden_tangent<'a>(
        &self,
        p: &[f64],
        acts: &[f64],
        tmp: &'a mut [f64],
    ) -> &'a [f64] {
        debug_assert_eq!(self.n_in(), 1, "forward mode is for one input");
        let half = tmp.len() / 2;
        let (a, b) = tmp.split_at_mut(half);
        let (mut cur, mut next) = (a, b);
        cur[0] = 1.0;
        let mut width = 1;
        let mut start = self.n_in();
        for l in &self.layers[..self.layers.len().saturating_sub(1)] {
            l.tangent(p, &cur[..width], &mut next[..l.n_out]);
            self.activation
                .scale_by_grad(&mut next[..l.n_out], &acts[start..start + l.n_out]);
            std::mem::swap(&mut cur, &mut next);
            width = l.n_out;
            start += l.n_out;
        }
        &cur[..width]
    }
    /// Runs the first `n` layers; returns the end of the last output in `acts`.
    fn forward_layers(&self, p: &[f64], acts: &mut [f64], n: usize) -> usize {
        let mut start = self.n_in();
        let last = self.layers.len() - 1;
        for (k, l) in self.layers[..n].iter().enumerate() {
            let (done, rest) = acts.split_at_mut(start);
            let out = &mut rest[..l.n_out];
            l.forward(p, &done[start - l.n_in..], out);
            if k != last {
                self.activation.apply_all(out);
            }
            start += l.n_out;
        }
        start
    }
    /// Backward pass from `dout` (adjoint of the output) after [`Mlp::forward`]
    /// filled `acts`: writes the input adjoint into `dx` if given, adds the
    /// parameter gradient into `grad` if given.
    pub(crate) fn backward(
        &self,
        p: &[f64],
        acts: &[f64],
        dout: &[f64],
        dx: Option<&mut [f64]>,
        grad: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        self.backward_layers(p, acts, self.layers.len(), dout, dx, grad, tmp);
    }
    /// The input adjoint `dx` from `dh`, the adjoint of the output layer's input, after
    /// [`Mlp::forward_hidden`] (or [`Mlp::forward`]) filled `acts`.
    pub(crate) fn backward_hidden(
        &self,
        p: &[f64],
        acts: &[f64],
        dh: &[f64],
        dx: &mut [f64],
        tmp: &mut [f64],
    ) {
        let n = self.layers.len().saturating_sub(1);
        self.backward_layers(p, acts, n, dh, Some(dx), None, tmp);
    }
    /// Backward through the first `n` layers from `dout`, the adjoint of layer
    /// `n − 1`'s output (after its activation if it is a hidden layer).
    #[allow(clippy::too_many_arguments)]
    fn backward_layers(
        &self,
        p: &[f64],
        acts: &[f64],
        n: usize,
        dout: &[f64],
        dx: Option<&mut [f64]>,
        mut grad: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        if n == 0 {
            if let Some(dx) = dx {
                dx[..dout.len()].copy_from_slice(dout);
            }
            return;
        }
        let half = tmp.len() / 2;
        let (a, b) = tmp.split_at_mut(half);
        let (mut cur, mut next) = (a, b);
        cur[..dout.len()].copy_from_slice(dout);
        let mut end = self.n_in() + self.layers[..n].iter().map(|l| l.n_out).sum::<usize>();
        for (k, l) in self.layers[..n].iter().enumerate().rev() {
            let start = end - l.n_out;
            if k != self.layers.len() - 1 {
                self.activation
                    .scale_by_grad(&mut cur[..l.n_out], &acts[start..end]);
            }
            let input = &acts[start - l.n_in..start];
            if let Some(g) = grad.as_deref_mut() {
                l.accumulate_grad(input, &cur[..l.n_out], g);
            }
            if k > 0 {
                l.backward_input(p, &cur[..l.n_out], next);
                std::mem::swap(&mut cur, &mut next);
            } else if let Some(dx) = dx {
                l.backward_input(p, &cur[..l.n_out], dx);
                return;
            }
            end = start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Linear, dot, dot2};

    /// The two-row kernels give exactly the one-row results.
    #[test]
    fn blocked_layers_equal_row_by_row() {
        for (n_in, n_out) in [(1, 5), (3, 4), (7, 5), (30, 41), (8, 1)] {
            let l = Linear {
                offset: 3,
                n_in,
                n_out,
            };
            let p: Vec<f64> = (0..3 + l.len())
                .map(|i| ((i * 7919) % 113) as f64 / 17.0 - 3.0)
                .collect();
            let x: Vec<f64> = (0..n_in).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut y = vec![0.0; n_out];
            l.forward(&p, &x, &mut y);
            for (o, yo) in y.iter().enumerate() {
                let row = &p[l.weight_index(o, 0)..l.weight_index(o, 0) + n_in];
                let bias = p[3 + n_out * n_in + o];
                assert_eq!(
                    *yo,
                    bias + dot(row, &x),
                    "forward ({n_in}, {n_out}) row {o}"
                );
            }
            // Some zero adjoints, as in the categorical hot path.
            let dy: Vec<f64> = (0..n_out)
                .map(|o| {
                    if o % 3 == 1 {
                        0.0
                    } else {
                        0.5 - o as f64 * 0.1
                    }
                })
                .collect();
            let mut dx = vec![0.0; n_in];
            l.backward_input(&p, &dy, &mut dx);
            let mut want = vec![0.0; n_in];
            for (o, &d) in dy.iter().enumerate() {
                if d != 0.0 {
                    for (i, w) in want.iter_mut().enumerate() {
                        *w += d * p[l.weight_index(o, i)];
                    }
                }
            }
            assert_eq!(dx, want, "backward ({n_in}, {n_out})");
        }
        let (a, b, x) = (
            [1.5, -2.0, 0.1, 4.0, 9.0],
            [0.3; 5],
            [2.0, 1.0, -1.0, 0.5, 0.25],
        );
        assert_eq!(dot2(&a, &b, &x), (dot(&a, &x), dot(&b, &x)));
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `len` zeroed-or-stale f64s of per-thread scratch.
///
/// Estimators are `Send + Sync` and evaluated through `&self` from many threads,
/// so their working memory cannot live inside them. Each thread keeps one
/// growable buffer: after the first call of a given size the hot path allocates
/// nothing. A nested call on the same thread (the buffer already borrowed) falls
/// back to a fresh allocation. Callers must not assume the contents are zero.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0.0);
            }
            f(&mut v[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}
