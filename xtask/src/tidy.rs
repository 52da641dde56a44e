//! Repository rules, checked by `cargo xtask tidy` and by the `tidy` test (so
//! `cargo test --workspace` enforces them), in the spirit of rust-analyzer's
//! `xtask/src/tidy.rs`:
//!
//! - every crate root (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`) starts
//!   with a `//!` doc comment;
//! - no unfinished-code or debugging macros, no skipped tests and no tests
//!   that expect a panic, in any `.rs` file under `crates/` and `xtask/`;
//! - every dependency of a member manifest is `name.workspace = true` (or an
//!   inline table with `workspace = true`), and every member inherits the
//!   workspace lints;
//! - workspace crates depend only on the crates [`LAYERS`] allows them;
//! - no `.rs` file is longer than [`MAX_LINES`] (over [`WARN_LINES`] warns).
//!
//! Manifests are read by line scanning, not a TOML parser: member manifests
//! are short and regular, and the rule that they stay so is part of tidy.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// A `.rs` file longer than this fails tidy.
const MAX_LINES: usize = 1000;
/// A `.rs` file longer than this is listed as a warning: time to split it.
const WARN_LINES: usize = 600;

/// Which workspace crates each workspace crate may depend on (in any
/// dependency table). The four leaf crates stand alone; `bridge` is the only
/// crate that knows both `ppl` and `flows`. A new crate must be added here.
const LAYERS: &[(&str, &[&str])] = &[
    ("ppl", &[]),
    ("mcmc", &[]),
    ("flows", &[]),
    ("simulators", &[]),
    ("nle", &["flows", "simulators"]),
    ("bridge", &["ppl", "flows", "mcmc"]),
];
/// May depend on every workspace crate.
const TOP: &str = "xtask";

/// Forbidden text in `.rs` files, with the reason. Each pattern is split with
/// `concat!` so this file does not match itself.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        concat!("to", "do!("),
        "unfinished code: finish it or return an error",
    ),
    (
        concat!("unimple", "mented!("),
        "unfinished code: finish it or return an error",
    ),
    (concat!("db", "g!("), "debugging output left in"),
    (
        concat!("#[ig", "nore"),
        "a skipped test: slow checks belong in `cargo xtask validate`",
    ),
    (
        concat!("#[should", "_panic"),
        "a test expecting a panic: test the error value instead",
    ),
];

/// One broken rule (or warning), at a file and maybe a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    /// Path relative to the workspace root, with `/` separators.
    pub(crate) path: String,
    pub(crate) line: Option<usize>,
    pub(crate) msg: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path, self.msg),
            None => write!(f, "{}: {}", self.path, self.msg),
        }
    }
}

/// The result of a tidy run: errors fail it, warnings are only printed.
#[derive(Debug, Default)]
pub(crate) struct Tidy {
    pub(crate) errors: Vec<Finding>,
    pub(crate) warnings: Vec<Finding>,
}

impl Tidy {
    fn error(&mut self, path: &str, line: Option<usize>, msg: impl Into<String>) {
        self.errors.push(Finding {
            path: path.to_string(),
            line,
            msg: msg.into(),
        });
    }
}

/// Runs tidy over the workspace at `root`, prints the findings; returns
/// whether there were no errors.
pub(crate) fn run_and_print(root: &Path) -> anyhow::Result<bool> {
    let tidy = check(root)?;
    for w in &tidy.warnings {
        println!("warning: {w}");
    }
    for e in &tidy.errors {
        println!("error: {e}");
    }
    if tidy.errors.is_empty() {
        println!("tidy: ok ({} warnings)", tidy.warnings.len());
    } else {
        println!(
            "tidy: {} problems ({} warnings)",
            tidy.errors.len(),
            tidy.warnings.len()
        );
    }
    Ok(tidy.errors.is_empty())
}

/// A workspace member: its folder and package name.
struct Member {
    dir: PathBuf,
    name: String,
}

/// Checks every rule over the workspace at `root`.
pub(crate) fn check(root: &Path) -> anyhow::Result<Tidy> {
    let mut tidy = Tidy::default();
    let members = members(root)?;
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    for member in &members {
        check_crate_roots(root, &member.dir, &mut tidy)?;
        let manifest = member.dir.join("Cargo.toml");
        let text = read(&manifest)?;
        check_manifest(
            &rel(root, &manifest),
            &member.name,
            &text,
            &names,
            &mut tidy,
        );
    }
    for dir in ["crates", "xtask"] {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files)?;
        files.sort();
        for file in files {
            check_source(&rel(root, &file), &read(&file)?, &mut tidy);
        }
    }
    Ok(tidy)
}

