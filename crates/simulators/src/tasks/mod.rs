//! The benchmark tasks: the cookie process, the drift-diffusion model and
//! sbibm's tasks, each a prior, a simulator and what is known about them (see
//! [`Task`]).
//!
//! The sbibm tasks are reimplemented from the task definitions of the sbibm
//! package (Lueckmann et al., *Benchmarking Simulation-Based Inference*,
//! AISTATS 2021; MIT license), `sbibm/tasks/<task>/task.py` in sbibm 1.1.0;
//! each type's documentation says what it matches and where it differs.
//! sbibm's ten published observations per task come with them
//! ([`Task::observation`]).

mod bernoulli_glm;
mod cookie;
mod ddm;
mod gaussian_linear;
mod gaussian_mixture;
mod lotka_volterra;
mod sbibm_data;
mod sir;
mod slcp;
mod two_moons;

pub use bernoulli_glm::BernoulliGlm;
pub use cookie::Cookie;
pub use ddm::{DDM_MAX_STEPS, Ddm, DdmSettings};
pub use gaussian_linear::GaussianLinear;
pub use gaussian_mixture::GaussianMixture;
pub use lotka_volterra::LotkaVolterra;
pub use sir::Sir;
pub use slcp::Slcp;
pub use two_moons::TwoMoons;

use crate::interface::{Observation, Task};

/// The names [`by_name`] knows, in the order of [`all`].
pub const NAMES: [&str; 9] = [
    "cookie",
    "ddm",
    "gaussian_linear",
    "gaussian_mixture",
    "two_moons",
    "slcp",
    "bernoulli_glm",
    "sir",
    "lotka_volterra",
];

/// The task called `name` (one of [`NAMES`]) in its default configuration.
pub fn by_name(name: &str) -> Option<Box<dyn Task>> {
    Some(match name {
        "cookie" => Box::new(Cookie::new()),
        "ddm" => Box::new(Ddm::new()),
        "gaussian_linear" => Box::new(GaussianLinear::new()),
        "gaussian_mixture" => Box::new(GaussianMixture::new()),
        "two_moons" => Box::new(TwoMoons::new()),
        "slcp" => Box::new(Slcp::new()),
        "bernoulli_glm" => Box::new(BernoulliGlm::new()),
        "sir" => Box::new(Sir::new()),
        "lotka_volterra" => Box::new(LotkaVolterra::new()),
        _ => return None,
    })
}

/// Every task of [`NAMES`], in its default configuration.
pub fn all() -> Vec<Box<dyn Task>> {
    NAMES.iter().filter_map(|name| by_name(name)).collect()
}

/// sbibm's stored observation `num` (1 to 10) of one task.
fn stored_observation(table: &[sbibm_data::Stored; 10], num: usize) -> Option<Observation> {
    let stored = table.get(num.checked_sub(1)?)?;
    Some(Observation {
        num,
        seed: stored.seed,
        theta: stored.theta.to_vec(),
        x: stored.x.to_vec(),
    })
}

/// `["parameter_1", …, "parameter_d"]`, sbibm's default labels.
fn numbered_parameters(dim: usize) -> Vec<String> {
    (1..=dim).map(|i| format!("parameter_{i}")).collect()
}

/// n draws by rejection: `propose` writes a candidate into its buffer and says
/// whether to accept it. Gives up (an error, not a hang) after
/// 1000 · n + 10⁵ proposals, i.e. when the acceptance rate is below ~0.1%.
fn rejection_sample(
    n: usize,
    dim: usize,
    mut propose: impl FnMut(&mut [f64]) -> bool,
) -> Result<Vec<f64>, crate::SimulationError> {
    let max_attempts = n.saturating_mul(1000).saturating_add(100_000);
    let mut out = vec![0.0; n * dim];
    let mut accepted = 0;
    let mut attempts = 0;
    while accepted < n {
        if attempts >= max_attempts {
            return Err(crate::SimulationError::Rejection { accepted, attempts });
        }
        attempts += 1;
        if propose(&mut out[accepted * dim..(accepted + 1) * dim]) {
            accepted += 1;
        }
    }
    Ok(out)
}
