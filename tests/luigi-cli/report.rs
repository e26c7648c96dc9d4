//! `luigi report` through the real binary: the page's structure, escaping
//! of hostile corpus text, and the page as a browser renders it.

use std::path::Path;

use super::{fixture, luigi, root, text};

/// A corpus with everything a page must escape.
const HOSTILE: &str = "ab <script>alert(1)</script> x\n\
                       a & b \"quoted\" 'single' (c)\n\
                       é ü 猫 <b>bold</b> ]]> -->\n\
                       {x; y} (a (b) c) abc\n";

fn report(dir: &Path, corpus: &Path, extra: &[&str]) -> std::process::Output {
    let card = fixture("lstm_ids.luigi.yaml");
    let out = dir.join("report");
    let mut args = vec![
        "report",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--layer",
        "lstm",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    luigi(&args)
}

#[test]
fn report_page_has_every_section_and_escapes_corpus_text() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("hostile.txt");
    std::fs::write(&corpus, HOSTILE.repeat(6)).unwrap();
    let o = report(d.path(), &corpus, &["--pairings", "4", "--fast"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = d.path().join("report");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    // no corpus text became markup
    assert!(
        !html.contains("<script>"),
        "a <script> from the corpus reached the page"
    );
    assert!(!html.contains("<b>bold"), "corpus markup reached the page");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&lt;"),
        "escaped text is shown"
    );
    assert!(
        html.contains('猫') && html.contains('é'),
        "non-ASCII text is kept"
    );
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no external requests"
    );
    let page = scraper::Html::parse_document(&html);
    assert!(
        page.errors.is_empty(),
        "HTML parse errors: {:?}",
        page.errors
    );
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(page.select(&sel("script")).count(), 0);
    for id in ["#ranking", "#pairings", "#figure1", "#units"] {
        assert_eq!(page.select(&sel(id)).count(), 1, "no {id}");
    }
    // the ranking shows the within-token score it is ordered by
    let head: Vec<String> = page
        .select(&sel("#ranking-table th"))
        .map(|t| t.text().collect::<String>())
        .collect();
    assert!(head.iter().any(|h| h == "within"), "{head:?}");
    // every ranked row of the top pairings links to its section
    let links: Vec<String> = page
        .select(&sel("#ranking-table a"))
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for l in &links {
        assert_eq!(page.select(&sel(l)).count(), 1, "link {l} has no target");
    }
    // each pairing: a figure, coloured text, contexts
    let sections: Vec<_> = page.select(&sel("#pairings ~ section")).collect();
    assert_eq!(sections.len(), 4);
    for s in &sections {
        assert_eq!(s.select(&sel("svg")).count(), 1);
        assert!(s.select(&sel(".text span")).count() > 10);
        assert!(s.select(&sel(".ctx mark")).count() >= 2);
    }
    // one unit entry per unit, each with a sparkline
    assert_eq!(page.select(&sel(".unit")).count(), 8);
    // every figure file parses as SVG (XML) and is also inline
    let mut figures = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let svg = std::fs::read_to_string(&p).unwrap();
            let doc = roxmltree::Document::parse(&svg)
                .unwrap_or_else(|e| panic!("{} is not valid SVG: {e}", p.display()));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            figures += 1;
        }
    }
    assert_eq!(figures, 5, "4 pairings and figure 1");
    // the inline SVGs too (hypothesis names like `char(<)` appear in captions)
    for s in page.select(&sel("svg")) {
        roxmltree::Document::parse(&s.html()).unwrap_or_else(|e| panic!("inline SVG: {e}"));
    }
}

#[test]
fn report_setup_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.txt");
    std::fs::write(&corpus, "ab (c)\n").unwrap();
    let o = report(d.path(), &corpus, &["--pca", "nosuch"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--pca nosuch"), "{}", text(&o));
}

/// The report as a person sees it: headless Chromium renders it to a PNG.
/// Skipped, saying so, when no browser is installed, unless
/// `LUIGI_REQUIRE_BROWSER=1` (set by `.ci/run`), which makes it fail.
#[test]
fn report_renders_in_a_browser_without_console_errors() {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(browser) = browser else {
        assert!(
            std::env::var("LUIGI_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "LUIGI_REQUIRE_BROWSER=1 but no chromium is installed"
        );
        eprintln!("SKIPPED report_renders_in_a_browser_without_console_errors: no chromium, chromium-browser or google-chrome on PATH (install Debian's `chromium`)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let corpus = root().join("examples/boolean/heldout.txt");
    let card = root().join("examples/boolean/boolean.luigi.yaml");
    let out = d.path().join("report");
    let o = luigi(&[
        "report",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--fast",
        "--pairings",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let png = d.path().join("shot.png");
    let url = format!("file://{}", out.join("index.html").display());
    let shot = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
            "--window-size=1200,1600",
            &format!("--user-data-dir={}", d.path().join("profile").display()),
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&shot.stderr).to_string();
    assert!(shot.status.success(), "{browser} failed: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    // the image is not blank: many distinct colours, and not all white
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let mut colours = std::collections::BTreeSet::new();
    let mut non_white = 0usize;
    for p in buf[..info.buffer_size()].chunks(px) {
        if p[..3] != [255, 255, 255] {
            non_white += 1;
        }
        if colours.len() < 1000 {
            colours.insert(p[..3].to_vec());
        }
    }
    let total = info.buffer_size() / px;
    assert!(
        colours.len() > 50,
        "only {} colours: blank page?",
        colours.len()
    );
    assert!(
        non_white * 50 > total,
        "{non_white} of {total} pixels are not white"
    );
}

#[test]
fn a_report_of_every_layer_names_the_layer_of_each_unit() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("report");
    let o = luigi(&[
        "report",
        root()
            .join("examples/dyck/dyck.luigi.yaml")
            .to_str()
            .unwrap(),
        "--corpus",
        root().join("examples/dyck/heldout.txt").to_str().unwrap(),
        "--layer",
        "all",
        "--pairings",
        "2",
        "--fast",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // The header lists the recorded tensors; the ranking's best unit for
    // "inside" is the second block's MLP unit, named with its layer.
    assert!(
        html.contains("attn1+mlp1+resid1+attn2+mlp2+resid2"),
        "no layer list in the header"
    );
    let page = scraper::Html::parse_document(&html);
    let cell = scraper::Selector::parse("td").unwrap();
    let cells: Vec<String> = page.select(&cell).map(|c| c.text().collect()).collect();
    let at = cells
        .iter()
        .position(|c| c == "inside(()")
        .unwrap_or_else(|| panic!("no inside(() row"));
    assert_eq!(cells[at + 1], "mlp2:27");
}
