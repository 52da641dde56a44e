//! Training passes of the autoregressive flow: the mean negative log-likelihood
//! with its parameter gradient (in the sorted order the batched passes use, or
//! in the layout), and an in-place Adam step.

use super::ArFlow;
use super::batch::{BLOCK, BlockContext, ContextSink};
use crate::nn::with_scratch;
use crate::rows::check_len;
use crate::{Adam, FlowError, RowsView};

impl ArFlow {
    pub(crate) fn loss_grad(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_len(grad, self.params.len(), "grad")?;
        let n_params = self.params.len();
        with_scratch(n_params + self.block_len(xs.len()), |s| {
            let (gs, s) = s.split_at_mut(n_params);
            let loss = self.loss_grad_sorted(xs, contexts, gs, s)?;
            self.grad_from_sorted(gs, grad);
            Ok(loss)
        })
    }
    /// [`ArFlow::loss_grad`] with the gradient in the sorted order of `work` (not
    /// yet zero at the masked weights); [`ArFlow::grad_from_sorted`] converts it.
    pub(crate) fn loss_grad_internal(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        gs: &mut [f64],
    ) -> Result<f64, FlowError> {
        check_len(gs, self.params.len(), "internal gradient")?;
        with_scratch(self.block_len(xs.len()), |s| {
            self.loss_grad_sorted(xs, contexts, gs, s)
        })
    }
    fn loss_grad_sorted(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        gs: &mut [f64],
        s: &mut [f64],
    ) -> Result<f64, FlowError> {
        if xs.is_empty() {
            return Err(FlowError::Empty { what: "xs" });
        }
        if xs.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(FlowError::NonFinite { what: "xs" });
        }
        gs.fill(0.0);
        let mut total = 0.0;
        for start in (0..xs.len()).step_by(BLOCK) {
            let end = (start + BLOCK).min(xs.len());
            let mut b = self.carve(s, end - start);
            self.load_block_x(xs.slice(start, end), &mut b, None);
            let ctx = BlockContext::PerRow(contexts.slice(start, end));
            self.forward_block(end - start, ctx, &mut b);
            total += b.logq[..end - start].iter().sum::<f64>();
            self.backward_block(end - start, &mut b, Some(&mut *gs), ContextSink::Train);
        }
        let scale = -1.0 / xs.len() as f64;
        for g in gs.iter_mut() {
            *g *= scale;
        }
        let n = xs.len() as f64;
        Ok(-(total / n + self.x_z.log_abs_det()))
    }
    /// The gradient `gs` in the sorted order into `grad` in the layout, zero at the
    /// masked weights (the batched products compute some of them).
    pub(crate) fn grad_from_sorted(&self, gs: &[f64], grad: &mut [f64]) {
        // sorted_from is a permutation: every entry of grad is written.
        for ((g, &i), &free) in gs.iter().zip(&self.sorted_from).zip(&self.free_sorted) {
            grad[i] = if free { *g } else { 0.0 };
        }
    }
    /// One Adam step in place, then the checks of [`ArFlow::set_parameters`] (all
    /// finite, masked weights zero) in one pass; on failure the parameters come
    /// back from `work`, so an error leaves them unchanged.
    pub(crate) fn adam_step(&mut self, adam: &mut Adam, grad: &[f64]) -> Result<(), FlowError> {
        check_len(grad, self.params.len(), "grad")?;
        adam.step(&mut self.params, grad)?;
        let ok = (self.params.iter().zip(&self.free)).fold(true, |ok, (p, &free)| {
            ok & p.is_finite() & (free | (*p == 0.0))
        });
        if !ok {
            let err = crate::io::check_new_params(&self.params, self.params.len(), &self.masked)
                .and(Err(FlowError::NonFinite { what: "parameters" }));
            for (w, &i) in self.work.iter().zip(&self.sorted_from) {
                self.params[i] = *w;
            }
            return err;
        }
        for (w, &i) in self.work.iter_mut().zip(&self.sorted_from) {
            *w = self.params[i];
        }
        Ok(())
    }
}
