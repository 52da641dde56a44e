//! Discrete distributions (Bernoulli, Binomial, NegativeBinomial, Categorical): log masses
//! against statrs, gradients against finite differences, moments against closed forms,
//! constructor errors, and no panic or NaN for any f64.

mod common;

use common::*;
use ppl::{
    Bernoulli, Binomial, Categorical, Constraint, Distribution, NegativeBinomial, Operand, Param,
    PplError, Shape, Tape, Var,
};
use proptest::prelude::*;
use statrs::distribution::Discrete;

/// Relative tolerance for identities between two exact computations in f64 (a closed
/// form evaluated two ways, an analytic gradient against its formula).
const IDENTITY_RTOL: f64 = 1e-12;

/// Values that are not in any discrete support.
const NOT_COUNTS: [f64; 5] = [-1.0, 0.5, 2.25, f64::NAN, f64::INFINITY];

fn logit(p: f64) -> f64 {
    p.ln() - (-p).ln_1p()
}

#[test]
fn bernoulli_matches_statrs_for_probs_and_logits() {
    let tape = Tape::new();
    for &p in &[0.0, 1e-12, 0.3, 0.9, 1.0] {
        let s = statrs::distribution::Bernoulli::new(p).unwrap();
        let d = Bernoulli::new(p).unwrap();
        for k in [0u64, 1] {
            assert_logpdf(lp(&d, &tape, k as f64), s.ln_pmf(k), "Bernoulli(probs)");
            if p > 0.0 && p < 1.0 {
                let dl = Bernoulli::from_logits(logit(p)).unwrap();
                assert_logpdf(lp(&dl, &tape, k as f64), s.ln_pmf(k), "Bernoulli(logits)");
            }
        }
        for bad in NOT_COUNTS.iter().chain(&[2.0]) {
            assert_eq!(lp(&d, &tape, *bad), f64::NEG_INFINITY);
        }
    }
    // Logits far out stay exact where 1 − σ(l) would round to 0.
    let d = Bernoulli::from_logits(-800.0).unwrap();
    assert_eq!(lp(&d, &tape, 1.0), -800.0);
    assert_eq!(lp(&d, &tape, 0.0), 0.0);
    assert_eq!(d.support(), Constraint::Boolean);
}

#[test]
fn bernoulli_batches_and_broadcasts() {
    let tape = Tape::new();
    let d = Bernoulli::new(vec![0.2, 0.5, 0.7]).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(3));
    let x = [1.0, 0.0, 1.0];
    let out = d.log_prob(&tape, Operand::from(&x[..])).value();
    let want = [0.2f64.ln(), 0.5f64.ln(), 0.7f64.ln()];
    for (a, b) in out.iter().zip(&want) {
        assert_logpdf(*a, *b, "batched Bernoulli");
    }
    assert_eq!(d.mean().unwrap(), vec![0.2, 0.5, 0.7]);
}

#[test]
fn binomial_matches_statrs_including_p_at_the_boundary() {
    let tape = Tape::new();
    for n in [0u64, 1, 10, 250] {
        for &p in &[0.0, 0.013, 0.5, 0.97, 1.0] {
            let s = statrs::distribution::Binomial::new(p, n).unwrap();
            let d = Binomial::new(n as f64, p).unwrap();
            for k in (0..=n)
                .step_by(((n / 12) as usize).max(1))
                .chain([n, n + 1, n + 7])
            {
                assert_logpdf(
                    lp(&d, &tape, k as f64),
                    s.ln_pmf(k),
                    &format!("Binomial({n}, {p}) at {k}"),
                );
            }
            for bad in NOT_COUNTS {
                assert_eq!(lp(&d, &tape, bad), f64::NEG_INFINITY);
            }
            assert_eq!(d.support(), Constraint::IntegerInterval(0, n as i64));
        }
    }
}

