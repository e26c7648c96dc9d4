"""scikit-learn side of `cargo bench -p luigi-test --bench probe`.

Reads the data the Rust bench wrote to DIR (same rows, same held-out split),
fits StandardScaler + LogisticRegression (lbfgs, C=1, tol=1e-4, max_iter=100)
and prints one JSON object: per dataset, best-of-REPS wall and CPU seconds
with one BLAS thread and with the default thread count, held-out accuracy,
and L-BFGS iterations; the held-out accuracy at the optimum (tol=1e-8, not
timed); plus numpy's X@w and X.T@r on the data matrix.
"""

import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


def fit_once(xtr, ytr, xte, yte):
    wall, cpu = time.perf_counter(), time.process_time()
    scaler = StandardScaler()
    a = scaler.fit_transform(xtr)
    b = scaler.transform(xte)
    model = LogisticRegression(C=1.0, tol=1e-4, max_iter=100).fit(a, ytr)
    acc = float((model.predict(b) == yte).mean())
    return time.perf_counter() - wall, time.process_time() - cpu, acc, int(model.n_iter_[0])


def best_of(reps, *args):
    runs = [fit_once(*args) for _ in range(reps)]
    return {
        "wall_s": min(r[0] for r in runs),
        "cpu_s": min(r[1] for r in runs),
        "accuracy": runs[0][2],
        "iterations": runs[0][3],
    }


def main():
    root = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    meta = json.load(open(f"{root}/meta.json"))
    n, d = meta["rows"], meta["units"]
    out = {"datasets": {}}
    for name in meta["datasets"]:
        x = np.fromfile(f"{root}/x_{name}.f32", dtype="<f4").reshape(n, d).astype(np.float64)
        y = np.fromfile(f"{root}/y_{name}.i64", dtype="<i8")
        test = np.fromfile(f"{root}/test_{name}.i64", dtype="<i8")
        mask = np.zeros(n, dtype=bool)
        mask[test] = True
        args = (x[~mask], y[~mask], x[mask], y[mask])
        with threadpool_limits(limits=1):
            one = best_of(reps, *args)
        default = best_of(reps, *args)
        # Where the optimiser is heading: held-out accuracy at tol=1e-8 (not timed).
        a = StandardScaler().fit(args[0])
        tight = LogisticRegression(C=1.0, tol=1e-8, max_iter=1000).fit(a.transform(args[0]), args[1])
        optimum = float((tight.predict(a.transform(args[2])) == args[3]).mean())
        out["datasets"][name] = {"one_thread": one, "default_threads": default, "optimum_accuracy": optimum}
    # The two products one L-BFGS evaluation needs, on the first training matrix.
    x = np.fromfile(f"{root}/x_{meta['datasets'][0]}.f32", dtype="<f4").reshape(n, d).astype(np.float64)
    w, r = np.full(d, 0.01), np.full(n, 0.5)
    with threadpool_limits(limits=1):
        t = time.process_time()
        for _ in range(50):
            x @ w
        fwd = (time.process_time() - t) / 50
        t = time.process_time()
        for _ in range(50):
            x.T @ r
        bwd = (time.process_time() - t) / 50
    out["kernels_ms"] = {"x_w": fwd * 1e3, "xt_r": bwd * 1e3}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
