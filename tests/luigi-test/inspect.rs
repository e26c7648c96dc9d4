//! The whole pipeline on models whose answers are known: hand-set units must
//! rank first for their functions, with the numbers scipy computes.

use luigi_test::hypothesis::library::{Bracket, CharIs, Column};
use luigi_test::hypothesis::{HypothesisKind, HypothesisSet};
use luigi_test::inspect::{inspect, InspectOptions};
use luigi_test::model::Model;
use luigi_test::score::{score_all, ScoreConfig};
use luigi_test::{npy, Corpus, CorpusFormat};

use crate::fixture;

fn units_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("lstm_ids.units.json")).unwrap()).unwrap()
}

#[test]
fn recorded_activations_score_as_scipy_does() {
    // The fixture's own hypothesis values (computed in Python) against the
    // activations Luigi records: Pearson must match scipy's to 1e-4.
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
    let acts = m.record(&c, &["lstm"]).unwrap().remove(0);
    let (shape, h) = npy::read::<f32>(&fixture("lstm_ids.hypotheses.npy")).unwrap();
    let hyps = ndarray::Array2::from_shape_vec((shape[0], shape[1]), h).unwrap();
    let meta = units_json();
    let names: Vec<String> = meta["hypotheses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let kinds: Vec<(String, HypothesisKind)> = names
        .iter()
        .map(|n| {
            let kind = match meta["hypothesis_definitions"][n]["kind"].as_str().unwrap() {
                "binary" => HypothesisKind::Binary,
                _ => HypothesisKind::Numeric,
            };
            (n.clone(), kind)
        })
        .collect();
    let cfg = ScoreConfig::default().permutations(0).bootstrap(0);
    let ranking = score_all(
        acts.values.view(),
        hyps.view(),
        &acts.rows.sequence,
        &acts.units,
        &kinds,
        &cfg,
    )
    .unwrap();
    for n in &names {
        for u in &acts.units {
            let want = meta["pearson"][n][u].as_f64().unwrap();
            let got = ranking.pair(u, n).unwrap().pearson.unwrap();
            assert!(
                (got - want).abs() < 1e-4,
                "{n} x unit {u}: luigi {got} scipy {want}"
            );
        }
    }
}

#[test]
fn hand_set_units_rank_first_with_library_hypotheses() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
    let mut set = HypothesisSet::new();
    set.add(Bracket::depth('(').unwrap()).unwrap();
    set.add(Bracket::depth('{').unwrap()).unwrap();
    set.add(CharIs::new('a')).unwrap();
    set.add(CharIs::new(';')).unwrap();
    set.add(CharIs::new('x')).unwrap();
    set.add(Column).unwrap();
    let result = inspect(&m, &c, "lstm", &set, &InspectOptions::default()).unwrap();
    let expect = [
        ("depth(()", "0", 0.99),
        ("depth({)", "3", 0.99),
        ("char(a)", "1", 0.999),
        ("char(;)", "4", 0.999),
    ];
    for (h, unit, min) in expect {
        let best = result
            .ranking
            .best_unit(h)
            .unwrap_or_else(|| panic!("no ranking for {h}"));
        assert_eq!(best.unit, unit, "{h}: best unit");
        assert!(best.score >= min, "{h}: score {}", best.score);
        assert!(best.q_value.unwrap() < 0.01, "{h}: q {:?}", best.q_value);
        assert!(
            best.ci.is_some() && best.p_perm.is_some(),
            "{h}: second pass ran"
        );
    }
    // No hand unit detects 'x': its best unit is a random one, weakly.
    assert!(result.ranking.best_unit("char(x)").unwrap().score < 0.6);
    let table = result.table(10);
    assert!(
        table.contains("depth(()") && table.contains("runner-up"),
        "{table}"
    );
}

#[test]
fn same_ranking_for_any_chunk_size_and_batch_size() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
    let set = luigi_test::hypothesis::families::auto(&c).unwrap();
    let run = |batch: usize, chunk: usize| {
        let mut o = InspectOptions::default();
        o.record.batch_size = batch;
        o.record.chunk_timesteps = chunk;
        inspect(&m, &c, "lstm", &set, &o).unwrap().ranking
    };
    let a = run(32, 65_536);
    let b = run(3, 40);
    assert_eq!(a.rounded(6), b.rounded(6));
}

#[test]
fn long_sequences_in_parts_rank_as_when_recorded_whole() {
    // Three sequences of 2,000 to 5,000 characters, recorded whole, and in
    // pieces of 97 steps handed over in parts of 300 rows (the parts' values
    // come from one evaluation of each whole sequence), with the second pass
    // from the cache and from a second recording.
    let text = std::fs::read_to_string(fixture("corpus.txt")).unwrap();
    let long = |n: usize| {
        text.chars()
            .filter(|c| *c != '\n')
            .cycle()
            .take(n)
            .collect::<String>()
    };
    let c = Corpus::from_strings("long", [long(2_000), long(5_000), long(3_001)]).unwrap();
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let set = luigi_test::hypothesis::families::auto(&c).unwrap();
    let run = |segment: usize, chunk: usize, cache: usize| {
        let mut o = InspectOptions::default();
        o.record.segment_steps = segment;
        o.record.chunk_timesteps = chunk;
        o.cache_bytes = cache;
        inspect(&m, &c, "lstm", &set, &o).unwrap().ranking
    };
    let whole = run(1 << 20, 65_536, usize::MAX);
    assert_eq!(whole.rounded(12), run(97, 300, usize::MAX).rounded(12));
    assert_eq!(whole.rounded(12), run(97, 300, 0).rounded(12));
}

