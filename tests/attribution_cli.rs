//! Attribution through the CLI: path-table mode matches ChannelAttribution's
//! heuristics on the committed reference table, and on simulated logs the
//! credit calibrated to the holdout recovers the true per-step incremental
//! revenue better than any heuristic's raw credit.

mod common;
use common::*;
use std::collections::BTreeMap;

#[test]
fn path_table_mode_matches_channel_attribution_heuristics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("attr.json");
    // Same table with a semicolon delimiter and spaces around separators.
    let original = std::fs::read_to_string(root().join("tests/reference/data/paths.csv")).unwrap();
    let semicolon = dir.path().join("paths.csv");
    std::fs::write(
        &semicolon,
        original.replace(',', ";").replace(" > ", "  >   "),
    )
    .unwrap();
    run(&[
        "attribute",
        "--paths",
        s(&semicolon),
        "--value-col",
        "total_conversion_value",
        "--null-col",
        "total_null",
        "--json",
        s(&out),
    ]);
    let got = read_json(&out);
    let expected = read_json(&root().join("tests/reference/data/expected.json"));
    for (ours, theirs) in [
        ("first_touch", "first"),
        ("last_touch", "last"),
        ("linear", "linear"),
    ] {
        let model = got["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == ours)
            .unwrap();
        for ch in model["channels"].as_array().unwrap() {
            let name = ch["channel"].as_str().unwrap();
            let want = &expected["channel_attribution"]["heuristics"][theirs][name];
            for (k, field) in ["conversions", "value"].iter().enumerate() {
                let (a, b) = (ch[field].as_f64().unwrap(), want[k].as_f64().unwrap());
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{ours} {name} {field}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn calibrated_credit_beats_every_heuristic_on_true_step_effects() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("ev.parquet");
    let truth = dir.path().join("truth.json");
    let out = dir.path().join("attr.json");
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "20000",
        "--seed",
        "5",
        "--out",
        s(&events),
        "--truth",
        s(&truth),
    ]);
    run(&[
        "attribute",
        s(&events),
        "--flow",
        s(&flow),
        "--json",
        s(&out),
    ]);
    let truth = read_json(&truth);
    let entries = truth["arms"]["flow"]["entries"].as_f64().unwrap();
    let true_step: BTreeMap<String, f64> = truth["steps"]["flow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!("step {}", s["step"]),
                s["incremental_revenue_per_entry"].as_f64().unwrap() * entries,
            )
        })
        .collect();
    let report = read_json(&out);
    let arm = &report[0];
    let mut raw_errors = BTreeMap::new();
    let mut calibrated_errors = BTreeMap::new();
    for m in arm["side_by_side"].as_array().unwrap() {
        let (mut raw, mut cal) = (0.0, 0.0);
        for ch in m["channels"].as_array().unwrap() {
            let t = true_step[ch["channel"].as_str().unwrap()];
            raw += (ch["credited_revenue"].as_f64().unwrap() - t).abs();
            cal += (ch["calibrated_revenue"].as_f64().unwrap() - t).abs();
        }
        raw_errors.insert(m["model"].as_str().unwrap().to_string(), raw);
        calibrated_errors.insert(m["model"].as_str().unwrap().to_string(), cal);
    }
    println!("true per-step incremental revenue: {true_step:?}");
    println!("absolute error, raw credit: {raw_errors:?}");
    println!("absolute error, calibrated to the holdout: {calibrated_errors:?}");
    let best_raw = raw_errors.values().cloned().fold(f64::INFINITY, f64::min);
    for (model, err) in &calibrated_errors {
        assert!(
            *err < best_raw,
            "calibrated {model} error {err} ≥ best heuristic error {best_raw}"
        );
    }
    let ratio = arm["side_by_side"][0]["over_attribution_ratio"]
        .as_f64()
        .unwrap();
    assert!(
        ratio > 1.5,
        "platform-style credit over-attributes: {ratio}"
    );
}

#[test]
fn unknown_model_and_bad_path_table_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "path,total_conversions\nemail > sms,3\nemail,lots\n").unwrap();
    let out = bin()
        .args(["attribute", "--paths", s(&bad)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains('3') && err.contains("total_conversions"),
        "{err}"
    );
    let out = bin()
        .args(["attribute", "--paths", s(&bad), "--models", "magic"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model `magic`"));
}
