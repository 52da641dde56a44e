//! NUTS on standard normals: gradient evaluations per second of a whole chain (1000
//! warm-up + 1000 draws, one thread), against the baseline of the density's own gradient
//! evaluation measured in the same run. The ratio of the two is the sampler's overhead per
//! gradient evaluation; ESS per gradient evaluation comes from the diagnostics of the
//! draws. 100-D with the diagonal metric; the dense metric on 20-D (on 100-D, Stan's
//! first windows of 25 and 50 draws give a singular covariance estimate and warm-up
//! costs more than ten times the diagonal one: not a benchmark of the sampler).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcmc::{LogDensity, LogpError, Metric, Settings, sample_chain};

/// The isotropic standard normal in `self.0` dimensions.
struct StdNormal(usize);

impl LogDensity for StdNormal {
    fn dim(&self) -> usize {
        self.0
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        let mut lp = 0.0;
        for (g, xi) in grad.iter_mut().zip(x) {
            lp -= 0.5 * xi * xi;
            *g = -xi;
        }
        Ok(lp)
    }
}

fn bench_dim(c: &mut Criterion, dim: usize, metrics: &[Metric]) {
    let mut group = c.benchmark_group(format!("normal_{dim}d"));
    group.throughput(Throughput::Elements(1));
    let x: Vec<f64> = (0..dim).map(|i| (i as f64 - 50.0) / 30.0).collect();
    let mut grad = vec![0.0; dim];
    group.bench_function("gradient_only", |b| {
        b.iter(|| StdNormal(dim).logp_grad(black_box(&x), &mut grad));
    });
    group.sample_size(20);
    for &metric in metrics {
        let settings = Settings {
            seed: 1,
            num_chains: 1,
            metric,
            ..Default::default()
        };
        // Same seed, same chain: every iteration makes this many gradient evaluations.
        let Ok(chain) = sample_chain(&mut StdNormal(dim), 0, &settings, None) else {
            return;
        };
        group.throughput(Throughput::Elements(chain.grad_evals));
        group.bench_function(format!("nuts_chain_{metric:?}").to_lowercase(), |b| {
            b.iter(|| sample_chain(&mut StdNormal(dim), 0, black_box(&settings), None));
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_dim(c, 100, &[Metric::Diagonal]);
    bench_dim(c, 20, &[Metric::Diagonal, Metric::Dense]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
