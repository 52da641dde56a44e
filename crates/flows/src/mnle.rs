//! The mixed neural likelihood estimator (MNLE, Boelts et al. 2022): a discrete
//! column by a categorical estimator given θ, the continuous columns by a neural
//! spline flow given (θ, the discrete value), with an optional log transform of
//! positive continuous columns (reaction times).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::categorical::{self, check_batch, check_loss_batch};
use crate::io::{self, Persist};
use crate::nsf;
use crate::rows::{check_finite_vec, check_len, check_rows};
use crate::{
    CategoricalConfig, CategoricalMass, ConditionalDensity, FlowError, Nsf, NsfConfig, Rows,
    RowsView, Trainable, XSupport,
};

/// Settings of [`Mnle`]; defaults are sbi's `build_mnle` (categorical net and NSF
/// with their defaults, log-transformed continuous columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MnleConfig {
    /// The discrete column's estimator (its range is the discrete support).
    pub discrete: CategoricalConfig,
    /// The continuous columns' flow, conditioned on (θ, discrete value).
    pub flow: NsfConfig,
    /// Model ln x of the continuous columns (which must then be positive), with the
    /// Jacobian −∑ ln x in the density (sbi: `log_transform_x=True`).
    pub log_transform: bool,
    /// A θ coordinate that only delays the continuous columns, as the non-decision
    /// time τ of a drift-diffusion model does (rt = τ + decision time). With
    /// `Some(k)` the estimator models x_c − θ_k (log-transformed if
    /// [`log_transform`](Self::log_transform)) given the other θ coordinates, so
    /// neither network sees θ_k or has to learn the shift; with the log transform
    /// q(x | θ) = 0 where some x_c ≤ θ_k. ∂/∂θ_k goes through the flow's gradient in
    /// its input. `None` (the default) is sbi's MNLE.
    #[serde(default)]
    pub delay: Option<usize>,
    /// With the log transform, model y = ln t − s/t instead of ln t (t = x_c, or
    /// x_c − θ_k with a delay; s = `tail_scale`, in x's units). The flow's tails
    /// beyond its spline range are Gaussian in y: in y = ln t the density then
    /// vanishes only as e^{−(ln t)²/(2σ²)} as t → 0, far slower than, e.g., the
    /// Wiener first-passage density's e^{−c/t}, which lets a delay's posterior
    /// press against the fastest observation; in y = ln t − s/t it vanishes as
    /// e^{−s²/(2σ²t²)}. For t ≫ s, y ≈ ln t. `None` (the default) is plain ln t.
    #[serde(default)]
    pub tail_scale: Option<f64>,
}

impl MnleConfig {
    /// sbi's defaults for a discrete column in `min_value..=max_value`.
    pub fn new(min_value: i64, max_value: i64) -> Self {
        Self {
            discrete: CategoricalConfig::new(min_value, max_value),
            flow: NsfConfig::default(),
            log_transform: true,
            delay: None,
            tail_scale: None,
        }
    }
}

