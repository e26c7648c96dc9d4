//! Turning the first pass's sufficient statistics into [`Scores`]: every
//! statistic of every pair, significance, flags and run-wide warnings.

use ndarray::Array2;
use rayon::prelude::*;

use super::moments::{CoMoments, ColumnStats, LagStats};
use super::ranking::{Flag, HypothesisInfo, UnitInfo, Warning, WarningKind};
use super::rows::Layout;
use super::scores::{is_categorical, Scores};
use super::within::{GroupSums, Within};
use super::{Metric, ScoreConfig};
use crate::error::Result;
use crate::hypothesis::HypothesisKind;

/// Spread below this fraction of |mean| (four f32 ulps) is f32 rounding
/// noise: `1e6 + h` with h's sd 0.65 is a real signal (an ulp at 1e6 is
/// 0.0625), `1e6 ± 0.03` is not.
const NEARLY_CONSTANT: f64 = 4.0 * f32::EPSILON as f64;

/// Accumulators handed over by the engine.
pub(crate) struct FirstPass {
    pub cfg: ScoreConfig,
    pub units: Vec<String>,
    pub hyps: Vec<(String, HypothesisKind)>,
    pub layout: Layout,
    pub n: f64,
    pub seq_lengths: Vec<u32>,
    pub unit_stats: ColumnStats,
    pub design_stats: ColumnStats,
    pub pos_stats: ColumnStats,
    pub unit_lag: LagStats,
    pub design_lag: LagStats,
    pub co: Option<CoMoments>,
    pub pos_co: CoMoments,
    pub mi: Option<(Array2<f64>, Array2<f64>)>,
    /// Group sums by input token, when the rows came with tokens.
    pub token_groups: Option<GroupSums>,
    /// Group sums by position in the sequence.
    pub pos_groups: GroupSums,
    /// Units excluded for non-finite activations, with where.
    pub excluded: Vec<Option<String>>,
}

