#!/usr/bin/env python3
"""Reference numbers for Luigi's score engine (luigi-test/src/score).

Writes reference.json next to this script: a small deterministic dataset
(sequences of unequal length, units including a constant one, one whose mean
is 10^4 times its spread and one with many tied zeros; binary, numeric and
categorical hypotheses, one that never fires and one equal to the position)
together with what numpy / scipy / scikit-learn compute on exactly those
float32 values:

  pearson   scipy.stats.pearsonr
  spearman  scipy.stats.spearmanr
  auc       sklearn.metrics.roc_auc_score (binary hypotheses)
  eta       correlation ratio sqrt(SS_between / SS_total) (categorical)
  mi        sklearn.metrics.mutual_info_score on the engine's bins
  nmi       Miller-Madow corrected MI / min corrected entropy (the engine's rule)
  lag1      lag-1 autocorrelation within sequences about the global mean
  n_eff     n (1 - rho_x rho_y) / (1 + rho_x rho_y), clipped to [1, n]
  p         t-test on r with n_eff - 2 df (scipy.stats.t), F-test on eta
            with (g - 1, n_eff - g) df (scipy.stats.f)
  q         scipy.stats.false_discovery_control (Benjamini-Hochberg)

Bins (the engine's documented rule): edges are sorted[(j * n) // B] for
j = 1..B-1 over all rows (the data is smaller than the calibration sample),
bin = numpy.searchsorted(edges, x, side="left").

Constant units/hypotheses get the engine's defined values: r = rho = eta =
MI = 0, AUC = 0.5, p = 1.

Run:  python3 make_reference.py   (numpy, scipy, scikit-learn)
"""
import json
import os

import numpy as np
from scipy import stats
from sklearn.metrics import mutual_info_score, roc_auc_score

SEED = 20240607
BINS = 4
HYP_BINS = 4


def make_data(rng):
    lengths = [40, 40, 40, 40, 55, 55, 30, 30, 30, 62]
    seq_ids, pos = [], []
    for s, l in enumerate(lengths):
        seq_ids += [s] * l
        pos += list(range(l))
    t = len(seq_ids)
    seq_ids = np.array(seq_ids, dtype=np.uint32)
    pos = np.array(pos, dtype=np.float64)

    bracket = np.zeros(t)
    depth = np.zeros(t)
    state = np.zeros(t, dtype=np.int64)
    for s, l in enumerate(lengths):
        idx = np.nonzero(seq_ids == s)[0]
        b, d, st = 0, 0, 0
        for i in idx:
            if rng.random() < 0.2:
                b = 1 - b
            d = max(0, d + (1 if rng.random() < 0.55 else -1))
            if rng.random() < 0.15:
                st = int(rng.integers(0, 3))
            bracket[i], depth[i], state[i] = b, d, st
    never = np.zeros(t)

    noise = lambda scale: rng.normal(0.0, scale, t)
    units = {
        "detector": 2.0 * bracket + noise(0.7),
        "counter": 0.5 * depth + noise(0.8),
        "const": np.full(t, 0.25),
        "offset": 1.0e4 + 0.3 * depth + noise(0.8),
        "relu": np.maximum(0.0, (state == 2) * 1.5 + noise(0.6) - 0.4),
        "noise": noise(1.0),
    }
    acts = np.stack([units[k] for k in units], axis=1).astype(np.float32)
    hyps = np.stack([bracket, depth, state, pos, never], axis=1).astype(np.float32)
    hyp_meta = [
        ("bracket", "binary"),
        ("depth", "numeric"),
        ("state", {"categorical": {"states": ["a", "b", "c"]}}),
        ("position", "numeric"),
        ("never", "binary"),
    ]
    return seq_ids, list(units), acts, hyp_meta, hyps