/// `crates/*` and `xtask`, with their package names, sorted by folder.
fn members(root: &Path) -> anyhow::Result<Vec<Member>> {
    let mut dirs = vec![root.join("xtask")];
    let crates = root.join("crates");
    for entry in
        std::fs::read_dir(&crates).with_context(|| format!("listing {}", crates.display()))?
    {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    let mut members = Vec::new();
    for dir in dirs {
        let manifest = dir.join("Cargo.toml");
        let text = read(&manifest)?;
        let name = package_name(&text)
            .with_context(|| format!("{}: no `name` in [package]", manifest.display()))?;
        members.push(Member { dir, name });
    }
    Ok(members)
}

fn check_crate_roots(root: &Path, dir: &Path, tidy: &mut Tidy) -> anyhow::Result<()> {
    let mut roots = vec![dir.join("src/lib.rs"), dir.join("src/main.rs")];
    if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "rs") {
                roots.push(path);
            }
        }
    }
    for file in roots.into_iter().filter(|f| f.is_file()) {
        if !read(&file)?.starts_with("//!") {
            tidy.error(
                &rel(root, &file),
                Some(1),
                "a crate root must start with a `//!` doc comment",
            );
        }
    }
    Ok(())
}

/// Forbidden patterns and file length.
fn check_source(path: &str, text: &str, tidy: &mut Tidy) {
    for (i, line) in text.lines().enumerate() {
        for (pattern, why) in FORBIDDEN {
            if line.contains(pattern) {
                tidy.error(path, Some(i + 1), format!("`{pattern}`: {why}"));
            }
        }
    }
    let n = text.lines().count();
    if n > MAX_LINES {
        tidy.error(
            path,
            None,
            format!("{n} lines, more than {MAX_LINES}: split the file"),
        );
    } else if n > WARN_LINES {
        let msg = format!("{n} lines, more than {WARN_LINES}: consider splitting the file");
        tidy.warnings.push(Finding {
            path: path.to_string(),
            line: None,
            msg,
        });
    }
}

/// A dependency entry of a member manifest.
#[derive(Debug, PartialEq)]
struct Dep {
    name: String,
    line: usize,
    workspace: bool,
}

/// Dependencies use the workspace, the layering holds, the lints are inherited.
fn check_manifest(path: &str, krate: &str, text: &str, workspace_crates: &[&str], tidy: &mut Tidy) {
    let deps = dependencies(text);
    for dep in deps.iter().filter(|d| !d.workspace) {
        tidy.error(
            path,
            Some(dep.line),
            format!(
                "dependency `{}` must be `{0}.workspace = true`: versions and paths live in the root [workspace.dependencies]",
                dep.name
            ),
        );
    }
    if krate != TOP {
        match LAYERS.iter().find(|(name, _)| *name == krate) {
            None => tidy.error(
                path,
                None,
                format!("crate `{krate}` is not in the layering table: add it to LAYERS in xtask/src/tidy.rs"),
            ),
            Some((_, allowed)) => {
                for dep in &deps {
                    let internal = workspace_crates.contains(&dep.name.as_str());
                    if internal && !allowed.contains(&dep.name.as_str()) {
                        let allowed =
                            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") };
                        tidy.error(
                            path,
                            Some(dep.line),
                            format!(
                                "`{krate}` must not depend on the workspace crate `{}` (allowed: {allowed}; see ARCHITECTURE.md)",
                                dep.name
                            ),
                        );
                    }
                }
            }
        }
    }
    if !inherits_lints(text) {
        tidy.error(path, None, "missing `[lints]` with `workspace = true`");
    }
}

