//! The masked autoregressive flow (Papamakarios et al. 2017) as sbi builds it
//! (`build_maf`: nflows' `MaskedAffineAutoregressiveTransform`, 5 transforms, 50
//! hidden units, 2 blocks, tanh, a permutation after each transform, z-scored x
//! and θ).

use serde::{Deserialize, Serialize};

use crate::autoregressive::{
    ArFlow, ArShape, ArState, Elementwise, Permutation, delegate_to_flow, fit_zscores,
};
use crate::io::{self, Persist};
use crate::nn::Activation;
use crate::{FlowError, RowsView, ZScore};

/// Settings of [`Maf`]; defaults are sbi's `build_maf` (see REFERENCES.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MafConfig {
    /// Number of autoregressive transforms (sbi: 5).
    pub num_transforms: usize,
    /// Hidden units of each MADE layer (sbi: 50).
    pub hidden_features: usize,
    /// Hidden-to-hidden blocks of each MADE (sbi: 2).
    pub num_blocks: usize,
    /// Nonlinearity (sbi: tanh).
    pub activation: Activation,
    /// Permutation after each transform (default: reverse; sbi draws random ones).
    pub permutation: Permutation,
    /// Standardize x with the training data (sbi: yes); the Jacobian is in the density.
    pub z_score_x: bool,
    /// Standardize θ with the training data (sbi: yes).
    pub z_score_context: bool,
}

impl Default for MafConfig {
    fn default() -> Self {
        Self {
            num_transforms: 5,
            hidden_features: 50,
            num_blocks: 2,
            activation: Activation::Tanh,
            permutation: Permutation::Reverse,
            z_score_x: true,
            z_score_context: true,
        }
    }
}

impl MafConfig {
    fn shape(&self) -> ArShape {
        ArShape {
            num_transforms: self.num_transforms,
            hidden_features: self.hidden_features,
            num_blocks: self.num_blocks,
            activation: self.activation,
            elementwise: Elementwise::Affine,
        }
    }
}

/// A conditional masked autoregressive flow q(x | θ) for continuous x.
///
/// x is standardized, then passed through `num_transforms` affine autoregressive
/// transforms v_i = scale_i · u_i + shift_i with (scale, shift) from a MADE of
/// (u_<i, θ), scale = softplus(·) + 10⁻³, each followed by a permutation; the base
/// is a standard normal. log q(x | θ) = log N(z; 0, I) + ∑ log scale − ∑ ln sd_x.
/// An infinite x has log-probability −∞.
///
/// As in nflows, with x of dimension ≥ 2 the first feature (in each transform's
/// order) gets a scale and shift that depend on neither x nor θ; the permutations
/// make every feature θ-dependent in some transform. In 1-D, the MADE's hidden
/// units see only θ: a conditional Gaussian (sbi warns about 1-D MAFs; use
/// [`Nsf`](crate::Nsf) there).
#[derive(Debug, Clone)]
pub struct Maf {
    config: MafConfig,
    flow: ArFlow,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: MafConfig,
    #[serde(flatten)]
    flow: ArState,
}

impl Maf {
    /// A freshly initialized flow (PyTorch's default layer initialization, from
    /// `seed`); `xs` and `contexts` (training data) set the dimensions and, if
    /// configured, the z-scoring.
    pub fn new(
        config: &MafConfig,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        seed: u64,
    ) -> Result<Self, FlowError> {
        let z = fit_zscores((config.z_score_x, config.z_score_context), xs, contexts)?;
        let flow = ArFlow::new(config.shape(), z, config.permutation, seed)?;
        Ok(Self {
            config: config.clone(),
            flow,
        })
    }
    /// The settings.
    pub fn config(&self) -> &MafConfig {
        &self.config
    }
    /// The x standardization.
    pub fn x_zscore(&self) -> &ZScore {
        self.flow.x_z()
    }
    /// The θ standardization.
    pub fn context_zscore(&self) -> &ZScore {
        self.flow.context_z()
    }
}

delegate_to_flow!(Maf);

impl Persist for Maf {
    const KIND: &'static str = "maf";
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError> {
        io::to_bytes(
            Self::KIND,
            &State {
                config: self.config.clone(),
                flow: self.flow.state(),
            },
        )
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError> {
        let s: State = io::from_bytes(Self::KIND, bytes)?;
        let flow = ArFlow::from_state(s.config.shape(), s.flow)?;
        Ok(Self {
            config: s.config,
            flow,
        })
    }
}