/// Windows start mid-structure: the fixture's unit 0 counts `(` minus `)`
/// from the window start, so the signed `relative_depth(()` fits it
/// exactly, and the clamped `depth(()` does not where a window opens after
/// an unmatched `)`.
#[test]
fn relative_depth_fits_a_counter_on_windows_that_start_mid_structure() {
    use luigi_test::hypothesis::library::Bracket;
    use luigi_test::hypothesis::Hypothesis;
    let model = luigi_test::model::Model::load(crate::fixture("lstm_ids.luigi.yaml")).unwrap();
    let corpus = luigi_test::Corpus::load(
        crate::fixture("corpus_windows.txt"),
        luigi_test::CorpusFormat::Windows(32),
    )
    .unwrap();
    let acts = model.record(&corpus, &["lstm"]).unwrap().remove(0);
    let unit: Vec<f64> = acts
        .values
        .column(0)
        .iter()
        .map(|x| f64::from(*x))
        .collect();
    let r = |h: &dyn Hypothesis| {
        let mut v = Vec::new();
        for s in corpus.sequences() {
            let mut out = Vec::new();
            h.evaluate(s.chars(), &mut out);
            v.extend(out.into_iter().map(f64::from));
        }
        let n = v.len() as f64;
        let (mu, mv) = (unit.iter().sum::<f64>() / n, v.iter().sum::<f64>() / n);
        let cov: f64 = unit.iter().zip(&v).map(|(a, b)| (a - mu) * (b - mv)).sum();
        let su: f64 = unit.iter().map(|a| (a - mu).powi(2)).sum::<f64>().sqrt();
        let sv: f64 = v.iter().map(|b| (b - mv).powi(2)).sum::<f64>().sqrt();
        cov / (su * sv)
    };
    let relative = r(&Bracket::relative_depth('(').unwrap());
    let clamped = r(&Bracket::depth('(').unwrap());
    assert!(relative > 0.99, "relative {relative}");
    assert!(
        relative > clamped + 0.01,
        "relative {relative}, clamped {clamped}"
    );
    // a list item and a builtin spell it the same way
    let set = HypothesisSet::from_yaml_str(
        "- relative_depth: '('\n",
        std::path::Path::new("t.yaml"),
        None,
    )
    .unwrap();
    assert_eq!(set.names(), ["relative_depth(()"]);
}

/// Known answers for the within-token control: the hand-set `a` and `;`
/// detectors (units 1 and 4) are flagged `token_explains` for the
/// hypotheses their character determines, the depth counters (units 0 and
/// 3) are not, and the table leads with what the token does not explain.
#[test]
fn character_detectors_are_flagged_token_explains_and_depth_counters_are_not() {
    use luigi_test::hypothesis::library::Levels;
    use luigi_test::inspect::RowOrder;
    use luigi_test::ranking::Flag;
    let model = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let corpus = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
    let mut set = HypothesisSet::new();
    set.add(Bracket::depth('(').unwrap()).unwrap();
    set.add(Bracket::depth('{').unwrap()).unwrap();
    set.add(CharIs::new('a')).unwrap();
    set.add(CharIs::new(';')).unwrap();
    set.add(Levels::new(Box::new(Bracket::depth('(').unwrap()), 3).unwrap())
        .unwrap();
    let result = inspect(&model, &corpus, "lstm", &set, &InspectOptions::default()).unwrap();
    let best = |h: &str| result.ranking.best_unit(h).unwrap().clone();
    for (h, unit) in [("char(a)", "1"), ("char(;)", "4")] {
        let p = best(h);
        assert_eq!(p.unit, unit, "{p:?}");
        assert!(p.score > 0.9, "{p:?}");
        assert_eq!(p.within_token, Some(0.0), "the character determines {h}");
        assert!(p.flags.contains(&Flag::TokenExplains), "{p:?}");
    }
    for (h, unit) in [
        ("depth(()", "0"),
        ("depth({)", "3"),
        ("levels(depth((),3)", "0"),
    ] {
        let p = best(h);
        assert_eq!(p.unit, unit, "{p:?}");
        let w = p.within_token.unwrap().abs();
        assert!(
            w > 0.7 && w > 0.5 * p.score,
            "{h}: within {w} vs {}",
            p.score
        );
        assert!(!p.flags.contains(&Flag::TokenExplains), "{p:?}");
    }
    let order: Vec<String> = result
        .best_per_hypothesis_by(RowOrder::Within)
        .iter()
        .map(|p| p.hypothesis.clone())
        .collect();
    assert_eq!(&order[3..], ["char(;)", "char(a)"], "{order:?}");
    let plain: Vec<String> = result
        .best_per_hypothesis_by(RowOrder::Plain)
        .iter()
        .map(|p| p.hypothesis.clone())
        .collect();
    assert_ne!(order, plain, "the detectors lead by plain score");
    let table = result.table(10);
    assert!(table.contains("within"), "{table}");
    assert!(
        table.contains("token_explains (2 of these rows): char(;), char(a)"),
        "{table}"
    );
}
