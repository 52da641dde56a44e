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

pub(crate) use crate::vmath::{tanh, tanh_slice};
use serde::{Deserialize, Serialize};

/// Nonlinearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Activation {
    /// tanh (sbi's MAF).
    Tanh,
    /// max(0, x) (sbi's categorical net and NSF conditioners).
    Relu,
    /// ln(1 + eˣ): unbounded like ReLU, smooth like tanh, so the network's input
    /// gradient (the likelihood's θ-gradient) has no jumps.
    Softplus,
    /// x for x > 0, eˣ − 1 below (ELU, α = 1): unbounded like ReLU, with a continuous
    /// derivative, so the network's input gradient has no jumps; one exp for negative
    /// inputs only, and none for the derivative.
    Elu,
    /// Squareplus (Barron 2021, b = 4): (x + √(x² + 4)) / 2, a smooth, unbounded
    /// ReLU-like curve with a square root instead of transcendental functions; its
    /// derivative from the output y is y² / (y² + 1).
    Squareplus,
}

impl Activation {
    /// The activation of `x`.
    #[inline]
    pub(crate) fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => tanh(x),
            Activation::Relu => x.max(0.0),
            Activation::Softplus => softplus(x),
            Activation::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Activation::Squareplus => squareplus(x),
        }
    }
    /// The activation of every entry of `v`, in place.
    #[inline]
    pub(crate) fn apply_slice(self, v: &mut [f64]) {
        if self == Activation::Tanh {
            tanh_slice(v);
            return;
        }
        for x in v.iter_mut() {
            *x = self.apply(*x);
        }
    }
    /// d ⊙= the derivative at the outputs `y`.
    #[inline]
    pub(crate) fn mul_grad_from_output(self, d: &mut [f64], y: &[f64]) {
        for (d, &y) in d.iter_mut().zip(y) {
            *d *= self.grad_from_output(y);
        }
    }
    /// Its derivative, written with the output `y = apply(x)`.
    #[inline]
    pub(crate) fn grad_from_output(self, y: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - y * y,
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            // σ(x) = 1 − e^{−softplus(x)}
            Activation::Softplus => -(-y).exp_m1(),
            Activation::Elu => {
                if y > 0.0 {
                    1.0
                } else {
                    y + 1.0
                }
            }
            Activation::Squareplus => {
                let y2 = y * y;
                y2 / (y2 + 1.0)
            }
        }
    }
}

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
        let mut start = self.n_in();
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            let (done, rest) = acts.split_at_mut(start);
            let out = &mut rest[..l.n_out];
            l.forward(p, &done[start - l.n_in..], out);
            if k != last {
                for v in out.iter_mut() {
                    *v = self.activation.apply(*v);
                }
            }
            start += l.n_out;
        }
        &acts[start - self.n_out()..start]
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
        mut grad: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        let half = tmp.len() / 2;
        let (a, b) = tmp.split_at_mut(half);
        let (mut cur, mut next) = (a, b);
        cur[..self.n_out()].copy_from_slice(dout);
        let mut end = acts.len();
        for (k, l) in self.layers.iter().enumerate().rev() {
            let start = end - l.n_out;
            if k != self.layers.len() - 1 {
                for (d, &y) in cur[..l.n_out].iter_mut().zip(&acts[start..end]) {
                    *d *= self.activation.grad_from_output(y);
                }
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

/// (x + √(x² + 4)) / 2, as 2 / (√(x² + 4) − x) for negative x (no cancellation);
/// √(x² + 4) is |x| in f64 beyond 10¹⁵⁰ (where x² would overflow).
#[inline]
pub(crate) fn squareplus(x: f64) -> f64 {
    let s = if x.abs() < 1e150 {
        (x * x + 4.0).sqrt()
    } else {
        x.abs()
    };
    if x >= 0.0 {
        0.5 * (x + s)
    } else {
        2.0 / (s - x)
    }
}

/// ln(1 + eˣ) without overflow.
#[inline]
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// 1 / (1 + e⁻ˣ).
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::{Activation, Linear, dot, dot2, squareplus};

    /// Each activation's derivative from its output against central differences
    /// (h = 1e-6: error ~1e-10 here), away from ReLU's kink.
    #[test]
    fn activation_derivatives_match_finite_differences() {
        let all = [
            Activation::Tanh,
            Activation::Relu,
            Activation::Softplus,
            Activation::Elu,
            Activation::Squareplus,
        ];
        for act in all {
            for i in 0..=600 {
                let x = -30.0 + 0.1 * i as f64 + 0.05;
                let h = 1e-6;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let g = act.grad_from_output(act.apply(x));
                assert!((g - fd).abs() < 1e-8, "{act:?} at {x}: {g} vs {fd}");
            }
        }
    }

    /// Squareplus has no cancellation for large negative x: 1/|x| to rounding.
    #[test]
    fn squareplus_is_accurate_in_the_left_tail() {
        for x in [-1e3, -1e8, -1e150, -1e300] {
            let y = squareplus(x);
            assert!((y * -x - 1.0).abs() < 1e-6, "squareplus({x}) = {y}");
        }
        assert_eq!(squareplus(0.0), 1.0);
        assert_eq!(squareplus(1e200), 1e200);
    }

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

    #[test]
    fn tanh_is_accurate() {
        let mut worst: f64 = 0.0;
        for i in 0..400_001 {
            let x = (i as f64 - 200_000.0) / 10_000.0;
            let t = x.tanh();
            if t != 0.0 {
                worst = worst.max(((super::tanh(x) - t) / t).abs());
            }
        }
        assert!(worst < 1e-15, "relative error {worst}");
        // The vectorized version (fused multiply-adds where available) too.
        let xs: Vec<f64> = (0..400_001)
            .map(|i| (i as f64 - 200_000.0) / 10_000.0)
            .collect();
        let mut v = xs.clone();
        super::tanh_slice(&mut v);
        for (x, t) in xs.iter().zip(&v) {
            assert!((t - x.tanh()).abs() <= 1e-15 * x.tanh().abs(), "x = {x}");
        }
        for x in [
            0.0,
            -0.0,
            800.0,
            -800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
        ] {
            assert_eq!(super::tanh(x), x.tanh(), "x = {x}");
        }
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
