//! Simulations made elsewhere: (θ, x) pairs from CSV files ([`load_csv`])
//! and NumPy `.npy` files ([`load_npy_pair`]), so that users with a Python
//! or C++ simulator can train here.
//!
//! Values are kept as read, NaN and ±∞ included: a simulation that failed
//! elsewhere is data that the training side excludes and counts, as sbi does.
//!
//! ```
//! use simulators::io::{CsvColumns, read_csv};
//! let text = "theta_1,theta_2,x\n0.5,1.0,3\n0.25,2.0,nan\n";
//! let sims = read_csv(text, &CsvColumns::default())?;
//! assert_eq!((sims.len(), sims.theta_dim(), sims.x_dim()), (2, 2, 1));
//! assert_eq!(sims.theta_row(1), Some(&[0.25, 2.0][..]));
//! assert!(sims.x_row(1).unwrap()[0].is_nan());
//! # Ok::<(), simulators::io::LoadError>(())
//! ```

mod csv;
mod npy;

use std::path::{Path, PathBuf};

pub use csv::{CsvColumns, load_csv, read_csv};
pub use npy::{NpyArray, NpyError, load_npy, parse_npy};

/// Why simulations could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A `.npy` file is malformed or holds an unsupported array.
    #[error("{path}: {source}")]
    Npy {
        /// The file (empty when parsed from bytes).
        path: PathBuf,
        /// What is wrong with it.
        source: NpyError,
    },
    /// A CSV file has no header line where one is needed, or no lines at all.
    #[error("the CSV text has no header line")]
    NoHeader,
    /// No CSV column has the name (or prefix) asked for.
    #[error("no CSV column named `{0}` (or starting with it)")]
    MissingColumn(String),
    /// A CSV column is named twice, or selected for both θ and x.
    #[error("CSV column `{0}` is named or selected twice")]
    DuplicateColumn(String),
    /// A CSV line has another number of fields than the first line.
    #[error("line {line}: {got} fields, expected {expected}")]
    FieldCount {
        /// 1-based line number.
        line: usize,
        /// Fields of the first line.
        expected: usize,
        /// Fields of this line.
        got: usize,
    },
    /// A CSV field is not a number.
    #[error("line {line}, column `{column}`: cannot read `{text}` as a number")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// The column's name (or 1-based position without a header).
        column: String,
        /// The field's text.
        text: String,
    },
    /// θ or x would have no columns.
    #[error("{0} has no columns")]
    NoColumns(&'static str),
    /// θ and x have different numbers of rows.
    #[error("θ has {theta_rows} rows but x has {x_rows}")]
    RowMismatch {
        /// Rows of θ.
        theta_rows: usize,
        /// Rows of x.
        x_rows: usize,
    },
    /// A flat buffer's length is not a multiple of its row width.
    #[error("{what} has {len} values, not a multiple of its width {width}")]
    Shape {
        /// `"θ"` or `"x"`.
        what: &'static str,
        /// Values given.
        len: usize,
        /// Row width.
        width: usize,
    },
}

/// n simulated pairs (θᵢ, xᵢ), stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulations {
    theta_dim: usize,
    x_dim: usize,
    theta: Vec<f64>,
    x: Vec<f64>,
}

impl Simulations {
    /// Pairs from row-major θ (`n × theta_dim`) and x (`n × x_dim`) buffers.
    pub fn new(
        theta_dim: usize,
        x_dim: usize,
        theta: Vec<f64>,
        x: Vec<f64>,
    ) -> Result<Self, LoadError> {
        let rows = |what, len: usize, width: usize| {
            if width == 0 {
                Err(LoadError::NoColumns(what))
            } else if !len.is_multiple_of(width) {
                Err(LoadError::Shape { what, len, width })
            } else {
                Ok(len / width)
            }
        };
        let theta_rows = rows("θ", theta.len(), theta_dim)?;
        let x_rows = rows("x", x.len(), x_dim)?;
        if theta_rows != x_rows {
            return Err(LoadError::RowMismatch { theta_rows, x_rows });
        }
        Ok(Simulations {
            theta_dim,
            x_dim,
            theta,
            x,
        })
    }

    /// Pairs from two arrays with one row per simulation.
    pub fn from_arrays(theta: NpyArray, x: NpyArray) -> Result<Self, LoadError> {
        let (theta_dim, x_dim) = (theta.cols(), x.cols());
        if theta.rows() != x.rows() {
            return Err(LoadError::RowMismatch {
                theta_rows: theta.rows(),
                x_rows: x.rows(),
            });
        }
        Self::new(theta_dim, x_dim, theta.into_data(), x.into_data())
    }

    /// Pairs from one array whose first `theta_dim` columns are θ and the rest x.
    pub fn split_columns(array: &NpyArray, theta_dim: usize) -> Result<Self, LoadError> {
        let cols = array.cols();
        if theta_dim == 0 {
            return Err(LoadError::NoColumns("θ"));
        }
        if theta_dim >= cols {
            return Err(LoadError::NoColumns("x"));
        }
        let mut theta = Vec::with_capacity(array.rows() * theta_dim);
        let mut x = Vec::with_capacity(array.rows() * (cols - theta_dim));
        for row in array.data().chunks_exact(cols) {
            theta.extend_from_slice(&row[..theta_dim]);
            x.extend_from_slice(&row[theta_dim..]);
        }
        Self::new(theta_dim, cols - theta_dim, theta, x)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.theta.len() / self.theta_dim
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.theta.is_empty()
    }

    /// Width of θ.
    pub fn theta_dim(&self) -> usize {
        self.theta_dim
    }

    /// Width of x.
    pub fn x_dim(&self) -> usize {
        self.x_dim
    }

    /// All θ, row-major.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// All x, row-major.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// θ of pair `i`.
    pub fn theta_row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.theta_dim)?;
        self.theta.get(start..start.checked_add(self.theta_dim)?)
    }

    /// x of pair `i`.
    pub fn x_row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.x_dim)?;
        self.x.get(start..start.checked_add(self.x_dim)?)
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[f64], &[f64])> {
        self.theta
            .chunks_exact(self.theta_dim)
            .zip(self.x.chunks_exact(self.x_dim))
    }

    /// The row-major θ and x buffers.
    pub fn into_parts(self) -> (Vec<f64>, Vec<f64>) {
        (self.theta, self.x)
    }
}

/// Pairs from a θ file and an x file with one row per simulation (each 2-D,
/// or 1-D for a single column), `float64` or `float32`.
pub fn load_npy_pair(
    theta_path: impl AsRef<Path>,
    x_path: impl AsRef<Path>,
) -> Result<Simulations, LoadError> {
    Simulations::from_arrays(load_npy(theta_path)?, load_npy(x_path)?)
}

/// The whole file, or [`LoadError::Io`].
fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}
