//! [`Model`]: an ONNX file plus its card, checked against the graph when it
//! is loaded; the sessions it runs (one per set of outputs, and a pool of
//! single-threaded ones for parallel batches); the inputs it is fed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{closest_names, Error, Result};
use crate::model::card::{Card, Encoding, Layout};
use crate::model::check::check_card;
use crate::model::graph::{Dim, Graph};
use crate::model::layout::{is_recurrent, LayerLayout};
use crate::model::session::{Feed, OrtSession};

/// The one-hot input of a run of batches, kept from one batch to the next:
/// each batch clears the ones the previous batch set and sets its own, so a
/// batch writes `batch × time` floats instead of `batch × time × vocabulary`
/// (26 MB for 256 sequences of 256 steps over 100 symbols) into fresh memory.
#[derive(Debug, Default)]
pub(crate) struct OneHotBuffer {
    data: Vec<f32>,
    /// Indices of `data` that hold 1.0; every other value is 0.0.
    ones: Vec<usize>,
}

impl OneHotBuffer {
    /// Makes the buffer `len` zeros with 1.0 at each index of `ones` (indices
    /// at or past `len` are skipped) and returns it.
    pub(crate) fn fill(&mut self, len: usize, ones: impl Iterator<Item = usize>) -> &[f32] {
        for &i in &self.ones {
            if let Some(x) = self.data.get_mut(i) {
                *x = 0.0;
            }
        }
        self.ones.clear();
        self.data.resize(len, 0.0);
        for i in ones {
            if let Some(x) = self.data.get_mut(i) {
                *x = 1.0;
                self.ones.push(i);
            }
        }
        &self.data
    }
}

/// The feature vectors of a numeric corpus, for a float input: a
/// sequence's "ids" are the rows of its timesteps in `data`
/// ([`ValueTable::of`] gives each sequence's first row).
pub(crate) struct ValueTable {
    features: usize,
    data: Vec<f32>,
}

impl ValueTable {
    /// The table of a numeric corpus, and the first row of each sequence.
    pub(crate) fn of(corpus: &crate::corpus::Corpus) -> (ValueTable, Vec<usize>) {
        let features = corpus.features().unwrap_or(1);
        let mut data = Vec::new();
        let mut starts = Vec::with_capacity(corpus.len());
        for s in corpus.sequences() {
            starts.push(data.len() / features);
            if let Some(v) = s.values() {
                data.extend_from_slice(v.data());
            }
        }
        (ValueTable { features, data }, starts)
    }

    /// One row of `features` zeros.
    pub(crate) fn zeros(features: usize) -> ValueTable {
        ValueTable {
            features,
            data: vec![0.0; features],
        }
    }
}

/// An ONNX model with its card, ready to record.
pub struct Model {
    pub(crate) card: Card,
    pub(crate) graph: Graph,
    pub(crate) bytes: Vec<u8>,
    pub(crate) sessions: Mutex<BTreeMap<Vec<String>, Arc<OrtSession>>>,
    pub(crate) pools: Mutex<BTreeMap<Vec<String>, Arc<SessionPool>>>,
    pub(crate) layouts: Mutex<BTreeMap<String, LayerLayout>>,
}

/// Single-threaded sessions of one graph, each with its one-hot buffer,
/// lent to the workers that record batches in parallel. A worker takes one
/// (made on first need: at most as many as run at once) and gives it back.
pub(crate) struct SessionPool {
    bytes: Vec<u8>,
    what: String,
    free: Mutex<Vec<BatchWorker>>,
}

/// What one worker of a [`SessionPool`] runs batches with.
pub(crate) struct BatchWorker {
    pub(crate) session: OrtSession,
    pub(crate) onehot: OneHotBuffer,
}

impl SessionPool {
    pub(crate) fn take(&self) -> Result<BatchWorker> {
        if let Some(w) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(w);
        }
        Ok(BatchWorker {
            session: OrtSession::with_threads(&self.bytes, &self.what, Some(1))?,
            onehot: OneHotBuffer::default(),
        })
    }

    pub(crate) fn put(&self, w: BatchWorker) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(w);
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("card", &self.card.path)
            .field("model", &self.card.model_path)
            .finish()
    }
}

/// A requested layer, resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedLayer {
    pub(crate) name: String,
    pub(crate) tensor: String,
}

