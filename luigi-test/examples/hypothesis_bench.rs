//! Measures generating and evaluating thousands of hypotheses.
//!
//! ```text
//! cargo run --release -p luigi-test --example hypothesis_bench -- [FILE_OR_DIR] [CHARS] [WINDOW]
//! ```
//!
//! Reads C-like text (default: the `.h` files directly under `/usr/include`,
//! falling back to generated text), keeps the first CHARS characters
//! (default 100,000) cut into windows of WINDOW (default 1,000), generates
//! about 2,000 hypotheses from families, evaluates them and runs the checks,
//! printing the time of each step.

use std::time::Instant;

use luigi_test::hypothesis::check::{check_values, CheckOptions};
use luigi_test::hypothesis::families::{generate_all, Family};
use luigi_test::{Corpus, Result};

fn load_text(arg: Option<&str>) -> String {
    let path = std::path::PathBuf::from(arg.unwrap_or("/usr/include"));
    let mut text = String::new();
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "h"));
        files.sort();
        for f in files {
            if let Ok(t) = std::fs::read_to_string(&f) {
                text.push_str(&t);
            }
        }
    } else if let Ok(t) = std::fs::read_to_string(&path) {
        text = t;
    }
    if text.is_empty() {
        // Deterministic stand-in for C source.
        for i in 0..5000 {
            text.push_str(&format!(
                "/* block {i} */\nstatic int f{i}(int x) {{\n\tif (x > {i}) {{ return x[{i}] * 2; }} // c\n\treturn \"s{i}\"[0];\n}}\n"
            ));
        }
    }
    text
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let chars: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let window: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let text: String = load_text(args.get(1).map(String::as_str))
        .chars()
        .take(chars)
        .collect();
    let corpus = Corpus::from_text_windows("bench", &text, window)?;
    println!(
        "corpus: {} chars in {} sequences, {} threads",
        corpus.timesteps(),
        corpus.len(),
        rayon::current_num_threads()
    );

    let families = [
        Family::layout(),
        Family::code(),
        Family::brackets(),
        Family::chars().max(100),
        Family::ngrams(2).max(700),
        Family::ngrams(3).max(700),
        Family::words().max(500),
    ];
    let t0 = Instant::now();
    let set = generate_all(&corpus, &families)?;
    let t_gen = t0.elapsed();
    println!(
        "generate: {} hypotheses in {:.3} s",
        set.len(),
        t_gen.as_secs_f64()
    );

    let t1 = Instant::now();
    let values = set.evaluate(corpus.sequences())?;
    let t_eval = t1.elapsed();
    println!(
        "evaluate: {}x{} matrix in {:.3} s",
        values.nrows(),
        values.ncols(),
        t_eval.as_secs_f64()
    );

    let t2 = Instant::now();
    let issues = check_values(&set, corpus.sequences(), &values, &CheckOptions::default())?;
    let t_check = t2.elapsed();
    println!(
        "check: {} issues in {:.3} s",
        issues.len(),
        t_check.as_secs_f64()
    );
    for i in issues.iter().take(3) {
        println!("  {i}");
    }
    println!("total: {:.3} s", (t_gen + t_eval + t_check).as_secs_f64());
    Ok(())
}
