//! Streaming ingestion: the events, the quarantine file and the report do
//! not depend on how many events are held in memory per sorted run
//! (`CARTLIFT_INGEST_CHUNK`), nor on where an input is cut into files —
//! boundaries falling inside one customer's and one order's events.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// One ingest run: (events bytes, quarantine bytes, report JSON, stdout).
fn ingest(dir: &Path, inputs: &[PathBuf], out: &str, chunk: Option<usize>) -> [Vec<u8>; 4] {
    let out = dir.join(out);
    let q = dir.join("q.csv");
    let report = dir.join("report.json");
    for p in [&out, &q, &report] {
        let _ = std::fs::remove_file(p);
    }
    let mut args: Vec<String> = vec!["ingest".into()];
    args.extend(inputs.iter().map(|p| s(p).to_string()));
    for (k, v) in [("--out", &out), ("--quarantine", &q), ("--report", &report)] {
        args.push(k.into());
        args.push(s(v).into());
    }
    let mut cmd = bin();
    cmd.current_dir(dir).args(&args);
    match chunk {
        Some(n) => cmd.env("CARTLIFT_INGEST_CHUNK", n.to_string()),
        None => cmd.env_remove("CARTLIFT_INGEST_CHUNK"),
    };
    let o = cmd.output().expect("binary runs");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    [
        std::fs::read(&out).unwrap(),
        std::fs::read(&q).unwrap(),
        std::fs::read(&report).unwrap(),
        o.stdout,
    ]
}

fn simulate(dir: &Path, carts: &str, format: &str, out: &str) -> PathBuf {
    let path = dir.join(out);
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        carts,
        "--seed",
        "11",
        "--format",
        format,
        "--out",
        s(&path),
    ]);
    path
}

/// A canonical CSV with its troubles: exact repeats of earlier rows (one
/// of them far from the original), a refund repeated, a row that cannot
/// be read, and rows out of time order.
fn messy_csv(dir: &Path) -> (PathBuf, Vec<String>) {
    let clean = simulate(dir, "150", "canonical", "clean.csv");
    let text = std::fs::read_to_string(clean).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    // Newest first: every run boundary then falls across time order.
    lines.reverse();
    let refund = lines
        .iter()
        .find(|l| l.contains(",order_refunded,"))
        .cloned()
        .expect("the simulated log has a refund");
    let n = lines.len();
    lines.insert(n / 2, lines[3].clone());
    lines.insert(n / 3, refund);
    lines.push(lines[n / 4].clone());
    lines.insert(7, "2026-01-01T00:00:00Z,checkout_started".into());
    let path = dir.join("messy.csv");
    std::fs::write(
        &path,
        std::iter::once(header.clone())
            .chain(lines.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
    .unwrap();
    (path, std::iter::once(header).chain(lines).collect())
}

#[test]
fn chunk_size_changes_no_byte_of_csv_and_parquet_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (messy, _) = messy_csv(dir.path());
    for (out, chunks) in [
        ("events.parquet", &[1, 7, 1000][..]),
        ("events.csv", &[2][..]),
        ("events.ndjson", &[5][..]),
    ] {
        let whole = ingest(dir.path(), std::slice::from_ref(&messy), out, None);
        let report = String::from_utf8_lossy(&whole[2]).to_string();
        assert!(report.contains("\"duplicate_"), "{report}");
        assert!(report.contains("\"malformed_row\": 1"), "{report}");
        for &chunk in chunks {
            let pieces = ingest(dir.path(), std::slice::from_ref(&messy), out, Some(chunk));
            for (i, what) in ["events", "quarantine", "report", "stdout"]
                .iter()
                .enumerate()
            {
                assert!(
                    pieces[i] == whole[i],
                    "{out}: {what} differs with {chunk} events per run"
                );
            }
        }
    }
}

/// Cuts `lines` (header first) into files at the given row numbers.
fn cut(dir: &Path, lines: &[String], at: &[usize]) -> Vec<PathBuf> {
    let (header, rows) = (&lines[0], &lines[1..]);
    let mut bounds = vec![0];
    bounds.extend_from_slice(at);
    bounds.push(rows.len());
    bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let p = dir.join(format!("piece{i}.csv"));
            let body: Vec<&str> = std::iter::once(header.as_str())
                .chain(rows[w[0]..w[1]].iter().map(String::as_str))
                .collect();
            std::fs::write(&p, body.join("\n") + "\n").unwrap();
            p
        })
        .collect()
}

#[test]
fn files_cut_inside_a_customer_and_an_order_give_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let (messy, lines) = messy_csv(dir.path());
    let rows = &lines[1..];
    let customer = |l: &str| l.split(',').nth(2).unwrap_or("").to_string();
    let order = |l: &str| l.split(',').nth(4).unwrap_or("").to_string();
    // Between two rows of one customer, and between an order's placement
    // and a later row of the same order (its refund or cancellation).
    let in_customer = (1..rows.len())
        .find(|&i| i > rows.len() / 5 && customer(&rows[i - 1]) == customer(&rows[i]))
        .expect("a customer with adjacent rows");
    let in_order = rows
        .iter()
        .position(|l| l.contains(",order_refunded,") || l.contains(",order_cancelled,"))
        .map(|i| {
            let id = order(&rows[i]);
            let j = rows
                .iter()
                .rposition(|l| l.contains(",order_completed,") && order(l) == id)
                .expect("the placement of a refunded order");
            // Newest first: the placement comes after its refund.
            (i.min(j) + 1).max(in_customer + 1)
        })
        .expect("a refund or cancellation");
    let pieces = cut(dir.path(), &lines, &[in_customer, in_order]);
    assert_eq!(pieces.len(), 3);
    let whole = ingest(dir.path(), &[messy], "events.parquet", None);
    for chunk in [Some(3), None] {
        let cut_up = ingest(dir.path(), &pieces, "events.parquet", chunk);
        assert!(cut_up[0] == whole[0], "events differ when the log is cut");
        assert_eq!(
            String::from_utf8_lossy(&cut_up[3]).lines().next(),
            String::from_utf8_lossy(&whole[3]).lines().next(),
            "counts differ when the log is cut"
        );
    }
}

