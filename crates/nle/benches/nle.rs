//! Criterion benchmarks of `nle`, each with 1 and 2 rayon threads:
//!
//! - `simulate/<task>/<threads>`: simulations per second of [`nle::simulate`]
//!   (prior draw, simulation, validity check, one random stream per index) for
//!   every task of `simulators::tasks`, the drift-diffusion model included (its
//!   trials/s at 1 and 2 threads); the throughput line reads as simulations per
//!   second.
//! - `train_epoch/<estimator>/<threads>`: one training epoch of [`nle::train_on`]
//!   (all batches of 200 with Adam steps, then the validation loss) for the
//!   cookie task's categorical estimator on 50,000 simulations and sbi's default
//!   MAF on gaussian_linear with 10,000 simulations; the throughput line reads as
//!   training rows per second.
//!
//! Run with `cargo bench -p nle`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flows::{CategoricalConfig, MafConfig};
use nle::{BuildEstimator, Dataset, TrainConfig, simulate, train_on};
use simulators::tasks::{self, Cookie, GaussianLinear};
use simulators::{Prior, Simulator, Task};

const THREADS: [usize; 2] = [1, 2];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn simulations(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for task in tasks::all() {
        let name = task.info().name;
        // About 10–50 ms per iteration: the ODE tasks are ~100× slower.
        let n = match name {
            "sir" | "lotka_volterra" => 500,
            "bernoulli_glm" | "slcp" => 5_000,
            // ~1,000 steps of 1 ms per trial.
            "ddm" => 2_000,
            _ => 20_000,
        };
        group.throughput(Throughput::Elements(n as u64));
        for threads in THREADS {
            let pool = pool(threads);
            group.bench_with_input(BenchmarkId::new(name, threads), &n, |b, &n| {
                b.iter(|| {
                    let sims = pool.install(|| {
                        simulate(task.prior(), task.as_ref(), black_box(n), 1, None)
                            .expect("simulate")
                    });
                    assert_eq!(sims.invalid.total(), 0, "{name}: invalid simulations");
                    sims
                })
            });
        }
    }
    group.finish();
}

fn one_epoch<B: BuildEstimator>(
    c: &mut Criterion,
    name: &str,
    prior: &dyn Prior,
    simulator: &dyn Simulator,
    n_sims: usize,
    builder: &B,
) where
    B::Estimator: Clone,
{
    let sims = simulate(prior, simulator, n_sims, 1, None).expect("simulate");
    let data = Dataset::new(&sims.simulations, 0.1, 1).expect("dataset");
    let config = TrainConfig {
        max_epochs: 1,
        ..TrainConfig::default()
    };
    let fresh = builder
        .build(data.train_x(), data.train_theta(), 1)
        .expect("estimator");
    let mut group = c.benchmark_group("train_epoch");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(data.train_len() as u64));
    for threads in THREADS {
        let pool = pool(threads);
        group.bench_function(BenchmarkId::new(name, threads), |b| {
            b.iter(|| {
                let mut q = fresh.clone();
                pool.install(|| train_on(&mut q, &data, &config, None).expect("train"));
                q
            })
        });
    }
    group.finish();
}

fn training(c: &mut Criterion) {
    let cookie = Cookie::new();
    one_epoch(
        c,
        "cookie_categorical_50k",
        cookie.prior(),
        &cookie,
        50_000,
        &CategoricalConfig::new(0, 150),
    );
    let linear = GaussianLinear::new();
    one_epoch(
        c,
        "gaussian_linear_maf_10k",
        linear.prior(),
        &linear,
        10_000,
        &MafConfig::default(),
    );
}

criterion_group!(benches, simulations, training);
criterion_main!(benches);
