//! `cartlift sql` through the CLI: the SQL of each dialect is byte-identical
//! to its golden file (tests/data/sql/; `CARTLIFT_BLESS=1 cargo test --test
//! sql_cli` rewrites them after an intended change), takes every number from
//! the flow file, and refuses what it cannot express. That the SQL runs and
//! agrees with the single-machine pipeline is checked on DuckDB and Spark by
//! tests/sql/run_engines.py (run by .ci/run).

mod common;
use common::*;
use std::path::PathBuf;

const SEGMENTS: &str = "cart_value_band,customer_status";

fn golden(name: &str) -> PathBuf {
    root().join("tests/data/sql").join(name)
}

fn sql(args: &[&str]) -> String {
    let out = run(&[&["sql"], args].concat());
    String::from_utf8(out.stdout).expect("SQL is UTF-8")
}

/// Where each dialect reads the events in the golden files.
fn events_of(dialect: &str) -> &'static str {
    match dialect {
        "duckdb" | "spark" => "events.parquet",
        _ => "analytics.events",
    }
}

#[test]
fn generated_sql_matches_the_golden_files() {
    let bless = std::env::var("CARTLIFT_BLESS").is_ok_and(|v| v == "1");
    let flow = sample_flow();
    let mut stale = Vec::new();
    for dialect in ["spark", "duckdb", "bigquery", "snowflake"] {
        for query in ["stats", "paths"] {
            let text = sql(&[
                "--flow",
                s(&flow),
                "--dialect",
                dialect,
                "--events",
                events_of(dialect),
                "--segment-by",
                SEGMENTS,
                "--query",
                query,
            ]);
            let path = golden(&format!("{dialect}_{query}.sql"));
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != text {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated SQL differs from {stale:?}; if the change is intended, run \
         `CARTLIFT_BLESS=1 cargo test --test sql_cli` and review the diff"
    );
}

#[test]
fn numbers_come_from_the_flow_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(sample_flow())
        .unwrap()
        .replace("contribution_margin = 0.45", "contribution_margin = 0.375")
        .replace("shipping_cost = 6.0", "shipping_cost = 4.25")
        .replace("abandon_after = \"1h\"", "abandon_after = \"45m\"")
        .replace("salt = \"cartlift-sample-v1\"", "salt = \"o'brien\\\\v2\"")
        .replace("weight = 0.1", "weight = 0.25")
        .replace("weight = 0.9", "weight = 0.75");
    let flow = dir.path().join("flow.toml");
    std::fs::write(&flow, text).unwrap();
    let spark = sql(&["--flow", s(&flow), "--dialect", "spark", "--events", "ev"]);
    assert!(spark.contains("CAST(0.375 AS DOUBLE) * (revenue + discount)"));
    assert!(spark.contains("THEN CAST(4.25 AS DOUBLE)"));
    assert!(spark.contains(&format!("t - prev_t > {}", 45 * 60_000_000i64)));
    // Spark escapes with backslashes; the arm boundary is round(0.25 × 10 000).
    assert!(spark.contains(r"sha2('o\'brien\\v2' || h.customer_id, 256)"));
    assert!(spark.contains("WHEN bucket < 2500 THEN 'holdout' ELSE 'flow'"));
    let duck = sql(&["--flow", s(&flow), "--dialect", "duckdb", "--events", "ev"]);
    assert!(duck.contains(r"sha256('o''brien\v2' || h.customer_id)"));
    // A table (not a path): no file order, so ties go by the rows' content.
    assert!(duck.contains("FROM ev\n"));
    assert!(duck.contains("cart_id NULLS FIRST"));
}

#[test]
fn per_partition_statistics_and_row_order_are_options() {
    let flow = sample_flow();
    let merged = sql(&["--flow", s(&flow), "--dialect", "bigquery", "--events", "t"]);
    let parts = sql(&[
        "--flow",
        s(&flow),
        "--dialect",
        "bigquery",
        "--events",
        "t",
        "--partitions",
        "8",
        "--row-order",
        "seq",
    ]);
    assert!(!merged.contains("AS part"));
    assert!(parts.contains("MOD(MIN(bucket), 8) AS part"));
    assert!(parts.contains("CAST(seq AS INT64)"));
    assert!(!parts.contains("cart_id NULLS FIRST"));
}

#[test]
fn what_the_sql_cannot_express_is_refused() {
    let flow = sample_flow();
    let out = bin()
        .args([
            "sql",
            "--flow",
            s(&flow),
            "--dialect",
            "duckdb",
            "--events",
            "ev",
            "--segment-by",
            "zip_code",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--segment-by zip_code") && err.contains("cart_value_band"),
        "{err}"
    );

    // BigQuery and Snowflake read tables, not files.
    let out = bin()
        .args([
            "sql",
            "--flow",
            s(&flow),
            "--dialect",
            "bigquery",
            "--events",
            "events.parquet",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected a table name"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&flow)
        .unwrap()
        .replace("reentry_cooldown = \"14d\"", "reentry_cooldown = \"3d\"");
    let overlapping = dir.path().join("flow.toml");
    std::fs::write(&overlapping, text).unwrap();
    let out = bin()
        .args([
            "sql",
            "--flow",
            s(&overlapping),
            "--dialect",
            "spark",
            "--events",
            "ev",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reentry_cooldown"), "{err}");
}
