//! Probabilistic programming over vectorized reverse-mode autodiff.
