//! The binary MLP classifier behind [`c2st`](crate::c2st): scikit-learn's
//! `MLPClassifier` with the settings sbibm uses, written out.
//!
//! Two ReLU hidden layers, one logistic output, log loss plus an L2 penalty
//! α/2·‖W‖² / batch (α = 1e-4, weights only), Glorot-uniform initialization of
//! weights and biases, Adam (lr 1e-3, β = (0.9, 0.999), ε = 1e-8, scikit-learn's
//! form lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε)), mini-batches of min(200, n) reshuffled
//! every epoch with the last partial batch kept, and scikit-learn's stopping rule
//! without a validation split: stop once the epoch's training loss has failed to
//! fall by at least `tol` = 1e-4 below the best so far for more than 10
//! consecutive epochs.

use flows::RowsView;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::gemm::{gemm, transpose};

const ALPHA: f64 = 1e-4;
const LEARNING_RATE: f64 = 1e-3;
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;
const TOL: f64 = 1e-4;
const N_ITER_NO_CHANGE: usize = 10;
const BATCH: usize = 200;

/// A dense layer whose weights (stored transposed, row-major `[in][out]`) and
/// bias live at `offset` in the flat parameter vector.
#[derive(Debug, Clone, Copy)]
struct Layer {
    offset: usize,
    n_in: usize,
    n_out: usize,
}

