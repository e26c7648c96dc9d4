//! `luigi verify` and `luigi inspect --verify`: perturbation verification
//! from the command line (see `luigi_test::verify`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use luigi_test::model::Model;
use luigi_test::Corpus;

use crate::{default_layer, sanitize, CorpusArgs, Format};

/// Which verification `luigi verify` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Edit the input so that only the hypothesis changes; the unit must follow.
    Perturb,
    /// Hold the unit on and off while the model writes; the model must write the hypothesis.
    Intervene,
    /// Both; confirmed only when both are.
    Both,
}

/// How the model samples (`luigi verify --mode intervene`, `luigi generate`).
#[derive(clap::Args, Debug)]
pub(crate) struct SamplingArgs {
    /// Sampling temperature (0 = most likely token).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) temperature: f32,
    /// Sample from the K most likely tokens only.
    #[arg(long)]
    pub(crate) top_k: Option<usize>,
    /// Sample from the smallest set of tokens whose probability reaches P.
    #[arg(long)]
    pub(crate) top_p: Option<f32>,
}

impl SamplingArgs {
    fn sampling(&self) -> luigi_test::model::Sampling {
        luigi_test::model::Sampling {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
        }
    }
}

/// The arguments of `luigi verify` after the model and corpus.
#[derive(clap::Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Layer name or alias (default: the card's only alias, or `lstm`).
    #[arg(long)]
    pub(crate) layer: Option<String>,
    /// A YAML hypothesis list to find the hypothesis (and the competing
    /// hypotheses) in. Without it, the families generated from the corpus.
    #[arg(long)]
    pub(crate) hypotheses: Option<PathBuf>,
    /// The hypothesis, named as inspect prints it (e.g. 'depth(()').
    #[arg(long)]
    pub(crate) hypothesis: String,
    /// The unit: its index on the layer's last axis, or its name as inspect prints it.
    #[arg(long)]
    pub(crate) unit: String,
    /// Verification mode.
    #[arg(long, value_enum, default_value_t = Mode::Perturb)]
    pub(crate) mode: Mode,
    /// perturb: edits to draw (default: PROPTEST_CASES when set, else 256).
    #[arg(long, help_heading = "Perturbation")]
    pub(crate) cases: Option<usize>,
    /// perturb: hypotheses held fixed at informative timesteps besides the
    /// token (repeatable). Default: the unit's `--competitors` strongest
    /// competing hypotheses among the list.
    #[arg(long = "control", value_name = "NAME", help_heading = "Perturbation")]
    pub(crate) controls: Vec<String>,
    /// perturb: how many competing hypotheses to hold fixed when no --control is given.
    #[arg(long, default_value_t = 2, help_heading = "Perturbation")]
    pub(crate) competitors: usize,
    /// Random control units compared against (default: 8 for perturb, 4 for intervene).
    #[arg(long)]
    pub(crate) control_units: Option<usize>,
    /// perturb: a folder for proptest regression files: counterexample seeds
    /// are kept there and replayed first next time (default: none).
    #[arg(long, help_heading = "Perturbation")]
    pub(crate) regressions: Option<PathBuf>,
    /// intervene: what to measure on each continuation (a hypothesis of the
    /// list; its mean over the generated steps). Default: the hypothesis
    /// itself (for a categorical one, the share of steps in --state).
    #[arg(long, value_name = "NAME", help_heading = "Intervention")]
    pub(crate) response: Option<String>,
    /// intervene: continuations per condition (unit on, off, unforced, and
    /// each control unit on and off).
    #[arg(long, default_value_t = luigi_test::verify::DEFAULT_SAMPLES, help_heading = "Intervention")]
    pub(crate) samples: usize,
    /// intervene: characters generated per continuation.
    #[arg(long, default_value_t = luigi_test::verify::DEFAULT_STEPS, help_heading = "Intervention")]
    pub(crate) steps: usize,
    /// intervene: hold the unit for this many steps only (default: all).
    #[arg(long, help_heading = "Intervention")]
    pub(crate) force_steps: Option<usize>,
    /// intervene: prompt length in timesteps: characters, or tokens for a
    /// model with a subword tokenizer (prompts are corpus windows drawn with
    /// the seed).
    #[arg(long, default_value_t = luigi_test::verify::DEFAULT_PROMPT_LEN, help_heading = "Intervention")]
    pub(crate) prompt_len: usize,
    /// intervene: the "on" value (default: the unit's mean where the
    /// hypothesis holds: binary 1, numeric its top decile, categorical --state).
    #[arg(long, allow_hyphen_values = true, help_heading = "Intervention")]
    pub(crate) on: Option<f32>,
    /// intervene: the "off" value (default: the unit's mean elsewhere).
    #[arg(long, allow_hyphen_values = true, help_heading = "Intervention")]
    pub(crate) off: Option<f32>,
    /// intervene: for a categorical hypothesis, the state "on" stands for
    /// (default: the state where the unit's mean differs most).
    #[arg(long, help_heading = "Intervention")]
    pub(crate) state: Option<String>,
    /// intervene: how the model samples.
    #[command(flatten, next_help_heading = "Sampling (intervene)")]
    pub(crate) sampling: SamplingArgs,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0x5EED)]
    pub(crate) seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
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
    use luigi_test::verify::{
        competitors, intervene, perturb, InterveneOptions, PerturbOptions, Verdict,
    };
    let m = Model::load(model)?;
    let c = corpus.load(&m)?;
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
    let response = match &args.response {
        Some(n) => Some(set.get(n).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown response hypothesis `{n}`: the closest names are {}",
                closest(n, set.names().into_iter())
            )
        })?),
        None => None,
    };
    let mut out = serde_json::Map::new();
    let mut verdicts = Vec::new();
    let mut table = String::new();
    if matches!(args.mode, Mode::Perturb | Mode::Both) {
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
        opts.control_units = args.control_units.unwrap_or(8);
        opts.regressions = args.regressions.as_ref().map(|d| {
            d.join(format!(
                "{}-{}.txt",
                sanitize(&args.hypothesis),
                sanitize(&units[unit])
            ))
        });
        let v = perturb(&m, &layer, &c, &acts, h, unit, &controls, &opts)?;
        verdicts.push(v.verdict);
        table.push_str(&v.to_string());
        out.insert("perturb".into(), serde_json::to_value(&v)?);
    }
    if matches!(args.mode, Mode::Intervene | Mode::Both) {
        let opts = InterveneOptions {
            samples: args.samples,
            steps: args.steps,
            force_steps: args.force_steps,
            prompt_len: args.prompt_len,
            control_units: args.control_units.unwrap_or(4),
            sampling: args.sampling.sampling(),
            on: args.on,
            off: args.off,
            state: args.state.clone(),
            seed: args.seed,
            ..InterveneOptions::default()
        };
        let v = intervene(&m, &layer, &c, &acts, h, response, unit, &opts)?;
        verdicts.push(v.verdict);
        table.push_str(&v.to_string());
        out.insert("intervene".into(), serde_json::to_value(&v)?);
    }
    let verdict = if verdicts.iter().all(|v| *v == Verdict::Confirmed) {
        Verdict::Confirmed
    } else if verdicts.contains(&Verdict::Refuted) {
        Verdict::Refuted
    } else {
        Verdict::Inconclusive
    };
    match args.format {
        Format::Table => {
            print!("{table}");
            if args.mode == Mode::Both {
                println!("both: {verdict}");
            }
        }
        Format::Json => {
            let json = if args.mode == Mode::Both {
                out.insert("verdict".into(), serde_json::to_value(verdict)?);
                out.insert("mode".into(), "both".into());
                serde_json::Value::Object(out)
            } else {
                out.into_iter().next().map(|(_, v)| v).unwrap_or_default()
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(if verdict == Verdict::Confirmed {
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

/// The arguments of `luigi generate` after the model.
#[derive(clap::Args, Debug)]
pub(crate) struct GenerateArgs {
    /// The layer whose units --force holds (default: the card's only alias, or `lstm`).
    #[arg(long)]
    pub(crate) layer: Option<String>,
    /// The prompt (default: a newline).
    #[arg(long, default_value = "\n")]
    pub(crate) prompt: String,
    /// Hold unit U (index or name as inspect prints it) at value V while
    /// the model writes (repeatable), e.g. --force 103=0.9.
    #[arg(long = "force", value_name = "U=V")]
    pub(crate) forces: Vec<String>,
    /// Characters to generate.
    #[arg(long, default_value_t = 200)]
    pub(crate) steps: usize,
    /// Continuations to sample (each with its own draws).
    #[arg(long, default_value_t = 1)]
    pub(crate) samples: usize,
    /// How the model samples.
    #[command(flatten, next_help_heading = "Sampling")]
    pub(crate) sampling: SamplingArgs,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0x5EED)]
    pub(crate) seed: u64,
    /// Output format (json: the prompt, the forces and the continuations).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// `luigi generate`.
pub(crate) fn generate(model: &Path, args: &GenerateArgs) -> Result<ExitCode> {
    use luigi_test::model::{Force, GenerateOptions, Request};
    let m = Model::load(model)?;
    let mut forces = Vec::new();
    let layer = if args.forces.is_empty() {
        None
    } else {
        Some(args.layer.clone().unwrap_or_else(|| default_layer(&m)))
    };
    if let Some(layer) = &layer {
        let units = m.units(layer)?;
        for f in &args.forces {
            let (u, v) = f.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--force {f}: write UNIT=VALUE, e.g. --force 103=0.9")
            })?;
            let unit = match units.iter().position(|n| n == u.trim()) {
                Some(i) => i,
                None => match u.trim().parse::<usize>() {
                    Ok(i) if i < units.len() => i,
                    _ => anyhow::bail!(
                        "--force {f}: unknown unit `{u}`: layer `{layer}` has {} units (0..{}); the closest names are {}",
                        units.len(),
                        units.len().saturating_sub(1),
                        closest(u, units.iter().map(String::as_str))
                    ),
                },
            };
            let value: f32 = v
                .trim()
                .parse()
                .ok()
                .filter(|x: &f32| x.is_finite())
                .ok_or_else(|| anyhow::anyhow!("--force {f}: `{v}` is not a finite number"))?;
            forces.push(Force { unit, value });
        }
    }
    if args.prompt.is_empty() {
        anyhow::bail!("--prompt is empty: give at least one character");
    }
    let (_, ids) = m.card().prompt(&args.prompt)?;
    if ids.is_empty() {
        anyhow::bail!(
            "--prompt {:?} gives no token: give a prompt with a word in it",
            args.prompt
        );
    }
    let g = m.generator(layer.as_deref())?;
    let requests: Vec<Request> = (0..args.samples.max(1))
        .map(|i| Request {
            prompt: &ids,
            forces: &forces,
            stream: i as u64,
        })
        .collect();
    let opts = GenerateOptions {
        steps: args.steps,
        force_steps: None,
        sampling: args.sampling.sampling(),
        clamp: luigi_test::model::Clamp::Layer,
        seed: args.seed,
    };
    let out = g.run(&requests, &opts)?;
    let texts: Vec<String> = out
        .iter()
        .map(|o| Ok(m.card().continuation(&ids, &o.tokens)?.concat()))
        .collect::<Result<_>>()?;
    match args.format {
        Format::Table => {
            for (i, t) in texts.iter().enumerate() {
                if texts.len() > 1 {
                    println!("--- sample {} ---", i + 1);
                }
                println!("{}{t}", args.prompt);
            }
        }
        Format::Json => {
            let units = match &layer {
                Some(l) => m.units(l)?,
                None => Vec::new(),
            };
            let forced: Vec<serde_json::Value> = forces
                .iter()
                .map(|f| serde_json::json!({"unit": units[f.unit], "value": f.value}))
                .collect();
            let json = serde_json::json!({
                "model": m.path().display().to_string(),
                "layer": layer,
                "prompt": args.prompt,
                "forces": forced,
                "steps": args.steps,
                "seed": args.seed,
                "temperature": args.sampling.temperature,
                "continuations": texts,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
