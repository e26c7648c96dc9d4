//! Free generation and unit forcing on the hand-wired `gen_ids` fixture:
//! unit 0 detects a digit with its forget gate closed and the head reads it
//! as "write a digit"; unit 1 detects `a` and nothing reads it.

use luigi_test::model::{Clamp, Force, GenerateOptions, Model, Request};

use super::fixture;

fn digit_rate(model: &Model, tokens: &[i64]) -> f64 {
    let v = &model.card().vocabulary;
    let digits = tokens
        .iter()
        .filter(|t| v[**t as usize].is_ascii_digit())
        .count();
    digits as f64 / tokens.len().max(1) as f64
}

fn run(model: &Model, layer: Option<&str>, forces: &[Force], clamp: Clamp) -> Vec<Vec<i64>> {
    let g = model.generator(layer).unwrap();
    let prompt: Vec<i64> = "abc xy"
        .chars()
        .map(|c| model.card().token_id(c).unwrap())
        .collect();
    let requests: Vec<Request> = (0..16)
        .map(|i| Request {
            prompt: &prompt,
            forces,
            stream: i,
        })
        .collect();
    let opts = GenerateOptions {
        steps: 40,
        clamp,
        seed: 7,
        ..GenerateOptions::default()
    };
    g.run(&requests, &opts)
        .unwrap()
        .into_iter()
        .map(|g| g.tokens)
        .collect()
}

fn rate(model: &Model, samples: &[Vec<i64>]) -> f64 {
    samples.iter().map(|s| digit_rate(model, s)).sum::<f64>() / samples.len() as f64
}

#[test]
fn forcing_a_unit_the_head_reads_makes_the_model_write_digits() {
    let m = Model::load(fixture("gen_ids.luigi.yaml")).unwrap();
    let free = run(&m, None, &[], Clamp::Layer);
    let unforced = run(&m, Some("lstm"), &[], Clamp::Layer);
    // a split model without forcing samples exactly what the whole model does
    assert_eq!(free, unforced);
    let on = [Force {
        unit: 0,
        value: 0.664,
    }];
    let forced = run(&m, Some("lstm"), &on, Clamp::Layer);
    let (r_free, r_on) = (rate(&m, &free), rate(&m, &forced));
    assert!(r_on > 0.9, "digit rate forced {r_on}");
    assert!(r_free < 0.5, "digit rate free {r_free}");
    // the same through the LSTM's own output Y ([time, 1, batch, 6])
    let via_y = run(&m, Some("lstm_y"), &on, Clamp::Layer);
    assert!(rate(&m, &via_y) > 0.9);
    // the unit does not pass through the state: a state-only clamp misses it
    let state_only = run(&m, Some("lstm"), &on, Clamp::StateOnly);
    assert_eq!(state_only, unforced);
    // a unit the head does not read changes nothing
    let a = [Force {
        unit: 1,
        value: 0.664,
    }];
    assert_eq!(run(&m, Some("lstm"), &a, Clamp::Layer), unforced);
}

