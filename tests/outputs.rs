//! The output layer and the checks at the edges, run through the CLI: no
//! output overwrites an input, a report folder never mixes two runs, shared
//! files carry no customer ids, CSV cells never start a formula, and bad
//! values and options stop with a message instead of a panic or an `inf`.
//! Each test is one of the probe cases the layer was built for.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn cartlift(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn probe(name: &str) -> PathBuf {
    root().join("tests/data/probes").join(name)
}

/// 300 simulated carts as CSV (the probes' usual log).
fn simulated(dir: &Path, name: &str, carts: &str) -> PathBuf {
    let out = dir.join(name);
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        carts,
        "--seed",
        "3",
        "--out",
        s(&out),
    ]);
    out
}

fn assert_refused(o: &Output, words: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    let e = stderr(o);
    for w in words {
        assert!(e.contains(w), "expected {w:?} in: {e}");
    }
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "a.csv", "300");
    let original = std::fs::read(&events).unwrap();
    let flow = dir.path().join("f.toml");
    std::fs::copy(sample_flow(), &flow).unwrap();
    let flow_text = std::fs::read(&flow).unwrap();
    let e = s(&events);
    let c_parquet = dir.path().join("c.parquet");
    let same = dir.path().join("same.parquet");
    let same_again = dir.path().join(".").join("same.parquet");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["ingest", e, "--out", e],
            vec!["--out", "also an input"],
        ),
        (
            vec!["ingest", e, "--out", "/dev/null/x.csv", "--quarantine", e],
            vec!["--quarantine", "also an input"],
        ),
        (
            vec!["paths", e, "--flow", s(&flow), "--out", e],
            vec!["--out", "also an input"],
        ),
        (
            vec![
                "paths",
                e,
                "--flow",
                s(&flow),
                "--out",
                s(&c_parquet),
                "--audit",
                s(&flow),
            ],
            vec!["--audit", "--flow"],
        ),
        (
            vec![
                "paths",
                e,
                "--flow",
                s(&flow),
                "--out",
                s(&same),
                "--touches",
                s(&same_again),
            ],
            vec!["--out", "--touches", "same file"],
        ),
    ];
    for (args, words) in cases {
        let o = cartlift(&args);
        assert_refused(&o, &words);
        assert_eq!(std::fs::read(&events).unwrap(), original, "{args:?}");
        assert_eq!(std::fs::read(&flow).unwrap(), flow_text, "{args:?}");
    }
    assert!(!dir.path().join("same.parquet").exists());
    // A report folder that holds its own input.
    let rr = dir.path().join("rr");
    std::fs::create_dir(&rr).unwrap();
    let inside = rr.join("quarantine.csv");
    std::fs::copy(&events, &inside).unwrap();
    let o = cartlift(&["report", s(&inside), "--flow", s(&flow), "--out", s(&rr)]);
    assert_refused(&o, &["--out", "holds an input"]);
    assert_eq!(std::fs::read(&inside).unwrap(), original);
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_failed_report_leaves_the_previous_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    let day1 = simulated(dir.path(), "day1.csv", "2000");
    let report = dir.path().join("report");
    let flow = s(&sample_flow()).to_string();
    run(&["report", s(&day1), "--flow", &flow, "--out", s(&report)]);
    let before = listing(&report);
    assert!(before.iter().any(|(n, _)| n == "index.html"));
    assert!(before.iter().any(|(n, _)| n == "data/carts.parquet"));
    // Day 2: only treatment customers, so lift stops part-way.
    let o = cartlift(&[
        "report",
        s(&probe("day2.csv")),
        "--flow",
        &flow,
        "--out",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(listing(&report), before, "the folder changed");
    // Nothing half-built is left beside it.
    let siblings: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains("cartlift-old"))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
    // A stale file of an earlier run does not survive a rerun.
    std::fs::write(report.join("charts/attribution_vs_holdout_old.svg"), "x").unwrap();
    run(&["report", s(&day1), "--flow", &flow, "--out", s(&report)]);
    assert!(!report
        .join("charts/attribution_vs_holdout_old.svg")
        .exists());
    assert_eq!(listing(&report), before, "same inputs, same bytes");
    // A new folder, parents and all.
    let nested = dir.path().join("new/nested/report");
    run(&["report", s(&day1), "--flow", &flow, "--out", s(&nested)]);
    assert_eq!(listing(&nested), before);
    // A folder that is not a report is never replaced.
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), "mine").unwrap();
    let o = cartlift(&["report", s(&day1), "--flow", &flow, "--out", s(&home)]);
    assert_refused(&o, &["not a cartlift report"]);
    assert_eq!(std::fs::read(home.join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn a_second_run_on_a_locked_output_stops() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "300");
    let out = dir.path().join("carts.parquet");
    let lock = dir.path().join(".carts.parquet.cartlift-lock");
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .unwrap();
    held.lock().unwrap();
    let o = cartlift(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&out),
    ]);
    assert_refused(&o, &["another cartlift run"]);
    assert!(!out.exists());
    held.unlock().unwrap();
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&out),
    ]);
    assert!(out.exists());
}

