//! The small parts: Adam, z-scoring, rows.

use flows::{Adam, AdamConfig, FlowError, Rows, RowsView, ZScore};

#[test]
fn adam_first_step_is_lr_times_sign() {
    // From a zero state, m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε).
    let config = AdamConfig {
        clip_max_norm: None,
        ..AdamConfig::default()
    };
    let mut adam = Adam::new(config, 3).unwrap();
    let mut p = [1.0, -2.0, 0.5];
    adam.step(&mut p, &[0.3, -4.0, 0.0]).unwrap();
    let lr = config.learning_rate;
    let expect = [
        1.0 - lr * 0.3 / (0.3 + 1e-8),
        -2.0 + lr * 4.0 / (4.0 + 1e-8),
        0.5,
    ];
    for (a, b) in p.iter().zip(expect) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    assert_eq!(adam.steps(), 1);
}

#[test]
fn adam_minimizes_a_quadratic_and_clipping_bounds_the_gradient() {
    for clip in [None, Some(1.0)] {
        let mut adam = Adam::new(
            AdamConfig {
                learning_rate: 0.05,
                clip_max_norm: clip,
                ..AdamConfig::default()
            },
            2,
        )
        .unwrap();
        let mut p = [3.0, -2.0];
        for _ in 0..2_000 {
            let g = [2.0 * (p[0] - 1.0), 20.0 * (p[1] + 0.5)];
            adam.step(&mut p, &g).unwrap();
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 0.5).abs() < 1e-3,
            "{p:?}"
        );
    }
    // The second step differs with clipping: the first moment sees the clipped gradient.
    let run = |clip| {
        let mut adam = Adam::new(
            AdamConfig {
                clip_max_norm: clip,
                ..AdamConfig::default()
            },
            1,
        )
        .unwrap();
        let mut p = [0.0];
        adam.step(&mut p, &[100.0]).unwrap();
        adam.step(&mut p, &[1.0]).unwrap();
        p[0]
    };
    assert!(run(Some(5.0)) != run(None));
}

#[test]
fn adam_errors() {
    for config in [
        AdamConfig {
            learning_rate: 0.0,
            ..AdamConfig::default()
        },
        AdamConfig {
            beta1: 1.0,
            ..AdamConfig::default()
        },
        AdamConfig {
            epsilon: f64::NAN,
            ..AdamConfig::default()
        },
        AdamConfig {
            clip_max_norm: Some(-1.0),
            ..AdamConfig::default()
        },
    ] {
        assert!(matches!(
            Adam::new(config, 2),
            Err(FlowError::InvalidConfig(_))
        ));
    }
    let mut adam = Adam::new(AdamConfig::default(), 2).unwrap();
    let mut p = [0.0, 0.0];
    assert!(matches!(
        adam.step(&mut p, &[1.0]),
        Err(FlowError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        adam.step(&mut p, &[1.0, f64::NAN]),
        Err(FlowError::NonFinite { .. })
    ));
    assert_eq!(p, [0.0, 0.0]);
}

#[test]
fn zscore_fits_finite_rows() {
    let rows = Rows::new(vec![1.0, 5.0, 3.0, 5.0, f64::NAN, 7.0, 5.0, 5.0], 2).unwrap();
    let z = ZScore::fit(rows.view()).unwrap();
    // finite rows: (1, 5), (3, 5), (5, 5): mean (3, 5); sd (2, floored at MIN_STD)
    assert_eq!(z.mean(), &[3.0, 5.0]);
    assert_eq!(z.std(), &[2.0, ZScore::MIN_STD]);
    let mut u = [0.0; 2];
    z.forward(&[4.0, 5.0], &mut u);
    assert_eq!(u, [0.5, 0.0]);
    let mut v = [0.0; 2];
    z.inverse(&u, &mut v);
    assert_eq!(v, [4.0, 5.0]);
    assert!((z.log_abs_det() + 2f64.ln() + ZScore::MIN_STD.ln()).abs() < 1e-12);
    // one row: sd 1
    let one = ZScore::fit(RowsView::new(&[2.0], 1).unwrap()).unwrap();
    assert_eq!((one.mean(), one.std()), (&[2.0][..], &[1.0][..]));
    // no finite row
    assert!(matches!(
        ZScore::fit(RowsView::new(&[f64::NAN], 1).unwrap()),
        Err(FlowError::Empty { .. })
    ));
    assert!(ZScore::new(vec![0.0], vec![0.0]).is_err());
    assert!(ZScore::new(vec![0.0], vec![1.0, 2.0]).is_err());
}

#[test]
fn rows_shapes() {
    assert!(matches!(
        Rows::new(vec![1.0, 2.0, 3.0], 2),
        Err(FlowError::RaggedRows { len: 3, cols: 2 })
    ));
    assert!(Rows::new(vec![], 0).is_err());
    let r = Rows::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2).unwrap();
    let v = r.view();
    assert_eq!((v.len(), v.cols()), (3, 2));
    assert_eq!(v.slice(1, 3).as_slice(), &[3.0, 4.0, 5.0, 6.0]);
    assert_eq!(v.iter().count(), 3);
    assert_eq!(v.to_rows(), r);
    assert!(Rows::new(vec![], 3).unwrap().is_empty());
}

/// Estimators are evaluated through `&self` from many threads at once (each
/// thread has its own scratch): the results equal the single-threaded ones.
#[test]
fn estimators_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<flows::CategoricalMass>();
    send_sync::<flows::Maf>();
    send_sync::<flows::Nsf>();
    send_sync::<flows::Mnle>();
    use flows::{ConditionalDensity, Maf, MafConfig, Nsf, NsfConfig};
    let xs = Rows::new((0..200).map(|i| (i as f64 * 0.37).sin() * 3.0).collect(), 2).unwrap();
    let ctx = Rows::new((0..100).map(|i| (i as f64 * 0.11).cos()).collect(), 1).unwrap();
    let maf = Maf::new(&MafConfig::default(), xs.view(), ctx.view(), 1).unwrap();
    let x1 = Rows::new(xs.as_slice()[..100].to_vec(), 1).unwrap();
    let nsf = Nsf::new(&NsfConfig::default(), x1.view(), ctx.view(), 2).unwrap();
    let estimators: [(&dyn ConditionalDensity, &Rows); 2] = [(&maf, &xs), (&nsf, &x1)];
    let reference: Vec<(f64, f64)> = estimators
        .iter()
        .map(|(q, x)| {
            let mut g = [0.0];
            let lp = q
                .sum_log_prob_grad_context(x.view(), &[0.3], &mut g)
                .unwrap();
            (lp, g[0])
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    for ((q, x), want) in estimators.iter().zip(&reference) {
                        let mut g = [0.0];
                        let lp = q
                            .sum_log_prob_grad_context(x.view(), &[0.3], &mut g)
                            .unwrap();
                        assert_eq!((lp, g[0]), *want);
                    }
                }
            });
        }
    });
}
