//! Shared helpers of the autodiff tests: inputs, strategies, the finite-difference
//! gradient check and test ops with known Jacobians.
#![allow(dead_code)]

use std::ops::Range;

use ppl::{Shape, Tape, Var, Vjp, special};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Central-difference step, relative to max(1, |x|).
pub const FD_STEP: f64 = 1e-6;

/// Gradient tolerance: |g − fd| ≤ FD_TOL·(1 + |g|).
///
/// Budget of a central difference with step h on the domains used below:
/// - truncation h²·|f'''|/6: relative to the gradient this is ≈ (h/x)²·O(1) for the
///   power-, log- and gamma-like ops, and x ≥ 0.1 keeps h/x ≤ 1e-5, so ≲ 1e-10·|g|;
/// - rounding ≈ 2ε·Σ|wᵢyᵢ|/(2h) over the outputs that depend on the perturbed input
///   (only those enter, see [`check_grad`]); the domains keep |y| ≲ 500·max(1, |x|),
///   so with |w| ≤ 2 this is ≲ 2.2e-16·2·500·2/2e-6 ≈ 2e-7.
///
/// Both are below 1e-6·(1 + |g|) with a margin of ≥ 5, so a failure is a wrong gradient
/// (a wrong partial is typically off by O(|g|)), not finite-difference noise.
pub const FD_TOL: f64 = 1e-6;

/// Agreement of two computations of the same quantity that differ only in rounding (a
/// fused op vs the same formula from primitive ops; an op vs its f64 formula).
pub const ROUNDING_TOL: f64 = 1e-12;

/// Accuracy of special-function values against 40-digit references (mpmath): a few ulp.
pub const SPECIAL_TOL: f64 = 1e-14;

/// Agreement with statrs' `ln_gamma` and `erfc`, used as independent references: these
/// are less accurate than libm (statrs' erfc is off by ~1e-10 relative near x = 1.03,
/// where ppl's log_ndtr matches mpmath to 1e-16), so a looser budget that still catches
/// a wrong formula.
pub const STATRS_TOL: f64 = 1e-9;

/// Longest input vector drawn by the strategies.
pub const MAX_LEN: usize = 6;

/// Number of reduction weights drawn; every graph below has at most this many outputs.
pub const MAX_OUT: usize = 32;

/// Euler–Mascheroni constant γ = −ψ(1).
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// A differentiable computation on a fresh tape: inputs in, one output value out.
pub type Graph<'a> = dyn for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t> + 'a;

/// A unary op on tape values.
pub type UnaryOp = for<'t> fn(Var<'t>) -> Var<'t>;

/// A binary op on tape values.
pub type BinaryOp = for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>;

/// One input of a gradient check: its values and the shape the tape reads them with.
#[derive(Clone, Debug)]
pub struct Input {
    pub vals: Vec<f64>,
    pub shape: Shape,
}

impl Input {
    pub fn vector(vals: Vec<f64>) -> Input {
        let shape = Shape::vector(vals.len());
        Input { vals, shape }
    }

    pub fn scalar(x: f64) -> Input {
        Input {
            vals: vec![x],
            shape: Shape::SCALAR,
        }
    }

    pub fn shaped(vals: Vec<f64>, dims: &[usize]) -> Input {
        let shape = Shape::new(dims).expect("at most MAX_DIMS dimensions");
        assert_eq!(
            shape.len(),
            vals.len(),
            "test input has the wrong number of values"
        );
        Input { vals, shape }
    }
}

/// The inputs as differentiable leaves of `tape`.
pub fn vars_on<'t>(tape: &'t Tape, inputs: &[Input]) -> Vec<Var<'t>> {
    inputs.iter().map(|i| tape.var(&i.vals, i.shape)).collect()
}

/// The output values of `f` at `inputs`, on a fresh tape that must record no error.
pub fn forward(inputs: &[Input], f: &Graph<'_>) -> Result<Vec<f64>, TestCaseError> {
    let tape = Tape::new();
    let vars = vars_on(&tape, inputs);
    let y = f(&tape, &vars).value();
    prop_assert_eq!(tape.error(), None);
    Ok(y)
}

/// Checks the reverse-mode gradient of `x ↦ w · f(x)` against central differences in
/// every element of every input.
///
/// The tape reduces with `dot` against constant weights; the finite difference weights
/// the *difference* of the outputs, Σ wᵢ(yᵢ(x+h) − yᵢ(x−h)) / 2h, which is the same
/// directional derivative but keeps outputs that do not depend on the perturbed input
/// out of the rounding error (their differences are exactly zero).
pub fn check_grad(
    what: &str,
    inputs: &[Input],
    weights: &[f64],
    f: &Graph<'_>,
) -> Result<(), TestCaseError> {
    let tape = Tape::new();
    let vars = vars_on(&tape, inputs);
    let y = f(&tape, &vars);
    let n = y.len();
    prop_assert!(
        n <= weights.len(),
        "{}: {} outputs but only {} weights",
        what,
        n,
        weights.len()
    );
    let w = &weights[..n];
    prop_assert!(
        y.value().iter().all(|v| v.is_finite()),
        "{}: non-finite output {:?}",
        what,
        y.value()
    );
    let loss = y.dot(tape.constant_vector(w));
    prop_assert_eq!(tape.error(), None);
    tape.backward(loss)
        .map_err(|e| TestCaseError::fail(format!("{what}: backward failed: {e}")))?;
    let grads: Vec<Vec<f64>> = vars.iter().map(|v| v.grad()).collect();

    for (i, input) in inputs.iter().enumerate() {
        for (j, &x) in input.vals.iter().enumerate() {
            let h = FD_STEP * x.abs().max(1.0);
            let (mut plus, mut minus) = (inputs.to_vec(), inputs.to_vec());
            plus[i].vals[j] = x + h;
            minus[i].vals[j] = x - h;
            let (yp, ym) = (forward(&plus, f)?, forward(&minus, f)?);
            // Divide by the step actually taken, (x + h) − (x − h), not 2h.
            let step = plus[i].vals[j] - minus[i].vals[j];
            let fd = w
                .iter()
                .zip(yp.iter().zip(&ym))
                .map(|(w, (p, m))| w * (p - m))
                .sum::<f64>()
                / step;
            let g = grads[i][j];
            prop_assert!(
                (g - fd).abs() <= FD_TOL * (1.0 + g.abs()),
                "{}: ∂/∂input{}[{}] at x = {}: tape {} vs finite difference {} (diff {:e})\ninputs {:?}",
                what,
                i,
                j,
                x,
                g,
                fd,
                (g - fd).abs(),
                inputs
            );
        }
    }
    Ok(())
}

