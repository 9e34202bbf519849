//! `paths` reproduces the simulator's realized ground truth exactly, on
//! several seeds and flows, through Parquet and through CSV + ingest.

mod common;
use common::*;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// (entries, conversions, net revenue in cents) per arm, from a carts table.
fn per_arm(carts: &DataFrame) -> BTreeMap<String, (u64, u64, i64)> {
    let arm = carts.column("arm").unwrap().str().unwrap();
    let conv = carts.column("converted").unwrap().bool().unwrap();
    let rev = carts.column("revenue").unwrap().f64().unwrap();
    let mut out: BTreeMap<String, (u64, u64, i64)> = BTreeMap::new();
    for i in 0..carts.height() {
        let e = out.entry(arm.get(i).unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += conv.get(i).unwrap() as u64;
        e.2 += (rev.get(i).unwrap() * 100.0).round() as i64;
    }
    out
}

fn truth_per_arm(truth: &serde_json::Value) -> BTreeMap<String, (u64, u64, i64)> {
    truth["arms"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (
                    v["entries"].as_u64().unwrap(),
                    v["conversions"].as_u64().unwrap(),
                    (v["net_revenue"].as_f64().unwrap() * 100.0).round() as i64,
                ),
            )
        })
        .collect()
}

fn check(flow: &Path, seed: u64, carts: usize, ext: &str) {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join(format!("events.{ext}"));
    let truth = dir.path().join("truth.json");
    let out = dir.path().join("carts.parquet");
    let seed = seed.to_string();
    let n = carts.to_string();
    run(&[
        "simulate",
        "--flow",
        s(flow),
        "--carts",
        &n,
        "--seed",
        &seed,
        "--out",
        s(&events),
        "--truth",
        s(&truth),
    ]);
    run(&["paths", s(&events), "--flow", s(flow), "--out", s(&out)]);
    let truth = read_json(&truth);
    let got = per_arm(&read_parquet(&out));
    let want = truth_per_arm(&truth);
    assert_eq!(got, want, "flow {} seed {seed} via {ext}", flow.display());
    let total: u64 = want.values().map(|v| v.0).sum();
    assert!(
        total as usize >= carts * 95 / 100,
        "most carts become entries: {total} of {carts}"
    );
    assert!(truth["injected"]["duplicate_orders"].as_u64().unwrap() > 0);
    assert!(truth["injected"]["late_events"].as_u64().unwrap() > 0);
}

#[test]
fn sample_flow_matches_truth_on_several_seeds() {
    for seed in [1, 2, 3] {
        check(&sample_flow(), seed, 4000, "parquet");
    }
}

#[test]
fn three_arm_flow_with_repeat_customers_matches_truth() {
    for seed in [7, 8] {
        check(&test_flow("three_arms.toml"), seed, 4000, "parquet");
    }
}

#[test]
fn csv_and_ndjson_logs_match_truth_through_ingestion() {
    check(&sample_flow(), 11, 2000, "csv");
    check(&test_flow("three_arms.toml"), 12, 2000, "ndjson");
}

#[test]
fn audit_finds_the_injected_sending_bugs() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.parquet");
    let truth = dir.path().join("truth.json");
    let audit = dir.path().join("audit.json");
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "6000",
        "--seed",
        "5",
        "--out",
        s(&events),
        "--truth",
        s(&truth),
    ]);
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&flow),
        "--out",
        s(&dir.path().join("c.parquet")),
        "--audit",
        s(&audit),
    ]);
    let truth = read_json(&truth);
    let audit = read_json(&audit);
    let injected = |k: &str| truth["injected"][k].as_u64().unwrap_or(0);
    let found = |k: &str| audit["findings"][k]["count"].as_u64().unwrap();
    assert_eq!(
        found("sends_after_purchase"),
        injected("sends_after_purchase")
    );
    assert_eq!(found("sends_to_holdout"), injected("sends_to_holdout"));
    assert!(injected("sends_after_purchase") > 0 && injected("sends_to_holdout") > 0);
    assert!(found("reentries_inside_cooldown") >= injected("reentry_sends"));
    assert!(found("frequency_cap_violations") >= injected("duplicate_sends"));
    assert!(found("out_of_order_steps") >= injected("out_of_order_sends"));
    let carts = read_parquet(&dir.path().join("c.parquet"));
    for k in ["sends_after_purchase", "sends_to_holdout"] {
        let ex = audit["findings"][k]["examples"].as_array().unwrap();
        assert!(!ex.is_empty() && ex.len() <= 5, "{k} has examples");
        // Rows of the carts table, not customer ids.
        let row: usize = ex[0]
            .as_str()
            .unwrap()
            .strip_prefix("carts row ")
            .expect("examples are carts rows")
            .parse()
            .unwrap();
        assert!(row < carts.height());
    }
    assert_eq!(
        audit["duplicate_orders"].as_u64().unwrap(),
        injected("duplicate_orders")
    );
    // A shopper who comes back inside the cooldown and leaves again is a
    // suppressed re-entry, unless an order follows within the abandonment window.
    let suppressed = audit["reentries_suppressed"].as_u64().unwrap();
    assert!(suppressed > 0 && suppressed <= injected("reentry_noise"));
}

