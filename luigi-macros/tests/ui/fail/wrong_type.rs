use luigi_macros::neural_assert;

#[neural_assert(model = "m.luigi.yaml", layer = lstm, corpus = "eval.c", window = 25.6,
                kind = binary, expect = "some_unit", metric = pearson, min = "0.5")]
fn inside(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

fn main() {}
