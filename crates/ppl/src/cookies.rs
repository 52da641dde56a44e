//! The cookie-factory data set and its pooled, unpooled and hierarchical Poisson models
//! (REFERENCES.md §1; J. Orduz's NumPyro example; the "Pyro meets SBI" talk).
//!
//! 150 cookies from 5 locations, 30 each: `chips` is the number of chocolate chips,
//! `location` its factory (1–5 in the file, 0–4 here).

use crate::ad::Var;
use crate::dist::{Distribution, Exponential, Gamma, Poisson};
use crate::error::PplError;
use crate::model::Model;

/// The cookie data: chip counts and 0-based location indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Cookies {
    /// Chip counts.
    pub chips: Vec<f64>,
    /// 0-based location of each cookie.
    pub location: Vec<usize>,
    /// Number of locations.
    pub n_locations: usize,
}

/// The CSV shipped with the crate (`chips,location`).
pub const COOKIES_CSV: &str = include_str!("../data/cookies.csv");

impl Cookies {
    /// The built-in data set (150 cookies, 5 locations).
    pub fn load() -> Result<Cookies, PplError> {
        Cookies::parse(COOKIES_CSV)
    }

    /// Parses `chips,location` CSV text with a header line; locations are 1-based.
    pub fn parse(text: &str) -> Result<Cookies, PplError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        match lines.next() {
            Some((_, h)) if h.trim() == "chips,location" => {}
            other => {
                return Err(PplError::Data(format!(
                    "expected the header `chips,location`, found {:?}",
                    other.map(|(_, l)| l)
                )));
            }
        }
        let (mut chips, mut location) = (Vec::new(), Vec::new());
        for (i, line) in lines {
            let bad = |what: &str| PplError::Data(format!("line {}: {what}: `{line}`", i + 1));
            let (c, l) = line
                .trim()
                .split_once(',')
                .ok_or_else(|| bad("expected two fields"))?;
            let c: u64 = c.trim().parse().map_err(|_| bad("chips is not a count"))?;
            let l: usize = l
                .trim()
                .parse()
                .map_err(|_| bad("location is not a positive integer"))?;
            if l == 0 {
                return Err(bad("locations are numbered from 1"));
            }
            chips.push(c as f64);
            location.push(l - 1);
        }
        if chips.is_empty() {
            return Err(PplError::Data("no rows".into()));
        }
        let n_locations = location.iter().max().map_or(0, |m| m + 1);
        Ok(Cookies {
            chips,
            location,
            n_locations,
        })
    }

    /// Number of cookies.
    pub fn len(&self) -> usize {
        self.chips.len()
    }

    /// Whether there are no cookies.
    pub fn is_empty(&self) -> bool {
        self.chips.is_empty()
    }

    /// Mean chip count per location.
    pub fn location_means(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.n_locations];
        let mut n = vec![0.0; self.n_locations];
        for (&c, &l) in self.chips.iter().zip(&self.location) {
            sum[l] += c;
            n[l] += 1.0;
        }
        sum.iter().zip(&n).map(|(s, n)| s / n).collect()
    }
}

/// Pooled: `lam ~ Gamma(2, 0.2)`, `chips_i ~ Poisson(lam)`.
pub fn pooled(m: &mut Model<'_>, data: &Cookies) -> Result<(), PplError> {
    pooled_with(m, data, Poisson::new)
}

/// Unpooled: `lam_l ~ Gamma(2, 0.2)` per location, `chips_i ~ Poisson(lam_{loc_i})`.
pub fn unpooled(m: &mut Model<'_>, data: &Cookies) -> Result<(), PplError> {
    unpooled_with(m, data, Poisson::new)
}

/// Hierarchical: `mu ~ Gamma(2, 0.2)`, `sigma ~ Exponential(1)`,
/// `lam_l ~ Gamma(mu²/sigma², mu/sigma²)` (mean mu, sd sigma), `chips_i ~ Poisson(lam_{loc_i})`.
pub fn hierarchical(m: &mut Model<'_>, data: &Cookies) -> Result<(), PplError> {
    hierarchical_with(m, data, Poisson::new)
}

/// The pooled model with another likelihood of a chip count given its rate (e.g. a
/// learned one): `chips_i ~ likelihood(lam)`.
pub fn pooled_with<'t, D: Distribution<'t>>(
    m: &mut Model<'t>,
    data: &Cookies,
    likelihood: impl Fn(Var<'t>) -> Result<D, PplError>,
) -> Result<(), PplError> {
    let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
    m.plate("data", data.len(), |m| {
        m.observe("obs", likelihood(lam)?, &data.chips)
    })
}

/// The unpooled model with another likelihood: `chips_i ~ likelihood(lam_{loc_i})`,
/// the rates given per cookie (gathered from the locations).
pub fn unpooled_with<'t, D: Distribution<'t>>(
    m: &mut Model<'t>,
    data: &Cookies,
    likelihood: impl Fn(Var<'t>) -> Result<D, PplError>,
) -> Result<(), PplError> {
    let lam = m.plate("location", data.n_locations, |m| {
        m.sample("lam", Gamma::new(2.0, 0.2)?)
    })?;
    m.plate("data", data.len(), |m| {
        m.observe("obs", likelihood(lam.gather(&data.location))?, &data.chips)
    })
}

/// The hierarchical model with another likelihood: `chips_i ~ likelihood(lam_{loc_i})`.
pub fn hierarchical_with<'t, D: Distribution<'t>>(
    m: &mut Model<'t>,
    data: &Cookies,
    likelihood: impl Fn(Var<'t>) -> Result<D, PplError>,
) -> Result<(), PplError> {
    let mu = m.sample("mu", Gamma::new(2.0, 0.2)?)?;
    let sigma = m.sample("sigma", Exponential::new(1.0)?)?;
    let var = sigma * sigma;
    let lam = m.plate("location", data.n_locations, |m| {
        m.sample("lam", Gamma::new(mu * mu / var, mu / var)?)
    })?;
    m.plate("data", data.len(), |m| {
        m.observe("obs", likelihood(lam.gather(&data.location))?, &data.chips)
    })
}
