//! Property tests: no input makes a simulator, prior, likelihood or loader
//! panic. Inside the prior's support every simulation succeeds; slightly
//! outside it, or for arbitrary f64, a simulation either succeeds with
//! finite output or returns an error value.

mod common;

use proptest::prelude::*;
use simulators::io::{CsvColumns, parse_npy, read_csv};
use simulators::{SimulationError, Task, tasks};

/// Per task, a range for every coordinate of θ that covers the prior's
/// support (its bulk, for unbounded priors) and reaches a little beyond it.
fn extended_range(name: &str) -> (f64, f64) {
    match name {
        "cookie" => (-1.0, 60.0),
        "gaussian_linear" => (-3.0, 3.0),
        "gaussian_mixture" => (-12.0, 12.0),
        "two_moons" => (-1.2, 1.2),
        "slcp" => (-3.6, 3.6),
        "bernoulli_glm" => (-10.0, 10.0),
        "sir" => (-0.1, 4.0),
        "lotka_volterra" => (-0.1, 5.0),
        other => panic!("no range for {other}"),
    }
}

/// Runs the simulator, likelihood and posterior at θ; checks the contract.
fn exercise(task: &dyn Task, theta: &[f64], seed: u64) -> Result<(), TestCaseError> {
    let mut rng = common::rng(seed);
    let inside = task
        .prior()
        .log_prob(theta)
        .is_ok_and(|lp| lp > f64::NEG_INFINITY);
    match task.simulate_vec(theta, &mut rng) {
        Ok(x) => {
            prop_assert!(x.iter().all(|v| v.is_finite()), "{:?}", x);
            if let Some(lik) = task.likelihood() {
                match lik.log_likelihood(theta, &x) {
                    Ok(ll) => prop_assert!(!ll.is_nan()),
                    Err(e) => prop_assert!(false, "likelihood of its own simulation: {e}"),
                }
                if let Some(lp) = task.log_posterior(theta, &x) {
                    prop_assert!(lp.is_ok_and(|v| !v.is_nan()));
                }
            }
        }
        Err(e) => {
            prop_assert!(!inside, "θ = {theta:?} in the support failed: {e}");
            prop_assert!(
                matches!(
                    e,
                    SimulationError::InvalidTheta { .. }
                        | SimulationError::Ode(_)
                        | SimulationError::NonFinite { .. }
                        | SimulationError::MaxTimeReached { .. }
                ),
                "{e:?}"
            );
        }
    }
    Ok(())
}

/// θ for `task`, each coordinate uniform on its extended range.
fn theta_near_support(dim: usize, range: (f64, f64)) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(range.0..range.1, dim)
}

macro_rules! near_support {
    ($($test:ident: $name:literal, $cases:expr;)*) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            #[test]
            fn $test(theta in theta_near_support(
                tasks::by_name($name).unwrap().theta_dim(),
                extended_range($name),
            ), seed in any::<u64>()) {
                let task = tasks::by_name($name).unwrap();
                exercise(task.as_ref(), &theta, seed)?;
            }
        }
    )*};
}

near_support! {
    cookie_near_support: "cookie", 256;
    gaussian_linear_near_support: "gaussian_linear", 256;
    gaussian_mixture_near_support: "gaussian_mixture", 256;
    two_moons_near_support: "two_moons", 256;
    slcp_near_support: "slcp", 256;
    bernoulli_glm_near_support: "bernoulli_glm", 256;
    sir_near_support: "sir", 128;
    lotka_volterra_near_support: "lotka_volterra", 128;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The DDM's coordinates have different supports: each range covers the
    /// prior's and reaches beyond it (v, a ≤ 0, w ∉ (0, 1), τ < 0).
    #[test]
    fn ddm_near_support(
        theta in (-2.4..2.4f64, -0.1..2.4f64, -0.1..1.1f64, -0.1..2.0f64),
        seed in any::<u64>(),
    ) {
        let task = tasks::by_name("ddm").unwrap();
        exercise(task.as_ref(), &[theta.0, theta.1, theta.2, theta.3], seed)?;
    }
}

/// Any f64, weighted towards the awkward ones.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        -1e3..1e3f64,
        any::<f64>(),
    ]
}

/// A task index, θ and x of the task's dimensions (or, one time in four,
/// of any length), with arbitrary values.
fn task_theta_x() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>)> {
    (0..tasks::NAMES.len()).prop_flat_map(|i| {
        let task = tasks::by_name(tasks::NAMES[i]).unwrap();
        let (d, n) = (task.theta_dim(), task.x_dim());
        let len = |k: usize| prop_oneof![3 => Just(k), 1 => 0..2 * k + 2];
        (
            Just(i),
            len(d).prop_flat_map(|l| proptest::collection::vec(any_f64(), l)),
            len(n).prop_flat_map(|l| proptest::collection::vec(any_f64(), l)),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_theta_never_panics(
        (index, theta, x) in task_theta_x(),
        seed in any::<u64>(),
    ) {
        let task = tasks::by_name(tasks::NAMES[index]).unwrap();
        let mut rng = common::rng(seed);
        if let Ok(out) = task.simulate_vec(&theta, &mut rng) {
            prop_assert!(out.iter().all(|v| v.is_finite()));
        }
        if let Ok(lp) = task.prior().log_prob(&theta) {
            prop_assert!(!lp.is_nan());
        }
        if let Some(lik) = task.likelihood()
            && let Ok(ll) = lik.log_likelihood(&theta, &x)
        {
            prop_assert!(!ll.is_nan());
        }
        if let Some(Ok(lp)) = task.log_posterior(&theta, &x) {
            prop_assert!(!lp.is_nan());
        }
        if let Some(post) = task.reference_posterior()
            && let Ok(draws) = post.sample_posterior(&x, 3, &mut rng)
        {
            prop_assert_eq!(draws.len(), 3 * task.theta_dim());
            prop_assert!(task.prior().log_prob(&draws[..task.theta_dim()]).is_ok());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_npy_reader(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_npy(&bytes);
    }

    #[test]
    fn corrupted_npy_files_never_panic(at in 0usize..208, byte in any::<u8>(), cut in 0usize..220) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/theta_f8.npy");
        let mut bytes = std::fs::read(path).unwrap();
        let n = bytes.len();
        bytes[at % n] = byte;
        bytes.truncate(cut);
        if let Ok(a) = parse_npy(&bytes) {
            prop_assert_eq!(a.data().len(), a.rows() * a.cols());
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_csv_reader(text in "[0-9a-z_,.#\"\n -]{0,200}", theta_dim in 0usize..4) {
        for columns in [
            CsvColumns::default(),
            CsvColumns::named(&["a"], &["b", "c"]),
            CsvColumns::Split { theta_dim, header: theta_dim % 2 == 0 },
        ] {
            if let Ok(s) = read_csv(&text, &columns) {
                prop_assert_eq!(s.theta().len(), s.len() * s.theta_dim());
                prop_assert_eq!(s.x().len(), s.len() * s.x_dim());
            }
        }
    }
}
