//! One long sequence against the same text cut into windows: time and peak
//! memory of an inspect with `--fast` (no second pass), on the C model.
//!
//! `cargo bench -p luigi-test --bench long_sequence`
//!
//! The text is examples/cmodel/eval.c with its line breaks read as spaces,
//! repeated to `LUIGI_BENCH_BYTES` characters (default 5,000,000). Two runs,
//! each in its own process so that its peak resident memory (`VmHWM`) is its
//! own:
//! - `long`: the text as one sequence (a one-line corpus). The model runs it
//!   in pieces of 16,384 steps with its state carried, and inspect takes it
//!   in parts of 65,536 rows;
//! - `windows`: the text cut into windows of 256 characters (`--window 256`).
//!
//! Both use the hypotheses `luigi inspect` generates from the corpus
//! (`families::auto`) and the default options of `luigi inspect --fast`.
//! Targets (issue 18): `long` under 1 GB, and within 1.5× of `windows`'
//! time.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use luigi_test::hypothesis::families;
use luigi_test::inspect::{inspect, InspectOptions};
use luigi_test::model::Model;
use luigi_test::Corpus;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn text(bytes: usize) -> String {
    let eval = std::fs::read_to_string(root().join("examples/cmodel/eval.c"))
        .expect("examples/cmodel/eval.c");
    let line = eval.replace('\n', " ");
    line.chars().cycle().take(bytes).collect()
}

/// One run in this process: prints `RESULT <secs> <MB> <timesteps> <sequences> <top>`.
fn one(mode: &str, bytes: usize) {
    let t = text(bytes);
    let corpus = match mode {
        "long" => Corpus::from_strings("one line", [t]),
        _ => Corpus::from_text_windows("windows of 256", &t, 256),
    }
    .expect("corpus");
    let model = Model::load(root().join("examples/cmodel/cmodel.luigi.yaml")).expect("the C model");
    let start = Instant::now();
    let set = families::auto(&corpus).expect("hypotheses");
    let opts = InspectOptions {
        second_pass: false,
        ..InspectOptions::default()
    };
    let result = inspect(&model, &corpus, "lstm", &set, &opts).expect("inspect");
    let secs = start.elapsed().as_secs_f64();
    let top = result
        .best_per_hypothesis()
        .first()
        .map(|p| format!("{}:{}", p.hypothesis, p.unit))
        .unwrap_or_default();
    println!(
        "RESULT {secs:.2} {:.0} {} {} {} {top}",
        peak_rss_mb(),
        corpus.timesteps(),
        corpus.len(),
        set.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::env::var("LUIGI_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000usize);
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(args.get(i + 1).map_or("long", String::as_str), bytes);
        return;
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut rows = Vec::new();
    for mode in ["windows", "long"] {
        let out = Command::new(&exe)
            .args(["--one", mode])
            .output()
            .expect("the bench runs itself");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| {
                panic!(
                    "{mode} run failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_string();
        let f: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let secs: f64 = f[0].parse().expect("seconds");
        let mb: f64 = f[1].parse().expect("megabytes");
        println!(
            "{mode:>8}: {secs:>7.2} s  peak {mb:>6.0} MB  {} timesteps in {} sequence(s), {} hypotheses, best pairing {}",
            f[2], f[3], f[4], f[5..].join(" ")
        );
        rows.push((secs, mb));
    }
    let (ws, _) = rows[0];
    let (ls, lm) = rows[1];
    println!(
        "long / windows time: {:.2}x (target <= 1.50x: {}); long peak memory {lm:.0} MB (target < 1024 MB: {})",
        ls / ws,
        if ls / ws <= 1.5 { "met" } else { "NOT met" },
        if lm < 1024.0 { "met" } else { "NOT met" }
    );
}
