//! `luigi inspect`: rank every unit against every hypothesis, with probes,
//! verification and PCA on request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use luigi_test::model::{Model, RecordOptions};
use luigi_test::Corpus;

use crate::verify::verify_best;
use crate::{default_layer, progress_bar, CorpusArgs, Format, Sort};

pub(crate) struct InspectArgs {
    pub(crate) layer: Option<String>,
    pub(crate) hypotheses: Option<PathBuf>,
    pub(crate) families: bool,
    pub(crate) top: usize,
    pub(crate) sort: Sort,
    pub(crate) format: Format,
    pub(crate) json_out: Option<PathBuf>,
    pub(crate) keep: usize,
    pub(crate) fast: bool,
    pub(crate) second_pass_mb: u64,
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) probe: Vec<String>,
    pub(crate) probe_top: usize,
    pub(crate) probe_sequences: Option<usize>,
    pub(crate) probe_fraction: f64,
    pub(crate) probe_stability: usize,
    pub(crate) pca: Option<(String, PathBuf)>,
    pub(crate) verify: Option<usize>,
}

pub(crate) fn inspect(model: &Path, corpus: &CorpusArgs, args: &InspectArgs) -> Result<ExitCode> {
    use luigi_test::hypothesis::{families, HypothesisSet};
    use luigi_test::inspect::{inspect, InspectOptions};
    let m = Model::load(model)?;
    let c = corpus.load(&m)?;
    let layer = args.layer.clone().unwrap_or_else(|| default_layer(&m));
    let mut set = match &args.hypotheses {
        Some(p) => HypothesisSet::load_with_corpus(p, &c)?,
        None => families::auto(&c)?,
    };
    if args.hypotheses.is_some() && args.families {
        let generated = families::auto(&c)?;
        for h in generated.into_boxed() {
            if set.index_of(h.name()).is_none() {
                set.add_boxed(h)?;
            }
        }
    }
    eprintln!(
        "luigi: {} hypotheses over {} timesteps ({} sequences); layer `{layer}` of {}",
        set.len(),
        c.timesteps(),
        c.len(),
        m.path().display()
    );
    let pb = progress_bar(c.timesteps());
    pb.set_message("recording and scoring");
    let pb2 = pb.clone();
    let pb3 = pb.clone();
    let mut opts = InspectOptions::default();
    opts.phase = Some(std::sync::Arc::new(move |name: &str| {
        pb3.set_message(name.to_string());
    }));
    opts.score = opts
        .score
        .seed(args.seed)
        .second_pass_bytes(usize::try_from(args.second_pass_mb << 20).unwrap_or(usize::MAX));
    opts.second_pass = !args.fast;
    opts.record = RecordOptions {
        batch_size: args.batch_size,
        progress: Some(std::sync::Arc::new(move |done, _| {
            pb2.set_position(done as u64)
        })),
        ..RecordOptions::default()
    };
    let mut result = inspect(&m, &c, &layer, &set, &opts)?;
    pb.finish_and_clear();
    if let Some(k) = args.verify {
        result.verified = verify_best(&m, &c, &layer, &set, &result, k, args.seed)?;
    }
    let mut kept = result.clone();
    if args.keep > 0 {
        kept.ranking = kept.ranking.truncated(args.keep);
    }
    let probes = probe_and_project(&m, &c, &layer, set, &result, args)?;
    let mut value = serde_json::to_value(&kept)?;
    if let (Some(p), serde_json::Value::Object(map)) = (&probes, &mut value) {
        map.insert("probes".to_string(), serde_json::to_value(p.rounded(4))?);
    }
    let json = serde_json::to_string_pretty(&value)?;
    if let Some(p) = &args.json_out {
        std::fs::write(p, &json).with_context(|| format!("writing {}", p.display()))?;
    }
    match args.format {
        Format::Table => {
            print!("{}", result.table_by(args.top, args.sort.into()));
            if let Some(p) = &probes {
                println!();
                print!("{}", p.table());
            }
        }
        Format::Json => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The hypotheses `--probe` asks for: the named ones (checked to exist and
/// to give classes), then, for a bare `--probe`, the top `--probe-top`
/// binary or categorical hypotheses of the ranking.
fn probe_selection(
    set: &luigi_test::hypothesis::HypothesisSet,
    result: &luigi_test::inspect::Inspection,
    args: &InspectArgs,
) -> Result<Vec<String>> {
    use luigi_test::hypothesis::HypothesisKind;
    let mut chosen: Vec<String> = Vec::new();
    let names = set.names();
    let kinds = set.kinds();
    let kind_of = |n: &str| names.iter().position(|m| *m == n).map(|i| &kinds[i]);
    for name in args.probe.iter().filter(|n| !n.is_empty()) {
        match kind_of(name) {
            None => {
                let close = luigi_test::error::closest_names(name, names.iter().copied(), 3);
                anyhow::bail!(
                    "--probe {name}: no hypothesis `{name}` in this run{}. Name one of the ranked hypotheses (see `--format json`), or load it with --hypotheses",
                    if close.is_empty() {
                        String::new()
                    } else {
                        format!(" (closest: {})", close.join(", "))
                    }
                );
            }
            Some(HypothesisKind::Numeric) => anyhow::bail!(
                "--probe {name}: `{name}` is numeric, and a probe predicts classes. Probe a binary or categorical hypothesis (an `fsm`, `char`, `inside`, ...), or bin it into one in the --hypotheses file"
            ),
            Some(_) => {
                if !chosen.contains(name) {
                    chosen.push(name.clone());
                }
            }
        }
    }
    if args.probe.iter().any(String::is_empty) {
        if args.probe_top == 0 {
            anyhow::bail!("--probe-top 0 with a bare --probe selects nothing: use at least 1, or name hypotheses with --probe NAME");
        }
        let mut added = 0;
        for p in result.best_per_hypothesis() {
            if added == args.probe_top {
                break;
            }
            let probeable = kind_of(&p.hypothesis).is_some_and(|k| *k != HypothesisKind::Numeric);
            if probeable && !chosen.contains(&p.hypothesis) {
                chosen.push(p.hypothesis.clone());
                added += 1;
            }
        }
        if added == 0 {
            anyhow::bail!("--probe: no binary or categorical hypothesis in the ranking to probe; add one (e.g. an `fsm` or `char` item) with --hypotheses");
        }
    }
    Ok(chosen)
}

/// Runs `--probe` and `--pca` (the model is recorded again, with the
/// untrained twin, over the first `--probe-sequences` sequences).
fn probe_and_project(
    m: &Model,
    c: &Corpus,
    layer: &str,
    set: luigi_test::hypothesis::HypothesisSet,
    result: &luigi_test::inspect::Inspection,
    args: &InspectArgs,
) -> Result<Option<luigi_test::probe::LayerProbes>> {
    use luigi_test::hypothesis::HypothesisSet;
    use luigi_test::probe::{LayerData, LayerProbeConfig, ProbeConfig, UnitSetConfig};
    let selected = if args.probe.is_empty() {
        Vec::new()
    } else {
        probe_selection(&set, result, args)?
    };
    if selected.is_empty() && args.pca.is_none() {
        return Ok(None);
    }
    if let Some((name, _)) = &args.pca {
        if !set.contains(name) {
            let close = luigi_test::error::closest_names(name, set.names(), 3);
            anyhow::bail!(
                "--pca {name}: no hypothesis `{name}` in this run{}. Name a binary or categorical hypothesis of the ranking, or load it with --hypotheses",
                if close.is_empty() {
                    String::new()
                } else {
                    format!(" (closest: {})", close.join(", "))
                }
            );
        }
    }
    if !(args.probe_fraction > 0.0 && args.probe_fraction <= 1.0) {
        anyhow::bail!(
            "--probe-fraction {}: use a share in (0, 1], such as 0.95",
            args.probe_fraction
        );
    }
    let corpus = match args.probe_sequences {
        Some(0) => anyhow::bail!("--probe-sequences 0 keeps nothing: use at least 1"),
        Some(n) => c.first(n)?,
        None => c.clone(),
    };
    let wanted: Vec<&str> = selected
        .iter()
        .map(String::as_str)
        .chain(args.pca.as_ref().map(|(n, _)| n.as_str()))
        .collect();
    let mut subset = HypothesisSet::new();
    for h in set.into_boxed() {
        if wanted.contains(&h.name()) {
            subset.add_boxed(h)?;
        }
    }
    eprintln!(
        "luigi: recording `{layer}` again over {} sequences for {} probe(s){}",
        corpus.len(),
        selected.len(),
        if args.pca.is_some() {
            " and the PCA"
        } else {
            ""
        }
    );
    let record = RecordOptions {
        batch_size: args.batch_size,
        ..RecordOptions::default()
    };
    let data = LayerData::record(m, &corpus, layer, &subset, !selected.is_empty(), &record)?;
    if let Some((name, out)) = &args.pca {
        let export = data
            .project(name)
            .with_context(|| format!("--pca {name}"))?;
        std::fs::write(out, serde_json::to_string(&export)?)
            .with_context(|| format!("writing --pca-out {}", out.display()))?;
        eprintln!(
            "luigi: PCA of `{layer}` by `{name}` ({} points, explained variance ratio {:.3}, {:.3}) -> {}",
            export.points.len(),
            export.explained_variance_ratio[0],
            export.explained_variance_ratio[1],
            out.display()
        );
    }
    if selected.is_empty() {
        return Ok(None);
    }
    let probe = ProbeConfig {
        seed: args.seed,
        ..ProbeConfig::default()
    };
    let config = LayerProbeConfig {
        unit_set: Some(UnitSetConfig {
            probe: probe.clone(),
            fraction: args.probe_fraction,
            stability_resamples: args.probe_stability,
            ..UnitSetConfig::default()
        }),
        probe,
        untrained: true,
    };
    let pb = indicatif::ProgressBar::new(selected.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} probing [{bar:30}] {pos}/{len} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let pb2 = pb.clone();
    let probes = data.probe_all(&selected, &config, &move |i, _, name| {
        pb2.set_position(i as u64);
        pb2.set_message(name.to_string());
    });
    pb.finish_and_clear();
    let probes = probes.context("--probe")?;
    Ok(Some(probes))
}
