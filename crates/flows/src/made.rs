//! MADE (Germain et al. 2015) as nflows builds it for sbi's MAF: masked dense
//! layers whose degrees make output i depend only on inputs < i, with θ entering
//! the first hidden layer.
//!
//! nflows' `MADE` with `use_residual_blocks=False` (sbi's `build_maf`):
//! h₀ = act(W_in u + b_in + act(W_c c + b_c)), h_k = act(W_k h_{k−1} + b_k) for
//! k = 1..num_blocks, out = W_out h_B + b_out with out\[2i\] the unconstrained
//! scale and out\[2i+1\] the shift of feature i. Degrees: inputs 1..=D; hidden unit
//! k has degree k mod max(1, D−1) + min(1, D−1); a hidden unit sees an input of
//! lower or equal degree, an output of feature i (degree i+1) sees hidden units
//! of strictly lower degree. (So with D ≥ 2 the first feature's scale and shift
//! are biases only, independent of θ, exactly as in nflows; the permutations
//! between transforms let every feature depend on θ.)

use crate::made_batch::Bands;
use crate::nn::{Activation, Alloc, Linear};

/// The sizes of one MADE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MadeShape {
    pub(crate) features: usize,
    pub(crate) context_features: usize,
    pub(crate) hidden_features: usize,
    pub(crate) num_blocks: usize,
    /// Outputs per feature (2 for an affine transform).
    pub(crate) output_multiplier: usize,
    pub(crate) activation: Activation,
}

/// Where [`Made::backward`] puts its adjoints.
pub(crate) struct Sinks<'a> {
    /// Adjoint of the input u (added to).
    pub(crate) du: &'a mut [f64],
    /// Adjoint of the θ part e (added to).
    pub(crate) de: &'a mut [f64],
    /// Parameter gradient (added to), when training.
    pub(crate) grad: Option<&'a mut [f64]>,
}

/// The layers of one MADE (offsets into the estimator's parameter vector).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Made {
    pub(crate) input: Linear,
    pub(crate) context: Linear,
    pub(crate) hidden: Vec<Linear>,
    pub(crate) output: Linear,
    pub(crate) activation: Activation,
    /// The hidden units sorted by degree and the bands of possibly non-zero
    /// weights in that order (for the batched passes).
    pub(crate) bands: Bands,
}

