//! Snapshot files in insta's format: a YAML header between `---` lines,
//! then the content. `cargo insta review` reads them (and the pending
//! `.snap.new` files next to them).

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{RankingSnapshot, SnapshotInfo};
use crate::error::{Error, Result};
use crate::yaml;

/// The header fields Luigi reads and writes (insta's names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info: Option<SnapshotInfo>,
}

/// A snapshot read from disk.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    /// The file.
    pub path: PathBuf,
    /// The ranking it holds.
    pub content: RankingSnapshot,
    /// Which checkpoint it was taken from, when recorded.
    pub info: Option<SnapshotInfo>,
}

impl StoredSnapshot {
    /// The checkpoint's card, resolved against the snapshot's folder.
    pub fn checkpoint(&self) -> Option<PathBuf> {
        let info = self.info.as_ref()?;
        let p = Path::new(&info.checkpoint);
        Some(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        })
    }
}

/// Reads a `.snap` file; `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<StoredSnapshot>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let bad = |message: String| Error::Spec {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        key: "(snapshot)".to_string(),
        message,
    };
    let rest = text
        .strip_prefix("---\n")
        .ok_or_else(|| bad("does not start with an insta header (`---`)".to_string()))?;
    let (header, content) = match rest.split_once("\n---\n") {
        Some(hc) => hc,
        None => rest
            .strip_suffix("\n---")
            .map(|h| (h, ""))
            .ok_or_else(|| bad("the header is not closed by `---`".to_string()))?,
    };
    let header: Header =
        yaml::from_str(header).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let content: RankingSnapshot = yaml::from_str(content).map_err(|e| {
        bad(format!(
            "the content is not a Luigi ranking snapshot ({e}); delete the file to take a new one"
        ))
    })?;
    Ok(Some(StoredSnapshot {
        path: path.to_path_buf(),
        content,
        info: header.info,
    }))
}

/// Writes a `.snap` (or `.snap.new`) file atomically.
pub fn write(
    path: &Path,
    source: &str,
    expression: &str,
    info: &SnapshotInfo,
    content: &RankingSnapshot,
) -> Result<()> {
    let header = Header {
        source: Some(source.to_string()),
        description: None,
        expression: Some(expression.to_string()),
        info: Some(info.clone()),
    };
    let err = |e: yaml::Error| Error::invalid(path.display().to_string(), e.to_string());
    let mut text = String::from("---\n");
    text.push_str(&yaml::to_string(&header).map_err(err)?);
    text.push_str("---\n");
    text.push_str(&yaml::to_string(content).map_err(err)?);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// `path` relative to the folder `base` (both made absolute first), with
/// `/` separators, for paths stored in snapshots.
pub fn relative(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        normalise(&p)
    };
    let (p, b) = (abs(path), abs(base));
    let pc: Vec<Component> = p.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = pc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return p.display().to_string();
    }
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), bc.len() - common).collect();
    parts.extend(
        pc[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Removes `.` and `dir/..` pairs lexically.
pub(crate) fn normalise(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_and_down() {
        assert_eq!(
            relative(
                Path::new("/w/examples/b/m.yaml"),
                Path::new("/w/specs/snapshots")
            ),
            "../../examples/b/m.yaml"
        );
        assert_eq!(relative(Path::new("/w/a/../b/x"), Path::new("/w/b")), "x");
    }
}
