//! Building an untrained estimator from the training part of a data set.

use flows::{
    CategoricalConfig, CategoricalMass, FlowError, Maf, MafConfig, Mnle, MnleConfig, Nsf,
    NsfConfig, RowsView, Trainable,
};

/// Something that builds an untrained estimator from training data: every
/// `flows` configuration, or a closure `Fn(xs, thetas, seed) -> Result<E, FlowError>`.
///
/// [`train`](crate::train) calls it with the **training** rows only, after the
/// validation split, so the estimator's z-scoring is computed from the training
/// data (as sbi's `_initialize_neural_network` does).
///
/// ```
/// use flows::{FlowError, Maf, MafConfig, RowsView};
/// use nle::BuildEstimator;
///
/// // A smaller MAF than sbi's default, as a closure.
/// let small = |xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64| -> Result<Maf, FlowError> {
///     let config = MafConfig { num_transforms: 2, hidden_features: 10, ..MafConfig::default() };
///     Maf::new(&config, xs, thetas, seed)
/// };
/// let xs = flows::Rows::new(vec![0.0, 1.0, 2.0, 3.0], 2)?;
/// let q = small.build(xs.view(), xs.view(), 1)?;
/// # Ok::<(), FlowError>(())
/// ```
pub trait BuildEstimator {
    /// The estimator built.
    type Estimator: Trainable;
    /// A freshly initialized estimator for rows `xs` given `thetas` (the training
    /// data, which fix the dimensions and the z-scoring); `seed` fixes the
    /// initial weights.
    fn build(
        &self,
        xs: RowsView<'_>,
        thetas: RowsView<'_>,
        seed: u64,
    ) -> Result<Self::Estimator, FlowError>;
}

impl BuildEstimator for CategoricalConfig {
    type Estimator = CategoricalMass;
    fn build(
        &self,
        xs: RowsView<'_>,
        thetas: RowsView<'_>,
        seed: u64,
    ) -> Result<CategoricalMass, FlowError> {
        if xs.cols() != 1 {
            return Err(FlowError::DimensionMismatch {
                what: "xs (one count per row)",
                expected: 1,
                got: xs.cols(),
            });
        }
        CategoricalMass::new(self, thetas, seed)
    }
}

impl BuildEstimator for MafConfig {
    type Estimator = Maf;
    fn build(&self, xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64) -> Result<Maf, FlowError> {
        Maf::new(self, xs, thetas, seed)
    }
}

impl BuildEstimator for NsfConfig {
    type Estimator = Nsf;
    fn build(&self, xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64) -> Result<Nsf, FlowError> {
        Nsf::new(self, xs, thetas, seed)
    }
}

impl BuildEstimator for MnleConfig {
    type Estimator = Mnle;
    fn build(&self, xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64) -> Result<Mnle, FlowError> {
        Mnle::new(self, xs, thetas, seed)
    }
}

impl<E, F> BuildEstimator for F
where
    E: Trainable,
    F: Fn(RowsView<'_>, RowsView<'_>, u64) -> Result<E, FlowError>,
{
    type Estimator = E;
    fn build(&self, xs: RowsView<'_>, thetas: RowsView<'_>, seed: u64) -> Result<E, FlowError> {
        self(xs, thetas, seed)
    }
}
