//! `CategoricalMass`'s gradient hot path against the plain network passes.

use super::*;
use rand_distr::{Distribution, StandardNormal};

/// ∑ log q(x | θ) and its θ-gradient from the plain network passes (`Mlp::forward`,
/// libm's exp, `Mlp::backward`, every category), with the logits' θ-Jacobian's
/// absolute row sums Σ_k |∂logit_k/∂θ_i| for the error budget; also max |logit|.
fn reference(q: &CategoricalMass, xs: &[f64], ctx: &[f64]) -> (f64, Vec<f64>, Vec<f64>, f64) {
    let (k, cd) = (q.num_categories(), q.context_dim());
    let mut acts = vec![0.0; q.net.acts_len()];
    let lse = q.logits(ctx, &mut acts);
    let logits = &acts[acts.len() - k..];
    let mut counts = vec![0.0; k];
    for x in xs {
        counts[q.index(*x).expect("in range")] += 1.0;
    }
    let n = xs.len() as f64;
    let total = (0..k).map(|o| counts[o] * (logits[o] - lse)).sum();
    let dl: Vec<f64> = (0..k)
        .map(|o| counts[o] - n * (logits[o] - lse).exp())
        .collect();
    let mut tmp = vec![0.0; q.net.tmp_len()];
    let grad_of = |dout: &[f64], tmp: &mut [f64]| {
        let (mut du, mut g) = (vec![0.0; cd], vec![0.0; cd]);
        q.net
            .backward(&q.params, &acts, dout, Some(&mut du), None, tmp);
        q.feature_grad(ctx, &du, &mut g);
        g
    };
    let grad = grad_of(&dl, &mut tmp);
    let mut jac = vec![0.0; cd];
    for o in 0..k {
        let mut e = vec![0.0; k];
        e[o] = 1.0;
        for (j, g) in jac.iter_mut().zip(grad_of(&e, &mut tmp)) {
            *j += g.abs();
        }
    }
    let lmax = logits.iter().fold(0.0, |m: f64, l| m.max(l.abs()));
    (total, grad, jac, lmax)
}

/// The SIMD hot path (one dispatch per call: AVX2/FMA where the CPU has it) against
/// the plain passes over random shapes: θ of 1 coordinate (forward mode) and 2–3
/// (reverse mode), 0–2 hidden layers of 1–40 units, 1–70 categories (mostly not
/// multiples of 4 or 8), random weights. Error budget 1e-12 relative to each
/// quantity's scale: the value to (N + 1)(1 + max |logit|), the gradient to
/// that times (1 + Σ_k |∂logit_k/∂θ_i|) (an error δ in a logit moves N p_k by
/// N p_k δ); the arithmetic errors are a few ulp of those.
#[test]
fn hot_path_matches_the_plain_passes() {
    let mut rng = ChaCha8Rng::seed_from_u64(20261207);
    let acts = [
        Activation::Squareplus,
        Activation::Relu,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Elu,
    ];
    for case in 0..60 {
        let cd = 1 + case % 3;
        let min = rng.random_range(-3..3);
        let config = CategoricalConfig {
            hidden_features: rng.random_range(1..=40),
            num_layers: rng.random_range(0..=2),
            activation: acts[case % acts.len()],
            log_context: case % 2 == 0,
            ..CategoricalConfig::new(min, min + rng.random_range(0..70))
        };
        let thetas: Vec<f64> = (0..20 * cd).map(|_| rng.random_range(0.5..20.0)).collect();
        let rows = RowsView::new(&thetas, cd).expect("rows");
        let mut q = CategoricalMass::new(&config, rows, case as u64).expect("estimator");
        let params: Vec<f64> = q
            .parameters()
            .iter()
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                0.7 * z
            })
            .collect();
        q.set_parameters(&params).expect("finite");
        let xs: Vec<f64> = (0..rng.random_range(1..50))
            .map(|_| rng.random_range(config.min_value..=config.max_value) as f64)
            .collect();
        let ctx: Vec<f64> = (0..cd).map(|_| rng.random_range(0.5..20.0)).collect();
        let mut grad = vec![0.0; cd];
        let got = q
            .sum_log_prob_grad_context(RowsView::new(&xs, 1).expect("rows"), &ctx, &mut grad)
            .expect("valid");
        let (want, want_grad, jac, lmax) = reference(&q, &xs, &ctx);
        let scale = (xs.len() as f64 + 1.0) * (1.0 + lmax);
        let shape = (
            cd,
            config.num_layers,
            config.hidden_features,
            q.num_categories(),
        );
        assert!(
            (got - want).abs() <= 1e-12 * scale,
            "case {case} {shape:?}: {got} vs {want}"
        );
        for ((g, w), j) in grad.iter().zip(&want_grad).zip(&jac) {
            assert!(
                (g - w).abs() <= 1e-12 * scale * (1.0 + j),
                "case {case} {shape:?}: gradient {g} vs {w}"
            );
        }
    }
}
