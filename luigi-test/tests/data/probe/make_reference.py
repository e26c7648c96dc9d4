"""Reference numbers for Luigi's probe module (run by hand, never by cargo test).

    python3 luigi-test/tests/data/probe/make_reference.py

writes reference.json next to this script:
- "metrics": label/prediction pairs with scikit-learn's accuracy_score,
  balanced_accuracy_score and f1_score(average="macro");
- "probes": small layers with an explicit train/test split by sequence, the
  held-out accuracy of StandardScaler + LogisticRegression (C=1, lbfgs), and
  the exact minimiser (scipy L-BFGS-B at gtol 1e-12) of the objective Luigi
  hands to linfa-logistic (same as scikit-learn's, plus 0.5*b^2 on the
  intercept);
- "pca": a layer with its first two principal components from numpy's SVD.
Values are rounded to float32 before use so Rust reads the same numbers.
"""

import json
import os
import warnings

import numpy as np
import scipy.optimize
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))


def metrics_cases(rng):
    cases = []
    # Binary, imbalanced.
    t = (rng.random(200) < 0.3).astype(int)
    p = np.where(rng.random(200) < 0.8, t, 1 - t)
    cases.append((t, p))
    # Four classes; class 3 only ever predicted, never true.
    t = rng.integers(0, 3, 150)
    p = np.where(rng.random(150) < 0.6, t, rng.integers(0, 4, 150))
    cases.append((t, p))
    # Five classes, class 4 true but never predicted.
    t = rng.integers(0, 5, 120)
    p = np.where(t == 4, rng.integers(0, 4, 120), np.where(rng.random(120) < 0.7, t, rng.integers(0, 4, 120)))
    cases.append((t, p))
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t, p in cases:
            out.append({
                "truth": t.tolist(),
                "predicted": p.tolist(),
                "accuracy": accuracy_score(t, p),
                "balanced_accuracy": balanced_accuracy_score(t, p),
                "macro_f1": f1_score(t, p, average="macro"),
            })
    return out


def layer(rng, n_seq, seq_len, units, classes):
    n = n_seq * seq_len
    latent = rng.normal(size=(n, 3))
    mix = rng.normal(size=(3, units))
    x = (latent @ mix + 1.5 * rng.normal(size=(n, units))) * rng.uniform(0.5, 3.0, units) + rng.normal(size=units)
    x = x.astype(np.float32)
    scores = latent @ rng.normal(size=(3, classes)) + 1.0 * rng.normal(size=(n, classes))
    y = scores.argmax(axis=1)
    seq = np.repeat(np.arange(n_seq), seq_len)
    return x, y, seq


def penalised_intercept_fit(a, y, classes):
    """Minimiser of sum(log-loss) + 0.5*(|W|^2 + |b|^2) (Luigi's objective)."""
    n, d = a.shape
    if classes == 2:
        s = np.where(y == 1, 1.0, -1.0)

        def f(theta):
            w, b = theta[:d], theta[d]
            z = s * (a @ w + b)
            loss = np.logaddexp(0, -z).sum() + 0.5 * (w @ w + b * b)
            g = -s * scipy.special.expit(-z)
            return loss, np.concatenate([a.T @ g + w, [g.sum() + b]])

        res = scipy.optimize.minimize(f, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                                      options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000})
        return res.x[:d].tolist(), [float(res.x[d])]
    onehot = np.eye(classes)[y]

    def f(theta):
        W = theta[: d * classes].reshape(d, classes)
        b = theta[d * classes:]
        z = a @ W + b
        lse = scipy.special.logsumexp(z, axis=1)
        loss = (lse - (z * onehot).sum(axis=1)).sum() + 0.5 * ((W * W).sum() + b @ b)
        r = np.exp(z - lse[:, None]) - onehot
        return loss, np.concatenate([(a.T @ r + W).ravel(), r.sum(axis=0) + b])

    res = scipy.optimize.minimize(f, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000})
    W = res.x[: d * classes].reshape(d, classes)
    return W.tolist(), res.x[d * classes:].tolist()


def probe_cases(rng):
    out = []
    for classes, n_seq, seq_len, units in [(2, 40, 15, 6), (3, 40, 15, 6)]:
        x, y, seq = layer(rng, n_seq, seq_len, units, classes)
        test_seqs = rng.permutation(n_seq)[: n_seq // 5]
        test_mask = np.isin(seq, test_seqs)
        train, test = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
        xd = x.astype(np.float64)
        scaler = StandardScaler().fit(xd[train])
        a, b = scaler.transform(xd[train]), scaler.transform(xd[test])
        default = LogisticRegression().fit(a, y[train])
        exact = LogisticRegression(tol=1e-12, max_iter=100000).fit(a, y[train])
        W, bias = penalised_intercept_fit(a, y[train], classes)
        if classes == 2:
            Wm, bm = np.array(W)[:, None], np.array(bias)
        else:
            Wm, bm = np.array(W), np.array(bias)
        z = b @ Wm + bm
        pen_pred = (z[:, 0] >= 0).astype(int) if classes == 2 else z.argmax(axis=1)
        out.append({
            "classes": classes,
            "units": units,
            "x": x.tolist(),
            "y": y.tolist(),
            "sequence": seq.tolist(),
            "train": train.tolist(),
            "test": test.tolist(),
            "sklearn_accuracy": float((default.predict(b) == y[test]).mean()),
            "sklearn_exact_accuracy": float((exact.predict(b) == y[test]).mean()),
            "penalised_intercept": {
                "weights": W,
                "intercept": bias,
                "accuracy": float((pen_pred == y[test]).mean()),
            },
        })
    return out


def pca_case(rng):
    n, units = 300, 8
    latent = rng.normal(size=(n, 2)) * np.array([3.0, 1.5])
    x = latent @ rng.normal(size=(2, units)) + 0.5 * rng.normal(size=(n, units))
    x = (x * rng.uniform(0.5, 4.0, units) + rng.normal(size=units)).astype(np.float32)
    y = (latent[:, 0] > 0).astype(int)
    z = x.astype(np.float64)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    var = s ** 2 / (n - 1)
    return {
        "x": x.tolist(),
        "y": y.tolist(),
        "components": (u[:, :2] * s[:2]).tolist(),
        "loadings": vt[:2].T.tolist(),
        "explained_variance": var[:2].tolist(),
        "explained_variance_ratio": (var[:2] / var.sum()).tolist(),
    }


def main():
    rng = np.random.default_rng(20240611)
    warnings.simplefilter("ignore", ConvergenceWarning)
    ref = {
        "generator": "make_reference.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
        "metrics": metrics_cases(rng),
        "probes": probe_cases(rng),
        "pca": pca_case(rng),
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


if __name__ == "__main__":
    main()
