//! The classifier two-sample test: 0.5 for one distribution, 1 for separated
//! ones, reproducible, errors as values.

use flows::Rows;
use nle::{C2stConfig, NleError, c2st, c2st_with};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `n` draws of N(shift·1, I) in `dim` dimensions.
fn normal(n: usize, dim: usize, shift: f64, seed: u64) -> Rows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..n * dim)
        .map(|_| shift + rng.sample::<f64, _>(StandardNormal))
        .collect();
    Rows::new(data, dim).unwrap()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Budget: 2 × 1,000 draws in 2-D, 5 folds.
#[test]
fn one_distribution_gives_one_half() {
    // Pure chance would put the accuracy of 2,000 held-out predictions within
    // ±0.022 of 0.5 (2 sd); the band leaves room for the classifier's overfitting.
    for seed in [1, 2] {
        let a = normal(1000, 2, 0.0, 10 + seed);
        let b = normal(1000, 2, 0.0, 20 + seed);
        let acc = c2st(a.view(), b.view(), seed).unwrap();
        assert!((acc - 0.5).abs() < 0.05, "seed {seed}: {acc}");
    }
}

#[test]
fn separated_distributions_give_one() {
    let a = normal(1000, 2, 0.0, 1);
    let b = normal(1000, 2, 3.0, 2);
    // Bayes accuracy for means 3√2 apart: Φ(3/√2) ≈ 0.983.
    let acc = c2st(a.view(), b.view(), 1).unwrap();
    assert!(acc > 0.95 && acc <= 1.0, "{acc}");
    let far = normal(500, 1, 10.0, 3);
    let acc = c2st(a.view().slice(0, 500).to_rows().view(), far.view(), 1);
    // Widths differ: 2 vs 1.
    assert!(matches!(acc, Err(NleError::DimensionMismatch { .. })));
    let near = normal(500, 1, 0.0, 4);
    assert_eq!(c2st(near.view(), far.view(), 1).unwrap(), 1.0);
}

#[test]
fn a_shift_of_one_sd_is_detected_at_the_bayes_accuracy() {
    // N(0, 1) vs N(1, 1) in 1-D: the best classifier has accuracy Φ(½) ≈ 0.691.
    let a = normal(1000, 1, 0.0, 5);
    let b = normal(1000, 1, 1.0, 6);
    let acc = c2st(a.view(), b.view(), 3).unwrap();
    assert!((acc - 0.691).abs() < 0.04, "{acc}");
}

#[test]
fn reproducible_for_a_seed_and_any_thread_count() {
    let a = normal(300, 2, 0.0, 7);
    let b = normal(300, 2, 0.5, 8);
    let one = in_pool(1, || c2st(a.view(), b.view(), 4).unwrap());
    let two = in_pool(2, || c2st(a.view(), b.view(), 4).unwrap());
    assert_eq!(one, two);
    // Scaling both samples alike changes little: inputs are z-scored with `a`
    let scale = |r: &Rows| Rows::new(r.as_slice().iter().map(|v| 100.0 * v - 3.0).collect(), 2);
    let (sa, sb) = (scale(&a).unwrap(), scale(&b).unwrap());
    let scaled = c2st(sa.view(), sb.view(), 4).unwrap();
    // (up to rounding, which training may amplify into a few changed predictions)
    assert!((scaled - one).abs() < 0.02, "{scaled} vs {one}");
}

#[test]
fn errors_are_values() {
    let a = normal(100, 2, 0.0, 1);
    let mut bad = a.clone();
    bad.row_mut(3)[1] = f64::NAN;
    assert!(matches!(
        c2st(a.view(), bad.view(), 1),
        Err(NleError::NonFinite { .. })
    ));
    let tiny = normal(1, 2, 0.0, 1);
    assert!(matches!(
        c2st(tiny.view(), a.view(), 1),
        Err(NleError::TooFewRows { .. })
    ));
    let few = normal(2, 2, 0.0, 2);
    assert!(matches!(
        c2st(few.view(), few.view(), 1),
        Err(NleError::TooFewRows { .. })
    ));
    let one_fold = C2stConfig {
        folds: 1,
        ..C2stConfig::default()
    };
    assert!(matches!(
        c2st_with(a.view(), a.view(), &one_fold),
        Err(NleError::InvalidConfig { .. })
    ));
}
