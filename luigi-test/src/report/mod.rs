//! HTML reports: see what a unit does.
//!
//! [`write()`] turns an [`Inspection`] and the recording behind it into one
//! self-contained page, `index.html` (inline CSS and SVG, no script needed
//! to read it, no external request), plus each figure as its own `.svg`:
//!
//! - a header (model, card, layer, corpus, fingerprints, seed, the command
//!   that reproduces it, Luigi's version);
//! - the ranking (best unit per hypothesis; each row links to its pairing);
//! - per pairing, for the best few: the unit and the hypothesis over a
//!   stretch of text where both move (the paper's Figure 2), that text
//!   coloured by the unit with the hypothesis marked under it, the unit's
//!   top-activating and most negative contexts, its scores and, when run,
//!   its verification;
//! - per unit, a compact index: its best hypotheses, a sparkline, and its
//!   contexts behind a `<details>`;
//! - Figure 1 (every unit over one sequence) and Figure 3b (the PCA of the
//!   layer coloured by a hypothesis's classes) when given.
//!
//! Every piece of corpus text is escaped (the page is built with maud,
//! which escapes whatever it interpolates): a corpus is untrusted input.

pub mod failure;
mod figures;
mod html;

use std::path::{Path, PathBuf};

use crate::activations::Activations;
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::hypothesis::{evaluate_steps, HypothesisSet};
use crate::inspect::Inspection;
use crate::probe::PcaExport;

/// Settings of a report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Rows of the ranking table (default 40).
    pub top: usize,
    /// Pairings given a section (default 8).
    pub pairings: usize,
    /// Top and bottom contexts per unit (default 5).
    pub contexts: usize,
    /// Characters shown before a context's trigger (default 32; 8 after).
    pub context_before: usize,
    /// Characters in a pairing's stretch of text (default 160).
    pub stretch: usize,
    /// Figure 1's widest heat map, in columns (default 256).
    pub max_columns: usize,
    /// Figure 3b's most points (default 4000).
    pub max_points: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top: 40,
            pairings: 8,
            contexts: 5,
            context_before: 32,
            stretch: 160,
            max_columns: 256,
            max_points: 4000,
        }
    }
}

/// What a report is made from.
pub struct ReportInput<'a> {
    /// The model's card path, as given.
    pub card: &'a Path,
    /// The corpus.
    pub corpus: &'a Corpus,
    /// The recording of the inspected layer over `corpus` (all units, rows
    /// in corpus order).
    pub acts: &'a Activations,
    /// The hypotheses the inspection ranked.
    pub hypotheses: &'a HypothesisSet,
    /// The inspection.
    pub inspection: &'a Inspection,
    /// The command that reproduces the report.
    pub command: String,
    /// The seed.
    pub seed: u64,
    /// Verification texts per (hypothesis, unit), shown in the pairing.
    pub verifications: Vec<(String, String, String)>,
    /// PCA projections for Figure 3b.
    pub projections: Vec<PcaExport>,
}

/// What [`write()`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The page.
    pub index: PathBuf,
    /// The figures, each also inline in the page.
    pub figures: Vec<PathBuf>,
    /// Total bytes written.
    pub bytes: u64,
}

/// One context: a window of text around a trigger.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) before: String,
    pub(crate) trigger: String,
    pub(crate) after: String,
    pub(crate) value: f32,
    pub(crate) sequence: usize,
    pub(crate) position: usize,
}

/// One pairing's section.
#[derive(Debug, Clone)]
pub(crate) struct PairingView {
    pub(crate) anchor: String,
    pub(crate) hypothesis: String,
    pub(crate) unit: String,
    pub(crate) scores: Vec<(String, String)>,
    pub(crate) figure: String,
    pub(crate) figure_file: String,
    /// (char, unit in [-1, 1], hypothesis in [0, 1], raw unit, raw hypothesis)
    pub(crate) text: Vec<(String, f64, f64, f32, f32)>,
    pub(crate) stretch_at: (usize, usize),
    pub(crate) top: Vec<Context>,
    pub(crate) bottom: Vec<Context>,
    pub(crate) verification: Option<String>,
}

/// One unit's entry in the index.
#[derive(Debug, Clone)]
pub(crate) struct UnitView {
    pub(crate) unit: String,
    pub(crate) best: Vec<(String, f64)>,
    pub(crate) sparkline: String,
    pub(crate) top: Vec<Context>,
    pub(crate) bottom: Vec<Context>,
}

