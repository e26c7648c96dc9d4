//! Perturbation verification: the pipeline described in the module docs
//! of [`crate::verify`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::codec::Codec;
use super::edit::{Edit, EditSpace};
use super::shrink::{shrink, CaseTree, ShrinkCase};
use super::stats::{bootstrap_ci, eta, mean, p_positive, pearson, sign, unit_stats, UnitStats};
use super::{persist, ControlEffect, Counterexample, PerturbOptions, Verdict, Verification};
use crate::activations::Activations;
use crate::corpus::{Corpus, Sequence};
use crate::error::{Error, Result};
use crate::hypothesis::{evaluate_steps, Hypothesis, HypothesisKind};
use crate::model::{Model, RecordOptions};
use crate::numeric::rng::Rng;

/// One aligned timestep where the hypothesis changed and the controls did not.
#[derive(Debug, Clone, Copy)]
struct Point {
    t: usize,
    t2: usize,
    h: f32,
    h2: f32,
}

/// The informative timesteps of an edit, or why there are none.
enum Points {
    Some(Vec<Point>),
    Unchanged,
    ControlsChanged,
}

struct Ctx<'a> {
    model: &'a Model,
    layer: &'a str,
    hypothesis: &'a dyn Hypothesis,
    controls: &'a [&'a dyn Hypothesis],
    kind: HypothesisKind,
    causal: bool,
    batch_size: usize,
    /// For a numeric corpus: the feature vectors behind the symbols edits
    /// work on.
    codec: Option<&'a Codec>,
}