/// q(x | θ) for rows x = (continuous columns…, one discrete column last):
/// q(x | θ) = q_d(x_d | θ) · q_c(x_c | θ, x_d).
///
/// A discrete value outside its range, or (with the log transform) a
/// non-positive continuous value, has log-probability −∞; NaN is an error.
/// The hot path groups the rows by discrete value: one flow call per value present.
#[derive(Debug, Clone)]
pub struct Mnle {
    config: MnleConfig,
    discrete: CategoricalMass,
    flow: Nsf,
    params: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct State {
    log_transform: bool,
    /// Absent in files written before delays existed.
    #[serde(default)]
    delay: Option<usize>,
    /// Absent in files written before tail scales existed.
    #[serde(default)]
    tail_scale: Option<f64>,
    discrete: categorical::State,
    flow: nsf::State,
}

impl Mnle {
    /// A freshly initialized estimator; `xs` and `contexts` (training data) set the
    /// dimensions and the z-scorings. Training rows must be in the support.
    pub fn new(
        config: &MnleConfig,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        seed: u64,
    ) -> Result<Self, FlowError> {
        if xs.cols() < 2 {
            return Err(FlowError::DimensionMismatch {
                what: "xs (continuous columns, then the discrete column)",
                expected: 2,
                got: xs.cols(),
            });
        }
        if contexts.len() != xs.len() {
            return Err(FlowError::RowCountMismatch {
                what: "contexts",
                expected: xs.len(),
                got: contexts.len(),
            });
        }
        if let Some(k) = config.delay
            && (k >= contexts.cols() || contexts.cols() < 2)
        {
            return Err(FlowError::InvalidConfig(format!(
                "delay: θ coordinate {k} of {}; a delay needs another θ coordinate for the networks",
                contexts.cols()
            )));
        }
        check_tail(config.tail_scale, config.log_transform).map_err(FlowError::InvalidConfig)?;
        let reduced = reduce(config.delay, contexts)?;
        let dctx = reduced.as_ref().map_or(contexts, Rows::view);
        let discrete = CategoricalMass::new(&config.discrete, dctx, seed)?;
        let dc = xs.cols() - 1;
        let split = Split::new(config, &discrete, dc);
        let (ys, _, fctx) = split.training(xs, contexts)?;
        let flow = Nsf::new(&config.flow, ys.view(), fctx.view(), seed.wrapping_add(1))?;
        let mut params = discrete.parameters().to_vec();
        params.extend_from_slice(flow.parameters());
        Ok(Self {
            config: config.clone(),
            discrete,
            flow,
            params,
        })
    }
    /// The settings.
    pub fn config(&self) -> &MnleConfig {
        &self.config
    }
    /// The discrete part q_d(x_d | θ) (with a delay: θ without the delay coordinate).
    pub fn discrete(&self) -> &CategoricalMass {
        &self.discrete
    }
    /// The continuous part q_c(y | θ, x_d), y = ln x_c with the log transform (with a
    /// delay k: y = ln(x_c − θ_k) and θ without θ_k).
    pub fn flow(&self) -> &Nsf {
        &self.flow
    }
    /// log q_d(value | θ) for the full θ of [`ConditionalDensity::context_dim`]
    /// coordinates (the delay coordinate, if any, is dropped before the categorical net).
    pub fn log_prob_discrete(&self, value: f64, context: &[f64]) -> Result<f64, FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        self.discrete
            .log_prob(&[value], &self.network_context(context))
    }
    /// The training loss and its gradient, in parameter order or (`internal`) in
    /// the parts' internal orders.
    fn loss_grad_in(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
        internal: bool,
    ) -> Result<f64, FlowError> {
        let len = if internal {
            self.internal_grad_len()
        } else {
            self.params.len()
        };
        check_loss_batch(self, xs, contexts, grad, len)?;
        let (ys, jac, fctx) = self.split().training(xs, contexts)?;
        let reduced = reduce(self.config.delay, contexts)?;
        let dctx = reduced.as_ref().map_or(contexts, Rows::view);
        let dcol: Vec<f64> = xs.iter().map(|x| x[self.flow.x_dim()]).collect();
        let dcol = RowsView::new(&dcol, 1)?;
        let nd = self.discrete.parameters().len();
        let (gd, gc) = grad.split_at_mut(nd);
        let (ld, lc) = if internal {
            (
                self.discrete.loss_grad_internal(dcol, dctx, gd)?,
                self.flow.loss_grad_internal(ys.view(), fctx.view(), gc)?,
            )
        } else {
            (
                self.discrete.loss_grad(dcol, dctx, gd)?,
                self.flow.loss_grad(ys.view(), fctx.view(), gc)?,
            )
        };
        Ok(ld + lc - jac.iter().sum::<f64>() / xs.len() as f64)
    }
    /// θ as the networks see it: without the delay coordinate, if any.
    fn network_context(&self, context: &[f64]) -> Vec<f64> {
        let mut rc = vec![0.0; self.discrete.context_dim()];
        reduce_row(self.config.delay, context, &mut rc);
        rc
    }
    fn split(&self) -> Split<'_> {
        Split::new(&self.config, &self.discrete, self.flow.x_dim())
    }
}

/// θ rows without the delay coordinate (`None` without a delay: use θ as it is).
fn reduce(delay: Option<usize>, contexts: RowsView<'_>) -> Result<Option<Rows>, FlowError> {
    if delay.is_none() {
        return Ok(None);
    }
    let c = contexts.cols();
    let mut out = Rows::zeros(contexts.len(), c - 1)?;
    for (i, t) in contexts.iter().enumerate() {
        reduce_row(delay, t, out.row_mut(i));
    }
    Ok(Some(out))
}