/// The dependency entries of all dependency tables (normal, dev, build, and
/// per-target), merged per table and name: `foo.workspace = true` plus
/// `foo.features = [...]` is one entry.
fn dependencies(text: &str) -> Vec<Dep> {
    // (table kind, dependency name) -> index into `deps`
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut deps: Vec<Dep> = Vec::new();
    let mut record = |kind: &str, name: &str, line: usize, workspace: bool| {
        let key = (kind.to_string(), name.to_string());
        match seen.iter().position(|k| *k == key) {
            Some(i) => deps[i].workspace |= workspace,
            None => {
                seen.push(key);
                deps.push(Dep {
                    name: name.to_string(),
                    line,
                    workspace,
                });
            }
        }
    };
    let mut table: Option<(String, Option<String>)> = None;
    for (line_no, entry) in logical_lines(text) {
        if entry.starts_with('[') {
            let name = entry.trim_matches(|c| c == '[' || c == ']').trim();
            table = dependency_table(name);
            if let Some((kind, Some(dep))) = &table {
                record(kind, dep, line_no, false);
            }
            continue;
        }
        let Some((kind, single)) = &table else {
            continue;
        };
        let Some((key, value)) = entry.split_once('=') else {
            continue;
        };
        let key: String = key
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
            .collect();
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        match single {
            // `[dependencies.foo]` then `workspace = true`
            Some(dep) => record(kind, dep, line_no, key == "workspace" && value == "true"),
            None => {
                let (name, sub) = match key.split_once('.') {
                    Some((name, sub)) => (name, Some(sub)),
                    None => (key.as_str(), None),
                };
                let workspace = match sub {
                    Some(sub) => sub == "workspace" && value == "true",
                    None => value.starts_with('{') && value.contains("workspace=true"),
                };
                record(kind, name, line_no, workspace);
            }
        }
    }
    deps
}

/// Classifies a table header: `Some((kind, None))` for a dependency list such
/// as `dependencies` or `target.'cfg(unix)'.dev-dependencies`, `Some((kind,
/// Some(dep)))` for a one-dependency table such as `dependencies.foo`.
fn dependency_table(name: &str) -> Option<(String, Option<String>)> {
    for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if name == kind || name.ends_with(&format!(".{kind}")) {
            return Some((kind.to_string(), None));
        }
        let prefix = format!("{kind}.");
        let at = if name.starts_with(&prefix) {
            Some(0)
        } else {
            name.find(&format!(".{prefix}")).map(|i| i + 1)
        };
        if let Some(at) = at {
            let dep = name[at + prefix.len()..].trim_matches(|c| c == '"' || c == '\'');
            return Some((kind.to_string(), Some(dep.to_string())));
        }
    }
    None
}

/// Lines with comments stripped and multi-line `{...}` / `[...]` values joined,
/// each with the number of its first physical line. Table headers
/// (`[...]` at the start of a line) are never joined.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut depth: i32 = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if current.is_none() && line.starts_with('[') {
            out.push((i + 1, line.to_string()));
            continue;
        }
        depth += line.matches(['{', '[']).count() as i32 - line.matches(['}', ']']).count() as i32;
        let (_, buf) = current.get_or_insert_with(|| (i + 1, String::new()));
        buf.push_str(line);
        buf.push(' ');
        if depth <= 0 {
            depth = 0;
            if let Some((n, buf)) = current.take() {
                out.push((n, buf.trim_end().to_string()));
            }
        }
    }
    out.extend(current);
    out
}

/// `line` up to a `#` that is outside a string.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

