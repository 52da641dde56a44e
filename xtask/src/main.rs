//! Repository automation: `cargo xtask validate [--quick]` and `cargo xtask tidy`.
//!
//! `validate` runs the end-to-end validation checks registered in `checks.rs`,
//! prints a table and writes `target/validate/report.{md,json}`; `tidy` checks
//! the repository rules of `tidy.rs`. Both exit non-zero when something fails.
//! Arguments are parsed by hand: the interface is small and must build fast.

// A command-line tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod checks;
mod cookie_nle;
mod cookie_nuts;
mod ddm_hier;
mod ddm_nle;
mod plots;
mod report;
mod sbibm_nle;
mod stats;
mod tidy;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  validate [--quick] [--ddm-sims N] [--ddm-seed N] [CHECK...]
                                 run the validation checks (all, or the named ones),
                                 print a table, write target/validate/report.{md,json};
                                 --quick is the CI-sized run; --ddm-sims N sets the
                                 DDM MNLE's simulations (default 10^5, --quick 2*10^4),
                                 --ddm-seed N its training seed (default 9)
  validate --list                list the registered checks
  tidy                           check the repository rules (docs, macros, manifests,
                                 crate layering, file length)
  help                           show this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    match cmd.as_str() {
        "validate" => {
            let opts = validate::Options::parse(rest)?;
            let root = workspace_root()?;
            let ok = validate::run(&root, &opts)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "tidy" => {
            if let Some(extra) = rest.first() {
                bail!("`tidy` takes no arguments, got `{extra}`\n\n{USAGE}");
            }
            let root = workspace_root()?;
            let ok = tidy::run_and_print(&root)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The workspace root: the nearest ancestor holding a `Cargo.toml` with a
/// `[workspace]` table, searched from `$CARGO_MANIFEST_DIR` (set by `cargo run`
/// and `cargo test`), then the current directory, then this crate's build-time
/// location (for a binary run by hand from elsewhere).
pub(crate) fn workspace_root() -> anyhow::Result<PathBuf> {
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        starts.push(PathBuf::from(dir));
    }
    if let Ok(dir) = std::env::current_dir() {
        starts.push(dir);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in &starts {
        if let Some(root) = find_workspace_root(start)? {
            return Ok(root);
        }
    }
    bail!("no Cargo.toml with a [workspace] table above any of {starts:?}")
}

/// The nearest ancestor of `start` (itself included) whose `Cargo.toml` has a
/// `[workspace]` table.
pub(crate) fn find_workspace_root(start: &Path) -> anyhow::Result<Option<PathBuf>> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        if text.lines().any(|l| l.trim() == "[workspace]") {
            return Ok(Some(dir.to_path_buf()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_root_from_this_crate() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = find_workspace_root(here).unwrap().unwrap();
        assert_eq!(root, here.parent().unwrap());
        assert!(root.join("crates").is_dir());
        assert_eq!(workspace_root().unwrap(), root);
    }

    #[test]
    fn unknown_commands_are_errors() {
        assert!(run(&["frobnicate".to_string()]).is_err());
        assert!(run(&["tidy".to_string(), "--fix".to_string()]).is_err());
        assert!(run(&["validate".to_string(), "--slow".to_string()]).is_err());
    }
}
