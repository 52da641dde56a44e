//! Placeholder module: filled by the distributions work in progress.