#[test]
fn binomial_batches_and_its_count_gets_no_gradient() {
    let tape = Tape::new();
    let n = tape.vector(&[3.0, 8.0]);
    let p = tape.scalar(0.4);
    let d = Binomial::new(n, p).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(2));
    // A batch of counts: the support is the interval up to the largest one.
    assert_eq!(d.support(), Constraint::IntegerInterval(0, 8));
    let x = [2.0, 5.0];
    let lp = d.log_prob(&tape, Operand::from(&x[..]));
    let vals = lp.value();
    for (i, (&n, &k)) in [3u64, 8].iter().zip(&[2u64, 5]).enumerate() {
        let s = statrs::distribution::Binomial::new(0.4, n).unwrap();
        assert_logpdf(vals[i], s.ln_pmf(k), "batched Binomial");
    }
    // k = 5 > n = 3 in the first component.
    assert_eq!(
        d.log_prob(&tape, Operand::Scalar(5.0)).value()[0],
        f64::NEG_INFINITY
    );
    tape.backward(lp.sum()).unwrap();
    assert_eq!(n.grad(), vec![0.0, 0.0]);
    // ∂/∂p Σ [k ln p + (n − k) ln(1 − p)] = Σ k/p − (n − k)/(1 − p).
    assert_close(p.grad()[0], 7.0 / 0.4 - 4.0 / 0.6, FD_TOL, "Binomial ∂/∂p");
}

#[test]
fn negative_binomial_matches_statrs_with_complementary_probability() {
    let tape = Tape::new();
    for &(r, p) in &[(1.0, 0.5), (2.5, 0.1), (0.3, 0.8), (40.0, 0.97)] {
        // statrs counts failures before r successes with success probability q = 1 − p.
        let s = statrs::distribution::NegativeBinomial::new(r, 1.0 - p).unwrap();
        let d = NegativeBinomial::new(r, p).unwrap();
        // The same law by mean r p / (1 − p) and concentration r.
        let d2 = NegativeBinomial::from_mean_dispersion(r * p / (1.0 - p), r).unwrap();
        for k in [0u64, 1, 2, 7, 30, 500] {
            assert_logpdf(
                lp(&d, &tape, k as f64),
                s.ln_pmf(k),
                &format!("NegativeBinomial({r}, {p}) at {k}"),
            );
            assert_logpdf(lp(&d2, &tape, k as f64), s.ln_pmf(k), "NegativeBinomial2");
        }
        for bad in NOT_COUNTS {
            assert_eq!(lp(&d, &tape, bad), f64::NEG_INFINITY);
            assert_eq!(lp(&d2, &tape, bad), f64::NEG_INFINITY);
        }
    }
    // PyTorch's convention by hand: r = 2, p = 0.25: P(1) = Γ(3)/(Γ(2)·1!)·0.75²·0.25.
    let d = NegativeBinomial::new(2.0, 0.25).unwrap();
    assert_logpdf(
        lp(&d, &tape, 1.0),
        (2.0 * 0.75f64.powi(2) * 0.25).ln(),
        "NegativeBinomial by hand",
    );
    assert_close(
        d.mean().unwrap()[0],
        2.0 / 3.0,
        IDENTITY_RTOL,
        "NegativeBinomial mean r p/(1 − p)",
    );
    let d2 = NegativeBinomial::from_mean_dispersion(6.0, 1.5).unwrap();
    assert_close(
        d2.variance().unwrap()[0],
        6.0 + 36.0 / 1.5,
        IDENTITY_RTOL,
        "NegativeBinomial2 variance μ + μ²/φ",
    );
    assert_eq!(d2.support(), Constraint::NonNegativeInteger);
}

#[test]
fn negative_binomial_gradients_at_extreme_parameters_are_not_nan() {
    // A subnormal mean (p rounds to 0) and a sum μ + φ that overflows.
    for (mu, phi, k) in [(5e-324, 1.0, 1.0), (5e-324, 1.0, 0.0), (1e308, 1e308, 3.0)] {
        let tape = Tape::new();
        let (m, f) = (tape.scalar(mu), tape.scalar(phi));
        let d = NegativeBinomial::from_mean_dispersion(m, f).unwrap();
        tape.backward(d.log_prob(&tape, Operand::Scalar(k)).sum())
            .unwrap();
        assert!(
            !m.grad()[0].is_nan() && !f.grad()[0].is_nan(),
            "μ = {mu}, φ = {phi}, k = {k}"
        );
    }
}