/// The whole page's data.
pub(crate) struct Page {
    pub(crate) title: String,
    pub(crate) header: Vec<(String, String)>,
    pub(crate) table_title: String,
    pub(crate) table: Vec<Vec<String>>,
    pub(crate) table_head: Vec<String>,
    pub(crate) anchors: Vec<Option<String>>,
    pub(crate) pairings: Vec<PairingView>,
    pub(crate) units: Vec<UnitView>,
    pub(crate) figure1: Option<(String, String)>,
    pub(crate) figure3: Vec<(String, String, String)>,
    pub(crate) notes: Vec<String>,
}

/// What one timestep of the corpus is: a character, or a token.
fn step_word(corpus: &Corpus) -> &'static str {
    if corpus.is_tokenized() {
        "tokens"
    } else {
        "characters"
    }
}

fn anchor(s: &str) -> String {
    let mut out = String::from("p-");
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push_str(&format!("_{:x}", c as u32));
        }
    }
    out
}

/// The `k` highest (or lowest) rows of `col`, at most one per `gap`
/// characters of a sequence, as contexts.
fn contexts(
    corpus: &Corpus,
    acts: &Activations,
    col: &[f32],
    k: usize,
    highest: bool,
    before: usize,
) -> Vec<Context> {
    let mut order: Vec<usize> = (0..col.len()).filter(|i| col[*i].is_finite()).collect();
    order.sort_by(|a, b| {
        let o = col[*a].total_cmp(&col[*b]);
        (if highest { o.reverse() } else { o }).then(a.cmp(b))
    });
    let mut out: Vec<Context> = Vec::new();
    for r in order {
        if out.len() >= k {
            break;
        }
        let s = acts.rows.sequence[r] as usize;
        let p = acts.rows.position[r] as usize;
        if out
            .iter()
            .any(|c| c.sequence == s && c.position.abs_diff(p) < before)
        {
            continue;
        }
        let Some(seq) = corpus.sequences().get(s) else {
            continue;
        };
        if p >= seq.len() {
            continue;
        }
        // by characters, so that a token's context keeps the spaces between
        // tokens; `before` counts timesteps
        let chars = seq.chars();
        let (s0, s1) = seq.char_span(p);
        let from = seq.char_span(p.saturating_sub(before)).0.min(s0);
        let to = seq
            .char_span((p + before / 4).min(seq.len() - 1))
            .1
            .clamp(s1, chars.len());
        out.push(Context {
            before: chars[from..s0].iter().collect(),
            trigger: seq.step_text(p),
            after: chars[s1.min(to)..to].iter().collect(),
            value: col[r],
            sequence: s,
            position: p,
        });
    }
    out
}

/// A p- or q-value: `<1e-300` for an underflow to 0.
fn fmt_p(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(0.0) => "<1e-300".to_string(),
        Some(x) => format!("{x:.1e}"),
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"))
}

