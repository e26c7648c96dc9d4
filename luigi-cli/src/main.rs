//! `luigi`: inspect what a sequence model has learned inside.
//!
//! Exit codes: 0 success; 1 an expectation failed (a model judged and found
//! wanting); 2 a setup error (missing model, bad card, unknown layer, bad
//! corpus, bad spec); clap's own usage errors also exit with 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use luigi_test::model::Model;
use luigi_test::{Corpus, CorpusFormat};

mod card;
mod inspect;
mod record;
mod report;
mod verify;
use card::{card, twin};
use inspect::{inspect, InspectArgs};
use record::record;
use verify::{generate, verify, GenerateArgs, VerifyArgs};

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
    /// Cut the text into windows of this many characters instead of one
    /// sequence per line (tokens, for a model whose card names a
    /// `vocabulary.tokenizer`: the text is tokenized whole and cut on token
    /// boundaries).
    #[arg(long)]
    window: Option<usize>,
}

impl CorpusArgs {
    /// The corpus as `model` reads it: characters, or the tokens of the
    /// card's tokenizer.
    fn load(&self, model: &luigi_test::Model) -> Result<Corpus> {
        let c = self.load_text()?;
        Ok(model.card().prepare(&c)?)
    }

    fn load_text(&self) -> Result<Corpus> {
        let format = match self.window {
            Some(w) => CorpusFormat::Windows(w),
            None => CorpusFormat::Lines,
        };
        let c = Corpus::load(&self.corpus, format)?;
        if self.window.is_none() {
            if let Some(why) = reads_continuously(&c) {
                eprintln!(
                    "luigi: warning: {} is read one sequence per line, but {why}; a model that reads it as continuous text (code, prose) starts every line from zero state here: use --window 256 (or the length it was trained on)",
                    self.corpus.display()
                );
            }
        }
        Ok(c)
    }
}

/// Why a corpus read one sequence per line looks like text a model reads
/// continuously: many short lines, most of them indented or ending in code
/// punctuation (`;`, `{`, `}`, `)`, `,`), or prose lines that run on
/// (ending without a full stop). `None` when it looks like one item per
/// line.
fn reads_continuously(c: &Corpus) -> Option<String> {
    let seqs = c.sequences();
    if seqs.len() < 50 || c.is_numeric() {
        return None;
    }
    let mut lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
    lens.sort_unstable();
    let median = lens[lens.len() / 2];
    let code = seqs
        .iter()
        .filter(|s| {
            let t = s.chars();
            let first = t.first().copied().unwrap_or(' ');
            let last = t
                .iter()
                .rev()
                .find(|c| !c.is_whitespace())
                .copied()
                .unwrap_or(' ');
            first == ' ' || first == '\t' || matches!(last, ';' | '{' | '}' | ')' | ',')
        })
        .count();
    let share = code as f64 / seqs.len() as f64;
    // Unindented lines whose brackets all close on the line (balanced
    // expressions, one per line) are items, not pieces of a program: code
    // read line by line has indented lines, and lines that open or close a
    // block.
    let item = |s: &&luigi_test::Sequence| {
        let t = s.chars();
        !t.first().is_some_and(|c| *c == ' ' || *c == '\t') && balanced_line(t)
    };
    if seqs.iter().filter(item).count() as f64 > 0.95 * seqs.len() as f64 {
        return None;
    }
    (median < 80 && share > 0.5).then(|| {
        format!(
            "{:.0}% of its {} lines are indented or end in code punctuation (median {median} characters)",
            100.0 * share,
            seqs.len()
        )
    })
}

/// True when every bracket of the line closes on it, in order.
fn balanced_line(chars: &[char]) -> bool {
    let mut open: Vec<char> = Vec::new();
    for &c in chars {
        match c {
            '(' | '[' | '{' => open.push(c),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open.pop() != Some(want) {
                    return false;
                }
            }
            _ => {}
        }
    }
    open.is_empty()
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// A table on the terminal.
    Table,
    /// The ranking as JSON on stdout.
    Json,
}

/// The row order of the inspect table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Sort {
    /// By the score within input-token groups: what the current token does
    /// not explain comes first.
    Within,
    /// By the plain score (|r|, η, ...), as ranked.
    Plain,
}

