//! The training loop: sbi's early stopping and best-weight restoration,
//! determinism, the cookie estimator against the exact Poisson likelihood.

use std::sync::Mutex;

use flows::{
    CategoricalConfig, CategoricalMass, ConditionalDensity, FlowError, Maf, MafConfig, RowsView,
    Trainable,
};
use nle::{
    BuildEstimator, Dataset, EpochStats, LrDecay, NleError, Progress, TrainConfig, train, train_on,
};
use simulators::tasks::{Cookie, TwoMoons};
use simulators::{Likelihood, Task};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// A small MAF (2 transforms of 16 units): quick to train in a test.
fn small_maf(xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64) -> Result<Maf, FlowError> {
    let config = MafConfig {
        num_transforms: 2,
        hidden_features: 16,
        ..MafConfig::default()
    };
    Maf::new(&config, xs, thetas, seed)
}

/// Mean negative log-likelihood of the validation rows, recomputed.
fn validation_nll(q: &dyn ConditionalDensity, data: &Dataset) -> f64 {
    let mut out = vec![0.0; data.validation_len()];
    q.log_prob_batch(data.validation_x(), data.validation_theta(), &mut out)
        .unwrap();
    -out.iter().sum::<f64>() / out.len() as f64
}

/// Budget: 5,000 simulations, ~150 epochs of 23 batches (~2 s).
#[test]
fn cookie_categorical_estimator_reaches_the_exact_poisson_nll() {
    let task = Cookie::new();
    let config = TrainConfig {
        seed: 1,
        ..TrainConfig::default()
    };
    let (q, report) = train(
        task.prior(),
        &task,
        5000,
        &CategoricalConfig::new(0, 150),
        &config,
        Progress::default(),
    )
    .unwrap();
    assert!(report.converged);
    assert_eq!((report.train_rows, report.validation_rows), (4500, 500));
    let sims = nle::simulate(task.prior(), &task, 5000, 1, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 1).unwrap();
    let mut exact = 0.0;
    for (t, x) in data
        .validation_theta()
        .iter()
        .zip(data.validation_x().iter())
    {
        exact -= task.log_likelihood(t, x).unwrap();
    }
    exact /= data.validation_len() as f64;
    let learned = validation_nll(&q, &data);
    assert_eq!(learned, report.best_validation_loss);
    // The gap estimates the mean KL divergence from the Poisson mass plus the
    // noise of 500 validation rows. Measured: 0.020 at seed 1, 0.012–0.050 over
    // seeds 1–6; a trained estimator that is off by a tenth of a nat per row fails.
    let gap = learned - exact;
    assert!(
        (-0.02..0.05).contains(&gap),
        "learned {learned}, exact {exact}"
    );
}

