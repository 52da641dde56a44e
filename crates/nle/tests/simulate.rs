//! `simulate` and `Dataset`: thread-count independence, the per-index stream
//! contract, invalid simulations excluded and counted, the split.

use nle::{Dataset, InvalidCounts, NleError, simulate};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use simulators::io::Simulations;
use simulators::prior::BoxUniform;
use simulators::tasks::{Cookie, GaussianLinear, TwoMoons};
use simulators::{Interval, Prior, SimulationError, Simulator, Task};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Stream `i` of the seed: the documented per-simulation random numbers.
fn stream(seed: u64, i: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(i);
    rng
}

#[test]
fn the_same_data_for_one_and_two_threads() {
    // 1000 is not a multiple of the 256-simulation work blocks.
    let tasks: [Box<dyn Task>; 3] = [
        Box::new(Cookie::new()),
        Box::new(GaussianLinear::new()),
        Box::new(TwoMoons::new()),
    ];
    for task in &tasks {
        let one = in_pool(1, || simulate(task.prior(), task.as_ref(), 1000, 11, None)).unwrap();
        let two = in_pool(2, || simulate(task.prior(), task.as_ref(), 1000, 11, None)).unwrap();
        assert_eq!(one, two, "{}", task.info().name);
        assert_eq!(one.simulations.len(), 1000);
        assert_eq!(one.invalid, InvalidCounts::default());
        let other = simulate(task.prior(), task.as_ref(), 1000, 12, None).unwrap();
        assert_ne!(one.simulations, other.simulations);
    }
}

#[test]
fn simulation_i_uses_stream_i_of_the_seed() {
    let task = TwoMoons::new();
    let sims = simulate(task.prior(), &task, 300, 5, None).unwrap();
    for i in [0usize, 1, 255, 256, 299] {
        let mut rng = stream(5, i as u64);
        let theta = task.prior().sample(&mut rng).unwrap();
        let x = task.simulate_vec(&theta, &mut rng).unwrap();
        assert_eq!(sims.simulations.theta_row(i), Some(&theta[..]));
        assert_eq!(sims.simulations.x_row(i), Some(&x[..]));
    }
    // A prefix of a run is the shorter run.
    let short = simulate(task.prior(), &task, 40, 5, None).unwrap();
    assert_eq!(short.simulations.theta(), &sims.simulations.theta()[..80]);
}

/// x = (θ + u, θ) with u ~ U(0, 1), misbehaving by the value of θ in every way a
/// simulator can.
struct Flaky;

impl Simulator for Flaky {
    fn theta_dim(&self) -> usize {
        1
    }
    fn x_dim(&self) -> usize {
        2
    }
    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        let t = theta[0];
        x[0] = t + rng.random::<f64>();
        x[1] = t;
        match t {
            // Against the trait's contract: a NaN inside `Ok`.
            t if t < -1.5 => x[0] = f64::NAN,
            t if t < -1.0 => {
                x[1] = f64::INFINITY;
                return Err(SimulationError::NonFinite { index: 1 });
            }
            t if t < -0.9 => x[1] = f64::NEG_INFINITY,
            t if t > 1.5 => return Err(SimulationError::Failed("boom".into())),
            t if t > 1.0 => return Err(SimulationError::InvalidTheta { index: 0, value: t }),
            _ => {}
        }
        Ok(())
    }
}

/// U(−2, 2), except that a draw fails when its uniform falls below 0.05.
struct FlakyPrior(BoxUniform);

impl Prior for FlakyPrior {
    fn dim(&self) -> usize {
        1
    }
    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError> {
        let u: f64 = rng.random();
        if u < 0.05 {
            return Err(SimulationError::Failed("prior".into()));
        }
        theta[0] = -2.0 + 4.0 * u;
        Ok(())
    }
    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError> {
        self.0.log_prob(theta)
    }
    fn bounds(&self) -> Vec<Interval> {
        self.0.bounds()
    }
}

#[test]
fn invalid_simulations_are_excluded_and_counted_by_kind() {
    let prior = FlakyPrior(BoxUniform::new(vec![-2.0], vec![2.0]).unwrap());
    let n = 2000;
    let got = in_pool(2, || simulate(&prior, &Flaky, n, 3, None)).unwrap();
    // The expected outcome, simulation by simulation, from the documented streams.
    let mut want = InvalidCounts::default();
    let mut first_invalid = None;
    let (mut theta, mut x) = (Vec::new(), Vec::new());
    for i in 0..n {
        let mut rng = stream(3, i as u64);
        let mut t = [0.0];
        let mut xi = [0.0; 2];
        let outcome = prior
            .sample_into(&mut rng, &mut t)
            .map_err(|_| "prior")
            .and_then(|()| match Flaky.simulate(&t, &mut rng, &mut xi) {
                Ok(()) if xi.iter().all(|v| v.is_finite()) => Ok(()),
                Ok(()) | Err(SimulationError::NonFinite { .. }) => Err("non-finite"),
                Err(SimulationError::InvalidTheta { .. }) => Err("θ"),
                Err(_) => Err("failed"),
            });
        match outcome {
            Ok(()) => {
                theta.push(t[0]);
                x.extend_from_slice(&xi);
                continue;
            }
            Err("prior") => want.prior_failed += 1,
            Err("non-finite") => want.non_finite += 1,
            Err("θ") => want.invalid_theta += 1,
            Err(_) => want.failed += 1,
        }
        first_invalid.get_or_insert(i);
    }
    let c = &got.invalid;
    assert_eq!(
        (c.non_finite, c.invalid_theta, c.failed, c.prior_failed),
        (
            want.non_finite,
            want.invalid_theta,
            want.failed,
            want.prior_failed
        )
    );
    assert_eq!(c.first_error.as_ref().map(|(i, _)| *i), first_invalid);
    assert_eq!(got.simulations.theta(), &theta[..]);
    assert_eq!(got.simulations.x(), &x[..]);
    assert_eq!(got.simulations.len() + c.total(), n);
    // Every kind occurs: of 2000 draws about 450 non-finite (22.5%), 250 refused
    // θ (12.5%), 250 failed (12.5%), 100 failed prior draws (5%).
    assert!(c.non_finite > 300 && c.invalid_theta > 150 && c.failed > 150 && c.prior_failed > 50);
}

