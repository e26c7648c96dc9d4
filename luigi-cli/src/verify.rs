//! `luigi verify` and `luigi inspect --verify`: perturbation verification
//! from the command line (see `luigi_test::verify`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use luigi_test::model::Model;
use luigi_test::Corpus;

use crate::{default_layer, sanitize, CorpusArgs, Format};

pub(crate) struct VerifyArgs {
    pub(crate) layer: Option<String>,
    pub(crate) hypotheses: Option<PathBuf>,
    pub(crate) hypothesis: String,
    pub(crate) unit: String,
    pub(crate) mode: String,
    pub(crate) cases: Option<usize>,
    pub(crate) controls: Vec<String>,
    pub(crate) competitors: usize,
    pub(crate) control_units: usize,
    pub(crate) regressions: Option<PathBuf>,
    pub(crate) seed: u64,
    pub(crate) format: Format,
}

/// Names in `names` closest to `name` (by edit distance), for error messages.
fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> String {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + usize::from(ca != *cb))
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let mut all: Vec<(usize, &str)> = names.map(|n| (dist(name, n), n)).collect();
    all.sort();
    all.iter()
        .take(5)
        .map(|(_, n)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn verify(model: &Path, corpus: &CorpusArgs, args: &VerifyArgs) -> Result<ExitCode> {
    use luigi_test::hypothesis::{families, Hypothesis, HypothesisSet};
    use luigi_test::verify::{competitors, perturb, PerturbOptions, Verdict};
    if args.mode != "perturb" {
        anyhow::bail!(
            "--mode {}: only `perturb` is built so far (forcing a unit while the model generates is not)",
            args.mode
        );
    }
    let m = Model::load(model)?;
    let c = corpus.load()?;
    let layer = args.layer.clone().unwrap_or_else(|| default_layer(&m));
    let set = match &args.hypotheses {
        Some(p) => HypothesisSet::load_with_corpus(p, &c)?,
        None => families::auto(&c)?,
    };
    let h = set.get(&args.hypothesis).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown hypothesis `{}`: the closest names are {} (names as `luigi inspect` prints them; \
             quote them in the shell, e.g. --hypothesis 'depth(()')",
            args.hypothesis,
            closest(&args.hypothesis, set.names().into_iter())
        )
    })?;
    let units = m.units(&layer)?;
    let unit = match units.iter().position(|u| *u == args.unit) {
        Some(i) => i,
        None => match args.unit.parse::<usize>() {
            Ok(i) if i < units.len() => i,
            _ => anyhow::bail!(
                "unknown unit `{}`: layer `{layer}` has {} units (0..{}); the closest names are {}",
                args.unit,
                units.len(),
                units.len().saturating_sub(1),
                closest(&args.unit, units.iter().map(String::as_str))
            ),
        },
    };
    eprintln!(
        "luigi: verifying unit {} on `{}` over {} timesteps ({} sequences); layer `{layer}` of {}",
        units[unit],
        h.name(),
        c.timesteps(),
        c.len(),
        m.path().display()
    );
    let acts = m
        .record(&c, &[layer.as_str()])?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("recorded no layer"))?;
    let all: Vec<&dyn Hypothesis> = set.iter().collect();
    let control_idx: Vec<usize> = if args.controls.is_empty() {
        competitors(&c, &acts, unit, h, &all, args.competitors)?
    } else {
        args.controls
            .iter()
            .map(|n| {
                set.index_of(n).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown control hypothesis `{n}`: the closest names are {}",
                        closest(n, set.names().into_iter())
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let controls: Vec<&dyn Hypothesis> = control_idx.iter().map(|&i| all[i]).collect();
    let mut opts = PerturbOptions::from_env()?;
    if let Some(n) = args.cases {
        if n == 0 {
            anyhow::bail!("--cases 0 draws nothing: use at least 1 (default 256)");
        }
        opts.cases = n;
    }
    opts.seed = args.seed;
    opts.control_units = args.control_units;
    opts.regressions = args.regressions.as_ref().map(|d| {
        d.join(format!(
            "{}-{}.txt",
            sanitize(&args.hypothesis),
            sanitize(&units[unit])
        ))
    });
    let v = perturb(&m, &layer, &c, &acts, h, unit, &controls, &opts)?;
    match args.format {
        Format::Table => print!("{v}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
    }
    Ok(if v.verdict == Verdict::Confirmed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Perturbation verdicts of the best pairing of the top `k` hypotheses.
pub(crate) fn verify_best(
    m: &Model,
    c: &Corpus,
    layer: &str,
    set: &luigi_test::hypothesis::HypothesisSet,
    result: &luigi_test::inspect::Inspection,
    k: usize,
    seed: u64,
) -> Result<Vec<luigi_test::inspect::VerifiedPairing>> {
    use luigi_test::hypothesis::Hypothesis;
    use luigi_test::verify::{competitors, perturb, PerturbOptions};
    if k == 0 {
        return Ok(Vec::new());
    }
    let acts = m
        .record(c, &[layer])?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("recorded no layer"))?;
    let all: Vec<&dyn Hypothesis> = set.iter().collect();
    let mut opts = PerturbOptions::from_env()?;
    opts.seed = seed;
    let mut out = Vec::new();
    for p in result.best_per_hypothesis().into_iter().take(k) {
        let Some(h) = set.get(&p.hypothesis) else {
            continue;
        };
        eprintln!("luigi: verifying unit {} on `{}`", p.unit, p.hypothesis);
        let chosen = competitors(c, &acts, p.unit_index, h, &all, 2)?;
        let controls: Vec<&dyn Hypothesis> = chosen.iter().map(|&i| all[i]).collect();
        let v = perturb(m, layer, c, &acts, h, p.unit_index, &controls, &opts)?;
        out.push(luigi_test::inspect::VerifiedPairing {
            hypothesis: p.hypothesis.clone(),
            unit: p.unit.clone(),
            verdict: v.verdict,
            effect: v.effect,
            p_value: v.p_value,
            informative: v.informative,
        });
    }
    Ok(out)
}
