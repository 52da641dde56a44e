//! Criterion benchmark: simulations per second of every task, single-threaded.
//!
//! Each iteration runs 1,000 simulations at θ drawn once from the task's
//! prior (seed 1), so the figure includes the spread of costs over the
//! prior (ODE tasks take more steps at some θ); criterion's throughput line
//! reads directly as simulations per second. No baseline is measured here:
//! the comparison with sbibm's Python simulators belongs to the `nle`
//! benchmark, which runs both on the same machine.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use simulators::tasks;

/// Simulations per iteration.
const BATCH: usize = 1000;

fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for task in tasks::all() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let thetas: Vec<Vec<f64>> = (0..BATCH)
            .map(|_| task.prior().sample(&mut rng).expect("prior draw"))
            .collect();
        let mut x = vec![0.0; task.x_dim()];
        let mut failures = 0usize;
        group.bench_function(task.info().name, |b| {
            b.iter(|| {
                for theta in &thetas {
                    if task.simulate(black_box(theta), &mut rng, &mut x).is_err() {
                        failures += 1;
                    }
                }
                black_box(&x);
            })
        });
        assert_eq!(failures, 0, "{}: simulations failed", task.info().name);
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
