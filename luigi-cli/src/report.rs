//! `luigi report`: the HTML report (see `luigi_test::report`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use luigi_test::model::Model;

use crate::{default_layer, CorpusArgs};

/// The arguments of `luigi report` after the model and corpus.
#[derive(clap::Args, Debug)]
pub(crate) struct ReportArgs {
    /// Layer name or alias (default: the card's only alias, or `lstm`).
    #[arg(long)]
    pub(crate) layer: Option<String>,
    /// A YAML hypothesis list. Without it, hypothesis families are generated
    /// from the corpus.
    #[arg(long)]
    pub(crate) hypotheses: Option<PathBuf>,
    /// Rows of the ranking table.
    #[arg(long, default_value_t = 40)]
    pub(crate) top: usize,
    /// Pairings given a section (the best units of the top hypotheses).
    #[arg(long, default_value_t = 8)]
    pub(crate) pairings: usize,
    /// Top- and bottom-activating contexts per pairing.
    #[arg(long, default_value_t = 5)]
    pub(crate) contexts: usize,
    /// Draw Figure 3b (the PCA of the layer) coloured by this binary or
    /// categorical hypothesis (repeatable).
    #[arg(long, value_name = "HYPOTHESIS")]
    pub(crate) pca: Vec<String>,
    /// Verify the best pairing of the top K hypotheses by perturbation and
    /// show the verdicts (and counterexamples) in their sections.
    #[arg(long, value_name = "K")]
    pub(crate) verify: Option<usize>,
    /// One pass only (no Spearman, AUC or permutation tests), as `inspect --fast`.
    #[arg(long)]
    pub(crate) fast: bool,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0x5EED)]
    pub(crate) seed: u64,
    /// Output folder (created if missing): index.html and the figures.
    #[arg(long, short)]
    pub(crate) out: PathBuf,
}

/// `luigi report`.
pub(crate) fn report(model: &Path, corpus: &CorpusArgs, args: &ReportArgs) -> Result<ExitCode> {
    use luigi_test::hypothesis::{families, Hypothesis, HypothesisSet};
    use luigi_test::inspect::{inspect, InspectOptions, VerifiedPairing};
    use luigi_test::probe::LayerData;
    use luigi_test::verify::{competitors, perturb, PerturbOptions};
    let m = Model::load(model)?;
    let c = corpus.load(&m)?;
    let layer = args.layer.clone().unwrap_or_else(|| default_layer(&m));
    let set = match &args.hypotheses {
        Some(p) => HypothesisSet::load_with_corpus(p, &c)?,
        None => families::auto(&c)?,
    };
    for name in &args.pca {
        if !set.contains(name) {
            let close = luigi_test::error::closest_names(name, set.names(), 3);
            anyhow::bail!(
                "--pca {name}: no hypothesis `{name}` in this run{}",
                if close.is_empty() {
                    String::new()
                } else {
                    format!(" (closest: {})", close.join(", "))
                }
            );
        }
    }
    eprintln!(
        "luigi: report on {} hypotheses over {} timesteps ({} sequences); layer `{layer}` of {}",
        set.len(),
        c.timesteps(),
        c.len(),
        m.path().display()
    );
    let mut opts = InspectOptions::default();
    opts.score = opts.score.seed(args.seed);
    opts.second_pass = !args.fast;
    let mut result = inspect(&m, &c, &layer, &set, &opts)?;
    let acts = m
        .record(&c, &[layer.as_str()])?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("recorded no layer"))?;
    let mut verifications = Vec::new();
    if let Some(k) = args.verify {
        let all: Vec<&dyn Hypothesis> = set.iter().collect();
        let mut popts = PerturbOptions::from_env()?;
        popts.seed = args.seed;
        let best: Vec<(String, String, usize)> = result
            .best_per_hypothesis()
            .into_iter()
            .take(k)
            .map(|p| (p.hypothesis.clone(), p.unit.clone(), p.unit_index))
            .collect();
        for (hname, unit, index) in best {
            let Some(h) = set.get(&hname) else { continue };
            eprintln!("luigi: verifying unit {unit} on `{hname}`");
            let chosen = competitors(&c, &acts, index, h, &all, 2)?;
            let controls: Vec<&dyn Hypothesis> = chosen.iter().map(|&i| all[i]).collect();
            let v = perturb(&m, &layer, &c, &acts, h, index, &controls, &popts)?;
            result.verified.push(VerifiedPairing {
                hypothesis: hname.clone(),
                unit: unit.clone(),
                verdict: v.verdict,
                effect: v.effect,
                p_value: v.p_value,
                informative: v.informative,
            });
            verifications.push((hname, unit, v.to_string()));
        }
    }
    let mut projections = Vec::new();
    let set = if args.pca.is_empty() {
        set
    } else {
        let mut subset = HypothesisSet::new();
        for h in set.into_boxed() {
            if args.pca.iter().any(|n| n == h.name()) {
                subset.add_boxed(h)?;
            }
        }
        let data = LayerData::record(&m, &c, &layer, &subset, false, &Default::default())?;
        for name in &args.pca {
            projections.push(data.project(name)?);
        }
        // the hypotheses were moved into the subset; load them again
        match &args.hypotheses {
            Some(p) => HypothesisSet::load_with_corpus(p, &c)?,
            None => families::auto(&c)?,
        }
    };
    finish(
        &m,
        &c,
        &acts,
        &set,
        &result,
        verifications,
        projections,
        args,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    m: &Model,
    c: &luigi_test::Corpus,
    acts: &luigi_test::Activations,
    set: &luigi_test::hypothesis::HypothesisSet,
    result: &luigi_test::inspect::Inspection,
    verifications: Vec<(String, String, String)>,
    projections: Vec<luigi_test::probe::PcaExport>,
    args: &ReportArgs,
) -> Result<ExitCode> {
    use luigi_test::report::{write, ReportInput, ReportOptions};
    let command = std::env::args()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let input = ReportInput {
        card: &m.card().path,
        corpus: c,
        acts,
        hypotheses: set,
        inspection: result,
        command,
        seed: args.seed,
        verifications,
        projections,
    };
    let opts = ReportOptions {
        top: args.top,
        pairings: args.pairings,
        contexts: args.contexts,
        ..ReportOptions::default()
    };
    let w = write(&input, &opts, &args.out)?;
    eprintln!(
        "luigi: wrote {} and {} figures ({:.1} MB)",
        w.index.display(),
        w.figures.len(),
        w.bytes as f64 / 1e6
    );
    println!("{}", w.index.display());
    Ok(ExitCode::SUCCESS)
}
