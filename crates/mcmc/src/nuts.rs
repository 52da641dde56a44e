//! The No-U-Turn sampler as Stan's `base_nuts`: multinomial sampling over the trajectory
//! (biased progressive sampling between the old trajectory and each new subtree, uniform
//! progressive sampling inside subtrees), the generalized U-turn criterion checked across
//! each merged tree and, since Stan 2.21, across the two halves' adjoining ends
//! (Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte Carlo", App. A).

use rand::{Rng, RngExt};

use crate::hamiltonian::{Hamiltonian, Point, State};
use crate::linalg::{add_assign, dot, dot_sum2};
use crate::{LogDensity, LogpError};

/// What one transition did (the per-draw sampler statistics besides lp and energy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Transition {
    pub(crate) accept_stat: f64,
    /// Mean over the trajectory of the symmetric acceptance statistic 2 / (1 + e^|ΔH|),
    /// which, unlike min(1, e^−ΔH), also counts energy gains as integration error
    /// (nuts-rs' `mean_tree_accept_sym`, used in its late step-size adaptation).
    pub(crate) accept_stat_sym: f64,
    pub(crate) tree_depth: u32,
    pub(crate) n_leapfrog: u32,
    pub(crate) divergent: bool,
}

/// NUTS with every buffer a transition needs, allocated once per chain.
#[derive(Debug, Clone)]
pub(crate) struct Nuts {
    max_depth: u32,
    max_energy_error: f64,
    fwd: Point,
    bck: Point,
    sample: State,
    propose: State,
    top: Ends,
    levels: Vec<Level>,
}

/// Momenta at the two ends of the forward and backward parts of the trajectory.
#[derive(Debug, Clone)]
struct Ends {
    p_fwd_fwd: Vec<f64>,
    v_fwd_fwd: Vec<f64>,
    p_fwd_bck: Vec<f64>,
    v_fwd_bck: Vec<f64>,
    p_bck_fwd: Vec<f64>,
    v_bck_fwd: Vec<f64>,
    p_bck_bck: Vec<f64>,
    v_bck_bck: Vec<f64>,
    rho: Vec<f64>,
    rho_fwd: Vec<f64>,
    rho_bck: Vec<f64>,
}

/// Scratch of one recursion depth: the two halves' summed momenta and adjoining ends.
#[derive(Debug, Clone)]
struct Level {
    rho_init: Vec<f64>,
    rho_final: Vec<f64>,
    p_init_end: Vec<f64>,
    v_init_end: Vec<f64>,
    p_final_beg: Vec<f64>,
    v_final_beg: Vec<f64>,
    propose_final: State,
}

impl Level {
    fn new(dim: usize) -> Self {
        let z = || vec![0.0; dim];
        Self {
            rho_init: z(),
            rho_final: z(),
            p_init_end: z(),
            v_init_end: z(),
            p_final_beg: z(),
            v_final_beg: z(),
            propose_final: State::new(dim),
        }
    }
}

/// Where a subtree writes its momenta: velocity and momentum at its first and last point,
/// and the sum of its momenta added into `rho`.
struct Out<'a> {
    v_beg: &'a mut [f64],
    v_end: &'a mut [f64],
    rho: &'a mut [f64],
    p_beg: &'a mut [f64],
    p_end: &'a mut [f64],
}

/// The state shared by the whole recursion of one transition.
struct Tree<'h, 'd, D: ?Sized, R> {
    ham: &'h mut Hamiltonian<'d, D>,
    rng: &'h mut R,
    eps: f64,
    h0: f64,
    max_energy_error: f64,
    n_leapfrog: u32,
    sum_metro_prob: f64,
    sum_sym_prob: f64,
    divergent: bool,
}

/// The generalized no-U-turn criterion: the trajectory still moves apart at both ends.
fn no_u_turn(v_minus: &[f64], v_plus: &[f64], rho: &[f64]) -> bool {
    dot(v_plus, rho) > 0.0 && dot(v_minus, rho) > 0.0
}

/// As [`no_u_turn`] with rho = a + b.
fn no_u_turn_sum(v_minus: &[f64], v_plus: &[f64], a: &[f64], b: &[f64]) -> bool {
    let (plus, minus) = dot_sum2(v_plus, v_minus, a, b);
    plus > 0.0 && minus > 0.0
}

/// The symmetric acceptance statistic 2 min(1, eᵈ) / (1 + eᵈ) = 2 / (1 + e^|d|) of an
/// energy change d = H0 − H (0 when d is infinite).
pub(crate) fn sym_accept(d: f64) -> f64 {
    2.0 / (1.0 + d.abs().exp())
}

/// log(eᵃ + eᵇ).
pub(crate) fn log_sum_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + (-(a - b).abs()).exp().ln_1p()
}