/// Writes the report into `dir` (created when missing): `index.html` and
/// the figures as `.svg` files.
pub fn write(input: &ReportInput<'_>, opts: &ReportOptions, dir: &Path) -> Result<Written> {
    let acts = input.acts;
    let corpus = input.corpus;
    if acts.n_rows() != corpus.timesteps() {
        return Err(Error::invalid(
            "report",
            format!(
                "the recording has {} rows but the corpus {} timesteps: record the layer over this corpus",
                acts.n_rows(),
                corpus.timesteps()
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let ins = input.inspection;
    let mut figures: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();

    let starts = seq_starts(corpus);

    let best = ins.best_per_hypothesis();
    let verified = |h: &str| ins.verified.iter().find(|v| v.hypothesis == h);
    let mut table_head: Vec<String> = [
        "hypothesis",
        "unit",
        "metric",
        "score",
        "within",
        "pearson",
        "q",
        "n_eff",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !ins.verified.is_empty() {
        table_head.push("verified".into());
    }
    let mut table = Vec::new();
    let mut anchors = Vec::new();
    for (i, p) in best.iter().take(opts.top).enumerate() {
        let mut row = vec![
            p.hypothesis.clone(),
            p.unit.clone(),
            format!("{:?}", p.metric).to_lowercase(),
            format!("{:.3}", p.score),
            fmt_opt(p.within_token),
            fmt_opt(p.pearson),
            fmt_p(p.q_value),
            p.n_eff.map_or_else(|| "-".into(), |n| format!("{n:.0}")),
        ];
        if !ins.verified.is_empty() {
            row.push(verified(&p.hypothesis).map_or_else(|| "-".into(), |v| v.verdict.to_string()));
        }
        table.push(row);
        anchors.push((i < opts.pairings).then(|| anchor(&p.hypothesis)));
    }

    // pairings
    let mut pairings = Vec::new();
    for p in best.iter().take(opts.pairings) {
        let Some(h) = input.hypotheses.get(&p.hypothesis) else {
            continue;
        };
        let mut scores = vec![
            (
                "metric".to_string(),
                format!("{:?}", p.metric).to_lowercase(),
            ),
            ("score".to_string(), format!("{:.4}", p.score)),
            ("within-token".to_string(), fmt_opt(p.within_token)),
            ("pearson".to_string(), fmt_opt(p.pearson)),
            ("spearman".to_string(), fmt_opt(p.spearman)),
            ("normalised MI".to_string(), fmt_opt(p.nmi)),
            ("AUC".to_string(), fmt_opt(p.auc)),
            ("eta".to_string(), fmt_opt(p.eta)),
            ("p".to_string(), fmt_p(p.p_value)),
            ("q".to_string(), fmt_p(p.q_value)),
        ];
        if let Some(v) = verified(&p.hypothesis) {
            scores.push((
                "verified (perturbation)".into(),
                format!(
                    "{} (effect {:+.3}, p {:.2e})",
                    v.verdict, v.effect, v.p_value
                ),
            ));
        }
        let verification = input
            .verifications
            .iter()
            .find(|(h, u, _)| *h == p.hypothesis && *u == p.unit)
            .map(|(_, _, t)| t.clone());
        let view = pairing_view(
            corpus,
            acts,
            &starts,
            h,
            p.unit_index,
            scores,
            verification,
            &anchor(&p.hypothesis),
            opts,
        )?;
        figures.push((view.figure_file.clone(), view.figure.clone()));
        pairings.push(view);
    }

    // the unit index
    let mut units = Vec::with_capacity(acts.n_units());
    let longest =
        (0..corpus.len()).max_by_key(|i| (corpus.sequences()[*i].len(), std::cmp::Reverse(*i)));
    for (j, name) in acts.units.iter().enumerate() {
        let col: Vec<f32> = acts.values.column(j).to_vec();
        let mut bests: Vec<(String, f64)> = ins
            .ranking
            .by_hypothesis
            .iter()
            .flat_map(|h| h.units.iter())
            .filter(|p| p.unit_index == j)
            .map(|p| (p.hypothesis.clone(), p.score))
            .collect();
        bests.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        bests.truncate(3);
        let spark_rows = match longest {
            Some(i) => col[starts[i]..starts[i + 1]].to_vec(),
            None => Vec::new(),
        };
        units.push(UnitView {
            unit: name.clone(),
            best: bests,
            sparkline: figures::sparkline(&spark_rows, 120)?,
            top: contexts(
                corpus,
                acts,
                &col,
                opts.contexts.min(3),
                true,
                opts.context_before,
            ),
            bottom: contexts(
                corpus,
                acts,
                &col,
                opts.contexts.min(3),
                false,
                opts.context_before,
            ),
        });
    }

    // Figure 1: the longest sequence, every unit
    let figure1 = match longest {
        Some(i) if starts[i + 1] > starts[i] => {
            let rows: Vec<Vec<f32>> = (starts[i]..starts[i + 1])
                .map(|r| acts.values.row(r).to_vec())
                .collect();
            let svg = figures::heatmap(
                &format!(
                    "Figure 1: every unit of `{}` over sequence {i} ({} {})",
                    ins.layer,
                    rows.len(),
                    step_word(corpus)
                ),
                &rows,
                opts.max_columns,
            )?;
            figures.push(("figure1.svg".into(), svg.clone()));
            Some(("figure1.svg".to_string(), svg))
        }
        _ => None,
    };

    // Figure 3b
    let mut figure3 = Vec::new();
    for (k, pca) in input.projections.iter().enumerate() {
        let points: Vec<(f64, f64, usize)> = pca
            .points
            .iter()
            .map(|p| {
                (
                    p.x,
                    p.y,
                    pca.classes.iter().position(|c| *c == p.class).unwrap_or(0),
                )
            })
            .collect();
        let title = format!(
            "Figure 3b: PCA of `{}` coloured by {}",
            pca.layer, pca.hypothesis
        );
        let svg = figures::scatter(
            &title,
            (
                &format!(
                    "PC1 ({:.1}% of variance)",
                    100.0 * pca.explained_variance_ratio[0]
                ),
                &format!("PC2 ({:.1}%)", 100.0 * pca.explained_variance_ratio[1]),
            ),
            &points,
            &pca.classes,
            opts.max_points,
        )?;
        let file = format!("figure3b-{k}.svg");
        figures.push((file.clone(), svg.clone()));
        figure3.push((file, pca.hypothesis.clone(), svg));
    }
    if !ins.issues.is_empty() {
        for i in &ins.issues {
            notes.push(format!("{}: {}", i.hypothesis, i.message));
        }
    }

    let header = vec![
        ("model".to_string(), ins.model.clone()),
        ("card".to_string(), input.card.display().to_string()),
        (
            "layer".to_string(),
            format!(
                "{} (tensor `{}`, {} units)",
                ins.layer,
                ins.tensor,
                acts.n_units()
            ),
        ),
        (
            "corpus".to_string(),
            format!(
                "{} ({} sequences, {} {}{})",
                ins.corpus,
                corpus.len(),
                corpus.timesteps(),
                step_word(corpus),
                corpus
                    .align()
                    .map(|a| format!(
                        "; hypotheses over characters take each token's value by `align: {a}`"
                    ))
                    .unwrap_or_default()
            ),
        ),
        (
            "model fingerprint".to_string(),
            ins.model_fingerprint.clone(),
        ),
        (
            "corpus fingerprint".to_string(),
            ins.corpus_fingerprint.clone(),
        ),
        ("seed".to_string(), input.seed.to_string()),
        ("command".to_string(), input.command.clone()),
        ("Luigi".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
    let page = Page {
        title: format!("Luigi report: {} / {}", ins.layer, ins.corpus),
        header,
        table_title: "Ranking: the best unit of each hypothesis, by its score within input tokens"
            .to_string(),
        table,
        table_head,
        anchors,
        pairings,
        units,
        figure1,
        figure3,
        notes,
    };
    let html = html::render(&page);
    let mut written = Written {
        index: dir.join("index.html"),
        figures: Vec::new(),
        bytes: 0,
    };
    std::fs::write(&written.index, &html).map_err(|e| Error::io(&written.index, e))?;
    written.bytes += html.len() as u64;
    for (name, svg) in figures {
        let p = dir.join(name);
        std::fs::write(&p, &svg).map_err(|e| Error::io(&p, e))?;
        written.bytes += svg.len() as u64;
        written.figures.push(p);
    }
    Ok(written)
}

/// One pairing's section: the stretch where the unit and the hypothesis
/// both move most, the text coloured by the unit, the contexts.
#[allow(clippy::too_many_arguments)]
fn pairing_view(
    corpus: &Corpus,
    acts: &Activations,
    starts: &[usize],
    h: &dyn crate::hypothesis::Hypothesis,
    unit: usize,
    scores: Vec<(String, String)>,
    verification: Option<String>,
    anchor: &str,
    opts: &ReportOptions,
) -> Result<PairingView> {
    let col: Vec<f32> = acts.values.column(unit).to_vec();
    let mut hv: Vec<f32> = Vec::with_capacity(col.len());
    for s in corpus.sequences() {
        hv.extend(evaluate_steps(h, s)?);
    }
    // the stretch where both move most: the window of `stretch`
    // characters (within one sequence) with the largest product of the
    // two standard deviations
    let len = opts.stretch.max(8);
    let sd = |v: &[f32]| {
        let m = v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len().max(1) as f64;
        (v.iter().map(|x| (f64::from(*x) - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
    };
    let mut best_w = (0usize, 0usize, -1.0f64);
    for (si, s) in corpus.sequences().iter().enumerate() {
        let n = s.len();
        if n == 0 {
            continue;
        }
        let w = len.min(n);
        let mut start = 0;
        loop {
            let a = starts[si] + start;
            let score = sd(&col[a..a + w]) * sd(&hv[a..a + w]);
            if score > best_w.2 {
                best_w = (si, start, score);
            }
            if start + w >= n {
                break;
            }
            start = (start + w / 2).min(n - w);
        }
    }
    let (si, start, _) = best_w;
    let w = len.min(corpus.sequences().get(si).map_or(0, |s| s.len()));
    let a = starts.get(si).copied().unwrap_or(0) + start;
    let u_stretch = &col[a..a + w];
    let h_stretch = &hv[a..a + w];
    let title = format!(
        "unit {} and {} (sequence {si}, timesteps {start}..{})",
        acts.units[unit],
        h.name(),
        start + w
    );
    let svg = figures::unit_and_hypothesis(
        &title,
        &format!("unit {}", acts.units[unit]),
        u_stretch,
        h.name(),
        h_stretch,
    )?;
    let scale = col.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-9);
    let (hlo, hhi) = h_stretch
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    let hspan = (hhi - hlo).max(1e-9);
    let seq = &corpus.sequences()[si];
    let text = (0..w)
        .map(|k| {
            (
                seq.step_text(start + k),
                f64::from(u_stretch[k] / scale),
                f64::from((h_stretch[k] - hlo) / hspan),
                u_stretch[k],
                h_stretch[k],
            )
        })
        .collect();
    let file = format!("pairing-{}.svg", anchor.trim_start_matches("p-"));
    Ok(PairingView {
        anchor: anchor.to_string(),
        hypothesis: h.name().to_string(),
        unit: acts.units[unit].clone(),
        scores,
        figure: svg,
        figure_file: file,
        text,
        stretch_at: (si, start),
        top: contexts(corpus, acts, &col, opts.contexts, true, opts.context_before),
        bottom: contexts(
            corpus,
            acts,
            &col,
            opts.contexts,
            false,
            opts.context_before,
        ),
        verification,
    })
}

/// Each sequence's first row, and the number of rows at the end.
fn seq_starts(corpus: &Corpus) -> Vec<usize> {
    let mut starts = Vec::with_capacity(corpus.len() + 1);
    let mut at = 0usize;
    for s in corpus.sequences() {
        starts.push(at);
        at += s.len();
    }
    starts.push(at);
    starts
}

/// Pearson r of two columns (0 when either is constant).
fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let ma = a.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let mb = b.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(*x) - ma, f64::from(*y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    }
}

/// A page for one assertion: `hypothesis` against the units named in
/// `units` (column indices: the asserted or best ones first), each in its
/// own section, then its strongest competitors up to `competitors` more
/// units, with a table of their Pearson r linking to the sections.
#[allow(clippy::too_many_arguments)]
pub fn write_assertion_page(
    title: &str,
    header: Vec<(String, String)>,
    corpus: &Corpus,
    acts: &Activations,
    hypothesis: &dyn crate::hypothesis::Hypothesis,
    units: &[usize],
    competitors: usize,
    dir: &Path,
) -> Result<Written> {
    if acts.n_rows() != corpus.timesteps() {
        return Err(Error::invalid(
            "report",
            "the recording does not match the corpus",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let opts = ReportOptions::default();
    let starts = seq_starts(corpus);
    let mut hv: Vec<f32> = Vec::with_capacity(corpus.timesteps());
    for s in corpus.sequences() {
        hv.extend(evaluate_steps(hypothesis, s)?);
    }
    let r: Vec<f64> = (0..acts.n_units())
        .map(|j| pearson(&acts.values.column(j).to_vec(), &hv))
        .collect();
    let mut chosen: Vec<usize> = units
        .iter()
        .copied()
        .filter(|u| *u < acts.n_units())
        .collect();
    let mut others: Vec<usize> = (0..acts.n_units())
        .filter(|j| !chosen.contains(j))
        .collect();
    others.sort_by(|a, b| r[*b].abs().total_cmp(&r[*a].abs()).then(a.cmp(b)));
    chosen.extend(others.into_iter().take(competitors));
    let mut pairings = Vec::new();
    let mut table = Vec::new();
    let mut anchors = Vec::new();
    for (k, &u) in chosen.iter().enumerate() {
        let role = if k < units.len() {
            "asserted"
        } else {
            "competitor"
        };
        let a = format!("p-unit-{u}");
        let view = pairing_view(
            corpus,
            acts,
            &starts,
            hypothesis,
            u,
            vec![
                ("role".into(), role.into()),
                ("pearson".into(), format!("{:+.4}", r[u])),
            ],
            None,
            &a,
            &opts,
        )?;
        table.push(vec![
            acts.units[u].clone(),
            role.to_string(),
            format!("{:+.4}", r[u]),
        ]);
        anchors.push(Some(a));
        pairings.push(view);
    }
    let page = Page {
        title: title.to_string(),
        header,
        table_title: format!("Units against `{}`", hypothesis.name()),
        table,
        table_head: vec!["unit".into(), "role".into(), "pearson".into()],
        anchors,
        pairings,
        units: Vec::new(),
        figure1: None,
        figure3: Vec::new(),
        notes: Vec::new(),
    };
    let html = html::render(&page);
    let mut written = Written {
        index: dir.join("index.html"),
        figures: Vec::new(),
        bytes: html.len() as u64,
    };
    std::fs::write(&written.index, &html).map_err(|e| Error::io(&written.index, e))?;
    for v in &page.pairings {
        let p = dir.join(&v.figure_file);
        std::fs::write(&p, &v.figure).map_err(|e| Error::io(&p, e))?;
        written.bytes += v.figure.len() as u64;
        written.figures.push(p);
    }
    Ok(written)
}
