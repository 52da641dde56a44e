//! The reverse-mode tape against central finite differences, op by op.
//!
//! Every differentiable op gets a property test: a fresh tape computes `y = f(x)`, the
//! output is reduced to a scalar `w · y` with random weights (so every output element
//! matters), and the reverse-mode gradient is compared with a central difference of the
//! same forward computation. Deterministic tests cover error recording, tape reuse and
//! the values of the special functions behind the ops.

use ppl::{Operand, Shape, Tape};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[path = "common/ad_support.rs"]
mod support;

use support::*;

proptest! {
    // ---- Arithmetic between tape values -------------------------------------------

    #[test]
    fn arithmetic_same_shape((a, b) in pair(-10.0..10.0, signed(0.5..5.0)), w in weights()) {
        for (what, f) in arithmetic() {
            check_grad(what, &[Input::vector(a.clone()), Input::vector(b.clone())], &w, f)?;
        }
    }

    #[test]
    fn arithmetic_vector_with_scalar_var(
        a in vals(-10.0..10.0),
        b in vec(signed(0.5..5.0), 1..=MAX_LEN),
        s in signed(0.5..5.0),
        w in weights(),
    ) {
        // The scalar broadcasts over the vector; its adjoint is a sum over all elements.
        for (what, f) in arithmetic() {
            check_grad(what, &[Input::vector(a.clone()), Input::scalar(s)], &w, f)?;
        }
        // And with the scalar on the left (the vector is then the divisor, away from 0).
        for (what, f) in arithmetic() {
            check_grad(what, &[Input::scalar(s), Input::vector(b.clone())], &w, f)?;
        }
    }

    #[test]
    fn arithmetic_column_with_row(a in vec(-10.0..10.0, 3), b in vec(signed(0.5..5.0), 4), w in weights()) {
        // [3, 1] ⊕ [4] → [3, 4]: each side is broadcast along a different axis.
        for (what, f) in arithmetic() {
            let g: &Graph<'_> = &|t, v| f(t, &[v[0].reshape(Shape::matrix(3, 1)), v[1]]);
            check_grad(what, &[Input::vector(a.clone()), Input::vector(b.clone())], &w, g)?;
        }
    }

    #[test]
    fn arithmetic_rank3_with_matrix(a in vec(-10.0..10.0, 6), b in vec(signed(0.5..5.0), 4), w in weights()) {
        // [2, 1, 3] ⊕ [4, 1] → [2, 4, 3]: strided broadcasting on both sides, both ranks.
        for (what, f) in arithmetic() {
            let inputs = [Input::shaped(a.clone(), &[2, 1, 3]), Input::shaped(b.clone(), &[4, 1])];
            check_grad(what, &inputs, &w, f)?;
        }
    }

    #[test]
    fn arithmetic_with_constants(a in vals(-10.0..10.0), c in signed(0.5..5.0), w in weights()) {
        let x = [Input::vector(a)];
        check_grad("x + c", &x, &w, &|_, v| v[0] + c)?;
        check_grad("x − c", &x, &w, &|_, v| v[0] - c)?;
        check_grad("x · c", &x, &w, &|_, v| v[0] * c)?;
        check_grad("x / c", &x, &w, &|_, v| v[0] / c)?;
        check_grad("c + x", &x, &w, &|_, v| c + v[0])?;
        check_grad("c − x", &x, &w, &|_, v| c - v[0])?;
        check_grad("c · x", &x, &w, &|_, v| c * v[0])?;
        check_grad("−x", &x, &w, &|_, v| -v[0])?;
    }

    #[test]
    fn constant_over_var(a in vec(signed(0.5..5.0), 1..=MAX_LEN), c in -10.0..10.0f64, w in weights()) {
        check_grad("c / x", &[Input::vector(a)], &w, &|_, v| c / v[0])?;
    }

    #[test]
    fn constant_tape_operand(a in vals(-10.0..10.0), c in signed(0.5..5.0), w in weights()) {
        // A constant node on the tape as the other operand gets no adjoint but must
        // still be read correctly (here while it broadcasts).
        check_grad("x · const", &[Input::vector(a.clone())], &w, &|t, v| v[0] * t.constant_scalar(c))?;
        let g: &Graph<'_> = &|t, v| t.constant_scalar(c) / (v[0].square() + 1.0);
        check_grad("const / (x² + 1)", &[Input::vector(a)], &w, g)?;
    }

    // ---- Powers ---------------------------------------------------------------------

    #[test]
    fn powi(a in vec(signed(0.3..3.0), 1..=MAX_LEN), n in -3..=4i32, w in weights()) {
        check_grad("powi", &[Input::vector(a)], &w, &|_, v| v[0].powi(n))?;
    }

    #[test]
    fn powf(a in vals(0.1..5.0), p in -2.0..3.0f64, w in weights()) {
        check_grad("powf", &[Input::vector(a)], &w, &|_, v| v[0].powf(p))?;
    }

    #[test]
    fn pow_var_exponent((a, b) in pair(0.1..5.0, -2.0..2.0), w in weights()) {
        check_grad("pow", &[Input::vector(a), Input::vector(b)], &w, &|_, v| v[0].pow(v[1]))?;
    }

    #[test]
    fn pow_broadcast_scalar_exponent(a in vals(0.1..5.0), p in -2.0..2.0f64, w in weights()) {
        let pow: &Graph<'_> = &|_, v| v[0].pow(v[1]);
        check_grad("pow [n] ^ []", &[Input::vector(a.clone()), Input::scalar(p)], &w, pow)?;
        check_grad("pow [] ^ [n]", &[Input::scalar(p.abs() + 0.1), Input::vector(a)], &w, pow)?;
    }

    // ---- Unary functions --------------------------------------------------------------

    #[test]
    fn exp(a in vals(-5.0..4.0), w in weights()) {
        check_grad("exp", &[Input::vector(a)], &w, &|_, v| v[0].exp())?;
    }

    #[test]
    fn ln(a in vals(0.1..10.0), w in weights()) {
        check_grad("ln", &[Input::vector(a)], &w, &|_, v| v[0].ln())?;
    }

    #[test]
    fn ln_1p(a in vals(-0.9..10.0), w in weights()) {
        check_grad("ln_1p", &[Input::vector(a)], &w, &|_, v| v[0].ln_1p())?;
    }

    #[test]
    fn exp_m1(a in vals(-5.0..4.0), w in weights()) {
        check_grad("exp_m1", &[Input::vector(a)], &w, &|_, v| v[0].exp_m1())?;
    }

    #[test]
    fn sqrt(a in vals(0.1..10.0), w in weights()) {
        check_grad("sqrt", &[Input::vector(a)], &w, &|_, v| v[0].sqrt())?;
    }

    #[test]
    fn square(a in vals(-10.0..10.0), w in weights()) {
        check_grad("square", &[Input::vector(a)], &w, &|_, v| v[0].square())?;
    }

    #[test]
    fn sin_cos(a in vals(-10.0..10.0), w in weights()) {
        check_grad("sin", &[Input::vector(a.clone())], &w, &|_, v| v[0].sin())?;
        check_grad("cos", &[Input::vector(a)], &w, &|_, v| v[0].cos())?;
    }

    #[test]
    fn tanh(a in vals(-5.0..5.0), w in weights()) {
        check_grad("tanh", &[Input::vector(a)], &w, &|_, v| v[0].tanh())?;
    }

    #[test]
    fn sigmoid(a in vals(-10.0..10.0), w in weights()) {
        check_grad("sigmoid", &[Input::vector(a)], &w, &|_, v| v[0].sigmoid())?;
    }

    #[test]
    fn softplus(a in vals(-20.0..20.0), w in weights()) {
        check_grad("softplus", &[Input::vector(a)], &w, &|_, v| v[0].softplus())?;
    }

    #[test]
    fn ln_gamma(a in vals(0.1..30.0), w in weights()) {
        // The tape's gradient is ψ(x) (special::digamma): this is digamma against FD of lgamma.
        check_grad("ln_gamma", &[Input::vector(a)], &w, &|_, v| v[0].ln_gamma())?;
    }

    #[test]
    fn ln_beta((a, b) in pair(0.1..30.0, 0.1..30.0), s in 0.1..30.0f64, w in weights()) {
        check_grad("ln_beta", &[Input::vector(a.clone()), Input::vector(b)], &w, &|_, v| v[0].ln_beta(v[1]))?;
        check_grad("ln_beta [n], []", &[Input::vector(a), Input::scalar(s)], &w, &|_, v| v[0].ln_beta(v[1]))?;
    }

    #[test]
    fn log_ndtr(a in vals(-30.0..8.0), w in weights()) {
        // Spans all three branches of special::log_ndtr (asymptotic < −20, erfc, log1p > 6).
        check_grad("log_ndtr", &[Input::vector(a)], &w, &|_, v| v[0].log_ndtr())?;
    }

    // ---- Reductions ---------------------------------------------------------------------

    #[test]
    fn sum(a in vals(-10.0..10.0), w in weights()) {
        check_grad("sum", &[Input::vector(a)], &w, &|_, v| v[0].sum())?;
    }

    #[test]
    fn dot((a, b) in pair(-10.0..10.0, -10.0..10.0), w in weights()) {
        check_grad("dot", &[Input::vector(a), Input::vector(b)], &w, &|_, v| v[0].dot(v[1]))?;
    }

    #[test]
    fn dot_different_shapes_same_length(a in vec(-10.0..10.0, 6), b in vec(-10.0..10.0, 6), w in weights()) {
        let inputs = [Input::shaped(a, &[2, 3]), Input::vector(b)];
        check_grad("dot [2,3]·[6]", &inputs, &w, &|_, v| v[0].dot(v[1]))?;
    }

    #[test]
    fn log_sum_exp(a in vals(-30.0..30.0), w in weights()) {
        check_grad("log_sum_exp", &[Input::vector(a)], &w, &|_, v| v[0].log_sum_exp())?;
    }

    // ---- Indexing and shapes --------------------------------------------------------------

    #[test]
    fn gather_vector_with_repeats((a, idx) in vector_and_indices(), w in weights()) {
        // Repeated indices must accumulate their adjoints into the same source element.
        check_grad("gather", &[Input::vector(a)], &w, &|_, v| v[0].gather(&idx))?;
    }

    #[test]
    fn gather_matrix_rows(
        (rows, a, idx) in (1..=4usize).prop_flat_map(|m| (Just(m), vec(-5.0..5.0, 3 * m), vec(0..m, 1..=10))),
        w in weights(),
    ) {
        check_grad("gather rows", &[Input::shaped(a, &[rows, 3])], &w, &|_, v| v[0].gather(&idx).exp())?;
    }

    #[test]
    fn gather_scalar(x in -5.0..5.0f64, n in 1..=5usize, w in weights()) {
        // A scalar has one row; gathering it n times is a broadcast.
        let idx = vec![0; n];
        check_grad("gather scalar", &[Input::scalar(x)], &w, &|_, v| v[0].gather(&idx).sin())?;
    }

    #[test]
    fn slice_vector(
        (a, start, len) in (1..=MAX_LEN).prop_flat_map(|n| (vec(-5.0..5.0, n), 0..n))
            .prop_flat_map(|(a, s)| { let n = a.len(); (Just(a), Just(s), 0..=n - s) }),
        w in weights(),
    ) {
        check_grad("slice", &[Input::vector(a)], &w, &|_, v| v[0].slice(start, len).tanh())?;
    }

    #[test]
    fn slice_matrix_rows(a in vec(-5.0..5.0, 12), start in 0..4usize, w in weights()) {
        let len = 4 - start;
        check_grad("slice rows", &[Input::shaped(a, &[4, 3])], &w, &|_, v| v[0].slice(start, len).square())?;
    }

    #[test]
    fn concat_several(a in -5.0..5.0f64, b in vals(-5.0..5.0), c in vals(-5.0..5.0), w in weights()) {
        // Scalar, vector, a constant and another vector; the same var appears twice.
        let k = [0.5, -1.5];
        check_grad(
            "concat",
            &[Input::scalar(a), Input::vector(b), Input::vector(c)],
            &w,
            &|t, v| t.concat(&[v[0], v[1], t.constant_vector(&k), v[2].exp(), v[1]]).sin(),
        )?;
    }

    #[test]
    fn concat_matrices(a in vec(-5.0..5.0, 6), b in vec(-5.0..5.0, 3), w in weights()) {
        let g: &Graph<'_> = &|t, v| t.concat(&[v[0], v[1].reshape(Shape::matrix(1, 3))]) * v[1];
        check_grad("concat [2,3] ++ [1,3]", &[Input::shaped(a, &[2, 3]), Input::vector(b)], &w, g)?;
    }

    #[test]
    fn stack_columns(a in vec(-5.0..5.0, 3), s in -5.0..5.0f64, c in vec(-5.0..5.0, 3), w in weights()) {
        // A vector column, a broadcast scalar and another vector: a [n, 3] table, then
        // rows gathered from it (how θ rows of a hierarchical model are built).
        check_grad(
            "stack",
            &[Input::vector(a), Input::scalar(s), Input::vector(c)],
            &w,
            &|t, v| t.stack(&[v[0], v[1], v[2].exp()]).gather(&[1, 0, 1]).sin(),
        )?;
    }

    #[test]
    fn broadcast_to(a in vec(-5.0..5.0, 3), s in -5.0..5.0f64, w in weights()) {
        let x = [Input::vector(a)];
        check_grad("[3] → [2,3]", &x, &w, &|_, v| v[0].broadcast_to(Shape::matrix(2, 3)).sin())?;
        check_grad("[3] → [2,2,3]", &x, &w, &|_, v| {
            v[0].broadcast_to(Shape::new(&[2, 2, 3]).expect("3 dims")).cos()
        })?;
        check_grad("[3,1] → [3,4]", &x, &w, &|_, v| {
            v[0].reshape(Shape::matrix(3, 1)).broadcast_to(Shape::matrix(3, 4)).tanh()
        })?;
        check_grad("[] → [4]", &[Input::scalar(s)], &w, &|_, v| v[0].broadcast_to(Shape::vector(4)).sin())?;
    }

    #[test]
    fn reshape(a in vec(-5.0..5.0, 6), b in vec(-5.0..5.0, 3), w in weights()) {
        let g: &Graph<'_> =
            &|_, v| (v[0].reshape(Shape::matrix(2, 3)) * v[1]).reshape(Shape::vector(6)).sin();
        check_grad("reshape", &[Input::vector(a), Input::vector(b)], &w, g)?;
    }

    // ---- Extension points ---------------------------------------------------------------

    #[test]
    fn custom_op_with_known_jacobian(
        (x, a) in (1..=4usize).prop_flat_map(|n| (vec(-2.0..2.0, n), vec(-2.0..2.0, 3 * n))),
        s in -2.0..2.0f64,
        w in weights(),
    ) {
        // Inputs and output pass through other ops so the custom node sits mid-chain.
        let g: &Graph<'_> = &|t, v| scaled_affine(t, &a, v[0].sin(), v[1] * 1.5).tanh();
        check_grad("custom", &[Input::vector(x), Input::scalar(s)], &w, g)?;
    }

    #[test]
    fn elementwise_fused_normal(
        (x, sigma) in pair(-5.0..5.0, 0.3..3.0),
        mu in -3.0..3.0f64,
        w in weights(),
    ) {
        let inputs = [Input::vector(x), Input::scalar(mu), Input::vector(sigma)];
        check_grad("elementwise normal", &inputs, &w, &|t, v| normal_lpdf_fused(t, v[0], v[1], v[2]))?;
        // The fused node and the same formula from primitive ops agree in value and gradient.
        let (fused, ops) = (Tape::new(), Tape::new());
        let (fv, ov) = (vars_on(&fused, &inputs), vars_on(&ops, &inputs));
        let yf = normal_lpdf_fused(&fused, fv[0], fv[1], fv[2]).sum();
        let yo = normal_lpdf_ops(ov[0], ov[1], ov[2]).sum();
        prop_assert!((yf.scalar() - yo.scalar()).abs() <= ROUNDING_TOL * (1.0 + yo.scalar().abs()));
        fused.backward(yf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        ops.backward(yo).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (a, b) in fv.iter().zip(&ov) {
            for (ga, gb) in a.grad().iter().zip(b.grad()) {
                let close = (ga - gb).abs() <= ROUNDING_TOL * (1.0 + gb.abs());
                prop_assert!(close, "fused {} vs ops {}", ga, gb);
            }
        }
    }

    #[test]
    fn elementwise_broadcast_with_constants(a in vec(-3.0..3.0, 3), b in vec(-3.0..3.0, 4), w in weights()) {
        // [3,1] ⊕ [4] through Tape::elementwise, plus a constant scalar and constant data
        // that take part in the broadcast but get no partials stored.
        let data = [0.5, -1.0, 2.0, 0.25];
        let g: &Graph<'_> = &|t, v| {
            let col = v[0].reshape(Shape::matrix(3, 1));
            let inputs = [col.into(), v[1].into(), Operand::Scalar(0.7), Operand::from(&data[..])];
            t.elementwise(inputs, |&[a, b, c, k], d| {
                *d = [b.cos() + k, -a * b.sin() + c, 0.0, 0.0];
                a * b.cos() + c * b + k * a
            })
        };
        check_grad("elementwise [3,1] ⊕ [4]", &[Input::vector(a), Input::vector(b)], &w, g)?;
    }

    // ---- Composition and reuse ----------------------------------------------------------

    #[test]
    fn chain_of_elementwise_ops((x, y) in pair(-2.0..2.0, -2.0..2.0), w in weights()) {
        let g: &Graph<'_> = &|_, v| {
            let (x, y) = (v[0], v[1]);
            ((x * y).sin() + x.exp_m1() / (y.square() + 1.0)).tanh() * x.softplus()
                - (x - y).sigmoid().ln()
                + (x.cos() * 0.5 + 2.0).sqrt().powf(1.5)
                + (y.square() + 0.5).ln_gamma().log_ndtr()
        };
        check_grad("chain", &[Input::vector(x), Input::vector(y)], &w, g)?;
    }

    #[test]
    fn chain_through_shapes_and_reductions(x in vec(-1.5..1.5, 6), s in 0.5..2.0f64, w in weights()) {
        // exp(x·x) feeds log_sum_exp, whose third derivative grows like |∂z/∂x|³: |x| < 1.5
        // keeps the FD truncation error small (at |x| ≈ 3 it reaches 1e-4).
        let g: &Graph<'_> = &|t, v| {
            let (x, s) = (v[0], v[1]);
            let m = x.reshape(Shape::matrix(2, 3));
            let col = x.slice(0, 2).reshape(Shape::matrix(2, 1));
            let z = (m * col - s).exp();
            let parts = [
                z.reshape(Shape::vector(6)).log_sum_exp(),
                (m / s).sum(),
                x.gather(&[5, 0, 5]).dot(x.slice(3, 3)),
                z.gather(&[1, 1]).sum().ln_1p(),
            ];
            t.concat(&parts) * s.powi(2)
        };
        check_grad("shape chain", &[Input::vector(x), Input::scalar(s)], &w, g)?;
    }

    #[test]
    fn same_var_used_twice(a in vals(0.2..3.0), w in weights()) {
        // Both operand slots point at one node: their adjoints must add up.
        let x = [Input::vector(a)];
        check_grad("x · x", &x, &w, &|_, v| v[0] * v[0])?;
        check_grad("x + x", &x, &w, &|_, v| v[0] + v[0])?;
        check_grad("x − x", &x, &w, &|_, v| v[0] - v[0])?;
        check_grad("x / x", &x, &w, &|_, v| v[0] / v[0])?;
        check_grad("x ^ x", &x, &w, &|_, v| v[0].pow(v[0]))?;
        check_grad("dot(x, x)", &x, &w, &|_, v| v[0].dot(v[0]))?;
        check_grad("ln_beta(x, x)", &x, &w, &|_, v| v[0].ln_beta(v[0]))?;
        check_grad("x · sum(x)", &x, &w, &|_, v| v[0] * v[0].sum())?;
        check_grad("elementwise(x, x)", &x, &w, &|t, v| {
            t.elementwise([v[0].into(), v[0].into()], |&[a, b], d| {
                *d = [b.cos(), -a * b.sin()];
                a * b.cos()
            })
        })?;
        // The custom op's two inputs are x itself and a function of x.
        let a: Vec<f64> = (0..3 * x[0].vals.len()).map(|k| (0.37 * k as f64).sin()).collect();
        check_grad("custom(x, sum x)", &x, &w, &|t, v| scaled_affine(t, &a, v[0], v[0].sum()))?;
    }
}
