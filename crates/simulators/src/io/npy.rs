//! A reader for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0) for the
//! arrays simulations come in: little-endian `float64` or `float32`, C order,
//! one or two dimensions.
//!
//! The format (numpy's `numpy/lib/format.py`, "NEP 1"): the magic string
//! `\x93NUMPY`, a major and a minor version byte, the header length (2 bytes
//! little-endian in version 1, 4 bytes in versions 2 and 3), then the header,
//! a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, then the
//! data.

use std::path::Path;

use super::{LoadError, read_file};

const MAGIC: &[u8] = b"\x93NUMPY";

/// What is wrong with a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file (bad magic string)")]
    BadMagic,
    /// A format version this reader does not know.
    #[error("unsupported .npy format version {major}.{minor}")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The file ends before the header or the data does.
    #[error("truncated .npy file: the {part} needs {expected} bytes, {got} present")]
    Truncated {
        /// `"preamble"`, `"header"` or `"data"`.
        part: &'static str,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// More bytes after the data than the header announces.
    #[error("{extra} bytes after the data the header describes")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
    /// The header is not the dict literal the format prescribes.
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    /// An element type other than little-endian float64 or float32.
    #[error("unsupported dtype `{0}`: expected little-endian float64 (`<f8`) or float32 (`<f4`)")]
    UnsupportedDtype(String),
    /// The array is stored in Fortran (column-major) order.
    #[error("array in Fortran order; save it in C order (numpy.ascontiguousarray)")]
    FortranOrder,
    /// Neither one- nor two-dimensional.
    #[error("array of shape {0:?}: expected one row per simulation (1-D or 2-D)")]
    UnsupportedShape(Vec<usize>),
}

/// A 2-D array of f64 read from a `.npy` file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl NpyArray {
    /// Number of rows (a 1-D array is one column).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The values, row-major, by value.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }
}

/// The element types read.
#[derive(Debug, Clone, Copy)]
enum Dtype {
    F8,
    F4,
}

/// The three header fields.
struct Header {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Reads a `.npy` file.
pub fn load_npy(path: impl AsRef<Path>) -> Result<NpyArray, LoadError> {
    let path = path.as_ref();
    parse_npy(&read_file(path)?).map_err(|source| LoadError::Npy {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let need = |part, expected: usize| {
        if bytes.len() < expected {
            Err(NpyError::Truncated {
                part,
                expected,
                got: bytes.len(),
            })
        } else {
            Ok(())
        }
    };
    need("preamble", 8)?;
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    need("preamble", 8 + len_bytes)?;
    let header_len = bytes[8..8 + len_bytes]
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let data_start = 8 + len_bytes + header_len;
    need("header", data_start)?;
    let raw = &bytes[8 + len_bytes..data_start];
    let text = if utf8 {
        std::str::from_utf8(raw).ok()
    } else {
        raw.is_ascii()
            .then(|| std::str::from_utf8(raw).ok())
            .flatten()
    }
    .ok_or_else(|| NpyError::BadHeader("not ASCII/UTF-8 text".to_string()))?;
    let header = parse_header(text)?;
    if header.fortran_order {
        return Err(NpyError::FortranOrder);
    }
    let (rows, cols) = match header.shape.as_slice() {
        [n] => (*n, 1),
        [n, m] => (*n, *m),
        _ => return Err(NpyError::UnsupportedShape(header.shape)),
    };
    let item = match header.dtype {
        Dtype::F8 => 8,
        Dtype::F4 => 4,
    };
    let data_len = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(item))
        .ok_or_else(|| NpyError::BadHeader(format!("shape {:?} too large", header.shape)))?;
    let data_end = data_start
        .checked_add(data_len)
        .ok_or_else(|| NpyError::BadHeader(format!("shape {:?} too large", header.shape)))?;
    need("data", data_end)?;
    if bytes.len() > data_end {
        return Err(NpyError::TrailingBytes {
            extra: bytes.len() - data_end,
        });
    }
    let body = &bytes[data_start..data_end];
    let data = match header.dtype {
        Dtype::F8 => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        Dtype::F4 => body
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
    };
    Ok(NpyArray { rows, cols, data })
}

/// A value of the header dict.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A cursor over the header text.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn bad<T>(&self, what: &str) -> Result<T, NpyError> {
        let near: String = self.rest.chars().take(20).collect();
        Err(NpyError::BadHeader(format!("{what} near `{near}`")))
    }

    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// Consumes `c` (after whitespace) if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), NpyError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.bad(&format!("expected `{c}`"))
        }
    }

    fn string(&mut self) -> Result<String, NpyError> {
        self.skip_ws();
        let Some(quote) = self.rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return self.bad("expected a quoted string");
        };
        let body = &self.rest[1..];
        let Some(end) = body.find(quote) else {
            return self.bad("unterminated string");
        };
        self.rest = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn value(&mut self) -> Result<Value, NpyError> {
        self.skip_ws();
        if self.rest.starts_with(['\'', '"']) {
            return self.string().map(Value::Str);
        }
        for (word, b) in [("True", true), ("False", false)] {
            if let Some(r) = self.rest.strip_prefix(word) {
                self.rest = r;
                return Ok(Value::Bool(b));
            }
        }
        if self.eat('(') {
            let mut dims = Vec::new();
            loop {
                if self.eat(')') {
                    return Ok(Value::Tuple(dims));
                }
                self.skip_ws();
                let digits = self
                    .rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(self.rest.len());
                let Ok(n) = self.rest[..digits].parse::<usize>() else {
                    return self.bad("expected a dimension");
                };
                self.rest = &self.rest[digits..];
                dims.push(n);
                if !self.eat(',') {
                    self.expect(')')?;
                    return Ok(Value::Tuple(dims));
                }
            }
        }
        if self.rest.starts_with('[') {
            // A list descr: a structured dtype.
            let end = self.rest.find(']').map_or(self.rest.len(), |i| i + 1);
            return Err(NpyError::UnsupportedDtype(self.rest[..end].to_string()));
        }
        self.bad("expected a string, True, False or a tuple")
    }
}

fn parse_header(text: &str) -> Result<Header, NpyError> {
    let mut cur = Cursor { rest: text };
    cur.expect('{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if cur.eat('}') {
            break;
        }
        let key = cur.string()?;
        cur.expect(':')?;
        let value = cur.value()?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(NpyError::BadHeader(format!(
                    "`{key}` has the wrong type: {v:?}"
                )));
            }
            _ => {}
        }
        if !cur.eat(',') {
            cur.expect('}')?;
            break;
        }
    }
    if !cur.rest.trim().is_empty() {
        return cur.bad("text after the dict");
    }
    let missing = |k: &str| NpyError::BadHeader(format!("no `{k}` key"));
    let descr = descr.ok_or_else(|| missing("descr"))?;
    let dtype = match descr.as_str() {
        "<f8" => Dtype::F8,
        "<f4" => Dtype::F4,
        _ => return Err(NpyError::UnsupportedDtype(descr)),
    };
    Ok(Header {
        dtype,
        fortran_order: fortran.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}
