//! What the end-to-end benches share: the repository root and a timed run
//! of a command with its peak memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One timed run: wall seconds and peak resident memory in KB (if known).
pub struct Run {
    pub seconds: f64,
    pub peak_kb: Option<u64>,
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `program` with `args` in the repository root, its output dropped,
/// under `/usr/bin/time` when installed (for the peak memory); an error
/// with its stderr when it fails.
pub fn timed(program: &str, args: &[String]) -> Result<Run, String> {
    let time = Path::new("/usr/bin/time");
    let report = std::env::temp_dir().join(format!("luigi-bench-{}.txt", std::process::id()));
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&report).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = command
        .output()
        .map_err(|e| format!("running {program}: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let peak_kb = std::fs::read_to_string(&report)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
    let _ = std::fs::remove_file(&report);
    Ok(Run { seconds, peak_kb })
}
