//! `sum_log_prob_grad_context` over 1 000 rows sharing one θ against 1 000
//! single-row calls, for each estimator; MAF training throughput at sbi's sizes.
//!
//! Run with `cargo bench -p flows`; the figures are recorded in ARCHITECTURE.md.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flows::{
    Adam, AdamConfig, CategoricalConfig, CategoricalMass, ConditionalDensity, Maf, MafConfig, Mnle,
    MnleConfig, Nsf, NsfConfig, Rows, Trainable,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const ROWS: usize = 1_000;

fn gaussian_rows(n: usize, cols: usize, seed: u64) -> Rows {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    Rows::new(
        (0..n * cols).map(|_| r.sample(StandardNormal)).collect(),
        cols,
    )
    .unwrap()
}

/// The hot path: one call over all rows, and one call per row.
fn hot_path(c: &mut Criterion, name: &str, q: &dyn ConditionalDensity, xs: &Rows, theta: &[f64]) {
    let mut g = c.benchmark_group(format!("sum_log_prob_grad_context/{name}"));
    g.throughput(Throughput::Elements(ROWS as u64));
    let mut grad = vec![0.0; theta.len()];
    g.bench_function(BenchmarkId::new("batched", ROWS), |b| {
        b.iter(|| {
            q.sum_log_prob_grad_context(black_box(xs.view()), black_box(theta), &mut grad)
                .unwrap()
        })
    });
    g.bench_function(BenchmarkId::new("single_rows", ROWS), |b| {
        b.iter(|| {
            let mut total = 0.0;
            for i in 0..xs.len() {
                total += q
                    .sum_log_prob_grad_context(
                        black_box(xs.view().slice(i, i + 1)),
                        black_box(theta),
                        &mut grad,
                    )
                    .unwrap();
            }
            total
        })
    });
    g.finish();
}

fn estimators(c: &mut Criterion) {
    // Categorical: the cookie NLE shape (θ = λ, counts 0..=30).
    let lam = gaussian_rows(100, 1, 1);
    let cat = CategoricalMass::new(&CategoricalConfig::new(0, 30), lam.view(), 2).unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let counts = Rows::new(
        (0..ROWS).map(|_| r.random_range(0..=30) as f64).collect(),
        1,
    )
    .unwrap();
    hot_path(c, "categorical", &cat, &counts, &[0.4]);

    // MAF at sbi's defaults, x ∈ ℝ², θ ∈ ℝ².
    let (xs, ctx) = (gaussian_rows(500, 2, 4), gaussian_rows(500, 2, 5));
    let maf = Maf::new(&MafConfig::default(), xs.view(), ctx.view(), 6).unwrap();
    hot_path(
        c,
        "maf_x2_theta2",
        &maf,
        &gaussian_rows(ROWS, 2, 7),
        &[0.3, -0.2],
    );

    // NSF at sbi's defaults, 1-D x (a reaction-time-like column), θ ∈ ℝ².
    let x1 = gaussian_rows(500, 1, 11);
    let nsf = Nsf::new(&NsfConfig::default(), x1.view(), ctx.view(), 12).unwrap();
    hot_path(
        c,
        "nsf_x1_theta2",
        &nsf,
        &gaussian_rows(ROWS, 1, 13),
        &[0.3, -0.2],
    );

    // MNLE: (reaction time, choice ∈ {0, 1}), θ ∈ ℝ², default NSF.
    let mut r = ChaCha8Rng::seed_from_u64(14);
    let mut rows = |n: usize| {
        let v: Vec<f64> = (0..n)
            .flat_map(|_| {
                [
                    (0.3 * r.sample::<f64, _>(StandardNormal)).exp(),
                    r.random_range(0..=1) as f64,
                ]
            })
            .collect();
        Rows::new(v, 2).unwrap()
    };
    let train = rows(500);
    let mnle = Mnle::new(&MnleConfig::new(0, 1), train.view(), ctx.view(), 15).unwrap();
    hot_path(c, "mnle_rt_choice_theta2", &mnle, &rows(ROWS), &[0.3, -0.2]);
}

fn training(c: &mut Criterion) {
    let batch = 200; // sbi's batch size
    let (xs, ctx) = (gaussian_rows(batch, 2, 8), gaussian_rows(batch, 2, 9));
    let mut maf = Maf::new(&MafConfig::default(), xs.view(), ctx.view(), 10).unwrap();
    let mut adam = Adam::new(AdamConfig::default(), maf.parameters().len()).unwrap();
    let mut g = c.benchmark_group("train_step/maf_x2_theta2");
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function(BenchmarkId::new("batch", batch), |b| {
        b.iter(|| {
            maf.train_step(&mut adam, black_box(xs.view()), black_box(ctx.view()))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, estimators, training);
criterion_main!(benches);