/// Customer ids as e-mail addresses, the common case.
fn with_email_ids(src: &Path, dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
        } else {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            let n: u64 = cells[2][1..].parse().unwrap();
            cells[2] = format!("user{n}@example.com");
            out.push_str(&cells.join(","));
        }
        out.push('\n');
    }
    std::fs::write(dst, out).unwrap();
}

#[test]
fn shared_report_files_carry_no_customer_ids() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulated(dir.path(), "sim.csv", "2000");
    let events = dir.path().join("events.csv");
    with_email_ids(&sim, &events);
    let report = dir.path().join("report");
    let flow = s(&sample_flow()).to_string();
    run(&["report", s(&events), "--flow", &flow, "--out", s(&report)]);
    let summary = read_json(&report.join("summary.json"));
    let examples: usize = summary["audit"]["findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|f| f["examples"].as_array().unwrap().len())
        .sum();
    assert!(examples > 0, "the sample has audit findings to show");
    for (name, bytes) in listing(&report) {
        let text = String::from_utf8_lossy(&bytes);
        if name.starts_with("data/") {
            continue;
        }
        assert!(!text.contains("@example.com"), "{name} holds a customer id");
    }
    let carts = read_parquet(&report.join("data/carts.parquet"));
    let row: usize = summary["audit"]["findings"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|f| f["examples"].as_array().unwrap().clone())
        .map(|e| {
            e.as_str()
                .unwrap()
                .strip_prefix("carts row ")
                .expect("a row of the carts table")
                .parse()
                .unwrap()
        })
        .next()
        .unwrap();
    assert!(row < carts.height());
    // paths' terminal summary and audit file too; --show-ids opts in.
    let audit = dir.path().join("audit.json");
    let o = run(&[
        "paths",
        s(&events),
        "--flow",
        &flow,
        "--out",
        s(&dir.path().join("carts.parquet")),
        "--audit",
        s(&audit),
    ]);
    assert!(!stdout(&o).contains("@example.com"), "{}", stdout(&o));
    assert!(!std::fs::read_to_string(&audit)
        .unwrap()
        .contains("@example.com"));
    let o = run(&[
        "paths",
        s(&events),
        "--flow",
        &flow,
        "--out",
        s(&dir.path().join("carts2.parquet")),
        "--show-ids",
    ]);
    assert!(stdout(&o).contains("@example.com"));
}

#[test]
fn quarantine_cells_never_start_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("quarantine.csv");
    let o = run(&[
        "ingest",
        s(&probe("formula_events.csv")),
        "--out",
        s(&dir.path().join("events.csv")),
        "--quarantine",
        s(&q),
    ]);
    assert!(stdout(&o).contains("quarantined 4"), "{}", stdout(&o));
    let mut r = csv::Reader::from_path(&q).unwrap();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        rows += 1;
        for cell in rec.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?}"
            );
        }
        // The raw text is recoverable: drop the one leading quote.
        let raw = rec.get(5).unwrap();
        let raw = raw.strip_prefix('\'').unwrap_or(raw);
        assert!(raw.contains("checkout_started"));
    }
    assert_eq!(rows, 4);
}

