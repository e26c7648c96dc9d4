//! Counterexample seeds in proptest's regression-file format
//! (`cc <64 hex digits> # shrinks to …`, one per line), read and written
//! with proptest's own [`FileFailurePersistence`].

use std::path::Path;

use proptest::test_runner::{FailurePersistence, FileFailurePersistence, PersistedSeed};

use crate::numeric::rng::Rng;

/// The 32-byte seed of case `i` of a run seeded with `seed`.
pub(crate) fn case_seed(seed: u64, i: u64) -> [u8; 32] {
    let mut rng = Rng::stream(seed ^ 0x7e57_ed17, i);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

/// `cc <hex>`: proptest's persisted form of a ChaCha seed.
pub(crate) fn seed_text(seed: &[u8; 32]) -> String {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    format!("cc {hex}")
}

fn seed_bytes(p: &PersistedSeed) -> Option<[u8; 32]> {
    let text = p.to_string();
    let hex = text.strip_prefix("cc ")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn persistence(path: &Path) -> FileFailurePersistence {
    // proptest takes the path as `&'static str`; one small string per
    // regression file a process touches.
    let leaked: &'static str = Box::leak(path.display().to_string().into_boxed_str());
    FileFailurePersistence::Direct(leaked)
}

/// The ChaCha seeds kept in `path` (none when the file does not exist;
/// proptest warns about unparsable lines and skips them).
pub(crate) fn load(path: &Path) -> Vec<[u8; 32]> {
    if !path.is_file() {
        return Vec::new();
    }
    persistence(path)
        .load_persisted_failures2(None)
        .iter()
        .filter_map(seed_bytes)
        .collect()
}

/// Appends `seed` to `path` (with the shrunk case as its comment) unless
/// the file holds it already.
pub(crate) fn save(path: &Path, seed: &[u8; 32], shrunk: &dyn std::fmt::Debug) {
    if load(path).contains(seed) {
        return;
    }
    let Ok(persisted) = seed_text(seed).parse::<PersistedSeed>() else {
        return;
    };
    persistence(path).save_persisted_failure2(None, persisted, shrunk);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seeds_round_trip_through_a_proptest_regression_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("case.txt");
        assert!(load(&path).is_empty());
        let a = case_seed(7, 0);
        let b = case_seed(7, 1);
        assert_ne!(a, b);
        assert_eq!(a, case_seed(7, 0));
        save(&path, &a, &"first");
        save(&path, &b, &"second\nline");
        save(&path, &a, &"again");
        assert_eq!(load(&path), vec![a, b]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Seeds for failure cases proptest"),
            "{text}"
        );
        assert!(text.contains(&format!("{} # shrinks to \"first\"", seed_text(&a))));
        assert_eq!(text.matches("cc ").count(), 2);
    }
}