/// `theta` without the delay coordinate (all of it without a delay), into `out`.
fn reduce_row(delay: Option<usize>, theta: &[f64], out: &mut [f64]) {
    match delay {
        Some(k) => {
            out[..k].copy_from_slice(&theta[..k]);
            out[k..].copy_from_slice(&theta[k + 1..]);
        }
        None => out.copy_from_slice(theta),
    }
}

/// `tail_scale` must be finite and positive, and needs the log transform.
fn check_tail(tail: Option<f64>, log: bool) -> Result<(), String> {
    match tail {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            Err(format!("tail_scale {s}: must be finite and positive"))
        }
        Some(_) if !log => Err("tail_scale needs the log transform".into()),
        _ => Ok(()),
    }
}

/// The map t ↦ y of a continuous column to the flow's input: identity, ln t, or
/// ln t − s/t ([`MnleConfig::tail_scale`]).
#[derive(Debug, Clone, Copy)]
struct Transform {
    log: bool,
    /// s; 0 for plain ln t.
    tail: f64,
}

impl Transform {
    fn new(config: &MnleConfig) -> Self {
        Self {
            log: config.log_transform,
            tail: config.tail_scale.unwrap_or(0.0),
        }
    }
    /// (y, ln dy/dt), or `None` where t is outside the domain.
    #[inline]
    fn forward(self, t: f64) -> Option<(f64, f64)> {
        if !t.is_finite() || (self.log && t <= 0.0) {
            return None;
        }
        if !self.log {
            return Some((t, 0.0));
        }
        let lt = t.ln();
        if self.tail == 0.0 {
            return Some((lt, -lt));
        }
        Some((lt - self.tail / t, (t + self.tail).ln() - 2.0 * lt))
    }
    /// (dy/dt, d ln(dy/dt)/dt) at t.
    #[inline]
    fn derivatives(self, t: f64) -> (f64, f64) {
        match (self.log, self.tail) {
            (false, _) => (1.0, 0.0),
            (true, s) => ((1.0 + s / t) / t, 1.0 / (t + s) - 2.0 / t),
        }
    }
    /// t with forward(t) = y: for y = ln t − s/t, t = s / W(s e^{−y}) (Lambert W),
    /// found by Newton's method on v = ln W: e^v + v = ln s − y, increasing and
    /// convex in v, so from a start above the root the iterates fall monotonically.
    fn inverse(self, y: f64) -> f64 {
        match (self.log, self.tail) {
            (false, _) => y,
            (true, 0.0) => y.exp(),
            (true, s) => {
                let l = s.ln() - y;
                let mut v = if l > 1.0 { l.ln() } else { l };
                for _ in 0..100 {
                    let ev = v.exp();
                    let step = (ev + v - l) / (ev + 1.0);
                    v -= step;
                    if step.abs() <= 1e-15 * (1.0 + v.abs()) {
                        break;
                    }
                }
                s * (-v).exp()
            }
        }
    }
}

/// Splits rows into the flow's input, the discrete column and the flow's context.
struct Split<'a> {
    map: Transform,
    delay: Option<usize>,
    discrete: &'a CategoricalMass,
    dc: usize,
}

impl<'a> Split<'a> {
    fn new(config: &MnleConfig, discrete: &'a CategoricalMass, dc: usize) -> Self {
        Self {
            map: Transform::new(config),
            delay: config.delay,
            discrete,
            dc,
        }
    }
    /// The flow input of row `x` given θ into `y`; returns (category index,
    /// log-Jacobian ∑ ln dy/dt at t = x_c − delay), or `None` if x is outside the
    /// support.
    #[inline]
    fn row(&self, x: &[f64], theta: &[f64], y: &mut [f64]) -> Option<(usize, f64)> {
        let k = self.discrete.index(x[self.dc])?;
        let shift = self.delay.map_or(0.0, |j| theta[j]);
        let mut jac = 0.0;
        for (yi, &xi) in y.iter_mut().zip(&x[..self.dc]) {
            let (v, lj) = self.map.forward(xi - shift)?;
            *yi = v;
            jac += lj;
        }
        Some((k, jac))
    }
    /// Flow inputs, per-row log-Jacobians and flow contexts of training rows (all
    /// in the support).
    fn training(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
    ) -> Result<(Rows, Vec<f64>, Rows), FlowError> {
        let n = xs.len();
        let c = contexts.cols() - usize::from(self.delay.is_some());
        let mut ys = Rows::zeros(n, self.dc)?;
        let mut jac = vec![0.0; n];
        let mut fctx = Rows::zeros(n, c + 1)?;
        for (i, ((x, t), jac_i)) in xs
            .iter()
            .zip(contexts.iter())
            .zip(jac.iter_mut())
            .enumerate()
        {
            // The error is built only for a row outside the support.
            let (_, j) = self
                .row(x, t, ys.row_mut(i))
                .ok_or_else(|| FlowError::OutOfSupport {
                    // the first continuous value outside the map's domain, else the
                    // discrete value
                    value: *x[..self.dc]
                        .iter()
                        .find(|&&v| {
                            let shift = self.delay.map_or(0.0, |j| t[j]);
                            self.map.forward(v - shift).is_none()
                        })
                        .unwrap_or(&x[self.dc]),
                    reason: "discrete value outside its range, or a continuous value not above \
                         the delay / not positive under the log transform",
                })?;
            *jac_i = j;
            let f = fctx.row_mut(i);
            reduce_row(self.delay, t, &mut f[..c]);
            f[c] = x[self.dc];
        }
        Ok((ys, jac, fctx))
    }
}

