//! What [`Maf`](crate::Maf) and [`Nsf`](crate::Nsf) share as thin wrappers of
//! the autoregressive flow: the trait implementations and the z-scores.

use crate::{FlowError, RowsView, ZScore};

/// Implements [`ConditionalDensity`](crate::ConditionalDensity) and
/// [`Trainable`](crate::Trainable) for a wrapper with a field `flow: ArFlow`.
macro_rules! delegate_to_flow {
    ($t:ty) => {
        impl $crate::ConditionalDensity for $t {
            fn x_dim(&self) -> usize {
                self.flow.x_dim()
            }
            fn context_dim(&self) -> usize {
                self.flow.context_dim()
            }
            fn log_prob_batch(
                &self,
                xs: $crate::RowsView<'_>,
                contexts: $crate::RowsView<'_>,
                out: &mut [f64],
            ) -> Result<(), $crate::FlowError> {
                $crate::categorical::check_batch(self, xs, contexts, out.len())?;
                self.flow.log_prob_batch(xs, contexts, out)
            }
            fn sum_log_prob_grad_context(
                &self,
                xs: $crate::RowsView<'_>,
                context: &[f64],
                grad: &mut [f64],
            ) -> Result<f64, $crate::FlowError> {
                self.flow.sum_log_prob_grad_context(xs, context, grad)
            }
            fn sample(
                &self,
                context: &[f64],
                n: usize,
                rng: &mut dyn rand::Rng,
            ) -> Result<$crate::Rows, $crate::FlowError> {
                self.flow.sample(context, n, rng)
            }
        }
        impl $crate::Trainable for $t {
            fn parameters(&self) -> &[f64] {
                &self.flow.params
            }
            fn set_parameters(&mut self, params: &[f64]) -> Result<(), $crate::FlowError> {
                self.flow.set_parameters(params)
            }
            fn loss_grad(
                &self,
                xs: $crate::RowsView<'_>,
                contexts: $crate::RowsView<'_>,
                grad: &mut [f64],
            ) -> Result<f64, $crate::FlowError> {
                $crate::categorical::check_batch(self, xs, contexts, xs.len())?;
                self.flow.loss_grad(xs, contexts, grad)
            }
            fn loss_grad_internal(
                &self,
                xs: $crate::RowsView<'_>,
                contexts: $crate::RowsView<'_>,
                grad: &mut [f64],
            ) -> Result<f64, $crate::FlowError> {
                $crate::categorical::check_batch(self, xs, contexts, xs.len())?;
                self.flow.loss_grad_internal(xs, contexts, grad)
            }
            fn grad_from_internal(
                &self,
                internal: &[f64],
                grad: &mut [f64],
            ) -> Result<(), $crate::FlowError> {
                let n = self.flow.params.len();
                $crate::rows::check_len(internal, n, "internal gradient")?;
                $crate::rows::check_len(grad, n, "grad")?;
                self.flow.grad_from_sorted(internal, grad);
                Ok(())
            }
            fn adam_step(
                &mut self,
                adam: &mut $crate::Adam,
                grad: &[f64],
            ) -> Result<(), $crate::FlowError> {
                self.flow.adam_step(adam, grad)
            }
        }
    };
}
pub(crate) use delegate_to_flow;

/// z-scores from training data, or identities.
pub(crate) fn fit_zscores(
    (z_x, z_c): (bool, bool),
    xs: RowsView<'_>,
    contexts: RowsView<'_>,
) -> Result<(ZScore, ZScore), FlowError> {
    let fit = |on: bool, rows: RowsView<'_>| {
        if on {
            ZScore::fit(rows)
        } else {
            Ok(ZScore::identity(rows.cols()))
        }
    };
    Ok((fit(z_x, xs)?, fit(z_c, contexts)?))
}