/// Budget: 90 training rows, a few hundred epochs of one batch.
#[test]
fn early_stopping_restores_the_best_weights() {
    let task = TwoMoons::new();
    let sims = nle::simulate(task.prior(), &task, 100, 3, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 3).unwrap();
    let mut q = small_maf(data.train_x(), data.train_theta(), 5).unwrap();
    // A large step on 90 rows: the flow overfits and the validation loss turns up.
    let config = TrainConfig {
        learning_rate: 1e-2,
        seed: 3,
        ..TrainConfig::default()
    };
    let report = train_on(&mut q, &data, &config, None).unwrap();
    let h = &report.history;
    assert!(report.converged);
    assert_eq!(h.len(), report.best_epoch + config.stop_after_epochs);
    let min = h
        .iter()
        .map(|s| s.validation_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(report.best_validation_loss, min);
    assert_eq!(h[report.best_epoch - 1].validation_loss, min);
    // The returned weights are the best epoch's, not the last one's.
    assert!(h.last().unwrap().validation_loss > min);
    assert_eq!(validation_nll(&q, &data), min);
    // Training went on improving the training loss after the best epoch.
    assert!(h.last().unwrap().train_loss < h[report.best_epoch - 1].train_loss);
}

#[test]
fn max_epochs_ends_training_with_the_best_weights() {
    let task = TwoMoons::new();
    let sims = nle::simulate(task.prior(), &task, 500, 4, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 4).unwrap();
    let mut q = small_maf(data.train_x(), data.train_theta(), 1).unwrap();
    let config = TrainConfig {
        max_epochs: 4,
        ..TrainConfig::default()
    };
    let epochs = Mutex::new(Vec::new());
    let progress = |s: &EpochStats| epochs.lock().unwrap().push(*s);
    let report = train_on(&mut q, &data, &config, Some(&progress)).unwrap();
    assert!(!report.converged);
    assert_eq!(report.history.len(), 4);
    assert_eq!(epochs.into_inner().unwrap(), report.history);
    assert_eq!(
        report.history.iter().map(|s| s.epoch).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(validation_nll(&q, &data), report.best_validation_loss);
    assert!(report.history.iter().all(|s| s.seconds >= 0.0));
}

/// Budget: 1,000 simulations, 3 epochs, four times.
#[test]
fn same_seed_same_parameters_for_any_thread_count() {
    let task = TwoMoons::new();
    let run = |threads: usize, seed: u64| {
        in_pool(threads, || {
            let config = TrainConfig {
                max_epochs: 3,
                seed,
                ..TrainConfig::default()
            };
            let (q, report) = train(
                task.prior(),
                &task,
                1000,
                &small_maf,
                &config,
                Progress::default(),
            )
            .unwrap();
            (q.parameters().to_vec(), report.best_validation_loss)
        })
    };
    let one = run(1, 7);
    assert_eq!(one, run(2, 7));
    assert_eq!(one, run(1, 7));
    assert_ne!(one.0, run(2, 8).0);
}

#[test]
fn the_estimator_is_z_scored_with_the_training_rows() {
    let task = Cookie::new();
    let config = TrainConfig {
        max_epochs: 1,
        seed: 2,
        ..TrainConfig::default()
    };
    let (q, _) = train(
        task.prior(),
        &task,
        300,
        &CategoricalConfig::new(0, 150),
        &config,
        Progress::default(),
    )
    .unwrap();
    let sims = nle::simulate(task.prior(), &task, 300, 2, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 2).unwrap();
    let z = flows::ZScore::fit(data.train_theta()).unwrap();
    assert_eq!(q.context_zscore(), &z);
    let all = flows::ZScore::fit(RowsView::new(sims.simulations.theta(), 1).unwrap()).unwrap();
    assert_ne!(q.context_zscore(), &all);
    // And it was built with the documented initialization seed.
    let fresh = CategoricalConfig::new(0, 150)
        .build(data.train_x(), data.train_theta(), config.init_seed())
        .unwrap();
    let mut trained_again = fresh.clone();
    train_on(&mut trained_again, &data, &config, None).unwrap();
    assert_eq!(trained_again.parameters(), q.parameters());
}

#[test]
fn a_batch_larger_than_the_data_is_the_whole_training_part() {
    let task = Cookie::new();
    let sims = nle::simulate(task.prior(), &task, 50, 1, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 1).unwrap();
    let mut q: CategoricalMass = CategoricalConfig::new(0, 150)
        .build(data.train_x(), data.train_theta(), 1)
        .unwrap();
    let config = TrainConfig {
        max_epochs: 2,
        ..TrainConfig::default()
    };
    let report = train_on(&mut q, &data, &config, None).unwrap();
    assert_eq!((report.train_rows, report.history.len()), (45, 2));
}

#[test]
fn errors_are_values() {
    let task = Cookie::new();
    let sims = nle::simulate(task.prior(), &task, 200, 1, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 1).unwrap();
    // A declared range that misses the data: the estimator refuses the batch.
    let mut narrow = CategoricalConfig::new(0, 3)
        .build(data.train_x(), data.train_theta(), 1)
        .unwrap();
    let e = train_on(&mut narrow, &data, &TrainConfig::default(), None).unwrap_err();
    assert!(
        matches!(e, NleError::Flow(FlowError::OutOfSupport { .. })),
        "{e}"
    );
    // Widths that do not match the data.
    let moons = TwoMoons::new();
    let moon_sims = nle::simulate(moons.prior(), &moons, 200, 1, None).unwrap();
    let moon_data = Dataset::new(&moon_sims.simulations, 0.1, 1).unwrap();
    let mut q = CategoricalConfig::new(0, 150)
        .build(data.train_x(), data.train_theta(), 1)
        .unwrap();
    let e = train_on(&mut q, &moon_data, &TrainConfig::default(), None).unwrap_err();
    assert!(matches!(e, NleError::DimensionMismatch { .. }), "{e}");
    // Settings out of range.
    for config in [
        TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            stop_after_epochs: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            max_epochs: 0,
            ..TrainConfig::default()
        },
        TrainConfig {
            lr_decay: Some(LrDecay {
                factor: 1.0,
                times: 1,
                patience: 5,
            }),
            ..TrainConfig::default()
        },
        TrainConfig {
            lr_decay: Some(LrDecay {
                factor: 0.5,
                times: 1,
                patience: 0,
            }),
            ..TrainConfig::default()
        },
    ] {
        let e = train_on(&mut q, &data, &config, None).unwrap_err();
        assert!(matches!(e, NleError::InvalidConfig { .. }), "{e}");
    }
    let bad_lr = TrainConfig {
        learning_rate: -1.0,
        ..TrainConfig::default()
    };
    let e = train_on(&mut q, &data, &bad_lr, None).unwrap_err();
    assert!(
        matches!(e, NleError::Flow(FlowError::InvalidConfig(_))),
        "{e}"
    );
    // A categorical estimator for 2-D x.
    let e = train(
        moons.prior(),
        &moons,
        100,
        &CategoricalConfig::new(0, 3),
        &TrainConfig::default(),
        Progress::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, NleError::Flow(FlowError::DimensionMismatch { .. })),
        "{e}"
    );
}