/// `name = "..."` in the `[package]` table.
fn package_name(text: &str) -> Option<String> {
    let mut in_package = false;
    for (_, line) in logical_lines(text) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The manifest has `[lints]` with `workspace = true` (or `lints.workspace = true`).
fn inherits_lints(text: &str) -> bool {
    let mut in_lints = false;
    for (_, line) in logical_lines(text) {
        let flat: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if line.starts_with('[') {
            in_lints = flat == "[lints]";
        } else if (in_lints && flat == "workspace=true") || flat == "lints.workspace=true" {
            return true;
        }
    }
    false
}

/// Every `.rs` file under `dir`, skipping `target` and hidden folders.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn rel(root: &Path, path: &Path) -> String {
    let p = path.strip_prefix(root).unwrap_or(path);
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository itself is tidy: `cargo test --workspace` enforces tidy.
    #[test]
    fn tidy() {
        let root = crate::workspace_root().unwrap();
        let tidy = check(&root).unwrap();
        let errors: Vec<String> = tidy.errors.iter().map(ToString::to_string).collect();
        assert!(
            errors.is_empty(),
            "cargo xtask tidy found:\n{}",
            errors.join("\n")
        );
    }

    const CRATES: &[&str] = &[
        "ppl",
        "flows",
        "nle",
        "mcmc",
        "simulators",
        "bridge",
        "xtask",
    ];

    fn manifest_errors(krate: &str, text: &str) -> Vec<String> {
        let mut tidy = Tidy::default();
        check_manifest("m/Cargo.toml", krate, text, CRATES, &mut tidy);
        tidy.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn dependencies_must_come_from_the_workspace() {
        let text = r#"
[package]
name = "flows" # the estimators
version.workspace = true

[dependencies]
rand.workspace = true
serde = { workspace = true, features = [
    "derive",
] }
libm = "0.2" # a version string
thiserror = { version = "2" }

[dev-dependencies.proptest]
version = "1"

[target.'cfg(unix)'.build-dependencies]
cc = { path = "../cc", features = ["x"] }
approx.workspace = true
approx.features = ["y"]

[lints]
workspace = true
"#;
        assert_eq!(package_name(text).as_deref(), Some("flows"));
        assert_eq!(
            manifest_errors("flows", text),
            [
                "m/Cargo.toml:11: dependency `libm` must be `libm.workspace = true`: versions and paths live in the root [workspace.dependencies]",
                "m/Cargo.toml:12: dependency `thiserror` must be `thiserror.workspace = true`: versions and paths live in the root [workspace.dependencies]",
                "m/Cargo.toml:14: dependency `proptest` must be `proptest.workspace = true`: versions and paths live in the root [workspace.dependencies]",
                "m/Cargo.toml:18: dependency `cc` must be `cc.workspace = true`: versions and paths live in the root [workspace.dependencies]",
            ]
        );
    }

    #[test]
    fn layering_is_enforced() {
        let text = "[dependencies]\nflows.workspace = true\nppl = { workspace = true }\n\n[dev-dependencies]\nmcmc.workspace = true\n\n[lints]\nworkspace = true\n";
        assert_eq!(
            manifest_errors("nle", text),
            [
                "m/Cargo.toml:3: `nle` must not depend on the workspace crate `ppl` (allowed: flows, simulators; see ARCHITECTURE.md)",
                "m/Cargo.toml:6: `nle` must not depend on the workspace crate `mcmc` (allowed: flows, simulators; see ARCHITECTURE.md)",
            ]
        );
        assert_eq!(manifest_errors("xtask", text), Vec::<String>::new());
        assert_eq!(manifest_errors("bridge", text), Vec::<String>::new());
        let leaf = manifest_errors(
            "mcmc",
            "[dependencies]\nppl.workspace = true\n[lints]\nworkspace = true\n",
        );
        assert_eq!(leaf.len(), 1, "{leaf:?}");
        assert!(leaf[0].contains("(allowed: none;"), "{leaf:?}");
        let unknown = manifest_errors("newcrate", "[lints]\nworkspace = true\n");
        assert!(
            unknown[0].contains("not in the layering table"),
            "{unknown:?}"
        );
        let no_lints = manifest_errors("ppl", "[dependencies]\nrand.workspace = true\n");
        assert_eq!(
            no_lints,
            ["m/Cargo.toml: missing `[lints]` with `workspace = true`"]
        );
    }

    #[test]
    fn forbidden_patterns_and_long_files() {
        let src = [
            "//! Docs.",
            concat!("fn f() { to", "do!() }"),
            concat!("#[ig", "nore = \"slow\"]"),
            "let s = \"dbg\"; // fine",
            concat!("#[should", "_panic(expected = \"x\")]"),
        ]
        .join("\n");
        let mut tidy = Tidy::default();
        check_source("a.rs", &src, &mut tidy);
        let lines: Vec<_> = tidy.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(5)]);

        let mut tidy = Tidy::default();
        check_source("long.rs", &"x\n".repeat(WARN_LINES + 1), &mut tidy);
        assert_eq!((tidy.errors.len(), tidy.warnings.len()), (0, 1));
        check_source("longer.rs", &"x\n".repeat(MAX_LINES + 1), &mut tidy);
        assert_eq!(tidy.errors.len(), 1);
        assert_eq!(
            tidy.errors[0].to_string(),
            "longer.rs: 1001 lines, more than 1000: split the file"
        );
    }

    #[test]
    fn comments_are_stripped_outside_strings() {
        assert_eq!(strip_comment(r##"a = "#x" # c"##), r##"a = "#x" "##);
        assert_eq!(strip_comment("# all"), "");
    }
}
