//! `cartlift lift` end to end: carts mode on a simulated log, table mode on
//! an exported recipients table (the Hillstrom holdout test when present),
//! and bad input that must give a clear message rather than a NaN.

mod common;
use common::*;

fn results<'a>(
    json: &'a serde_json::Value,
    metric: &str,
    treatment: &str,
) -> &'a serde_json::Value {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["metric"] == metric
                && r["treatment"] == treatment
                && r["segment"]["dimension"] == "all"
        })
        .unwrap_or_else(|| panic!("{metric} for {treatment}"))
}

#[test]
fn carts_mode_reports_every_metric_with_intervals_and_srm() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev.parquet");
    let carts = dir.path().join("carts.parquet");
    let out = dir.path().join("lift.json");
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "6000",
        "--seed",
        "21",
        "--out",
        s(&ev),
    ]);
    run(&["paths", s(&ev), "--flow", s(&flow), "--out", s(&carts)]);
    let o = run(&[
        "lift",
        s(&carts),
        "--flow",
        s(&flow),
        "--json",
        s(&out),
        "--segment-by",
        "cart_value_band,customer_status",
        "--cuped",
        "--sequential",
        "--planned-n",
        "10000",
        "--prior-sd",
        "0.3",
        "--cap",
        "p99.9",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("revenue_per_recipient") && text.contains("sample ratio check"),
        "{text}"
    );
    let json = read_json(&out);
    assert_eq!(json["control"], "holdout");
    assert!(json["srm"]["p_value"].as_f64().unwrap() > 0.001);
    for metric in [
        "conversion_rate",
        "revenue_per_recipient",
        "net_contribution_per_recipient",
        "orders_per_recipient",
    ] {
        let r = results(&json, metric, "flow");
        for key in [
            "absolute",
            "relative",
            "fieller",
            "bayesian",
            "sequential",
            "p_value_holm",
            "p_value_bh",
        ] {
            assert!(!r[key].is_null(), "{metric}: {key} missing: {r}");
        }
        let abs = &r["absolute"];
        assert!(abs["ci"]["lower"].as_f64().unwrap() < abs["estimate"].as_f64().unwrap());
    }
    assert!(!results(&json, "revenue_per_recipient", "flow")["cuped"].is_null());
    let g = &results(&json, "complaint_rate", "flow")["guardrail"];
    assert!(
        g["rate_per_message"].as_f64().unwrap() < 0.01 && g["threshold"].as_f64().unwrap() == 0.001
    );
    // Every segment of both dimensions is reported.
    let dims: std::collections::BTreeSet<String> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["segment"]["dimension"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        dims.into_iter().collect::<Vec<_>>(),
        ["all", "cart_value_band", "customer_status"]
    );

    // Events in directly give the same numbers as the carts table.
    let out2 = dir.path().join("lift2.json");
    run(&[
        "lift",
        s(&ev),
        "--flow",
        s(&flow),
        "--json",
        s(&out2),
        "--segment-by",
        "cart_value_band,customer_status",
        "--cuped",
        "--sequential",
        "--planned-n",
        "10000",
        "--prior-sd",
        "0.3",
        "--cap",
        "p99.9",
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
}

#[test]
fn table_mode_on_the_hillstrom_holdout_test() {
    let data = root().join("../shared/data/hillstrom/hillstrom.csv");
    if !data.exists() {
        eprintln!(
            "skipping: {} is absent (real data is read in place, never copied)",
            data.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.json");
    run(&[
        "lift",
        "--units",
        s(&data),
        "--arm-col",
        "segment",
        "--control",
        "No E-Mail",
        "--metric",
        "visit",
        "--metric",
        "conversion",
        "--metric",
        "spend",
        "--covariate",
        "history",
        "--segment-by",
        "zip_code",
        "--json",
        s(&out),
    ]);
    let json = read_json(&out);
    // Published headline (headline_by_segment.csv beside the data).
    let spend = results(&json, "spend", "Mens E-Mail");
    assert!((spend["absolute"]["estimate"].as_f64().unwrap() - 0.769827).abs() < 1e-5);
    let visit = results(&json, "visit", "Womens E-Mail");
    assert!((visit["absolute"]["estimate"].as_f64().unwrap() * 100.0 - 4.523311).abs() < 1e-4);
    assert_eq!(json["units"]["No E-Mail"], 21306);
    assert!(spend["cuped"]["theta"].as_f64().unwrap() != 0.0);
    assert!(json["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["segment"]["value"] == "Rural"));
}

#[test]
fn bad_input_gives_clear_messages_never_nan() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("units.csv");
    std::fs::write(&t, "arm,revenue,zero\nA,1.5,0\nB,2.0,0\nA,3.0,0\nB,abc,0\n").unwrap();
    let out = bin()
        .args([
            "lift",
            "--units",
            s(&t),
            "--arm-col",
            "arm",
            "--control",
            "A",
            "--metric",
            "revenue",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 5") && err.contains("revenue") && err.contains("abc"),
        "{err}"
    );

    let out = bin()
        .args([
            "lift",
            "--units",
            s(&t),
            "--arm-col",
            "arm",
            "--control",
            "Z",
            "--metric",
            "zero",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--control Z"));

    let j = dir.path().join("z.json");
    let o = run(&[
        "lift",
        "--units",
        s(&t),
        "--arm-col",
        "arm",
        "--control",
        "A",
        "--metric",
        "zero",
        "--json",
        s(&j),
    ]);
    let json = read_json(&j);
    let r = &json["results"][0];
    assert!(
        r["absolute"].is_null() && r["error"].as_str().unwrap().contains("variance"),
        "{r}"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text.contains("NaN") && !text.to_lowercase().contains(" nan"),
        "{text}"
    );

    // Carts produced under one configuration, analyzed under another.
    let ev = dir.path().join("ev.parquet");
    let carts = dir.path().join("carts.parquet");
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "300",
        "--out",
        s(&ev),
    ]);
    run(&["paths", s(&ev), "--flow", s(&flow), "--out", s(&carts)]);
    let other = test_flow("three_arms.toml");
    let out = bin()
        .args(["lift", s(&carts), "--flow", s(&other)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("arm `") && err.contains("not in the configuration"),
        "{err}"
    );
}

#[test]
fn assign_reproduces_the_published_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.csv");
    std::fs::write(&ids, "customer_id\nc000001\nc000002\nalice@example.com\n").unwrap();
    let out = dir.path().join("a.csv");
    run(&[
        "assign",
        "--customers",
        s(&ids),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&out),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, "customer_id,bucket,arm\nc000001,9287,flow\nc000002,3113,flow\nalice@example.com,5379,flow\n");
    let one = run(&[
        "assign",
        "--customer-id",
        "c000002",
        "--flow",
        s(&sample_flow()),
    ]);
    assert!(String::from_utf8_lossy(&one.stdout).contains("c000002,3113,flow"));
}

#[test]
fn plan_days_and_mde_are_inverse() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    run(&[
        "plan",
        "--baseline-rate",
        "0.1",
        "--holdout",
        "0.1",
        "--daily",
        "500",
        "--relative-effect",
        "0.1",
        "--json",
        s(&a),
    ]);
    let days = read_json(&a)["conversion_rate"]["days"].as_f64().unwrap();
    run(&[
        "plan",
        "--baseline-rate",
        "0.1",
        "--holdout",
        "0.1",
        "--daily",
        "500",
        "--days",
        &days.to_string(),
        "--json",
        s(&b),
    ]);
    let mde = read_json(&b)["conversion_rate"]["mde_relative"]
        .as_f64()
        .unwrap();
    assert!((mde - 0.1).abs() < 1e-6, "{days} days → {mde}");
    let out = bin()
        .args([
            "plan",
            "--baseline-rate",
            "0.1",
            "--daily",
            "500",
            "--days",
            "10",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--holdout"));
}

/// Every number in `a` equals `b`'s: integers exactly, floats to `rel`.
fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, rel: f64, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                let tol = rel * x.abs().max(y.abs()).max(1e-300);
                assert!((x - y).abs() <= tol, "{at}: {x} vs {y}");
            } else {
                assert_eq!(x, y, "{at}");
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_json_close(p, q, rel, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}: keys"
            );
            for (k, p) in x {
                assert_json_close(p, &y[k], rel, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn the_statistics_table_gives_the_same_report_and_merges_in_pieces() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let (ev, carts) = (
        dir.path().join("ev.parquet"),
        dir.path().join("carts.parquet"),
    );
    let flow = sample_flow();
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "5000",
        "--seed",
        "22",
        "--out",
        s(&ev),
    ]);
    run(&["paths", s(&ev), "--flow", s(&flow), "--out", s(&carts)]);
    let opts = [
        "--segment-by",
        "cart_value_band,customer_status",
        "--cuped",
        "--sequential",
        "--planned-n",
        "8000",
    ];
    let (direct, stats) = (dir.path().join("a.json"), dir.path().join("stats.csv"));
    let mut args = vec!["lift", s(&carts), "--flow", s(&flow), "--json", s(&direct)];
    args.extend(opts);
    args.extend(["--write-stats", s(&stats)]);
    run(&args);
    let from_table = dir.path().join("b.json");
    let mut args = vec!["lift", "--stats", s(&stats), "--flow", s(&flow)];
    args.extend(["--json", s(&from_table)]);
    args.extend(opts);
    run(&args);
    // The table round-trips exactly: the same numbers, bit for bit. Only
    // the capped results beside raw ones that fail Kohavi's check differ:
    // winsorizing needs the per-unit values, which a table does not have.
    let without_capped = |p: &std::path::Path| {
        let mut v = read_json(p);
        for r in v["results"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("capped");
        }
        v
    };
    assert!(read_json(&direct)["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.get("capped").is_some()));
    assert_eq!(without_capped(&direct), without_capped(&from_table));

    // Two partial tables, split by customer and concatenated, merge into the
    // same report (sums in a different order: equal to 1e-9).
    let df = ParquetReader::new(std::fs::File::open(&carts).unwrap())
        .finish()
        .unwrap();
    let config = cartlift::config::FlowConfig::load(&flow).unwrap();
    let odd: BooleanChunked = df
        .column("customer_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().bytes().map(u32::from).sum::<u32>() % 2 == 1)
        .collect();
    let even = !&odd;
    let segs = vec!["cart_value_band".to_string(), "customer_status".to_string()];
    let mut text = String::new();
    for (k, mask) in [odd, even].iter().enumerate() {
        let part = df.filter(mask).unwrap();
        let table = cartlift::lift::carts_stats(
            &part,
            &config,
            &segs,
            &cartlift::lift::LiftOptions::default(),
        )
        .unwrap();
        let p = dir.path().join(format!("part{k}.csv"));
        table.write(&p).unwrap();
        let body = std::fs::read_to_string(&p).unwrap();
        let skip = if k == 0 { 0 } else { 1 };
        for line in body.lines().skip(skip) {
            text.push_str(line);
            text.push('\n');
        }
    }
    let merged = dir.path().join("merged.csv");
    std::fs::write(&merged, text).unwrap();
    let from_parts = dir.path().join("c.json");
    let mut args = vec!["lift", "--stats", s(&merged), "--flow", s(&flow)];
    args.extend(["--json", s(&from_parts)]);
    args.extend(opts);
    run(&args);
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    assert_json_close(&without_capped(&direct), &read(&from_parts), 1e-9, "report");

    // A cap needs the units: refused on a table, with the reason.
    let o = bin()
        .args([
            "lift",
            "--stats",
            s(&stats),
            "--flow",
            s(&flow),
            "--cap",
            "p99",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--cap") && err.contains("per-unit"), "{err}");
}

/// Field case 11: a holdout with no conversions and no revenue yet. The
/// absolute effects are defined (Welch as scipy computes it, the control
/// contributing no variance); the relative lift divides by zero and must be
/// absent with a reason; no number may be NaN, infinite or null.
#[test]
fn control_arm_with_zero_conversions() {
    let data = root().join("tests/data/field/control_zero_conversions.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lift.json");
    let o = run(&[
        "lift",
        "--units",
        s(&data),
        "--arm-col",
        "variant",
        "--control",
        "control",
        "--metric",
        "converted",
        "--metric",
        "revenue",
        "--json",
        s(&out),
    ]);
    let words = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_string)
            .collect()
    };
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let raw = std::fs::read_to_string(&out).unwrap();
    for bad in ["nan", "inf", "infinity"] {
        assert!(!words(&text).iter().any(|w| w == bad), "{text}");
        assert!(!words(&raw).iter().any(|w| w == bad), "{raw}");
    }
    // A number that cannot be computed is absent with a reason, never null.
    for key in [
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "lower",
        "upper",
        "df",
    ] {
        assert!(!raw.contains(&format!("\"{key}\": null")), "{key}: {raw}");
    }
    let json = read_json(&out);
    let close = |v: &serde_json::Value, want: f64, tol: f64| {
        let got = v
            .as_f64()
            .unwrap_or_else(|| panic!("number expected, got {v}"));
        assert!((got - want).abs() <= tol, "{got} vs {want}");
    };
    // scipy: stats.ttest_ind(test, control, equal_var=False), df 149.
    let revenue = results(&json, "revenue", "test");
    let abs = &revenue["absolute"];
    close(&abs["estimate"], 2.4026, 1e-9);
    close(&abs["std_error"], 1.0942351907233883, 1e-9);
    close(&abs["ci"]["lower"], 0.2403768436393383, 1e-8);
    close(&abs["ci"]["upper"], 4.564823156360662, 1e-8);
    close(&abs["p_value"], 0.02966, 5e-6);
    close(&abs["df"], 149.0, 1e-9);
    // A 0/1 metric: Welch on the Bernoulli variance p(1 − p) (gbstats'
    // convention; scipy's n − 1 variance gives se 0.0160536).
    let converted = results(&json, "converted", "test");
    let abs = &converted["absolute"];
    close(&abs["estimate"], 0.04, 1e-12);
    close(&abs["std_error"], (0.04f64 * 0.96 / 150.0).sqrt(), 1e-12);
    close(&abs["df"], 149.0, 1e-9);
    for r in [revenue, converted] {
        assert!(r["relative"].is_null(), "{r}");
        assert!(r["bayesian"].is_null(), "{r}");
        let err = r["error"].as_str().unwrap();
        assert!(err.contains("control mean is zero"), "{err}");
        // The headline is computed; the relative headline is withheld, saying why.
        assert!(r["headline"]["ci"]["lower"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["headline"]["p_value"].as_f64().unwrap() < 0.05, "{r}");
        let why = r["headline_relative"]["withheld"].as_str().unwrap();
        assert!(why.contains("control"), "{why}");
        assert!(r["headline_relative"].get("estimate").is_none());
    }
    assert_eq!(converted["headline"]["method"], "score_difference");
    assert_eq!(revenue["headline"]["method"], "randomization_shift");
}

/// `--weights` gives table mode the sample ratio check.
#[test]
fn table_mode_checks_the_split_against_weights() {
    let data = root().join("tests/data/field/control_zero_conversions.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lift.json");
    let args = |w: &'static str| {
        vec![
            "lift".to_string(),
            "--units".into(),
            s(&data).into(),
            "--arm-col".into(),
            "variant".into(),
            "--control".into(),
            "control".into(),
            "--metric".into(),
            "revenue".into(),
            "--weights".into(),
            w.into(),
            "--json".into(),
            s(&out).into(),
        ]
    };
    let a = args("control=0.5,test=0.5");
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(String::from_utf8_lossy(&o.stdout).contains("sample ratio check"));
    let json = read_json(&out);
    assert!(json["srm"]["p_value"].as_f64().unwrap() > 0.99);
    let a = args("control=0.1,test=0.9");
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(String::from_utf8_lossy(&o.stdout).contains("SAMPLE RATIO MISMATCH"));
    assert_eq!(read_json(&out)["srm"]["flag"], true);
    let a = args("control=0.5,other=0.5");
    let o = bin().args(a.iter().map(String::as_str)).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--weights") && err.contains("`test`"), "{err}");
}