#[test]
fn categorical_matches_statrs_for_probs_and_logits() {
    let tape = Tape::new();
    let probs = [0.1, 0.0, 0.25, 0.65];
    let s = statrs::distribution::Categorical::new(&probs).unwrap();
    let d = Categorical::new(probs.to_vec()).unwrap();
    let logits: Vec<f64> = probs.iter().map(|p| p.ln() + 3.0).collect(); // −∞ for the empty category
    let dl = Categorical::from_logits(vec![logits[0], -1e300, logits[2], logits[3]]).unwrap();
    for k in 0..4u64 {
        assert_logpdf(lp(&d, &tape, k as f64), s.ln_pmf(k), "Categorical(probs)");
        if k != 1 {
            assert_logpdf(lp(&dl, &tape, k as f64), s.ln_pmf(k), "Categorical(logits)");
        }
    }
    for bad in NOT_COUNTS.iter().chain(&[4.0, 10.0]) {
        assert_eq!(lp(&d, &tape, *bad), f64::NEG_INFINITY);
        assert_eq!(lp(&dl, &tape, *bad), f64::NEG_INFINITY);
    }
    assert_eq!(d.support(), Constraint::IntegerInterval(0, 3));
    assert_eq!(d.batch_shape(), Shape::SCALAR);
    assert_eq!(d.num_categories(), 4);
}

#[test]
fn categorical_batches_over_leading_dimensions() {
    let tape = Tape::new();
    let rows = [[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]];
    let flat: Vec<f64> = rows.concat();
    let d = Categorical::new(Param::Data(flat.clone(), Shape::matrix(2, 3))).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(2));
    let x = [2.0, 1.0];
    let out = d.log_prob(&tape, Operand::from(&x[..])).value();
    assert_logpdf(out[0], 0.5f64.ln(), "row 0");
    assert_logpdf(out[1], 0.4f64.ln(), "row 1");
    // A scalar value broadcasts over the batch; k = 2 has no mass in row 1.
    let out = d.log_prob(&tape, Operand::Scalar(2.0)).value();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], f64::NEG_INFINITY);
    // A [N, 1] value against the [2] batch gives [N, 2].
    let xs = [0.0, 1.0, 2.0];
    let out = d.log_prob(&tape, Operand::Data(&xs, Shape::matrix(3, 1)));
    assert_eq!(out.shape(), Shape::matrix(3, 2));
    assert_logpdf(out.value()[5], f64::NEG_INFINITY, "row 1, k = 2");
    assert_logpdf(out.value()[2], 0.3f64.ln(), "row 0, k = 1");
    // Logits with the same batch agree.
    let logits: Vec<f64> = flat
        .iter()
        .map(|p| if *p > 0.0 { p.ln() - 0.7 } else { -1e300 })
        .collect();
    let dl = Categorical::from_logits(Param::Data(logits, Shape::matrix(2, 3))).unwrap();
    let out = dl.log_prob(&tape, Operand::from(&x[..])).value();
    assert_logpdf(out[0], 0.5f64.ln(), "logits row 0");
    assert_logpdf(out[1], 0.4f64.ln(), "logits row 1");
    // A value that does not broadcast is an error on the tape.
    assert!(tape.error().is_none());
    let bad = [0.0; 3];
    let _ = d.log_prob(&tape, Operand::from(&bad[..]));
    assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
}

#[test]
fn categorical_logit_gradient_is_onehot_minus_softmax() {
    let tape = Tape::new();
    let l = tape.vector(&[0.5, -1.0, 2.0]);
    let d = Categorical::from_logits(l).unwrap();
    // 7 is outside the support: −∞ with a zero partial, so it adds nothing to the gradient.
    let x = [2.0, 0.0, 2.0, 7.0];
    let lp = d.log_prob(&tape, Operand::from(&x[..]));
    assert_eq!(lp.value()[3], f64::NEG_INFINITY);
    tape.backward(lp.sum()).unwrap();
    let e: Vec<f64> = [0.5f64, -1.0, 2.0].iter().map(|v| v.exp()).collect();
    let z: f64 = e.iter().sum();
    let counts = [1.0, 0.0, 2.0];
    for j in 0..3 {
        assert_close(
            l.grad()[j],
            counts[j] - 3.0 * e[j] / z,
            IDENTITY_RTOL,
            "∂/∂logits",
        );
    }
}