impl Nuts {
    pub(crate) fn new(dim: usize, max_depth: u32, max_energy_error: f64) -> Self {
        let z = || vec![0.0; dim];
        Self {
            max_depth,
            max_energy_error,
            fwd: Point::new(dim),
            bck: Point::new(dim),
            sample: State::new(dim),
            propose: State::new(dim),
            top: Ends {
                p_fwd_fwd: z(),
                v_fwd_fwd: z(),
                p_fwd_bck: z(),
                v_fwd_bck: z(),
                p_bck_fwd: z(),
                v_bck_fwd: z(),
                p_bck_bck: z(),
                v_bck_bck: z(),
                rho: z(),
                rho_fwd: z(),
                rho_bck: z(),
            },
            levels: Vec::new(),
        }
    }

    /// One NUTS transition from `state` (overwritten by the draw) with step size `eps`.
    pub(crate) fn transition<D: LogDensity + ?Sized, R: Rng>(
        &mut self,
        ham: &mut Hamiltonian<'_, D>,
        state: &mut State,
        eps: f64,
        rng: &mut R,
    ) -> Result<Transition, LogpError> {
        let dim = state.q.len();
        ham.start(state, &mut self.fwd, rng);
        let h0 = self.fwd.energy();
        self.bck.copy_from(&self.fwd);
        self.sample.set_from(&self.fwd, h0);
        let t = &mut self.top;
        for buf in [
            &mut t.p_fwd_fwd,
            &mut t.p_fwd_bck,
            &mut t.p_bck_fwd,
            &mut t.p_bck_bck,
            &mut t.rho,
        ] {
            buf.copy_from_slice(&self.fwd.p);
        }
        for buf in [
            &mut t.v_fwd_fwd,
            &mut t.v_fwd_bck,
            &mut t.v_bck_fwd,
            &mut t.v_bck_bck,
        ] {
            buf.copy_from_slice(&self.fwd.v);
        }
        let mut tree = Tree {
            ham,
            rng,
            eps,
            h0,
            max_energy_error: self.max_energy_error,
            n_leapfrog: 0,
            sum_metro_prob: 0.0,
            sum_sym_prob: 0.0,
            divergent: false,
        };
        // Log of the summed weights exp(H0 − H) over the trajectory so far.
        let mut log_sum_weight = 0.0;
        let mut depth = 0;
        while depth < self.max_depth {
            t.rho_fwd.fill(0.0);
            t.rho_bck.fill(0.0);
            let mut log_sum_weight_subtree = f64::NEG_INFINITY;
            while self.levels.len() < depth as usize {
                self.levels.push(Level::new(dim));
            }
            let levels = &mut self.levels[..depth as usize];
            let valid = if tree.rng.random::<f64>() > 0.5 {
                // Extend forward: the old trajectory becomes the backward part.
                t.rho_bck.copy_from_slice(&t.rho);
                t.p_bck_fwd.copy_from_slice(&t.p_fwd_fwd);
                t.v_bck_fwd.copy_from_slice(&t.v_fwd_fwd);
                tree.eps = eps;
                let out = Out {
                    v_beg: &mut t.v_fwd_bck,
                    v_end: &mut t.v_fwd_fwd,
                    rho: &mut t.rho_fwd,
                    p_beg: &mut t.p_fwd_bck,
                    p_end: &mut t.p_fwd_fwd,
                };
                build_tree(
                    &mut tree,
                    levels,
                    &mut self.fwd,
                    &mut self.propose,
                    out,
                    &mut log_sum_weight_subtree,
                )?
            } else {
                // Extend backward: the old trajectory becomes the forward part.
                t.rho_fwd.copy_from_slice(&t.rho);
                t.p_fwd_bck.copy_from_slice(&t.p_bck_bck);
                t.v_fwd_bck.copy_from_slice(&t.v_bck_bck);
                tree.eps = -eps;
                let out = Out {
                    v_beg: &mut t.v_bck_fwd,
                    v_end: &mut t.v_bck_bck,
                    rho: &mut t.rho_bck,
                    p_beg: &mut t.p_bck_fwd,
                    p_end: &mut t.p_bck_bck,
                };
                build_tree(
                    &mut tree,
                    levels,
                    &mut self.bck,
                    &mut self.propose,
                    out,
                    &mut log_sum_weight_subtree,
                )?
            };
            if !valid {
                break;
            }
            depth += 1;
            // Biased progressive sampling: prefer the new subtree by its total weight.
            if log_sum_weight_subtree > log_sum_weight
                || tree.rng.random::<f64>() < (log_sum_weight_subtree - log_sum_weight).exp()
            {
                std::mem::swap(&mut self.sample, &mut self.propose);
            }
            log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
            for ((r, b), f) in t.rho.iter_mut().zip(&t.rho_bck).zip(&t.rho_fwd) {
                *r = b + f;
            }
            let persist = no_u_turn(&t.v_bck_bck, &t.v_fwd_fwd, &t.rho)
                && no_u_turn_sum(&t.v_bck_bck, &t.v_fwd_bck, &t.rho_bck, &t.p_fwd_bck)
                && no_u_turn_sum(&t.v_bck_fwd, &t.v_fwd_fwd, &t.rho_fwd, &t.p_bck_fwd);
            if !persist {
                break;
            }
        }
        let transition = Transition {
            accept_stat: tree.sum_metro_prob / f64::from(tree.n_leapfrog),
            accept_stat_sym: tree.sum_sym_prob / f64::from(tree.n_leapfrog),
            tree_depth: depth,
            n_leapfrog: tree.n_leapfrog,
            divergent: tree.divergent,
        };
        std::mem::swap(state, &mut self.sample);
        Ok(transition)
    }
}

