//! The CLI's commands with generated arguments on generated small inputs
//! (CSV, NDJSON and Parquet, extreme and non-finite values, odd ids): no
//! run panics (exit code 101 or a signal), and no output, printed or
//! written, holds a non-finite number.

mod common;
use common::*;
use polars::prelude::*;
use proptest::prelude::*;
use std::path::Path;

const EVENTS: [&str; 8] = [
    "checkout_started",
    "cart_updated",
    "message_sent",
    "message_opened",
    "order_completed",
    "order_refunded",
    "unsubscribed",
    "bogus",
];

const NUMBERS: [&str; 14] = [
    "0", "-1", "1e-300", "1e308", "NaN", "inf", "-inf", "0.05", "0.5", "1", "7", "100", "2e9",
    "abc",
];

#[derive(Debug, Clone)]
struct Row {
    minute: i64,
    event: &'static str,
    customer: String,
    value: f64,
    step: i32,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..500.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(1e308),
        1 => Just(-5.0),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    (
        0..6000i64,
        proptest::sample::select(EVENTS.to_vec()),
        prop_oneof![
            "c[0-9]",
            Just("a@example.com".to_string()),
            Just("bell\u{7}".to_string()),
            Just("=1+2".to_string()),
        ],
        value(),
        0..4i32,
    )
        .prop_map(|(minute, event, customer, value, step)| Row {
            minute,
            event,
            customer,
            value,
            step,
        })
}

fn ts(minute: i64) -> String {
    chrono::DateTime::from_timestamp(1_772_409_600 + minute * 60, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn num_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        x.to_string()
    }
}

fn write_input(dir: &Path, shape: usize, rows: &[Row]) -> std::path::PathBuf {
    match shape {
        0 => {
            let p = dir.join("events.csv");
            let mut t =
                String::from("ts,event,customer_id,cart_id,order_id,value,flow_step,channel\n");
            for (i, r) in rows.iter().enumerate() {
                t.push_str(&format!(
                    "{},{},\"{}\",k{},o{i},{},{},email\n",
                    ts(r.minute),
                    r.event,
                    r.customer,
                    i % 3,
                    num_text(r.value),
                    r.step
                ));
            }
            std::fs::write(&p, t).unwrap();
            p
        }
        1 => {
            let p = dir.join("events.ndjson");
            let mut t = String::new();
            for (i, r) in rows.iter().enumerate() {
                let v = if r.value.is_finite() {
                    serde_json::json!(r.value)
                } else {
                    serde_json::json!(num_text(r.value))
                };
                t.push_str(
                    &serde_json::json!({
                        "ts": ts(r.minute), "event": r.event, "customer_id": r.customer,
                        "cart_id": format!("k{}", i % 3), "order_id": format!("o{i}"),
                        "value": v, "flow_step": r.step, "channel": "email",
                    })
                    .to_string(),
                );
                t.push('\n');
            }
            std::fs::write(&p, t).unwrap();
            p
        }
        _ => {
            let p = dir.join("events.parquet");
            let n = rows.len();
            let ts = Int64Chunked::from_vec(
                "ts".into(),
                rows.iter()
                    .map(|r| (1_772_409_600 + r.minute * 60) * 1_000_000)
                    .collect(),
            )
            .into_datetime(TimeUnit::Microseconds, None)
            .into_series();
            let mut df = DataFrame::new_infer_height(vec![
                ts.into(),
                Column::new(
                    "event".into(),
                    rows.iter().map(|r| r.event).collect::<Vec<_>>(),
                ),
                Column::new(
                    "customer_id".into(),
                    rows.iter().map(|r| r.customer.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "cart_id".into(),
                    (0..n).map(|i| format!("k{}", i % 3)).collect::<Vec<_>>(),
                ),
                Column::new(
                    "order_id".into(),
                    (0..n).map(|i| format!("o{i}")).collect::<Vec<_>>(),
                ),
                Column::new(
                    "value".into(),
                    rows.iter().map(|r| r.value).collect::<Vec<_>>(),
                ),
                Column::new(
                    "flow_step".into(),
                    rows.iter().map(|r| r.step).collect::<Vec<_>>(),
                ),
                Column::new("channel".into(), vec!["email"; n]),
            ])
            .unwrap();
            ParquetWriter::new(std::fs::File::create(&p).unwrap())
                .finish(&mut df)
                .unwrap();
            p
        }
    }
}

/// Runs a command; a panic or a signal fails, and so does a non-finite
/// number on standard output or in a JSON or CSV file of results it wrote.
fn check(dir: &Path, args: &[String]) -> Result<bool, TestCaseError> {
    let o = bin().args(args).output().expect("binary runs");
    let err = String::from_utf8_lossy(&o.stderr);
    prop_assert!(
        o.status.code().is_some() && o.status.code() != Some(101),
        "cartlift {:?} crashed: {}",
        args,
        err
    );
    let mut texts = vec![(
        "stdout".to_string(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // The quarantine file quotes the rejected input rows as read.
        let results = name.starts_with("out") && !name.starts_with("out_q");
        if results && (name.ends_with(".json") || name.ends_with(".csv")) {
            texts.push((name, std::fs::read_to_string(e.path()).unwrap_or_default()));
        }
    }
    for (name, text) in texts {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')) {
            let w = word.trim_start_matches('-');
            prop_assert!(
                !(w.eq_ignore_ascii_case("inf")
                    || w.eq_ignore_ascii_case("infinity")
                    || w.eq_ignore_ascii_case("nan")),
                "cartlift {:?}: {} holds {}:\n{}",
                args,
                name,
                word,
                text
            );
        }
    }
    Ok(o.status.success())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn commands_never_panic_nor_print_non_finite_numbers(
        rows in proptest::collection::vec(row(), 1..40),
        shape in 0..3usize,
        a in proptest::sample::select(NUMBERS.to_vec()),
        b in proptest::sample::select(NUMBERS.to_vec()),
        cap in proptest::sample::select(vec!["p99", "p1:p99", "0:100", "NaN:1", "5:5", "-inf:inf"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let input = write_input(d, shape, &rows);
        let input = s(&input).to_string();
        let flow = s(&sample_flow()).to_string();
        let path = |n: &str| s(&d.join(n)).to_string();
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        check(d, &v(&["ingest", &input, "--out", &path("out_events.csv"),
            "--quarantine", &path("out_q.csv"), "--report", &path("out_ingest.json")]))?;
        let carts = path("carts.parquet");
        let paths_ok = check(d, &v(&["paths", &input, "--flow", &flow, "--out", &carts,
            "--audit", &path("out_audit.json")]))?;
        if paths_ok {
            check(d, &v(&["lift", &carts, "--flow", &flow, "--alpha", a,
                "--json", &path("out_lift.json")]))?;
            check(d, &v(&["lift", &carts, "--flow", &flow, "--cap", cap, "--cuped",
                "--prior-sd", b, "--json", &path("out_lift2.json")]))?;
            check(d, &v(&["plan", &carts, "--flow", &flow, "--days", a,
                "--json", &path("out_plan.json")]))?;
            check(d, &v(&["policy", &carts, "--flow", &flow, "--explore", b]))?;
        }
        check(d, &v(&["attribute", &input, "--flow", &flow, "--lookback", "3d",
            "--json", &path("out_attr.json")]))?;
        check(d, &v(&["plan", "--baseline-rate", a, "--holdout", "0.1", "--daily", b,
            "--relative-effect", a]))?;
        check(d, &v(&["plan", "--baseline-mean", b, "--baseline-sd", a, "--holdout", "0.1",
            "--daily", "400", "--effect", b]))?;
    }
}
