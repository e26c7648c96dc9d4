//! End to end: `luigi inspect` on the C model with and without `--probe`,
//! through the release binary, three rounds in alternation.
//!
//! `cargo bench -p luigi-cli --bench probe_e2e`
//!
//! Each round runs, back to back and in this order:
//! 1. `luigi inspect examples/cmodel/cmodel.luigi.yaml --corpus
//!    examples/cmodel/eval.c --window 256` (plain);
//! 2. the same with `--probe comment` (one hypothesis: the whole-layer probe,
//!    its controls, the untrained twin, the unit set with its 20 stability
//!    resamples);
//! 3. the same with a bare `--probe` (the top hypotheses, 10 by default).
//!
//! It prints each run's wall time and peak memory (from `/usr/bin/time`
//! when installed) and, per round, the ratios to that round's plain run,
//! next to issue 20's targets (1.5× for `--probe comment`, 4× for the bare
//! `--probe`, peak memory under 1 GB). The rounds alternate so that a change
//! in the machine's load shows in every command alike.
//! `LUIGI_BENCH_ROUNDS=N` runs N rounds; `LUIGI_BENCH_BARE=0` skips the bare
//! `--probe` (the slowest).

mod common;

use common::{timed, Run};

fn run(extra: &[&str]) -> Result<Run, String> {
    let mut args: Vec<String> = vec![
        "inspect".into(),
        "examples/cmodel/cmodel.luigi.yaml".into(),
        "--corpus".into(),
        "examples/cmodel/eval.c".into(),
        "--window".into(),
        "256".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    timed(env!("CARGO_BIN_EXE_luigi"), &args)
}

fn show(name: &str, r: &Run, plain: Option<f64>, target: Option<f64>) {
    let memory = r.peak_kb.map_or("peak ?".to_string(), |kb| {
        format!("peak {:>4} MB", kb / 1000)
    });
    let ratio = match (plain, target) {
        (Some(p), Some(t)) => {
            let x = r.seconds / p;
            format!(
                "  {x:.2}x plain (target <= {t}x: {})",
                if x <= t { "met" } else { "NOT met" }
            )
        }
        _ => String::new(),
    };
    println!("  {name:<18} {:>7.2} s  {memory}{ratio}", r.seconds);
}

fn main() {
    let rounds: usize = std::env::var("LUIGI_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let bare = std::env::var("LUIGI_BENCH_BARE").map_or(true, |v| v != "0");
    println!("luigi inspect on the C model (eval.c, --window 256), {rounds} round(s)");
    let mut worst_peak = 0u64;
    for round in 1..=rounds {
        println!("round {round}");
        let plain = match run(&[]) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        show("plain", &plain, None, None);
        let mut cases: Vec<(&str, Vec<&str>, f64)> =
            vec![("--probe comment", vec!["--probe", "comment"], 1.5)];
        if bare {
            cases.push(("--probe (bare)", vec!["--probe"], 4.0));
        }
        worst_peak = worst_peak.max(plain.peak_kb.unwrap_or(0));
        for (name, args, target) in cases {
            match run(&args) {
                Ok(r) => {
                    worst_peak = worst_peak.max(r.peak_kb.unwrap_or(0));
                    show(name, &r, Some(plain.seconds), Some(target));
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
    }
    if worst_peak > 0 {
        println!(
            "largest peak memory: {} MB (target < 1000 MB: {})",
            worst_peak / 1000,
            if worst_peak < 1_000_000 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}
