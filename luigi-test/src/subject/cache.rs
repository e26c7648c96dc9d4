//! Recordings shared between assertions, so that many tests over the same
//! model and corpus run the model once.
//!
//! A recording is keyed by the model's fingerprint (its bytes and card
//! content, [`Model::fingerprint`]), the card's path, the corpus'
//! fingerprint (its content, [`Corpus::fingerprint`]) and the layer as
//! named. Within one process (one test binary) recordings are kept in
//! memory for the life of the process; concurrent tests asking for the
//! same key wait for one recording. With `LUIGI_DISK_CACHE=1` they are
//! also written under `<cache dir>/recordings/<key>/` ([`crate::runtime::cache_dir`])
//! and read back by later processes. Because the key hashes the content,
//! changing the model, its card or the corpus gives a new key: stale
//! entries are never read (delete the folder to reclaim the space).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::Array2;
use sha2::{Digest, Sha256};

use crate::activations::{Activations, RowIndex};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::npy;

/// The identity of a recording.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingKey {
    /// Hex digest of the parts below.
    pub digest: String,
    /// The model fingerprint.
    pub model: String,
    /// The card path.
    pub card: PathBuf,
    /// The corpus fingerprint.
    pub corpus: String,
    /// The layer as named.
    pub layer: String,
}

impl RecordingKey {
    /// The key of `layer` of `model` over `corpus`.
    pub fn new(model: &Model, corpus: &Corpus, layer: &str) -> Self {
        let fp = model.fingerprint();
        let card = model.card().path.clone();
        let cfp = corpus.fingerprint();
        let mut h = Sha256::new();
        for part in [
            fp.as_bytes(),
            card.to_string_lossy().as_bytes(),
            cfp.as_bytes(),
            layer.as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let digest = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        RecordingKey {
            digest,
            model: fp,
            card,
            corpus: cfp,
            layer: layer.to_string(),
        }
    }

    /// How many times this process ran the model for this key (0 or 1
    /// unless a recording failed and was retried).
    pub fn times_recorded(&self) -> usize {
        counts()
            .lock()
            .map(|m| m.get(&self.digest).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

type Slot = Arc<Mutex<Option<Arc<Activations>>>>;

fn memory() -> &'static Mutex<BTreeMap<String, Slot>> {
    static M: OnceLock<Mutex<BTreeMap<String, Slot>>> = OnceLock::new();
    M.get_or_init(|| Mutex::new(BTreeMap::new()))
}

fn counts() -> &'static Mutex<BTreeMap<String, usize>> {
    static C: OnceLock<Mutex<BTreeMap<String, usize>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(BTreeMap::new()))
}

static DISK_HITS: AtomicUsize = AtomicUsize::new(0);

/// Recordings read from disk by this process.
pub fn disk_hits() -> usize {
    DISK_HITS.load(Ordering::Relaxed)
}

/// Whether recordings are kept on disk (`LUIGI_DISK_CACHE`).
pub fn disk_enabled() -> Result<bool> {
    match std::env::var("LUIGI_DISK_CACHE") {
        Err(_) => Ok(false),
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "off" | "false" | "no" => Ok(false),
            "1" | "on" | "true" | "yes" => Ok(true),
            _ => Err(Error::invalid(
                "LUIGI_DISK_CACHE",
                format!(
                    "`{v}` is not one of 1, on, true, 0, off, false: unset it or use one of those"
                ),
            )),
        },
    }
}

/// The folder of a key's recording on disk.
pub fn disk_path(key: &RecordingKey) -> PathBuf {
    crate::runtime::cache_dir()
        .join("recordings")
        .join(&key.digest)
}

/// The activations of `layer` of `model` over `corpus`, recorded once per
/// process (and per disk cache, if enabled).
pub fn record(model: &Model, corpus: &Corpus, layer: &str) -> Result<Arc<Activations>> {
    let disk = disk_enabled()?;
    let key = RecordingKey::new(model, corpus, layer);
    let slot = {
        let mut m = memory().lock().map_err(|_| {
            Error::invalid("recording cache", "poisoned by a panic in another test")
        })?;
        m.entry(key.digest.clone()).or_default().clone()
    };
    // One recording per key at a time; a panic in another test while it
    // held the slot only means this one records again.
    let mut guard = match slot.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(a) = guard.as_ref() {
        return Ok(a.clone());
    }
    if disk {
        if let Some(a) = read_disk(&disk_path(&key), &key, corpus) {
            DISK_HITS.fetch_add(1, Ordering::Relaxed);
            let a = Arc::new(a);
            *guard = Some(a.clone());
            return Ok(a);
        }
    }
    if let Ok(mut c) = counts().lock() {
        *c.entry(key.digest.clone()).or_insert(0) += 1;
    }
    let acts = model
        .record(corpus, &[layer])?
        .pop()
        .ok_or_else(|| Error::invalid("recording", "no layer recorded"))?;
    if disk {
        if let Err(e) = write_disk(&disk_path(&key), &key, &acts) {
            eprintln!("luigi: could not keep the recording on disk ({e}); continuing without");
        }
    }
    let a = Arc::new(acts);
    *guard = Some(a.clone());
    Ok(a)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    model: String,
    card: String,
    corpus: String,
    layer: String,
    tensor: String,
    units: Vec<String>,
    rows: usize,
}