#[test]
fn generation_is_deterministic_for_a_seed_and_refuses_bad_requests() {
    let m = Model::load(fixture("gen_ids.luigi.yaml")).unwrap();
    assert_eq!(
        run(&m, Some("lstm"), &[], Clamp::Layer),
        run(&m, Some("lstm"), &[], Clamp::Layer)
    );
    let g = m.generator(Some("lstm")).unwrap();
    let p = [3i64, 4];
    let bad = [Force {
        unit: 6,
        value: 1.0,
    }];
    let e = g
        .run(
            &[Request {
                prompt: &p,
                forces: &bad,
                stream: 0,
            }],
            &GenerateOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 6 units"), "{e}");
    // a head that also reads the embedding cannot be split at the layer
    let skip = Model::load(fixture("gen_skip.luigi.yaml")).unwrap();
    let e = skip.generator(Some("lstm")).unwrap_err().to_string();
    assert!(e.contains("read more than the layer"), "{e}");
    assert!(e.contains("`/skip/MatMul_output_0`"), "{e}");
    assert!(e.contains("`tokens`"), "{e}");
    // but it samples freely
    assert!(skip.generator(None).is_ok());
}

// ---- verification by intervention

use luigi_test::corpus::CorpusFormat;
use luigi_test::hypothesis::library::{CharIs, ClassIs};
use luigi_test::hypothesis::Hypothesis;
use luigi_test::verify::{intervene, InterveneOptions, Intervention, Verdict};
use luigi_test::Corpus;

fn check(h: &dyn Hypothesis, unit: usize, clamp: Clamp) -> Intervention {
    let m = Model::load(fixture("gen_ids.luigi.yaml")).unwrap();
    let corpus = Corpus::load(fixture("gen_corpus.txt"), CorpusFormat::Windows(64)).unwrap();
    let acts = m.record(&corpus, &["lstm"]).unwrap().remove(0);
    let opts = InterveneOptions {
        prompt_len: 12,
        clamp,
        ..InterveneOptions::default()
    };
    intervene(&m, "lstm", &corpus, &acts, h, None, unit, &opts).unwrap()
}

#[test]
fn intervention_confirms_the_unit_the_head_reads_and_not_the_one_it_ignores() {
    let digit = ClassIs::named("digit").unwrap();
    let v = check(&digit, 0, Clamp::Layer);
    assert_eq!(v.verdict, Verdict::Confirmed, "{v}");
    assert!(v.responses.on > 0.8 && v.responses.off < 0.1, "{v}");
    assert!(
        (v.on_value - 0.664).abs() < 0.01 && v.off_value.abs() < 0.01,
        "{v}"
    );
    assert!(v.controls_effect.iter().all(|c| c.effect < v.effect), "{v}");
    // what the unit does to the next token: digits rise
    assert!(
        v.top_tokens
            .up
            .iter()
            .take(4)
            .all(|t| t.token.chars().all(|c| c.is_ascii_digit())),
        "{v}"
    );
    assert!(v.kl.on > 1.0, "{v}");
    assert_eq!(v.samples.len(), 3);
    // the same unit held only in the recurrent state: nothing happens
    let s = check(&digit, 0, Clamp::StateOnly);
    assert_ne!(s.verdict, Verdict::Confirmed, "{s}");
    assert_eq!(s.effect, 0.0, "{s}");
    // a detector that nothing reads: holding it changes nothing
    let a = check(&CharIs::new('a'), 1, Clamp::Layer);
    assert_eq!(a.verdict, Verdict::Refuted, "{a}");
    assert_eq!(a.effect, 0.0, "{a}");
    assert_eq!(a.kl.on, 0.0, "{a}");
}

#[test]
fn intervention_is_deterministic_for_a_seed() {
    let digit = ClassIs::named("digit").unwrap();
    let a = serde_json::to_string(&check(&digit, 0, Clamp::Layer)).unwrap();
    let b = serde_json::to_string(&check(&digit, 0, Clamp::Layer)).unwrap();
    assert_eq!(a, b);
}

// ---- the `verify` key: intervene

use luigi_test::expect::{Assertion, Expectation, Origin, Threshold, Verify, VerifySettings};
use luigi_test::neural_assert;
use luigi_test::score::Metric;

/// The digit unit correlates with digits, and holding it makes the model
/// write them.
#[neural_assert(model = "../tests/fixtures/gen_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/gen_corpus.txt", window = 64,
                hypothesis = builtin("class", "digit"),
                expect = units([0]), metric = "pearson", min = 0.8,
                verify = intervene, samples = 16, steps = 32)]
fn digit_unit_makes_the_model_write_digits() {}

#[test]
fn verify_intervene_fails_a_unit_the_head_does_not_read() {
    let assertion = |unit: &str| {
        Assertion::new(fixture("gen_ids.luigi.yaml"))
            .origin(Origin::Unknown)
            .layer("lstm")
            .corpus(fixture("gen_corpus.txt"), Some(64))
            .hypothesis_builtin(&["char", "a"])
            .expect(Expectation::units(
                [unit],
                Threshold::new(Metric::Pearson, 0.5),
            ))
    };
    let plain = assertion("1").check().unwrap();
    assert!(plain.passed, "{}", plain.report);
    let settings = VerifySettings {
        samples: Some(16),
        ..VerifySettings::default()
    };
    let v = assertion("1")
        .verify_with(Verify::Intervene, settings.clone())
        .check()
        .unwrap();
    assert!(!v.passed, "{}", v.report);
    assert!(
        v.report
            .headline
            .contains("intervention verification says refuted"),
        "{}",
        v.report
    );
    let body = v.report.section("verification").unwrap();
    assert!(body.contains("on:") && body.contains("unforced:"), "{body}");
    // `response` names a hypothesis generated from the corpus
    let e = assertion("1")
        .verify_with(
            Verify::Intervene,
            VerifySettings {
                response: Some("class(digt)".into()),
                ..settings
            },
        )
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("class(digt)"), "{e}");
    // intervention settings without an intervention are a setup error
    let e = assertion("1")
        .verify_with(
            Verify::Perturb,
            VerifySettings {
                steps: Some(8),
                ..VerifySettings::default()
            },
        )
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("verify = intervene"), "{e}");
}

// ---- a failing assertion leaves a page

