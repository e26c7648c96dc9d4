//! Failure reports: one headline, then sections in a fixed order (what was
//! asserted and where; the model and layer; the corpus; the observed value
//! against the threshold with n, seed and a chance baseline; the best
//! competing units; how to reproduce and how to accept the change).

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::text::tidy;

/// Where an assertion is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// In Rust source (`#[neural_assert]` or the builder).
    Source {
        /// `file!()`.
        file: String,
        /// `line!()`.
        line: u32,
        /// `module_path!()` (empty when unknown).
        module: String,
        /// The test function (empty when unknown).
        test: String,
    },
    /// In a YAML spec.
    Spec {
        /// The spec file.
        path: PathBuf,
        /// The key path, e.g. `expectations[2]`.
        key: String,
        /// 1-based line of the item, 0 when unknown.
        line: usize,
        /// The expectation's `name`, if it has one.
        name: Option<String>,
    },
    /// Not known.
    Unknown,
}

impl Origin {
    /// The command that runs this assertion again.
    pub fn reproduce(&self) -> String {
        match self {
            Origin::Source { module, test, .. } if !test.is_empty() => {
                let path = match module.split_once("::") {
                    Some((_, rest)) => format!("{rest}::{test}"),
                    None => test.clone(),
                };
                format!("cargo test {path} -- --exact")
            }
            Origin::Source { file, .. } => format!("cargo test (the assertion in {})", tidy(file)),
            Origin::Spec { path, .. } => format!("luigi check {}", path.display()),
            Origin::Unknown => "run the test again".to_string(),
        }
    }

    /// Where to edit the expectation.
    pub fn edit_at(&self) -> String {
        match self {
            Origin::Source { file, line, .. } => format!("{}:{line}", tidy(file)),
            Origin::Spec {
                path, key, line, ..
            } if *line > 0 => {
                format!("{}:{line} (`{key}`)", path.display())
            }
            Origin::Spec { path, key, .. } => format!("{} (`{key}`)", path.display()),
            Origin::Unknown => "the assertion".to_string(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Source {
                file,
                line,
                module,
                test,
            } => {
                write!(f, "{}:{line}", tidy(file))?;
                if !test.is_empty() {
                    let m = module.split_once("::").map(|(_, r)| r).unwrap_or("");
                    if m.is_empty() {
                        write!(f, ", test `{test}`")?;
                    } else {
                        write!(f, ", test `{m}::{test}`")?;
                    }
                }
                Ok(())
            }
            Origin::Spec {
                path,
                key,
                line,
                name,
            } => {
                write!(f, "spec {}", path.display())?;
                if *line > 0 {
                    write!(f, ":{line}")?;
                }
                write!(f, ", key `{key}`")?;
                if let Some(n) = name {
                    write!(f, " (`{n}`)")?;
                }
                Ok(())
            }
            Origin::Unknown => f.write_str("(unknown)"),
        }
    }
}

/// A report: a headline and titled sections, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// One line: the verdict and the key number.
    pub headline: String,
    /// `(title, body)` in display order; bodies may span several lines.
    pub sections: Vec<(String, String)>,
}

impl Report {
    /// A report with a headline and no sections.
    pub fn new(headline: impl Into<String>) -> Self {
        Report {
            headline: headline.into(),
            sections: Vec::new(),
        }
    }

    /// Appends a section.
    pub fn push(&mut self, title: &str, body: impl Into<String>) {
        self.sections.push((title.to_string(), body.into()));
    }

    /// Inserts a section right after the section titled `after` (at the end
    /// when there is none).
    pub fn insert_after(&mut self, after: &str, title: &str, body: impl Into<String>) {
        let at = self
            .sections
            .iter()
            .position(|(t, _)| t == after)
            .map_or(self.sections.len(), |i| i + 1);
        self.sections.insert(at, (title.to_string(), body.into()));
    }

    /// The body of the section with this title.
    pub fn section(&self, title: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(t, _)| t == title)
            .map(|(_, b)| b.as_str())
    }

    /// The section titles, in order.
    pub fn titles(&self) -> Vec<&str> {
        self.sections.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// The one-line summary used as a panic message.
    pub fn short(&self) -> String {
        format!("{} (report above)", self.headline)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline)?;
        let width = self
            .sections
            .iter()
            .map(|(t, _)| t.chars().count())
            .max()
            .unwrap_or(0);
        for (title, body) in &self.sections {
            let mut lines = body.lines();
            let first = lines.next().unwrap_or("");
            writeln!(f, "  {title:>width$}: {first}")?;
            for l in lines {
                writeln!(f, "  {:>width$}  {l}", "")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_print_in_order_and_align() {
        let mut r = Report::new("FAILED: x");
        r.push("asserted", "a");
        r.push("competing", "u1\nu2");
        let text = r.to_string();
        assert_eq!(
            text,
            "FAILED: x\n   asserted: a\n  competing: u1\n             u2\n"
        );
        assert_eq!(r.section("competing"), Some("u1\nu2"));
        assert_eq!(r.titles(), ["asserted", "competing"]);
        r.insert_after("asserted", "verification", "v");
        r.insert_after("missing", "last", "l");
        assert_eq!(
            r.titles(),
            ["asserted", "verification", "competing", "last"]
        );
    }

    #[test]
    fn reproduce_drops_the_crate_name() {
        let o = Origin::Source {
            file: "tests/a.rs".into(),
            line: 3,
            module: "integration::neural_assert".into(),
            test: "depth".into(),
        };
        assert_eq!(o.reproduce(), "cargo test neural_assert::depth -- --exact");
        assert_eq!(o.to_string(), "tests/a.rs:3, test `neural_assert::depth`");
        assert_eq!(tidy("luigi-test/../tests/x.rs"), "tests/x.rs");
        assert_eq!(tidy("../a/./b.rs"), "../a/b.rs");
        assert_eq!(tidy("/abs/x/../y"), "/abs/y");
    }
}
