//! Property: the same payloads in any order, some of them repeated, give
//! byte-identical canonical events, the same ledger, carts and lift output,
//! in every shape a store exports; and `read = accepted + quarantined`.

mod common;
use common::*;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Shape {
    /// Header line (CSV) kept first.
    header: Option<String>,
    lines: Vec<String>,
    /// Files read beside the shuffled one, unchanged.
    extra: Vec<PathBuf>,
    ext: &'static str,
    baseline: Outputs,
}

#[derive(Debug, PartialEq)]
struct Outputs {
    events: String,
    ledger: serde_json::Value,
    identity: serde_json::Value,
    carts: Vec<u8>,
    lift: String,
}

fn outputs(dir: &Path, inputs: &[PathBuf]) -> Outputs {
    let events = dir.join("events.csv");
    let report = dir.join("ingest.json");
    let carts = dir.join("carts.parquet");
    let lift = dir.join("lift.json");
    let mut args = vec!["ingest".to_string()];
    args.extend(inputs.iter().map(|p| s(p).to_string()));
    args.extend(["--out", s(&events), "--report", s(&report)].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args);
    let r = read_json(&report);
    assert_eq!(
        r["read"].as_u64().unwrap(),
        r["accepted"].as_u64().unwrap() + r["quarantined"].as_u64().unwrap()
    );
    let flow = sample_flow();
    run(&["paths", s(&events), "--flow", s(&flow), "--out", s(&carts)]);
    run(&["lift", s(&carts), "--flow", s(&flow), "--json", s(&lift)]);
    let mut ledger = r["ledger"].clone();
    // How many repeats were read is bookkeeping of the input, not of the books.
    ledger["duplicate_payloads"] = serde_json::Value::Null;
    Outputs {
        events: std::fs::read_to_string(&events).unwrap(),
        ledger,
        identity: r["identity"].clone(),
        carts: std::fs::read(&carts).unwrap(),
        lift: std::fs::read_to_string(&lift).unwrap(),
    }
}

fn shape(format: &str, file: &'static str, ext: &'static str) -> Shape {
    let dir = tempfile::tempdir().unwrap().keep();
    let raw = dir.join(file);
    let platform = dir.join("platform.csv");
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        "150",
        "--seed",
        "41",
        "--format",
        format,
        "--out",
        s(&raw),
        "--platform-out",
        s(&platform),
    ]);
    let text = std::fs::read_to_string(&raw).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header = (ext == "csv").then(|| lines.remove(0));
    let extra = if format == "shopify" {
        vec![platform]
    } else {
        vec![]
    };
    let mut inputs = vec![raw];
    inputs.extend(extra.iter().cloned());
    let baseline = outputs(&dir, &inputs);
    Shape {
        header,
        lines,
        extra,
        ext,
        baseline,
    }
}

fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        vec![
            shape("shopify", "webhooks.ndjson", "ndjson"),
            shape("segment", "segment.csv", "csv"),
            shape("ga4", "ga4.ndjson", "ndjson"),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_and_repeated_payloads_change_nothing(which in 0usize..3, seed in any::<u64>()) {
        let shape = &shapes()[which];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut lines = shape.lines.clone();
        let repeats: Vec<String> = lines
            .iter()
            .filter(|_| rng.random_bool(0.1))
            .cloned()
            .collect();
        lines.extend(repeats);
        lines.shuffle(&mut rng);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("shuffled.{}", shape.ext));
        let mut text = String::new();
        if let Some(h) = &shape.header {
            text.push_str(h);
            text.push('\n');
        }
        text.push_str(&lines.join("\n"));
        text.push('\n');
        std::fs::write(&file, text).unwrap();
        let mut inputs = vec![file];
        inputs.extend(shape.extra.iter().cloned());
        let got = outputs(dir.path(), &inputs);
        prop_assert_eq!(&got.events, &shape.baseline.events);
        prop_assert_eq!(&got.ledger, &shape.baseline.ledger);
        prop_assert_eq!(&got.identity, &shape.baseline.identity);
        prop_assert_eq!(&got.carts, &shape.baseline.carts);
        prop_assert_eq!(&got.lift, &shape.baseline.lift);
    }
}
