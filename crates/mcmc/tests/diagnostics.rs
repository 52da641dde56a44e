//! The diagnostics against ArviZ on fixed draws (`data/diagnostics_fixture.json`,
//! made by `scripts/make_diagnostics_fixture.py`), plus behaviour tests: R-hat of
//! mixed and unmixed chains, ESS of known autocorrelation, error values, and no
//! panic for any input.

use mcmc::diagnostics::{
    DiagnosticsError, MIN_DRAWS, Summary, SummaryRow, ebfmi, ess_bulk, ess_mean, ess_tail,
    mcse_mean, mcse_sd, normal_quantile, quantiles, rhat,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

const FIXTURE: &str = include_str!("data/diagnostics_fixture.json");

/// Relative tolerance against ArviZ. Same algorithm, different rounding: a
/// power-of-two FFT here against pocketfft at numpy's 5-smooth length, plain
/// against pairwise sums, AS 241 against Cephes' `ndtri`. The largest differences
/// measured over the fixture are about 1e-14 (ESS, MCSE) and 6e-14 (a mean near
/// zero); 1e-12 leaves room for other platforms' `libm` while any change of method
/// (splitting, ranking, Geyer truncation) moves results by 1e-4 or more.
const ARVIZ_RTOL: f64 = 1e-12;
/// Quantiles interpolate sorted draws as numpy does: equal to an ulp or two.
const QUANTILE_RTOL: f64 = 1e-15;
/// AS 241 is accurate to about 1e-16; with a few ulps of evaluation rounding.
const NDTRI_RTOL: f64 = 2e-15;
/// Bounds for the statistical checks on simulated chains, each a few standard
/// errors of the estimate wide at these sizes (4 × 10,000 draws).
const ESS_IID_RTOL: f64 = 0.1;
const ESS_AR1_RTOL: f64 = 0.2;

/// One of the scalar diagnostics of one parameter's chains.
type Statistic = fn(&[&[f64]]) -> Result<f64, DiagnosticsError>;

fn fixture() -> Value {
    let value: Value = serde_json::from_str(FIXTURE).expect("fixture is valid JSON");
    assert!(value["cases"].as_array().map_or(0, Vec::len) >= 10);
    value
}

/// A fixture number: JSON numbers, or "nan" / "inf" / "-inf".
fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) => s.parse().expect("nan or inf"),
        other => panic!("not a number: {other}"),
    }
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .expect("chains")
        .iter()
        .map(|c| c.as_array().expect("chain").iter().map(num).collect())
        .collect()
}

fn slices(m: &[Vec<f64>]) -> Vec<&[f64]> {
    m.iter().map(Vec::as_slice).collect()
}

/// Relative difference, 0 when both are NaN or the same infinity.
fn rel_diff(ours: f64, reference: f64) -> f64 {
    if ours == reference || (ours.is_nan() && reference.is_nan()) {
        return 0.0;
    }
    (ours - reference).abs() / reference.abs()
}

/// Compares `stat` over every fixture case where ArviZ gives a value; a case for
/// which ours is an error must be one ArviZ answers with NaN.
fn check_statistic(
    key: &str,
    rtol: f64,
    stat: impl Fn(&[&[f64]]) -> Result<f64, DiagnosticsError>,
) {
    let fixture = fixture();
    let mut failures = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let draws = matrix(&case["draws"]);
        let expected = num(&case[key]);
        match stat(&slices(&draws)) {
            Ok(ours) if rel_diff(ours, expected) <= rtol => {}
            Ok(ours) => failures.push(format!("{name}: {ours} vs ArviZ {expected}")),
            Err(e) if expected.is_nan() => assert!(
                matches!(e, DiagnosticsError::TooFewChains { .. }),
                "{name}: {e}"
            ),
            Err(e) => failures.push(format!("{name}: error {e}, ArviZ {expected}")),
        }
    }
    assert!(failures.is_empty(), "{key}:\n{}", failures.join("\n"));
}

#[test]
fn rhat_matches_arviz_rank_rhat() {
    check_statistic("rhat", ARVIZ_RTOL, rhat);
}

#[test]
fn ess_bulk_matches_arviz() {
    check_statistic("ess_bulk", ARVIZ_RTOL, ess_bulk);
}