#[test]
fn control_characters_never_reach_the_terminal_or_a_flow_file() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.csv");
    std::fs::write(
        &events,
        "ts,event,customer_id,cart_id,order_id,value,discount,coupon,flow_step,channel,variant,customer_status,currency\n\
         2026-03-05T10:00:00Z,checkout_started,bell\u{7}\u{1b}[31m,k1,,42.00,,,,,,new,USD\n\
         2026-03-05T10:00:00Z,checkout_started,ok,k1,,42.00,,,,,,new,USD\n",
    )
    .unwrap();
    let q = dir.path().join("q.csv");
    let o = run(&[
        "ingest",
        s(&events),
        "--out",
        s(&dir.path().join("out.csv")),
        "--quarantine",
        s(&q),
    ]);
    assert!(stdout(&o).contains("quarantined 1"), "{}", stdout(&o));
    assert!(!o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b));
    assert!(std::fs::read_to_string(&q)
        .unwrap()
        .contains("control character"));
    // A flow name with a control character is refused, naming the field.
    let o = cartlift(&[
        "assign",
        "--flow",
        s(&probe("explore_control_char.toml")),
        "--customer-id",
        "user1@example.com",
    ]);
    assert_refused(&o, &["flow.name", "control character"]);
}

fn write_flow(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(sample_flow()).unwrap();
    assert!(text.contains(from), "{from}");
    let p = dir.join(name);
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p
}

#[test]
fn meaningless_or_overflowing_flows_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "300");
    let cases = [
        (
            "attribution_window = \"7d\"",
            "attribution_window = \"115740741d\"",
            "flow.attribution_window",
        ),
        (
            "reentry_cooldown = \"14d\"",
            "reentry_cooldown = \"115740741d\"",
            "flow.reentry_cooldown",
        ),
        (
            "shipping_cost = 6.0",
            "shipping_cost = 1e308",
            "margin.shipping_cost",
        ),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        let flow = write_flow(dir.path(), &format!("f{i}.toml"), from, to);
        let out = dir.path().join(format!("c{i}.csv"));
        let o = cartlift(&["paths", s(&events), "--flow", s(&flow), "--out", s(&out)]);
        assert_refused(&o, &[field]);
        assert!(!out.exists());
    }
    let o = cartlift(&[
        "attribute",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--lookback",
        "115740741d",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("3650d"));
}