impl Layer {
    fn weights(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.n_in * self.n_out
    }
    fn bias(&self) -> std::ops::Range<usize> {
        let w = self.offset + self.n_in * self.n_out;
        w..w + self.n_out
    }
    /// `ys[r] = W xs[r] + b` for every row, then ReLU if `relu`.
    fn forward(&self, p: &[f64], rows: usize, xs: &[f64], ys: &mut [f64], relu: bool) {
        let ys = &mut ys[..rows * self.n_out];
        for y in ys.chunks_exact_mut(self.n_out) {
            y.copy_from_slice(&p[self.bias()]);
        }
        gemm(rows, self.n_out, self.n_in, xs, &p[self.weights()], ys);
        if relu {
            ys.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
    /// Adds ∑ᵣ xᵣ dyᵣᵀ to the (transposed) weight gradient and ∑ᵣ dyᵣ to the bias
    /// gradient; writes Wᵀ dyᵣ into `dxs` if given. `tmp` holds a transpose.
    fn backward(
        &self,
        p: &[f64],
        rows: usize,
        (xs, dys): (&[f64], &[f64]),
        g: &mut [f64],
        dxs: Option<&mut [f64]>,
        tmp: &mut [f64],
    ) {
        let dys = &dys[..rows * self.n_out];
        transpose(rows, self.n_in, xs, tmp);
        gemm(
            self.n_in,
            self.n_out,
            rows,
            tmp,
            dys,
            &mut g[self.weights()],
        );
        let gb = &mut g[self.bias()];
        for dy in dys.chunks_exact(self.n_out) {
            for (b, d) in gb.iter_mut().zip(dy) {
                *b += d;
            }
        }
        if let Some(dxs) = dxs {
            let dxs = &mut dxs[..rows * self.n_in];
            dxs.fill(0.0);
            transpose(self.n_in, self.n_out, &p[self.weights()], tmp);
            gemm(rows, self.n_in, self.n_out, dys, tmp, dxs);
        }
    }
}

/// ln(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// 1 / (1 + e⁻ˣ).
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A trained binary classifier (d → 10d → 10d → 1).
#[derive(Debug, Clone)]
pub(crate) struct Mlp {
    layers: [Layer; 3],
    params: Vec<f64>,
}

/// Per-batch activations and adjoints.
struct Work {
    h1: Vec<f64>,
    h2: Vec<f64>,
    z: Vec<f64>,
    d1: Vec<f64>,
    d2: Vec<f64>,
    dz: Vec<f64>,
    xs: Vec<f64>,
    tmp: Vec<f64>,
}

impl Mlp {
    /// A fresh network for inputs of width `dim` with `hidden` units per layer.
    fn new(dim: usize, hidden: usize, rng: &mut ChaCha8Rng) -> Self {
        let mut offset = 0;
        let mut layer = |n_in, n_out| {
            let l = Layer {
                offset,
                n_in,
                n_out,
            };
            offset += n_in * n_out + n_out;
            l
        };
        let layers = [layer(dim, hidden), layer(hidden, hidden), layer(hidden, 1)];
        let mut params = vec![0.0; offset];
        for l in &layers {
            let bound = (6.0 / (l.n_in + l.n_out) as f64).sqrt();
            for p in &mut params[l.offset..l.bias().end] {
                *p = bound * (2.0 * rng.random::<f64>() - 1.0);
            }
        }
        Self { layers, params }
    }

    fn work(&self, rows: usize) -> Work {
        let h = self.layers[0].n_out;
        Work {
            h1: vec![0.0; rows * h],
            h2: vec![0.0; rows * h],
            z: vec![0.0; rows],
            d1: vec![0.0; rows * h],
            d2: vec![0.0; rows * h],
            dz: vec![0.0; rows],
            xs: Vec::with_capacity(rows * self.layers[0].n_in),
            tmp: vec![0.0; (rows * h.max(self.layers[0].n_in)).max(h * h)],
        }
    }

    /// Logits of the rows `xs` (flat, `rows` of them) into `w.z[..rows]`.
    fn forward(&self, xs: &[f64], rows: usize, w: &mut Work) {
        let [l1, l2, l3] = self.layers;
        l1.forward(&self.params, rows, xs, &mut w.h1, true);
        l2.forward(&self.params, rows, &w.h1, &mut w.h2, true);
        l3.forward(&self.params, rows, &w.h2, &mut w.z, false);
    }

    /// Trains on `xs` (rows of width `dim`) with labels `ys` ∈ {0, 1}, drawing the
    /// initialization and the batch order from `rng`; at most `max_epochs` epochs.
    pub(crate) fn fit(
        xs: RowsView<'_>,
        ys: &[f64],
        hidden: usize,
        max_epochs: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut net = Self::new(xs.cols(), hidden, rng);
        let n = xs.len();
        let batch = BATCH.min(n);
        let mut w = net.work(batch);
        let np = net.params.len();
        let (mut m, mut v, mut g) = (vec![0.0; np], vec![0.0; np], vec![0.0; np]);
        let mut order: Vec<usize> = (0..n).collect();
        let (mut best, mut no_change, mut t) = (f64::INFINITY, 0, 0i32);
        for _ in 0..max_epochs {
            order.shuffle(rng);
            let mut total = 0.0;
            for idx in order.chunks(batch) {
                let rows = idx.len();
                w.xs.clear();
                for &i in idx {
                    w.xs.extend_from_slice(xs.row(i));
                }
                let xb = std::mem::take(&mut w.xs);
                total += net.loss_grad(&xb, idx.iter().map(|&i| ys[i]), rows, &mut w, &mut g);
                w.xs = xb;
                // scikit-learn's Adam.
                t += 1;
                let lr = LEARNING_RATE * (1.0 - BETA2.powi(t)).sqrt() / (1.0 - BETA1.powi(t));
                for (((p, gi), mi), vi) in net.params.iter_mut().zip(&g).zip(&mut m).zip(&mut v) {
                    *mi = BETA1 * *mi + (1.0 - BETA1) * gi;
                    *vi = BETA2 * *vi + (1.0 - BETA2) * gi * gi;
                    *p -= lr * *mi / (vi.sqrt() + EPSILON);
                }
            }
            let loss = total / n as f64;
            // scikit-learn's `_update_no_improvement_count` without early stopping.
            if loss > best - TOL {
                no_change += 1;
            } else {
                no_change = 0;
            }
            if loss < best {
                best = loss;
            }
            if no_change > N_ITER_NO_CHANGE || !loss.is_finite() {
                break;
            }
        }
        net
    }

    /// Batch loss (log loss + L2 penalty, as a mean over the batch) times the
    /// batch size; its gradient into `g`.
    fn loss_grad(
        &self,
        xs: &[f64],
        ys: impl Iterator<Item = f64>,
        rows: usize,
        w: &mut Work,
        g: &mut [f64],
    ) -> f64 {
        let h = self.layers[0].n_out;
        self.forward(xs, rows, w);
        let mut loss = 0.0;
        for ((dz, &z), y) in w.dz[..rows].iter_mut().zip(&w.z[..rows]).zip(ys) {
            loss += softplus(z) - y * z;
            *dz = sigmoid(z) - y;
        }
        g.fill(0.0);
        let [l1, l2, l3] = self.layers;
        let p = &self.params;
        let hs = rows * h;
        l3.backward(p, rows, (&w.h2, &w.dz), g, Some(&mut w.d2), &mut w.tmp);
        relu_mask(&mut w.d2[..hs], &w.h2[..hs]);
        l2.backward(p, rows, (&w.h1, &w.d2), g, Some(&mut w.d1), &mut w.tmp);
        relu_mask(&mut w.d1[..hs], &w.h1[..hs]);
        l1.backward(p, rows, (xs, &w.d1), g, None, &mut w.tmp);
        let mut penalty = 0.0;
        for l in &self.layers {
            for (gi, pi) in g[l.weights()].iter_mut().zip(&p[l.weights()]) {
                *gi += ALPHA * pi;
                penalty += pi * pi;
            }
        }
        let nb = rows as f64;
        g.iter_mut().for_each(|gi| *gi /= nb);
        loss + 0.5 * ALPHA * penalty
    }

    /// Number of rows of `xs` classified correctly against labels `ys`
    /// (class 1 when the probability exceeds ½, as scikit-learn's `predict`).
    pub(crate) fn correct(&self, xs: RowsView<'_>, ys: &[f64]) -> usize {
        let mut w = self.work(BATCH);
        let mut correct = 0;
        for (start, y) in (0..xs.len()).step_by(BATCH).zip(ys.chunks(BATCH)) {
            let rows = y.len();
            let block = xs.slice(start, start + rows);
            self.forward(block.as_slice(), rows, &mut w);
            correct += w.z[..rows]
                .iter()
                .zip(y)
                .filter(|&(&z, &y)| (z > 0.0) == (y > 0.5))
                .count();
        }
        correct
    }
}

/// Zeroes the adjoints of units the ReLU cut off.
fn relu_mask(d: &mut [f64], h: &[f64]) {
    for (di, &hi) in d.iter_mut().zip(h) {
        // A select, not a branch: the loop vectorizes.
        *di = if hi > 0.0 { *di } else { 0.0 };
    }
}
