//! The page, built with maud (every interpolated string is escaped).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::figures::diverging;
use super::{Context, Page, PairingView, UnitView};

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f4f4f4; }
table.header td:first-child { font-weight: 600; white-space: nowrap; }
code, .mono { font-family: ui-monospace, monospace; }
.text { font-family: ui-monospace, monospace; line-height: 2.1em; }
.text span { display: inline-block; min-width: 0.62em; text-align: center; border-bottom: 4px solid transparent; white-space: pre; }
.ctx { font-family: ui-monospace, monospace; white-space: pre; }
.ctx mark { background: #ffd54f; font-weight: 700; }
.legend span { display: inline-block; width: 2.2em; text-align: center; font-size: 0.8em; }
.figure svg { max-width: 100%; height: auto; }
details summary { cursor: pointer; }
.unit { display: flex; gap: 1em; align-items: center; border-bottom: 1px solid #f0f0f0; }
.unit .name { width: 4em; font-weight: 600; }
.unit .best { width: 24em; font-size: 0.85em; }
.note { color: #8a4b00; }
"#;

fn rgb((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A character as shown: newline as ⏎, tab as →.
fn visible(c: char) -> String {
    match c {
        '\n' => "⏎".to_string(),
        '\t' => "→".to_string(),
        c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
        c => c.to_string(),
    }
}

fn context_rows(rows: &[Context]) -> Markup {
    html! {
        table {
            tr { th { "value" } th { "sequence:position" } th { "context (trigger marked)" } }
            @for c in rows {
                tr {
                    td { (format!("{:+.3}", c.value)) }
                    td class="mono" { (c.sequence) ":" (c.position) }
                    td class="ctx" {
                        (c.before.chars().map(visible).collect::<String>())
                        mark { (c.trigger.chars().map(visible).collect::<String>()) }
                        (c.after.chars().map(visible).collect::<String>())
                    }
                }
            }
        }
    }
}

fn pairing(p: &PairingView) -> Markup {
    html! {
        section id=(p.anchor) {
            h3 { "`" (p.hypothesis) "` and unit " (p.unit) }
            table {
                @for (k, v) in &p.scores { tr { td { (k) } td class="mono" { (v) } } }
            }
            h4 { "(a) The unit and the hypothesis over a stretch of text" }
            div class="figure" { (PreEscaped(&p.figure)) }
            p { "Also as " a href=(p.figure_file) { (p.figure_file) } "." }
            h4 { "(b) The text, coloured by the unit" }
            p class="legend" {
                "unit: "
                @for v in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                    span style=(format!("background:{}", rgb(diverging(v)))) { (format!("{v:+.1}")) }
                }
                " (of its largest |activation|); the bar under a timestep (a character, or a token) is the hypothesis (darker = higher). Sequence "
                (p.stretch_at.0) ", from timestep " (p.stretch_at.1) "."
            }
            div class="text" {
                @for (c, u, h, ru, rh) in &p.text {
                    span title=(format!("{:?}: unit {ru:+.3}, hypothesis {rh}", c))
                        style=(format!("background:{};border-bottom-color:rgba(30,90,200,{:.2})", rgb(diverging(*u)), h)) {
                        (c.chars().map(visible).collect::<String>())
                    }
                    @if c.ends_with('\n') { br; }
                }
            }
            h4 { "(c) Where the unit is highest" }
            (context_rows(&p.top))
            h4 { "Where it is lowest" }
            (context_rows(&p.bottom))
            @if let Some(v) = &p.verification {
                h4 { "(d) Verification" }
                pre class="mono" { (v) }
            }
        }
    }
}

fn unit(u: &UnitView) -> Markup {
    html! {
        div class="unit" {
            span class="name" { (u.unit) }
            span class="best" {
                @for (i, (h, s)) in u.best.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (h) } " " (format!("{s:.2}"))
                }
            }
            span { (PreEscaped(&u.sparkline)) }
            details {
                summary { "contexts" }
                (context_rows(&u.top))
                (context_rows(&u.bottom))
            }
        }
    }
}

/// The page.
pub(crate) fn render(page: &Page) -> String {
    let m = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (page.title) }
                table class="header" {
                    @for (k, v) in &page.header { tr { td { (k) } td class="mono" { (v) } } }
                }
                @if !page.notes.is_empty() {
                    details class="note" {
                        summary { (page.notes.len()) " notes on the inputs (flagged hypotheses: rare, constant, position-like)" }
                        ul { @for n in &page.notes { li { (n) } } }
                    }
                }
                h2 id="ranking" { (page.table_title) }
                table id="ranking-table" {
                    tr { @for h in &page.table_head { th { (h) } } }
                    @for (row, a) in page.table.iter().zip(&page.anchors) {
                        tr {
                            @for (i, cell) in row.iter().enumerate() {
                                @if i == 0 {
                                    @if let Some(a) = a {
                                        td { a href=(format!("#{a}")) { (cell) } }
                                    } @else {
                                        td { (cell) }
                                    }
                                } @else {
                                    td class="mono" { (cell) }
                                }
                            }
                        }
                    }
                }
                h2 id="pairings" { "Pairings" }
                @for p in &page.pairings { (pairing(p)) }
                @if let Some((file, svg)) = &page.figure1 {
                    h2 id="figure1" { "Figure 1: every unit over one sequence" }
                    div class="figure" { (PreEscaped(svg)) }
                    p { "Also as " a href=(file) { (file) } "." }
                }
                @if !page.figure3.is_empty() {
                    h2 id="figure3b" { "Figure 3b: the layer projected on its two principal components" }
                    @for (file, h, svg) in &page.figure3 {
                        h3 { (h) }
                        div class="figure" { (PreEscaped(svg)) }
                        p { "Also as " a href=(file) { (file) } "." }
                    }
                }
                @if !page.units.is_empty() {
                    h2 id="units" { "Units" }
                    p { "Each unit's best hypotheses (score), its activation over the longest sequence, and its contexts." }
                    @for u in &page.units { (unit(u)) }
                }
            }
        }
    };
    m.into_string()
}