impl Made {
    /// Allocates the layers; pushes the indices of masked (structurally zero)
    /// weights onto `masked`.
    pub(crate) fn new(alloc: &mut Alloc, shape: MadeShape, masked: &mut Vec<usize>) -> Self {
        let MadeShape {
            features: d,
            context_features,
            hidden_features: h,
            num_blocks,
            output_multiplier,
            activation,
        } = shape;
        let max_ = (d.saturating_sub(1)).max(1);
        let min_ = (d.saturating_sub(1)).min(1);
        let hidden_deg: Vec<usize> = (0..h).map(|k| k % max_ + min_).collect();
        let input = alloc.linear(d, h);
        for (o, &dh) in hidden_deg.iter().enumerate() {
            for i in 0..d {
                if dh < i + 1 {
                    masked.push(input.weight_index(o, i));
                }
            }
        }
        let context = alloc.linear(context_features, h);
        let hidden: Vec<Linear> = (0..num_blocks).map(|_| alloc.linear(h, h)).collect();
        for l in &hidden {
            for (o, &dout) in hidden_deg.iter().enumerate() {
                for (i, &din) in hidden_deg.iter().enumerate() {
                    if dout < din {
                        masked.push(l.weight_index(o, i));
                    }
                }
            }
        }
        let output = alloc.linear(h, d * output_multiplier);
        for o in 0..d * output_multiplier {
            let dout = o / output_multiplier + 1;
            for (i, &din) in hidden_deg.iter().enumerate() {
                if dout <= din {
                    masked.push(output.weight_index(o, i));
                }
            }
        }
        let bands = Bands::new(&hidden_deg, (d, context_features), d * output_multiplier);
        Self {
            input,
            context,
            hidden,
            output,
            activation,
            bands,
        }
    }
    pub(crate) fn layers(&self) -> impl Iterator<Item = &Linear> {
        [&self.input, &self.context]
            .into_iter()
            .chain(&self.hidden)
            .chain([&self.output])
    }
    pub(crate) fn hidden_features(&self) -> usize {
        self.input.n_out
    }
    pub(crate) fn features(&self) -> usize {
        self.input.n_in
    }
    /// Scratch for one pass: the input u, h₀..h_B and the output.
    pub(crate) fn acts_len(&self) -> usize {
        self.features() + (self.hidden.len() + 1) * self.hidden_features() + self.output.n_out
    }
    /// The output part of `acts` after [`Made::forward`].
    #[inline]
    pub(crate) fn output_of<'a>(&self, acts: &'a [f64]) -> &'a [f64] {
        &acts[self.acts_len() - self.output.n_out..self.acts_len()]
    }
    /// e = act(W_c c + b_c): the θ part, computed once per θ.
    #[inline]
    pub(crate) fn context_forward(&self, p: &[f64], c: &[f64], e: &mut [f64]) {
        self.context.forward(p, c, e);
        for v in e.iter_mut() {
            *v = self.activation.apply(*v);
        }
    }
    /// Forward pass given the θ part `e`: `acts` holds the input u in its first
    /// `features` entries and receives h₀..h_B then the output.
    #[inline]
    pub(crate) fn forward(&self, p: &[f64], e: &[f64], acts: &mut [f64]) {
        let h = self.hidden_features();
        let (u, rest) = acts.split_at_mut(self.features());
        let (h0, mut rest) = rest.split_at_mut(h);
        self.input.forward(p, u, h0);
        for (v, ev) in h0.iter_mut().zip(e) {
            *v = self.activation.apply(*v + ev);
        }
        let mut prev: &[f64] = h0;
        for l in &self.hidden {
            let (cur, r) = rest.split_at_mut(h);
            l.forward(p, prev, cur);
            for v in cur.iter_mut() {
                *v = self.activation.apply(*v);
            }
            prev = cur;
            rest = r;
        }
        self.output.forward(p, prev, &mut rest[..self.output.n_out]);
    }
    /// Backward pass from the output adjoint `dout` after [`Made::forward`] filled
    /// `acts`: adds the adjoints of u and e and the parameter gradient into `sinks`.
    /// `tmp` holds 2·hidden + features entries.
    #[inline]
    pub(crate) fn backward(
        &self,
        p: &[f64],
        acts: &[f64],
        dout: &[f64],
        sinks: Sinks<'_>,
        tmp: &mut [f64],
    ) {
        let Sinks { du, de, mut grad } = sinks;
        let (u, acts) = acts.split_at(self.features());
        let h = self.hidden_features();
        let nb = self.hidden.len();
        let (a, rest) = tmp.split_at_mut(h);
        let (b, tu) = rest.split_at_mut(h);
        let (mut cur, mut next) = (a, b);
        let hb = &acts[nb * h..(nb + 1) * h];
        if let Some(g) = grad.as_deref_mut() {
            self.output.accumulate_grad(hb, dout, g);
        }
        self.output.backward_input(p, dout, cur);
        for k in (0..nb).rev() {
            let out = &acts[(k + 1) * h..(k + 2) * h];
            for (d, &y) in cur.iter_mut().zip(out) {
                *d *= self.activation.grad_from_output(y);
            }
            if let Some(g) = grad.as_deref_mut() {
                self.hidden[k].accumulate_grad(&acts[k * h..(k + 1) * h], cur, g);
            }
            self.hidden[k].backward_input(p, cur, next);
            std::mem::swap(&mut cur, &mut next);
        }
        for (d, &y) in cur.iter_mut().zip(&acts[..h]) {
            *d *= self.activation.grad_from_output(y);
        }
        if let Some(g) = grad {
            self.input.accumulate_grad(u, cur, g);
        }
        let tu = &mut tu[..u.len()];
        self.input.backward_input(p, cur, tu);
        for (a, b) in du.iter_mut().zip(tu.iter()) {
            *a += b;
        }
        for (a, b) in de.iter_mut().zip(cur.iter()) {
            *a += b;
        }
    }
    /// Backward through the θ part: from the adjoint `de` of e = act(W_c c + b_c),
    /// adds the adjoint of `c` into `dc` if given and parameter gradients into
    /// `grad` if given. `de` is overwritten.
    #[inline]
    pub(crate) fn context_backward(
        &self,
        p: &[f64],
        (c, e): (&[f64], &[f64]),
        de: &mut [f64],
        (dc, grad): (Option<&mut [f64]>, Option<&mut [f64]>),
        tmp: &mut [f64],
    ) {
        for (d, &y) in de.iter_mut().zip(e) {
            *d *= self.activation.grad_from_output(y);
        }
        if let Some(g) = grad {
            self.context.accumulate_grad(c, de, g);
        }
        if let Some(dc) = dc {
            let t = &mut tmp[..c.len()];
            self.context.backward_input(p, de, t);
            for (a, b) in dc.iter_mut().zip(t.iter()) {
                *a += b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Output i (scale and shift of feature i) does not change when inputs ≥ i change.
    #[test]
    fn outputs_are_autoregressive() {
        for d in 1..=4 {
            let mut alloc = Alloc::default();
            let mut masked = Vec::new();
            let shape = MadeShape {
                features: d,
                context_features: 2,
                hidden_features: 7,
                num_blocks: 2,
                output_multiplier: 2,
                activation: Activation::Tanh,
            };
            let m = Made::new(&mut alloc, shape, &mut masked);
            let mut p = vec![0.0; alloc.len];
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(d as u64);
            for l in m.layers() {
                l.init(&mut p, &mut rng);
            }
            for &i in &masked {
                p[i] = 0.0;
            }
            let mut e = vec![0.0; 7];
            m.context_forward(&p, &[0.3, -0.7], &mut e);
            let run = |u: &[f64]| {
                let mut acts = vec![0.0; m.acts_len()];
                acts[..d].copy_from_slice(u);
                m.forward(&p, &e, &mut acts);
                m.output_of(&acts).to_vec()
            };
            let base: Vec<f64> = (0..d).map(|i| 0.1 * i as f64 - 0.2).collect();
            let o0 = run(&base);
            for j in 0..d {
                let mut u = base.clone();
                u[j] += 1.5;
                let o = run(&u);
                for i in 0..d {
                    let same = o[2 * i] == o0[2 * i] && o[2 * i + 1] == o0[2 * i + 1];
                    assert_eq!(same, i <= j, "d = {d}: output {i} vs input {j}");
                }
            }
        }
    }
}
