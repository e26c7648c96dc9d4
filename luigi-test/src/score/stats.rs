//! Small numerical helpers: tail probabilities, ranks, Benjamini–Hochberg,
//! quantiles, entropies and a seeded random generator.
//!
//! Everything here is a pure function of its arguments, so results do not
//! depend on thread count or call order.

use statrs::function::beta::checked_beta_reg;
use statrs::function::erf::erfc;
use statrs::function::gamma::checked_gamma_ur;

/// Degrees of freedom above which tail probabilities switch from the
/// regularised incomplete beta function (whose continued fraction in `statrs`
/// stops after 140 terms) to a normal / chi-square approximation whose
/// relative error is below 2e-3 there.
const EXACT_MAX_DF: f64 = 4000.0;

/// Two-sided p-value of a Pearson correlation `r` under a t-test with `df`
/// degrees of freedom (`t = r·sqrt(df/(1-r²))`). `df <= 0` gives 1.
pub(crate) fn pearson_p(r: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || r.is_nan() {
        return 1.0;
    }
    let r2 = (r * r).min(1.0);
    if r2 >= 1.0 {
        return 0.0;
    }
    let p = if df <= EXACT_MAX_DF {
        // P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2) and df/(df+t²) = 1 - r².
        checked_beta_reg(df / 2.0, 0.5, 1.0 - r2).unwrap_or(1.0)
    } else {
        // Wallace's normal approximation to Student's t.
        let t2 = df * r2 / (1.0 - r2);
        let z = (8.0 * df + 1.0) / (8.0 * df + 3.0) * (df * (t2 / df).ln_1p()).sqrt();
        erfc(z / std::f64::consts::SQRT_2)
    };
    clamp_p(p)
}

/// Upper-tail p-value of a one-way ANOVA F-test written in terms of the
/// correlation ratio: `eta2` = η², `df1` = groups − 1, `df2` = n − groups.
pub(crate) fn anova_p(eta2: f64, df1: f64, df2: f64) -> f64 {
    if df1.is_nan() || df2.is_nan() || df1 <= 0.0 || df2 <= 0.0 || eta2.is_nan() {
        return 1.0;
    }
    let eta2 = eta2.clamp(0.0, 1.0);
    if eta2 >= 1.0 {
        return 0.0;
    }
    let p = if df2 <= EXACT_MAX_DF {
        // P(F > f) = I_{df2/(df2+df1·f)}(df2/2, df1/2) and that argument is 1 - η².
        checked_beta_reg(df2 / 2.0, df1 / 2.0, 1.0 - eta2).unwrap_or(1.0)
    } else {
        // df1·F → χ²(df1) as df2 grows.
        let chi2 = df2 * eta2 / (1.0 - eta2);
        checked_gamma_ur(df1 / 2.0, chi2 / 2.0).unwrap_or(1.0)
    };
    clamp_p(p)
}