impl ConditionalDensity for Mnle {
    fn x_dim(&self) -> usize {
        self.flow.x_dim() + 1
    }
    fn context_dim(&self) -> usize {
        self.discrete.context_dim() + usize::from(self.config.delay.is_some())
    }
    /// With a delay the continuous columns' lower end is θ's delay coordinate, not 0:
    /// they are declared real.
    fn x_support(&self) -> XSupport {
        let d = self.discrete.config();
        XSupport::Mixed {
            min: d.min_value,
            max: d.max_value,
            positive: self.config.log_transform && self.config.delay.is_none(),
        }
    }
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        check_batch(self, xs, contexts, out.len())?;
        let reduced = reduce(self.config.delay, contexts)?;
        let dctx = reduced.as_ref().map_or(contexts, Rows::view);
        let (n, dc, c) = (xs.len(), self.flow.x_dim(), dctx.cols());
        let split = self.split();
        let mut ys = Rows::zeros(n, dc)?;
        let mut fctx = Rows::zeros(n, c + 1)?;
        let mut dcol = vec![self.config.discrete.min_value as f64; n];
        let mut jac = vec![f64::NEG_INFINITY; n];
        for i in 0..n {
            let x = xs.row(i);
            let f = fctx.row_mut(i);
            f[..c].copy_from_slice(dctx.row(i));
            f[c] = dcol[i];
            if let Some((_, j)) = split.row(x, contexts.row(i), ys.row_mut(i)) {
                jac[i] = j;
                dcol[i] = x[dc];
                f[c] = x[dc];
            } else {
                ys.row_mut(i).fill(0.0);
            }
        }
        let mut lc = vec![0.0; n];
        self.discrete
            .log_prob_batch(RowsView::new(&dcol, 1)?, dctx, out)?;
        self.flow.log_prob_batch(ys.view(), fctx.view(), &mut lc)?;
        for ((o, l), j) in out.iter_mut().zip(lc).zip(jac) {
            *o += l + j;
        }
        Ok(())
    }
    fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_rows(xs, self.x_dim(), "xs")?;
        let c = self.context_dim();
        check_finite_vec(context, c, "context")?;
        check_len(grad, c, "grad")?;
        let (n, dc, k) = (xs.len(), self.flow.x_dim(), self.discrete.num_categories());
        let split = self.split();
        let rc = self.network_context(context);
        let c = rc.len();
        // Counting sort of the rows by discrete value: one flow call per value. The
        // flow inputs are made once, in row order, and then moved to sorted order.
        let mut idx = vec![0usize; n];
        let mut start = vec![0usize; k + 1];
        let mut y_rows = vec![0.0; n * dc];
        let mut total = 0.0;
        for (i, (x, y)) in xs.iter().zip(y_rows.chunks_exact_mut(dc)).enumerate() {
            match split.row(x, context, y) {
                Some((j, jac)) => {
                    idx[i] = j;
                    start[j + 1] += 1;
                    total += jac;
                }
                None => return Ok(f64::NEG_INFINITY),
            }
        }
        for j in 0..k {
            start[j + 1] += start[j];
        }
        let mut fill = start.clone();
        let mut ys = vec![0.0; n * dc];
        let mut dcol = vec![0.0; n];
        // With a delay: t = x_c − delay per flow input, in the same order as `ys`.
        let shift = self.config.delay.map(|j| context[j]);
        let mut ts = vec![0.0; if shift.is_some() { n * dc } else { 0 }];
        for (i, (x, y)) in xs.iter().zip(y_rows.chunks_exact(dc)).enumerate() {
            let p = fill[idx[i]];
            fill[idx[i]] += 1;
            ys[p * dc..(p + 1) * dc].copy_from_slice(y);
            dcol[p] = x[dc];
            if let Some(d) = shift {
                for (t, xc) in ts[p * dc..(p + 1) * dc].iter_mut().zip(&x[..dc]) {
                    *t = xc - d;
                }
            }
        }
        // Gradients go to `sum` first: a −∞ part (x so large that the flow's z²
        // overflows) must leave `grad` untouched.
        let mut sum = vec![0.0; c];
        total +=
            self.discrete
                .sum_log_prob_grad_context(RowsView::new(&dcol, 1)?, &rc, &mut sum)?;
        let mut fctx = rc;
        fctx.push(0.0);
        let mut g = vec![0.0; c + 1];
        // ∂/∂(delay): through each flow input y(t) and log-Jacobian ln y'(t) at
        // t = x_c − delay, dt/d(delay) = −1.
        let mut gy = vec![0.0; ts.len()];
        for j in 0..k {
            if start[j + 1] > start[j] {
                fctx[c] = (self.config.discrete.min_value + j as i64) as f64;
                g.fill(0.0);
                let span = start[j] * dc..start[j + 1] * dc;
                let rows = RowsView::new(&ys[span.clone()], dc)?;
                total += if self.config.delay.is_some() {
                    self.flow
                        .sum_log_prob_grads(rows, &fctx, &mut g, &mut gy[span])?
                } else {
                    self.flow.sum_log_prob_grad_context(rows, &fctx, &mut g)?
                };
                for (a, b) in sum.iter_mut().zip(&g[..c]) {
                    *a += b;
                }
            }
        }
        if !total.is_finite() {
            return Ok(f64::NEG_INFINITY);
        }
        let mut d_delay = 0.0;
        for (&t, &gy) in ts.iter().zip(&gy) {
            let (dy, dlj) = split.map.derivatives(t);
            d_delay -= gy * dy + dlj;
        }
        match self.config.delay {
            Some(j) => {
                let (before, rest) = grad.split_at_mut(j);
                rest[0] += d_delay;
                for (a, b) in before.iter_mut().chain(&mut rest[1..]).zip(&sum) {
                    *a += b;
                }
            }
            None => {
                for (a, b) in grad.iter_mut().zip(&sum) {
                    *a += b;
                }
            }
        }
        Ok(total)
    }
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        check_finite_vec(context, self.context_dim(), "context")?;
        let mut fctx = self.network_context(context);
        let shift = self.config.delay.map_or(0.0, |j| context[j]);
        let map = Transform::new(&self.config);
        let d = self.discrete.sample(&fctx, n, rng)?;
        let (dc, c) = (self.flow.x_dim(), fctx.len());
        let mut out = Rows::zeros(n, dc + 1)?;
        fctx.push(0.0);
        for j in 0..self.discrete.num_categories() {
            let value = (self.config.discrete.min_value + j as i64) as f64;
            let rows: Vec<usize> = (0..n).filter(|&i| d.row(i)[0] == value).collect();
            if rows.is_empty() {
                continue;
            }
            fctx[c] = value;
            let ys = self.flow.sample(&fctx, rows.len(), rng)?;
            for (r, &i) in rows.iter().enumerate() {
                let o = out.row_mut(i);
                for (oi, &yi) in o.iter_mut().zip(ys.row(r)) {
                    *oi = shift + map.inverse(yi);
                }
                o[dc] = value;
            }
        }
        Ok(out)
    }
}

