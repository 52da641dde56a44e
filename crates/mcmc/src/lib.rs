//! Markov chain Monte Carlo for any differentiable log density.
//!
//! `mcmc` depends on no other workspace crate: anyone with a log density and its
//! gradient can implement [`LogDensity`] and sample it with [`sample`]. The sampler is
//! Stan's: NUTS with multinomial sampling and the generalized U-turn criterion (or static
//! HMC), windowed warm-up adapting the step size by dual averaging and a diagonal or dense
//! metric, several chains in parallel with results independent of the thread count.
//! [`Warmup::GradDiag`] offers nuts-rs' warm-up instead: a diagonal metric from the
//! variances of the draws and of their gradients.
//! [`io`] writes the draws as cmdstan CSV files and a JSON summary of the run.
//!
//! ```
//! use mcmc::{LogDensity, LogpError, Settings};
//!
//! /// An isotropic standard normal in `d` dimensions.
//! struct StdNormal(usize);
//!
//! impl LogDensity for StdNormal {
//!     fn dim(&self) -> usize { self.0 }
//!     fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
//!         let mut lp = 0.0;
//!         for (g, xi) in grad.iter_mut().zip(x) {
//!             lp -= 0.5 * xi * xi;
//!             *g = -xi;
//!         }
//!         Ok(lp)
//!     }
//! }
//!
//! let settings = Settings { num_warmup: 300, num_draws: 300, num_chains: 2, seed: 7, ..Default::default() };
//! let chains = mcmc::sample(|_chain| StdNormal(3), &settings, None)?;
//! assert_eq!(chains.len(), 2);
//! assert_eq!(chains[0].num_draws(), 300);
//! assert_eq!(chains[0].draw(0).len(), 3);
//! let mean: f64 = chains.iter().flat_map(|c| c.column(0)).sum::<f64>() / 600.0;
//! assert!(mean.abs() < 0.3);
//! # Ok::<(), mcmc::McmcError>(())
//! ```

mod adapt;
mod chain;
mod density;
pub mod diagnostics;
mod error;
mod grad_adapt;
mod hamiltonian;
pub mod io;
mod linalg;
mod metric;
mod nuts;
mod run;
mod settings;
mod static_hmc;
mod welford;

pub use chain::{Chain, DrawStats, Progress, ProgressUpdate};
pub use density::{LogDensity, LogpError};
pub use error::McmcError;
pub use metric::InverseMetric;
pub use run::{sample, sample_chain};
pub use settings::{
    Adaptation, Algorithm, GradDiag, Init, MAX_INIT_TRIES, Metric, Settings, Warmup,
};
