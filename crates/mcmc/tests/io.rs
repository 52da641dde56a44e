//! cmdstan CSV files and the JSON summary read back to what was sampled.

mod common;

use std::path::PathBuf;

use common::Normal;
use mcmc::io::{
    CMDSTAN_COLUMNS, SUMMARY_FORMAT_VERSION, Summary, indexed_names, write_cmdstan_csv,
    write_cmdstan_csvs,
};
use mcmc::{Chain, McmcError, Metric, Settings, sample};

/// A fresh folder under cargo's per-target temporary directory.
fn scratch(name: &str) -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("mcmc-io")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A CSV file read back.
struct Csv {
    comments: Vec<String>,
    header: Vec<String>,
    rows: Vec<Vec<f64>>,
}

fn read_csv(path: &PathBuf) -> anyhow::Result<Csv> {
    let text = std::fs::read_to_string(path)?;
    let mut comments = Vec::new();
    let mut header = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            comments.push(line.to_string());
        } else if header.is_none() {
            header = Some(line.split(',').map(str::to_string).collect());
        } else {
            rows.push(
                line.split(',')
                    .map(str::parse::<f64>)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
    }
    let header = header.ok_or_else(|| anyhow::anyhow!("no header"))?;
    Ok(Csv {
        comments,
        header,
        rows,
    })
}

fn check_rows(rows: &[Vec<f64>], chain: &Chain, stats: &[mcmc::DrawStats], draws: &[f64]) {
    assert_eq!(rows.len(), stats.len());
    for (i, (row, s)) in rows.iter().zip(stats).enumerate() {
        let expected = [
            s.lp,
            s.accept_stat,
            s.step_size,
            f64::from(s.tree_depth),
            f64::from(s.n_leapfrog),
            f64::from(u8::from(s.divergent)),
            s.energy,
        ];
        assert_eq!(&row[..7], &expected);
        assert_eq!(&row[7..], &draws[i * chain.dim..(i + 1) * chain.dim]);
    }
}

#[test]
fn cmdstan_csv_reads_back() -> anyhow::Result<()> {
    let settings = Settings {
        num_warmup: 200,
        num_draws: 50,
        num_chains: 2,
        seed: 21,
        ..Default::default()
    };
    let chains = sample(|_| Normal::standard(3), &settings, None)?;
    let dir = scratch("csv")?;
    let names = indexed_names("lam", 3);
    let paths = write_cmdstan_csvs(&dir, "output", &chains, &names, &settings)?;
    assert_eq!(
        paths,
        vec![dir.join("output_1.csv"), dir.join("output_2.csv")]
    );
    for (path, chain) in paths.iter().zip(&chains) {
        let Csv {
            comments,
            header,
            rows,
        } = read_csv(path)?;
        let mut expected: Vec<String> = CMDSTAN_COLUMNS.iter().map(|s| s.to_string()).collect();
        expected.extend(["lam.1", "lam.2", "lam.3"].map(String::from));
        assert_eq!(header, expected);
        check_rows(&rows, chain, &chain.stats, &chain.draws);
        let has = |s: &str| comments.iter().any(|c| c.contains(s));
        assert!(has(&format!("# Step size = {}", chain.step_size)));
        assert!(has("Diagonal elements of inverse mass matrix:"));
        assert!(has("num_warmup = 200") && has("num_samples = 50") && has("save_warmup = 0"));
        assert!(has("(Warm-up)") && has("(Sampling)"));
    }
    // Nothing but the two files: the temporary files were renamed.
    assert_eq!(std::fs::read_dir(&dir)?.count(), 2);
    Ok(())
}

#[test]
fn warmup_rows_come_first_and_dense_metric_is_written() -> anyhow::Result<()> {
    let settings = Settings {
        num_warmup: 100,
        num_draws: 20,
        num_chains: 1,
        save_warmup: true,
        metric: Metric::Dense,
        ..Default::default()
    };
    let chains = sample(|_| Normal::standard(2), &settings, None)?;
    let chain = &chains[0];
    let path = scratch("warmup")?.join("chain.csv");
    write_cmdstan_csv(&path, chain, &["a", "b"], &settings)?;
    let Csv { comments, rows, .. } = read_csv(&path)?;
    assert_eq!(rows.len(), 120);
    check_rows(
        &rows[..100],
        chain,
        &chain.warmup_stats,
        &chain.warmup_draws,
    );
    check_rows(&rows[100..], chain, &chain.stats, &chain.draws);
    assert!(comments.iter().any(|c| c.contains("save_warmup = 1")));
    assert!(comments.iter().any(|c| c.contains("metric = dense_e")));
    assert!(
        comments
            .iter()
            .any(|c| c == "# Elements of inverse mass matrix:")
    );
    Ok(())
}

#[test]
fn bad_parameter_names_are_refused() -> anyhow::Result<()> {
    let settings = Settings {
        num_warmup: 20,
        num_draws: 5,
        num_chains: 1,
        ..Default::default()
    };
    let chains = sample(|_| Normal::standard(2), &settings, None)?;
    let path = scratch("names")?.join("chain.csv");
    let r = write_cmdstan_csv(&path, &chains[0], &["a"], &settings);
    assert!(matches!(
        r,
        Err(McmcError::ParamNames {
            expected: 2,
            found: 1
        })
    ));
    let r = write_cmdstan_csv(&path, &chains[0], &["a", "b,c"], &settings);
    assert!(matches!(r, Err(McmcError::BadParamName(ref n)) if n == "b,c"));
    assert!(!path.exists());
    // A folder that does not exist is an I/O error naming the file.
    let missing = path.with_file_name("no-such-dir").join("chain.csv");
    let r = write_cmdstan_csv(&missing, &chains[0], &["a", "b"], &settings);
    assert!(matches!(r, Err(McmcError::Io { ref path, .. }) if *path == missing));
    Ok(())
}

#[test]
fn json_summary_reads_back() -> anyhow::Result<()> {
    let settings = Settings {
        num_warmup: 150,
        num_draws: 40,
        num_chains: 2,
        seed: 3,
        ..Default::default()
    };
    let chains = sample(|_| common::Funnel { dim: 4 }, &settings, None)?;
    let summary = Summary::new(&settings, &chains);
    let path = scratch("json")?.join("summary.json");
    summary.write_json(&path)?;
    let text = std::fs::read_to_string(&path)?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(value["format_version"], SUMMARY_FORMAT_VERSION);
    assert_eq!(value["settings"]["num_draws"], 40);
    let back: Summary = serde_json::from_str(&text)?;
    assert_eq!(back, summary);
    for (s, c) in summary.chains.iter().zip(&chains) {
        assert_eq!(s.divergences, c.divergences());
        assert_eq!(s.grad_evals, c.grad_evals);
        assert_eq!(s.step_size, c.step_size);
        assert_eq!(
            s.max_tree_depth_hits,
            c.tree_depth_hits(settings.max_tree_depth)
        );
    }
    Ok(())
}
