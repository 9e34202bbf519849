//! Bad input never vanishes: a corrupted copy of a log gives the same
//! accepted events as the clean rows alone, and every bad row lands in the
//! quarantine with its reason and line.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

fn summary_counts(stdout: &[u8]) -> (u64, u64, u64) {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("read "))
        .expect("summary line");
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2])
}

fn quarantine_rows(p: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Replaces field `i` of a CSV line with no quoting.
fn with_field(line: &str, i: usize, value: &str) -> String {
    let mut f: Vec<&str> = line.split(',').collect();
    f[i] = value;
    f.join(",")
}

#[test]
fn corrupted_log_gives_the_clean_result_and_quarantines_every_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.csv");
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        "1500",
        "--seed",
        "3",
        "--out",
        s(&clean),
    ]);
    let text = std::fs::read_to_string(&clean).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    let cols: Vec<&str> = header.split(',').collect();
    let at = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let order_line = lines
        .iter()
        .find(|l| l.contains(",order_completed,"))
        .unwrap();

    // (bad line, expected reason)
    let bad: Vec<(String, &str)> = vec![
        (
            with_field(lines[10], at("ts"), "2026-13-45T99:00:00Z"),
            "bad_timestamp",
        ),
        (
            with_field(lines[11], at("ts"), "last tuesday"),
            "bad_timestamp",
        ),
        (with_field(lines[12], at("ts"), ""), "missing_timestamp"),
        (
            with_field(lines[13], at("event"), "page_viewed"),
            "unknown_event",
        ),
        (
            with_field(order_line, at("value"), "-25.00"),
            "negative_value",
        ),
        (
            with_field(lines[14], at("customer_id"), ""),
            "missing_customer_id",
        ),
        (
            lines[15][..lines[15].len() / 2].to_string(),
            "malformed_row",
        ),
        (format!("{},extra,fields", lines[16]), "malformed_row"),
        (with_field(order_line, at("value"), "abc"), "bad_number"),
        (with_field(lines[17], at("flow_step"), "two"), "bad_number"),
        (with_field(lines[18], at("flow_step"), "0"), "bad_flow_step"),
        (
            with_field(
                &with_field(order_line, at("order_id"), ""),
                at("customer_id"),
                "c9999999",
            ),
            "missing_order_id",
        ),
    ];
    let mut corrupted = vec![header.to_string()];
    let mut bad_lines: BTreeMap<u64, &str> = BTreeMap::new();
    let stride = (lines.len() - 1) / (bad.len() + 1);
    let mut next_bad = bad.iter();
    for (i, l) in lines.iter().enumerate().skip(1) {
        corrupted.push(l.to_string());
        if i % stride == 0 {
            if let Some((b, reason)) = next_bad.next() {
                corrupted.push(b.clone());
                bad_lines.insert(corrupted.len() as u64, reason);
            }
        }
    }
    assert_eq!(bad_lines.len(), bad.len());
    let dirty = dir.path().join("dirty.csv");
    std::fs::write(&dirty, corrupted.join("\n") + "\n").unwrap();

    let (clean_out, dirty_out) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let (clean_q, dirty_q) = (dir.path().join("qa.csv"), dir.path().join("qb.csv"));
    let a = run(&[
        "ingest",
        s(&clean),
        "--out",
        s(&clean_out),
        "--quarantine",
        s(&clean_q),
    ]);
    let b = run(&[
        "ingest",
        s(&dirty),
        "--out",
        s(&dirty_out),
        "--quarantine",
        s(&dirty_q),
    ]);
    assert_eq!(
        std::fs::read(&clean_out).unwrap(),
        std::fs::read(&dirty_out).unwrap()
    );

    let (ra, aa, qa) = summary_counts(&a.stdout);
    let (rb, ab, qb) = summary_counts(&b.stdout);
    assert_eq!(ra, aa + qa);
    assert_eq!(rb, ab + qb);
    assert_eq!(rb, ra + bad.len() as u64);
    assert_eq!(ab, aa);
    assert_eq!(qb, qa + bad.len() as u64);

    // The clean log's own duplicates (webhook retries) are quarantined in both.
    let qa_rows = quarantine_rows(&clean_q);
    assert!(qa_rows.iter().all(|r| r["reason"] == "duplicate_order"));
    let extra: BTreeMap<u64, String> = quarantine_rows(&dirty_q)
        .into_iter()
        .filter(|r| r["reason"] != "duplicate_order")
        .map(|r| (r["line"].parse().unwrap(), r["reason"].clone()))
        .collect();
    let want: BTreeMap<u64, String> = bad_lines.iter().map(|(k, v)| (*k, v.to_string())).collect();
    assert_eq!(extra, want);
}

