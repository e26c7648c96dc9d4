//! JUnit XML for a [`CheckRun`]: one `<testsuite>` per spec, one
//! `<testcase>` per case; a failed case has a `<failure>` with the report,
//! a setup error an `<error>` (a spec that could not run is one `(setup)`
//! case with an `<error>`).

use super::{CaseResult, CheckRun};
use crate::text::tidy;

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The run as JUnit XML.
pub fn junit_xml(run: &CheckRun) -> String {
    let c = run.counts();
    let total_time: f64 = run.specs.iter().map(|s| s.seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"luigi check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total_time:.3}\">\n",
        c.passed + c.failed + c.errors,
        c.failed,
        c.errors
    ));
    for s in &run.specs {
        let suite = esc(&tidy(&s.path.display().to_string()));
        match &s.result {
            Err(e) => {
                x.push_str(&format!(
                    "  <testsuite name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"{:.3}\">\n",
                    s.seconds
                ));
                x.push_str(&format!(
                    "    <testcase classname=\"{suite}\" name=\"(setup)\" time=\"{:.3}\">\n      <error type=\"setup\" message=\"{}\">{}</error>\n    </testcase>\n",
                    s.seconds,
                    esc(&e.to_string()),
                    esc(&e.to_string())
                ));
            }
            Ok(r) => {
                let failures = r
                    .cases
                    .iter()
                    .filter(|c| matches!(c.result, CaseResult::Failed(_)))
                    .count();
                let errors = r
                    .cases
                    .iter()
                    .filter(|c| matches!(c.result, CaseResult::SetupError(_)))
                    .count();
                x.push_str(&format!(
                    "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
                    r.cases.len(),
                    s.seconds
                ));
                for case in &r.cases {
                    let open = format!(
                        "    <testcase classname=\"{suite}\" name=\"{}\" time=\"{:.3}\"",
                        esc(&case.name),
                        case.seconds
                    );
                    match &case.result {
                        CaseResult::Passed(_) => x.push_str(&format!("{open}/>\n")),
                        CaseResult::Failed(report) => x.push_str(&format!(
                            "{open}>\n      <failure type=\"expectation\" message=\"{}\">{}</failure>\n    </testcase>\n",
                            esc(&report.headline),
                            esc(&report.to_string())
                        )),
                        CaseResult::SetupError(e) => x.push_str(&format!(
                            "{open}>\n      <error type=\"setup\" message=\"{}\">{}</error>\n    </testcase>\n",
                            esc(&e.to_string()),
                            esc(&e.to_string())
                        )),
                    }
                }
                x.push_str("  </testsuite>\n");
            }
        }
    }
    x.push_str("</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::failure::Report;
    use crate::spec::{Case, SpecReport, SpecRun};
    use crate::Error;

    #[test]
    fn cases_become_testcases_with_escaped_reports() {
        let case = |name: &str, result| Case {
            name: name.to_string(),
            key: "k".into(),
            line: 1,
            result,
            seconds: 0.5,
        };
        let run = CheckRun {
            specs: vec![
                SpecRun {
                    path: "specs/a.yaml".into(),
                    result: Ok(SpecReport {
                        path: "specs/a.yaml".into(),
                        cases: vec![
                            case("ok", CaseResult::Passed(Report::new("passed"))),
                            case(
                                "bad",
                                CaseResult::Failed(Report::new("FAILED: |r| < 0.9 & \"x\"")),
                            ),
                            case("err", CaseResult::SetupError(Error::invalid("x", "y\u{1}"))),
                        ],
                    }),
                    seconds: 1.5,
                },
                SpecRun {
                    path: "specs/b.yaml".into(),
                    result: Err(Error::invalid("model", "<missing>")),
                    seconds: 0.0,
                },
            ],
        };
        let x = junit_xml(&run);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"luigi check\" tests=\"4\" failures=\"1\" errors=\"2\""), "{x}");
        assert!(x.contains("<testsuite name=\"specs/a.yaml\" tests=\"3\" failures=\"1\" errors=\"1\" time=\"1.500\">"), "{x}");
        assert!(
            x.contains("<testcase classname=\"specs/a.yaml\" name=\"ok\" time=\"0.500\"/>"),
            "{x}"
        );
        assert!(x.contains("<failure type=\"expectation\" message=\"FAILED: |r| &lt; 0.9 &amp; &quot;x&quot;\">"), "{x}");
        assert!(x.contains("<error type=\"setup\" message=\"x: y\">"), "{x}");
        assert!(
            x.contains("name=\"(setup)\"") && x.contains("&lt;missing&gt;"),
            "{x}"
        );
        assert!(x.trim_end().ends_with("</testsuites>"));
    }
}
