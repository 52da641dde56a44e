//! Bad settings and failing densities give named errors, never a panic.

mod common;

use common::Normal;
use mcmc::{
    Adaptation, Algorithm, GradDiag, Init, LogDensity, LogpError, McmcError, Metric, Settings,
    Warmup, sample, sample_chain,
};

fn quick() -> Settings {
    Settings {
        num_warmup: 100,
        num_draws: 100,
        num_chains: 2,
        ..Default::default()
    }
}

fn run(settings: &Settings) -> Result<Vec<mcmc::Chain>, McmcError> {
    sample(|_| Normal::standard(3), settings, None)
}

#[test]
fn bad_settings_are_named() {
    assert!(matches!(
        run(&Settings {
            num_chains: 0,
            ..quick()
        }),
        Err(McmcError::NoChains)
    ));
    for t in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let r = run(&Settings {
            target_accept: t,
            ..quick()
        });
        assert!(
            matches!(r, Err(McmcError::TargetAccept(_))),
            "target_accept {t}: {r:?}"
        );
    }
    assert!(matches!(
        run(&Settings {
            max_tree_depth: 0,
            ..quick()
        }),
        Err(McmcError::MaxTreeDepth(0))
    ));
    assert!(matches!(
        run(&Settings {
            max_tree_depth: 31,
            ..quick()
        }),
        Err(McmcError::MaxTreeDepth(31))
    ));
    assert!(matches!(
        run(&Settings {
            max_energy_error: 0.0,
            ..quick()
        }),
        Err(McmcError::MaxEnergyError(_))
    ));
    let no_steps = Settings {
        algorithm: Algorithm::StaticHmc { n_leapfrog: 0 },
        ..quick()
    };
    assert!(matches!(run(&no_steps), Err(McmcError::NoLeapfrogSteps)));
    let bad_gamma = Settings {
        adaptation: Adaptation {
            gamma: -1.0,
            ..Default::default()
        },
        ..quick()
    };
    assert!(matches!(
        run(&bad_gamma),
        Err(McmcError::Adaptation { name: "gamma", .. })
    ));
    for jitter in [-0.1, 1.0, f64::NAN] {
        let r = run(&Settings {
            step_size_jitter: jitter,
            ..quick()
        });
        assert!(
            matches!(r, Err(McmcError::StepSizeJitter(_))),
            "jitter {jitter}: {r:?}"
        );
    }
    let dense_grad_diag = Settings {
        warmup: Warmup::GradDiag(GradDiag::default()),
        metric: Metric::Dense,
        ..quick()
    };
    assert!(matches!(
        run(&dense_grad_diag),
        Err(McmcError::GradDiagNeedsDiagonal)
    ));
    let d = GradDiag::default;
    for (schedule, field) in [
        (
            GradDiag {
                early_fraction: 1.0,
                ..d()
            },
            "early_fraction",
        ),
        (
            GradDiag {
                early_fraction: -0.1,
                ..d()
            },
            "early_fraction",
        ),
        (
            GradDiag {
                step_size_fraction: 1.5,
                ..d()
            },
            "step_size_fraction",
        ),
        (
            GradDiag {
                step_size_fraction: f64::NAN,
                ..d()
            },
            "step_size_fraction",
        ),
        (
            GradDiag {
                early_window_size: 0,
                ..d()
            },
            "early_window_size",
        ),
        (
            GradDiag {
                window_size: 0,
                ..d()
            },
            "window_size",
        ),
        (
            GradDiag {
                window_growth: 0.5,
                ..d()
            },
            "window_growth",
        ),
        (
            GradDiag {
                window_growth: f64::INFINITY,
                ..d()
            },
            "window_growth",
        ),
        (
            GradDiag {
                max_step_size: 0.0,
                ..d()
            },
            "max_step_size",
        ),
    ] {
        let r = run(&Settings {
            warmup: Warmup::GradDiag(schedule),
            ..quick()
        });
        assert!(
            matches!(r, Err(McmcError::Warmup { name, .. }) if name == field),
            "{field}: {r:?}"
        );
    }
    let bad_radius = Settings {
        init: Init::Uniform {
            radius: f64::INFINITY,
        },
        ..quick()
    };
    assert!(matches!(run(&bad_radius), Err(McmcError::InitRadius(_))));
    // Settings errors come before any chain runs, also in `sample_chain`.
    let r = sample_chain(
        &mut Normal::standard(3),
        0,
        &Settings {
            num_chains: 0,
            ..quick()
        },
        None,
    );
    assert!(matches!(r, Err(McmcError::NoChains)));
}