#[test]
fn extreme_option_values_are_usage_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "500");
    let carts = dir.path().join("carts.parquet");
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&carts),
    ]);
    let flow = s(&sample_flow()).to_string();
    for extra in [
        ["--alpha", "1e-300"],
        ["--cap", "NaN:NaN"],
        ["--cap", "NaN:100"],
        ["--cap", "inf:inf"],
        ["--prior-sd", "inf"],
    ] {
        let mut args = vec!["lift", s(&carts), "--flow", &flow];
        args.extend(extra);
        let o = cartlift(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(extra[0]), "{}", stderr(&o));
    }
    let o = cartlift(&[
        "plan",
        "--baseline-rate",
        "0.08",
        "--holdout",
        "0.1",
        "--daily",
        "400",
        "--relative-effect",
        "1e-300",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not reachable"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("inf"));
}

#[test]
fn non_finite_parquet_values_are_quarantined_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let events = probe("nonfinite.parquet");
    let q = dir.path().join("q.csv");
    let o = run(&[
        "ingest",
        s(&events),
        "--out",
        s(&dir.path().join("e.csv")),
        "--quarantine",
        s(&q),
    ]);
    assert!(
        stdout(&o).contains("read 4, accepted 2, quarantined 2"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("bad_number"));
    // `paths` reads the Parquet file directly: the same rows are set aside.
    let carts = dir.path().join("carts.csv");
    let o = run(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&carts),
    ]);
    let text = std::fs::read_to_string(&carts).unwrap() + &stdout(&o);
    assert!(!text.contains("inf") && !text.contains("NaN"), "{text}");
    assert!(
        stdout(&o).contains("2 rows were not valid events"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn huge_order_values_are_quarantined_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.csv");
    std::fs::write(
        &events,
        "ts,event,customer_id,cart_id,order_id,value\n\
         2026-03-05T10:00:00Z,checkout_started,c1,k1,,1e308\n\
         2026-03-05T11:00:00Z,order_completed,c1,k1,o1,40\n",
    )
    .unwrap();
    let q = dir.path().join("q.csv");
    let o = run(&[
        "ingest",
        s(&events),
        "--out",
        s(&dir.path().join("o.parquet")),
        "--quarantine",
        s(&q),
    ]);
    assert!(stdout(&o).contains("quarantined 1"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&q).unwrap();
    assert!(text.contains(",2,bad_number,value,"), "{text}");
    // A header naming a column twice stops the run, naming both columns.
    std::fs::write(&events, "ts,event,customer_id,value,value\n").unwrap();
    let o = cartlift(&["ingest", s(&events), "--out", s(&dir.path().join("p.csv"))]);
    assert_refused(&o, &["`value` appears twice", "columns 4 and 5"]);
}

#[test]
fn standard_input_and_gzip_are_read_once() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "300");
    let bytes = std::fs::read(&events).unwrap();
    let reference = dir.path().join("ref.parquet");
    run(&["ingest", s(&events), "--out", s(&reference)]);
    // Standard input.
    let out = dir.path().join("stdin.parquet");
    let mut child = bin()
        .args(["ingest", "-", "--out", s(&out)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_parquet(&out), read_parquet(&reference));
    // Gzip.
    let gz = dir.path().join("e.csv.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    let out = dir.path().join("gz.parquet");
    run(&["ingest", s(&gz), "--out", s(&out)]);
    assert_eq!(read_parquet(&out), read_parquet(&reference));
}

#[test]
fn one_busy_customer_reconstructs_every_session() {
    // probe-12's shape: one customer, sessions of a checkout, cart updates,
    // sends of step 1 and engagement with steps 2-4 that match no send.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("one.csv");
    let mut text =
        String::from("ts,event,customer_id,cart_id,order_id,value,flow_step,channel,currency\n");
    let kinds = [
        "message_sent",
        "message_delivered",
        "message_opened",
        "message_clicked",
    ];
    let mut t = 1_772_409_600i64; // 2026-03-02
    let sessions = 400;
    for s in 0..sessions {
        t += 7200;
        for j in 0..100 {
            t += 5;
            let ts = chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ");
            let line = match j {
                0 => format!("{ts},checkout_started,user1@example.com,k{s},,25.5,,,USD\n"),
                1..50 => format!("{ts},cart_updated,user1@example.com,k{s},,25.5,,,USD\n"),
                _ => format!(
                    "{ts},{},user1@example.com,k{s},,,{},email,USD\n",
                    kinds[j % 4],
                    1 + j % 4
                ),
            };
            text.push_str(&line);
        }
    }
    std::fs::write(&events, text).unwrap();
    let carts = dir.path().join("carts.parquet");
    let audit = dir.path().join("audit.json");
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&carts),
        "--audit",
        s(&audit),
    ]);
    let a = read_json(&audit);
    // Sessions are 2 h apart with the 14-day cooldown: one entry; every
    // message event after it is counted, none lost.
    let entries = a["entries"].as_u64().unwrap();
    assert!(entries >= 1);
    let messages_before = a["messages_without_entry"].as_u64().unwrap();
    let unmatched = a["engagement_without_send"].as_u64().unwrap();
    assert!(unmatched > 0 && messages_before > 0);
}

#[test]
fn markov_on_thousands_of_channels_keeps_every_conversion() {
    // probe-13's shape: a sparse chain of 6000 campaign-level channels.
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("paths.csv");
    let n = 6000;
    let mut text = String::from("path,total_conversions,total_conversion_value,total_null\n");
    let mut conversions = 0.0;
    for i in 0..n {
        let c = (i % 3) as f64;
        conversions += c;
        text.push_str(&format!(
            "ch{i} > ch{},{c},{},{}\n",
            (i * 7 + 1) % n,
            c * 10.5,
            1 + i % 2
        ));
    }
    std::fs::write(&table, text).unwrap();
    let json = dir.path().join("credit.json");
    run(&[
        "attribute",
        "--paths",
        s(&table),
        "--value-col",
        "total_conversion_value",
        "--null-col",
        "total_null",
        "--models",
        "markov_order_1",
        "--json",
        s(&json),
    ]);
    let credit = read_json(&json);
    let model = &credit["models"][0];
    let credited: f64 = model["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversions"].as_f64().unwrap())
        .sum();
    assert!(
        (credited - conversions).abs() < 1e-6 * conversions,
        "{credited} credited of {conversions}"
    );
}