#[test]
fn webhooks_with_aliases_and_order_snapshots_do_not_depend_on_the_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let shop = simulate(dir.path(), "120", "shopify", "shop.ndjson");
    let platform = dir.path().join("shop.platform.csv");
    let inputs = [shop, platform];
    let whole = ingest(dir.path(), &inputs, "events.csv", None);
    assert!(!whole[0].is_empty());
    for chunk in [1, 300] {
        let pieces = ingest(dir.path(), &inputs, "events.csv", Some(chunk));
        assert!(
            pieces == whole,
            "shopify: outputs differ with {chunk} per run"
        );
    }
}

/// The commands that read raw events (`report`, `lift`, `policy`,
/// `attribute`) stage them as canonical Parquet and reconstruct it range by
/// range: the tables equal the reconstruction of the whole log held in
/// memory, for a log cut into files inside a customer's events, and the
/// guardrails' scan of the staged file finds exactly the log's
/// unsubscribes and complaints.
#[test]
fn raw_files_reconstruct_as_the_whole_log_in_memory() {
    use cartlift::config::FlowConfig;
    use cartlift::events::ingest::{ingest_into, IngestOptions, Quarantine};
    use cartlift::flow::{self, table::EventTable};
    use cartlift::schema::EventKind;

    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = messy_csv(dir.path());
    let pieces = cut(dir.path(), &lines, &[lines.len() / 3, lines.len() / 2]);
    let config = FlowConfig::load(&sample_flow()).unwrap();
    let opts = IngestOptions::default();

    let mut table = EventTable::default();
    let report = ingest_into(&pieces, &opts, &mut Quarantine::discard(), &mut table).unwrap();
    assert!(
        report.quarantined > 0,
        "the messy log has rows to set aside"
    );
    table.skipped_rows = report.quarantined;
    let whole = flow::reconstruct(&table, &config).unwrap();

    let streamed = flow::reconstruct_inputs(&pieces, &opts, &config, true).unwrap();
    assert!(whole.carts.height() > 100);
    assert!(streamed.carts.equals_missing(&whole.carts), "carts");
    assert!(streamed.touches.equals_missing(&whole.touches), "touches");
    assert_eq!(streamed.audit, whole.audit);
    let carts_only = flow::reconstruct_inputs(&pieces, &opts, &config, false).unwrap();
    assert!(carts_only.carts.equals_missing(&whole.carts));
    assert_eq!(carts_only.touches.height(), 0);

    // The staged file's guardrail events, scanned on their own.
    let staged = flow::ingest_to_parquet(&pieces, &opts).unwrap();
    let kinds = [EventKind::Unsubscribed, EventKind::SpamComplaint];
    let scanned = EventTable::read_parquet_kinds(&staged.path, &kinds).unwrap();
    let expected: Vec<(EventKind, i64, &str, i32)> = (0..table.len())
        .filter(|&r| kinds.contains(&table.kind[r]))
        .map(|r| {
            let c = table.customers.name(table.customer[r]).unwrap();
            (table.kind[r], table.ts[r], c, table.step[r])
        })
        .collect();
    let got: Vec<(EventKind, i64, &str, i32)> = (0..scanned.len())
        .map(|r| {
            let c = scanned.customers.name(scanned.customer[r]).unwrap();
            (scanned.kind[r], scanned.ts[r], c, scanned.step[r])
        })
        .collect();
    assert!(!expected.is_empty(), "the sample log has unsubscribes");
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, expected_sorted);
    assert_eq!(scanned.skipped_rows, 0);
}

/// A glob pattern the shell did not expand (quoted, or past its argument
/// limit) reads the files it matches in path order, exactly as listing
/// them does; a pattern that matches nothing, or is malformed, is an error
/// naming it.
#[test]
fn a_quoted_glob_reads_its_files_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = messy_csv(dir.path());
    let pieces = cut(dir.path(), &lines, &[lines.len() / 4, lines.len() / 2]);
    let listed = ingest(dir.path(), &pieces, "events.parquet", None);
    // As in a shell: a hidden file is not matched, `**` does not follow a
    // link back up, and a file is read once.
    std::fs::copy(&pieces[0], dir.path().join(".piece9.csv")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("sub").join("loop")).unwrap();
    for pattern in ["piece*.csv", "**/piece?.csv", "piece[0-2].csv"] {
        let globbed = ingest(
            dir.path(),
            &[dir.path().join(pattern)],
            "events.parquet",
            None,
        );
        assert!(globbed[0] == listed[0], "events differ: {pattern}");
        assert!(globbed[1] == listed[1], "quarantine differs: {pattern}");
        assert_eq!(globbed[3], listed[3], "{pattern}");
    }
    for (bad, why) in [
        ("nothing*.csv", "no file matches this pattern"),
        ("piece[.csv", "not a valid file pattern"),
    ] {
        let arg = dir.path().join(bad);
        let o = bin()
            .args(["paths", s(&arg), "--flow", s(&sample_flow()), "--out"])
            .arg(dir.path().join("carts.csv"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains(bad) && err.contains(why), "{err}");
    }
}