#[test]
fn bad_initial_points_are_named() {
    let count = Settings {
        init: Init::Given(vec![vec![0.0; 3]]),
        ..quick()
    };
    assert!(matches!(
        run(&count),
        Err(McmcError::InitCount {
            expected: 2,
            found: 1
        })
    ));
    let length = Settings {
        init: Init::Given(vec![vec![0.0; 3], vec![0.0; 2]]),
        ..quick()
    };
    let r = run(&length);
    assert!(
        matches!(
            r,
            Err(McmcError::InitLength {
                chain: 1,
                expected: 3,
                found: 2
            })
        ),
        "{r:?}"
    );
    // A lone chain beyond the given points.
    let two = Settings {
        init: Init::Given(vec![vec![0.0; 3], vec![0.0; 3]]),
        ..quick()
    };
    let r = sample_chain(&mut Normal::standard(3), 2, &two, None);
    assert!(
        matches!(
            r,
            Err(McmcError::InitCount {
                expected: 3,
                found: 2
            })
        ),
        "{r:?}"
    );
    let nan = Settings {
        init: Init::Given(vec![vec![0.0; 3], vec![f64::NAN, 0.0, 0.0]]),
        ..quick()
    };
    assert!(matches!(
        run(&nan),
        Err(McmcError::InitNotFinite { chain: 1 })
    ));
    // A point outside the support.
    let outside = Settings {
        init: Init::Given(vec![vec![0.0, 0.0], vec![2.0, 0.0]]),
        ..quick()
    };
    let r = sample(|_| common::Truncated { dim: 2, cut: 1.5 }, &outside, None);
    assert!(
        matches!(r, Err(McmcError::InitNotFinite { chain: 1 })),
        "{r:?}"
    );
}

/// Refuses every point.
struct Nowhere;

impl LogDensity for Nowhere {
    fn dim(&self) -> usize {
        2
    }

    fn logp_grad(&mut self, _x: &[f64], _grad: &mut [f64]) -> Result<f64, LogpError> {
        Err(LogpError::Recoverable("outside the support".into()))
    }
}

/// Constant density: improper, so no step size is ever too large.
struct Flat;

impl LogDensity for Flat {
    fn dim(&self) -> usize {
        2
    }

    fn logp_grad(&mut self, _x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        grad.fill(0.0);
        Ok(0.0)
    }
}

/// A standard normal that fails fatally from its `fail_after`-th evaluation on.
struct Breaks {
    evals: usize,
    fail_after: usize,
}

impl LogDensity for Breaks {
    fn dim(&self) -> usize {
        3
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        self.evals += 1;
        if self.evals >= self.fail_after {
            return Err(LogpError::Fatal("the model broke".into()));
        }
        Normal::standard(3).logp_grad(x, grad)
    }
}

#[test]
fn failing_densities_give_errors() {
    let r = sample(|_| Nowhere, &quick(), None);
    assert!(
        matches!(
            r,
            Err(McmcError::InitFailed {
                chain: 0,
                tries: 100
            })
        ),
        "{r:?}"
    );
    let r = sample(|_| Flat, &quick(), None);
    assert!(
        matches!(r, Err(McmcError::StepSize { chain: 0, .. })),
        "{r:?}"
    );
    assert!(matches!(
        sample(|_| Normal::standard(0), &quick(), None),
        Err(McmcError::ZeroDimension)
    ));
    let r = sample(|c| Normal::standard(2 + c), &quick(), None);
    assert!(
        matches!(
            r,
            Err(McmcError::DimensionMismatch {
                chain: 1,
                expected: 2,
                found: 3
            })
        ),
        "{r:?}"
    );
}

#[test]
fn fatal_errors_stop_the_chain() {
    // Chain 1 breaks in the middle of warm-up, chain 0 never: the error names chain 1.
    let make = |c: usize| Breaks {
        evals: 0,
        fail_after: if c == 1 { 500 } else { usize::MAX },
    };
    let r = sample(make, &quick(), None);
    match r {
        Err(McmcError::Density {
            chain: 1,
            source: LogpError::Fatal(msg),
        }) => assert_eq!(msg, "the model broke"),
        other => panic!("expected a fatal density error in chain 1, got {other:?}"),
    }
    // Fatal at the very first evaluation.
    let r = sample(
        |_| Breaks {
            evals: 0,
            fail_after: 1,
        },
        &quick(),
        None,
    );
    assert!(
        matches!(r, Err(McmcError::Density { chain: 0, .. })),
        "{r:?}"
    );
    // And with static HMC.
    let hmc = Settings {
        algorithm: Algorithm::StaticHmc { n_leapfrog: 5 },
        ..quick()
    };
    let r = sample(
        |_| Breaks {
            evals: 0,
            fail_after: 300,
        },
        &hmc,
        None,
    );
    assert!(
        matches!(r, Err(McmcError::Density { chain: 0, .. })),
        "{r:?}"
    );
}