#[test]
fn a_carts_table_with_non_finite_money_gives_no_inf() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "500");
    let carts = dir.path().join("carts.parquet");
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&carts),
    ]);
    let mut df = read_parquet(&carts);
    let mut revenue: Vec<Option<f64>> = df
        .column("revenue")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect();
    revenue[3] = Some(f64::INFINITY);
    revenue[5] = Some(1e308);
    revenue[7] = Some(f64::NAN);
    df.with_column(Column::new("revenue".into(), revenue))
        .unwrap();
    let bad = dir.path().join("bad.parquet");
    ParquetWriter::new(std::fs::File::create(&bad).unwrap())
        .finish(&mut df)
        .unwrap();
    let json = dir.path().join("lift.json");
    let o = cartlift(&[
        "lift",
        s(&bad),
        "--flow",
        s(&sample_flow()),
        "--json",
        s(&json),
    ]);
    assert_refused(&o, &["bad.parquet", "row 3", "`revenue`"]);
    let text = stdout(&o) + &std::fs::read_to_string(&json).unwrap_or_default();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(
            !word.eq_ignore_ascii_case("inf") && !word.eq_ignore_ascii_case("nan"),
            "{text}"
        );
    }
}

#[test]
fn a_named_pipe_is_read_once_and_whole() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "e.csv", "300");
    let bytes = std::fs::read(&events).unwrap();
    let reference = dir.path().join("ref.parquet");
    run(&["ingest", s(&events), "--out", s(&reference)]);
    let fifo = dir.path().join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(&bytes).unwrap();
        })
    };
    let out = dir.path().join("pipe.parquet");
    run(&["ingest", s(&fifo), "--out", s(&out)]);
    writer.join().unwrap();
    assert_eq!(read_parquet(&out), read_parquet(&reference));
}

#[test]
fn an_oversized_line_is_quarantined_short() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.csv");
    let huge = "x".repeat(3 << 20);
    std::fs::write(
        &events,
        format!(
            "ts,event,customer_id,cart_id,order_id,value\n\
             2026-03-05T10:00:00Z,checkout_started,c1,{huge},,10\n\
             2026-03-05T11:00:00Z,order_completed,c1,k1,o1,40\n"
        ),
    )
    .unwrap();
    let q = dir.path().join("q.csv");
    let o = run(&[
        "ingest",
        s(&events),
        "--out",
        s(&dir.path().join("o.csv")),
        "--quarantine",
        s(&q),
    ]);
    assert!(
        stdout(&o).contains("read 2, accepted 1, quarantined 1"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&q).unwrap();
    assert!(
        text.contains("longer than 1048576 bytes"),
        "{}",
        &text[..200]
    );
    assert!(text.len() < 10_000, "{} bytes", text.len());
}

#[test]
fn a_json_key_given_twice_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.ndjson");
    std::fs::write(
        &events,
        "{\"ts\":\"2026-03-05T10:00:00Z\",\"event\":\"checkout_started\",\"customer_id\":\"c1\",\"value\":10}\n\
         {\"ts\":\"2026-03-05T11:00:00Z\",\"event\":\"order_completed\",\"customer_id\":\"c1\",\"order_id\":\"o1\",\"value\":10,\"value\":1000}\n",
    )
    .unwrap();
    let q = dir.path().join("q.csv");
    let o = run(&[
        "ingest",
        s(&events),
        "--out",
        s(&dir.path().join("o.csv")),
        "--quarantine",
        s(&q),
    ]);
    assert!(stdout(&o).contains("quarantined 1"), "{}", stdout(&o));
    assert!(std::fs::read_to_string(&q)
        .unwrap()
        .contains("appears twice"));
}

