//! `luigi`: inspect what a sequence model has learned inside.
//!
//! Exit codes: 0 success; 1 an expectation failed (a model judged and found
//! wanting); 2 a setup error (missing model, bad card, unknown layer, bad
//! corpus, bad spec); clap's own usage errors also exit with 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use luigi_test::model::{Model, RecordOptions};
use luigi_test::{Corpus, CorpusFormat};

#[derive(Parser, Debug)]
#[command(
    name = "luigi",
    version,
    about = "Inspect and assert what a sequence model has learned inside"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Corpus arguments shared by several commands.
#[derive(clap::Args, Debug)]
struct CorpusArgs {
    /// Corpus file (or folder, with --window).
    #[arg(long)]
    corpus: PathBuf,
    /// Cut the text into windows of this many characters instead of one sequence per line.
    #[arg(long)]
    window: Option<usize>,
}

impl CorpusArgs {
    fn load(&self) -> Result<Corpus> {
        let format = match self.window {
            Some(w) => CorpusFormat::Windows(w),
            None => CorpusFormat::Lines,
        };
        Ok(Corpus::load(&self.corpus, format)?)
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// A table on the terminal.
    Table,
    /// The ranking as JSON on stdout.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Find (or provision) ONNX Runtime and say which library Luigi uses.
    Runtime,
    /// List every tensor of a model's graph, marking likely hidden states.
    Layers {
        /// The .onnx file (or its .luigi.yaml card).
        model: PathBuf,
    },
    /// Rank every unit of a layer against hypotheses (Luigi's main job).
    Inspect {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Layer name or alias (default: the card's only alias, or `lstm`).
        #[arg(long)]
        layer: Option<String>,
        /// A YAML hypothesis list (see the hypothesis module docs). Without
        /// it, hypothesis families are generated from the corpus.
        #[arg(long)]
        hypotheses: Option<PathBuf>,
        /// Also add the generated families when --hypotheses is given.
        #[arg(long)]
        families: bool,
        /// Rows of the table (best unit per hypothesis).
        #[arg(long, default_value_t = 30)]
        top: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write the JSON ranking here as well.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// Units per hypothesis kept in the JSON (0 = all).
        #[arg(long, default_value_t = 10)]
        keep: usize,
        /// Skip the second pass (Spearman, AUC, permutation p-values, bootstrap intervals).
        #[arg(long)]
        fast: bool,
        /// Seed of every random draw.
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
        /// Sequences per ONNX Runtime call.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
    },
    /// Run a corpus through a model and write layers' activations to .npy files.
    Record {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Layer names or aliases (repeat or comma-separate).
        #[arg(long, value_delimiter = ',', required = true)]
        layer: Vec<String>,
        /// Output folder (created if missing).
        #[arg(long, short, default_value = "luigi-out")]
        out: PathBuf,
        /// Sequences per ONNX Runtime call.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
    },
    /// Run YAML specs (expectations and ranking snapshots); exit 1 when a
    /// case fails, 2 on a setup error.
    Check {
        /// Spec files, or folders of specs (`*.yaml` directly inside).
        #[arg(default_value = "specs")]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Accept differing or missing ranking snapshots (write the `.snap` files).
        #[arg(long)]
        accept: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Runtime => {
            let path = luigi_test::runtime::check()?;
            println!(
                "ONNX Runtime {}: {}",
                luigi_test::runtime::ORT_VERSION,
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Layers { model } => layers(&model),
        Command::Inspect {
            model,
            corpus,
            layer,
            hypotheses,
            families,
            top,
            format,
            json_out,
            keep,
            fast,
            seed,
            batch_size,
        } => {
            let args = InspectArgs {
                layer,
                hypotheses,
                families,
                top,
                format,
                json_out,
                keep,
                fast,
                seed,
                batch_size,
            };
            inspect(&model, &corpus, &args)
        }
        Command::Record {
            model,
            corpus,
            layer,
            out,
            batch_size,
        } => record(&model, &corpus, &layer, &out, batch_size),
        Command::Check {
            paths,
            junit,
            accept,
        } => check(&paths, junit.as_deref(), accept),
    }
}

fn check(paths: &[PathBuf], junit: Option<&Path>, accept: bool) -> Result<ExitCode> {
    use luigi_test::snapshot::Update;
    use luigi_test::spec::{check_paths, junit_xml};
    let update = if accept {
        Update::Accept
    } else {
        Update::from_env()?
    };
    let run = check_paths(paths, update)?;
    println!("{run}");
    if let Some(p) = junit {
        std::fs::write(p, junit_xml(&run)).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitCode::from(run.exit_code()))
}

fn layers(model: &Path) -> Result<ExitCode> {
    let onnx = if model.extension().is_some_and(|e| e == "onnx") {
        model.to_path_buf()
    } else {
        luigi_test::model::Card::load(model)?.model_path
    };
    let graph = luigi_test::model::graph::Graph::load(&onnx)?;
    print!("{}", graph.layers_table());
    Ok(ExitCode::SUCCESS)
}

struct InspectArgs {
    layer: Option<String>,
    hypotheses: Option<PathBuf>,
    families: bool,
    top: usize,
    format: Format,
    json_out: Option<PathBuf>,
    keep: usize,
    fast: bool,
    seed: u64,
    batch_size: usize,
}

fn default_layer(m: &Model) -> String {
    let aliases = &m.card().file.layers;
    if aliases.len() == 1 {
        if let Some(k) = aliases.keys().next() {
            return k.clone();
        }
    }
    "lstm".to_string()
}

fn inspect(model: &Path, corpus: &CorpusArgs, args: &InspectArgs) -> Result<ExitCode> {
    use luigi_test::hypothesis::{families, HypothesisSet};
    use luigi_test::inspect::{inspect, InspectOptions};
    let m = Model::load(model)?;
    let c = corpus.load()?;
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
    pb.set_message("scoring");
    let pb2 = pb.clone();
    let mut opts = InspectOptions::default();
    opts.score = opts.score.seed(args.seed);
    opts.second_pass = !args.fast;
    opts.record = RecordOptions {
        batch_size: args.batch_size,
        progress: Some(Box::new(move |done, _| pb2.set_position(done as u64))),
        ..RecordOptions::default()
    };
    let result = inspect(&m, &c, &layer, &set, &opts)?;
    pb.finish_and_clear();
    let mut kept = result.clone();
    if args.keep > 0 {
        kept.ranking = kept.ranking.truncated(args.keep);
    }
    let json = serde_json::to_string_pretty(&kept)?;
    if let Some(p) = &args.json_out {
        std::fs::write(p, &json).with_context(|| format!("writing {}", p.display()))?;
    }
    match args.format {
        Format::Table => print!("{}", result.table(args.top)),
        Format::Json => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(total: usize) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} timesteps ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb
}

fn record(
    model: &Path,
    corpus: &CorpusArgs,
    layers: &[String],
    out: &Path,
    batch_size: usize,
) -> Result<ExitCode> {
    let m = Model::load(model)?;
    let c = corpus.load()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let pb = progress_bar(c.timesteps());
    pb.set_message("recording");
    let pb2 = pb.clone();
    let opts = RecordOptions {
        batch_size,
        progress: Some(Box::new(move |done, _| pb2.set_position(done as u64))),
        ..RecordOptions::default()
    };
    let names: Vec<&str> = layers.iter().map(String::as_str).collect();
    let total = c.timesteps();
    let mut writers: Vec<(String, luigi_test::npy::StreamWriter)> = Vec::new();
    let mut rows_writer: Option<luigi_test::npy::StreamWriter> = None;
    let mut manifest = serde_json::Map::new();
    m.record_with(&c, &names, &opts, |chunk| {
        if writers.is_empty() {
            for a in &chunk.layers {
                let file = format!("{}.npy", sanitize(&a.layer));
                let w = luigi_test::npy::StreamWriter::create::<f32>(&out.join(&file), &[total, a.n_units()])?;
                manifest.insert(
                    a.layer.clone(),
                    serde_json::json!({"file": file, "tensor": a.tensor, "units": a.units, "shape": [total, a.n_units()]}),
                );
                writers.push((file, w));
            }
            rows_writer = Some(luigi_test::npy::StreamWriter::create::<i64>(&out.join("rows.npy"), &[total, 3])?);
        }
        for ((_, w), a) in writers.iter_mut().zip(&chunk.layers) {
            let values = a.values.as_standard_layout();
            w.append(values.as_slice().unwrap_or(&[]))?;
        }
        if let (Some(w), Some(a)) = (rows_writer.as_mut(), chunk.layers.first()) {
            let rows: Vec<i64> = (0..a.rows.len())
                .flat_map(|i| [i64::from(a.rows.sequence[i]), i64::from(a.rows.position[i]), a.rows.token[i]])
                .collect();
            w.append(&rows)?;
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    for (file, w) in writers {
        w.finish()?;
        println!(
            "{} -> {}",
            file.trim_end_matches(".npy"),
            out.join(&file).display()
        );
    }
    if let Some(w) = rows_writer {
        w.finish()?;
    }
    let meta = serde_json::json!({
        "model": m.path(),
        "card": m.card().path,
        "corpus": c.name(),
        "sequences": c.len(),
        "timesteps": total,
        "rows": "rows.npy: one row per timestep: [sequence, position, token id]",
        "layers": manifest,
    });
    let meta_path = out.join("recording.json");
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)
        .with_context(|| format!("writing {}", meta_path.display()))?;
    println!(
        "{} timesteps of {} sequences; row index -> {}",
        total,
        c.len(),
        out.join("rows.npy").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .to_string()
}
