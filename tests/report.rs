//! `cartlift report` on the bundled sample: every file is written, the
//! summary agrees exactly with the single-purpose commands, the charts are
//! real SVG and PNG, and the page is self-contained and renders in Chromium.

mod common;

use common::*;
use resvg::tiny_skia::Pixmap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const FILES: [&str; 9] = [
    "summary.json",
    "lift.json",
    "audit.json",
    "data/carts.parquet",
    "data/touches.parquet",
    "data/quarantine.csv",
    "recommended_flow.toml",
    "index.html",
    "charts",
];

const CHARTS: [&str; 8] = [
    "lift_revenue_per_recipient",
    "lift_net_contribution_per_recipient",
    "lift_conversion_rate",
    "cumulative_incremental_revenue",
    "step_funnel",
    "attribution_vs_holdout",
    "guardrails",
    "data_quality",
];

fn events() -> PathBuf {
    root().join("data/sample/events.csv")
}

/// The report of the sample, made once for every test in this file.
fn report() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("report");
        run(&[
            "report",
            s(&events()),
            "--flow",
            s(&sample_flow()),
            "--out",
            s(&out),
        ]);
        (dir, out)
    })
    .1
}

fn summary() -> Value {
    read_json(&report().join("summary.json"))
}

#[test]
fn report_writes_every_file() {
    for name in FILES {
        assert!(report().join(name).exists(), "{name} is missing");
    }
    let summary = summary();
    for key in [
        "ingest",
        "audit",
        "headline",
        "lift",
        "attribution",
        "timeline",
        "funnel",
        "guardrails",
        "stamp",
    ] {
        assert!(!summary[key].is_null(), "summary.json has no `{key}`");
    }
    assert_eq!(read_json(&report().join("lift.json")), summary["lift"]);
    assert_eq!(read_json(&report().join("audit.json")), summary["audit"]);
}

#[test]
fn summary_lift_matches_the_lift_command() {
    let summary = summary();
    let planned = summary["entries"].as_u64().expect("entries").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("lift.json");
    run(&[
        "lift",
        s(&events()),
        "--flow",
        s(&sample_flow()),
        "--segment-by",
        "cart_value_band,customer_status",
        "--cuped",
        "--sequential",
        "--planned-n",
        &planned,
        "--json",
        s(&json),
    ]);
    assert_eq!(read_json(&json), summary["lift"]);
}

#[test]
fn summary_attribution_matches_the_attribute_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("attribution.json");
    run(&[
        "attribute",
        s(&events()),
        "--flow",
        s(&sample_flow()),
        "--json",
        s(&json),
    ]);
    let summary = summary();
    assert_eq!(read_json(&json), summary["attribution"]);
    let side = &summary["attribution"][0]["side_by_side"];
    assert_eq!(
        side.as_array().map(Vec::len),
        Some(8),
        "every standard model"
    );
}

#[test]
fn summary_dashboard_matches_attribute_platform_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("platform.json");
    run(&[
        "attribute",
        s(&events()),
        "--flow",
        s(&sample_flow()),
        "--platform-default",
        "--models",
        "last_touch",
        "--json",
        s(&json),
    ]);
    let platform = read_json(&json);
    let summary = summary();
    let d = &summary["dashboard"][0];
    let side = &platform[0]["side_by_side"][0];
    assert_eq!(d["attributed_revenue"], side["credited_revenue"]);
    assert_eq!(d["over_attribution_ratio"], side["over_attribution_ratio"]);
    // The dashboard claims more than the holdout measures on the sample.
    assert!(d["over_attribution_ratio"].as_f64().unwrap() > 1.0);
}

#[test]
fn summary_audit_and_tables_match_the_paths_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (carts, touches, audit) = (
        dir.path().join("carts.parquet"),
        dir.path().join("touches.parquet"),
        dir.path().join("audit.json"),
    );
    run(&[
        "paths",
        s(&events()),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&carts),
        "--touches",
        s(&touches),
        "--audit",
        s(&audit),
    ]);
    assert_eq!(read_json(&audit), summary()["audit"]);
    for (ours, theirs) in [
        ("data/carts.parquet", &carts),
        ("data/touches.parquet", &touches),
    ] {
        let a = read_parquet(&report().join(ours));
        let b = read_parquet(theirs);
        assert!(a.equals_missing(&b), "{ours} differs from `cartlift paths`");
    }
}

