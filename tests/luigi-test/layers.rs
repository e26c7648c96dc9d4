//! Several layers at once: `all`/`any` and lists record every layer in one
//! pass, side by side, with units named `layer:unit`, and rank across them.

use luigi_test::hypothesis::library::{Bracket, CharIs, Column};
use luigi_test::hypothesis::HypothesisSet;
use luigi_test::inspect::{inspect, InspectOptions};
use luigi_test::model::Model;
use luigi_test::{Corpus, CorpusFormat, Error};

use crate::fixture;

/// The hand-set fixture's card with one more alias, `head` (the logits): two
/// distinct layers (`hidden`, 8 units; `head`, 18) and `lstm`, a view of
/// `hidden`.
fn two_layer_card(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("lstm_ids.luigi.yaml")).unwrap();
    let onnx = fixture("lstm_ids.onnx");
    let card = format!("model: {}\n{text}  head: logits\n{extra}", onnx.display());
    let p = dir.join("two.luigi.yaml");
    std::fs::write(&p, card).unwrap();
    p
}

fn corpus() -> Corpus {
    Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap()
}

#[test]
fn all_records_each_distinct_layer_once_side_by_side() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(two_layer_card(d.path(), "")).unwrap();
    // `lstm` is the LSTM's Y and `hidden` the same numbers transposed: one
    // layer, recorded once (as the later tensor).
    assert_eq!(
        m.layer_members("all").unwrap(),
        Some(vec!["hidden".to_string(), "head".to_string()])
    );
    assert_eq!(
        m.layer_members("any").unwrap(),
        m.layer_members("all").unwrap()
    );
    assert_eq!(m.layer_members("hidden").unwrap(), None);
    let units = m.units("all").unwrap();
    assert_eq!(units.len(), 8 + 18);
    assert_eq!(units[0], "hidden:0");
    assert_eq!(units[8], "head:0");
    let c = corpus();
    let rec = m.record(&c, &["all", "hidden", "logits"]).unwrap();
    let (all, hidden, head) = (&rec[0], &rec[1], &rec[2]);
    assert_eq!(all.layer, "all");
    assert_eq!(all.units, units);
    assert_eq!(all.n_rows(), c.timesteps());
    assert_eq!(all.rows, hidden.rows);
    for r in 0..all.n_rows() {
        for u in 0..8 {
            assert_eq!(all.values[[r, u]], hidden.values[[r, u]]);
        }
        for u in 0..18 {
            assert_eq!(all.values[[r, 8 + u]], head.values[[r, u]]);
        }
    }
    // A list names its layers in its own order.
    let list = m.record(&c, &["logits,lstm"]).unwrap().remove(0);
    assert_eq!(list.units[0], "logits:0");
    assert_eq!(list.units[18], "lstm:0");
    assert_eq!(list.values.column(18), hidden.values.column(0));
}

#[test]
fn ranking_across_layers_finds_each_hand_set_unit_on_its_layer() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(two_layer_card(d.path(), "")).unwrap();
    let c = corpus();
    let mut set = HypothesisSet::new();
    set.add(Bracket::depth('(').unwrap()).unwrap();
    set.add(CharIs::new(';')).unwrap();
    set.add(Column).unwrap();
    let result = inspect(&m, &c, "all", &set, &InspectOptions::default()).unwrap();
    assert_eq!(result.ranking.units.len(), 26);
    for (h, unit) in [("depth(()", "hidden:0"), ("char(;)", "hidden:4")] {
        let best = result.ranking.best_unit(h).unwrap();
        assert_eq!(best.unit, unit, "{h}");
    }
    assert!(result.tensor.contains('+'), "{}", result.tensor);
    let table = result.table(5);
    assert!(table.contains("hidden:0"), "{table}");
    // The single layer ranks the same numbers under its plain names.
    let one = inspect(&m, &c, "hidden", &set, &InspectOptions::default()).unwrap();
    let a = result.ranking.pair("hidden:0", "depth(()").unwrap();
    let b = one.ranking.pair("0", "depth(()").unwrap();
    assert!((a.score - b.score).abs() < 1e-9);
}

#[test]
fn a_unit_of_a_selection_narrows_to_its_own_layer() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(two_layer_card(d.path(), "")).unwrap();
    let c = corpus();
    let all = m.record(&c, &["all"]).unwrap().remove(0);
    let (layer, sub, unit) = m.narrow_to_member("all", &all, 9).unwrap().unwrap();
    assert_eq!((layer.as_str(), unit), ("head", 1));
    assert_eq!(sub.units.len(), 18);
    assert_eq!(sub.units[1], "1");
    assert_eq!(sub.values.column(1), all.values.column(9));
    assert!(m.narrow_to_member("hidden", &all, 0).unwrap().is_none());
}

#[test]
fn selections_refuse_what_they_cannot_mean() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(two_layer_card(d.path(), "")).unwrap();
    let e = m.units("hidden,nosuch").unwrap_err();
    assert!(
        matches!(&e, Error::UnknownLayer { layer, .. } if layer == "nosuch"),
        "{e}"
    );
    let e = m.units("hidden,all").unwrap_err().to_string();
    assert!(e.contains("use it alone"), "{e}");
    let e = m.units("hidden,hidden").unwrap_err().to_string();
    assert!(e.contains("listed twice"), "{e}");
    let e = m.units("hidden,").unwrap_err().to_string();
    assert!(e.contains("empty item"), "{e}");
    // Forcing needs one layer.
    let e = m.generator(Some("all")).unwrap_err().to_string();
    assert!(
        e.contains("names several layers") && e.contains("hidden"),
        "{e}"
    );

    // `all` and `any` are reserved as aliases.
    let card = two_layer_card(d.path(), "");
    let text = std::fs::read_to_string(&card).unwrap() + "  any: logits\n";
    std::fs::write(&card, text).unwrap();
    let e = Model::load(&card).unwrap_err();
    assert!(
        matches!(&e, Error::Card { key, .. } if key == "layers.any"),
        "{e}"
    );
    assert!(e.to_string().contains("reserved"), "{e}");

    // A card without aliases has no `all`.
    let text = std::fs::read_to_string(fixture("lstm_ids.luigi.yaml")).unwrap();
    let bare = text.split("layers:").next().unwrap().to_string();
    let p = d.path().join("bare.luigi.yaml");
    std::fs::write(
        &p,
        format!("model: {}\n{bare}", fixture("lstm_ids.onnx").display()),
    )
    .unwrap();
    let m = Model::load(&p).unwrap();
    let e = m.units("all").unwrap_err().to_string();
    assert!(e.contains("has none") && e.contains("--layer a,b"), "{e}");
    // ... but a list of tensors works.
    assert_eq!(m.units("/Transpose_1_output_0,logits").unwrap().len(), 26);
}