/// The same simulated log rendered in a store's export shape, ingested
/// (mappers → order ledger → identity) and reconstructed: the truth again.
fn check_shape(flow: &Path, seed: u64, carts: usize, format: &str, file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join(file);
    let platform = dir.path().join("platform.csv");
    let truth = dir.path().join("truth.json");
    let events = dir.path().join("events.parquet");
    let report = dir.path().join("ingest.json");
    let out = dir.path().join("carts.parquet");
    let seed = seed.to_string();
    let n = carts.to_string();
    run(&[
        "simulate",
        "--flow",
        s(flow),
        "--carts",
        &n,
        "--seed",
        &seed,
        "--format",
        format,
        "--out",
        s(&raw),
        "--platform-out",
        s(&platform),
        "--truth",
        s(&truth),
    ]);
    let mut args = vec!["ingest", s(&raw)];
    if format == "shopify" {
        args.push(s(&platform));
    }
    // `--format auto` (the default) tells each file's shape on its own.
    args.extend(["--out", s(&events), "--report", s(&report)]);
    run(&args);
    run(&["paths", s(&events), "--flow", s(flow), "--out", s(&out)]);
    let truth = read_json(&truth);
    let got = per_arm(&read_parquet(&out));
    assert_eq!(got, truth_per_arm(&truth), "{format} seed {seed}");
    let report = read_json(&report);
    let ledger = &report["ledger"];
    // The books reconcile to the cent.
    let c = |k: &str| (ledger[k].as_f64().unwrap() * 100.0).round() as i64;
    assert_eq!(
        c("gross_revenue") - c("refunded") - c("cancellations"),
        c("net_revenue")
    );
    assert!(
        ledger["duplicate_payloads"].as_u64().unwrap() > 0,
        "{ledger}"
    );
    if format == "shopify" {
        assert!(ledger["test_orders"].as_u64().unwrap() > 0);
        assert!(report["identity"]["aliased"].as_u64().unwrap() > 0);
    }
}

#[test]
fn shopify_webhooks_reconstruct_to_truth() {
    check_shape(&sample_flow(), 21, 2000, "shopify", "webhooks.ndjson");
}

#[test]
fn segment_warehouse_export_reconstructs_to_truth() {
    check_shape(&sample_flow(), 22, 2000, "segment", "segment.csv");
}

#[test]
fn ga4_export_reconstructs_to_truth() {
    check_shape(&test_flow("three_arms.toml"), 23, 2000, "ga4", "ga4.ndjson");
}

#[test]
fn klaviyo_event_pages_reconstruct_to_truth() {
    check_shape(&sample_flow(), 24, 2000, "klaviyo", "klaviyo.ndjson");
}

#[test]
fn klaviyo_pages_imported_twice_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("pages.ndjson");
    let again = dir.path().join("pages-again.ndjson");
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "300",
        "--seed",
        "25",
        "--format",
        "klaviyo",
        "--out",
        s(&pages),
    ]);
    std::fs::copy(&pages, &again).unwrap();
    let once = dir.path().join("once.csv");
    let twice = dir.path().join("twice.csv");
    run(&["ingest", s(&pages), "--out", s(&once), "--flow", s(&flow)]);
    let out = run(&[
        "ingest",
        s(&pages),
        s(&again),
        "--out",
        s(&twice),
        "--flow",
        s(&flow),
    ]);
    assert_eq!(
        std::fs::read_to_string(&once).unwrap(),
        std::fs::read_to_string(&twice).unwrap()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("duplicate_event"));
}