#[test]
fn fatal_problems_stop_with_file_line_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let missing_col = dir.path().join("nocustomer.csv");
    std::fs::write(
        &missing_col,
        "ts,event\n2026-03-02T10:00:00Z,cart_updated\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "ingest",
            s(&missing_col),
            "--out",
            s(&dir.path().join("o.parquet")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nocustomer.csv") && err.contains("customer_id") && err.contains("line 1"),
        "{err}"
    );

    let out = bin()
        .args([
            "ingest",
            "/nonexistent/events.csv",
            "--out",
            s(&dir.path().join("o.parquet")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/events.csv"));

    let mixed = dir.path().join("mixed.csv");
    std::fs::write(
        &mixed,
        "ts,event,customer_id,order_id,value,currency\n\
         2026-03-02T10:00:00Z,order_completed,c1,o1,10,USD\n\
         2026-03-02T11:00:00Z,order_completed,c2,o2,10,EUR\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "ingest",
            s(&mixed),
            "--out",
            s(&dir.path().join("o.parquet")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mixed.csv:3") && err.contains("EUR") && err.contains("--rate"),
        "{err}"
    );

    // Errors come in reading order: an element of a JSON array with
    // another currency is named before a syntax error later in the array,
    // even within one batch of rows.
    let array = dir.path().join("array.json");
    std::fs::write(
        &array,
        "[{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"checkout_started\",\"customer_id\":\"c1\",\"currency\":\"USD\"},\n\
         {\"ts\":\"2026-03-02T10:01:00Z\",\"event\":\"checkout_started\",\"customer_id\":\"c2\",\"currency\":\"EUR\"},\n\
         {bad}]\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "ingest",
            s(&array),
            "--out",
            s(&dir.path().join("a.parquet")),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("array.json:2") && err.contains("EUR") && !err.contains("not a valid JSON"),
        "{err}"
    );

    // With a rate, the same file converts.
    let o = dir.path().join("o.csv");
    run(&[
        "ingest",
        s(&mixed),
        "--out",
        s(&o),
        "--currency",
        "USD",
        "--rate",
        "EUR=1.10",
    ]);
    let text = std::fs::read_to_string(&o).unwrap();
    assert!(text.contains(",11,") && !text.contains("EUR"), "{text}");
}

#[test]
fn nasty_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("tests/data/nasty")).unwrap() {
        let path = entry.unwrap().path();
        let out = bin()
            .args([
                "ingest",
                s(&path),
                "--out",
                s(&dir.path().join("o.parquet")),
                "--quarantine",
                s(&dir.path().join("q.csv")),
            ])
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "{}: exit {code:?}\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(0) {
            let (r, a, q) = summary_counts(&out.stdout);
            assert_eq!(r, a + q, "{}", path.display());
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.starts_with("error: ") && !err.contains("panicked"),
                "{}: {err}",
                path.display()
            );
        }
    }
}

#[test]
fn parquet_decimals_are_refused_and_categorical_text_is_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let nasty = root().join("tests/data/nasty");
    let decimal = nasty.join("value_decimal.parquet");
    for args in [
        vec![
            "ingest",
            s(&decimal),
            "--out",
            s(&dir.path().join("o.parquet")),
        ],
        vec![
            "paths",
            s(&decimal),
            "--flow",
            s(&sample_flow()),
            "--out",
            s(&dir.path().join("c.parquet")),
        ],
    ] {
        let out = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("value_decimal.parquet") && err.contains("column `value` holds decimals"),
            "{err}"
        );
    }
    // Customer ids stored as categories: the same ids as text, no quotes.
    let out = dir.path().join("cat.parquet");
    run(&[
        "ingest",
        s(&nasty.join("customer_id_categorical.parquet")),
        "--out",
        s(&out),
    ]);
    let df = read_parquet(&out);
    let ids = df.column("customer_id").unwrap().str().unwrap().clone();
    assert!(!ids.is_empty());
    for id in ids.iter().flatten() {
        assert!(id.starts_with('c') && !id.contains('"'), "{id}");
    }
}

