//! Criterion benchmark: log density + gradient of the hierarchical cookie model (5
//! locations × 30 cookies, 7 unconstrained dimensions) with the exact Poisson
//! likelihood against [`bridge::NeuralLikelihood`] over categorical estimators of a few
//! architectures. The cost of an estimator does
//! not depend on its weights, so untrained ones serve; `group` times one
//! `sum_log_prob_grad_context` call on one location's 30 rows.
//!
//! `cargo bench -p bridge --bench neural_likelihood`

use bridge::NeuralLikelihood;
use criterion::{Criterion, criterion_group, criterion_main};
use flows::{Activation, CategoricalConfig, CategoricalMass, ConditionalDensity, RowsView};
use ppl::cookies::{self, Cookies};
use ppl::{LogJoint, Model};
use std::hint::black_box;

/// (name, hidden width, hidden layers, activation, log θ feature, largest count): the
/// former xtask estimator, the current one, and a GLM in ln θ for the floor.
const ARCHITECTURES: [(&str, usize, usize, Activation, bool, i64); 3] = [
    ("relu_2x50_0to60", 50, 2, Activation::Relu, false, 60),
    (
        "squareplus_1x30_log_0to40",
        30,
        1,
        Activation::Squareplus,
        true,
        40,
    ),
    ("linear_log_0to40", 1, 0, Activation::Tanh, true, 40),
];

fn estimator(
    hidden: usize,
    layers: usize,
    activation: Activation,
    log: bool,
    max: i64,
) -> CategoricalMass {
    let thetas: Vec<f64> = (1..200).map(|i| 0.2 * i as f64).collect();
    let config = CategoricalConfig {
        hidden_features: hidden,
        num_layers: layers,
        activation,
        log_context: log,
        ..CategoricalConfig::new(0, max)
    };
    CategoricalMass::new(&config, RowsView::new(&thetas, 1).expect("rows"), 1).expect("estimator")
}

fn cookie(c: &mut Criterion) {
    let data = Cookies::load().expect("built-in data");
    let u = [2.2, -0.3, 2.2, 1.8, 2.25, 2.2, 2.45];
    let mut g = vec![0.0; 7];
    let mut group = c.benchmark_group("cookie_hierarchical_nle");
    let d = &data;
    let mut exact =
        LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, d)).expect("model");
    group.bench_function("exact", |b| {
        b.iter(|| {
            exact
                .log_density_grad(black_box(&u), &mut g)
                .expect("finite")
        })
    });
    for (name, hidden, layers, act, log, max) in ARCHITECTURES {
        let est = estimator(hidden, layers, act, log, max);
        let e = &est;
        let mut lj = LogJoint::new(move |m: &mut Model<'_>| {
            cookies::hierarchical_with(m, d, |lam| NeuralLikelihood::new(e, lam))
        })
        .expect("model");
        group.bench_function(format!("nle_{name}"), |b| {
            b.iter(|| lj.log_density_grad(black_box(&u), &mut g).expect("finite"))
        });
        let xs = &data.chips[..30];
        let mut gt = [0.0];
        group.bench_function(format!("group_{name}"), |b| {
            b.iter(|| {
                est.sum_log_prob_grad_context(
                    RowsView::new(black_box(xs), 1).expect("rows"),
                    black_box(&[9.0]),
                    &mut gt,
                )
                .expect("finite")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cookie);
criterion_main!(benches);