impl From<Sort> for luigi_test::inspect::RowOrder {
    fn from(s: Sort) -> Self {
        match s {
            Sort::Within => luigi_test::inspect::RowOrder::Within,
            Sort::Plain => luigi_test::inspect::RowOrder::Plain,
        }
    }
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
    /// Write a starter model card from an ONNX graph: the token input and
    /// its encoding, the state pairs and which layer each carries, the
    /// logits and one alias per recurrent layer, with a comment on every
    /// guess (lines marked CHECK). Character vocabularies: give the
    /// characters in id order.
    Card {
        /// The .onnx file.
        model: PathBuf,
        /// The vocabulary inline: the character with id i at position i.
        #[arg(long, value_name = "CHARS", conflicts_with = "vocab_file")]
        vocab_chars: Option<String>,
        /// The vocabulary as a JSON array of one-character strings, in id order.
        #[arg(long, value_name = "FILE", required_unless_present = "vocab_chars")]
        vocab_file: Option<PathBuf>,
        /// The id the model gives characters outside its vocabulary.
        #[arg(long, value_name = "ID")]
        unknown: Option<i64>,
        /// Write the card here (it must not exist yet) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write an untrained-like twin: the same graph with every float32
    /// weight tensor's entries shuffled (shapes, scales and value
    /// distributions kept; indicator tables such as a one-hot embedding
    /// kept), for the untrained-twin controls when the training code is not
    /// at hand. Given a card, also writes the twin's card beside the twin.
    Twin {
        /// The .onnx file, or its .luigi.yaml card.
        model: PathBuf,
        /// Where to write the twin's .onnx (it must not exist yet).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Seed of the shuffles.
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
    },
    /// Rank every unit of a layer against hypotheses (Luigi's main job).
    Inspect {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Layer name or alias (default: the card's only alias, or `lstm`).
        /// `all` ranks every layer of the card at once (its `layers:`
        /// aliases, a view of another alias's tensor skipped) and `a,b` the
        /// listed ones, recorded in one pass; units are then named
        /// `layer:unit` (`lstm2:110`).
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
        /// Row order of the table: `within` puts first what the current
        /// input token does not explain (the `within` column); `plain` ranks
        /// by the plain score. The JSON ranking is the same either way.
        #[arg(long, value_enum, default_value_t = Sort::Within)]
        sort: Sort,
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
        /// Most MiB of columns the second pass keeps (it keeps the selected
        /// units' and hypotheses' values for every row, and about as much
        /// again while ranking); beyond it, a seeded sample of whole blocks
        /// of 4,096 rows, with a warning.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1 << 40))]
        second_pass_mb: u64,
        /// Seed of every random draw.
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
        /// Sequences per ONNX Runtime call.
        #[arg(long, default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
        batch_size: usize,
        /// Fit logistic-regression probes on the whole layer and print a probe
        /// table after the ranking. `--probe NAME` (repeatable) probes those
        /// hypotheses; a bare `--probe` probes the top `--probe-top`
        /// binary/categorical hypotheses in the table's order (by the
        /// within-token score of their best unit, what the current token
        /// does not explain). Each probe comes with the majority baseline, the
        /// Hewitt-Liang control task, token- and position-only probes, the
        /// untrained twin's probe when the card names one (`untrained:`), and
        /// the smallest unit set reaching `--probe-fraction` of the
        /// whole-layer accuracy. The JSON output gains a `probes` field.
        #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
        probe: Vec<String>,
        /// Hypotheses a bare `--probe` takes from the top of the ranking.
        #[arg(long, default_value_t = 10)]
        probe_top: usize,
        /// Probe (and project) only the corpus's first N sequences (default: all).
        #[arg(long, value_name = "N")]
        probe_sequences: Option<usize>,
        /// Share of the whole-layer accuracy the smallest unit set must reach.
        #[arg(long, default_value_t = 0.95)]
        probe_fraction: f64,
        /// Bootstrap resamples of the sequences that measure the unit set's
        /// stability (0: report the full-data set only).
        #[arg(long, default_value_t = 20)]
        probe_stability: usize,
        /// Write the 2-D PCA projection of the layer, each point with its class
        /// under this (binary or categorical) hypothesis, to `--pca-out`: the
        /// paper's Figure 3b data. The JSON has `explained_variance`,
        /// `explained_variance_ratio`, `loadings` (per unit), `classes` and
        /// `points` (one per timestep: x, y, class, sequence, position, char).
        #[arg(long, value_name = "HYPOTHESIS", requires = "pca_out")]
        pca: Option<String>,
        /// The JSON file `--pca` writes.
        #[arg(long, value_name = "FILE", requires = "pca")]
        pca_out: Option<PathBuf>,
        /// Verify the best pairing of the top K hypotheses by perturbation
        /// (as `luigi verify` does, default settings; bare `--verify`: 5):
        /// a `verified` column in the table, `verified` in the JSON.
        #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "5")]
        verify: Option<usize>,
    },
    /// Run a corpus through a model and write layers' activations to .npy files.
    Record {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Layer names or aliases (repeat or comma-separate); `all` records
        /// every layer of the card, each to its own file.
        #[arg(long, value_delimiter = ',', required = true)]
        layer: Vec<String>,
        /// Output folder (created if missing).
        #[arg(long, short, default_value = "luigi-out")]
        out: PathBuf,
        /// Sequences per ONNX Runtime call.
        #[arg(long, default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
        batch_size: usize,
        /// Stop with an error (exit 2) at the first NaN or infinite
        /// activation, naming the layer, unit, sequence and position, instead
        /// of writing it with a warning.
        #[arg(long)]
        fail_on_nonfinite: bool,
    },
    /// Verify a pairing beyond correlation: `--mode perturb` edits the input
    /// so that only the hypothesis changes and checks the unit follows
    /// (proptest-drawn edits, shrunk counterexamples); `--mode intervene`
    /// holds the unit on and off while the model writes and checks the
    /// model writes the hypothesis; `--mode both` runs both. See the
    /// `luigi_test::verify` docs. Exit 0 confirmed, 1 refuted or
    /// inconclusive, 2 setup error.
    Verify {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        #[command(flatten)]
        args: VerifyArgs,
    },
    /// Write an HTML report (one self-contained index.html plus each figure
    /// as .svg): the ranking, what the best units do on text (the unit and
    /// the hypothesis over a stretch, the text coloured by the unit, top
    /// contexts), every unit's contexts, Figure 1 and, with --pca, Figure 3b.
    Report {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        corpus: CorpusArgs,
        #[command(flatten)]
        args: report::ReportArgs,
    },
    /// Let the model write: sample a continuation of a prompt, optionally
    /// holding units of a layer at values (`--force U=V`), and print it.
    Generate {
        /// The model card (.luigi.yaml) or the .onnx file with its card beside it.
        model: PathBuf,
        #[command(flatten)]
        args: GenerateArgs,
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
        /// Write an HTML page for each failing case into a folder of DIR
        /// (its path is in the case's report).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // A negative number is read as a value, so that `--top -1` is refused
    // as an invalid number rather than with a tip to write `-- -1`.
    let matches = Cli::command()
        .mut_subcommands(|s| s.allow_negative_numbers(true))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
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
        Command::Twin { model, out, seed } => twin(&model, &out, seed),
        Command::Card {
            model,
            vocab_chars,
            vocab_file,
            unknown,
            out,
        } => card(
            &model,
            vocab_chars,
            vocab_file.as_deref(),
            unknown,
            out.as_deref(),
        ),
        Command::Inspect {
            model,
            corpus,
            layer,
            hypotheses,
            families,
            top,
            sort,
            format,
            json_out,
            keep,
            fast,
            second_pass_mb,
            seed,
            batch_size,
            probe,
            probe_top,
            probe_sequences,
            probe_fraction,
            probe_stability,
            pca,
            pca_out,
            verify,
        } => {
            let args = InspectArgs {
                verify,
                probe,
                probe_top,
                probe_sequences,
                probe_fraction,
                probe_stability,
                pca: pca.zip(pca_out),
                layer,
                hypotheses,
                families,
                top,
                sort,
                format,
                json_out,
                keep,
                fast,
                second_pass_mb,
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
            fail_on_nonfinite,
        } => record(&model, &corpus, &layer, &out, batch_size, fail_on_nonfinite),
        Command::Verify {
            model,
            corpus,
            args,
        } => verify(&model, &corpus, &args),
        Command::Generate { model, args } => generate(&model, &args),
        Command::Report {
            model,
            corpus,
            args,
        } => report::report(&model, &corpus, &args),
        Command::Check {
            paths,
            junit,
            accept,
            report_dir,
        } => check(&paths, junit.as_deref(), accept, report_dir.as_deref()),
    }
}

fn check(
    paths: &[PathBuf],
    junit: Option<&Path>,
    accept: bool,
    report_dir: Option<&Path>,
) -> Result<ExitCode> {
    use luigi_test::snapshot::Update;
    use luigi_test::spec::{check_paths_with, junit_xml};
    let update = if accept {
        Update::Accept
    } else {
        Update::from_env()?
    };
    let run = check_paths_with(paths, update, report_dir)?;
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

fn default_layer(m: &Model) -> String {
    let aliases = &m.card().file.layers;
    if aliases.len() == 1 {
        if let Some(k) = aliases.keys().next() {
            return k.clone();
        }
    }
    "lstm".to_string()
}

pub(crate) fn progress_bar(total: usize) -> indicatif::ProgressBar {
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
