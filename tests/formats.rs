//! Segment, Shopify and GA4 shapes land on the canonical schema.

mod common;
use common::*;

fn ingest_csv(input: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.csv");
    let q = dir.path().join("q.csv");
    let path = root().join("tests/data/formats").join(input);
    let o = run(&["ingest", s(&path), "--out", s(&out), "--quarantine", s(&q)]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let text = std::fs::read_to_string(&out).unwrap();
    let quarantine = std::fs::read_to_string(&q).unwrap();
    (text + "---\n" + &quarantine, stdout)
}

#[test]
fn segment_track_events_map_to_canonical() {
    let (text, stdout) = ingest_csv("segment.ndjson");
    assert!(
        stdout.contains("read 8, accepted 7, quarantined 1"),
        "{stdout}"
    );
    let expected = [
        "2026-03-02T10:00:00Z,checkout_started,u1,cart-1,,120.5,,,,,,,USD",
        "2026-03-02T11:00:00Z,message_sent,u1,cart-1,,,,,1,email,flow,,",
        "2026-03-02T12:00:00Z,message_opened,u1,,,,,,1,email,,,",
        "2026-03-02T12:01:00Z,message_clicked,u1,,,,,,1,email,,,",
        "2026-03-02T13:00:00Z,order_completed,u1,,o-1,108.45,12.05,SAVE10,,,,,USD",
        "2026-03-04T09:00:00Z,order_refunded,u1,,o-1,20,,,,,,,",
    ];
    for line in expected {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(text.contains("unmapped_event"));
}

#[test]
fn shopify_webhooks_map_to_canonical() {
    let (text, stdout) = ingest_csv("shopify.ndjson");
    assert!(
        stdout.contains("read 4, accepted 3, quarantined 1"),
        "{stdout}"
    );
    for line in [
        // The checkout token joins a checkout and its order (`cart_token` may be null).
        "2026-03-02T15:00:00Z,checkout_started,555,tok-1,,80,,,,,,returning,USD",
        "2026-03-03T14:30:00Z,order_completed,555,tok-1,777,72,8,BACK10,,,,returning,USD",
        // One refund of two transactions (12.00 and 3.50): each is money that moved.
        "2026-03-05T10:00:00Z,order_refunded,555,,777,12,,,,,,,USD",
        "2026-03-05T10:00:00Z,order_refunded,555,,777,3.5,,,,,,,USD",
        "2026-03-04T12:00:00Z,order_cancelled,556,,778,,,,,,,,USD",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(text.contains("negative_value"));
}

#[test]
fn ga4_export_rows_map_to_canonical() {
    let (text, stdout) = ingest_csv("ga4.ndjson");
    assert!(
        stdout.contains("read 4, accepted 3, quarantined 1"),
        "{stdout}"
    );
    for line in [
        "2026-03-02T10:00:00Z,checkout_started,g1,gc1,,64,,,,,,,USD",
        "2026-03-02T13:00:00Z,order_completed,g1,,T-1,57.6,,TEN,,,,,USD",
        "2026-03-02T14:00:00Z,message_opened,g1,,,,,,2,email,,,",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(text.contains("unmapped_event"));
}

/// A canonical-shaped Parquet file from elsewhere (32-bit floats, padded
/// text) is ingested before `paths` reads it: the carts are those of
/// `ingest` then `paths`. A file cartlift wrote is read directly.
#[test]
fn foreign_canonical_parquet_meets_the_checks_of_ingest() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sim.csv");
    simulate_sample(&csv, "400", "3");
    let df = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let padded = |name: &str| -> Column {
        let c = df.column(name).unwrap().str().unwrap();
        let v: Vec<Option<String>> = c.iter().map(|x| x.map(|t| format!(" {t} "))).collect();
        Column::new(name.into(), v)
    };
    let value: Vec<Option<f32>> = df
        .column("value")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|x| x.and_then(|t| t.parse::<f32>().ok()))
        .collect();
    let mut foreign = df.clone();
    foreign.with_column(padded("event")).unwrap();
    foreign.with_column(padded("customer_id")).unwrap();
    foreign
        .with_column(Column::new("value".into(), value))
        .unwrap();
    let foreign_path = dir.path().join("foreign.parquet");
    ParquetWriter::new(std::fs::File::create(&foreign_path).unwrap())
        .finish(&mut foreign)
        .unwrap();

    let paths = |events: &std::path::Path, out: &str| {
        let out = dir.path().join(out);
        let o = run(&[
            "paths",
            s(events),
            "--flow",
            s(&sample_flow()),
            "--out",
            s(&out),
        ]);
        (
            std::fs::read(&out).unwrap(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let ingested = dir.path().join("ingested.parquet");
    run(&["ingest", s(&foreign_path), "--out", s(&ingested)]);
    let (direct, direct_err) = paths(&foreign_path, "direct.csv");
    let (after, after_err) = paths(&ingested, "after.csv");
    assert!(direct.len() > 1000);
    assert!(
        direct == after,
        "paths on the file differs from ingest then paths"
    );
    assert!(
        direct_err.contains("accepted"),
        "ingested first: {direct_err}"
    );
    assert!(
        !after_err.contains("accepted"),
        "read directly: {after_err}"
    );
}