#[test]
fn headline_timeline_and_funnel_agree() {
    let summary = summary();
    let headline = &summary["headline"][0];
    let total = headline["incremental_revenue"]["estimate"]
        .as_f64()
        .expect("incremental revenue");
    let points = summary["timeline"][0]["points"].as_array().expect("points");
    let last = points.last().expect("a point per entry date");
    let cumulative = last["incremental_revenue"].as_f64().expect("last point");
    assert!(
        (cumulative - total).abs() <= 1e-6 * total.abs(),
        "timeline ends at {cumulative}, headline says {total}"
    );
    assert_eq!(last["entries"], summary["entries"]);
    let band = &last["sequential_ci"];
    let ci = &headline["incremental_revenue"]["ci"];
    assert!(band["lower"].as_f64() < ci["lower"].as_f64());
    assert!(band["upper"].as_f64() > ci["upper"].as_f64());
    let sent: u64 = summary["funnel"]
        .as_array()
        .expect("funnel")
        .iter()
        .map(|r| r["sent"].as_u64().unwrap_or(0) + r["suppressed"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(Some(sent), summary["audit"]["touches"].as_u64());
}

#[test]
fn stamp_names_version_config_and_inputs() {
    let stamp = summary()["stamp"].clone();
    assert_eq!(stamp["cartlift_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(stamp["seed"], Value::Null);
    assert_eq!(stamp["flow_text"], "normalized");
    assert_eq!(stamp["flow_sha256"].as_str().map(str::len), Some(64));
    let bytes = std::fs::read(events()).expect("sample events");
    assert_eq!(stamp["inputs"][0]["sha256"], sha256(&bytes));
    assert_eq!(stamp["inputs"][0]["bytes"], bytes.len() as u64);
}

#[test]
fn demo_stamps_the_flow_file_as_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo");
    run(&["demo", "--out", s(&out)]);
    let stamp = read_json(&out.join("summary.json"))["stamp"].clone();
    let flow = std::fs::read(sample_flow()).expect("sample flow");
    assert_eq!(stamp["flow_text"], "file");
    assert_eq!(stamp["flow_sha256"], sha256(&flow));
    assert!(out.join("index.html").exists());

    // Files are named as the user sees them, never by the staging folder
    // the report was built in (renamed away at the end).
    for file in [
        "summary.json",
        "index.html",
        "data/quarantine.csv",
        "targeting/summary.json",
        "targeting/data/quarantine.csv",
    ] {
        let text = std::fs::read_to_string(out.join(file)).expect(file);
        assert!(
            !text.contains("cartlift-staging"),
            "{file} names the staging folder"
        );
    }

    // The second sample: a targeting experiment the demo simulates, whose
    // learned policy becomes a branched next flow that the simulator runs.
    let targeting = out.join("targeting");
    assert!(targeting.join("index.html").exists());
    let learned = read_json(&targeting.join("summary.json"))["learned_policy"].clone();
    assert_eq!(learned["decision"]["recommend"], "policy_tree", "{learned}");
    let next = std::fs::read_to_string(targeting.join("recommended_flow.toml")).expect("next flow");
    let next = cartlift::config::FlowConfig::parse(&next).expect("the next flow parses");
    assert!(next.arms.iter().any(|a| a.branches.len() >= 2), "{next:?}");
    cartlift::simulate::check(&next).expect("the simulator runs the next flow");
    let html = std::fs::read_to_string(targeting.join("index.html")).expect("page");
    for chart in [
        "policy_tree",
        "policy_values",
        "policy_gains",
        "policy_qini",
    ] {
        let svg = std::fs::read_to_string(targeting.join("charts").join(format!("{chart}.svg")))
            .unwrap_or_else(|e| panic!("{chart}.svg: {e}"));
        assert!(
            svg.contains("<path") || svg.contains("<polyline"),
            "{chart}.svg"
        );
        assert!(
            html.contains(&format!("charts/{chart}.svg")),
            "{chart} is on the page"
        );
    }
}

#[test]
fn every_chart_is_a_real_svg_and_png() {
    let dir = report().join("charts");
    for name in CHARTS {
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert!(svg.len() > 1024, "{name}.svg is only {} bytes", svg.len());
        let shapes = [
            "<path",
            "<rect",
            "<line",
            "<polyline",
            "<polygon",
            "<circle",
        ]
        .iter()
        .map(|tag| svg.matches(tag).count())
        .sum::<usize>();
        assert!(shapes >= 5, "{name}.svg has only {shapes} shapes");
        let png = std::fs::read(dir.join(format!("{name}.png"))).expect("png");
        assert!(png.len() > 2048 && png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let image = Pixmap::decode_png(&png).unwrap_or_else(|e| panic!("{name}.png: {e}"));
        assert!(distinct_colors(&image) > 8, "{name}.png looks blank");
    }
}

#[test]
fn page_is_self_contained_and_shows_the_summary() {
    let html = std::fs::read_to_string(report().join("index.html")).expect("index.html");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="));
    assert!(html.contains("name=\"viewport\""), "responsive viewport");
    assert!(html.matches("<svg").count() >= CHARTS.len());
    let summary = summary();
    let incremental = summary["headline"][0]["incremental_revenue"]["estimate"]
        .as_f64()
        .expect("incremental revenue");
    let shown = format!("${}", thousands(incremental.round() as i64));
    assert!(
        html.contains(&shown),
        "the headline {shown} is not on the page"
    );
    // The sample has one treatment arm: the page says why there is no policy.
    assert!(
        html.contains("No policy from this flow")
            && html.contains("at least two randomized treatment arms")
    );
    for finding in summary["audit"]["findings"]
        .as_object()
        .expect("findings")
        .keys()
    {
        assert!(
            html.contains(&finding.replace('_', " ")),
            "audit finding {finding}"
        );
    }
}

#[test]
fn page_renders_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipping: /usr/bin/chromium is not installed (CI installs it)");
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let shot = tmp.path().join("shot.png");
    let log = tmp.path().join("chromium.log");
    let page = report().join("index.html");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .spawn()
        .expect("chromium starts");
    let status = wait_at_most(&mut child, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "chromium failed:\n{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains(":CONSOLE("),
            "the page logged: {line}"
        );
    }
    let image = Pixmap::load_png(&shot).expect("a PNG screenshot");
    assert_eq!((image.width(), image.height()), (1200, 3000));
    assert!(distinct_colors(&image) > 50, "the screenshot looks blank");
}

fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("chromium status") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Distinct colors on a coarse grid of the image.
fn distinct_colors(image: &Pixmap) -> usize {
    let mut seen = std::collections::HashSet::new();
    let (w, h) = (image.width(), image.height());
    for y in (0..h).step_by(7) {
        for x in (0..w).step_by(7) {
            if let Some(p) = image.pixel(x, y) {
                seen.insert((p.red(), p.green(), p.blue(), p.alpha()));
            }
        }
    }
    seen.len()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[test]
fn report_on_an_exploration_flow_carries_the_policy_and_the_next_flow() {
    let dir = tempfile::tempdir().unwrap();
    let flow = root().join("data/sample/explore.toml");
    let ev = dir.path().join("ev.parquet");
    let out = dir.path().join("rep");
    let pol = dir.path().join("policy.json");
    let next = dir.path().join("next.toml");
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "20000",
        "--seed",
        "4",
        "--out",
        s(&ev),
    ]);
    run(&["report", s(&ev), "--flow", s(&flow), "--out", s(&out)]);
    run(&[
        "policy",
        s(&ev),
        "--flow",
        s(&flow),
        "--json",
        s(&pol),
        "--write-flow",
        s(&next),
    ]);
    let summary = read_json(&out.join("summary.json"));
    assert!(summary["policy_note"].is_null());
    assert_eq!(summary["policy"], read_json(&pol));
    let recommended = std::fs::read_to_string(out.join("recommended_flow.toml")).unwrap();
    cartlift::config::FlowConfig::parse(&recommended).expect("the next flow is a valid flow file");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("class=\"policy\""));
    // The tree learned over the carts' covariates, valued on held-out folds.
    let learned = &summary["learned_policy"];
    assert!(summary["learned_policy_note"].is_null());
    assert_eq!(learned["control"], "holdout");
    assert_eq!(learned["reported_on"], "held-out folds");
    assert_eq!(learned["rankings"].as_array().unwrap().len(), 4);
    assert!(html.contains("class=\"policy learned\""));
}