#[test]
fn ess_tail_matches_arviz() {
    check_statistic("ess_tail", ARVIZ_RTOL, ess_tail);
}

#[test]
fn ess_mean_matches_arviz() {
    check_statistic("ess_mean", ARVIZ_RTOL, ess_mean);
}

#[test]
fn mcse_mean_matches_arviz() {
    check_statistic("mcse_mean", ARVIZ_RTOL, mcse_mean);
}

#[test]
fn mcse_sd_matches_arviz() {
    check_statistic("mcse_sd", ARVIZ_RTOL, mcse_sd);
}

#[test]
fn one_chain_rhat_is_an_error_where_arviz_says_nan() {
    let fixture = fixture();
    let case = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "one_chain")
        .expect("one_chain case");
    assert!(num(&case["rhat"]).is_nan());
    let draws = matrix(&case["draws"]);
    assert_eq!(
        rhat(&slices(&draws)),
        Err(DiagnosticsError::TooFewChains { chains: 1, min: 2 })
    );
}

#[test]
fn quantiles_match_numpy() {
    let fixture = fixture();
    let probs: Vec<f64> = fixture["quantile_probs"]
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    for case in fixture["cases"].as_array().unwrap() {
        let draws = matrix(&case["draws"]);
        let ours = quantiles(&slices(&draws), &probs).unwrap();
        for ((o, e), p) in ours
            .iter()
            .zip(case["quantiles"].as_array().unwrap())
            .zip(&probs)
        {
            let e = num(e);
            assert!(
                rel_diff(*o, e) <= QUANTILE_RTOL,
                "{} q{p}: {o} vs {e}",
                case["name"]
            );
        }
    }
}

#[test]
fn summary_rows_match_arviz_summary() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let draws = matrix(&case["draws"]);
        let row = SummaryRow::new(name, &slices(&draws)).unwrap();
        let expected = &case["summary"];
        let columns = [
            ("mean", row.mean, ARVIZ_RTOL),
            ("sd", row.sd, ARVIZ_RTOL),
            ("mcse_mean", row.mcse_mean, ARVIZ_RTOL),
            ("ess_bulk", row.ess_bulk, ARVIZ_RTOL),
            ("ess_tail", row.ess_tail, ARVIZ_RTOL),
            ("r_hat", row.r_hat, ARVIZ_RTOL),
        ];
        for (column, ours, rtol) in columns {
            let e = num(&expected[column]);
            assert!(rel_diff(ours, e) <= rtol, "{name} {column}: {ours} vs {e}");
        }
        let q = num(&case["quantiles"][1]);
        assert!(rel_diff(row.q5, q) <= QUANTILE_RTOL, "{name} 5%");
        let q = num(&case["quantiles"][3]);
        assert!(rel_diff(row.q50, q) <= QUANTILE_RTOL, "{name} 50%");
        let q = num(&case["quantiles"][5]);
        assert!(rel_diff(row.q95, q) <= QUANTILE_RTOL, "{name} 95%");
    }
}

#[test]
fn ebfmi_matches_arviz_bfmi() {
    let fixture = fixture();
    for case in fixture["bfmi"].as_array().unwrap() {
        let energy = matrix(&case["energy"]);
        let expected = case["bfmi"].as_array().unwrap();
        assert_eq!(energy.len(), expected.len());
        for (chain, e) in energy.iter().zip(expected) {
            let ours = ebfmi(chain).unwrap();
            let e = num(e);
            assert!(
                rel_diff(ours, e) <= ARVIZ_RTOL,
                "{}: {ours} vs {e}",
                case["name"]
            );
        }
    }
}

#[test]
fn normal_quantile_matches_scipy_ndtri() {
    let fixture = fixture();
    let ps = fixture["ndtri"]["p"].as_array().unwrap();
    let zs = fixture["ndtri"]["z"].as_array().unwrap();
    assert!(ps.len() >= 10);
    for (p, z) in ps.iter().zip(zs) {
        let (p, z) = (num(p), num(z));
        let ours = normal_quantile(p);
        assert!(rel_diff(ours, z) <= NDTRI_RTOL, "p = {p}: {ours} vs {z}");
    }
}