impl Trainable for Mnle {
    fn parameters(&self) -> &[f64] {
        &self.params
    }
    fn set_parameters(&mut self, params: &[f64]) -> Result<(), FlowError> {
        if params.len() != self.params.len() {
            return Err(FlowError::DimensionMismatch {
                what: "parameters",
                expected: self.params.len(),
                got: params.len(),
            });
        }
        let nd = self.discrete.parameters().len();
        self.discrete.set_parameters(&params[..nd])?;
        self.flow.set_parameters(&params[nd..])?;
        self.params.copy_from_slice(params);
        Ok(())
    }
    fn loss_grad(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.loss_grad_in(xs, contexts, grad, false)
    }
    // The internal order: the discrete part's gradient as it is, then the flow's
    // in its own internal order (converted once per step, not once per block).
    fn internal_grad_len(&self) -> usize {
        self.discrete.parameters().len() + self.flow.internal_grad_len()
    }
    fn loss_grad_internal(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.loss_grad_in(xs, contexts, grad, true)
    }
    fn grad_from_internal(&self, internal: &[f64], grad: &mut [f64]) -> Result<(), FlowError> {
        crate::rows::check_len(internal, self.internal_grad_len(), "internal gradient")?;
        crate::rows::check_len(grad, self.params.len(), "grad")?;
        let nd = self.discrete.parameters().len();
        let (id, ic) = internal.split_at(nd);
        let (gd, gc) = grad.split_at_mut(nd);
        self.discrete.grad_from_internal(id, gd)?;
        self.flow.grad_from_internal(ic, gc)
    }
}

