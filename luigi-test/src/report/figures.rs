//! The report's figures, drawn with plotters' SVG backend.

use plotters::prelude::*;

use crate::error::{Error, Result};

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("drawing {what}"), e.to_string())
}

/// A colour of the diverging map (blue, white, red) for `v` in [-1, 1].
pub(crate) fn diverging(v: f64) -> (u8, u8, u8) {
    let v = if v.is_finite() {
        v.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64, t: f64| (a + (b - a) * t).round() as u8;
    if v >= 0.0 {
        (255, mix(255.0, 80.0, v), mix(255.0, 60.0, v))
    } else {
        let t = -v;
        (mix(255.0, 50.0, t), mix(255.0, 110.0, t), 255)
    }
}

/// The paper's Figure 2: the unit's activation and the hypothesis over the
/// characters of a stretch, as two aligned line plots.
pub(crate) fn unit_and_hypothesis(
    title: &str,
    unit_label: &str,
    unit: &[f32],
    hypothesis_label: &str,
    hypothesis: &[f32],
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(title, e))?;
        let (top, bottom) = root.split_vertically(170);
        let n = unit.len().max(2);
        let range = |v: &[f32]| {
            let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                (lo, hi)
            } else {
                (0.0, 1.0)
            };
            let pad = ((hi - lo) * 0.08).max(0.05);
            (f64::from(lo - pad), f64::from(hi + pad))
        };
        for (area, label, values, color, caption) in [
            (&top, unit_label, unit, RGBColor(200, 40, 40), Some(title)),
            (
                &bottom,
                hypothesis_label,
                hypothesis,
                RGBColor(30, 90, 200),
                None,
            ),
        ] {
            let (lo, hi) = range(values);
            let mut b = ChartBuilder::on(area);
            b.margin(6).x_label_area_size(22).y_label_area_size(56);
            if let Some(c) = caption {
                b.caption(c, ("sans-serif", 15));
            }
            let mut chart = b
                .build_cartesian_2d(0f64..(n - 1) as f64, lo..hi)
                .map_err(|e| err(title, e))?;
            chart
                .configure_mesh()
                .y_desc(label)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .light_line_style(WHITE.mix(0.0))
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(|e| err(title, e))?;
            chart
                .draw_series(LineSeries::new(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (i as f64, f64::from(*v))),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(title, e))?;
        }
        root.present().map_err(|e| err(title, e))?;
    }
    Ok(svg)
}

/// Figure 1: every unit's activation over one sequence, as a heat map
/// (units down, characters across). `values[t][u]`; at most `max_cols`
/// columns (longer sequences are averaged over equal bins, and the caption
/// says so).
pub(crate) fn heatmap(title: &str, values: &[Vec<f32>], max_cols: usize) -> Result<String> {
    let t = values.len();
    let units = values.first().map_or(0, Vec::len);
    let bin = t.div_ceil(max_cols.max(1)).max(1);
    let cols = t.div_ceil(bin);
    let mut binned = vec![vec![0f64; units]; cols];
    for (c, col) in binned.iter_mut().enumerate() {
        let rows = &values[c * bin..((c + 1) * bin).min(t)];
        for (u, v) in col.iter_mut().enumerate() {
            *v = rows.iter().map(|r| f64::from(r[u])).sum::<f64>() / rows.len() as f64;
        }
    }
    let scale = binned
        .iter()
        .flatten()
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(1e-9);
    let caption = if bin > 1 {
        format!("{title} (each column averages {bin} timesteps)")
    } else {
        title.to_string()
    };
    let mut svg = String::new();
    {
        let h = (units * 4).clamp(120, 640) as u32 + 60;
        let root = SVGBackend::with_string(&mut svg, (900, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..(cols * bin) as f64, 0f64..units as f64)
            .map_err(|e| err(title, e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("character")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("unit")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| err(title, e))?;
        chart
            .draw_series(binned.iter().enumerate().flat_map(|(c, col)| {
                col.iter().enumerate().map(move |(u, v)| {
                    let (r, g, b) = diverging(v / scale);
                    Rectangle::new(
                        [
                            ((c * bin) as f64, u as f64),
                            (((c + 1) * bin) as f64, (u + 1) as f64),
                        ],
                        RGBColor(r, g, b).filled(),
                    )
                })
            }))
            .map_err(|e| err(title, e))?;
        root.present().map_err(|e| err(title, e))?;
    }
    Ok(svg)
}

/// Figure 3b: a 2-D projection coloured by class. `points` are (x, y,
/// class index); at most `max_points` are drawn (an even sample, said in
/// the caption).
pub(crate) fn scatter(
    title: &str,
    axes: (&str, &str),
    points: &[(f64, f64, usize)],
    classes: &[String],
    max_points: usize,
) -> Result<String> {
    let step = points.len().div_ceil(max_points.max(1)).max(1);
    let shown: Vec<&(f64, f64, usize)> = points.iter().step_by(step).collect();
    let caption = if step > 1 {
        format!(
            "{title} ({} of {} points, every {step}th)",
            shown.len(),
            points.len()
        )
    } else {
        title.to_string()
    };
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y, _) in &shown {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if !x0.is_finite() || !y0.is_finite() {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    let px = ((x1 - x0) * 0.05).max(1e-6);
    let py = ((y1 - y0) * 0.05).max(1e-6);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
            .map_err(|e| err(title, e))?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| err(title, e))?;
        for (k, class) in classes.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(
                    shown
                        .iter()
                        .filter(|p| p.2 == k)
                        .map(|p| Circle::new((p.0, p.1), 2, color.mix(0.6).filled())),
                )
                .map_err(|e| err(title, e))?
                .label(class.clone())
                .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(|e| err(title, e))?;
        root.present().map_err(|e| err(title, e))?;
    }
    Ok(svg)
}

/// A small line of `values` (at most `max_points`, evenly sampled) for the
/// unit index.
pub(crate) fn sparkline(values: &[f32], max_points: usize) -> Result<String> {
    let step = values.len().div_ceil(max_points.max(1)).max(1);
    let shown: Vec<f32> = values.iter().step_by(step).copied().collect();
    let lo = shown.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = shown.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0), lo.max(0.0) + 1.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (160, 24)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .build_cartesian_2d(
                0f64..shown.len().max(2) as f64,
                f64::from(lo)..f64::from(hi),
            )
            .map_err(|e| err("a sparkline", e))?;
        chart
            .draw_series(LineSeries::new(
                shown
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, f64::from(*v))),
                RGBColor(80, 80, 80).stroke_width(1),
            ))
            .map_err(|e| err("a sparkline", e))?;
        root.present().map_err(|e| err("a sparkline", e))?;
    }
    Ok(svg)
}
