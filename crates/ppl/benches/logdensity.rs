//! Criterion benchmark: log density + gradient of hierarchical models, tape vs hand-written.
//! The baseline is hand-written f64 code for the same function (issue #4:
//! the tape should cost at most 3× the hand-written version).

use criterion::{Criterion, criterion_group, criterion_main};
use ppl::cookies::{self, Cookies};
use ppl::{Exponential, LogJoint, Model, Normal, PplError};
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

#[path = "../tests/common/hand.rs"]
mod hand;

fn cookie(c: &mut Criterion) {
    let data = Cookies::load().expect("built-in data");
    let d2 = data.clone();
    let mut lj =
        LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &d2)).expect("model");
    let u = [2.2, -0.3, 2.2, 1.8, 2.25, 2.2, 2.45];
    let mut g = vec![0.0; 7];
    let mut group = c.benchmark_group("cookie_hierarchical_150");
    group.bench_function("tape", |b| {
        b.iter(|| lj.log_density_grad(black_box(&u), &mut g).expect("finite"))
    });
    group.bench_function("hand", |b| {
        b.iter(|| hand::hierarchical_by_hand(&data, black_box(&u)))
    });
    group.finish();
}

fn hier_normal(c: &mut Criterion) {
    let (groups, per) = (10, 1000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let group_of: Vec<usize> = (0..groups * per).map(|i| i / per).collect();
    let y: Vec<f64> = group_of
        .iter()
        .map(|&k| k as f64 * 0.3 + rng.random::<f64>() - 0.5)
        .collect();
    let (y2, g2) = (y.clone(), group_of.clone());
    let model = move |m: &mut Model<'_>| -> Result<(), PplError> {
        let mu = m.sample("mu", Normal::new(0.0, 5.0)?)?;
        let tau = m.sample("tau", Exponential::new(1.0)?)?;
        let theta = m.plate("group", groups, |m| {
            m.sample("theta", Normal::new(mu, tau)?)
        })?;
        m.plate("obs", y2.len(), |m| {
            m.observe("y", Normal::new(theta.gather(&g2), 1.0)?, &y2)
        })
    };
    let mut lj = LogJoint::new(model).expect("model");
    let u: Vec<f64> = [0.5, -0.5]
        .into_iter()
        .chain((0..groups).map(|k| k as f64 * 0.3))
        .collect();
    let mut g = vec![0.0; u.len()];
    let mut group = c.benchmark_group("hier_normal_10x1000");
    group.bench_function("tape", |b| {
        b.iter(|| lj.log_density_grad(black_box(&u), &mut g).expect("finite"))
    });
    group.bench_function("hand", |b| {
        b.iter(|| hand::hier_normal_by_hand(&y, &group_of, black_box(&u), &mut g))
    });
    group.finish();
}

criterion_group!(benches, cookie, hier_normal);
criterion_main!(benches);
