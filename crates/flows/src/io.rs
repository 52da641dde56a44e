//! Versioned save/load: one JSON envelope `{format, version, kind, estimator}`,
//! written atomically.
//!
//! JSON is chosen over a binary form because the files are small (a default MAF
//! is ~30k parameters, well under 1 MB), readable by any language (a Python
//! script can load the weights into PyTorch) and diffable; `serde_json`'s
//! `float_roundtrip` parses every saved f64 back to the identical value, so a
//! loaded estimator gives bit-identical log-probabilities.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ConditionalDensity, FlowError};

/// The `format` tag of every saved estimator.
pub const FORMAT: &str = "flows-estimator";
/// The format version this build writes and reads. It changes when a field
/// changes meaning or goes away.
pub const FORMAT_VERSION: u32 = 1;

/// Save and load an estimator in the versioned JSON format.
///
/// ```
/// use flows::{CategoricalConfig, CategoricalMass, ConditionalDensity, Persist, Rows};
///
/// let theta = Rows::new(vec![1.0, 2.0, 3.0], 1)?;
/// let q = CategoricalMass::new(&CategoricalConfig::new(0, 4), theta.view(), 1)?;
/// let back = CategoricalMass::from_bytes(&q.to_bytes()?)?;
/// assert_eq!(q.log_prob(&[2.0], &[1.5])?, back.log_prob(&[2.0], &[1.5])?);
/// # Ok::<(), flows::FlowError>(())
/// ```
pub trait Persist: Sized {
    /// The `kind` tag of this estimator in the saved form.
    const KIND: &'static str;
    /// The saved form.
    fn to_bytes(&self) -> Result<Vec<u8>, FlowError>;
    /// Parses and checks a saved form: a corrupt file, another format version or
    /// another estimator kind is an error, never a panic.
    fn from_bytes(bytes: &[u8]) -> Result<Self, FlowError>;
    /// Writes the saved form to `path` atomically (a temporary file in the same
    /// folder, then a rename), so a reader never sees half a file.
    fn save(&self, path: impl AsRef<Path>) -> Result<(), FlowError> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }
    /// Reads an estimator saved with [`Persist::save`].
    fn load(path: impl AsRef<Path>) -> Result<Self, FlowError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| FlowError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    format: &'a str,
    version: u32,
    kind: &'a str,
    estimator: &'a T,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
    kind: String,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    estimator: T,
}

/// The `kind` tag of a saved estimator (after checking its format and version).
pub fn saved_kind(bytes: &[u8]) -> Result<String, FlowError> {
    let h: Header = serde_json::from_slice(bytes)
        .map_err(|e| FlowError::Corrupt(format!("not a saved estimator: {e}")))?;
    if h.format != FORMAT {
        return Err(FlowError::Corrupt(format!(
            "format tag is `{}`, expected `{FORMAT}`",
            h.format
        )));
    }
    if h.version != FORMAT_VERSION {
        return Err(FlowError::UnsupportedVersion {
            found: h.version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(h.kind)
}

/// Loads a saved estimator of any kind, as a trait object (for callers that only
/// evaluate, such as a likelihood inside a sampler).
///
/// ```
/// use flows::{CategoricalConfig, CategoricalMass, ConditionalDensity, Persist, Rows};
///
/// let theta = Rows::new(vec![1.0, 2.0, 3.0], 1)?;
/// let q = CategoricalMass::new(&CategoricalConfig::new(0, 4), theta.view(), 1)?;
/// let any = flows::io::from_bytes_any(&q.to_bytes()?)?;
/// assert_eq!(any.log_prob(&[2.0], &[1.5])?, q.log_prob(&[2.0], &[1.5])?);
/// # Ok::<(), flows::FlowError>(())
/// ```
pub fn from_bytes_any(bytes: &[u8]) -> Result<Box<dyn ConditionalDensity>, FlowError> {
    use crate::{CategoricalMass, Maf, Mnle, Nsf};
    Ok(match saved_kind(bytes)?.as_str() {
        CategoricalMass::KIND => Box::new(CategoricalMass::from_bytes(bytes)?),
        Maf::KIND => Box::new(Maf::from_bytes(bytes)?),
        Nsf::KIND => Box::new(Nsf::from_bytes(bytes)?),
        Mnle::KIND => Box::new(Mnle::from_bytes(bytes)?),
        other => {
            return Err(FlowError::WrongKind {
                expected: "categorical, maf, nsf or mnle",
                found: other.to_string(),
            });
        }
    })
}

/// [`from_bytes_any`] from a file.
pub fn load_any(path: impl AsRef<Path>) -> Result<Box<dyn ConditionalDensity>, FlowError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| FlowError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes_any(&bytes)
}

pub(crate) fn to_bytes<T: Serialize>(kind: &'static str, state: &T) -> Result<Vec<u8>, FlowError> {
    serde_json::to_vec(&EnvelopeOut {
        format: FORMAT,
        version: FORMAT_VERSION,
        kind,
        estimator: state,
    })
    .map_err(|e| FlowError::Corrupt(format!("cannot serialize: {e}")))
}

pub(crate) fn from_bytes<T: DeserializeOwned>(
    kind: &'static str,
    bytes: &[u8],
) -> Result<T, FlowError> {
    let found = saved_kind(bytes)?;
    if found != kind {
        return Err(FlowError::WrongKind {
            expected: kind,
            found,
        });
    }
    let env: EnvelopeIn<T> = serde_json::from_slice(bytes)
        .map_err(|e| FlowError::Corrupt(format!("bad `{kind}` estimator: {e}")))?;
    Ok(env.estimator)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FlowError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_err = |source| FlowError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_err(std::io::Error::other("path has no file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(e)
    })
}

/// Checks a loaded parameter vector: its length and that it is finite.
pub(crate) fn check_params(params: &[f64], expected: usize) -> Result<(), FlowError> {
    if params.len() != expected {
        return Err(FlowError::Corrupt(format!(
            "{} parameters, the configuration needs {expected}",
            params.len()
        )));
    }
    if params.iter().any(|p| !p.is_finite()) {
        return Err(FlowError::Corrupt("non-finite parameter".into()));
    }
    Ok(())
}

/// Checks parameters handed to `set_parameters`: length, finite, masked entries zero.
pub(crate) fn check_new_params(
    params: &[f64],
    expected: usize,
    masked: &[usize],
) -> Result<(), FlowError> {
    if params.len() != expected {
        return Err(FlowError::DimensionMismatch {
            what: "parameters",
            expected,
            got: params.len(),
        });
    }
    if params.iter().any(|p| !p.is_finite()) {
        return Err(FlowError::NonFinite { what: "parameters" });
    }
    if let Some(&i) = masked.iter().find(|&&i| params[i] != 0.0) {
        return Err(FlowError::InvalidConfig(format!(
            "parameter {i} is a masked MADE weight and must stay zero"
        )));
    }
    Ok(())
}