fn write_disk(dir: &Path, key: &RecordingKey, a: &Activations) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir
        .parent()
        .ok_or_else(|| Error::invalid("recording cache", "cache folder has no parent"))?;
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!("{}.tmp-{}", key.digest, std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let values = a.values.as_standard_layout();
    npy::write(
        &tmp.join("values.npy"),
        &[a.n_rows(), a.n_units()],
        values.as_slice().unwrap_or(&[]),
    )?;
    let rows: Vec<i64> = (0..a.rows.len())
        .flat_map(|i| {
            [
                i64::from(a.rows.sequence[i]),
                i64::from(a.rows.position[i]),
                a.rows.token[i],
            ]
        })
        .collect();
    npy::write(&tmp.join("rows.npy"), &[a.rows.len(), 3], &rows)?;
    let meta = Meta {
        model: key.model.clone(),
        card: key.card.display().to_string(),
        corpus: key.corpus.clone(),
        layer: a.layer.clone(),
        tensor: a.tensor.clone(),
        units: a.units.clone(),
        rows: a.n_rows(),
    };
    let text = serde_json::to_string_pretty(&meta)
        .map_err(|e| Error::invalid("recording cache", e.to_string()))?;
    let meta_path = tmp.join("meta.json");
    std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))?;
    if std::fs::rename(&tmp, dir).is_err() {
        // Another process won the race: its copy is as good as ours.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

fn read_disk(dir: &Path, key: &RecordingKey, corpus: &Corpus) -> Option<Activations> {
    let read = |dir: &Path| -> Result<Activations> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(meta_path.display().to_string(), e.to_string()))?;
        let (shape, values) = npy::read::<f32>(&dir.join("values.npy"))?;
        let (rshape, rows) = npy::read::<i64>(&dir.join("rows.npy"))?;
        let bad = |m: &str| Error::invalid(dir.display().to_string(), m.to_string());
        if meta.model != key.model
            || meta.corpus != key.corpus
            || shape != [meta.rows, meta.units.len()]
            || rshape != [meta.rows, 3]
            || meta.rows != corpus.timesteps()
        {
            return Err(bad("does not match its key"));
        }
        let values = Array2::from_shape_vec((shape[0], shape[1]), values)
            .map_err(|e| bad(&e.to_string()))?;
        let mut index = RowIndex::default();
        for r in rows.chunks_exact(3) {
            index
                .sequence
                .push(u32::try_from(r[0]).map_err(|_| bad("bad row index"))?);
            index
                .position
                .push(u32::try_from(r[1]).map_err(|_| bad("bad row index"))?);
            index.token.push(r[2]);
        }
        Ok(Activations {
            layer: meta.layer,
            tensor: meta.tensor,
            units: meta.units,
            values,
            rows: index,
        })
    };
    if !dir.is_dir() {
        return None;
    }
    match read(dir) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!(
                "luigi: ignoring the cached recording in {} ({e}); recording again",
                dir.display()
            );
            let _ = std::fs::remove_dir_all(dir);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::CorpusFormat;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name)
    }

    #[test]
    fn keys_change_with_model_corpus_and_layer() {
        let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
        let c = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
        let c2 = Corpus::from_strings("other", ["(a)"]).unwrap();
        let k = RecordingKey::new(&m, &c, "lstm");
        assert_eq!(k, RecordingKey::new(&m, &c, "lstm"));
        assert_ne!(k.digest, RecordingKey::new(&m, &c, "hidden").digest);
        assert_ne!(k.digest, RecordingKey::new(&m, &c2, "lstm").digest);
        let g = Model::load(fixture("gru_ids.luigi.yaml")).unwrap();
        assert_ne!(k.digest, RecordingKey::new(&g, &c, "lstm").digest);
    }

    #[test]
    fn disk_copies_round_trip_and_corrupt_ones_are_dropped() {
        let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
        let c = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
        let key = RecordingKey::new(&m, &c, "lstm");
        let acts = m.record(&c, &["lstm"]).unwrap().remove(0);
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(&key.digest);
        write_disk(&dir, &key, &acts).unwrap();
        let back = read_disk(&dir, &key, &c).unwrap();
        assert_eq!(back.values, acts.values);
        assert_eq!(back.rows, acts.rows);
        assert_eq!(
            (back.units, back.tensor),
            (acts.units.clone(), acts.tensor.clone())
        );
        // Another corpus under the same folder does not match its key.
        let other = Corpus::from_strings("other", ["(a)"]).unwrap();
        let other_key = RecordingKey::new(&m, &other, "lstm");
        assert!(read_disk(&dir, &other_key, &other).is_none());
        assert!(
            !dir.exists(),
            "a copy that does not match its key is removed"
        );
        write_disk(&dir, &key, &acts).unwrap();
        std::fs::write(dir.join("values.npy"), b"garbage").unwrap();
        assert!(read_disk(&dir, &key, &c).is_none());
    }

    #[test]
    fn the_disk_switch_is_parsed_strictly() {
        // Only this test touches LUIGI_DISK_CACHE in the library's unit tests.
        std::env::set_var("LUIGI_DISK_CACHE", "maybe");
        let e = disk_enabled().unwrap_err().to_string();
        std::env::set_var("LUIGI_DISK_CACHE", "on");
        let on = disk_enabled().unwrap();
        std::env::remove_var("LUIGI_DISK_CACHE");
        assert!(
            e.contains("LUIGI_DISK_CACHE") && e.contains("`maybe`"),
            "{e}"
        );
        assert!(on);
        assert!(!disk_enabled().unwrap());
    }
}