#[test]
fn normal_quantile_known_values_and_edges() {
    // Textbook values (Abramowitz & Stegun 26.2; 1.959963984540054 = Φ⁻¹(0.975)).
    let known = [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.025, -1.959_963_984_540_054),
        (0.95, 1.644_853_626_951_472_2),
        (0.841_344_746_068_542_9, 1.0),
    ];
    for (p, z) in known {
        let ours = normal_quantile(p);
        assert!(
            (ours - z).abs() <= NDTRI_RTOL * z.abs().max(1.0),
            "{p}: {ours} vs {z}"
        );
    }
    // Symmetry where 1 − p is exact.
    for p in [0.001, 0.0625, 0.25, 0.3, 0.4375] {
        assert_eq!(normal_quantile(p), -normal_quantile(1.0 - p), "{p}");
    }
    // Monotone across the region boundaries of AS 241.
    let grid: Vec<f64> = (1..10_000).map(|i| i as f64 / 10_000.0).collect();
    assert!(
        grid.windows(2)
            .all(|w| normal_quantile(w[0]) < normal_quantile(w[1]))
    );
    assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    assert_eq!(normal_quantile(1.0), f64::INFINITY);
    for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        assert!(normal_quantile(bad).is_nan(), "{bad}");
    }
}

fn normal_chains(seed: u64, chains: usize, draws: usize, rho: f64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let innovation = (1.0 - rho * rho).sqrt();
    (0..chains)
        .map(|_| {
            let mut x: f64 = StandardNormal.sample(&mut rng);
            (0..draws)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    x = rho * x + innovation * e;
                    x
                })
                .collect()
        })
        .collect()
}

#[test]
fn iid_chains_have_rhat_near_one_and_full_ess() {
    let chains = normal_chains(1, 4, 10_000, 0.0);
    let c = slices(&chains);
    let n = 40_000.0;
    let r = rhat(&c).unwrap();
    assert!((0.999..1.005).contains(&r), "R-hat {r}");
    for (what, ess) in [
        ("bulk", ess_bulk(&c).unwrap()),
        ("tail", ess_tail(&c).unwrap()),
        ("mean", ess_mean(&c).unwrap()),
    ] {
        assert!((ess / n - 1.0).abs() < ESS_IID_RTOL, "ESS {what} {ess}");
    }
    // The MCSE of the mean of iid N(0, 1) draws is about 1/√n.
    let mcse = mcse_mean(&c).unwrap();
    assert!((mcse * n.sqrt() - 1.0).abs() < ESS_IID_RTOL, "MCSE {mcse}");
}

#[test]
fn ar1_chains_have_the_theoretical_ess() {
    // ESS of the mean of AR(1) draws: n (1 − ρ)/(1 + ρ).
    let rho = 0.9;
    let chains = normal_chains(2, 4, 10_000, rho);
    let c = slices(&chains);
    let theory = 40_000.0 * (1.0 - rho) / (1.0 + rho);
    for ess in [ess_mean(&c).unwrap(), ess_bulk(&c).unwrap()] {
        assert!(
            (ess / theory - 1.0).abs() < ESS_AR1_RTOL,
            "{ess} vs {theory}"
        );
    }
    assert!(rhat(&c).unwrap() < 1.01);
}

#[test]
fn rhat_flags_shifted_and_rescaled_chains() {
    // One chain one sd away: the bulk R-hat sees it.
    let mut chains = normal_chains(3, 4, 1000, 0.0);
    chains[3].iter_mut().for_each(|x| *x += 1.0);
    assert!(rhat(&slices(&chains)).unwrap() > 1.1);
    // Same centre, three times the spread: only the folded (tail) R-hat sees it.
    let mut chains = normal_chains(4, 4, 1000, 0.0);
    chains[3].iter_mut().for_each(|x| *x *= 3.0);
    assert!(rhat(&slices(&chains)).unwrap() > 1.05);
}