impl Persist for Mnle {
    const KIND: &'static str = "mnle";
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError> {
        io::to_bytes(
            Self::KIND,
            &State {
                log_transform: self.config.log_transform,
                delay: self.config.delay,
                tail_scale: self.config.tail_scale,
                discrete: self.discrete.state(),
                flow: self.flow.state(),
            },
        )
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError> {
        let s: State = io::from_bytes(Self::KIND, bytes)?;
        let discrete = CategoricalMass::from_state(s.discrete)?;
        let flow = Nsf::from_state(s.flow)?;
        if flow.context_dim() != discrete.context_dim() + 1 {
            return Err(FlowError::Corrupt(format!(
                "the flow's context has {} coordinates, expected θ ({}) and the discrete value",
                flow.context_dim(),
                discrete.context_dim()
            )));
        }
        if let Some(k) = s.delay
            && k > discrete.context_dim()
        {
            return Err(FlowError::Corrupt(format!(
                "delay coordinate {k} outside θ's {} coordinates",
                discrete.context_dim() + 1
            )));
        }
        check_tail(s.tail_scale, s.log_transform).map_err(FlowError::Corrupt)?;
        let mut params = discrete.parameters().to_vec();
        params.extend_from_slice(flow.parameters());
        Ok(Self {
            config: MnleConfig {
                discrete: discrete.config().clone(),
                flow: flow.config().clone(),
                log_transform: s.log_transform,
                delay: s.delay,
                tail_scale: s.tail_scale,
            },
            discrete,
            flow,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Transform;

    /// inverse ∘ forward is the identity (to 1e-13 relative in t, over t from 10⁻⁸ s
    /// to 10⁴ s), and the derivatives agree with central differences (1e-6 relative,
    /// the differences' truncation and rounding at step 10⁻⁶ t).
    #[test]
    fn the_tail_transform_inverts_and_differentiates() {
        for s in [0.0, 1e-3, 0.05, 2.0] {
            let map = Transform { log: true, tail: s };
            for e in -80..=40 {
                let t = 10f64.powf(f64::from(e) / 10.0);
                let (y, lj) = map.forward(t).unwrap();
                let back = map.inverse(y);
                assert!((back - t).abs() <= 1e-13 * t, "s {s}: t {t} → {y} → {back}");
                let h = 1e-6 * t;
                let (yp, ljp) = map.forward(t + h).unwrap();
                let (ym, ljm) = map.forward(t - h).unwrap();
                let (dy, dlj) = map.derivatives(t);
                let fd_y = (yp - ym) / (2.0 * h);
                let fd_lj = (ljp - ljm) / (2.0 * h);
                assert!((dy - fd_y).abs() <= 1e-6 * dy.abs(), "dy {dy} vs {fd_y}");
                assert!(
                    (dlj - fd_lj).abs() <= 1e-6 * dlj.abs().max(1.0 / t),
                    "{dlj} vs {fd_lj}"
                );
                // ln dy/dt is the log-Jacobian
                assert!(
                    (lj - dy.ln()).abs() <= 1e-12 * (1.0 + lj.abs()),
                    "{lj} vs {}",
                    dy.ln()
                );
            }
        }
        assert_eq!(
            Transform {
                log: true,
                tail: 0.1
            }
            .forward(0.0),
            None
        );
        assert_eq!(
            Transform {
                log: true,
                tail: 0.1
            }
            .forward(f64::NAN),
            None
        );
    }
}