#[test]
fn a_reader_that_stops_early_gets_no_panic() {
    // `cartlift attribute … | head -1`: the table is far longer than a pipe holds.
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("paths.csv");
    let mut text = String::from("path,total_conversions,total_null\n");
    for i in 0..6000 {
        text.push_str(&format!("ch{i} > ch{},1,1\n", (i + 1) % 6000));
    }
    std::fs::write(&table, text).unwrap();
    let mut child = bin()
        .args([
            "attribute",
            "--paths",
            s(&table),
            "--null-col",
            "total_null",
            "--models",
            "last_touch",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_ne!(o.status.code(), Some(101), "{}", stderr(&o));
    assert!(o.status.code().is_some(), "killed by a signal");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn a_units_table_value_above_the_ceiling_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("units.csv");
    let mut text = String::from("unit,segment,spend\n");
    for i in 1..=60 {
        let arm = if i % 2 == 0 { "ctl" } else { "trt" };
        let v = if i == 9 {
            "1e308".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},{arm},{v}\n"));
    }
    std::fs::write(&table, text).unwrap();
    let o = cartlift(&[
        "lift",
        "--units",
        s(&table),
        "--arm-col",
        "segment",
        "--control",
        "ctl",
        "--metric",
        "spend",
    ]);
    assert_refused(&o, &["line 10", "`spend`", "1e308"]);
}

/// Runs `script` with `sh` in a private mount namespace where `full` (under
/// `dir`) is a 96 KiB tmpfs, so writes there fail with ENOSPC. `None` when
/// this system cannot make one (no user namespaces).
fn on_a_small_disk(dir: &Path, script: &str) -> Option<Output> {
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    let wrapped = format!("mount -t tmpfs -o size=96k tmpfs \"$FULL\" || exit 77\n{script}",);
    let o = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &wrapped])
        .env("FULL", &full)
        .env("CARTLIFT", env!("CARGO_BIN_EXE_cartlift"))
        .env("OUT", dir)
        .output()
        .ok()?;
    if o.status.code() == Some(77) || String::from_utf8_lossy(&o.stderr).contains("unshare:") {
        eprintln!("no private tmpfs here: {}", stderr(&o));
        return None;
    }
    Some(o)
}

#[test]
fn a_full_disk_names_the_file_and_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "a.csv", "2000");
    let script = format!(
        r#"
printf 'old\n' > "$FULL/carts.csv"
"$CARTLIFT" paths {ev} --flow {flow} --out "$FULL/carts.csv" -q 2> "$OUT/paths.err"
echo $? > "$OUT/paths.code"
cat "$FULL/carts.csv" > "$OUT/carts.after"
"$CARTLIFT" ingest {ev} --out "$FULL/events.ndjson" -q 2> "$OUT/ingest.err"
echo $? > "$OUT/ingest.code"
mkdir "$FULL/report" && printf 'earlier\n' > "$FULL/report/summary.json" && : > "$FULL/report/.cartlift-report"
"$CARTLIFT" report {ev} --flow {flow} --out "$FULL/report" -q 2> "$OUT/report.err"
echo $? > "$OUT/report.code"
cat "$FULL/report/summary.json" > "$OUT/summary.after"
ls -A "$FULL" "$FULL/report" > "$OUT/listing"
"#,
        ev = s(&events),
        flow = s(&sample_flow()),
    );
    let Some(o) = on_a_small_disk(dir.path(), &script) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    for (cmd, file) in [
        ("paths", "carts.csv"),
        ("ingest", "events.ndjson"),
        ("report", "report"),
    ] {
        let code = read(&format!("{cmd}.code"));
        let err = read(&format!("{cmd}.err"));
        assert_eq!(code.trim(), "1", "{cmd} on a full disk: {err}");
        assert!(err.contains(file), "{cmd}'s error names {file}: {err}");
        assert!(
            err.contains("No space left") || err.contains("disk full"),
            "{cmd}'s error says the disk is full: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(read("carts.after"), "old\n", "the previous output is kept");
    assert_eq!(
        read("summary.after"),
        "earlier\n",
        "the previous report is kept"
    );
    let listing = read("listing");
    assert!(
        !listing.contains("cartlift-tmp"),
        "temporary files left: {listing}"
    );
    assert!(
        !listing.lines().any(|l| l.trim() == "events.ndjson"),
        "a half-written output: {listing}"
    );
}

#[test]
fn simulate_on_a_full_disk_names_the_file_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let flow = sample_flow();
    // The log's own disk full; then the disk of the sorted runs full.
    let script = format!(
        r#"
"$CARTLIFT" simulate --flow {flow} --carts 2000 --out "$FULL/sim.parquet" --truth "$OUT/t1.json" -q 2> "$OUT/sim.err"
echo $? > "$OUT/sim.code"
TMPDIR="$FULL" "$CARTLIFT" simulate --flow {flow} --carts 2000 --out "$OUT/runs.parquet" --truth "$OUT/t2.json" -q 2> "$OUT/runs.err"
echo $? > "$OUT/runs.code"
ls -A "$FULL" > "$OUT/listing"
"#,
        flow = s(&flow),
    );
    let Some(o) = on_a_small_disk(dir.path(), &script) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let full = dir.path().join("full");
    for (case, named) in [("sim", "sim.parquet"), ("runs", s(&full))] {
        let code = read(&format!("{case}.code"));
        let err = read(&format!("{case}.err"));
        assert_eq!(code.trim(), "1", "{case} on a full disk: {err}");
        assert!(err.contains(named), "{case}'s error names {named}: {err}");
        assert!(
            err.contains("No space left") || err.contains("StorageFull"),
            "{case}'s error says the disk is full: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Locks stay (as for every output); no temporary file, no half log.
    let listing = read("listing");
    assert!(
        listing.lines().all(|l| l.ends_with(".cartlift-lock")),
        "files left: {listing}"
    );
    for name in ["runs.parquet", "t1.json", "t2.json"] {
        assert!(!dir.path().join(name).exists(), "{name} written");
    }
}

#[test]
fn a_statistics_table_out_of_range_is_refused_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let events = simulated(dir.path(), "a.csv", "300");
    let carts = dir.path().join("carts.parquet");
    let stats = dir.path().join("stats.csv");
    let flow = sample_flow();
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&flow),
        "--out",
        s(&carts),
        "-q",
    ]);
    run(&[
        "lift",
        s(&carts),
        "--flow",
        s(&flow),
        "--write-stats",
        s(&stats),
        "-q",
    ]);
    let text = std::fs::read_to_string(&stats).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Each edit makes one revenue row impossible for values up to 1e12.
    for (column, value, named) in [
        ("m2", "1e300", "m2"),
        ("sum_cube", "1e307", "sum_cube"),
        ("n", "1e300", "n"),
        ("mean", "1e197", "mean"),
        ("nonzero", "1e9", "nonzero"),
    ] {
        let mut line_no = 0;
        let edited: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
                if line_no == 0 && i > 0 && cells[col("metric")] == "revenue_per_recipient" {
                    line_no = i + 1;
                    cells[col(column)] = value.to_string();
                }
                cells.join(",")
            })
            .collect();
        let bad = dir.path().join(format!("bad_{column}.csv"));
        std::fs::write(&bad, edited.join("\n") + "\n").unwrap();
        let o = cartlift(&["lift", "--stats", s(&bad), "--flow", s(&flow), "-q"]);
        assert_refused(&o, &[&format!("line {line_no}"), &format!("`{named}`")]);
        assert!(!stdout(&o).contains("inf"), "{}", stdout(&o));
    }
}