impl Model {
    /// Loads a model from its card (`*.luigi.yaml`) or from the `.onnx` file
    /// (the card is then `<model>.luigi.yaml` beside it), and checks the card
    /// against the graph.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let card = Card::load(path)?;
        Model::from_card(card)
    }

    /// Loads the model a card describes.
    pub fn from_card(card: Card) -> Result<Model> {
        let bytes = std::fs::read(&card.model_path).map_err(|e| Error::io(&card.model_path, e))?;
        let graph = Graph::parse(&bytes, &card.model_path)?;
        check_card(&card, &graph)?;
        Ok(Model {
            card,
            graph,
            bytes,
            sessions: Mutex::new(BTreeMap::new()),
            pools: Mutex::new(BTreeMap::new()),
            layouts: Mutex::new(BTreeMap::new()),
        })
    }

    /// The untrained twin named by the card (`untrained:`), loaded with the
    /// same card settings.
    pub fn untrained(&self) -> Result<Option<Model>> {
        let Some(p) = &self.card.untrained_path else {
            return Ok(None);
        };
        let twin_card = crate::model::card::card_path_for(p);
        let card = if twin_card.is_file() {
            Card::load(&twin_card)?
        } else {
            let mut c = self.card.clone();
            c.model_path = p.clone();
            c.untrained_path = None;
            c
        };
        Model::from_card(card).map(Some)
    }

    /// Features per timestep of a float input (`input.encoding: float`):
    /// the card's `input.features`, else the input's last dimension in the
    /// graph. `None` for a model of tokens.
    pub fn input_features(&self) -> Option<usize> {
        let input = &self.card.file.input;
        if input.encoding != Encoding::Float {
            return None;
        }
        input.features.or_else(|| {
            self.graph
                .input(&input.name)
                .and_then(|i| i.shape.as_ref())
                .and_then(|s| match s.last() {
                    Some(crate::model::graph::Dim::Fixed(v)) => usize::try_from(*v).ok(),
                    _ => None,
                })
        })
    }

    /// The model card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// The ONNX file's bytes.
    pub(crate) fn model_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The decoded graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The ONNX file.
    #[allow(clippy::misnamed_getters)] // the model's path, not the card's
    pub fn path(&self) -> &Path {
        &self.card.model_path
    }

    /// A short fingerprint of the model bytes and card (for caches and reports).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.bytes);
        // the card as JSON: optional keys that are absent serialise to
        // nothing, so adding an optional card key later changes no
        // fingerprint of a card that does not use it
        h.update(
            serde_json::to_string(&self.card.file)
                .unwrap_or_default()
                .as_bytes(),
        );
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub(crate) fn resolve(&self, name: &str) -> Result<ResolvedLayer> {
        let tensor = self.card.resolve_layer(name).to_string();
        let several = crate::model::card::EVERY_LAYER.contains(&name.trim())
            || (name.contains(',') && self.graph.tensor(&tensor).is_none());
        if several {
            let aliases: Vec<&str> = self.card.file.layers.keys().map(String::as_str).collect();
            return Err(Error::invalid(
                format!("layer `{name}` of {}", self.path().display()),
                format!(
                    "`{name}` names several layers, and this needs one: name a single layer (the card's aliases: {})",
                    if aliases.is_empty() { "none; see `luigi layers`".to_string() } else { aliases.join(", ") }
                ),
            ));
        }
        if self.graph.tensor(&tensor).is_none() {
            if self.graph.initializers.iter().any(|i| i.name == tensor) {
                return Err(Error::invalid(
                    format!("layer `{name}` of {}", self.path().display()),
                    format!("`{tensor}` is a weight (initializer), not an activation; run `luigi layers {}`", self.path().display()),
                ));
            }
            let mut closest = self.graph.closest(&tensor, 5);
            let aliases: Vec<&str> = self.card.file.layers.keys().map(String::as_str).collect();
            for a in closest_names(name, aliases, 2) {
                closest.insert(0, format!("{a} (alias)"));
            }
            return Err(Error::UnknownLayer {
                model: self.path().to_path_buf(),
                layer: name.to_string(),
                closest,
            });
        }
        if let Some((node, idx)) = self.graph.producer(&tensor) {
            if is_recurrent(&node.op_type) && idx > 0 {
                let y = node.outputs.first().cloned().unwrap_or_default();
                return Err(Error::invalid(
                    format!("layer `{name}` of {}", self.path().display()),
                    format!("`{tensor}` is output {idx} of {} node `{}`, the last state only (no time axis); record its sequence output `{y}` instead", node.op_type, node.name),
                ));
            }
        }
        Ok(ResolvedLayer {
            name: name.to_string(),
            tensor,
        })
    }

    /// The session that fetches `outputs` (shared, made once per set of
    /// outputs), on ONNX Runtime's default number of threads.
    pub(crate) fn session_for(&self, outputs: &[String]) -> Result<Arc<OrtSession>> {
        let key = output_key(outputs);
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sessions.get(&key) {
            return Ok(s.clone());
        }
        let (_, s) = self.open(&key, None)?;
        let s = Arc::new(s);
        sessions.insert(key, s.clone());
        Ok(s)
    }

    /// A session that fetches `outputs`, not kept: for a single run.
    pub(crate) fn uncached_session(&self, outputs: &[String]) -> Result<OrtSession> {
        Ok(self.open(&output_key(outputs), None)?.1)
    }

    /// The pool of single-threaded sessions that fetch `outputs`.
    pub(crate) fn pool_for(&self, outputs: &[String]) -> Result<Arc<SessionPool>> {
        let key = output_key(outputs);
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(&key) {
            return Ok(p.clone());
        }
        let (bytes, first) = self.open(&key, Some(1))?;
        let pool = Arc::new(SessionPool {
            bytes,
            what: self.card.model_path.display().to_string(),
            free: Mutex::new(vec![BatchWorker {
                session: first,
                onehot: OneHotBuffer::default(),
            }]),
        });
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    /// A session that fetches the tensors `key`, with the model bytes it was
    /// made from. The session runs only the nodes these outputs need; where
    /// that cut cannot be made (subgraphs), or ONNX Runtime refuses the cut
    /// graph, the whole graph runs with the outputs added.
    fn open(&self, key: &[String], threads: Option<usize>) -> Result<(Vec<u8>, OrtSession)> {
        let what = self.card.model_path.display().to_string();
        let threads = threads.or_else(crate::model::session::intra_threads);
        let names: Vec<&str> = key.iter().map(String::as_str).collect();
        let pruned = crate::model::graph::pruned_to_outputs(&self.bytes, &self.graph, &names)
            .and_then(|bytes| {
                let mut s = OrtSession::with_threads(&bytes, &what, threads).ok()?;
                s.pruned = true;
                Some((bytes, s))
            });
        if let Some(p) = pruned {
            return Ok(p);
        }
        let extra: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| self.graph.output(n).is_none())
            .collect();
        let bytes = if extra.is_empty() {
            self.bytes.clone()
        } else {
            crate::model::graph::with_extra_outputs(&self.bytes, &extra)
        };
        let s = OrtSession::with_threads(&bytes, &what, threads)?;
        Ok((bytes, s))
    }

    /// The inputs to feed for a batch of `batch` sequences of `time` steps:
    /// the token input and zero state for every state input.
    ///
    /// A one-hot input is written into `onehot`, which keeps its buffer from
    /// one call to the next (pass the same one for every batch of a run).
    pub(crate) fn feeds<'b>(
        &self,
        ids: &[&[i64]],
        time: usize,
        state: Option<&[Vec<f32>]>,
        onehot: &'b mut OneHotBuffer,
        values: Option<&ValueTable>,
    ) -> Result<Vec<(String, Feed<'b>)>> {
        let batch = ids.len();
        let input = &self.card.file.input;
        let pad = self.card.file.vocabulary.unknown.unwrap_or(0);
        let v = self.card.vocab_size();
        let at = |b: usize, t: usize| ids[b].get(t).copied().unwrap_or(pad);
        let feed = match (input.encoding, input.layout) {
            (Encoding::Ids, Layout::BatchMajor) => {
                let mut d = Vec::with_capacity(batch * time);
                for b in 0..batch {
                    for t in 0..time {
                        d.push(at(b, t));
                    }
                }
                Feed::I64(vec![batch as i64, time as i64], d)
            }
            (Encoding::Ids, Layout::TimeMajor) => {
                let mut d = Vec::with_capacity(batch * time);
                for t in 0..time {
                    for b in 0..batch {
                        d.push(at(b, t));
                    }
                }
                Feed::I64(vec![time as i64, batch as i64], d)
            }
            (Encoding::OneHot, layout) => {
                let ones = (0..batch).flat_map(|b| {
                    (0..time).filter_map(move |t| {
                        let id = at(b, t) as usize;
                        let row = match layout {
                            Layout::BatchMajor => b * time + t,
                            Layout::TimeMajor => t * batch + b,
                        };
                        (id < v).then_some(row * v + id)
                    })
                });
                let shape = match layout {
                    Layout::BatchMajor => vec![batch as i64, time as i64, v as i64],
                    Layout::TimeMajor => vec![time as i64, batch as i64, v as i64],
                };
                Feed::F32Ref(shape, onehot.fill(batch * time * v, ones))
            }
            (Encoding::Float, layout) => {
                let table = values.ok_or_else(|| {
                    Error::invalid(
                        format!("input `{}`", input.name),
                        "takes feature vectors (`encoding: float`): record it over a numeric corpus; generation and stepwise runs apply to models of text",
                    )
                })?;
                let f = table.features;
                let mut d = vec![0f32; batch * time * f];
                for (b, seq) in ids.iter().enumerate() {
                    for (t, &id) in seq.iter().enumerate().take(time) {
                        let row = match layout {
                            Layout::BatchMajor => b * time + t,
                            Layout::TimeMajor => t * batch + b,
                        };
                        let src = id as usize * f;
                        if let Some(v) = table.data.get(src..src + f) {
                            d[row * f..(row + 1) * f].copy_from_slice(v);
                        }
                    }
                }
                let shape = match layout {
                    Layout::BatchMajor => vec![batch as i64, time as i64, f as i64],
                    Layout::TimeMajor => vec![time as i64, batch as i64, f as i64],
                };
                Feed::F32(shape, d)
            }
        };
        let mut feeds = vec![(input.name.clone(), feed)];
        if let Some(mask) = &input.mask {
            // 1 at every timestep of a sequence, 0 at the padding after it
            let on = |b: usize, t: usize| i64::from(t < ids[b].len());
            let (shape, d): (Vec<i64>, Vec<i64>) = match input.layout {
                Layout::BatchMajor => (
                    vec![batch as i64, time as i64],
                    (0..batch)
                        .flat_map(|b| (0..time).map(move |t| on(b, t)))
                        .collect(),
                ),
                Layout::TimeMajor => (
                    vec![time as i64, batch as i64],
                    (0..time)
                        .flat_map(|t| (0..batch).map(move |b| on(b, t)))
                        .collect(),
                ),
            };
            feeds.push((mask.clone(), Feed::I64(shape, d)));
        }
        for (i, pair) in self.card.file.state.iter().enumerate() {
            let shape = self.state_shape(i, batch)?;
            let n: usize = shape.iter().product::<i64>() as usize;
            let data = match state {
                Some(s) => s.get(i).cloned().ok_or_else(|| {
                    Error::invalid(
                        "stepwise run",
                        format!("no value for state `{}`", pair.input),
                    )
                })?,
                None => vec![0f32; n],
            };
            if data.len() != n {
                return Err(Error::invalid(
                    "stepwise run",
                    format!(
                        "state `{}` holds {} values, shape {shape:?} needs {n}",
                        pair.input,
                        data.len()
                    ),
                ));
            }
            feeds.push((pair.input.clone(), Feed::F32(shape, data)));
        }
        Ok(feeds)
    }

    /// Shape of state input `i` for a batch: fixed dims as declared, the one
    /// symbolic (or unknown) dim is the batch.
    pub(crate) fn state_shape(&self, i: usize, batch: usize) -> Result<Vec<i64>> {
        let pair = &self.card.file.state[i];
        let info = self.graph.input(&pair.input).ok_or_else(|| {
            self.card_err(
                &format!("state[{i}].input"),
                format!("`{}` is not a graph input", pair.input),
            )
        })?;
        let shape = info.shape.as_ref().ok_or_else(|| {
            self.card_err(
                &format!("state[{i}].input"),
                format!(
                    "graph input `{}` declares no shape; Luigi needs it to build a zero state",
                    pair.input
                ),
            )
        })?;
        let free = shape.iter().filter(|d| !matches!(d, Dim::Fixed(_))).count();
        if free > 1 {
            return Err(self.card_err(&format!("state[{i}].input"), format!("graph input `{}` has {free} symbolic dims; Luigi expects only the batch dim to be symbolic", pair.input)));
        }
        Ok(shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => *n,
                _ => batch as i64,
            })
            .collect())
    }

    pub(crate) fn card_err(&self, key: &str, message: String) -> Error {
        Error::Card {
            path: self.card.path.clone(),
            key: key.to_string(),
            message,
        }
    }
}

/// The sorted, deduplicated names of a set of outputs: a session's key.
pub(crate) fn output_key(outputs: &[String]) -> Vec<String> {
    let mut key = outputs.to_vec();
    key.sort();
    key.dedup();
    key
}
