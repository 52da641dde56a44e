//! Saving and loading trained estimators from `nle`'s side: `flows`' `Persist`
//! keeps the weights and the z-scorings bit for bit, versioned and atomic.

use std::path::PathBuf;

use flows::{
    CategoricalConfig, CategoricalMass, ConditionalDensity, FlowError, Maf, MafConfig, Persist,
    Rows,
};
use nle::{Progress, TrainConfig, train};
use simulators::Task;
use simulators::tasks::{Cookie, GaussianLinear};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nle-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn short() -> TrainConfig {
    TrainConfig {
        max_epochs: 5,
        seed: 9,
        ..TrainConfig::default()
    }
}

#[test]
fn a_trained_categorical_estimator_round_trips_exactly() {
    let task = Cookie::new();
    let (q, _) = train(
        task.prior(),
        &task,
        1000,
        &CategoricalConfig::new(0, 150),
        &short(),
        Progress::default(),
    )
    .unwrap();
    let path = temp_path("cookie.json");
    q.save(&path).unwrap();
    let back = CategoricalMass::load(&path).unwrap();
    assert_eq!(back.context_zscore(), q.context_zscore());
    let xs = Rows::new((0..60).map(f64::from).collect(), 1).unwrap();
    let thetas = Rows::new((0..60).map(|i| 0.5 + f64::from(i) / 3.0).collect(), 1).unwrap();
    let (mut a, mut b) = (vec![0.0; 60], vec![0.0; 60]);
    q.log_prob_batch(xs.view(), thetas.view(), &mut a).unwrap();
    back.log_prob_batch(xs.view(), thetas.view(), &mut b)
        .unwrap();
    assert_eq!(a, b);
    // The gradient in θ too (the hot path of hierarchical inference).
    let (mut ga, mut gb) = ([0.0], [0.0]);
    let la = q
        .sum_log_prob_grad_context(xs.view(), &[7.0], &mut ga)
        .unwrap();
    let lb = back
        .sum_log_prob_grad_context(xs.view(), &[7.0], &mut gb)
        .unwrap();
    assert_eq!((la, ga), (lb, gb));
    // No temporary file is left next to it.
    let dir = path.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_trained_maf_round_trips_exactly() {
    let task = GaussianLinear::new();
    let config = MafConfig {
        num_transforms: 2,
        hidden_features: 16,
        ..MafConfig::default()
    };
    let (q, _) = train(
        task.prior(),
        &task,
        600,
        &config,
        &short(),
        Progress::default(),
    )
    .unwrap();
    let bytes = q.to_bytes().unwrap();
    let back = Maf::from_bytes(&bytes).unwrap();
    assert_eq!(back.x_zscore(), q.x_zscore());
    assert_eq!(back.context_zscore(), q.context_zscore());
    let obs = task.observation(1).unwrap();
    assert_eq!(
        q.log_prob(&obs.x, &obs.theta).unwrap(),
        back.log_prob(&obs.x, &obs.theta).unwrap()
    );
}

#[test]
fn corrupt_wrong_kind_and_wrong_version_files_are_errors() {
    let task = Cookie::new();
    let (q, _) = train(
        task.prior(),
        &task,
        300,
        &CategoricalConfig::new(0, 150),
        &short(),
        Progress::default(),
    )
    .unwrap();
    let bytes = q.to_bytes().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"version\":1"), "format version in the file");
    assert!(matches!(
        CategoricalMass::from_bytes(&bytes[..bytes.len() / 2]),
        Err(FlowError::Corrupt(_))
    ));
    let newer = text.replacen("\"version\":1", "\"version\":99", 1);
    assert!(matches!(
        CategoricalMass::from_bytes(newer.as_bytes()),
        Err(FlowError::UnsupportedVersion { found: 99, .. })
    ));
    assert!(matches!(
        Maf::from_bytes(&bytes),
        Err(FlowError::WrongKind { .. })
    ));
    let missing = temp_path("does-not-exist.json");
    assert!(matches!(
        CategoricalMass::load(&missing),
        Err(FlowError::Io { .. })
    ));
}