/// With `lr_decay` the run is sbi's until its first plateau (identical epochs), then
/// continues from the best weights at factor × the rate, `times` times; the best
/// validation loss can only fall, and the weights returned are the best epoch's.
#[test]
fn learning_rate_decay_continues_sbi_run_from_its_best_weights() {
    let task = Cookie::new();
    let sims = nle::simulate(task.prior(), &task, 2000, 3, None).unwrap();
    let data = Dataset::new(&sims.simulations, 0.1, 3).unwrap();
    let plain = TrainConfig {
        seed: 3,
        stop_after_epochs: 3,
        ..TrainConfig::default()
    };
    let decayed = TrainConfig {
        lr_decay: Some(LrDecay {
            factor: 0.25,
            times: 2,
            patience: 2,
        }),
        ..plain.clone()
    };
    let fresh = CategoricalConfig::new(0, 150)
        .build(data.train_x(), data.train_theta(), plain.init_seed())
        .unwrap();
    let (mut a, mut b) = (fresh.clone(), fresh);
    let ra = train_on(&mut a, &data, &plain, None).unwrap();
    let rb = train_on(&mut b, &data, &decayed, None).unwrap();
    let losses = |r: &nle::TrainingReport| -> Vec<(f64, f64, f64)> {
        r.history
            .iter()
            .map(|e| (e.train_loss, e.validation_loss, e.learning_rate))
            .collect()
    };
    let (la, lb) = (losses(&ra), losses(&rb));
    assert!(rb.converged && lb.len() > la.len());
    assert_eq!(lb[..la.len()], la[..]);
    let rates: Vec<f64> = lb.iter().map(|e| e.2).collect();
    let mut distinct = rates.clone();
    distinct.dedup();
    assert_eq!(distinct, [5e-4, 5e-4 * 0.25, 5e-4 * 0.25 * 0.25]);
    assert!(rb.best_validation_loss <= ra.best_validation_loss);
    assert_eq!(
        rb.best_validation_loss,
        lb[rb.best_epoch - 1].1,
        "the best epoch's loss"
    );
    assert!((validation_nll(&b, &data) - rb.best_validation_loss).abs() < 1e-12);
    // the last stage (its rate from epoch `first_low`, the decay at the epoch before)
    // ends `patience` = 2 epochs after its start or its best epoch, whichever is later
    let first_low = 1 + rates
        .iter()
        .position(|&r| r == rates[lb.len() - 1])
        .unwrap();
    assert_eq!(lb.len(), rb.best_epoch.max(first_low - 1) + 2);
}
