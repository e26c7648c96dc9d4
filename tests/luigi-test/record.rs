//! Recording against independent references: the fixtures' expected
//! activations were computed by a numpy LSTM (tests/fixtures/make_fixtures.py),
//! not by ONNX Runtime.

use luigi_test::model::{Model, RecordOptions};
use luigi_test::npy;
use luigi_test::{Activations, Corpus, CorpusFormat};

use crate::fixture;

fn expected(name: &str) -> (Vec<usize>, Vec<f32>, Vec<i64>) {
    let (shape, data) = npy::read::<f32>(&fixture(&format!("{name}.expected.npy"))).unwrap();
    let (_, rows) = npy::read::<i64>(&fixture(&format!("{name}.expected_rows.npy"))).unwrap();
    (shape, data, rows)
}

fn max_diff(a: &Activations, want: &[f32]) -> f32 {
    assert_eq!(a.values.len(), want.len(), "row/unit count differs");
    a.values
        .iter()
        .zip(want)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn corpus() -> Corpus {
    Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap()
}

fn record_with_batch(
    m: &Model,
    c: &Corpus,
    layer: &str,
    batch: usize,
    chunk: usize,
) -> Activations {
    let mut all: Option<Activations> = None;
    let opts = RecordOptions {
        batch_size: batch,
        chunk_timesteps: chunk,
        ..RecordOptions::default()
    };
    let mut last_end = 0;
    m.record_with(c, &[layer], &opts, |ch| {
        assert_eq!(
            ch.sequences.start, last_end,
            "chunks must be contiguous in corpus order"
        );
        last_end = ch.sequences.end;
        let a = ch.layers.into_iter().next().unwrap();
        match &mut all {
            None => all = Some(a),
            Some(acc) => acc.append(&a).unwrap(),
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(last_end, c.len());
    all.unwrap()
}

#[test]
fn ids_model_matches_numpy_reference_for_any_batch_and_chunk_size() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let (shape, want, rows) = expected("lstm_ids");
    for (batch, chunk) in [(1, 1), (3, 50), (32, 65_536), (500, 7)] {
        let a = record_with_batch(&m, &c, "lstm", batch, chunk);
        assert_eq!(a.values.dim(), (shape[0], shape[1]));
        let d = max_diff(&a, &want);
        assert!(d <= 1e-5, "batch {batch} chunk {chunk}: max abs diff {d}");
        for (i, r) in rows.chunks(2).enumerate() {
            assert_eq!(i64::from(a.rows.sequence[i]), r[0]);
            assert_eq!(i64::from(a.rows.position[i]), r[1]);
        }
    }
}

#[test]
fn batch_major_alias_of_the_same_values_is_found_by_its_axes() {
    // `hidden` is the transposed [batch, time, 8] copy of the LSTM's Y.
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let both = m.record(&c, &["lstm", "hidden"]).unwrap();
    assert_eq!(both[0].values, both[1].values);
    assert_eq!(
        both[0].units,
        (0..8).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(both[1].layer, "hidden");
}

#[test]
fn one_hot_time_major_model_matches_numpy_reference() {
    let m = Model::load(fixture("onehot_tm.luigi.yaml")).unwrap();
    let (_, want, _) = expected("onehot_tm");
    let a = m.record(&corpus(), &["lstm"]).unwrap().remove(0);
    let d = max_diff(&a, &want);
    assert!(d <= 1e-5, "max abs diff {d}");
    // The one-hot input buffer is kept between batches and chunks, growing
    // and shrinking with the batch's shape: no one of an earlier batch may
    // survive into a later one.
    for (batch, chunk) in [(1, 1), (2, 9), (3, 50), (5, 7)] {
        let a = record_with_batch(&m, &corpus(), "lstm", batch, chunk);
        let d = max_diff(&a, &want);
        assert!(d <= 1e-5, "batch {batch} chunk {chunk}: max abs diff {d}");
    }
}

#[test]
fn bidirectional_units_are_named_by_direction_and_padding_never_leaks() {
    let m = Model::load(fixture("bilstm.luigi.yaml")).unwrap();
    let (_, want, _) = expected("bilstm");
    let a = record_with_batch(&m, &corpus(), "lstm", 16, 65_536);
    assert_eq!(a.units[0], "fwd.0");
    assert_eq!(a.units[8], "bwd.0");
    assert_eq!(a.units.len(), 16);
    // The reference runs each sequence alone: any padding reaching the
    // backward direction (its unit bwd.2 counts characters to the end) shows.
    let d = max_diff(&a, &want);
    assert!(d <= 1e-5, "max abs diff {d}");
}

#[test]
fn stepwise_run_reproduces_full_sequence_activations() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let full = m.record(&c, &["lstm"]).unwrap().remove(0);
    let mut stepper = m.stepper(&["lstm"]).unwrap();
    let mut row = 0;
    let mut worst = 0f32;
    for s in c.sequences() {
        stepper.reset().unwrap();
        let a = stepper.run(s.chars(), |_, _| {}).unwrap().remove(0);
        for r in 0..a.n_rows() {
            for u in 0..a.n_units() {
                worst = worst.max((a.values[[r, u]] - full.values[[row + r, u]]).abs());
            }
        }
        row += a.n_rows();
    }
    assert_eq!(row, full.n_rows());
    assert!(worst <= 1e-5, "stepwise vs full: max abs diff {worst}");
}

#[test]
fn hook_can_force_a_unit_between_steps() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let mut stepper = m.stepper(&["lstm"]).unwrap();
    let seq: Vec<char> = "((a".chars().collect();
    let plain = stepper.run(&seq, |_, _| {}).unwrap().remove(0);
    stepper.reset().unwrap();
    // Unit 0 counts '(' depth in its cell: zeroing the cell (state 1 = c)
    // before the last step must change unit 0 there, and nothing before it.
    let forced = stepper
        .run(&seq, |t, state| {
            if t == 2 {
                state[1].values[0] = 0.0;
            }
        })
        .unwrap()
        .remove(0);
    assert_eq!(plain.values.row(0), forced.values.row(0));
    assert_eq!(plain.values.row(1), forced.values.row(1));
    assert!((plain.values[[2, 0]] - forced.values[[2, 0]]).abs() > 0.05);
}

#[test]
fn several_layers_in_one_pass_and_in_memory_equals_streamed() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::load(fixture("corpus_windows.txt"), CorpusFormat::Windows(40)).unwrap();
    let mem = m.record(&c, &["lstm", "hidden"]).unwrap();
    let streamed = record_with_batch(&m, &c, "lstm", 4, 30);
    assert_eq!(mem[0].values, streamed.values);
    assert_eq!(mem[0].rows, streamed.rows);
    assert_eq!(mem[1].n_rows(), c.timesteps());
}

#[test]
fn lent_chunks_reuse_buffers_without_leaking_rows_between_chunks() {
    // `record_each` records every chunk into the previous chunk's buffers.
    // Chunks of different sizes (lines of different lengths, small chunk
    // targets) must still give exactly the numpy reference, for both layers
    // of a two-layer request, with the right row index.
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let (shape, want, rows) = expected("lstm_ids");
    for (batch, chunk) in [(1, 1), (3, 50), (5, 7), (32, 65_536)] {
        let opts = RecordOptions {
            batch_size: batch,
            chunk_timesteps: chunk,
            ..RecordOptions::default()
        };
        let mut got: Vec<Option<Activations>> = vec![None, None];
        let mut next_seq = 0;
        m.record_each(&c, &["lstm", "hidden"], &opts, |ch| {
            assert_eq!(ch.sequences.start, next_seq);
            next_seq = ch.sequences.end;
            for (slot, a) in got.iter_mut().zip(&ch.layers) {
                assert_eq!(a.rows.len(), a.n_rows());
                match slot {
                    None => *slot = Some(a.clone()),
                    Some(acc) => acc.append(a)?,
                }
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(next_seq, c.len());
        for a in got.into_iter().map(Option::unwrap) {
            assert_eq!(a.values.dim(), (shape[0], shape[1]));
            let d = max_diff(&a, &want);
            assert!(
                d <= 1e-5,
                "{} batch {batch} chunk {chunk}: max abs diff {d}",
                a.layer
            );
            for (i, r) in rows.chunks(2).enumerate() {
                assert_eq!(i64::from(a.rows.sequence[i]), r[0]);
                assert_eq!(i64::from(a.rows.position[i]), r[1]);
            }
        }
    }
}

#[test]
fn one_large_batch_copied_by_several_threads_matches_batches_run_by_parallel_workers() {
    // One batch of all 71 windows of 256 steps × 128 units is over 2^20
    // floats: ONNX Runtime's threads run it and several threads copy it into
    // the chunk. At batch 1 the 71 batches run on parallel workers, each on
    // a single-threaded session. Both must put every row in the same place.
    let m = Model::load(crate::root().join("examples/cmodel/cmodel.luigi.yaml")).unwrap();
    let text = std::fs::read_to_string(crate::root().join("examples/cmodel/eval.c")).unwrap();
    let cut: String = text.chars().take(256 * 70 + 77).collect();
    let c = Corpus::from_text_windows("eval.c", &cut, 256).unwrap();
    let whole = record_with_batch(&m, &c, "lstm", 128, 65_536);
    let one = record_with_batch(&m, &c, "lstm", 1, 65_536);
    assert_eq!(whole.rows, one.rows);
    let d = whole
        .values
        .iter()
        .zip(one.values.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(d <= 1e-4, "one batch vs batch 1: max abs diff {d}");
}

#[test]
fn recording_is_identical_on_any_number_of_threads_and_progress_only_grows() {
    // Batches of 2 in chunks of about 40 rows: several batches per chunk,
    // run in parallel by as many workers as the thread pool has.
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let opts = RecordOptions {
            batch_size: 2,
            chunk_timesteps: 40,
            progress: Some(std::sync::Arc::new(move |done, total| {
                log.lock().unwrap().push((done, total));
            })),
            ..RecordOptions::default()
        };
        let mut all: Option<Activations> = None;
        pool.install(|| {
            m.record_with(&c, &["lstm"], &opts, |ch| {
                let a = ch.layers.into_iter().next().unwrap();
                match &mut all {
                    None => all = Some(a),
                    Some(acc) => acc.append(&a)?,
                }
                Ok(())
            })
        })
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        (all.unwrap(), seen)
    };
    let (one, progress) = run(1);
    assert!(
        progress.windows(2).all(|w| w[0].0 < w[1].0),
        "progress went back or stood still: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&(c.timesteps(), c.timesteps())));
    for threads in [2, 4] {
        let (many, progress) = run(threads);
        assert_eq!(many.rows, one.rows, "{threads} threads");
        assert!(
            many.values
                .iter()
                .zip(one.values.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{threads} threads: values differ from one thread's"
        );
        assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{progress:?}");
        assert_eq!(progress.last(), Some(&(c.timesteps(), c.timesteps())));
    }
}

/// Records `layer` with the given piece length and chunk size, checking that
/// chunks (whole or part sequences) follow one another in corpus order.
fn record_in_pieces(
    m: &Model,
    c: &Corpus,
    layer: &str,
    segment: usize,
    chunk: usize,
    split: bool,
) -> (Activations, usize) {
    let opts = RecordOptions {
        chunk_timesteps: chunk,
        segment_steps: segment,
        split_sequences: split,
        ..RecordOptions::default()
    };
    let mut all: Option<Activations> = None;
    let mut parts = 0;
    let (mut next_seq, mut next_step) = (0usize, 0usize);
    m.record_with(c, &[layer], &opts, |ch| {
        assert_eq!(ch.sequences.start, next_seq, "chunks out of order");
        match &ch.part {
            Some(steps) => {
                parts += 1;
                assert_eq!(ch.sequences.len(), 1);
                assert_eq!(steps.start, next_step, "parts of a sequence out of order");
                assert!(steps.len() <= chunk.max(segment));
                next_step = steps.end;
                if next_step == c.sequences()[ch.sequences.start].len() {
                    next_seq += 1;
                    next_step = 0;
                }
            }
            None => {
                assert_eq!(next_step, 0, "a sequence was left unfinished");
                next_seq = ch.sequences.end;
            }
        }
        let a = ch.layers.into_iter().next().unwrap();
        match &mut all {
            None => all = Some(a),
            Some(acc) => acc.append(&a).unwrap(),
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(next_seq, c.len());
    (all.unwrap(), parts)
}

/// Three sequences of 300 to 700 characters from the fixture corpus's
/// alphabet, one short one between them.
fn long_corpus() -> Corpus {
    let text = std::fs::read_to_string(fixture("corpus_windows.txt")).unwrap();
    let long = |n: usize| text.chars().cycle().take(n).collect::<String>();
    Corpus::from_strings("long", [long(300), "(a;".to_string(), long(700), long(451)]).unwrap()
}

#[test]
fn long_sequences_run_in_pieces_with_the_state_carried_equal_one_run() {
    let c = long_corpus();
    for (card, layer) in [
        ("lstm_ids.luigi.yaml", "lstm"),
        ("gru_ids.luigi.yaml", "gru"),
    ] {
        let m = Model::load(fixture(card)).unwrap();
        let (whole, parts) = record_in_pieces(&m, &c, layer, 1 << 20, 65_536, false);
        assert_eq!(parts, 0);
        for (segment, chunk, split) in [
            (1, 65_536, false),
            (7, 65_536, false),
            (64, 5, true),
            (13, 100, true),
        ] {
            let (pieces, parts) = record_in_pieces(&m, &c, layer, segment, chunk, split);
            assert_eq!(
                pieces.values, whole.values,
                "{card}: pieces of {segment} steps differ from one run"
            );
            assert_eq!(pieces.rows, whole.rows, "{card}: row index differs");
            // split: every long sequence comes in several parts
            assert_eq!(parts > 0, split, "{card} segment {segment} split {split}");
        }
    }
}

#[test]
fn a_model_without_state_runs_long_sequences_whole() {
    // The bidirectional fixture is not causal: pieces would change its
    // backward direction, so the sequence runs whole whatever the options.
    let c = long_corpus();
    let m = Model::load(fixture("bilstm.luigi.yaml")).unwrap();
    let (whole, _) = record_in_pieces(&m, &c, "lstm", 1 << 20, 65_536, false);
    let (small, parts) = record_in_pieces(&m, &c, "lstm", 7, 5, true);
    assert_eq!(parts, 0);
    assert_eq!(small.values, whole.values);
}

#[test]
fn byte_bounds_shorten_chunks_and_batches_without_changing_a_value() {
    // 8 units of 4 bytes: a bound of 1,600 bytes per chunk is 50 rows, and
    // of 320 bytes per call one sequence of at most 10 steps per batch.
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = corpus();
    let plain = m.record(&c, &["lstm"]).unwrap().remove(0);
    let opts = RecordOptions {
        max_chunk_bytes: 1_600,
        max_batch_bytes: 320,
        ..RecordOptions::default()
    };
    let mut rows = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    m.record_with(&c, &["lstm"], &opts, |ch| {
        let a = &ch.layers[0];
        // A chunk ends at the first sequence boundary at or past 50 rows.
        let last = c.sequences()[ch.sequences.end - 1].len();
        assert!(a.n_rows() < 50 + last, "a chunk of {} rows", a.n_rows());
        rows.push(a.n_rows());
        values.extend(a.values.iter());
        Ok(())
    })
    .unwrap();
    assert!(rows.len() > 1, "{rows:?}");
    let want: Vec<f32> = plain.values.iter().copied().collect();
    assert_eq!(values.len(), want.len());
    let worst = values
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= 1e-6, "max abs diff {worst}");
}