#[test]
fn a_failing_assertion_leaves_an_html_page_whose_path_is_in_the_report() {
    let o = Assertion::new(fixture("gen_ids.luigi.yaml"))
        .at(
            file!(),
            line!(),
            module_path!(),
            "page_of_a_failing_assertion",
        )
        .layer("lstm")
        .corpus(fixture("gen_corpus.txt"), Some(64))
        .hypothesis_builtin(&["char", "a"])
        .expect(Expectation::units(
            ["0"],
            Threshold::new(Metric::Pearson, 0.9),
        ))
        .check()
        .unwrap();
    assert!(!o.passed, "{}", o.report);
    let titles = o.report.titles();
    let at = titles.iter().position(|t| *t == "asserted").unwrap();
    assert_eq!(titles[at + 1], "page", "{titles:?}");
    let page = std::path::PathBuf::from(o.report.section("page").unwrap());
    assert!(page.is_file(), "{}", page.display());
    assert!(page.starts_with(luigi_test::expect::target_dir().unwrap().join("luigi")));
    let html = std::fs::read_to_string(&page).unwrap();
    // the asserted unit and its strongest competitor (unit 1 detects `a`)
    assert!(
        html.contains("p-unit-0") && html.contains("p-unit-1"),
        "{}",
        page.display()
    );
    assert!(o.report.to_string().contains(&page.display().to_string()));
}

// ---- a model without state (the bracket transformer, examples/dyck): each
// step re-runs the whole sequence; forcing holds the unit at every position
// from the last prompt token on.

fn dyck() -> Model {
    Model::load(super::root().join("examples/dyck/dyck.luigi.yaml")).unwrap()
}

fn dyck_run(
    model: &Model,
    layer: Option<&str>,
    forces: &[Force],
    opts: &GenerateOptions,
) -> Vec<luigi_test::model::Generated> {
    let g = model.generator(layer).unwrap();
    let prompt: Vec<i64> = "ab((c(d"
        .chars()
        .map(|c| model.card().token_id(c).unwrap())
        .collect();
    let requests: Vec<Request> = (0..8)
        .map(|i| Request {
            prompt: &prompt,
            forces,
            stream: i,
        })
        .collect();
    g.run(&requests, opts).unwrap()
}

#[test]
fn a_transformer_generates_from_the_whole_prefix_and_writes_legal_brackets() {
    let m = dyck();
    let opts = GenerateOptions {
        steps: 30,
        seed: 3,
        ..GenerateOptions::default()
    };
    let free = dyck_run(&m, None, &[], &opts);
    // The first step's distribution is the softmax of the logits a
    // recording of the prompt gives at its last position.
    let c = luigi_test::Corpus::from_strings("prompt", ["ab((c(d".to_string()]).unwrap();
    let logits = m.record(&c, &["logits"]).unwrap().remove(0);
    let last = logits.values.row(logits.n_rows() - 1);
    let max = last.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = last.iter().map(|x| f64::from(x - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    for (p, q) in free[0].first_probs.iter().zip(&e) {
        assert!((f64::from(*p) - q / sum).abs() < 1e-5, "{p} vs {}", q / sum);
    }
    // What it writes is legal: `)` never at depth 0, a line ends only at
    // depth 0 (the prompt leaves depth 3).
    let v = &m.card().vocabulary;
    for g in &free {
        let mut depth = 3i32;
        for t in &g.tokens {
            match v[*t as usize] {
                '(' => depth += 1,
                ')' => {
                    assert!(depth > 0, "`)` at depth 0");
                    depth -= 1;
                }
                '\n' => break,
                _ => {}
            }
        }
    }
    // The split model without forces samples what the whole model does.
    let split = dyck_run(&m, Some("block2"), &[], &opts);
    let tokens =
        |g: &[luigi_test::model::Generated]| g.iter().map(|x| x.tokens.clone()).collect::<Vec<_>>();
    assert_eq!(tokens(&free), tokens(&split));
}

#[test]
fn forcing_a_transformer_unit_changes_what_it_writes_only_while_held() {
    let m = dyck();
    let force = [Force {
        unit: 35,
        value: 40.0,
    }];
    let opts = GenerateOptions {
        steps: 20,
        seed: 3,
        ..GenerateOptions::default()
    };
    let unforced = dyck_run(&m, Some("block2"), &[], &opts);
    let forced = dyck_run(&m, Some("block2"), &force, &opts);
    assert_ne!(unforced[0].first_probs, forced[0].first_probs);
    // With no forced step, the forces change nothing.
    let none = GenerateOptions {
        force_steps: Some(0),
        ..opts
    };
    let held_never = dyck_run(&m, Some("block2"), &force, &none);
    assert_eq!(held_never[0].first_probs, unforced[0].first_probs);
    // A state-only clamp has no state to hold in a transformer.
    let g = m.generator(Some("block2")).unwrap();
    let prompt = [m.card().token_id('(').unwrap()];
    let e = g
        .run(
            &[Request {
                prompt: &prompt,
                forces: &force,
                stream: 0,
            }],
            &GenerateOptions {
                clamp: Clamp::StateOnly,
                ..GenerateOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("no state"), "{e}");
}