/// Vectors of 1..=MAX_LEN values drawn from `range`.
pub fn vals(range: Range<f64>) -> impl Strategy<Value = Vec<f64>> {
    vec(range, 1..=MAX_LEN)
}

/// A value with magnitude in `range` and a random sign (keeps away from zero).
pub fn signed(range: Range<f64>) -> impl Strategy<Value = f64> + Clone {
    (range, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

/// Reduction weights: magnitudes in [0.5, 2) so no output element is (nearly) ignored.
pub fn weights() -> impl Strategy<Value = Vec<f64>> {
    vec(signed(0.5..2.0), MAX_OUT)
}

/// Two vectors of the same random length, elements from `a` and `b`.
pub fn pair<A, B>(a: A, b: B) -> impl Strategy<Value = (Vec<f64>, Vec<f64>)>
where
    A: Strategy<Value = f64> + Clone,
    B: Strategy<Value = f64> + Clone,
{
    (1..=MAX_LEN).prop_flat_map(move |n| (vec(a.clone(), n), vec(b.clone(), n)))
}

/// A vector and indices into it (1..=10 of them, so repeats are common).
pub fn vector_and_indices() -> impl Strategy<Value = (Vec<f64>, Vec<usize>)> {
    (1..=4usize).prop_flat_map(|m| (vec(-5.0..5.0, m), vec(0..m, 1..=10)))
}

/// The four arithmetic operators between two tape values, for table-driven tests.
pub fn arithmetic() -> [(&'static str, &'static Graph<'static>); 4] {
    [
        ("a + b", &|_, v| v[0] + v[1]),
        ("a − b", &|_, v| v[0] - v[1]),
        ("a · b", &|_, v| v[0] * v[1]),
        ("a / b", &|_, v| v[0] / v[1]),
    ]
}

/// y = s · A x for a constant `rows × cols` matrix A (row-major), a vector x and a scalar
/// s, computed outside the tape. Its Jacobians are known in closed form:
/// ∂y/∂x = s·A and ∂y/∂s = A x, so the VJPs are s·Aᵀg and gᵀ(A x).
pub struct ScaledAffine {
    pub a: Vec<f64>,
    pub cols: usize,
    pub x: Vec<f64>,
    pub s: f64,
}

impl ScaledAffine {
    /// A x.
    pub fn ax(&self) -> Vec<f64> {
        self.a
            .chunks(self.cols)
            .map(|row| row.iter().zip(&self.x).map(|(a, x)| a * x).sum())
            .collect()
    }

    /// s · A x, the forward value.
    pub fn value(&self) -> Vec<f64> {
        self.ax().iter().map(|v| self.s * v).collect()
    }
}

impl Vjp for ScaledAffine {
    fn vjp(&self, g: &[f64], input: usize, adj: &mut [f64]) {
        if input == 0 {
            for (j, a) in adj.iter_mut().enumerate() {
                *a += self.s
                    * g.iter()
                        .enumerate()
                        .map(|(i, gi)| self.a[i * self.cols + j] * gi)
                        .sum::<f64>();
            }
        } else {
            adj[0] += g.iter().zip(self.ax()).map(|(gi, v)| gi * v).sum::<f64>();
        }
    }
}

/// The custom op y = s · A x with x and s on `tape`.
pub fn scaled_affine<'t>(tape: &'t Tape, a: &[f64], x: Var<'t>, s: Var<'t>) -> Var<'t> {
    let cols = x.len();
    let op = ScaledAffine {
        a: a.to_vec(),
        cols,
        x: x.value(),
        s: s.scalar(),
    };
    let value = op.value();
    let rows = value.len();
    tape.custom(&[x, s], value, Shape::vector(rows), Box::new(op))
}

/// ln N(x | μ, σ) as a fused elementwise node with analytic partials.
pub fn normal_lpdf_fused<'t>(tape: &'t Tape, x: Var<'t>, mu: Var<'t>, sigma: Var<'t>) -> Var<'t> {
    tape.elementwise([x.into(), mu.into(), sigma.into()], |&[x, mu, sigma], d| {
        let z = (x - mu) / sigma;
        *d = [-z / sigma, z / sigma, (z * z - 1.0) / sigma];
        -0.5 * z * z - sigma.ln() - special::LN_SQRT_2PI
    })
}

/// ln N(x | μ, σ) built from primitive ops.
pub fn normal_lpdf_ops<'t>(x: Var<'t>, mu: Var<'t>, sigma: Var<'t>) -> Var<'t> {
    ((x - mu) / sigma).square() * -0.5 - sigma.ln() - special::LN_SQRT_2PI
}
