//! `verify`: after an expectation's threshold is met, check the units that
//! met it beyond correlation: they follow the hypothesis when only the
//! hypothesis changes ([`crate::verify::perturb`]), and holding them makes
//! the model write it ([`crate::verify::intervene`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Expectation, Origin, Outcome};
use crate::error::{Error, Result};
use crate::hypothesis::{families, Hypothesis};
use crate::subject::Subject;
use crate::verify::{competitors, intervene, perturb, InterveneOptions, PerturbOptions, Verdict};

/// How an assertion verifies the units that met its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Perturbation ([`crate::verify`]): the unit must follow
    /// proptest-drawn edits that change only the hypothesis. Counterexample
    /// seeds are kept in `proptest-regressions/` (see [`regression_file`]).
    Perturb,
    /// Intervention ([`crate::verify::intervene`]): holding the unit at its
    /// "on" value rather than its "off" value while the model writes must
    /// raise the hypothesis (or the `response`) in what it writes, more
    /// than holding random control units does.
    Intervene,
    /// Both; the unit must be confirmed by each.
    Both,
}

impl Verify {
    /// `perturb`, `intervene` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Perturb => "perturb",
            Verify::Intervene => "intervene",
            Verify::Both => "both",
        }
    }
}

/// Settings of the intervention check of `verify` (spec keys `response`,
/// `samples`, `steps`; the same `#[neural_assert]` keys). Unset: the
/// defaults of [`InterveneOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySettings {
    /// The hypothesis measured on what the model writes, named as `luigi
    /// inspect` prints it (one of the families generated from the corpus).
    /// Default: the asserted hypothesis.
    pub response: Option<String>,
    /// Continuations per condition.
    pub samples: Option<usize>,
    /// Characters generated per continuation.
    pub steps: Option<usize>,
}

impl VerifySettings {
    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.response.is_none() && self.samples.is_none() && self.steps.is_none()
    }

    /// A setup error when keys are set that `mode` does not use.
    pub(crate) fn check(&self, mode: Option<Verify>) -> Result<()> {
        if self.is_empty() || matches!(mode, Some(Verify::Intervene | Verify::Both)) {
            return Ok(());
        }
        Err(Error::invalid(
            "verify",
            "`response`, `samples` and `steps` set how `verify = intervene` (or `both`) samples; \
             add `verify = intervene`, or remove them",
        ))
    }
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
    use super::page::clean;
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
    settings: &VerifySettings,
    seed: u64,
    origin: &Origin,
    mut outcome: Outcome,
) -> Result<Outcome> {
    if !outcome.passed {
        return Ok(outcome);
    }
    let acts = subject.acts.as_ref();
    let family = families::auto(&subject.corpus)?;
    let candidates: Vec<&dyn Hypothesis> = family.iter().collect();
    let response = match &settings.response {
        Some(name) => Some(family.get(name).ok_or_else(|| {
            Error::invalid(
                "verify",
                format!(
                    "response `{name}` is not one of the hypotheses generated from the corpus; \
                     name one as `luigi inspect` prints it (e.g. `class(digit)`, `depth(()`)"
                ),
            )
        })?),
        None => None,
    };
    let mut popts = PerturbOptions::from_env()?;
    popts.seed = seed;
    popts.regressions = regression_file(origin);
    let mut iopts = InterveneOptions {
        seed,
        ..InterveneOptions::default()
    };
    if let Some(n) = settings.samples {
        iopts.samples = n;
    }
    if let Some(n) = settings.steps {
        iopts.steps = n;
    }
    let mut bodies = Vec::new();
    let mut failed: Option<String> = None;
    for name in outcome.units.clone() {
        let unit = acts.units.iter().position(|u| *u == name).ok_or_else(|| {
            Error::invalid("verify", format!("unit `{name}` is not in the recording"))
        })?;
        let mut fail = |what: &str, verdict: Verdict, reason: Option<String>| {
            if verdict != Verdict::Confirmed && failed.is_none() {
                failed = Some(format!(
                    "unit {name} met the threshold but {what} verification says {verdict}: {}",
                    reason.unwrap_or_default()
                ));
            }
        };
        if matches!(mode, Verify::Perturb | Verify::Both) {
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
                &popts,
            )?;
            fail("perturbation", v.verdict, v.reason.clone());
            bodies.push(v.to_string());
        }
        if matches!(mode, Verify::Intervene | Verify::Both) {
            let v = intervene(
                &subject.model,
                &subject.layer,
                &subject.corpus,
                acts,
                h,
                response,
                unit,
                &iopts,
            )?;
            fail("intervention", v.verdict, v.reason.clone());
            bodies.push(v.to_string());
        }
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