#[test]
fn bad_input_is_a_named_error() {
    let ok = [0.1, 0.4, -0.3, 0.2, 0.0];
    let every: [Statistic; 6] = [rhat, ess_bulk, ess_tail, ess_mean, mcse_mean, mcse_sd];
    for stat in every {
        assert_eq!(stat(&[]), Err(DiagnosticsError::NoChains));
        assert_eq!(
            stat(&[&ok, &ok[..4]]),
            Err(DiagnosticsError::UnequalChains {
                chain: 1,
                len: 4,
                expected: 5
            })
        );
        assert_eq!(
            stat(&[&ok[..3], &ok[..3]]),
            Err(DiagnosticsError::TooFewDraws {
                draws: 3,
                min: MIN_DRAWS
            })
        );
        let nan = [0.1, 0.2, f64::NAN, 0.3, 0.0];
        assert!(matches!(
            stat(&[&ok, &nan]),
            Err(DiagnosticsError::NonFiniteDraw { chain: 1, draw: 2, value }) if value.is_nan()
        ));
        let inf = [0.1, 0.2, 0.3, 0.0, f64::NEG_INFINITY];
        assert_eq!(
            stat(&[&inf, &ok]),
            Err(DiagnosticsError::NonFiniteDraw {
                chain: 0,
                draw: 4,
                value: f64::NEG_INFINITY
            })
        );
    }
    assert_eq!(
        rhat(&[&ok]),
        Err(DiagnosticsError::TooFewChains { chains: 1, min: 2 })
    );
    assert_eq!(
        quantiles(&[&ok], &[0.5, 1.5]),
        Err(DiagnosticsError::InvalidProbability { prob: 1.5 })
    );
    assert!(matches!(
        quantiles(&[&ok], &[f64::NAN]),
        Err(DiagnosticsError::InvalidProbability { .. })
    ));
    assert_eq!(
        ebfmi(&[1.0]),
        Err(DiagnosticsError::TooFewDraws { draws: 1, min: 2 })
    );
    assert_eq!(
        ebfmi(&[1.0, f64::INFINITY]),
        Err(DiagnosticsError::NonFiniteEnergy {
            draw: 1,
            value: f64::INFINITY
        })
    );
}

#[test]
fn summary_bad_input_is_a_named_error() {
    let draws = [0.0; 12];
    assert_eq!(
        Summary::new::<&str>(&[], &[&draws]),
        Err(DiagnosticsError::NoParameters)
    );
    assert_eq!(Summary::new(&["a"], &[]), Err(DiagnosticsError::NoChains));
    assert_eq!(
        Summary::new(&["a", "b", "c", "d", "e"], &[&draws]),
        Err(DiagnosticsError::RaggedDraws {
            chain: 0,
            len: 12,
            dim: 5
        })
    );
    assert_eq!(
        Summary::new(&["a", "b"], &[&draws, &draws[..10]]),
        Err(DiagnosticsError::UnequalChains {
            chain: 1,
            len: 5,
            expected: 6
        })
    );
    assert_eq!(
        Summary::new(&["a", "b", "c", "d"], &[&draws]),
        Err(DiagnosticsError::TooFewDraws {
            draws: 3,
            min: MIN_DRAWS
        })
    );
    let mut bad = [0.5; 12];
    bad[7] = f64::NAN;
    let err = Summary::new(&["a", "b"], &[&draws, &bad]).unwrap_err();
    assert!(
        matches!(&err, DiagnosticsError::Parameter { name, source }
            if name == "b" && matches!(**source, DiagnosticsError::NonFiniteDraw { chain: 1, draw: 3, .. })),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("parameter `b`: draw 3 of chain 1")
    );
}

#[test]
fn constant_draws_behave_as_in_arviz() {
    let constant = [1.5; 101];
    let c: [&[f64]; 3] = [&constant, &constant, &constant];
    assert!(rhat(&c).unwrap().is_nan());
    // 3 chains × 2 × 50: the middle draw of each odd-length chain is not used.
    assert_eq!(ess_bulk(&c).unwrap(), 300.0);
    assert_eq!(ess_tail(&c).unwrap(), 300.0);
    assert_eq!(mcse_mean(&c).unwrap(), 0.0);
    assert!(mcse_sd(&c).unwrap().is_nan());
    assert!(ebfmi(&constant).unwrap().is_nan());

    let (a, b) = ([2.0; 8], [3.0; 8]);
    assert_eq!(rhat(&[&a, &b]).unwrap(), f64::INFINITY);
}

/// Two chains of three parameters, the last constant.
fn example_summary() -> Summary {
    let chains = normal_chains(5, 2, 200, 0.3);
    let flat: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().flat_map(|&x| [x, 100.0 * x.exp(), 7.0]).collect())
        .collect();
    Summary::new(&["mu", "tau|scale", "fixed"], &slices(&flat)).unwrap()
}

