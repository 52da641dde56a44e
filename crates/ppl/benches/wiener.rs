//! Criterion benchmark: the Wiener log density with its gradient in (v, a, w, τ) over
//! 1 000 trials sharing one parameter set (one fused tape node); divide the time by 1 000
//! for the cost per trial.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ppl::{Distribution, Operand, Shape, Tape, Wiener};
use rand::SeedableRng;
use std::hint::black_box;

fn wiener_1000(c: &mut Criterion) {
    let n = 1000;
    let (v, a, w, tau) = (1.0, 1.5, 0.45, 0.3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let source = Wiener::new(v, a, w, tau).expect("valid parameters");
    let data: Vec<f64> = (0..n).flat_map(|_| source.sample(&mut rng)).collect();
    let mut tape = Tape::new();
    let mut group = c.benchmark_group("wiener");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("logp_grad_1000_trials", |b| {
        b.iter(|| {
            tape.reset();
            let p: Vec<_> = [v, a, w, tau].iter().map(|&x| tape.scalar(x)).collect();
            let d = Wiener::new(p[0], p[1], p[2], p[3]).expect("valid parameters");
            let lp = d.log_prob_sum(&tape, Operand::Data(black_box(&data), Shape::matrix(n, 2)));
            tape.backward(lp).expect("finite");
            (lp.scalar(), p.iter().map(|x| x.grad()[0]).sum::<f64>())
        })
    });
    group.finish();
}

criterion_group!(benches, wiener_1000);
criterion_main!(benches);