#[test]
fn paths_on_canonical_parquet_sets_aside_the_steps_ingest_quarantines() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steps.parquet");
    // 2026-03-02, a minute apart; steps 0, -3 and 2^40 are not steps.
    let t0 = 1_772_409_600_000_000i64;
    let steps: [Option<i64>; 6] = [None, Some(1), Some(0), Some(-3), Some(1 << 40), Some(2)];
    let n = steps.len();
    let ts = Int64Chunked::from_vec(
        "ts".into(),
        (0..n as i64).map(|i| t0 + i * 60_000_000).collect(),
    )
    .into_datetime(TimeUnit::Microseconds, None)
    .into_series();
    let mut events = vec!["message_sent"; n];
    events[0] = "checkout_started";
    let mut df = DataFrame::new_infer_height(vec![
        ts.into(),
        Column::new("event".into(), events),
        Column::new("customer_id".into(), vec!["c1"; n]),
        Column::new("flow_step".into(), steps.to_vec()),
        Column::new("channel".into(), vec!["email"; n]),
    ])
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let audit = dir.path().join("audit.json");
    run(&[
        "paths",
        s(&path),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&dir.path().join("carts.parquet")),
        "--audit",
        s(&audit),
    ]);
    assert_eq!(read_json(&audit)["skipped_rows"].as_u64(), Some(3));
    let out = run(&[
        "ingest",
        s(&path),
        "--out",
        s(&dir.path().join("e.parquet")),
    ]);
    let (read, accepted, quarantined) = summary_counts(&out.stdout);
    assert_eq!((read, accepted, quarantined), (6, 3, 3));
}

/// Canonical Parquet is read column-wise: the accepted events are those of
/// the same rows as CSV, and a quarantined row shows its line (1-based
/// row) and its fields as a JSON object, in row groups of any size.
#[test]
fn canonical_parquet_rows_are_quarantined_by_row_with_their_fields() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("e.csv");
    std::fs::write(
        &csv,
        "ts,event,customer_id,cart_id,value\n\
         2026-03-02T00:00:00Z,checkout_started,c1,k1,10.5\n\
         2026-03-02T00:01:00Z,page_view,c1,k1,\n\
         2026-03-02T00:02:00Z,checkout_started,c2,k2,-4\n\
         2026-03-02T00:03:00Z,checkout_started,,k3,7\n\
         2026-03-02T00:04:00Z,cart_updated,c3,k4,12\n",
    )
    .unwrap();
    let from_csv = dir.path().join("from_csv.parquet");
    run(&["ingest", s(&csv), "--out", s(&from_csv)]);
    let mut df = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    for group in [1usize, 2, 1000] {
        let pq = dir.path().join(format!("e_{group}.parquet"));
        ParquetWriter::new(std::fs::File::create(&pq).unwrap())
            .with_row_group_size(Some(group))
            .finish(&mut df)
            .unwrap();
        let (out, quarantine) = (
            dir.path().join(format!("o_{group}.parquet")),
            dir.path().join(format!("q_{group}.csv")),
        );
        let res = run(&[
            "ingest",
            s(&pq),
            "--out",
            s(&out),
            "--quarantine",
            s(&quarantine),
        ]);
        assert_eq!(
            summary_counts(&res.stdout),
            (5, 2, 3),
            "row groups of {group}"
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&from_csv).unwrap(),
            "row groups of {group}: the same events as from the CSV"
        );
        let rows = quarantine_rows(&quarantine);
        let lines: Vec<&str> = rows.iter().map(|r| r["line"].as_str()).collect();
        assert_eq!(lines, ["2", "3", "4"]);
        assert_eq!(rows[0]["reason"], "unknown_event");
        assert_eq!(
            rows[0]["raw"],
            r#"{"cart_id":"k1","customer_id":"c1","event":"page_view","ts":"2026-03-02T00:01:00Z","value":null}"#
        );
        assert_eq!(rows[2]["reason"], "missing_customer_id");
    }
}

