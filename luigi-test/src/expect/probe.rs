//! Judging `expect = probe`: a logistic-regression probe on the layer (or on
//! listed units) must read the hypothesis on held-out sequences with a least
//! accuracy and a least selectivity over the Hewitt–Liang control task.

use super::{Expectation, Outcome};
use crate::error::{Error, Result};
use crate::hypothesis::Hypothesis;
use crate::probe::{self, Estimate, Labels, ProbeConfig, ProbeReport};
use crate::report::failure::{Origin, Report};
use crate::subject::{push_subject, resolve_unit, Subject};

/// Bootstrap resamples of a probe expectation's intervals (fewer than the
/// probe default: an assertion needs the interval's order of magnitude, and
/// many assertions run in one test binary).
const RESAMPLES: usize = 200;

fn est(e: &Estimate) -> String {
    format!("{:.3} [{:.3}, {:.3}]", e.value, e.lower, e.upper)
}

/// Fits the probe and judges `expectation` (a `Probe`) on the subject.
pub(crate) fn judge_probe(
    subject: &Subject,
    h: &dyn Hypothesis,
    expectation: &Expectation,
    seed: u64,
    origin: Origin,
) -> Result<Outcome> {
    let Expectation::Probe {
        units,
        min_accuracy,
        min_selectivity,
    } = expectation
    else {
        return Err(Error::invalid(
            "expectation",
            "internal: judge_probe called with a non-probe expectation",
        ));
    };
    let name = h.name().to_string();
    let acts = &subject.acts;
    let values = subject.values(h)?;
    let labels = Labels::from_hypothesis(&name, &values, &h.kind())?;
    let idx: Option<Vec<usize>> = units
        .as_ref()
        .map(|u| u.iter().map(|n| resolve_unit(acts, n)).collect())
        .transpose()?;
    let config = ProbeConfig {
        seed,
        bootstrap_resamples: RESAMPLES,
        ..ProbeConfig::default()
    };
    let r = probe::fit(
        acts.values.view(),
        &acts.rows,
        &labels,
        idx.as_deref(),
        &config,
    )?;
    let accuracy = r.probe.accuracy.value;
    let selectivity = r.control_task.map(|c| c.selectivity.value);
    let acc_ok = min_accuracy.is_none_or(|m| accuracy >= m);
    let sel_ok = min_selectivity.is_none_or(|m| selectivity.is_some_and(|s| s >= m));
    let passed = acc_ok && sel_ok;
    let layer = &subject.layer;
    let reads = match &idx {
        None => format!("all {} units of layer `{layer}`", acts.n_units()),
        Some(_) => format!(
            "units {{{}}} of layer `{layer}`",
            r.units
                .iter()
                .map(|u| acts.units[*u].clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let needed = expectation.describe();
    let headline = if passed {
        format!(
            "passed: a probe on {reads} reads `{name}` with held-out accuracy {accuracy:.3}{} ({needed})",
            selectivity.map(|s| format!(", selectivity {s:.3}")).unwrap_or_default()
        )
    } else {
        let mut why = Vec::new();
        if !acc_ok {
            why.push(format!(
                "held-out accuracy {accuracy:.3} < {}",
                min_accuracy.unwrap_or(0.0)
            ));
        }
        if !sel_ok {
            why.push(format!(
                "selectivity {} < {}",
                selectivity.map_or("n/a".to_string(), |s| format!("{s:.3}")),
                min_selectivity.unwrap_or(0.0)
            ));
        }
        format!(
            "FAILED: a probe on {reads} does not read `{name}` well enough: {}",
            why.join("; ")
        )
    };
    let mut report = Report::new(headline);
    report.push(
        "asserted",
        format!("`{name}` in layer `{layer}`: {}", expectation.describe()),
    );
    push_subject(&mut report, subject, &origin);
    report.push("observed", observed_text(&r, seed));
    report.push("chance", chance_text(&r));
    if !r.flags.is_empty() {
        let flags: Vec<String> = r.flags.iter().map(|f| format!("{f:?}")).collect();
        report.push("notes", format!("probe flags: {}", flags.join(", ")));
    }
    report.push("reproduce", origin.reproduce());
    let keep = |x: f64| ((x * 0.95) * 100.0).floor() / 100.0;
    report.push(
        "accept",
        format!(
            "if the model changed on purpose, edit the expectation at {} (observed accuracy {accuracy:.3}{}; \
             min_accuracy = {}{} keeps a 5% margin)",
            origin.edit_at(),
            selectivity.map(|s| format!(", selectivity {s:.3}")).unwrap_or_default(),
            keep(accuracy),
            selectivity
                .filter(|s| *s > 0.0)
                .map(|s| format!(", min_selectivity = {}", keep(s)))
                .unwrap_or_default()
        ),
    );
    Ok(Outcome {
        passed,
        observed: Some(accuracy),
        units: r.units.iter().map(|u| acts.units[*u].clone()).collect(),
        report,
    })
}

fn observed_text(r: &ProbeReport, seed: u64) -> String {
    let mut lines = vec![format!(
        "held-out accuracy {}, balanced accuracy {}, macro-F1 {} (train accuracy {:.3})",
        est(&r.probe.accuracy),
        est(&r.probe.balanced_accuracy),
        est(&r.probe.macro_f1),
        r.train_accuracy
    )];
    if let Some(c) = &r.control_task {
        lines.push(format!(
            "selectivity {} (probe accuracy minus control-task accuracy)",
            est(&c.selectivity)
        ));
    }
    let classes: Vec<String> = r
        .classes
        .iter()
        .map(|c| format!("{}: {}", c.name, c.rows))
        .collect();
    lines.push(format!(
        "n = {} held-out timesteps in {} sequences ({:?}; {} timesteps, {} sequences in all), classes {{{}}}, seed {seed}, {}% intervals from {} sequence-bootstrap resamples",
        r.evaluated_rows,
        r.evaluated_sequences,
        r.evaluation,
        r.rows,
        r.sequences,
        classes.join(", "),
        r.config.confidence * 100.0,
        r.config.bootstrap_resamples
    ));
    lines.join("\n")
}

fn chance_text(r: &ProbeReport) -> String {
    let mut parts = vec![format!(
        "majority class {:.3}",
        r.majority_baseline.accuracy.value
    )];
    if let Some(c) = &r.control_task {
        parts.push(format!(
            "control task (random label per token type) {:.3}",
            c.metrics.accuracy.value
        ));
    }
    if let Some(m) = &r.token_probe {
        parts.push(format!("token identity alone {:.3}", m.accuracy.value));
    }
    if let Some(m) = &r.position_probe {
        parts.push(format!("position alone {:.3}", m.accuracy.value));
    }
    parts.join("; ")
}
