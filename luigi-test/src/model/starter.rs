//! A starter model card written from an ONNX graph (`luigi card`).
//!
//! Reads what the graph says and writes a card that Luigi loads unchanged
//! when the graph is an ordinary recurrent sequence model: the token input
//! and its encoding, the state input/output pairs, the logits, one alias per
//! recurrent layer, and which state carries which layer. Every guess is
//! written as a comment beside the line, with what it was guessed from;
//! lines marked `CHECK` are the ones a person should confirm.
//!
//! Rules, in order:
//! - **Token input**: the first integer graph input is `ids`; otherwise the
//!   first float input of rank 3 is `one-hot`.
//! - **Layout**: a first dimension named like time (`time`, `seq`, `len`,
//!   `step`) is `time-major`, one named like `batch` is `batch-major`;
//!   otherwise `batch-major` when a `Transpose` lies between the input and
//!   the first recurrent node (what PyTorch's `batch_first` exports), else
//!   `time-major` (ONNX's own recurrent layout).
//! - **Layers**: every `LSTM`, `GRU` and `RNN` node, in graph order, aliased
//!   `lstm`, `lstm2`, … (`gru`, `rnn` likewise). The tensor is the graph
//!   output its hidden sequence reaches through shape-only nodes
//!   (`Squeeze`, `Transpose`, `Reshape`, `Identity`), else its `Y` output.
//! - **State**: every other float graph input, paired with the graph
//!   output of the same shape whose name shares the longest prefix with
//!   it. A state that reaches a recurrent node's `initial_h` (directly or
//!   through `Slice`/`Gather`/`Squeeze`/`Unsqueeze`/`Split`) carries that
//!   layer; one that reaches several (a stacked `[layers, batch, units]`
//!   state) lists them in order; an LSTM's `initial_c` carries none.
//! - **Logits**: the remaining graph output named like `logit`, else the
//!   one whose last dimension is the vocabulary size, else the first
//!   remaining one.
//! - **causal**: true when every recurrent node runs forward only and the
//!   graph has no attention or convolution over time.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use super::card::Layout;
use super::graph::{Attr, Dim, ElemType, Graph, Node, ValueInfo};
use crate::error::{Error, Result};

/// Where the card's vocabulary comes from.
#[derive(Debug, Clone)]
pub enum VocabSource {
    /// Inline characters: id = position in the string.
    Chars(String),
    /// A JSON file holding an array of one-character strings, written in the
    /// card as this path (relative to the card's folder).
    File {
        /// The path to write in the card.
        card_path: String,
        /// How many entries the file holds.
        len: usize,
    },
}

impl VocabSource {
    fn len(&self) -> usize {
        match self {
            VocabSource::Chars(s) => s.chars().count(),
            VocabSource::File { len, .. } => *len,
        }
    }
}

/// What [`starter_card`] needs besides the graph.
#[derive(Debug, Clone)]
pub struct StarterOptions {
    /// The ONNX file as the card should name it (relative to the card).
    pub model_path: String,
    /// The vocabulary.
    pub vocabulary: VocabSource,
    /// The id of characters outside the vocabulary, if the model has one.
    pub unknown: Option<i64>,
}

const RECURRENT: [&str; 3] = ["LSTM", "GRU", "RNN"];
const SHAPE_ONLY: [&str; 4] = ["Squeeze", "Transpose", "Reshape", "Identity"];
const STATE_PATH: [&str; 6] = [
    "Slice",
    "Gather",
    "Squeeze",
    "Unsqueeze",
    "Split",
    "Identity",
];

fn is_float(v: &ValueInfo) -> bool {
    matches!(
        v.dtype,
        Some(ElemType::Float | ElemType::Float16 | ElemType::Double | ElemType::BFloat16)
    )
}

fn is_int(v: &ValueInfo) -> bool {
    matches!(v.dtype, Some(ElemType::Int64 | ElemType::Int32))
}

fn shape_text(v: &ValueInfo) -> String {
    match &v.shape {
        Some(d) => format!(
            "[{}]",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "[?]".to_string(),
    }
}

fn consumers<'g>(g: &'g Graph, tensor: &str) -> Vec<(usize, &'g Node, usize)> {
    let mut v = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for (slot, inp) in n.inputs.iter().enumerate() {
            if inp == tensor {
                v.push((i, n, slot));
            }
        }
    }
    v
}

