//! Nonlinearities between layers, each with its derivative written from its output,
//! and the fast scalar kernels they use.

use serde::{Deserialize, Serialize};

use crate::vmath::{tanh, tanh_slice};

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

impl Activation {
    /// [`Activation::apply`] on every element, with one dispatch per layer rather than
    /// per element (so the loop can vectorize).
    #[inline]
    pub(crate) fn apply_all(self, v: &mut [f64]) {
        fn each(v: &mut [f64], f: impl Fn(f64) -> f64) {
            for x in v {
                *x = f(*x);
            }
        }
        match self {
            Activation::Tanh => tanh_slice(v),
            Activation::Relu => each(v, |x| Activation::Relu.apply(x)),
            Activation::Softplus => each(v, |x| Activation::Softplus.apply(x)),
            Activation::Elu => each(v, |x| Activation::Elu.apply(x)),
            Activation::Squareplus => each(v, |x| Activation::Squareplus.apply(x)),
        }
    }
    /// d_i *= f'(x_i), written with the outputs `y`, one dispatch per layer.
    #[inline]
    pub(crate) fn scale_by_grad(self, d: &mut [f64], y: &[f64]) {
        fn each(d: &mut [f64], y: &[f64], f: impl Fn(f64) -> f64) {
            for (d, &y) in d.iter_mut().zip(y) {
                *d *= f(y);
            }
        }
        match self {
            Activation::Tanh => each(d, y, |y| Activation::Tanh.grad_from_output(y)),
            Activation::Relu => each(d, y, |y| Activation::Relu.grad_from_output(y)),
            Activation::Softplus => each(d, y, |y| Activation::Softplus.grad_from_output(y)),
            Activation::Elu => each(d, y, |y| Activation::Elu.grad_from_output(y)),
            Activation::Squareplus => each(d, y, |y| Activation::Squareplus.grad_from_output(y)),
        }
    }
}

/// (x + √(x² + 4)) / 2, as 2 / (√(x² + 4) − x) for negative x (no cancellation);
/// √(x² + 4) is |x| in f64 beyond 10¹⁵⁰ (where x² would overflow). Both branches are
/// computed and one selected, so a loop over a layer vectorizes.
#[inline]
pub(crate) fn squareplus(x: f64) -> f64 {
    let a = x.abs();
    let s = if a < 1e150 { (x * x + 4.0).sqrt() } else { a };
    let pos = 0.5 * (x + s);
    let neg = 2.0 / (s - x);
    if x >= 0.0 { pos } else { neg }
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
    use super::{Activation, squareplus, tanh};

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

    /// tanh (`vmath`, the only tanh of the networks) and its vectorized form (fused
    /// multiply-adds where available) against the standard library: relative error
    /// below 1e-15 (tanh's 3 ulp, `vmath`'s test, are at most 6.7e-16 relative).
    #[test]
    fn tanh_is_accurate() {
        let mut worst: f64 = 0.0;
        for i in 0..400_001 {
            let x = (i as f64 - 200_000.0) / 10_000.0;
            let t = x.tanh();
            if t != 0.0 {
                worst = worst.max(((tanh(x) - t) / t).abs());
            }
        }
        assert!(worst < 1e-15, "relative error {worst}");
        let xs: Vec<f64> = (0..400_001)
            .map(|i| (i as f64 - 200_000.0) / 10_000.0)
            .collect();
        let mut v = xs.clone();
        Activation::Tanh.apply_all(&mut v);
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
            assert_eq!(tanh(x), x.tanh(), "x = {x}");
        }
    }
}
