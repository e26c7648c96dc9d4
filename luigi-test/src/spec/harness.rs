//! Specs as tests: every spec file becomes its own test of a
//! `harness = false` test target, so `cargo test` lists, filters and reports
//! each spec by name, and one failing spec fails that test alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use libtest_mimic::{Arguments, Failed, Trial};

use super::{discover, CheckRun, Spec, SpecRun};
use crate::snapshot::Update;

/// The `main` of a spec test target: one test per spec file found under
/// `paths` (files as given, folders as the `*.yaml` files directly inside).
///
/// ```toml
/// [[test]]
/// name = "specs"
/// harness = false
/// ```
///
/// ```no_run
/// // tests/specs.rs
/// fn main() -> std::process::ExitCode {
///     luigi_test::spec::test_main(&[concat!(env!("CARGO_MANIFEST_DIR"), "/specs")])
/// }
/// ```
///
/// Each test is named after its file (`specs/boolean.yaml`), so
/// `cargo test --test specs boolean` runs one. A failing test prints the
/// spec's full report (every case, the failure reports, how to reproduce
/// and accept). Finding no spec at all, a missing path, or a bad
/// `INSTA_UPDATE` is one failing test named `discover specs`, never an
/// empty success. Snapshots are written as [`Update::from_env`] says.
pub fn test_main<P: AsRef<Path>>(paths: &[P]) -> ExitCode {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials(paths)).exit_code()
}

/// The tests [`test_main`] runs, for a harness of your own.
pub fn trials<P: AsRef<Path>>(paths: &[P]) -> Vec<Trial> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    let setup = discover(&paths).and_then(|files| Ok((files, Update::from_env()?)));
    let (files, update) = match setup {
        Ok(x) => x,
        Err(e) => {
            let message = format!("{e}");
            return vec![Trial::test("discover specs", move || Err(message.into()))];
        }
    };
    let base = common_parent(&paths);
    files
        .into_iter()
        .map(|path| {
            let name = match (
                &base,
                path.strip_prefix(base.as_deref().unwrap_or(Path::new(""))),
            ) {
                (Some(b), Ok(rel)) => format!(
                    "{}/{}",
                    b.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().to_string()),
                    rel.display()
                ),
                _ => path.display().to_string(),
            };
            Trial::test(name, move || run_one(&path, update))
        })
        .collect()
}

/// The folder whose name prefixes test names: the only folder given, if so.
fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    match paths {
        [one] if one.is_dir() => Some(one.clone()),
        _ => None,
    }
}

fn run_one(path: &Path, update: Update) -> Result<(), Failed> {
    let start = Instant::now();
    let result = Spec::load(path).and_then(|s| s.run(update));
    let run = CheckRun {
        specs: vec![SpecRun {
            path: path.to_path_buf(),
            result,
            seconds: start.elapsed().as_secs_f64(),
        }],
    };
    if run.exit_code() == 0 {
        Ok(())
    } else {
        Err(format!("{run}").into())
    }
}