impl Ctx<'_> {
    /// The sequence the model reads for `chars`: its characters, or, for a
    /// model of subword tokens, the text tokenized again.
    fn steps(&self, chars: &[char]) -> Result<Sequence> {
        if let Some(codec) = self.codec {
            return Ok(Sequence::with_values(std::sync::Arc::new(
                codec.values(chars)?,
            )));
        }
        let text: String = chars.iter().collect();
        let card = self.model.card();
        match &card.tokenizer {
            None => Ok(Sequence::new(&text)),
            Some(t) => Sequence::with_tokens(
                &text,
                t.tokens(&text, card.file.vocabulary.align.unwrap_or_default())?,
            ),
        }
    }

    /// Timesteps `(t, t2)` of the original and the edited sequence that
    /// read the same input with the same history (see [`Edit::aligned`]):
    /// for tokens, a token of the original and one of the edited sequence
    /// with the same id over aligned characters.
    fn aligned(
        &self,
        (before, b_sym): (&Sequence, &[char]),
        edit: &Edit,
        (after, a_sym): (&Sequence, &[char]),
    ) -> Vec<(usize, usize)> {
        let chars = edit.aligned(b_sym.len(), !self.causal);
        match (before.tokens(), after.tokens()) {
            (Some(tb), Some(ta)) => {
                let mut to_after: Vec<Option<usize>> = vec![None; before.chars().len()];
                for &(t, t2) in &chars {
                    to_after[t] = Some(t2);
                }
                let mut by_span: BTreeMap<(u32, u32), usize> = BTreeMap::new();
                for (t2, &span) in ta.spans().iter().enumerate() {
                    by_span.entry(span).or_insert(t2);
                }
                let mut out = Vec::new();
                for (t, &(s, e)) in tb.spans().iter().enumerate() {
                    if s >= e {
                        continue;
                    }
                    let (Some(Some(s2)), Some(Some(e2))) =
                        (to_after.get(s as usize), to_after.get(e as usize - 1))
                    else {
                        continue;
                    };
                    if let Some(&t2) = by_span.get(&(*s2 as u32, *e2 as u32 + 1)) {
                        if tb.ids()[t] == ta.ids()[t2] {
                            out.push((t, t2));
                        }
                    }
                }
                out
            }
            _ => chars
                .into_iter()
                .filter(|&(t, t2)| b_sym[t] == a_sym[t2])
                .collect(),
        }
    }

    fn points(&self, before: &[char], edit: &Edit, after: &[char]) -> Result<Points> {
        let (bs, as_) = (self.steps(before)?, self.steps(after)?);
        if bs.is_empty() || as_.is_empty() {
            // nothing the model reads (only spaces, for a tokenizer that drops them)
            return Ok(Points::Unchanged);
        }
        let h = evaluate_steps(self.hypothesis, &bs)?;
        let h2 = evaluate_steps(self.hypothesis, &as_)?;
        let aligned = self.aligned((&bs, before), edit, (&as_, after));
        let changed: Vec<(usize, usize)> = aligned
            .into_iter()
            .filter(|&(t, t2)| (h[t] - h2[t2]).abs() > 1e-6)
            .collect();
        if changed.is_empty() {
            return Ok(Points::Unchanged);
        }
        let mut keep: Vec<bool> = vec![true; changed.len()];
        for c in self.controls {
            let a = evaluate_steps(*c, &bs)?;
            let b = evaluate_steps(*c, &as_)?;
            for (k, &(t, t2)) in changed.iter().enumerate() {
                if (a[t] - b[t2]).abs() > 1e-6 {
                    keep[k] = false;
                }
            }
        }
        let pts: Vec<Point> = changed
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(&(t, t2), _)| Point {
                t,
                t2,
                h: h[t],
                h2: h2[t2],
            })
            .collect();
        Ok(if pts.is_empty() {
            Points::ControlsChanged
        } else {
            Points::Some(pts)
        })
    }

    /// The expected direction of unit `s` when the hypothesis goes `h → h2`.
    fn direction(&self, s: &UnitStats, h: f32, h2: f32) -> f64 {
        match &self.kind {
            HypothesisKind::Categorical { .. } => {
                let a = s.state_means.get(h as usize).copied().unwrap_or(0.0);
                let b = s.state_means.get(h2 as usize).copied().unwrap_or(0.0);
                sign(b - a)
            }
            _ => s.sign * sign(f64::from(h2 - h)),
        }
    }

    /// Mean signed, standardised change of unit `s` over `pts`.
    fn response(&self, s: &UnitStats, pts: &[Point], u: &[f32], u2: &[f32]) -> f64 {
        let mut sum = 0.0;
        let mut n = 0usize;
        for p in pts {
            let d = self.direction(s, p.h, p.h2);
            if d == 0.0 {
                continue;
            }
            sum += d * f64::from(u2[p.t2] - u[p.t]) / s.sd;
            n += 1;
        }
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }

    /// Records `texts` and returns, per text, the activations of `units`
    /// (`result[text][unit][t]`).
    fn record(&self, texts: &[Vec<char>], units: &[usize]) -> Result<Vec<Vec<Vec<f32>>>> {
        let seqs: Vec<Sequence> = texts.iter().map(|t| self.steps(t)).collect::<Result<_>>()?;
        let corpus = Corpus::from_sequences("perturbed", seqs)?;
        if corpus.len() != texts.len() {
            return Err(Error::invalid(
                "verify",
                "an edited sequence is empty (internal: empty edits are dropped before recording)",
            ));
        }
        let opts = RecordOptions {
            batch_size: self.batch_size,
            ..RecordOptions::default()
        };
        let mut out: Vec<Vec<Vec<f32>>> = texts
            .iter()
            .map(|t| vec![Vec::with_capacity(t.len()); units.len()])
            .collect();
        self.model
            .record_each(&corpus, &[self.layer], &opts, |chunk| {
                let acts = chunk
                    .layers
                    .first()
                    .ok_or_else(|| Error::invalid("verify", "no layer recorded"))?;
                for (r, row) in acts.values.rows().into_iter().enumerate() {
                    let s = acts.rows.sequence[r] as usize;
                    for (k, &u) in units.iter().enumerate() {
                        out[s][k].push(row[u]);
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }
}

/// The unit's strongest competing hypotheses among `candidates`: the `n`
/// with the highest |Pearson r| with the unit over the recording (η² for a
/// categorical one), leaving out the verified hypothesis itself and
/// variants of it (|r| ≥ 0.8 with it; η ≥ 0.8 when either is categorical,
/// so that a function of an automaton's state is not held fixed while the
/// state is verified), hypotheses that determine it (whole values, at most
/// 256 of them, of which the verified hypothesis is a function: η ≥ 0.8,
/// e.g. a depth when "inside" is verified), hypotheses of fractional values
/// (a running mean: exact equality, which holding fixed needs, would fail
/// at almost every edit), and hypotheses that are constant on the corpus. Returns indices into `candidates`.
pub fn competitors(
    corpus: &Corpus,
    acts: &Activations,
    unit: usize,
    hypothesis: &dyn Hypothesis,
    candidates: &[&dyn Hypothesis],
    n: usize,
) -> Result<Vec<usize>> {
    if n == 0 || candidates.is_empty() {
        return Ok(Vec::new());
    }
    let target = values(corpus, hypothesis)?;
    let target_kind = hypothesis.kind();
    let col: Vec<f32> = acts.values.column(unit).to_vec();
    let mut scored: Vec<(f64, usize)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if c.name() == hypothesis.name() {
            continue;
        }
        let v = values(corpus, *c)?;
        // A hypothesis of fractional values (a running mean of a numeric
        // feature) changes with almost every edit: holding it fixed would
        // leave no informative edit.
        if v.iter().any(|x| x.fract() != 0.0) {
            continue;
        }
        // how much of the candidate the hypothesis explains (or the other
        // way round): η against a categorical one, else |Pearson r|
        let with_target = match (&target_kind, c.kind()) {
            (HypothesisKind::Categorical { .. }, _) => eta(&v, &target),
            (_, HypothesisKind::Categorical { .. }) => eta(&target, &v),
            _ => pearson(&v, &target).map(f64::abs),
        };
        let Some(with_target) = with_target else {
            continue;
        };
        // The other way too: a candidate that determines the hypothesis
        // (it takes a few whole values and the hypothesis is, near enough,
        // a function of them, e.g. depth for "inside") cannot be held fixed
        // while the hypothesis changes.
        let determines = is_discrete(&v) && eta(&target, &v).is_some_and(|e| e >= 0.8);
        if with_target >= 0.8 || determines {
            continue;
        }
        let strength = match c.kind() {
            HypothesisKind::Categorical { .. } => eta(&col, &v),
            _ => pearson(&col, &v).map(f64::abs),
        };
        if let Some(s) = strength {
            scored.push((s, i));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(n).map(|(_, i)| i).collect())
}

/// Whole values only, and at most 256 distinct ones: values that can group
/// rows (the states of a count, a depth, a class).
fn is_discrete(v: &[f32]) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    for &x in v {
        if x.fract() != 0.0 || !x.is_finite() {
            return false;
        }
        seen.insert(x as i64);
        if seen.len() > 256 {
            return false;
        }
    }
    true
}

fn values(corpus: &Corpus, h: &dyn Hypothesis) -> Result<Vec<f32>> {
    let mut all = Vec::with_capacity(corpus.timesteps());
    for s in corpus.sequences() {
        all.extend(evaluate_steps(h, s)?);
    }
    Ok(all)
}

/// An informative edit, ready to record.
struct Informative {
    seed: [u8; 32],
    edit: Edit,
    after: Vec<char>,
    points: Vec<Point>,
}

/// Verifies by perturbation that `unit` of `layer` follows `hypothesis`
/// (see the [module docs](crate::verify)).
///
/// `acts` is the recording of `layer` over `corpus` (rows in corpus order,
/// every unit); `controls` are the hypotheses held fixed at informative
/// timesteps besides the token (see [`competitors`]).
#[allow(clippy::too_many_arguments)]
pub fn perturb(
    model: &Model,
    layer: &str,
    corpus: &Corpus,
    acts: &Activations,
    hypothesis: &dyn Hypothesis,
    unit: usize,
    controls: &[&dyn Hypothesis],
    opts: &PerturbOptions,
) -> Result<Verification> {
    let n_units = acts.n_units();
    super::check_subject(layer, corpus, acts, unit)?;
    if opts.cases == 0 {
        return Err(Error::invalid("verify", "cases = 0: draw at least 1 edit"));
    }
    let kind = hypothesis.kind();
    let codec = if corpus.is_numeric() {
        Some(Codec::of(corpus)?)
    } else {
        None
    };
    // what edits work on: each sequence's characters, or its symbols
    let texts_of: Vec<Vec<char>> = match &codec {
        Some(c) => c.texts.clone(),
        None => corpus
            .sequences()
            .iter()
            .map(|s| s.chars().to_vec())
            .collect(),
    };
    let ctx = Ctx {
        model,
        layer,
        hypothesis,
        controls,
        kind: kind.clone(),
        causal: model.card().file.input.causal,
        batch_size: opts.batch_size.max(1),
        codec: codec.as_ref(),
    };
    let h_all = values(corpus, hypothesis)?;
    let stats = unit_stats(acts, &h_all, &kind);
    let mut result = Verification {
        verdict: Verdict::Inconclusive,
        mode: "perturb".to_string(),
        hypothesis: hypothesis.name().to_string(),
        unit: acts.units[unit].clone(),
        unit_index: unit,
        layer: layer.to_string(),
        effect: 0.0,
        effect_ci: [0.0, 0.0],
        p_value: 1.0,
        p_zero: 1.0,
        p_controls: 1.0,
        advantage_ci: [0.0, 0.0],
        informative: 0,
        informative_timesteps: 0,
        drawn: 0,
        replayed: 0,
        dropped: BTreeMap::new(),
        reason: None,
        agreement: None,
        change_correlation: None,
        controls: Vec::new(),
        control_hypotheses: controls.iter().map(|c| c.name().to_string()).collect(),
        counterexamples: Vec::new(),
        seed: opts.seed,
        cases: opts.cases,
        regressions: opts.regressions.as_ref().map(|p| p.display().to_string()),
    };
    let target = &stats[unit];
    if target.sd <= 0.0 || !target.sd.is_finite() {
        result.reason = Some(format!(
            "unit {} is constant on the corpus: there is nothing to follow",
            result.unit
        ));
        return Ok(result);
    }
    if !matches!(kind, HypothesisKind::Categorical { .. }) && target.sign == 0.0 {
        result.reason = Some(
            "the unit does not correlate with the hypothesis on the corpus (or the hypothesis is \
             constant there): no direction to test"
                .to_string(),
        );
        return Ok(result);
    }

    // control units: the best competitor, then random units
    let competitor = (0..n_units)
        .filter(|&j| j != unit && stats[j].sd > 0.0)
        .max_by(|&a, &b| {
            stats[a]
                .strength
                .total_cmp(&stats[b].strength)
                .then(b.cmp(&a))
        });
    let mut pool: Vec<usize> = (0..n_units)
        .filter(|&j| j != unit && Some(j) != competitor && stats[j].sd > 0.0)
        .collect();
    let mut rng = Rng::stream(opts.seed, 0xC0_47_20_15);
    rng.shuffle(&mut pool);
    pool.truncate(opts.control_units);
    pool.sort_unstable();
    let mut units: Vec<usize> = vec![unit];
    units.extend(competitor);
    units.extend(&pool);

    // draw the edits: replayed seeds first, then the new cases
    let mut alphabet: Vec<char> = texts_of
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect::<BTreeSet<char>>()
        .into_iter()
        .collect();
    alphabet.retain(|c| *c != '\u{0}');
    let space = EditSpace {
        lengths: texts_of.iter().map(Vec::len).collect(),
        alphabet,
        triggers: if codec.is_some() {
            Vec::new()
        } else {
            hypothesis
                .triggers()
                .into_iter()
                .map(|t| t.chars().collect::<Vec<char>>())
                .filter(|t| !t.is_empty())
                .collect()
        },
    };
    let replay: Vec<[u8; 32]> = opts
        .regressions
        .as_deref()
        .map(persist::load)
        .unwrap_or_default();
    result.replayed = replay.len();
    let seeds: Vec<[u8; 32]> = replay
        .into_iter()
        .chain((0..opts.cases as u64).map(|i| persist::case_seed(opts.seed, i)))
        .collect();
    let mut seen: BTreeSet<(usize, usize, usize, Vec<char>)> = BTreeSet::new();
    let mut informative: Vec<Informative> = Vec::new();
    let drop = |why: &str, result: &mut Verification| {
        *result.dropped.entry(why.to_string()).or_insert(0) += 1;
    };
    for seed in seeds {
        result.drawn += 1;
        let Some(edit) = space.draw(&seed) else {
            drop("nothing to edit", &mut result);
            continue;
        };
        let before = &texts_of[edit.sequence];
        let Some(after) = edit.apply(before) else {
            drop("changes nothing", &mut result);
            continue;
        };
        if !seen.insert((edit.sequence, edit.pos, edit.remove, edit.insert.clone())) {
            drop("duplicate", &mut result);
            continue;
        }
        match ctx.points(before, &edit, &after)? {
            Points::Unchanged => drop("hypothesis unchanged", &mut result),
            Points::ControlsChanged => drop("controls changed with it", &mut result),
            Points::Some(points) => informative.push(Informative {
                seed,
                edit,
                after,
                points,
            }),
        }
    }
    result.informative = informative.len();
    result.informative_timesteps = informative.iter().map(|i| i.points.len()).sum();
    if informative.is_empty() {
        let unchanged = result
            .dropped
            .get("hypothesis unchanged")
            .copied()
            .unwrap_or(0);
        result.reason = Some(if unchanged == result.drawn {
            format!(
                "no edit changed the hypothesis ({} drawn): it may not depend on the input, or \
                 its triggers are missing from the corpus alphabet (declare them)",
                result.drawn
            )
        } else {
            format!(
                "no informative edit among {} drawn (see `dropped`): draw more (--cases / \
                 PROPTEST_CASES), use a longer corpus, or hold fewer controls fixed",
                result.drawn
            )
        });
        return Ok(result);
    }

    // record the originals and the edited sequences together
    let mut originals: Vec<usize> = informative.iter().map(|i| i.edit.sequence).collect();
    originals.sort_unstable();
    originals.dedup();
    let mut texts: Vec<Vec<char>> = originals.iter().map(|&s| texts_of[s].clone()).collect();
    texts.extend(informative.iter().map(|i| i.after.clone()));
    let rec = ctx.record(&texts, &units)?;
    let original_of = |seq: usize| originals.binary_search(&seq).unwrap_or(0);

    // responses: [unit][edit]
    let mut responses: Vec<Vec<f64>> = vec![Vec::with_capacity(informative.len()); units.len()];
    let mut agree = 0usize;
    let (mut dus, mut dhs) = (Vec::new(), Vec::new());
    for (e, inf) in informative.iter().enumerate() {
        let before = &rec[original_of(inf.edit.sequence)];
        let after = &rec[originals.len() + e];
        for (k, &j) in units.iter().enumerate() {
            responses[k].push(ctx.response(&stats[j], &inf.points, &before[k], &after[k]));
        }
        for p in &inf.points {
            let d = ctx.direction(target, p.h, p.h2);
            let du = f64::from(after[0][p.t2] - before[0][p.t]) / target.sd;
            if d * du > 0.0 && du.abs() > 1e-3 {
                agree += 1;
            }
            dus.push(du as f32);
            dhs.push(((p.h2 - p.h) as f64 * target.sign) as f32);
        }
    }
    result.agreement = Some(if result.informative_timesteps > 0 {
        agree as f64 / result.informative_timesteps as f64
    } else {
        0.0
    });
    if !matches!(kind, HypothesisKind::Categorical { .. }) {
        result.change_correlation = pearson(&dus, &dhs);
    }
    let target_r = &responses[0];
    result.effect = mean(target_r);
    result.effect_ci = bootstrap_ci(target_r, opts.bootstrap, opts.seed, 1);
    result.p_zero = p_positive(target_r);
    let control_start = 1 + usize::from(competitor.is_some());
    for (k, &j) in units.iter().enumerate().skip(1) {
        result.controls.push(ControlEffect {
            unit: acts.units[j].clone(),
            role: if k < control_start {
                "competitor".to_string()
            } else {
                "random".to_string()
            },
            effect: mean(&responses[k]),
        });
    }
    let best_control = (control_start..units.len())
        .max_by(|&a, &b| mean(&responses[a]).total_cmp(&mean(&responses[b])));
    let above_all = (control_start..units.len()).all(|k| result.effect > mean(&responses[k]));
    match best_control {
        Some(b) => {
            let diff: Vec<f64> = target_r
                .iter()
                .zip(&responses[b])
                .map(|(t, c)| t - c)
                .collect();
            result.p_controls = p_positive(&diff);
            result.advantage_ci = bootstrap_ci(&diff, opts.bootstrap, opts.seed, 2);
        }
        None => {
            result.p_controls = result.p_zero;
            result.advantage_ci = result.effect_ci;
        }
    }
    result.p_value = result.p_zero.max(result.p_controls);

    if result.informative < opts.min_informative {
        result.reason = Some(format!(
            "only {} informative edits of {} drawn (at least {} needed; see `dropped`): draw more \
             (--cases / PROPTEST_CASES) or use a longer corpus",
            result.informative, result.drawn, opts.min_informative
        ));
        return Ok(result);
    }
    if result.p_value <= opts.alpha && above_all && result.effect > 0.0 {
        result.verdict = Verdict::Confirmed;
        return Ok(result);
    }
    let small = result.advantage_ci[1] < opts.min_effect || result.effect_ci[1] < opts.min_effect;
    if !small {
        result.reason = Some(format!(
            "effect {:+.3} [{:+.3}, {:+.3}], advantage over controls [{:+.3}, {:+.3}]: too wide to \
             tell; draw more edits (--cases / PROPTEST_CASES)",
            result.effect,
            result.effect_ci[0],
            result.effect_ci[1],
            result.advantage_ci[0],
            result.advantage_ci[1]
        ));
        return Ok(result);
    }
    result.verdict = Verdict::Refuted;
    result.reason = Some(format!(
        "the unit does not follow the hypothesis when only the hypothesis changes: its mean \
         response is {:+.3} sd (interval upper end {:+.3}), its advantage over the control units \
         at most {:+.3}, below the {} needed",
        result.effect, result.effect_ci[1], result.advantage_ci[1], opts.min_effect
    ));

    // counterexamples: the edits it followed least, shrunk
    let follow = opts.min_effect / 2.0;
    let mut order: Vec<usize> = (0..informative.len())
        .filter(|&e| target_r[e] <= follow)
        .collect();
    order.sort_by(|&a, &b| {
        target_r[a]
            .total_cmp(&target_r[b])
            .then(
                informative[b]
                    .points
                    .len()
                    .cmp(&informative[a].points.len()),
            )
            .then(a.cmp(&b))
    });
    let mut shown: BTreeSet<String> = BTreeSet::new();
    for e in order {
        if result.counterexamples.len() >= opts.counterexamples {
            break;
        }
        let inf = &informative[e];
        let seq = Arc::new(texts_of[inf.edit.sequence].clone());
        let tree = CaseTree::new(seq.clone(), &inf.edit);
        let (case, runs) = shrink(tree, opts.shrink_steps, |c| {
            Ok(evaluate_case(&ctx, target, unit, c)?.is_some_and(|ev| ev.response <= follow))
        })?;
        let Some(ev) = evaluate_case(&ctx, target, unit, &case)? else {
            continue;
        };
        let cx = counterexample(&ctx, target, &inf.seed, &case, &ev, seq.len(), runs);
        if !shown.insert(format!("{}|{}", cx.before, cx.edit)) {
            continue;
        }
        if let Some(path) = &opts.regressions {
            persist::save(
                path,
                &inf.seed,
                &format!("{}: {:?} -> {:?}", cx.edit, cx.before, cx.after),
            );
        }
        result.counterexamples.push(cx);
    }
    // shortest first: the easiest to read
    result
        .counterexamples
        .sort_by_key(|c| (c.before.chars().count(), c.after.chars().count()));
    Ok(result)
}

/// A shrink candidate, run through the model.
struct CaseEval {
    after: Vec<char>,
    points: Vec<Point>,
    u: Vec<f32>,
    u2: Vec<f32>,
    response: f64,
}

fn evaluate_case(
    ctx: &Ctx<'_>,
    target: &UnitStats,
    unit: usize,
    case: &ShrinkCase,
) -> Result<Option<CaseEval>> {
    let Some(after) = case.edit.apply(&case.before) else {
        return Ok(None);
    };
    let Points::Some(points) = ctx.points(&case.before, &case.edit, &after)? else {
        return Ok(None);
    };
    let mut rec = ctx.record(&[case.before.clone(), after.clone()], &[unit])?;
    let u2 = rec.pop().and_then(|mut v| v.pop()).unwrap_or_default();
    let u = rec.pop().and_then(|mut v| v.pop()).unwrap_or_default();
    let response = ctx.response(target, &points, &u, &u2);
    Ok(Some(CaseEval {
        after,
        points,
        u,
        u2,
        response,
    }))
}

fn counterexample(
    ctx: &Ctx<'_>,
    target: &UnitStats,
    seed: &[u8; 32],
    case: &ShrinkCase,
    ev: &CaseEval,
    original_length: usize,
    runs: usize,
) -> Counterexample {
    // the timestep to show: the largest hypothesis change, then the worst response
    let score = |p: &Point| {
        let d = ctx.direction(target, p.h, p.h2);
        let r = d * f64::from(ev.u2[p.t2] - ev.u[p.t]) / target.sd;
        (f64::from((p.h2 - p.h).abs()), -r)
    };
    let p = ev
        .points
        .iter()
        .copied()
        .max_by(|a, b| {
            let (sa, sb) = (score(a), score(b));
            sa.0.total_cmp(&sb.0)
                .then(sa.1.total_cmp(&sb.1))
                .then(b.t.cmp(&a.t))
        })
        .unwrap_or(Point {
            t: 0,
            t2: 0,
            h: 0.0,
            h2: 0.0,
        });
    let d = ctx.direction(target, p.h, p.h2);
    Counterexample {
        seed: persist::seed_text(seed),
        edit: match ctx.codec {
            Some(c) => format!(
                "{} (of timesteps: {})",
                case.edit.describe(&case.before),
                c.describe(&case.edit.insert)
            ),
            None => case.edit.describe(&case.before),
        },
        before: match ctx.codec {
            Some(c) => c.describe(&case.before),
            None => case.before.iter().collect(),
        },
        after: match ctx.codec {
            Some(c) => c.describe(&ev.after),
            None => ev.after.iter().collect(),
        },
        timestep: p.t,
        timestep_after: p.t2,
        character: ctx
            .steps(&case.before)
            .ok()
            .filter(|s| p.t < s.len())
            .map(|s| {
                s.step_text(p.t)
                    .chars()
                    .map(crate::hypothesis::library::char_label)
                    .collect()
            })
            .unwrap_or_default(),
        hypothesis_before: f64::from(p.h),
        hypothesis_after: f64::from(p.h2),
        unit_before: f64::from(ev.u.get(p.t).copied().unwrap_or(0.0)),
        unit_after: f64::from(ev.u2.get(p.t2).copied().unwrap_or(0.0)),
        expected: if d >= 0.0 { "up" } else { "down" }.to_string(),
        response: ev.response,
        informative_timesteps: ev.points.len(),
        original_length,
        shrink_runs: runs,
    }
}