/// A canonical Parquet column in a type no row can be read from is refused
/// by name before any row is read (dates for `ts`, lists in a text column),
/// and a 32-bit float is read as the decimal it prints as, as in CSV.
#[test]
fn canonical_parquet_types_are_checked_by_column() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, mut df: DataFrame| {
        let path = dir.path().join(name);
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        path
    };
    let ts = || {
        Column::new(
            "ts".into(),
            ["2026-03-02T00:00:00Z", "2026-03-02T00:01:00Z"],
        )
    };
    let event = || Column::new("event".into(), ["checkout_started", "cart_updated"]);
    let customers = || Column::new("customer_id".into(), ["c1", "c2"]);
    let dates = Column::new("ts".into(), [20_514i32, 20_514])
        .cast(&DataType::Date)
        .unwrap();
    let lists = Series::new(
        "customer_id".into(),
        [
            Series::new("".into(), ["c1", "c1"]),
            Series::new("".into(), ["c2"]),
        ],
    )
    .into_column();
    let flow = sample_flow();
    for (file, df, column) in [
        (
            "dates.parquet",
            DataFrame::new_infer_height(vec![dates, event(), customers()]).unwrap(),
            "ts",
        ),
        (
            "lists.parquet",
            DataFrame::new_infer_height(vec![ts(), event(), lists]).unwrap(),
            "customer_id",
        ),
    ] {
        let path = write(file, df);
        for command in ["ingest", "paths"] {
            let mut args = vec![command, s(&path), "--out"];
            let out = dir.path().join(format!("{command}_{file}"));
            args.push(s(&out));
            if command == "paths" {
                args.extend(["--flow", s(&flow)]);
            }
            let res = bin().args(&args).output().unwrap();
            assert!(!res.status.success(), "{command} {file} should fail");
            let err = String::from_utf8_lossy(&res.stderr).to_string();
            assert!(
                err.contains(file) && err.contains(&format!("column `{column}`")),
                "{command} {file}: {err}"
            );
        }
    }
    let values = Column::new("value".into(), [198.61f32, 12.5]);
    let path = write(
        "f32.parquet",
        DataFrame::new_infer_height(vec![ts(), event(), customers(), values]).unwrap(),
    );
    let out = dir.path().join("f32.csv");
    run(&["ingest", s(&path), "--out", s(&out)]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains(",198.61,") && !text.contains("198.6100"),
        "{text}"
    );

    // Ids stored as bytes: a row whose bytes are not UTF-8 is quarantined
    // for it, by field, as in CSV, not read as a missing id.
    let bytes = Series::new(
        "customer_id".into(),
        [b"c1".as_slice(), b"c\xff2".as_slice()],
    )
    .into_column();
    let path = write(
        "bytes.parquet",
        DataFrame::new_infer_height(vec![ts(), event(), bytes]).unwrap(),
    );
    let quarantine = dir.path().join("bytes_q.csv");
    let res = run(&[
        "ingest",
        s(&path),
        "--out",
        s(&dir.path().join("bytes.csv")),
        "--quarantine",
        s(&quarantine),
    ]);
    assert_eq!(summary_counts(&res.stdout), (2, 1, 1));
    let rows = quarantine_rows(&quarantine);
    assert_eq!(
        (
            rows[0]["line"].as_str(),
            rows[0]["reason"].as_str(),
            rows[0]["field"].as_str()
        ),
        ("2", "malformed_row", "customer_id")
    );
    assert!(rows[0]["raw"].contains("c\u{fffd}2"), "{:?}", rows[0]);
    // `paths` on the same file sets the row aside like any invalid event.
    let audit = dir.path().join("bytes_audit.json");
    run(&[
        "paths",
        s(&path),
        "--flow",
        s(&flow),
        "--out",
        s(&dir.path().join("bytes_carts.parquet")),
        "--audit",
        s(&audit),
    ]);
    assert_eq!(read_json(&audit)["skipped_rows"].as_u64(), Some(1));
}
