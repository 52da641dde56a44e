//! The validation checks and their registry.
//!
//! To add a check: write a `fn(&Ctx) -> anyhow::Result<Outcome>` (here or in
//! a module of its own) and add one line to [`ALL`]. Use `ctx.quick` to size
//! the run, `ctx.progress_bar` for long loops and `ctx.output_path` for plots.

use std::fmt::Write as _;

use anyhow::{Context as _, bail, ensure};

use crate::validate::{Check, Ctx, Metric, Outcome};

/// Every validation check, in the order they run and appear in the report.
pub(crate) const ALL: &[Check] = &[Check::new(
    "cookie-data",
    "the cookie data set loads with its published summary",
    cookie_data,
)];

// The cookie data set, embedded so the check does not depend on the working
// directory. Replace with the `ppl` loader once that crate exposes one.
const COOKIES_CSV: &str = include_str!("../../crates/ppl/data/cookies.csv");

/// Locations of the cookie data (REFERENCES.md §1), numbered 1 to 5.
const COOKIE_LOCATIONS: usize = 5;

/// Published per-location mean chip counts (REFERENCES.md §1).
const COOKIE_LOCATION_MEANS: [f64; COOKIE_LOCATIONS] = [9.3, 5.967, 9.567, 8.933, 12.0];

/// The published means are rounded to three decimals.
const COOKIE_MEAN_TOL: f64 = 1e-3;

/// The cookie data: chip counts and their 1-based location.
#[derive(Debug)]
struct Cookies {
    chips: Vec<u32>,
    location: Vec<usize>,
}

/// Parses `chips,location` rows with a header line.
fn parse_cookies(csv: &str) -> anyhow::Result<Cookies> {
    let mut lines = csv.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim());
    ensure!(
        header == Some("chips,location"),
        "expected the header `chips,location`, got {header:?}"
    );
    let mut cookies = Cookies {
        chips: Vec::new(),
        location: Vec::new(),
    };
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row = || format!("cookies.csv line {}: `{line}`", i + 1);
        let Some((chips, location)) = line.split_once(',') else {
            bail!("{}: expected two columns", row())
        };
        let chips: u32 = chips.trim().parse().with_context(row)?;
        let location: usize = location.trim().parse().with_context(row)?;
        ensure!(
            (1..=COOKIE_LOCATIONS).contains(&location),
            "{}: location out of 1..={COOKIE_LOCATIONS}",
            row()
        );
        cookies.chips.push(chips);
        cookies.location.push(location);
    }
    Ok(cookies)
}

/// The cookie data set has 150 rows, 5 locations x 30, Σ chips = 1373 and the
/// published location means.
fn cookie_data(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let cookies = parse_cookies(COOKIES_CSV)?;
    let bar = ctx.progress_bar(cookies.chips.len() as u64, "summarizing");
    let mut count = [0usize; COOKIE_LOCATIONS];
    let mut total = [0u64; COOKIE_LOCATIONS];
    for (&chips, &loc) in cookies.chips.iter().zip(&cookies.location) {
        count[loc - 1] += 1;
        total[loc - 1] += u64::from(chips);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let sum: u64 = total.iter().sum();
    let mut metrics = vec![
        Metric::equals("rows", cookies.chips.len() as f64, 150.0),
        Metric::equals("sum of chips", sum as f64, 1373.0),
    ];
    let mut table =
        String::from("| location | cookies | mean chips | published |\n|---:|---:|---:|---:|\n");
    let mut means = Vec::with_capacity(COOKIE_LOCATIONS);
    for (l, &published) in COOKIE_LOCATION_MEANS.iter().enumerate() {
        let mean = total[l] as f64 / count[l] as f64;
        means.push(format!("{mean:.3}"));
        metrics.push(Metric::equals(
            format!("cookies at location {}", l + 1),
            count[l] as f64,
            30.0,
        ));
        metrics.push(Metric::close(
            format!("mean at location {}", l + 1),
            mean,
            published,
            COOKIE_MEAN_TOL,
        ));
        let _ = writeln!(
            table,
            "| {} | {} | {mean:.4} | {published} |",
            l + 1,
            count[l]
        );
    }
    let summary = format!(
        "{} rows, Σ chips {sum}, location means [{}]",
        cookies.chips.len(),
        means.join(", ")
    );
    Ok(Outcome::from_metrics(summary, metrics).section("Cookies per location", table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_data_check_passes() {
        let outcome = cookie_data(&Ctx::for_tests("cookie-data")).unwrap();
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(outcome.metrics.len(), 2 + 2 * COOKIE_LOCATIONS);
        assert!(
            outcome.summary.starts_with("150 rows, Σ chips 1373"),
            "{}",
            outcome.summary
        );
    }

    #[test]
    fn cookie_parser_refuses_bad_rows() {
        assert!(parse_cookies("chips,loc\n1,1\n").is_err());
        assert!(parse_cookies("chips,location\n1;1\n").is_err());
        assert!(parse_cookies("chips,location\n-1,1\n").is_err());
        assert!(parse_cookies("chips,location\n1,6\n").is_err());
        let c = parse_cookies("chips,location\n12,1\n\n7,5\n").unwrap();
        assert_eq!((c.chips, c.location), (vec![12, 7], vec![1, 5]));
    }
}
