//! Checks against numbers computed by scikit-learn, scipy and numpy on the
//! committed data in `tests/data/probe/reference.json` (made by
//! `tests/data/probe/make_reference.py`).

use ndarray::Array2;
use serde_json::Value;

use super::data::Split;
use super::labels::Labels;
use super::logistic::{FitOptions, Model};
use super::{project, scores};
use crate::activations::RowIndex;

fn reference() -> Value {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/probe/reference.json"
    ));
    serde_json::from_str(text).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(f64s).collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

#[test]
fn metrics_match_scikit_learn() {
    for case in reference()["metrics"].as_array().unwrap() {
        let s = scores(&usizes(&case["truth"]), &usizes(&case["predicted"])).unwrap();
        for (got, key) in [
            (s.accuracy, "accuracy"),
            (s.balanced_accuracy, "balanced_accuracy"),
            (s.macro_f1, "macro_f1"),
        ] {
            let want = case[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-12,
                "{key}: {got} vs scikit-learn {want}"
            );
        }
    }
}

#[test]
fn fitted_probe_matches_scikit_learn_and_the_exact_optimum() {
    for case in reference()["probes"].as_array().unwrap() {
        let classes = case["classes"].as_u64().unwrap() as usize;
        let x = matrix(&case["x"]).mapv(|v| v as f32);
        let y = usizes(&case["y"]);
        let n = y.len();
        let rows = RowIndex {
            sequence: usizes(&case["sequence"])
                .iter()
                .map(|&s| s as u32)
                .collect(),
            position: vec![0; n],
            token: vec![0; n],
        };
        let names = (0..classes).map(|c| c.to_string()).collect();
        let labels = Labels::from_classes(y.clone(), names).unwrap();
        let problem = super::data::Problem::new("reference", x.view(), &rows, &labels).unwrap();
        let train = usizes(&case["train"]);
        let test = usizes(&case["test"]);
        let units: Vec<usize> = (0..x.ncols()).collect();
        let split = Split::dense(&problem, &units, &train, &test);
        let y_train = problem.labels_of(&train);
        let y_test = problem.labels_of(&test);
        let accuracy = |m: &Model| {
            let p = m.predict(split.x_test.view());
            p.iter().zip(&y_test).filter(|(a, b)| a == b).count() as f64 / y_test.len() as f64
        };

        // Default settings: the same held-out accuracy as scikit-learn's
        // default LogisticRegression, within one test row.
        let defaults = FitOptions {
            alpha: 1.0,
            tolerance: 1e-4,
            max_iterations: 100,
        };
        let (model, info) = Model::fit(split.x_train.view(), &y_train, defaults, None).unwrap();
        assert!(info.converged, "{info:?}");
        let sk = case["sklearn_accuracy"].as_f64().unwrap();
        let one_row = 1.0 / y_test.len() as f64;
        assert!(
            (accuracy(&model) - sk).abs() <= one_row + 1e-12,
            "{} vs {sk}",
            accuracy(&model)
        );

        // Tight settings: the solver reaches the exact minimiser of the
        // objective (computed independently with scipy).
        let tight = FitOptions {
            tolerance: 1e-10,
            max_iterations: 2000,
            ..defaults
        };
        let (model, _) = Model::fit(split.x_train.view(), &y_train, tight, None).unwrap();
        let exact = &case["penalised_intercept"];
        let want_b = f64s(&exact["intercept"]);
        match &model {
            Model::Binary {
                weights,
                intercept,
                positive,
                ..
            } => {
                // scipy's score is for class 1.
                let want_w = f64s(&exact["weights"]);
                let sign = if *positive == 1 { 1.0 } else { -1.0 };
                for (j, w) in weights.iter().enumerate() {
                    assert!(
                        (sign * w - want_w[j]).abs() < 1e-6,
                        "w[{j}] {w} vs {}",
                        want_w[j]
                    );
                }
                assert!((sign * intercept - want_b[0]).abs() < 1e-6);
            }
            Model::Multi {
                weights,
                intercept,
                classes: seen,
            } => {
                assert_eq!(seen, &(0..classes).collect::<Vec<_>>());
                let want_w = matrix(&exact["weights"]);
                // Softmax weights are defined up to a shift shared by all
                // classes, which the penalty fixes; compare directly.
                for ((j, k), w) in weights.indexed_iter() {
                    assert!(
                        (w - want_w[[j, k]]).abs() < 1e-6,
                        "w[{j},{k}] {w} vs {}",
                        want_w[[j, k]]
                    );
                }
                for (k, b) in intercept.iter().enumerate() {
                    assert!((b - want_b[k]).abs() < 1e-6);
                }
            }
            Model::Constant { .. } => panic!("expected a fitted model"),
        }
        let exact_acc = exact["accuracy"].as_f64().unwrap();
        assert!((accuracy(&model) - exact_acc).abs() < 1e-12);
    }
}

#[test]
fn projection_matches_numpy_svd_up_to_sign() {
    let case = &reference()["pca"];
    let x = matrix(&case["x"]).mapv(|v| v as f32);
    let y = usizes(&case["y"]);
    let labels = Labels::from_classes(y, vec!["neg".into(), "pos".into()]).unwrap();
    let p = project(x.view(), &labels).unwrap();
    assert!(p.converged);
    let var = f64s(&case["explained_variance"]);
    let ratio = f64s(&case["explained_variance_ratio"]);
    for k in 0..2 {
        assert!(
            (p.explained_variance[k] - var[k]).abs() < 1e-9 * var[k],
            "{k}"
        );
        assert!((p.explained_variance_ratio[k] - ratio[k]).abs() < 1e-10);
    }
    let want = matrix(&case["components"]);
    let loadings = matrix(&case["loadings"]);
    for k in 0..2 {
        let sign = if p.loadings.column(k).dot(&loadings.column(k)) < 0.0 {
            -1.0
        } else {
            1.0
        };
        for j in 0..loadings.nrows() {
            assert!((sign * p.loadings[[j, k]] - loadings[[j, k]]).abs() < 1e-8);
        }
        for i in 0..want.nrows() {
            let got = sign * f64::from(p.components[[i, k]]);
            assert!(
                (got - want[[i, k]]).abs() < 1e-5 * (1.0 + want[[i, k]].abs()),
                "row {i} comp {k}"
            );
        }
    }
}
