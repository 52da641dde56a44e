//! sbibm's `bernoulli_glm`: a spiking neuron as a Bernoulli GLM with a
//! temporal filter, summarized by its sufficient statistics.

use rand::{Rng, RngExt};

use super::{numbered_parameters, sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x_len};
use crate::interface::{Observation, Prior, Simulator, Task, TaskInfo};
use crate::prior::MultivariateNormal;

/// Time bins of the stimulus and spike train.
const T: usize = 100;
/// Filter length (θ has one offset plus this many filter weights).
const M: usize = 9;

/// sbibm's Bernoulli GLM task (`sbibm/tasks/bernoulli_glm/task.py`, summary
/// `"sufficient"`): θ = (offset, 9 filter weights) ∈ ℝ¹⁰, 100 time bins of a
/// fixed white-noise stimulus I (sbibm's `files/stimulus_I.pt`,
/// `np.random.RandomState(42).randn(100)` in float32), spikes
/// y_t ~ Bernoulli(σ(ψ_t)) with ψ_t = θ₀ + Σ_{j=0}^{8} θ_{j+1} I_{t−j}
/// (terms with t − j < 0 dropped: sbibm's design matrix X), and
/// x = Xᵀ y = (number of spikes, the spike-triggered sums
/// Σ_{t≥j} y_t I_{t−j} for j = 0..8).
///
/// sbibm computes the 9 spike-triggered sums with
/// `conv1d(y, I, padding=8)[-9:]`, which is Xᵀ y written as a
/// cross-correlation. The prior is N(0, B⁻¹) with B₀₀ = 0.5 and
/// B₁: ₁: = FᵀF, F = D² + diag(√(i/9)), D the first-difference matrix
/// (smooth filters). The likelihood of the summary is intractable (sbibm's
/// reference posterior is Pólya-Gamma MCMC on the raw spikes).
#[derive(Debug, Clone, PartialEq)]
pub struct BernoulliGlm {
    prior: MultivariateNormal,
    stimulus: [f64; T],
}

impl Default for BernoulliGlm {
    fn default() -> Self {
        Self::new()
    }
}

impl BernoulliGlm {
    /// The sbibm task.
    pub fn new() -> Self {
        BernoulliGlm {
            prior: MultivariateNormal::trusted_precision(
                vec![0.0; M + 1],
                &Self::prior_precision(),
            ),
            stimulus: sbibm_data::BERNOULLI_GLM_STIMULUS.map(f64::from),
        }
    }

    /// sbibm's prior precision matrix B (10 × 10, row-major).
    pub fn prior_precision() -> Vec<f64> {
        // F = D·D + diag(√(i/M)), D = I − (sub-diagonal ones).
        let mut f = [[0.0; M]; M];
        for (i, row) in f.iter_mut().enumerate() {
            row[i] = 1.0 + (i as f64 / M as f64).sqrt();
            if i >= 1 {
                row[i - 1] = -2.0;
            }
            if i >= 2 {
                row[i - 2] = 1.0;
            }
        }
        let n = M + 1;
        let mut b = vec![0.0; n * n];
        b[0] = 0.5;
        for i in 0..M {
            for j in 0..M {
                b[(i + 1) * n + j + 1] = (0..M).map(|k| f[k][i] * f[k][j]).sum();
            }
        }
        b
    }

    /// The N(0, B⁻¹) prior.
    pub fn gaussian_prior(&self) -> &MultivariateNormal {
        &self.prior
    }

    /// The stimulus I (100 values).
    pub fn stimulus(&self) -> &[f64; T] {
        &self.stimulus
    }

    /// The summary x = Xᵀ y of a spike train y (100 values, normally 0 or 1):
    /// the number of spikes, then Σ_{t≥j} y_t I_{t−j} for j = 0..8.
    pub fn summary(&self, spikes: &[f64]) -> Result<[f64; M + 1], SimulationError> {
        check_x_len(spikes, T)?;
        if let Some(index) = spikes.iter().position(|v| !v.is_finite()) {
            return Err(SimulationError::InvalidX {
                index,
                value: spikes[index],
            });
        }
        let mut x = [0.0; M + 1];
        x[0] = spikes.iter().sum();
        for (j, xj) in x[1..].iter_mut().enumerate() {
            *xj = (j..T).map(|t| spikes[t] * self.stimulus[t - j]).sum();
        }
        Ok(x)
    }

    /// The linear predictor ψ_t = θ₀ + Σ_j θ_{j+1} I_{t−j}.
    fn psi(&self, theta: &[f64], t: usize) -> f64 {
        theta[0]
            + (0..=t.min(M - 1))
                .map(|j| theta[j + 1] * self.stimulus[t - j])
                .sum::<f64>()
    }
}

impl Simulator for BernoulliGlm {
    fn theta_dim(&self) -> usize {
        M + 1
    }

    fn x_dim(&self) -> usize {
        M + 1
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, M + 1)?;
        check_x_len(x, M + 1)?;
        let mut spikes = [0.0; T];
        for (t, y) in spikes.iter_mut().enumerate() {
            let p = 1.0 / (1.0 + (-self.psi(theta, t)).exp());
            let u: f64 = rng.random();
            *y = if u < p { 1.0 } else { 0.0 };
        }
        x.copy_from_slice(&self.summary(&spikes)?);
        crate::error::check_output(x)
    }
}

impl Task for BernoulliGlm {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "bernoulli_glm",
            display_name: "Bernoulli GLM",
            theta_dim: M + 1,
            x_dim: M + 1,
            parameter_names: numbered_parameters(M + 1),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/bernoulli_glm/task.py",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }

    fn observation(&self, num: usize) -> Option<Observation> {
        stored_observation(&sbibm_data::BERNOULLI_GLM, num)
    }
}