#[test]
fn moments_match_closed_forms() {
    // 40,000 draws: mean and variance each within 5 standard errors.
    check_moments(&Bernoulli::new(0.3).unwrap(), 40_000, 11);
    check_moments(&Bernoulli::from_logits(-2.2).unwrap(), 40_000, 12);
    check_moments(&Binomial::new(20.0, 0.35).unwrap(), 40_000, 13);
    check_moments(&Binomial::new(1000.0, 0.002).unwrap(), 40_000, 14);
    check_moments(&Binomial::new(300.0, 0.6).unwrap(), 40_000, 15);
    check_moments(&NegativeBinomial::new(3.5, 0.4).unwrap(), 40_000, 16);
    check_moments(&NegativeBinomial::new(0.4, 0.9).unwrap(), 40_000, 17);
    check_moments(
        &NegativeBinomial::from_mean_dispersion(7.0, 1.5).unwrap(),
        40_000,
        18,
    );
    check_moments(
        &NegativeBinomial::from_mean_dispersion(0.2, 30.0).unwrap(),
        40_000,
        19,
    );
}

#[test]
fn degenerate_draws_are_exact() {
    let mut r = rng(20);
    assert_eq!(Binomial::new(5.0, 1.0).unwrap().sample(&mut r), vec![5.0]);
    assert_eq!(Binomial::new(5.0, 0.0).unwrap().sample(&mut r), vec![0.0]);
    assert_eq!(Bernoulli::new(1.0).unwrap().sample(&mut r), vec![1.0]);
    let d = Categorical::new(vec![0.0, 1.0, 0.0]).unwrap();
    assert!((0..100).all(|_| d.sample(&mut r) == vec![1.0]));
}

#[test]
fn categorical_frequencies_match_probabilities() {
    // Each category's frequency within 5 standard errors √(p(1 − p)/n) of its probability.
    const N: usize = 40_000;
    let probs = [0.05, 0.0, 0.3, 0.15, 0.5];
    let logits: Vec<f64> = probs
        .iter()
        .map(|&p: &f64| if p > 0.0 { p.ln() - 2.0 } else { -1e300 })
        .collect();
    let batched = Param::Data(
        [probs.to_vec(), vec![0.5, 0.0, 0.0, 0.5, 0.0]].concat(),
        Shape::matrix(2, 5),
    );
    let ds: Vec<(Categorical<'_>, usize)> = vec![
        (Categorical::new(probs.to_vec()).unwrap(), 0),
        (Categorical::from_logits(logits).unwrap(), 0),
        (Categorical::new(batched.clone()).unwrap(), 0),
        (Categorical::new(batched).unwrap(), 1),
    ];
    let second = [0.5, 0.0, 0.0, 0.5, 0.0];
    for (seed, (d, row)) in ds.iter().enumerate() {
        let want = if *row == 0 { &probs } else { &second };
        let mut r = rng(30 + seed as u64);
        let mut counts = [0usize; 5];
        for _ in 0..N {
            counts[d.sample(&mut r)[*row] as usize] += 1;
        }
        for (c, (&n, &p)) in counts.iter().zip(want).enumerate() {
            let f = n as f64 / N as f64;
            let se = (p * (1.0 - p) / N as f64).sqrt();
            assert!(
                (f - p).abs() <= MC_SIGMAS * se,
                "category {c}: frequency {f} vs {p} (se {se})"
            );
        }
    }
}