#[test]
fn ddm_trials_past_the_time_limit_are_excluded_and_counted() {
    use simulators::tasks::{Ddm, DdmSettings};
    // A 0.3 s limit: a trial with a = 2 at v = 0 decides by then with probability
    // well below 1/2, so both outcomes occur among 500 prior draws.
    let ddm = Ddm::with_settings(DdmSettings {
        dt: 1e-3,
        max_time: 0.3,
    })
    .unwrap();
    let got = in_pool(2, || simulate(ddm.prior(), &ddm, 500, 4, None)).unwrap();
    let c = &got.invalid;
    assert!(c.failed > 50 && got.simulations.len() > 50, "{c:?}");
    assert_eq!(c.failed, c.total());
    assert_eq!(got.simulations.len() + c.failed, 500);
    assert!(matches!(
        c.first_error,
        Some((_, SimulationError::MaxTimeReached { max_time: 0.3 }))
    ));
    // Every kept row is a decision within the limit: rt ≤ 0.3 + τ, τ < 1.8.
    for (theta, x) in got.simulations.iter() {
        assert!(x[0] <= 0.3 + theta[3] && (x[1] == 0.0 || x[1] == 1.0));
    }
}

#[test]
fn progress_reaches_the_number_of_simulations() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let task = Cookie::new();
    let (calls, max) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let progress = |done: usize| {
        calls.fetch_add(1, Ordering::Relaxed);
        max.fetch_max(done, Ordering::Relaxed);
    };
    in_pool(2, || {
        simulate(task.prior(), &task, 1000, 1, Some(&progress))
    })
    .unwrap();
    assert_eq!(calls.into_inner(), 4); // 1000 in blocks of 256
    assert_eq!(max.into_inner(), 1000);
}

#[test]
fn mismatched_prior_and_simulator_is_an_error() {
    let two_d = GaussianLinear::new();
    let cookie = Cookie::new();
    let e = simulate(two_d.prior(), &cookie, 10, 1, None).unwrap_err();
    assert!(matches!(e, NleError::DimensionMismatch { .. }), "{e}");
    let empty = simulate(cookie.prior(), &cookie, 0, 1, None).unwrap();
    assert!(empty.simulations.is_empty());
}

#[test]
fn dataset_excludes_non_finite_rows_and_splits_like_sbi() {
    let n = 1000;
    let theta: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut x: Vec<f64> = theta.iter().map(|t| 2.0 * t).collect();
    let mut theta_bad = theta.clone();
    x[10] = f64::NAN;
    x[20] = f64::INFINITY;
    theta_bad[30] = f64::NEG_INFINITY;
    let sims = Simulations::new(1, 1, theta_bad, x).unwrap();
    let data = Dataset::new(&sims, 0.1, 9).unwrap();
    assert_eq!(data.excluded(), 3);
    // sbi: int((1 − 0.1) · 997) = 897 training rows.
    assert_eq!((data.train_len(), data.validation_len()), (897, 100));
    let mut seen: Vec<f64> = data
        .train_theta()
        .as_slice()
        .iter()
        .chain(data.validation_theta().as_slice())
        .copied()
        .collect();
    // Pairs stay together, and every valid row is used once.
    for (t, x) in data.train_theta().iter().zip(data.train_x().iter()) {
        assert_eq!(x[0], 2.0 * t[0]);
    }
    seen.sort_by(f64::total_cmp);
    let want: Vec<f64> = theta
        .iter()
        .copied()
        .filter(|&t| ![10.0, 20.0, 30.0].contains(&t))
        .collect();
    assert_eq!(seen, want);
    // Shuffled, reproducibly.
    assert_ne!(data.train_theta().row(0)[0], 0.0);
    assert_eq!(data, Dataset::new(&sims, 0.1, 9).unwrap());
    assert_ne!(data, Dataset::new(&sims, 0.1, 10).unwrap());
}

#[test]
fn dataset_errors() {
    let sims = Simulations::new(1, 1, vec![1.0; 5], vec![1.0; 5]).unwrap();
    for f in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(matches!(
            Dataset::new(&sims, f, 1),
            Err(NleError::InvalidConfig { .. })
        ));
    }
    let one = Simulations::new(1, 1, vec![1.0], vec![1.0]).unwrap();
    assert!(matches!(
        Dataset::new(&one, 0.1, 1),
        Err(NleError::TooFewRows { .. })
    ));
    let all_bad = Simulations::new(1, 1, vec![1.0; 3], vec![f64::NAN; 3]).unwrap();
    assert!(matches!(
        Dataset::new(&all_bad, 0.5, 1),
        Err(NleError::TooFewRows { got: 0, .. })
    ));
}
