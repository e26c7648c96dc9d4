//! Plain-text helpers shared by reports and tables: aligned columns,
//! tidy paths, q-values.

/// A path with `dir/../` pairs removed, as `file!()` of a test target
/// outside its crate's folder gives them (`luigi-test/../tests/x.rs`).
pub(crate) fn tidy(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            ".." if parts.last().is_some_and(|l| *l != ".." && !l.is_empty()) => {
                parts.pop();
            }
            "." if !parts.is_empty() => {}
            _ => parts.push(p),
        }
    }
    parts.join("/")
}

/// A small left-aligned text table.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.iter().map(|s| s.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// A q- or p-value for reports.
pub(crate) fn fmt_q(q: Option<f64>) -> String {
    match q {
        Some(0.0) => "<1e-300".to_string(),
        Some(q) if q < 1e-3 => format!("{q:.1e}"),
        Some(q) => format!("{q:.3}"),
        None => "-".to_string(),
    }
}