def edges_of(col, bins):
    v = np.sort(col)
    n = len(v)
    return np.array([v[(j * n) // bins] for j in range(1, bins)])


def lag1(cols, seq_ids):
    """Lag-1 autocorrelation of a set of columns (one-hot for categorical)."""
    mu = cols.mean(axis=0)
    same = seq_ids[1:] == seq_ids[:-1]
    a = cols[:-1][same] - mu
    b = cols[1:][same] - mu
    auto = (a * b).sum(axis=0).sum() / same.sum()
    var = ((cols - mu) ** 2).mean(axis=0).sum()
    return 0.0 if var == 0 else float(np.clip(auto / var, -1, 1))


def mm_entropy(counts, n):
    c = counts[counts > 0]
    h = -(c / n * np.log(c / n)).sum()
    return h + (len(c) - 1) / (2 * n), len(c)


def main():
    rng = np.random.default_rng(SEED)
    seq_ids, unit_names, acts, hyp_meta, hyps = make_data(rng)
    t, u_n = acts.shape
    k_n = hyps.shape[1]
    x64 = acts.astype(np.float64)
    h64 = hyps.astype(np.float64)

    unit_const = [np.ptp(x64[:, u]) == 0 for u in range(u_n)]
    hyp_const = [np.ptp(h64[:, k]) == 0 for k in range(k_n)]
    kinds = ["categorical" if isinstance(m, dict) else m for _, m in hyp_meta]

    unit_bins = [np.searchsorted(edges_of(acts[:, u], BINS), acts[:, u], side="left") for u in range(u_n)]
    hyp_bins = []
    for k in range(k_n):
        if kinds[k] == "numeric":
            hyp_bins.append(np.searchsorted(edges_of(hyps[:, k], HYP_BINS), hyps[:, k], side="left"))
        else:
            hyp_bins.append(hyps[:, k].astype(np.int64))

    rho_u = [0.0 if unit_const[u] else lag1(x64[:, [u]], seq_ids) for u in range(u_n)]
    rho_h = []
    for k in range(k_n):
        if hyp_const[k]:
            rho_h.append(0.0)
        elif kinds[k] == "categorical":
            onehot = np.stack([(h64[:, k] == s).astype(float) for s in range(3)], axis=1)
            rho_h.append(lag1(onehot, seq_ids))
        else:
            rho_h.append(lag1(h64[:, [k]], seq_ids))

    none = lambda: [[None] * k_n for _ in range(u_n)]
    out = {name: none() for name in ["pearson", "spearman", "auc", "eta", "mi", "nmi", "p", "n_eff"]}
    for u in range(u_n):
        x = x64[:, u]
        for k in range(k_n):
            h = h64[:, k]
            degenerate = unit_const[u] or hyp_const[k]
            table = np.zeros((BINS, int(hyp_bins[k].max()) + 1 if kinds[k] == "numeric" else (3 if kinds[k] == "categorical" else 2)))
            np.add.at(table, (unit_bins[u], hyp_bins[k]), 1)
            mi = mutual_info_score(unit_bins[u], hyp_bins[k])
            hx, mx = mm_entropy(table.sum(axis=1), t)
            hy, my = mm_entropy(table.sum(axis=0), t)
            hxy, _ = mm_entropy(table.ravel(), t)
            denom = min(hx, hy)
            nmi = 0.0 if (mx <= 1 or my <= 1 or denom <= 0) else float(np.clip((hx + hy - hxy) / denom, 0, 1))
            out["mi"][u][k] = 0.0 if degenerate else float(mi)
            out["nmi"][u][k] = 0.0 if degenerate else nmi
            prod = np.clip(rho_u[u] * rho_h[k], -1, 1)
            n_eff = float(np.clip(t * (1 - prod) / (1 + prod), 1, t))
            out["n_eff"][u][k] = n_eff
            if kinds[k] == "categorical":
                if degenerate:
                    out["eta"][u][k], out["p"][u][k] = 0.0, 1.0
                    continue
                groups = [x[h == s] for s in range(3) if (h == s).any()]
                g = len(groups)
                ss_tot = ((x - x.mean()) ** 2).sum()
                ss_b = sum(len(v) * (v.mean() - x.mean()) ** 2 for v in groups)
                eta2 = ss_b / ss_tot
                out["eta"][u][k] = float(np.sqrt(eta2))
                df1, df2 = g - 1, n_eff - g
                f = (eta2 / df1) / ((1 - eta2) / df2)
                out["p"][u][k] = float(stats.f.sf(f, df1, df2)) if df2 > 0 else 1.0
                continue
            if degenerate:
                out["pearson"][u][k] = 0.0
                out["spearman"][u][k] = 0.0
                out["p"][u][k] = 1.0
                if kinds[k] == "binary":
                    out["auc"][u][k] = 0.5
                continue
            r = stats.pearsonr(x, h)[0]
            out["pearson"][u][k] = float(r)
            out["spearman"][u][k] = float(stats.spearmanr(x, h)[0])
            if kinds[k] == "binary":
                out["auc"][u][k] = float(roc_auc_score(h, x))
            df = n_eff - 2
            tt = r * np.sqrt(df / (1 - r * r))
            out["p"][u][k] = float(2 * stats.t.sf(abs(tt), df)) if df > 0 else 1.0

    flat_p = np.array([out["p"][u][k] for u in range(u_n) for k in range(k_n)])
    q = stats.false_discovery_control(flat_p, method="bh")
    out["q"] = [[float(q[u * k_n + k]) for k in range(k_n)] for u in range(u_n)]

    data = {
        "generator": "make_reference.py",
        "seed": SEED,
        "bins": BINS,
        "hypothesis_bins": HYP_BINS,
        "seq_ids": seq_ids.tolist(),
        "units": unit_names,
        "hypotheses": [{"name": n, "kind": m} for n, m in hyp_meta],
        "acts": [[float(v) for v in row] for row in acts],
        "hyps": [[float(v) for v in row] for row in hyps],
        "lag1_units": rho_u,
        "lag1_hyps": rho_h,
        "expected": out,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    print(f"wrote {path}: {t} rows, {u_n} units, {k_n} hypotheses")


if __name__ == "__main__":
    main()