/// Builds a subtree of depth `levels.len()` from `z` in the direction of `tree.eps`, as
/// Stan's `base_nuts::build_tree`. Returns whether it is valid (no divergence, no U-turn
/// inside); `propose` gets its multinomial draw, `log_sum_weight` its summed weight.
fn build_tree<D: LogDensity + ?Sized, R: Rng>(
    tree: &mut Tree<'_, '_, D, R>,
    levels: &mut [Level],
    z: &mut Point,
    propose: &mut State,
    out: Out<'_>,
    log_sum_weight: &mut f64,
) -> Result<bool, LogpError> {
    let Some((level, lower)) = levels.split_last_mut() else {
        // Base case: one leapfrog step.
        let ok = tree.ham.leapfrog(z, tree.eps)?;
        tree.n_leapfrog += 1;
        let h = if ok { z.energy() } else { f64::INFINITY };
        let h = if h.is_nan() { f64::INFINITY } else { h };
        if h - tree.h0 > tree.max_energy_error {
            tree.divergent = true;
        }
        *log_sum_weight = log_sum_exp(*log_sum_weight, tree.h0 - h);
        tree.sum_metro_prob += if tree.h0 - h > 0.0 {
            1.0
        } else {
            (tree.h0 - h).exp()
        };
        tree.sum_sym_prob += sym_accept(tree.h0 - h);
        if tree.divergent {
            return Ok(false);
        }
        propose.set_from(z, h);
        out.v_beg.copy_from_slice(&z.v);
        out.v_end.copy_from_slice(&z.v);
        add_assign(out.rho, &z.p);
        out.p_beg.copy_from_slice(&z.p);
        out.p_end.copy_from_slice(&z.p);
        return Ok(true);
    };

    // The initial half.
    let mut log_sum_weight_init = f64::NEG_INFINITY;
    level.rho_init.fill(0.0);
    let init = Out {
        v_beg: &mut *out.v_beg,
        v_end: &mut level.v_init_end,
        rho: &mut level.rho_init,
        p_beg: &mut *out.p_beg,
        p_end: &mut level.p_init_end,
    };
    if !build_tree(tree, lower, z, propose, init, &mut log_sum_weight_init)? {
        return Ok(false);
    }

    // The final half.
    let mut log_sum_weight_final = f64::NEG_INFINITY;
    level.rho_final.fill(0.0);
    let fin = Out {
        v_beg: &mut level.v_final_beg,
        v_end: &mut *out.v_end,
        rho: &mut level.rho_final,
        p_beg: &mut level.p_final_beg,
        p_end: &mut *out.p_end,
    };
    if !build_tree(
        tree,
        lower,
        z,
        &mut level.propose_final,
        fin,
        &mut log_sum_weight_final,
    )? {
        return Ok(false);
    }

    // Uniform progressive sampling between the halves.
    let log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
    *log_sum_weight = log_sum_exp(*log_sum_weight, log_sum_weight_subtree);
    if log_sum_weight_final > log_sum_weight_subtree
        || tree.rng.random::<f64>() < (log_sum_weight_final - log_sum_weight_subtree).exp()
    {
        std::mem::swap(propose, &mut level.propose_final);
    }

    add_assign(out.rho, &level.rho_init);
    add_assign(out.rho, &level.rho_final);
    // Across the merged subtree, then across each half extended by the other's first point.
    let persist = no_u_turn_sum(out.v_beg, out.v_end, &level.rho_init, &level.rho_final)
        && no_u_turn_sum(
            out.v_beg,
            &level.v_final_beg,
            &level.rho_init,
            &level.p_final_beg,
        )
        && no_u_turn_sum(
            &level.v_init_end,
            out.v_end,
            &level.rho_final,
            &level.p_init_end,
        );
    Ok(persist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sum_exp_handles_infinities() {
        assert_eq!(log_sum_exp(f64::NEG_INFINITY, 1.5), 1.5);
        assert_eq!(log_sum_exp(1.5, f64::NEG_INFINITY), 1.5);
        assert!((log_sum_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((log_sum_exp(-1000.0, 0.0)).abs() < 1e-15);
    }
}