#[test]
fn constructors_name_the_bad_parameter() {
    let is = |r: Result<(), PplError>, d: &str, p: &str| match r {
        Err(PplError::InvalidParameter {
            distribution,
            parameter,
            ..
        }) => distribution == d && parameter == p,
        _ => false,
    };
    for bad in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
        assert!(is(Bernoulli::new(bad).map(drop), "Bernoulli", "probs"));
        assert!(is(Binomial::new(3.0, bad).map(drop), "Binomial", "probs"));
    }
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(is(
            Bernoulli::from_logits(bad).map(drop),
            "Bernoulli",
            "logits"
        ));
        assert!(is(
            Categorical::from_logits(vec![0.0, bad]).map(drop),
            "Categorical",
            "logits"
        ));
    }
    for bad in [-1.0, 2.5, f64::NAN, f64::INFINITY] {
        assert!(is(
            Binomial::new(bad, 0.5).map(drop),
            "Binomial",
            "total_count"
        ));
    }
    for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert!(is(
            NegativeBinomial::new(bad, 0.5).map(drop),
            "NegativeBinomial",
            "total_count"
        ));
        assert!(is(
            NegativeBinomial::from_mean_dispersion(bad, 1.0).map(drop),
            "NegativeBinomial",
            "mean"
        ));
        assert!(is(
            NegativeBinomial::from_mean_dispersion(1.0, bad).map(drop),
            "NegativeBinomial",
            "concentration"
        ));
    }
    for bad in [0.0, 1.0, -0.5, f64::NAN] {
        assert!(is(
            NegativeBinomial::new(2.0, bad).map(drop),
            "NegativeBinomial",
            "probs"
        ));
    }
    // Categorical probabilities: entries in [0, 1], rows summing to 1.
    for bad in [
        vec![0.5, -0.1, 0.6],
        vec![0.5, 0.6],
        vec![0.3, 0.3],
        vec![f64::NAN, 1.0],
        vec![0.5, 0.5 + 1e-8],
    ] {
        assert!(is(Categorical::new(bad).map(drop), "Categorical", "probs"));
    }
    let rows = Param::Data(vec![0.5, 0.5, 0.2, 0.2], Shape::matrix(2, 2));
    assert!(matches!(
        Categorical::new(rows),
        Err(PplError::InvalidParameter { parameter: "probs", value, .. }) if (value - 0.4).abs() < IDENTITY_RTOL
    ));
    // Shapes: a scalar or an empty vector has no category dimension.
    assert!(matches!(
        Categorical::new(1.0),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Categorical::from_logits(Vec::new()),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Binomial::new(vec![1.0, 2.0], vec![0.5; 3]),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        NegativeBinomial::new(vec![1.0, 2.0], vec![0.5; 3]),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        NegativeBinomial::from_mean_dispersion(vec![1.0, 2.0], vec![0.5; 3]),
        Err(PplError::ShapeMismatch { .. })
    ));
    // Within 1e-9 of a unit sum is accepted.
    assert!(Categorical::new(vec![0.5, 0.5 + 1e-10]).is_ok());
}

/// log_prob at `x` is not NaN and sampling does not panic.
fn no_nan<'t>(
    d: &dyn Distribution<'t>,
    tape: &'t Tape,
    x: f64,
    r: &mut rand_chacha::ChaCha8Rng,
) -> Result<(), TestCaseError> {
    let v = lp(d, tape, x);
    prop_assert!(!v.is_nan(), "{} at {x}: NaN", d.name());
    let _ = d.sample(r);
    Ok(())
}

/// The gradient of log p(x) in the tape parameters `ps` has no NaN.
fn no_nan_gradient<'t>(
    d: &dyn Distribution<'t>,
    tape: &'t Tape,
    ps: &[Var<'t>],
    x: f64,
) -> Result<(), TestCaseError> {
    tape.backward(d.log_prob(tape, Operand::Scalar(x)).sum())
        .unwrap();
    for p in ps {
        prop_assert!(!p.grad()[0].is_nan(), "{} at {x}: NaN gradient", d.name());
    }
    Ok(())
}

/// Simplex-preserving directions eᵢ − eⱼ (i < j) in the first `k` coordinates of `n`.
fn simplex_dirs(k: usize, n: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for i in 0..k {
        for j in i + 1..k {
            let mut v = vec![0.0; n];
            v[i] = 1.0;
            v[j] = -1.0;
            out.push(v);
        }
    }
    out
}