#[test]
fn outputs_take_the_mode_of_a_new_file_or_of_the_file_they_replace() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // What this process's umask gives a new file and a new folder.
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let plain_dir = dir.path().join("plain_dir");
    std::fs::create_dir(&plain_dir).unwrap();
    let out = dir.path().join("events.parquet");
    let sim = |out: &std::path::Path| {
        run(&[
            "simulate",
            "--flow",
            s(&sample_flow()),
            "--carts",
            "50",
            "--out",
            s(out),
        ])
    };
    sim(&out);
    assert_eq!(mode(&out), mode(&plain));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    sim(&out);
    assert_eq!(mode(&out), 0o640, "a replaced output keeps its mode");
    let report = dir.path().join("report");
    run(&[
        "report",
        s(&out),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&report),
    ]);
    assert_eq!(mode(&report), mode(&plain_dir));
}

#[test]
fn simulate_refuses_a_platform_shape_under_another_containers_name() {
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [
        ("ga4", "log.parquet"),
        ("shopify", "log.csv"),
        ("segment", "log.ndjson"),
        ("klaviyo", "log.parquet"),
    ] {
        let out = dir.path().join(name);
        let o = bin()
            .args([
                "simulate",
                "--flow",
                s(&sample_flow()),
                "--carts",
                "20",
                "--format",
                format,
                "--out",
                s(&out),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{format}: {err}");
        assert!(err.contains(&format!("--format {format} writes")), "{err}");
        assert!(!out.exists(), "{format}: nothing written");
    }
}

/// An output written through another output's temporary file (the Shopify
/// shape's platform events beside its webhooks) leaves beside the outputs
/// only the outputs and their lock files: no lock or temporary file of a
/// temporary file.
#[test]
fn nested_outputs_leave_only_outputs_and_their_locks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop.ndjson");
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        "50",
        "--format",
        "shopify",
        "--out",
        s(&out),
    ]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".shop.ndjson.cartlift-lock",
            ".shop.platform.csv.cartlift-lock",
            "shop.ndjson",
            "shop.platform.csv"
        ]
    );
}
