//! The HTML page of a failed assertion (see [`crate::report`]): the
//! asserted hypothesis against the unit(s) behind the verdict and the
//! strongest competitors, under `luigi/` in cargo's target directory.

use std::path::{Path, PathBuf};

use super::{Origin, Outcome};
use crate::hypothesis::Hypothesis;
use crate::subject::Subject;

/// Cargo's target directory when running under `cargo test`:
/// `CARGO_TARGET_DIR` when set, else the folder above the test binary's
/// `<profile>/deps/`. None elsewhere.
pub fn target_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let exe = std::env::current_exe().ok()?;
    let deps = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))?;
    deps.parent()?.parent().map(Path::to_path_buf)
}

/// `s` with every character but ASCII letters, digits, `-` and `_` as `_`
/// (a file name).
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The folder of an assertion's page under `root`.
pub(crate) fn page_dir(root: &Path, origin: &Origin) -> PathBuf {
    let name = match origin {
        Origin::Source {
            file, test, line, ..
        } => {
            let stem = Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            if test.is_empty() {
                format!("{}-{line}", clean(&stem))
            } else {
                format!("{}-{}", clean(&stem), clean(test))
            }
        }
        Origin::Spec {
            path, key, name, ..
        } => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            format!("{}-{}", clean(&stem), clean(name.as_deref().unwrap_or(key)))
        }
        Origin::Unknown => "assertion".to_string(),
    };
    root.join(name)
}

/// Writes the page of a failed outcome under `root` (default: `luigi/` in
/// the target directory) and puts its path in the report, right after
/// what was asserted. Nothing for a passed outcome, or with no place to
/// write; a page that cannot be written is said in the report, never an
/// error of the assertion.
pub(crate) fn attach_page(
    subject: &Subject,
    h: &dyn Hypothesis,
    origin: &Origin,
    root: Option<&Path>,
    outcome: &mut Outcome,
) {
    if outcome.passed {
        return;
    }
    let root = match root {
        Some(r) => r.to_path_buf(),
        None => match target_dir() {
            Some(t) => t.join("luigi"),
            None => return,
        },
    };
    let dir = page_dir(&root, origin);
    let acts = subject.acts.as_ref();
    let units: Vec<usize> = outcome
        .units
        .iter()
        .filter_map(|u| acts.units.iter().position(|n| n == u))
        .collect();
    let header = vec![
        ("asserted at".to_string(), origin.to_string()),
        ("verdict".to_string(), outcome.report.headline.clone()),
        (
            "model".to_string(),
            subject.model.path().display().to_string(),
        ),
        ("layer".to_string(), subject.layer.clone()),
        (
            "corpus".to_string(),
            format!(
                "{} ({} sequences, {} characters)",
                subject.corpus.name(),
                subject.corpus.len(),
                subject.corpus.timesteps()
            ),
        ),
        ("reproduce".to_string(), origin.reproduce()),
    ];
    let title = format!("Luigi: failed assertion on `{}`", h.name());
    let body = match crate::report::write_assertion_page(
        &title,
        header,
        &subject.corpus,
        acts,
        h,
        &units,
        3,
        &dir,
    ) {
        Ok(w) => w.index.display().to_string(),
        Err(e) => format!("(could not write the page into {}: {e})", dir.display()),
    };
    outcome.report.insert_after("asserted", "page", body);
}