proptest! {
    #[test]
    fn bernoulli_gradient(p in 0.01..0.99f64, l in -20.0..20.0f64, x in 0u8..2) {
        check_gradient(|a| Box::new(Bernoulli::new(a[0]).unwrap()), &[p], x as f64, false);
        check_gradient(|a| Box::new(Bernoulli::from_logits(a[0]).unwrap()), &[l], x as f64, false);
    }

    #[test]
    fn binomial_gradient(n in 0u32..60, p in 0.01..0.99f64, frac in 0.0..=1.0f64) {
        let k = (frac * n as f64).round();
        check_gradient(move |a| Box::new(Binomial::new(n as f64, a[0]).unwrap()), &[p], k, false);
    }

    #[test]
    fn negative_binomial_gradient(r in 0.1..50.0f64, p in 0.01..0.95f64, mu in 0.1..100.0f64, k in 0u32..120) {
        check_gradient(|a| Box::new(NegativeBinomial::new(a[0], a[1]).unwrap()), &[r, p], k as f64, false);
        check_gradient(
            |a| Box::new(NegativeBinomial::from_mean_dispersion(a[0], a[1]).unwrap()),
            &[mu, r],
            k as f64,
            false,
        );
    }

    #[test]
    fn categorical_logits_gradient(l in proptest::collection::vec(-5.0..5.0f64, 4), k in 0u8..4) {
        check_gradient_along(
            |x| Categorical::from_logits(x).unwrap().log_prob(x.tape(), Operand::Scalar(k as f64)).sum(),
            &l,
            &unit_vectors(4),
            "Categorical logits",
        );
    }

    #[test]
    fn categorical_batched_logits_gradient(l in proptest::collection::vec(-5.0..5.0f64, 6), k0 in 0u8..3, k1 in 0u8..3) {
        let v = [k0 as f64, k1 as f64];
        check_gradient_along(
            |x| {
                let d = Categorical::from_logits(x.reshape(Shape::matrix(2, 3))).unwrap();
                d.log_prob(x.tape(), Operand::from(&v[..])).sum()
            },
            &l,
            &unit_vectors(6),
            "batched Categorical logits",
        );
    }

    #[test]
    fn categorical_probs_gradient_on_the_simplex(w in proptest::collection::vec(0.05..1.0f64, 4), k in 0u8..4) {
        let total: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|w| w / total).collect();
        check_gradient_along(
            |x| Categorical::new(x).unwrap().log_prob(x.tape(), Operand::Scalar(k as f64)).sum(),
            &p,
            &simplex_dirs(4, 4),
            "Categorical probs",
        );
    }

    #[test]
    fn scalar_constructors_and_log_prob_never_panic_or_nan(
        a in proptest::num::f64::ANY,
        b in proptest::num::f64::ANY,
        x in proptest::num::f64::ANY,
    ) {
        let tape = Tape::new();
        let mut r = rng(40);
        if let Ok(d) = Bernoulli::new(a) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = Bernoulli::from_logits(a) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = Binomial::new(a, b) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = Binomial::new(a.abs().round(), b) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = NegativeBinomial::new(a, b) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = NegativeBinomial::from_mean_dispersion(a, b) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = Categorical::from_logits(vec![a, b]) { no_nan(&d, &tape, x, &mut r)?; }
        if let Ok(d) = Categorical::new(vec![a, 1.0 - a]) { no_nan(&d, &tape, x, &mut r)?; }
    }
}

/// Parameters across 200 orders of magnitude, either sign, and exactly 0 and 1. Gradients
/// are promised NaN-free here; at subnormal parameters a true partial can overflow f64
/// and come out as ∞ − ∞ (log densities stay NaN-free for every f64).
fn wide() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        (-100.0..100.0f64, any::<bool>()).prop_map(|(e, neg)| if neg {
            -(10f64.powf(e))
        } else {
            10f64.powf(e)
        }),
    ]
}

proptest! {
    #[test]
    fn gradients_are_never_nan(a in wide(), b in wide(), x in proptest::num::f64::ANY) {
        let tape = Tape::new();
        let (va, vb) = (tape.scalar(a), tape.scalar(b));
        let k = x.abs().round(); // also a count, to reach the in-support branches
        for x in [x, k, a.abs().round()] {
            if let Ok(d) = Bernoulli::new(va) { no_nan_gradient(&d, &tape, &[va], x)?; }
            if let Ok(d) = Bernoulli::from_logits(va) { no_nan_gradient(&d, &tape, &[va], x)?; }
            if let Ok(d) = Binomial::new(a.abs().round(), vb) { no_nan_gradient(&d, &tape, &[vb], x)?; }
            if let Ok(d) = NegativeBinomial::new(va, vb) { no_nan_gradient(&d, &tape, &[va, vb], x)?; }
            if let Ok(d) = NegativeBinomial::from_mean_dispersion(va, vb) {
                no_nan_gradient(&d, &tape, &[va, vb], x)?;
            }
        }
    }
}