/// Recurrent nodes (node index) reached from `tensor` through nodes whose
/// op is in `through`, with the input slot they read it at.
fn reaches(g: &Graph, tensor: &str, through: &[&str]) -> Vec<(usize, usize)> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![tensor.to_string()];
    while let Some(t) = todo.pop() {
        if !seen.insert(t.clone()) {
            continue;
        }
        for (i, n, slot) in consumers(g, &t) {
            if RECURRENT.contains(&n.op_type.as_str()) {
                found.insert((i, slot));
            } else if through.contains(&n.op_type.as_str()) {
                todo.extend(n.outputs.iter().cloned());
            }
        }
    }
    found.into_iter().collect()
}

/// Whether a `Transpose` lies on some path from `tensor` to the first
/// recurrent node it reaches (any op in between).
fn transposed_before_recurrent(g: &Graph, tensor: &str) -> Option<bool> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![(tensor.to_string(), false)];
    let mut answer = None;
    while let Some((t, transposed)) = todo.pop() {
        if !seen.insert((t.clone(), transposed)) {
            continue;
        }
        for (_, n, _) in consumers(g, &t) {
            if RECURRENT.contains(&n.op_type.as_str()) {
                answer = Some(answer.unwrap_or(false) || transposed);
            } else {
                let tr = transposed || n.op_type == "Transpose";
                todo.extend(n.outputs.iter().map(|o| (o.clone(), tr)));
            }
        }
    }
    answer
}