fn list_names(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

pub(crate) fn build(fp: FirstPass) -> Result<Scores> {
    let n = fp.n;
    let cfg = fp.cfg;
    let mut warnings = Vec::new();

    // Units.
    let mut units = Vec::with_capacity(fp.units.len());
    let mut unit_degenerate = Vec::with_capacity(fp.units.len());
    for (j, name) in fp.units.into_iter().enumerate() {
        let mean = fp.unit_stats.mean[j];
        let m2 = fp.unit_stats.m2[j];
        let var = fp.unit_stats.var(j);
        let mut flags = Vec::new();
        if fp.excluded.get(j).is_some_and(Option::is_some) {
            flags.push(Flag::NonFiniteUnit);
        } else if m2 <= 0.0 {
            flags.push(Flag::ConstantUnit);
        } else if var.sqrt() < NEARLY_CONSTANT * mean.abs() {
            flags.push(Flag::NearlyConstantUnit);
        }
        // A unit is constant only when it is: one whose steps are at the
        // level of f32 rounding around a large mean is flagged but scored
        // (its moments are exact: values are centred before they are summed).
        let degenerate = flags.iter().any(|f| *f != Flag::NearlyConstantUnit);
        let rho = if degenerate {
            0.0
        } else {
            (fp.unit_lag.autocov(j, mean) / var).clamp(-1.0, 1.0)
        };
        units.push(UnitInfo {
            name,
            index: j,
            mean,
            sd: sample_sd(m2, n),
            lag1: rho,
            flags,
        });
        unit_degenerate.push(degenerate);
    }
    let nonfinite: Vec<String> = units
        .iter()
        .zip(&fp.excluded)
        .filter_map(|(u, why)| why.as_ref().map(|w| format!("{} ({w})", u.name)))
        .collect();
    if !nonfinite.is_empty() {
        let names: Vec<&str> = nonfinite.iter().map(String::as_str).collect();
        warnings.push(Warning {
            kind: WarningKind::NonFiniteUnits,
            subject: units
                .iter()
                .filter(|u| u.flags.contains(&Flag::NonFiniteUnit))
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            message: format!(
                "{} unit(s) gave NaN or infinite activations and are not scored (they rank last; the others are ranked): {}",
                nonfinite.len(),
                list_names(&names)
            ),
        });
    }
    let with = |flag: Flag| -> Vec<&str> {
        units
            .iter()
            .filter(|u| u.flags.contains(&flag))
            .map(|u| u.name.as_str())
            .collect()
    };
    let constant = with(Flag::ConstantUnit);
    if !constant.is_empty() {
        warnings.push(Warning {
            kind: WarningKind::ConstantUnits,
            subject: constant.join(","),
            message: format!(
                "{} unit(s) are constant and score 0: {}",
                constant.len(),
                list_names(&constant)
            ),
        });
    }
    let rounding = with(Flag::NearlyConstantUnit);
    if !rounding.is_empty() {
        warnings.push(Warning {
            kind: WarningKind::ConstantUnits,
            subject: rounding.join(","),
            message: format!(
                "{} unit(s) vary only by a few f32 rounding steps around a large mean (sd under 4 f32 epsilons of |mean|); they are scored, but their values are coarse: {}",
                rounding.len(),
                list_names(&rounding)
            ),
        });
    }

    // Hypotheses.
    let layout = &fp.layout;
    let pos_m2 = fp.pos_stats.m2[0];
    let mut hyps = Vec::with_capacity(fp.hyps.len());
    let mut hyp_degenerate = Vec::with_capacity(fp.hyps.len());
    let mut hyp_groups = Vec::with_capacity(fp.hyps.len());
    let rare_rows = (cfg.rare_fraction * n).max(5.0);
    for (k, (name, kind)) in fp.hyps.into_iter().enumerate() {
        let off = layout.offset[k];
        let width = layout.width[k];
        let mut flags = Vec::new();
        let mut warn = |kind: WarningKind, message: String, name: &str| {
            warnings.push(Warning {
                kind,
                subject: name.to_string(),
                message,
            })
        };
        let (mean, sd, rho, assoc, fires, state_counts, groups);
        if let HypothesisKind::Categorical { states } = &kind {
            let counts: Vec<u64> = (0..width)
                .map(|s| (fp.design_stats.mean[off + s] * n).round().max(0.0) as u64)
                .collect();
            let nonempty = counts.iter().filter(|&&c| c > 0).count();
            let (mut auto, mut var) = (0.0, 0.0);
            let mut between = 0.0;
            for (s, &count) in counts.iter().enumerate() {
                let c = off + s;
                auto += fp.design_lag.autocov(c, fp.design_stats.mean[c]);
                var += fp.design_stats.var(c);
                if count > 0 {
                    between += fp.pos_co.c[[0, c]].powi(2) / count as f64;
                }
            }
            let max_share = counts.iter().copied().max().unwrap_or(0);
            if nonempty <= 1 {
                flags.push(Flag::ConstantHypothesis);
                let state = counts
                    .iter()
                    .position(|&c| c > 0)
                    .and_then(|s| states.get(s).cloned())
                    .unwrap_or_default();
                warn(
                    WarningKind::ConstantHypothesis,
                    format!("is in state `{state}` on every timestep: nothing to score"),
                    &name,
                );
            } else if (n - max_share as f64) < rare_rows {
                flags.push(Flag::RareHypothesis);
                warn(
                    WarningKind::RareHypothesis,
                    format!(
                        "is in one state on {max_share} of {n} timesteps: scores rest on the other {}",
                        n as u64 - max_share
                    ),
                    &name,
                );
            }
            mean = 0.0;
            sd = 0.0;
            rho = if var > 0.0 {
                (auto / var).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            assoc = if pos_m2 > 0.0 {
                (between / pos_m2).clamp(0.0, 1.0).sqrt()
            } else {
                0.0
            };
            fires = None;
            state_counts = Some(counts);
            groups = nonempty.max(1);
        } else {
            let m = fp.design_stats.mean[off];
            let m2 = fp.design_stats.m2[off];
            let var = fp.design_stats.var(off);
            mean = m;
            sd = sample_sd(m2, n);
            groups = 1;
            state_counts = None;
            if matches!(kind, HypothesisKind::Binary) {
                let ones = (m * n).round().max(0.0) as u64;
                fires = Some(ones);
                let zeros = n as u64 - ones.min(n as u64);
                if ones == 0 {
                    flags.push(Flag::ConstantHypothesis);
                    warn(
                        WarningKind::NeverFires,
                        format!("never fires (0 of {n} timesteps)"),
                        &name,
                    );
                } else if zeros == 0 {
                    flags.push(Flag::ConstantHypothesis);
                    warn(
                        WarningKind::AlwaysFires,
                        format!("fires on all {n} timesteps"),
                        &name,
                    );
                } else if (ones.min(zeros) as f64) < rare_rows {
                    flags.push(Flag::RareHypothesis);
                    warn(
                        WarningKind::RareHypothesis,
                        format!(
                            "fires on {ones} of {n} timesteps: scores rest on very few {} timesteps",
                            if ones < zeros { "firing" } else { "silent" }
                        ),
                        &name,
                    );
                }
            } else {
                fires = None;
                if m2 <= 0.0 {
                    flags.push(Flag::ConstantHypothesis);
                    warn(
                        WarningKind::ConstantHypothesis,
                        format!("is {m} on every timestep: nothing to score"),
                        &name,
                    );
                } else if var.sqrt() < NEARLY_CONSTANT * m.abs() {
                    flags.push(Flag::NearlyConstantHypothesis);
                    warn(
                        WarningKind::NearlyConstantHypothesis,
                        format!(
                            "varies only at f32 rounding level (sd {:.3e} around {m}): treated as constant",
                            var.sqrt()
                        ),
                        &name,
                    );
                }
            }
            let deg = flags.iter().any(|f| f.is_degenerate());
            rho = if deg || var <= 0.0 {
                0.0
            } else {
                (fp.design_lag.autocov(off, m) / var).clamp(-1.0, 1.0)
            };
            assoc = if deg || pos_m2 <= 0.0 || m2 <= 0.0 {
                0.0
            } else {
                (fp.pos_co.c[[0, off]] / (pos_m2 * m2).sqrt())
                    .abs()
                    .min(1.0)
            };
        }
        let degenerate = flags.iter().any(|f| f.is_degenerate());
        if !degenerate && assoc > cfg.position_collinearity {
            flags.push(Flag::PositionCollinear);
            warn(
                WarningKind::PositionCollinear,
                format!(
                    "is almost a function of the position in the sequence ({} = {assoc:.4}): \
                     any unit that counts time scores on it; control for position",
                    if is_categorical(&kind) { "η" } else { "|r|" }
                ),
                &name,
            );
        }
        hyps.push(HypothesisInfo {
            name,
            index: k,
            kind,
            mean,
            sd,
            lag1: rho,
            position_association: assoc,
            fires,
            state_counts,
            flags,
        });
        hyp_degenerate.push(degenerate);
        hyp_groups.push(groups);
    }

    let (u_n, k_n) = (units.len(), hyps.len());
    let mut pearson = None;
    let mut eta = None;
    if let Some(co) = &fp.co {
        let want_r = cfg.has(Metric::Pearson);
        let want_eta = cfg.has(Metric::Eta);
        let rows: Vec<Vec<(f64, f64)>> = (0..u_n)
            .into_par_iter()
            .map(|u| {
                (0..k_n)
                    .map(|k| {
                        pair_correlation(
                            u,
                            k,
                            co,
                            &fp.unit_stats,
                            &fp.design_stats,
                            layout,
                            &hyps[k],
                            unit_degenerate[u] || hyp_degenerate[k],
                        )
                    })
                    .collect()
            })
            .collect();
        let mut r_m = Array2::from_elem((u_n, k_n), f64::NAN);
        let mut e_m = Array2::from_elem((u_n, k_n), f64::NAN);
        for (u, row) in rows.into_iter().enumerate() {
            for (k, (r, e)) in row.into_iter().enumerate() {
                r_m[[u, k]] = r;
                e_m[[u, k]] = e;
            }
        }
        pearson = want_r.then_some(r_m);
        eta = want_eta.then_some(e_m);
    }

    let (mi, nmi) = match fp.mi {
        Some((mut mi, mut nmi)) => {
            for u in 0..u_n {
                for k in 0..k_n {
                    if unit_degenerate[u] || hyp_degenerate[k] {
                        mi[[u, k]] = 0.0;
                        nmi[[u, k]] = 0.0;
                    }
                }
            }
            (Some(mi), Some(nmi))
        }
        None => (None, None),
    };

    let (within_token, within_position) = match &fp.co {
        Some(co) => {
            let ctx = WithinInputs {
                co: &co.c,
                unit_stats: &fp.unit_stats,
                design_stats: &fp.design_stats,
                layout,
                hyps: &hyps,
                unit_degenerate: &unit_degenerate,
                hyp_degenerate: &hyp_degenerate,
            };
            let tok = fp.token_groups.as_ref().map(|g| {
                let (m, w) = ctx.matrix(g);
                if w.pooled_rows > 0 {
                    warnings.push(Warning {
                        kind: WarningKind::GroupsPooled,
                        subject: "within_token".to_string(),
                        message: format!(
                            "{} distinct input tokens: the first {} each centre their own rows, the other {} ({} rows) are pooled into one group for `within_token`",
                            w.keys,
                            w.keys - w.pooled_keys,
                            w.pooled_keys,
                            w.pooled_rows
                        ),
                    });
                }
                m
            });
            let (pos, w) = ctx.matrix(&fp.pos_groups);
            if w.pooled_rows > 0 {
                warnings.push(Warning {
                    kind: WarningKind::GroupsPooled,
                    subject: "within_position".to_string(),
                    message: format!(
                        "sequences are longer than {} steps: positions from {} on ({} rows) are pooled into one group for `within_position`",
                        w.keys - w.pooled_keys,
                        w.keys - w.pooled_keys,
                        w.pooled_rows
                    ),
                });
            }
            (tok, Some(pos))
        }
        None => (None, None),
    };

    let significance = cfg.significance;
    let mut scores = Scores {
        cfg,
        units,
        hyps,
        n,
        seq_lengths: fp.seq_lengths,
        unit_degenerate,
        hyp_degenerate,
        hyp_groups,
        pearson,
        eta,
        p: None,
        q: None,
        mi,
        nmi,
        spearman: None,
        auc: None,
        p_perm: None,
        within_token,
        within_position,
        ci: None,
        null_model: None,
        warnings,
    };
    if significance {
        scores.add_significance();
    }
    Ok(scores)
}

fn sample_sd(m2: f64, n: f64) -> f64 {
    if n > 1.0 {
        (m2.max(0.0) / (n - 1.0)).sqrt()
    } else {
        0.0
    }
}

/// (r, η) of one pair; NaN where a statistic does not apply.
#[allow(clippy::too_many_arguments)]
fn pair_correlation(
    u: usize,
    k: usize,
    co: &CoMoments,
    unit_stats: &ColumnStats,
    design_stats: &ColumnStats,
    layout: &Layout,
    hyp: &HypothesisInfo,
    degenerate: bool,
) -> (f64, f64) {
    let off = layout.offset[k];
    if let Some(counts) = &hyp.state_counts {
        if degenerate {
            return (f64::NAN, 0.0);
        }
        let mut between = 0.0;
        for (s, &c) in counts.iter().enumerate() {
            if c > 0 {
                between += co.c[[u, off + s]].powi(2) / c as f64;
            }
        }
        let eta2 = (between / unit_stats.m2[u]).clamp(0.0, 1.0);
        (f64::NAN, eta2.sqrt())
    } else {
        if degenerate {
            return (0.0, f64::NAN);
        }
        let denom = (unit_stats.m2[u] * design_stats.m2[off]).sqrt();
        ((co.c[[u, off]] / denom).clamp(-1.0, 1.0), f64::NAN)
    }
}

/// What the within-group scores need from the first pass.
struct WithinInputs<'a> {
    co: &'a Array2<f64>,
    unit_stats: &'a ColumnStats,
    design_stats: &'a ColumnStats,
    layout: &'a Layout,
    hyps: &'a [HypothesisInfo],
    unit_degenerate: &'a [bool],
    hyp_degenerate: &'a [bool],
}

impl WithinInputs<'_> {
    /// `units × hypotheses` within-group scores (signed r for numeric and
    /// binary hypotheses, η for categorical ones; 0 for degenerate pairs).
    fn matrix(&self, groups: &GroupSums) -> (Array2<f64>, Within) {
        let w = groups.finish(self.unit_stats, self.design_stats, self.co);
        let (u_n, k_n) = (self.unit_degenerate.len(), self.hyps.len());
        let mut m = Array2::zeros((u_n, k_n));
        for u in 0..u_n {
            for k in 0..k_n {
                if self.unit_degenerate[u] || self.hyp_degenerate[k] {
                    continue;
                }
                let off = self.layout.offset[k];
                let ss_u = self.unit_stats.m2[u];
                m[[u, k]] = match &self.hyps[k].state_counts {
                    Some(counts) => {
                        let cols = off..off + self.layout.width[k];
                        let ss_states: f64 = cols.clone().map(|d| self.design_stats.m2[d]).sum();
                        w.eta(u, cols, counts, ss_u, ss_states)
                    }
                    None => w.r(u, off, ss_u, self.design_stats.m2[off]),
                };
            }
        }
        (m, w)
    }
}