#[test]
fn summary_rows_are_the_single_parameter_diagnostics() {
    let chains = normal_chains(5, 2, 200, 0.3);
    let c = slices(&chains);
    let summary = example_summary();
    let mu = summary.get("mu").unwrap();
    assert_eq!(mu.ess_bulk, ess_bulk(&c).unwrap());
    assert_eq!(mu.ess_tail, ess_tail(&c).unwrap());
    assert_eq!(mu.r_hat, rhat(&c).unwrap());
    assert_eq!(mu.mcse_mean, mcse_mean(&c).unwrap());
    assert_eq!(
        [mu.q5, mu.q50, mu.q95].to_vec(),
        quantiles(&c, &[0.05, 0.5, 0.95]).unwrap()
    );
    let fixed = summary.get("fixed").unwrap();
    assert_eq!((fixed.mean, fixed.sd), (7.0, 0.0));
    assert!(fixed.r_hat.is_nan());
    assert!(summary.get("nope").is_none());

    let one = Summary::new(&["mu"], &[&chains[0]]).unwrap();
    assert!(one.rows[0].r_hat.is_nan());
    assert!(one.rows[0].ess_bulk > 0.0);
}

#[test]
fn summary_display_is_an_aligned_table() {
    let text = example_summary().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    let headers: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        headers,
        [
            "mean",
            "sd",
            "5%",
            "50%",
            "95%",
            "mcse_mean",
            "ess_bulk",
            "ess_tail",
            "r_hat"
        ]
    );
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{text}");
    assert!(lines[1].starts_with("mu "));
    assert!(
        lines[3].starts_with("fixed") && lines[3].ends_with("NaN"),
        "{text}"
    );
    // R-hat right-aligned under its header, with three decimals.
    let r_hat = lines[1].rsplit(' ').next().unwrap();
    assert_eq!(r_hat.split('.').nth(1).map(str::len), Some(3));
    // Precision sets the significant digits.
    let six = format!("{:.6}", example_summary());
    assert!(six.lines().nth(3).unwrap().contains("7.00000"), "{six}");
}

#[test]
fn summary_markdown_table() {
    let md = example_summary().to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(
        lines[0],
        "| name | mean | sd | 5% | 50% | 95% | mcse_mean | ess_bulk | ess_tail | r_hat |"
    );
    assert_eq!(
        lines[1],
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    assert!(lines[3].starts_with("| tau\\|scale | "), "{md}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("| ") && l.ends_with(" |"))
    );
    assert!(lines.iter().all(|l| l.matches(" | ").count() == 9), "{md}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any f64 input gives a value or an error, never a panic.
    #[test]
    fn no_panic_for_any_draws(
        chains in proptest::collection::vec(
            proptest::collection::vec(any::<f64>(), 0..12), 0..4),
    ) {
        let c: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let _ = (rhat(&c), ess_bulk(&c), ess_tail(&c), ess_mean(&c));
        let _ = (mcse_mean(&c), mcse_sd(&c), quantiles(&c, &[0.0, 0.3, 1.0]));
        let _ = Summary::new(&["a", "b"], &c).map(|s| (s.to_string(), s.to_markdown()));
        for chain in &c {
            let _ = ebfmi(chain);
        }
    }

    /// Finite draws of equal length ≥ 4 always succeed, with sane values.
    #[test]
    fn finite_draws_give_sane_diagnostics(
        chains in (2usize..5, 4usize..40).prop_flat_map(|(m, n)| {
            proptest::collection::vec(proptest::collection::vec(-1e6..1e6f64, n), m)
        }),
    ) {
        let c: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let r = rhat(&c).unwrap();
        prop_assert!(r.is_nan() || r > 0.0);
        let size = (c.len() * c[0].len()) as f64;
        for ess in [ess_bulk(&c).unwrap(), ess_tail(&c).unwrap(), ess_mean(&c).unwrap()] {
            // Antithetic chains can exceed n, but by at most a factor log10(n).
            prop_assert!(ess > 0.0 && ess <= size * size.log10() + 1e-9, "{}", ess);
        }
        prop_assert!(mcse_mean(&c).unwrap() >= 0.0);
    }
}