fn clamp_p(p: f64) -> f64 {
    if p.is_nan() {
        1.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

/// Effective sample size of a correlation between two AR(1)-like series with
/// lag-1 autocorrelations `rho_x` and `rho_y` (Bartlett 1946, in the form of
/// Bretherton et al. 1999): `n (1 − ρx ρy) / (1 + ρx ρy)`, kept in `[1, n]`.
pub(crate) fn ar1_n_eff(n: f64, rho_x: f64, rho_y: f64) -> f64 {
    let prod = (rho_x * rho_y).clamp(-1.0, 1.0);
    if !prod.is_finite() {
        return n;
    }
    let ne = n * (1.0 - prod) / (1.0 + prod).max(f64::MIN_POSITIVE);
    ne.clamp(1.0_f64.min(n), n)
}

/// Benjamini–Hochberg q-values (step-up adjusted p-values), in input order.
/// Ties are ordered by index, so the result is deterministic.
pub(crate) fn bh_qvalues(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_unstable_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0_f64;
    for (rank0, &i) in idx.iter().enumerate().rev() {
        let v = p[i] * m as f64 / (rank0 + 1) as f64;
        running = running.min(v);
        q[i] = running.clamp(0.0, 1.0);
    }
    q
}

/// 1-based ranks with ties given their average rank (as scipy's `rankdata`).
pub(crate) fn average_ranks(v: &[f32]) -> Vec<f64> {
    let n = v.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && v[idx[end]] == v[idx[start]] {
            end += 1;
        }
        // positions start..end (0-based) share ranks start+1 ..= end.
        let avg = (start + 1 + end) as f64 / 2.0;
        for &i in &idx[start..end] {
            ranks[i] = avg;
        }
        start = end;
    }
    ranks
}

/// Linear-interpolation quantile (numpy's default, "type 7") of sorted data.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Plug-in entropy (nats) of counts summing to `n`, and the number of
/// non-empty cells (for the Miller–Madow correction).
pub(crate) fn entropy(counts: impl Iterator<Item = f64>, n: f64) -> (f64, usize) {
    let mut h = 0.0;
    let mut nonempty = 0;
    if n <= 0.0 {
        return (0.0, 0);
    }
    for c in counts {
        if c > 0.0 {
            h -= c * (c / n).ln();
            nonempty += 1;
        }
    }
    ((h / n).max(0.0), nonempty)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties_like_scipy() {
        // scipy.stats.rankdata([3, 1, 3, 2]) == [3.5, 1, 3.5, 2]
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        assert!(average_ranks(&[]).is_empty());
    }

    #[test]
    fn bh_matches_hand_computation() {
        // p sorted: 0.01, 0.02, 0.03, 0.5 with m = 4: raw 0.04, 0.04, 0.04, 0.5
        let q = bh_qvalues(&[0.5, 0.01, 0.03, 0.02]);
        let want = [0.5, 0.04, 0.04, 0.04];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn pearson_p_matches_known_values() {
        // scipy: 2*t.sf(r*sqrt(df/(1-r^2)), df) for r=0.3, df=20 -> 0.174947...
        let p = pearson_p(0.3, 20.0);
        assert!((p - 0.174_947_2).abs() < 1e-6, "{p}");
        assert_eq!(pearson_p(0.0, 10.0), 1.0);
        assert_eq!(pearson_p(1.0, 10.0), 0.0);
        assert_eq!(pearson_p(0.5, 0.0), 1.0);
        // Around the switch to the approximation the two agree.
        let a = pearson_p(0.05, EXACT_MAX_DF);
        let b = pearson_p(0.05, EXACT_MAX_DF + 1e-9);
        assert!((a - b).abs() / a < 5e-3, "{a} {b}");
    }

    #[test]
    fn anova_p_matches_known_value() {
        // scipy: f.sf(f, 2, 30) with eta2 = 0.2 -> f = (0.2/2)/(0.8/30) = 3.75 -> 0.035184...
        let p = anova_p(0.2, 2.0, 30.0);
        assert!((p - 0.035_184_4).abs() < 1e-6, "{p}");
    }

    #[test]
    fn generator_is_deterministic_and_in_range() {
        let mut a = crate::numeric::rng::Rng::from_state(7);
        let mut b = crate::numeric::rng::Rng::from_state(7);
        for _ in 0..100 {
            let x = a.below_by_rejection(13);
            assert_eq!(x, b.below_by_rejection(13));
            assert!(x < 13);
        }
        let mut v: Vec<u32> = (0..50).collect();
        a.shuffle_by_rejection(&mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn n_eff_shrinks_with_autocorrelation() {
        assert_eq!(ar1_n_eff(1000.0, 0.0, 0.9), 1000.0);
        let ne = ar1_n_eff(1000.0, 0.9, 0.9);
        assert!((ne - 1000.0 * 0.19 / 1.81).abs() < 1e-9);
        assert_eq!(ar1_n_eff(1000.0, -0.9, 0.9), 1000.0);
    }
}
