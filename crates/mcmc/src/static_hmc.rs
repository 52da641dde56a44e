//! Hamiltonian Monte Carlo with a fixed number of leapfrog steps and a Metropolis
//! correction, as Stan's `base_static_hmc` (but with a fixed step count rather than a
//! fixed integration time).

use rand::{Rng, RngExt};

use crate::hamiltonian::{Hamiltonian, Point, State};
use crate::nuts::{Transition, sym_accept};
use crate::{LogDensity, LogpError};

/// Static HMC with its buffer, allocated once per chain.
#[derive(Debug, Clone)]
pub(crate) struct StaticHmc {
    n_leapfrog: u32,
    max_energy_error: f64,
    z: Point,
}

impl StaticHmc {
    pub(crate) fn new(dim: usize, n_leapfrog: u32, max_energy_error: f64) -> Self {
        Self {
            n_leapfrog,
            max_energy_error,
            z: Point::new(dim),
        }
    }

    /// One transition from `state` (overwritten by the draw) with step size `eps`. The
    /// trajectory stops early, and is rejected, at a divergence (a recoverable density
    /// error or an energy error above the threshold).
    pub(crate) fn transition<D: LogDensity + ?Sized, R: Rng>(
        &mut self,
        ham: &mut Hamiltonian<'_, D>,
        state: &mut State,
        eps: f64,
        rng: &mut R,
    ) -> Result<Transition, LogpError> {
        let z = &mut self.z;
        ham.start(state, z, rng);
        let h0 = z.energy();
        let mut h = h0;
        let mut steps = 0;
        let mut divergent = false;
        while steps < self.n_leapfrog {
            steps += 1;
            let ok = ham.leapfrog(z, eps)?;
            h = if ok { z.energy() } else { f64::INFINITY };
            if h.is_nan() {
                h = f64::INFINITY;
            }
            if h - h0 > self.max_energy_error {
                divergent = true;
                break;
            }
        }
        let accept = (h0 - h).exp();
        let accepted = !divergent && (accept >= 1.0 || rng.random::<f64>() < accept);
        if accepted {
            state.set_from(z, h);
        } else {
            state.energy = h0;
        }
        Ok(Transition {
            accept_stat: if divergent { 0.0 } else { accept.min(1.0) },
            accept_stat_sym: if divergent { 0.0 } else { sym_accept(h0 - h) },
            tree_depth: 0,
            n_leapfrog: steps,
            divergent,
        })
    }
}
