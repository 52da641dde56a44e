//! Writers: one cmdstan CSV file per chain and a JSON summary of the run.
//!
//! The CSV layout is cmdstan's, so that ArviZ's `from_cmdstan` (and other Stan CSV
//! readers) can read it: `#` comment lines with the configuration, the header
//! `lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,<names>`,
//! the adaptation result as comments, one line per draw, the timing as comments. Numbers
//! are written in Rust's shortest round-trip form, so reading them back gives the same
//! `f64`. Every file is written atomically: a temporary file in the same folder, renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Algorithm, Chain, DrawStats, InverseMetric, McmcError, Metric, Settings};

/// The sampler columns of a cmdstan CSV file, in order.
pub const CMDSTAN_COLUMNS: [&str; 7] = [
    "lp__",
    "accept_stat__",
    "stepsize__",
    "treedepth__",
    "n_leapfrog__",
    "divergent__",
    "energy__",
];

/// Version of the JSON summary layout; changes when a field changes meaning or goes away.
pub const SUMMARY_FORMAT_VERSION: u32 = 1;

/// Names `base.1`, …, `base.dim`, cmdstan's names for the elements of a vector.
pub fn indexed_names(base: &str, dim: usize) -> Vec<String> {
    (1..=dim).map(|i| format!("{base}.{i}")).collect()
}

/// Writes one chain as a cmdstan CSV file at `path` (atomically). `param_names` names the
/// columns of the draws (`dim` of them, e.g. `lam.1`); the warm-up draws come first when
/// the chain kept them (cmdstan's `save_warmup = 1`).
pub fn write_cmdstan_csv<S: AsRef<str>>(
    path: &Path,
    chain: &Chain,
    param_names: &[S],
    settings: &Settings,
) -> Result<(), McmcError> {
    check_names(param_names, chain.dim)?;
    write_atomically(path, |w| cmdstan_csv(w, chain, param_names, settings))
}

/// Writes every chain to `dir/{prefix}_{c + 1}.csv` (cmdstan numbers chains from 1) and
/// returns the paths in chain order.
pub fn write_cmdstan_csvs<S: AsRef<str>>(
    dir: &Path,
    prefix: &str,
    chains: &[Chain],
    param_names: &[S],
    settings: &Settings,
) -> Result<Vec<PathBuf>, McmcError> {
    chains
        .iter()
        .map(|chain| {
            let path = dir.join(format!("{prefix}_{}.csv", chain.chain + 1));
            write_cmdstan_csv(&path, chain, param_names, settings)?;
            Ok(path)
        })
        .collect()
}