/// The residual `Add` nodes of a transformer, in node order, with the
/// tensor each makes: an `Add` of two computed tensors, one of which is
/// computed from the other (the block's input added back to its output).
fn residual_adds(g: &Graph) -> Vec<(String, String)> {
    let weights: BTreeSet<&str> = g.initializers.iter().map(|t| t.name.as_str()).collect();
    let constants: BTreeSet<&str> = g
        .nodes
        .iter()
        .filter(|n| n.op_type == "Constant")
        .flat_map(|n| n.outputs.iter().map(String::as_str))
        .collect();
    let computed = |t: &str| !t.is_empty() && !weights.contains(t) && !constants.contains(t);
    // Whether `from` is among the ancestors of `t` (at most 256 tensors
    // visited: a block is a few dozen nodes).
    let derives = |t: &str, from: &str| {
        let mut stack = vec![t.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            if x == from {
                return true;
            }
            if !seen.insert(x.clone()) || seen.len() > 256 {
                continue;
            }
            if let Some((n, _)) = g.producer(&x) {
                stack.extend(n.inputs.iter().filter(|i| computed(i)).cloned());
            }
        }
        false
    };
    // Candidates: (node name, the skip input, the output). A chain follows:
    // each residual `Add` reads the previous one's output as its skip input
    // (which leaves out, e.g., an attention mask added to the scores of a
    // later block, computed before them but not the stream).
    let mut chain: Vec<(String, String)> = Vec::new();
    let mut last: Option<String> = None;
    for n in g
        .nodes
        .iter()
        .filter(|n| n.op_type == "Add" && n.inputs.len() == 2)
    {
        let (a, b) = (&n.inputs[0], &n.inputs[1]);
        if !(computed(a) && computed(b)) {
            continue;
        }
        let skip = if derives(b, a) {
            a
        } else if derives(a, b) {
            b
        } else {
            continue;
        };
        if last.as_ref().is_some_and(|l| l != skip) {
            continue;
        }
        if let Some(o) = n.outputs.first() {
            chain.push((n.name.clone(), o.clone()));
            last = Some(o.clone());
        }
    }
    chain
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Writes a starter card for `graph` (see the module docs for the rules).
///
/// Errors when the graph has no input Luigi can feed characters to, or no
/// recurrent layer, or when the vocabulary is longer than the model's
/// token table.
pub fn starter_card(graph: &Graph, opts: &StarterOptions) -> Result<String> {
    let what = graph.path.display().to_string();
    let fail = |m: String| Error::invalid(format!("luigi card {what}"), m);
    let initializers: BTreeSet<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&ValueInfo> = graph
        .inputs
        .iter()
        .filter(|v| !initializers.contains(v.name.as_str()))
        .collect();
    // --- the token input
    let (token, encoding) = match inputs.iter().find(|v| is_int(v)) {
        Some(v) => (*v, "ids"),
        None => match inputs
            .iter()
            .find(|v| is_float(v) && v.shape.as_ref().is_some_and(|s| s.len() == 3))
        {
            Some(v) => (*v, "one-hot"),
            None => {
                return Err(fail(format!(
                    "no graph input takes tokens: Luigi feeds int64 ids [batch, time] or float one-hot [batch, time, vocab], and the inputs are {}",
                    inputs
                        .iter()
                        .map(|v| format!("{} {}", v.name, shape_text(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        },
    };
    let recurrent: Vec<(usize, &Node)> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| RECURRENT.contains(&n.op_type.as_str()))
        .collect();
    // Without recurrent nodes: a transformer's residual stream (each `Add`
    // of a tensor and something computed from it), and the float graph
    // outputs of rank 3 besides the logits.
    let residual = if recurrent.is_empty() {
        residual_adds(graph)
    } else {
        Vec::new()
    };
    if recurrent.is_empty() && residual.is_empty() {
        return Err(fail(
            "the graph has no LSTM, GRU or RNN node and no residual stream (an `Add` of a tensor and something computed from it): `luigi card` writes cards for recurrent models and transformers; write the card by hand (see the card docs) and name the layer tensors from `luigi layers`"
                .to_string(),
        ));
    }
    // --- layout
    let first = token
        .shape
        .as_ref()
        .and_then(|s| s.first())
        .map(|d| d.to_string())
        .unwrap_or_default();
    let (layout, layout_why) = match graph.named_layout(&token.name) {
        Some(Layout::TimeMajor) => (
            "time-major",
            format!("the first dimension is named `{first}`"),
        ),
        Some(Layout::BatchMajor) => (
            "batch-major",
            format!("the first dimension is named `{first}`"),
        ),
        _ => match transposed_before_recurrent(graph, &token.name) {
            Some(true) => (
                "batch-major",
                "CHECK: a Transpose lies between the input and the first recurrent node"
                    .to_string(),
            ),
            _ => (
                "time-major",
                "CHECK: the input reaches the recurrent node without a Transpose".to_string(),
            ),
        },
    };
    // --- vocabulary size the model knows
    let model_vocab: Option<i64> = if encoding == "one-hot" {
        match token.shape.as_ref().and_then(|s| s.last()) {
            Some(Dim::Fixed(v)) => Some(*v),
            _ => None,
        }
    } else {
        graph.token_table_rows(&token.name)
    };
    let vocab_len = opts.vocabulary.len();
    if vocab_len == 0 {
        return Err(fail(
            "the vocabulary is empty: give the characters the model reads, in id order".to_string(),
        ));
    }
    if let Some(v) = model_vocab {
        if vocab_len as i64 > v {
            return Err(fail(format!(
                "the vocabulary has {vocab_len} characters but the model's token table has {v} rows: ids {v}..{} would be out of range. Give the model's own vocabulary, in id order",
                vocab_len - 1
            )));
        }
    }
    if let Some(u) = opts.unknown {
        if u < 0 || u as usize >= vocab_len {
            return Err(fail(format!(
                "--unknown {u} is not an id of the vocabulary (0..{})",
                vocab_len - 1
            )));
        }
    }
    // --- layers
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut layers: Vec<(String, String, String)> = Vec::new(); // alias, tensor, comment
    let mut alias_of_node = std::collections::BTreeMap::<usize, String>::new();
    let outputs: BTreeSet<&str> = graph.outputs.iter().map(|v| v.name.as_str()).collect();
    for (i, n) in &recurrent {
        let base = n.op_type.to_ascii_lowercase();
        let c = counts.entry(base.clone()).or_insert(0);
        *c += 1;
        let alias = if *c == 1 { base } else { format!("{base}{c}") };
        let y = n.outputs.first().cloned().unwrap_or_default();
        // follow shape-only nodes to a graph output
        let mut tensor = y.clone();
        let mut at = y.clone();
        for _ in 0..8 {
            if outputs.contains(at.as_str()) {
                tensor = at.clone();
                break;
            }
            let next: Vec<_> = consumers(graph, &at)
                .into_iter()
                .filter(|(_, m, _)| SHAPE_ONLY.contains(&m.op_type.as_str()))
                .collect();
            match next.as_slice() {
                [(_, m, _)] => match m.outputs.first() {
                    Some(o) => at = o.clone(),
                    None => break,
                },
                _ => break,
            }
        }
        let bidi =
            matches!(n.attributes.get("direction"), Some(Attr::Str(d)) if d == "bidirectional");
        let comment = if tensor == y {
            format!(
                "{} node `{}`: its Y, [time, {}, batch, units]",
                n.op_type,
                n.name,
                if bidi { 2 } else { 1 }
            )
        } else {
            let shape = graph
                .output(&tensor)
                .map(shape_text)
                .unwrap_or_else(|| "[?]".to_string());
            format!(
                "{} node `{}`: its hidden sequence as the graph output {shape}",
                n.op_type, n.name
            )
        };
        alias_of_node.insert(*i, alias.clone());
        layers.push((alias, tensor, comment));
    }
    // --- a transformer's layers: the residual stream after each residual
    // `Add` (in a standard block, attention then MLP), then the other float
    // graph outputs of rank 3 (attention or MLP outputs an export exposes)
    let sanitized = |name: &str| {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .trim_matches('_')
            .to_string()
    };
    let mut streams = 0;
    for (node, tensor) in &residual {
        let shape = graph
            .output(tensor)
            .map(shape_text)
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        // A graph output keeps its own name; other points are `stream1`, ...
        let own = sanitized(tensor);
        let alias = if outputs.contains(tensor.as_str())
            && !own.is_empty()
            && !crate::model::card::EVERY_LAYER.contains(&own.as_str())
        {
            own
        } else {
            streams += 1;
            format!("stream{streams}")
        };
        layers.push((
            alias,
            tensor.clone(),
            format!(
                "residual stream after `Add` node `{node}`{shape} (CHECK: in a standard block the odd ones follow attention, the even ones the MLP)"
            ),
        ));
    }
    if !residual.is_empty() {
        let taken: BTreeSet<String> = layers.iter().map(|(_, t, _)| t.clone()).collect();
        for o in &graph.outputs {
            let rank3 = o.shape.as_ref().is_some_and(|s| s.len() == 3);
            let vocab_last = matches!(o.shape.as_ref().and_then(|s| s.last()), Some(Dim::Fixed(v)) if *v == vocab_len as i64 || Some(*v) == model_vocab);
            let named_logits = o.name.to_ascii_lowercase().contains("logit");
            if is_float(o) && rank3 && !vocab_last && !named_logits && !taken.contains(&o.name) {
                let alias = sanitized(&o.name);
                if alias.is_empty()
                    || layers.iter().any(|(a, _, _)| *a == alias)
                    || crate::model::card::EVERY_LAYER.contains(&alias.as_str())
                {
                    continue;
                }
                layers.push((
                    alias,
                    o.name.clone(),
                    format!("graph output {}", shape_text(o)),
                ));
            }
        }
    }
    // --- state pairs
    let layer_tensors: BTreeSet<&str> = layers.iter().map(|(_, t, _)| t.as_str()).collect();
    let mut used_outputs: BTreeSet<String> = BTreeSet::new();
    let mut state_lines: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for s in inputs.iter().filter(|v| v.name != token.name) {
        if !is_float(s) {
            notes.push(format!(
                "graph input `{}` {} is neither the token input nor a float state: feed it how? Luigi cannot; cut it from the export",
                s.name,
                shape_text(s)
            ));
            continue;
        }
        let candidates: Vec<&ValueInfo> = graph
            .outputs
            .iter()
            .filter(|o| {
                o.shape.is_some()
                    && o.shape == s.shape
                    && !used_outputs.contains(&o.name)
                    && !layer_tensors.contains(o.name.as_str())
            })
            .collect();
        let Some(out) = candidates.iter().max_by_key(|o| {
            (
                common_prefix(&o.name, &s.name),
                std::cmp::Reverse(o.name.clone()),
            )
        }) else {
            notes.push(format!(
                "graph input `{}` {} has no graph output of the same shape to carry it: Luigi feeds it zeros on every run; if it is a state, export its final value as an output",
                s.name,
                shape_text(s)
            ));
            continue;
        };
        used_outputs.insert(out.name.clone());
        let reached = reaches(graph, &s.name, &STATE_PATH);
        let h_layers: Vec<String> = reached
            .iter()
            .filter(|(_, slot)| *slot == 5)
            .filter_map(|(i, _)| alias_of_node.get(i).cloned())
            .collect();
        let c_of: Vec<String> = reached
            .iter()
            .filter(|(_, slot)| *slot == 6)
            .filter_map(|(i, _)| alias_of_node.get(i).cloned())
            .collect();
        let (layer, why) = match h_layers.as_slice() {
            [] if !c_of.is_empty() => (
                String::new(),
                format!("the cell state of {}", c_of.join(", ")),
            ),
            [] => (
                String::new(),
                "CHECK: reaches no recurrent node's initial_h".to_string(),
            ),
            [one] => (format!(", layer: {one}"), format!("initial_h of {one}")),
            many => (
                format!(", layer: [{}]", many.join(", ")),
                format!("initial_h of {}, stacked in this order", many.join(", ")),
            ),
        };
        state_lines.push(format!(
            "  - {{ input: {}, output: {}{layer} }}   # {} {why}",
            s.name,
            out.name,
            shape_text(s)
        ));
    }
    // --- logits
    let rest: Vec<&ValueInfo> = graph
        .outputs
        .iter()
        .filter(|o| !used_outputs.contains(&o.name) && !layer_tensors.contains(o.name.as_str()))
        .collect();
    let logits = rest
        .iter()
        .find(|o| o.name.to_ascii_lowercase().contains("logit"))
        .map(|o| (*o, "named like logits"))
        .or_else(|| {
            rest.iter()
                .find(|o| {
                    matches!(o.shape.as_ref().and_then(|s| s.last()), Some(Dim::Fixed(v)) if *v == vocab_len as i64 || Some(*v) == model_vocab)
                })
                .map(|o| (*o, "CHECK: its last dimension is the vocabulary size"))
        })
        .or_else(|| rest.first().map(|o| (*o, "CHECK: the only output left")));
    // --- causal
    let bidirectional = recurrent.iter().any(
        |(_, n)| matches!(n.attributes.get("direction"), Some(Attr::Str(d)) if d != "forward"),
    );
    let mixing = graph
        .nodes
        .iter()
        .any(|n| n.op_type.contains("Attention") || n.op_type.starts_with("Conv"));

    // --- write
    let mut y = String::new();
    let file = Path::new(&opts.model_path)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| opts.model_path.clone());
    let _ = writeln!(
        y,
        "# Starter card for {file}, written by `luigi card` from its graph. Lines marked\n\
         # CHECK are guesses to confirm; `luigi layers {file}` lists every tensor.\n\
         # The card format: luigi-test/README.md (\"Model cards\")."
    );
    let _ = writeln!(y, "model: {}", opts.model_path);
    let _ = writeln!(y, "input:");
    let _ = writeln!(y, "  name: {}", token.name);
    let _ = writeln!(
        y,
        "  encoding: {encoding}          # {} {}",
        token.dtype.map(|d| d.to_string()).unwrap_or_default(),
        shape_text(token)
    );
    let _ = writeln!(y, "  layout: {layout}      # {layout_why}");
    let transformer = recurrent.is_empty();
    let _ = writeln!(
        y,
        "  causal: {}           # {}",
        !bidirectional && !mixing && !transformer,
        if transformer {
            "CHECK: set true when the attention is causally masked (each step sees only earlier steps); true lets Luigi right-pad batches"
        } else if bidirectional {
            "a recurrent node reads the sequence backwards: padding would change earlier steps"
        } else if mixing {
            "CHECK: attention or convolution may read later steps"
        } else {
            "every recurrent node runs forward only"
        }
    );
    let _ = writeln!(y, "vocabulary:");
    match &opts.vocabulary {
        VocabSource::Chars(s) => {
            let quoted = serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
            let _ = writeln!(y, "  chars: {quoted}");
        }
        VocabSource::File { card_path, .. } => {
            let _ = writeln!(y, "  file: {card_path}");
        }
    }
    match opts.unknown {
        Some(u) => {
            let _ = writeln!(y, "  unknown: {u}");
        }
        None => {
            let _ = writeln!(
                y,
                "  # unknown: 0       # CHECK: the id of characters outside the vocabulary, if the model has one"
            );
        }
    }
    if let Some(v) = model_vocab {
        if (vocab_len as i64) < v {
            let _ = writeln!(
                y,
                "  # CHECK: {vocab_len} characters for a token table of {v}: ids {vocab_len}..{} are never fed",
                v - 1
            );
        }
    }
    if !state_lines.is_empty() {
        let _ = writeln!(y, "state:");
        for l in &state_lines {
            let _ = writeln!(y, "{l}");
        }
    }
    match logits {
        Some((o, why)) => {
            let _ = writeln!(y, "logits: {}   # {} {why}", o.name, shape_text(o));
        }
        None => {
            let _ = writeln!(
                y,
                "# logits: ?   # no graph output left for next-token scores: `luigi generate` and intervention need one"
            );
        }
    }
    let _ = writeln!(y, "layers:");
    for (alias, tensor, comment) in &layers {
        let _ = writeln!(y, "  {alias}: {tensor}   # {comment}");
    }
    let _ = writeln!(
        y,
        "# untrained: twin.onnx   # an untrained twin for the controls: `luigi twin {file} --out twin.onnx`"
    );
    for n in notes {
        let _ = writeln!(y, "# NOTE: {n}");
    }
    Ok(y)
}
