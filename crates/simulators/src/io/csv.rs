//! (θ, x) pairs from comma-separated text, one simulation per line.

use std::path::Path;

use super::{LoadError, Simulations, read_file};

/// Which CSV columns hold θ and which hold x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvColumns {
    /// By header prefix: a column belongs to θ when its name is `theta` or
    /// starts with `theta` followed by a character that is not a letter
    /// (`theta_1`, `theta1`, `theta[0]`), and likewise for x. Other columns
    /// are ignored. sbibm's files use `parameter_*` and `data_*`.
    Prefixed {
        /// Prefix of the θ columns.
        theta: String,
        /// Prefix of the x columns.
        x: String,
    },
    /// By exact header names, in the order given.
    Named {
        /// Names of the θ columns.
        theta: Vec<String>,
        /// Names of the x columns.
        x: Vec<String>,
    },
    /// By position: the first `theta_dim` columns are θ, the rest x.
    Split {
        /// Number of θ columns.
        theta_dim: usize,
        /// Whether the first line is a header (skipped).
        header: bool,
    },
}

impl Default for CsvColumns {
    /// `Prefixed { theta: "theta", x: "x" }`.
    fn default() -> Self {
        CsvColumns::prefixed("theta", "x")
    }
}

impl CsvColumns {
    /// [`CsvColumns::Prefixed`] with these prefixes.
    pub fn prefixed(theta: &str, x: &str) -> Self {
        CsvColumns::Prefixed {
            theta: theta.to_string(),
            x: x.to_string(),
        }
    }

    /// [`CsvColumns::Named`] with these names.
    pub fn named(theta: &[&str], x: &[&str]) -> Self {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        CsvColumns::Named {
            theta: own(theta),
            x: own(x),
        }
    }

    fn needs_header(&self) -> bool {
        !matches!(self, CsvColumns::Split { header: false, .. })
    }
}

/// Whether the column `name` belongs to the group with this prefix.
fn has_prefix(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some(rest) => rest.chars().next().is_none_or(|c| !c.is_alphabetic()),
        None => false,
    }
}

/// The field's text without surrounding whitespace and double quotes.
fn field(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

/// Column indices of θ and x from the header, per the layout.
fn select(header: &[&str], columns: &CsvColumns) -> Result<(Vec<usize>, Vec<usize>), LoadError> {
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(LoadError::DuplicateColumn(name.to_string()));
        }
    }
    let (theta, x) = match columns {
        CsvColumns::Prefixed { theta, x } => {
            let pick = |prefix: &str| -> Result<Vec<usize>, LoadError> {
                let idx: Vec<usize> = (0..header.len())
                    .filter(|&i| has_prefix(header[i], prefix))
                    .collect();
                if idx.is_empty() {
                    Err(LoadError::MissingColumn(prefix.to_string()))
                } else {
                    Ok(idx)
                }
            };
            (pick(theta)?, pick(x)?)
        }
        CsvColumns::Named { theta, x } => {
            let pick = |names: &[String], what| -> Result<Vec<usize>, LoadError> {
                if names.is_empty() {
                    return Err(LoadError::NoColumns(what));
                }
                names
                    .iter()
                    .map(|n| {
                        header
                            .iter()
                            .position(|h| h == n)
                            .ok_or_else(|| LoadError::MissingColumn(n.clone()))
                    })
                    .collect()
            };
            (pick(theta, "θ")?, pick(x, "x")?)
        }
        CsvColumns::Split { theta_dim, .. } => {
            if *theta_dim == 0 {
                return Err(LoadError::NoColumns("θ"));
            }
            if *theta_dim >= header.len() {
                return Err(LoadError::NoColumns("x"));
            }
            (
                (0..*theta_dim).collect(),
                (*theta_dim..header.len()).collect(),
            )
        }
    };
    let mut all: Vec<usize> = theta.iter().chain(&x).copied().collect();
    all.sort_unstable();
    if let Some(w) = all.windows(2).find(|w| w[0] == w[1]) {
        return Err(LoadError::DuplicateColumn(header[w[0]].to_string()));
    }
    Ok((theta, x))
}

/// Pairs from CSV text.
///
/// Fields are separated by commas and may be quoted with `"` (quoted commas
/// are not supported); blank lines and
/// lines starting with `#` are skipped, except that a first line starting
/// with `#` is the header when a header is expected (numpy's `savetxt`
/// writes `# a,b,c`). Numbers are read by Rust's `f64` parser, which
/// accepts `nan`, `inf` and `-inf` (any case).
pub fn read_csv(text: &str, columns: &CsvColumns) -> Result<Simulations, LoadError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Option<Vec<String>> = if columns.needs_header() {
        let (_, line) = lines.next().ok_or(LoadError::NoHeader)?;
        let line = line.trim_start();
        let line = line.strip_prefix('#').unwrap_or(line);
        Some(line.split(',').map(|f| field(f).to_string()).collect())
    } else {
        None
    };
    let mut width = header.as_ref().map(Vec::len);
    let mut names: Vec<String> = header.clone().unwrap_or_default();
    let mut selection: Option<(Vec<usize>, Vec<usize>)> = None;
    if let Some(h) = &header {
        let refs: Vec<&str> = h.iter().map(String::as_str).collect();
        selection = Some(select(&refs, columns)?);
    }
    let (mut theta, mut x) = (Vec::new(), Vec::new());
    let mut values: Vec<f64> = Vec::new();
    for (line_no, line) in lines {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(LoadError::FieldCount {
                line: line_no,
                expected,
                got: fields.len(),
            });
        }
        if selection.is_none() {
            names = (1..=expected).map(|i| i.to_string()).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            selection = Some(select(&refs, columns)?);
        }
        values.clear();
        for (i, f) in fields.iter().enumerate() {
            let text = field(f);
            let v = text.parse::<f64>().map_err(|_| LoadError::BadNumber {
                line: line_no,
                column: names[i].clone(),
                text: text.to_string(),
            })?;
            values.push(v);
        }
        if let Some((ti, xi)) = &selection {
            theta.extend(ti.iter().map(|&i| values[i]));
            x.extend(xi.iter().map(|&i| values[i]));
        }
    }
    let Some((ti, xi)) = selection else {
        return Err(LoadError::NoHeader);
    };
    Simulations::new(ti.len(), xi.len(), theta, x)
}

/// Pairs from a CSV file (see [`read_csv`] for the format).
pub fn load_csv(path: impl AsRef<Path>, columns: &CsvColumns) -> Result<Simulations, LoadError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    read_csv(&text, columns)
}