/// The cmdstan CSV text of one chain, written to `w` (no name checks, not atomic).
pub fn cmdstan_csv<W: Write, S: AsRef<str>>(
    w: &mut W,
    chain: &Chain,
    param_names: &[S],
    settings: &Settings,
) -> std::io::Result<()> {
    let (algorithm, engine) = match settings.algorithm {
        Algorithm::StaticHmc { .. } => ("hmc", "static"),
        _ => ("hmc", "nuts"),
    };
    let metric = match settings.metric {
        Metric::Dense => "dense_e",
        _ => "diag_e",
    };
    let save_warmup = !chain.warmup_stats.is_empty();
    writeln!(w, "# mcmc = {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(w, "# method = sample")?;
    writeln!(w, "#   num_samples = {}", chain.num_draws())?;
    writeln!(w, "#   num_warmup = {}", settings.num_warmup)?;
    writeln!(w, "#   save_warmup = {}", u8::from(save_warmup))?;
    writeln!(w, "#   thin = 1")?;
    writeln!(w, "#   algorithm = {algorithm}")?;
    writeln!(w, "#     engine = {engine}")?;
    match settings.algorithm {
        Algorithm::StaticHmc { n_leapfrog } => writeln!(w, "#       n_leapfrog = {n_leapfrog}")?,
        _ => writeln!(w, "#       max_depth = {}", settings.max_tree_depth)?,
    }
    writeln!(w, "#     metric = {metric}")?;
    writeln!(w, "#     delta = {}", settings.target_accept)?;
    writeln!(w, "# id = {}", chain.chain + 1)?;
    writeln!(w, "# seed = {}", settings.seed)?;
    write!(w, "{}", CMDSTAN_COLUMNS.join(","))?;
    for name in param_names {
        write!(w, ",{}", name.as_ref())?;
    }
    writeln!(w)?;
    let dim = chain.dim;
    for (stats, row) in chain
        .warmup_stats
        .iter()
        .zip(chain.warmup_draws.chunks_exact(dim))
    {
        csv_row(w, stats, row)?;
    }
    writeln!(w, "# Adaptation terminated")?;
    writeln!(w, "# Step size = {}", chain.step_size)?;
    match &chain.inv_metric {
        InverseMetric::Diagonal(v) => {
            writeln!(w, "# Diagonal elements of inverse mass matrix:")?;
            writeln!(w, "# {}", join(v))?;
        }
        InverseMetric::Dense { dim, matrix } => {
            writeln!(w, "# Elements of inverse mass matrix:")?;
            for row in matrix.chunks_exact((*dim).max(1)) {
                writeln!(w, "# {}", join(row))?;
            }
        }
    }
    for (stats, row) in chain.stats.iter().zip(chain.rows()) {
        csv_row(w, stats, row)?;
    }
    writeln!(w, "# ")?;
    writeln!(
        w,
        "#  Elapsed Time: {} seconds (Warm-up)",
        chain.warmup_seconds
    )?;
    writeln!(
        w,
        "#                {} seconds (Sampling)",
        chain.sampling_seconds
    )?;
    writeln!(
        w,
        "#                {} seconds (Total)",
        chain.warmup_seconds + chain.sampling_seconds
    )?;
    writeln!(w, "# ")?;
    Ok(())
}

fn csv_row<W: Write>(w: &mut W, s: &DrawStats, row: &[f64]) -> std::io::Result<()> {
    write!(
        w,
        "{},{},{},{},{},{},{}",
        s.lp,
        s.accept_stat,
        s.step_size,
        s.tree_depth,
        s.n_leapfrog,
        u8::from(s.divergent),
        s.energy
    )?;
    for x in row {
        write!(w, ",{x}")?;
    }
    writeln!(w)
}

fn join(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_names<S: AsRef<str>>(names: &[S], dim: usize) -> Result<(), McmcError> {
    if names.len() != dim {
        return Err(McmcError::ParamNames {
            expected: dim,
            found: names.len(),
        });
    }
    for name in names {
        let name = name.as_ref();
        if name.is_empty() || name.contains([',', '"', '\n', '\r']) {
            return Err(McmcError::BadParamName(name.to_string()));
        }
    }
    Ok(())
}

/// A run at a glance: the settings and, per chain, the adapted tuning, the counts a user
/// checks first and the time. Serialized as JSON with a `format_version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// [`SUMMARY_FORMAT_VERSION`].
    pub format_version: u32,
    /// Version of this crate.
    pub mcmc_version: String,
    /// The settings of the run.
    pub settings: Settings,
    /// One entry per chain.
    pub chains: Vec<ChainSummary>,
}

/// One chain in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChainSummary {
    /// Index of the chain.
    pub chain: usize,
    /// Kept draws.
    pub num_draws: usize,
    /// Step size after warm-up.
    pub step_size: f64,
    /// Inverse metric after warm-up.
    pub inv_metric: InverseMetric,
    /// Divergent transitions after warm-up.
    pub divergences: usize,
    /// Draws after warm-up that reached the maximum tree depth.
    pub max_tree_depth_hits: usize,
    /// Mean acceptance statistic after warm-up.
    pub mean_accept_stat: f64,
    /// Mean leapfrog steps per draw after warm-up.
    pub mean_n_leapfrog: f64,
    /// Gradient evaluations of the whole chain.
    pub grad_evals: u64,
    /// Wall time of initialization and warm-up, in seconds.
    pub warmup_seconds: f64,
    /// Wall time of sampling, in seconds.
    pub sampling_seconds: f64,
}

impl Summary {
    /// The summary of `chains` sampled with `settings`.
    pub fn new(settings: &Settings, chains: &[Chain]) -> Self {
        let chains = chains
            .iter()
            .map(|c| {
                let n = c.num_draws().max(1) as f64;
                ChainSummary {
                    chain: c.chain,
                    num_draws: c.num_draws(),
                    step_size: c.step_size,
                    inv_metric: c.inv_metric.clone(),
                    divergences: c.divergences(),
                    max_tree_depth_hits: match settings.algorithm {
                        Algorithm::Nuts => c.tree_depth_hits(settings.max_tree_depth),
                        _ => 0,
                    },
                    mean_accept_stat: c.stats.iter().map(|s| s.accept_stat).sum::<f64>() / n,
                    mean_n_leapfrog: c.stats.iter().map(|s| f64::from(s.n_leapfrog)).sum::<f64>()
                        / n,
                    grad_evals: c.grad_evals,
                    warmup_seconds: c.warmup_seconds,
                    sampling_seconds: c.sampling_seconds,
                }
            })
            .collect();
        Self {
            format_version: SUMMARY_FORMAT_VERSION,
            mcmc_version: env!("CARGO_PKG_VERSION").to_string(),
            settings: settings.clone(),
            chains,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, McmcError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Writes the JSON to `path` (atomically).
    pub fn write_json(&self, path: &Path) -> Result<(), McmcError> {
        let text = self.to_json()?;
        write_atomically(path, |w| w.write_all(text.as_bytes()))
    }
}

/// Writes through `f` into a temporary file beside `path`, then renames it to `path`, so
/// that a reader never sees half a file.
fn write_atomically(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), McmcError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| McmcError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // The temporary file may not exist; a failed cleanup changes nothing for the caller.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
