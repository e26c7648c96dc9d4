//! The committed example models, run through Luigi's own runtime, reach the
//! accuracies their metadata records (measured by the training scripts with
//! Python onnxruntime), so an export/runtime mismatch cannot go unseen.

use luigi_test::model::Model;
use luigi_test::{Corpus, CorpusFormat};

use crate::root;

fn meta(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn boolean_accuracy(card: &str, split: &str) -> f64 {
    let m = Model::load(root().join(card)).unwrap();
    let corpus = Corpus::load(
        root().join(format!("examples/boolean/{split}.txt")),
        CorpusFormat::Lines,
    )
    .unwrap();
    let labels: Vec<u8> =
        std::fs::read_to_string(root().join(format!("examples/boolean/{split}.labels")))
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
    assert_eq!(labels.len(), corpus.len());
    let prob = m.record(&corpus, &["prob"]).unwrap().remove(0);
    let mut correct = 0usize;
    for r in 0..prob.n_rows() {
        let s = prob.rows.sequence[r] as usize;
        let last = prob.rows.position[r] as usize + 1 == corpus.sequences()[s].len();
        if last && u8::from(prob.values[[r, 0]] > 0.5) == labels[s] {
            correct += 1;
        }
    }
    correct as f64 / corpus.len() as f64
}

#[test]
fn boolean_model_reaches_its_recorded_heldout_accuracy() {
    let meta = meta("examples/boolean/boolean.meta.json");
    let recorded = meta["onnx_measurements"]["trained"]["heldout_accuracy"]
        .as_f64()
        .unwrap();
    let acc = boolean_accuracy("examples/boolean/boolean.luigi.yaml", "heldout");
    assert!(
        (acc - recorded).abs() < 5e-4,
        "luigi {acc:.4} vs recorded {recorded:.4}"
    );
    assert!(acc >= 0.995, "held-out accuracy {acc}");
    let untrained = meta["onnx_measurements"]["untrained"]["heldout_accuracy"]
        .as_f64()
        .unwrap();
    let twin = boolean_accuracy("examples/boolean/boolean-untrained.luigi.yaml", "heldout");
    assert!(
        (twin - untrained).abs() < 5e-4,
        "twin {twin:.4} vs recorded {untrained:.4}"
    );
}
