//! `verify`: after an expectation's threshold is met, check that the units
//! that met it follow the hypothesis when only the hypothesis changes
//! ([`crate::verify::perturb`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Expectation, Origin, Outcome, Subject};
use crate::error::{Error, Result};
use crate::hypothesis::{families, Hypothesis};
use crate::verify::{competitors, perturb, PerturbOptions, Verdict};

/// How an assertion verifies the units that met its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Perturbation ([`crate::verify`]): the unit must follow
    /// proptest-drawn edits that change only the hypothesis. Counterexample
    /// seeds are kept in `proptest-regressions/` (see [`regression_file`]).
    Perturb,
}

/// A setup error unless `verify` fits the expectation: it verifies the
/// best unit of `some_unit` and every unit of `units`.
pub(crate) fn check_fits(e: &Expectation) -> Result<()> {
    match e {
        Expectation::SomeUnit(_) | Expectation::Units { .. } => Ok(()),
        _ => Err(Error::invalid(
            "verify",
            format!(
                "`verify` applies to some_unit and units; with {} it is not built yet: remove \
                 `verify` or assert on single units",
                e.form()
            ),
        )),
    }
}

/// Where the counterexample seeds of an assertion are kept:
/// `proptest-regressions/<file stem>/<test>.txt` under the current
/// directory (the crate root under `cargo test`) for a named test
/// (`#[neural_assert]`, or the builder's `.at(..)`), and
/// `proptest-regressions/<spec stem>/<case>.txt` beside a spec. None for a
/// builder assertion without a test name: nothing is written then.
pub fn regression_file(origin: &Origin) -> Option<PathBuf> {
    fn clean(s: &str) -> String {
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
    match origin {
        Origin::Source { file, test, .. } => {
            if test.is_empty() {
                return None;
            }
            let stem = Path::new(file).file_stem()?.to_string_lossy().to_string();
            let name = clean(test);
            Some(
                PathBuf::from("proptest-regressions")
                    .join(clean(&stem))
                    .join(format!("{name}.txt")),
            )
        }
        Origin::Spec {
            path, key, name, ..
        } => {
            let stem = path.file_stem()?.to_string_lossy().to_string();
            let dir = path.parent().unwrap_or(Path::new("."));
            let case = name.clone().unwrap_or_else(|| key.clone());
            Some(
                dir.join("proptest-regressions")
                    .join(clean(&stem))
                    .join(format!("{}.txt", clean(&case))),
            )
        }
        Origin::Unknown => None,
    }
}

/// Verifies the units behind a passed outcome; a unit that is not
/// `confirmed` fails the assertion, with the verification (and its
/// counterexamples) in the report. A failed outcome is returned as it is.
pub(crate) fn verify_outcome(
    subject: &Subject,
    h: &dyn Hypothesis,
    mode: Verify,
    seed: u64,
    origin: &Origin,
    mut outcome: Outcome,
) -> Result<Outcome> {
    if !outcome.passed {
        return Ok(outcome);
    }
    let Verify::Perturb = mode;
    let acts = subject.acts.as_ref();
    let family = families::auto(&subject.corpus)?;
    let candidates: Vec<&dyn Hypothesis> = family.iter().collect();
    let mut opts = PerturbOptions::from_env()?;
    opts.seed = seed;
    opts.regressions = regression_file(origin);
    let mut bodies = Vec::new();
    let mut failed: Option<String> = None;
    for name in outcome.units.clone() {
        let unit = acts.units.iter().position(|u| *u == name).ok_or_else(|| {
            Error::invalid("verify", format!("unit `{name}` is not in the recording"))
        })?;
        let chosen = competitors(&subject.corpus, acts, unit, h, &candidates, 2)?;
        let controls: Vec<&dyn Hypothesis> = chosen.iter().map(|&i| candidates[i]).collect();
        let v = perturb(
            &subject.model,
            &subject.layer,
            &subject.corpus,
            acts,
            h,
            unit,
            &controls,
            &opts,
        )?;
        if v.verdict != Verdict::Confirmed && failed.is_none() {
            failed = Some(format!(
                "unit {name} met the threshold but perturbation verification says {}: {}",
                v.verdict,
                v.reason.clone().unwrap_or_default()
            ));
        }
        bodies.push(v.to_string());
    }
    if let Some(why) = failed {
        // a failed verification is the news: its counterexamples come right
        // after what was asserted, before the numbers that passed
        outcome
            .report
            .insert_after("asserted", "verification", bodies.join("\n"));
        outcome.passed = false;
        outcome.report.headline = why;
    } else {
        outcome.report.push("verification", bodies.join("\n"));
    }
    Ok(outcome)
}
