//! Real-world payload shapes through `ingest` and `paths`: each case is an
//! input shaped like what Shopify, Segment or GA4 send, with the revenue
//! each customer's entry must show (worked out by hand in the comments).

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn case_dir(name: &str) -> PathBuf {
    root().join("tests/data/field").join(name)
}

/// The carts table as customer → (entries, revenue of the last entry, converted).
fn carts(path: &Path) -> BTreeMap<String, (usize, f64, bool)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (c, rev, conv) = (col("customer_id"), col("revenue"), col("converted"));
    let mut out: BTreeMap<String, (usize, f64, bool)> = BTreeMap::new();
    for row in r.records() {
        let row = row.unwrap();
        let e = out.entry(row[c].to_string()).or_default();
        e.0 += 1;
        e.1 = row[rev].parse().unwrap_or(0.0);
        e.2 = &row[conv] == "true";
    }
    out
}

struct Run {
    carts: BTreeMap<String, (usize, f64, bool)>,
    quarantine: Vec<(String, String)>,
    ingest_stdout: String,
    report: serde_json::Value,
    events: String,
}

/// `ingest` (the given inputs) then `paths` on its output.
fn run_case(inputs: &[&Path], flow: &Path, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    let q = dir.path().join("quarantine.csv");
    let rep = dir.path().join("ingest.json");
    let out = dir.path().join("carts.csv");
    let mut args: Vec<&str> = vec!["ingest"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend([
        "--out",
        s(&events),
        "--quarantine",
        s(&q),
        "--report",
        s(&rep),
    ]);
    args.extend(extra);
    let ingest = run(&args);
    run(&["paths", s(&events), "--flow", s(flow), "--out", s(&out)]);
    let mut quarantine = Vec::new();
    let mut r = csv::Reader::from_path(&q).unwrap();
    for row in r.records() {
        let row = row.unwrap();
        quarantine.push((row[2].to_string(), row[4].to_string()));
    }
    Run {
        carts: carts(&out),
        quarantine,
        ingest_stdout: String::from_utf8_lossy(&ingest.stdout).to_string(),
        report: read_json(&rep),
        events: std::fs::read_to_string(&events).unwrap(),
    }
}

fn revenue(run: &Run, customer: &str) -> f64 {
    run.carts
        .get(customer)
        .unwrap_or_else(|| panic!("no entry for {customer}: {:?}", run.carts))
        .1
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

#[test]
fn shopify_cancellation_after_creation_zeroes_the_order() {
    let d = case_dir("01-shopify-orders-cancelled-webhook");
    let r = run_case(
        &[&d.join("webhooks.ndjson")],
        &d.join("flow.toml"),
        &["--format", "shopify"],
    );
    assert_eq!(r.carts.len(), 2, "{:?}", r.carts);
    // 2,250.00 placed at 13:30, cancelled at 13:33 → 0; 120.00 stays.
    assert!(close(revenue(&r, "5550001"), 0.0));
    assert!(close(revenue(&r, "5550002"), 120.0));
    assert!(
        r.quarantine.is_empty(),
        "the cancellation is applied, not a duplicate: {:?}",
        r.quarantine
    );
    let l = &r.report["ledger"];
    assert_eq!(l["orders"], 2);
    assert_eq!(l["cancelled_orders"], 1);
    assert_eq!(l["gross_revenue"], 2370.0);
    assert_eq!(l["cancellations"], 2250.0);
    assert_eq!(l["net_revenue"], 120.0);
    assert!(
        r.ingest_stdout
            .contains("gross 2370.00 − refunds 0.00 − cancellations 2250.00 = net 120.00"),
        "{}",
        r.ingest_stdout
    );
}

#[test]
fn shopify_refund_webhook_joins_its_order() {
    let d = case_dir("02-shopify-refunds-create-webhook");
    let r = run_case(
        &[&d.join("webhooks.ndjson")],
        &d.join("flow.toml"),
        &["--format", "shopify"],
    );
    assert_eq!(r.carts.len(), 1);
    // 348.00 − 41.94 (successful refund transaction, two days later).
    assert!(close(revenue(&r, "5550003"), 306.06), "{:?}", r.carts);
    assert_eq!(r.report["ledger"]["refunds"], 1);
    assert_eq!(r.report["ledger"]["refunded"], 41.94);
}

#[test]
fn shopify_test_order_is_not_revenue() {
    let d = case_dir("05-shopify-test-order");
    let r = run_case(
        &[&d.join("webhooks.ndjson")],
        &d.join("flow.toml"),
        &["--format", "shopify"],
    );
    assert!(close(revenue(&r, "5550007"), 0.0));
    assert!(!r.carts["5550007"].2, "the test order converts nothing");
    assert!(close(revenue(&r, "5550008"), 64.0));
    assert_eq!(r.report["ledger"]["test_orders"], 1);
    assert_eq!(r.report["ledger"]["test_order_value"], 398.0);
}

#[test]
fn ga4_transaction_ids_are_deduplicated_per_user() {
    let d = case_dir("07-ga4-transaction-id-per-user");
    let r = run_case(
        &[&d.join("ga4_export.ndjson")],
        &d.join("flow.toml"),
        &["--format", "ga4"],
    );
    // A's reload counts once; B and C share transaction id "1" but are different users.
    assert!(close(revenue(&r, "1197596843.1673515404"), 72.05));
    assert!(close(revenue(&r, "2029414721.1673519133"), 40.0));
    assert!(close(revenue(&r, "1380923563.1673522911"), 55.0));
    assert_eq!(r.quarantine.len(), 1, "{:?}", r.quarantine);
    assert_eq!(r.quarantine[0].0, "duplicate_order");
}

#[test]
fn segment_warehouse_export_is_recognised() {
    let d = case_dir("13-segment-warehouse-export");
    let r = run_case(
        &[&d.join("segment_warehouse.csv")],
        &d.join("flow.toml"),
        &[],
    );
    assert!(close(revenue(&r, "wh-user-1"), 80.0));
    assert!(close(revenue(&r, "wh-user-2"), 45.5));
    // `paths` reads the export directly too.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("carts.csv");
    run(&[
        "paths",
        s(&d.join("segment_warehouse.csv")),
        "--flow",
        s(&d.join("flow.toml")),
        "--out",
        s(&out),
    ]);
    assert_eq!(carts(&out).len(), 2);
}

/// Writes lines to a file in a temporary folder.
fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn flow() -> PathBuf {
    case_dir("01-shopify-orders-cancelled-webhook").join("flow.toml")
}

fn checkout(
    cust: u64,
    email: &str,
    token: &str,
    created: &str,
    updated: &str,
    total: &str,
) -> String {
    format!(
        r#"{{"topic":"checkouts/update","payload":{{"id":1,"token":"{token}","email":"{email}","created_at":"{created}","updated_at":"{updated}","completed_at":null,"total_price":"{total}","currency":"USD","abandoned_checkout_url":"https://shop.example/r","customer":{{"id":{cust},"email":"{email}"}}}}}}"#
    )
}

/// A Shopify order webhook; `extra` adds fields (such as `refunds`).
#[allow(clippy::too_many_arguments)]
fn order(
    topic: &str,
    id: u64,
    cust: u64,
    email: &str,
    token: &str,
    at: &str,
    updated: &str,
    total: &str,
    extra: &str,
) -> String {
    format!(
        r#"{{"topic":"{topic}","payload":{{"id":{id},"email":"{email}","created_at":"{at}","updated_at":"{updated}","processed_at":"{at}","order_number":{id},"test":false,"total_price":"{total}","currency":"USD","financial_status":"paid","total_discounts":"0.00","checkout_token":"{token}","cancelled_at":null{extra},"customer":{{"id":{cust},"email":"{email}"}}}}}}"#
    )
}

fn refund(id: u64, at: &str, amount: &str, status: &str) -> String {
    format!(
        r#"{{"id":{id},"created_at":"{at}","processed_at":"{at}","transactions":[{{"id":{},"kind":"refund","status":"{status}","amount":"{amount}"}}]}}"#,
        id + 1
    )
}

#[test]
fn shopify_snapshots_count_each_refund_once_only_when_money_moved() {
    let dir = tempfile::tempdir().unwrap();
    let co = checkout(
        9001,
        "a@example.com",
        "tok-a",
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:00:00Z",
        "200.00",
    );
    let create = order(
        "orders/create",
        77,
        9001,
        "a@example.com",
        "tok-a",
        "2026-03-02T13:00:00Z",
        "2026-03-02T13:00:00Z",
        "200.00",
        r#","refunds":[]"#,
    );
    let r1 = refund(501, "2026-03-03T10:00:00Z", "30.00", "success");
    let failed = refund(503, "2026-03-03T11:00:00Z", "50.00", "failure");
    let pending = refund(505, "2026-03-03T12:00:00Z", "20.00", "pending");
    let upd1 = order(
        "orders/updated",
        77,
        9001,
        "a@example.com",
        "tok-a",
        "2026-03-02T13:00:00Z",
        "2026-03-03T10:00:01Z",
        "200.00",
        &format!(r#","refunds":[{r1}]"#),
    );
    let upd2 = order(
        "orders/updated",
        77,
        9001,
        "a@example.com",
        "tok-a",
        "2026-03-02T13:00:00Z",
        "2026-03-03T12:00:01Z",
        "200.00",
        &format!(r#","refunds":[{r1},{failed},{pending}]"#),
    );
    let lines = vec![
        co.clone(),
        create.clone(),
        upd1.clone(),
        upd2.clone(),
        upd2.clone(),
    ];
    let a = run_case(&[&write(dir.path(), "a.ndjson", &lines)], &flow(), &[]);
    // 200 − 30 (the failed and the pending refund moved no money; snapshots repeat r1).
    assert!(close(revenue(&a, "9001"), 170.0), "{:?}", a.carts);
    assert_eq!(a.report["ledger"]["refunds"], 1);
    // Any order of the same payloads, repeats included: the same events.
    let shuffled = vec![upd2.clone(), upd1, co, upd2, create];
    let b = run_case(&[&write(dir.path(), "b.ndjson", &shuffled)], &flow(), &[]);
    assert_eq!(a.events, b.events);
    assert_eq!(a.carts, b.carts);
    assert_eq!(a.report["ledger"], b.report["ledger"]);
}

#[test]
fn refunds_beyond_the_order_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let co = checkout(
        9002,
        "b@example.com",
        "tok-b",
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:00:00Z",
        "80.00",
    );
    let r1 = refund(601, "2026-03-03T10:00:00Z", "60.00", "success");
    let r2 = refund(603, "2026-03-04T10:00:00Z", "60.00", "success");
    let upd = order(
        "orders/updated",
        78,
        9002,
        "b@example.com",
        "tok-b",
        "2026-03-02T13:00:00Z",
        "2026-03-04T10:00:01Z",
        "80.00",
        &format!(r#","refunds":[{r1},{r2}]"#),
    );
    let r = run_case(&[&write(dir.path(), "c.ndjson", &[co, upd])], &flow(), &[]);
    assert!(close(revenue(&r, "9002"), 0.0), "{:?}", r.carts);
    let l = &r.report["ledger"];
    assert_eq!(l["refunds_capped"], 1);
    assert_eq!(l["refunded"], 80.0);
    assert_eq!(l["refund_amount_capped"], 40.0);
    assert_eq!(l["net_revenue"], 0.0);
}

#[test]
fn a_checkout_still_being_edited_is_not_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    // Created at 10:00, last edited at 10:50, ordered at 11:20: never an hour idle.
    let lines = vec![
        checkout(
            9003,
            "c@example.com",
            "tok-c",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:00:00Z",
            "90.00",
        ),
        checkout(
            9003,
            "c@example.com",
            "tok-c",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:50:00Z",
            "95.00",
        ),
        order(
            "orders/create",
            79,
            9003,
            "c@example.com",
            "tok-c",
            "2026-03-02T11:20:00Z",
            "2026-03-02T11:20:00Z",
            "95.00",
            "",
        ),
        // Another shopper, really abandoned, so the log has an entry.
        checkout(
            9004,
            "d@example.com",
            "tok-d",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:00:00Z",
            "40.00",
        ),
        order(
            "orders/create",
            80,
            9004,
            "d@example.com",
            "tok-d",
            "2026-03-02T15:00:00Z",
            "2026-03-02T15:00:00Z",
            "40.00",
            "",
        ),
    ];
    let r = run_case(&[&write(dir.path(), "d.ndjson", &lines)], &flow(), &[]);
    assert!(!r.carts.contains_key("9003"), "{:?}", r.carts);
    assert!(close(revenue(&r, "9004"), 40.0));
}

#[test]
fn segment_refund_without_amount_is_a_full_refund_and_orphans_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        r#"{"type":"track","event":"Checkout Started","userId":"u1","timestamp":"2026-03-02T10:00:00Z","properties":{"checkout_id":"k1","total":50}}"#.to_string(),
        r#"{"type":"track","event":"Order Refunded","userId":"u1","timestamp":"2026-03-03T10:00:00Z","properties":{"order_id":"o1"}}"#.to_string(),
        r#"{"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-03-02T12:00:00Z","properties":{"checkout_id":"k1","order_id":"o1","total":50}}"#.to_string(),
        r#"{"type":"track","event":"Order Refunded","userId":"u1","timestamp":"2026-03-03T10:00:00Z","properties":{"order_id":"o-unknown","total":5}}"#.to_string(),
    ];
    let r = run_case(&[&write(dir.path(), "e.ndjson", &lines)], &flow(), &[]);
    assert!(close(revenue(&r, "u1"), 0.0), "{:?}", r.carts);
    assert_eq!(r.quarantine.len(), 1);
    assert_eq!(r.quarantine[0].0, "unknown_order");
    assert_eq!(r.report["read"], 4);
    assert_eq!(r.report["accepted"], 3);
    assert_eq!(r.report["quarantined"], 1);
}

#[test]
fn one_customer_across_shop_and_email_platform() {
    let dir = tempfile::tempdir().unwrap();
    // The shop knows customer 9005 with e-mail E@x.com; the e-mail platform logs
    // messages by the address, in another case and with spaces.
    let shop = write(
        dir.path(),
        "shop.ndjson",
        &[
            checkout(
                9005,
                "E@Example.com",
                "tok-e",
                "2026-03-02T10:00:00Z",
                "2026-03-02T10:00:00Z",
                "60.00",
            ),
            order(
                "orders/create",
                81,
                9005,
                "e@example.com",
                "tok-e",
                "2026-03-02T13:00:00Z",
                "2026-03-02T13:00:00Z",
                "60.00",
                "",
            ),
        ],
    );
    let msgs = write(
        dir.path(),
        "messages.csv",
        &[
            "ts,event,customer_id,flow_step,channel".to_string(),
            "2026-03-02T11:00:00Z,message_sent,  e@EXAMPLE.com ,1,email".to_string(),
            "2026-03-02T11:30:00Z,message_opened,e@example.com,1,email".to_string(),
        ],
    );
    for (key, want) in [("id", "9005"), ("email", "e@example.com")] {
        let r = run_case(&[&shop, &msgs], &flow(), &["--customer-key", key]);
        assert_eq!(r.carts.len(), 1, "{key}: {:?}", r.carts);
        assert!(close(revenue(&r, want), 60.0));
        assert_eq!(r.report["identity"]["customers"], 1);
        assert!(!r.events.contains("EXAMPLE"));
    }
}

#[test]
fn an_order_id_reused_by_another_customer_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |ts: &str, name: &str, user: &str, props: &str| {
        format!(
            r#"{{"type":"track","event":"{name}","userId":"{user}","timestamp":"{ts}","properties":{{{props}}}}}"#
        )
    };
    let lines = vec![
        ev(
            "2026-03-02T10:00:00Z",
            "Checkout Started",
            "x",
            r#""checkout_id":"k1","total":30"#,
        ),
        ev(
            "2026-03-02T10:00:00Z",
            "Checkout Started",
            "y",
            r#""checkout_id":"k2","total":40"#,
        ),
        ev(
            "2026-03-02T12:00:00Z",
            "Order Completed",
            "x",
            r#""checkout_id":"k1","order_id":"o1","total":30"#,
        ),
        ev(
            "2026-03-02T12:30:00Z",
            "Order Completed",
            "y",
            r#""checkout_id":"k2","order_id":"o1","total":40"#,
        ),
    ];
    let r = run_case(&[&write(dir.path(), "f.ndjson", &lines)], &flow(), &[]);
    assert!(close(revenue(&r, "x"), 30.0));
    assert!(close(revenue(&r, "y"), 0.0));
    let reasons: Vec<&str> = r.quarantine.iter().map(|q| q.0.as_str()).collect();
    assert_eq!(reasons, ["order_id_reused"], "{:?}", r.quarantine);
    assert!(r.quarantine[0].1.contains("another customer"));
}

#[test]
fn a_shape_that_maps_nothing_says_so() {
    let d = case_dir("13-segment-warehouse-export");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.csv");
    // Read as GA4, nothing in the warehouse export means anything.
    let o = bin()
        .args([
            "ingest",
            s(&d.join("segment_warehouse.csv")),
            "--format",
            "ga4",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("every one of the 4 rows read was quarantined"),
        "{err}"
    );
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn refunds_are_converted_like_their_orders() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "ts,event,customer_id,order_id,value,currency",
        "2026-03-02T10:00:00Z,checkout_started,k,,50,USD",
        "2026-03-02T10:00:00Z,checkout_started,k2,,50,EUR",
        "2026-03-02T12:00:00Z,order_completed,k,o,50,USD",
        "2026-03-02T12:00:00Z,order_completed,k2,o2,50,EUR",
        "2026-03-03T12:00:00Z,order_refunded,k2,o2,50,EUR",
    ]
    .map(String::from);
    let r = run_case(
        &[&write(dir.path(), "cur.csv", &lines)],
        &flow(),
        &["--currency", "USD", "--rate", "EUR=1.08"],
    );
    // 50 EUR = 54 USD placed and 54 USD refunded: nothing left.
    assert!(close(revenue(&r, "k2"), 0.0), "{:?}", r.carts);
    assert_eq!(r.report["ledger"]["gross_revenue"], 104.0);
    assert_eq!(r.report["ledger"]["refunded"], 54.0);
    assert_eq!(r.report["ledger"]["net_revenue"], 50.0);
}

#[test]
fn segment_identify_links_the_anonymous_shopper_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"type":"track","event":"Checkout Started","anonymousId":"a9","timestamp":"2026-03-02T10:00:00Z","properties":{"checkout_id":"k9","total":60}}"#,
        r#"{"type":"track","event":"Order Completed","anonymousId":"a9","timestamp":"2026-03-02T12:00:00Z","properties":{"order_id":"S9","total":60}}"#,
        r#"{"type":"identify","anonymousId":"a9","userId":"u9","traits":{"email":"Nine@X.com"}}"#,
        r#"{"type":"track","event":"Order Refunded","userId":"u9","timestamp":"2026-03-03T12:00:00Z","properties":{"order_id":"S9","total":60}}"#,
    ]
    .map(String::from);
    let r = run_case(&[&write(dir.path(), "id.ndjson", &lines)], &flow(), &[]);
    assert!(close(revenue(&r, "u9"), 0.0), "{:?}", r.carts);
    assert!(r.quarantine.is_empty(), "{:?}", r.quarantine);
}

#[test]
fn ga4_purchases_without_a_transaction_id_are_each_their_own_order() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |ts: u64, name: &str, user: &str, tid: Option<&str>, value: f64| {
        let tid = tid.map_or("null".to_string(), |t| format!("\"{t}\""));
        format!(
            r#"{{"event_timestamp":"{ts}","event_name":"{name}","event_params":[{{"key":"value","value":{{"double_value":{value}}}}}],"user_pseudo_id":"{user}","ecommerce":{{"transaction_id":{tid},"purchase_revenue":{value},"refund_value":{value}}}}}"#
        )
    };
    let h = 3_600_000_000u64;
    let t0 = 1_773_133_200_000_000u64;
    let lines = [
        ev(t0, "begin_checkout", "pp8", None, 73.0),
        ev(t0 + 2 * h, "purchase", "pp8", Some("(not set)"), 36.0),
        ev(t0 + 3 * h, "purchase", "pp8", Some("(not set)"), 37.0),
        ev(t0, "begin_checkout", "pp9", None, 50.0),
        ev(t0 + 2 * h, "purchase", "pp9", Some("T2"), 50.0),
        // A refund sent from a server, under another device id.
        ev(t0 + 30 * h, "refund", "server-mp", Some("T2"), 20.0),
    ];
    let r = run_case(&[&write(dir.path(), "g.ndjson", &lines)], &flow(), &[]);
    assert_eq!(r.report["ledger"]["orders"], 3, "{}", r.report["ledger"]);
    assert_eq!(r.report["ledger"]["gross_revenue"], 123.0);
    assert!(close(revenue(&r, "pp9"), 30.0), "{:?}", r.carts);
    assert!(r.quarantine.is_empty(), "{:?}", r.quarantine);
}

#[test]
fn absurd_amounts_are_quarantined_not_summed() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "ts,event,customer_id,order_id,value",
        "2026-03-02T12:00:00Z,order_completed,c1,o1,50000000000000000",
        "2026-03-02T12:00:00Z,order_completed,c2,o2,1e300",
        "2026-03-02T12:00:00Z,order_completed,c3,o3,25",
    ]
    .map(String::from);
    let r = run_case(&[&write(dir.path(), "big.csv", &lines)], &flow(), &[]);
    let reasons: Vec<&str> = r.quarantine.iter().map(|q| q.0.as_str()).collect();
    assert_eq!(reasons, ["bad_number", "bad_number"]);
    assert_eq!(r.report["ledger"]["gross_revenue"], 25.0);
}

#[test]
fn a_file_that_maps_nothing_among_others_is_named() {
    let d = case_dir("13-segment-warehouse-export");
    let s01 = case_dir("01-shopify-orders-cancelled-webhook").join("webhooks.ndjson");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.csv");
    let o = bin()
        .args([
            "ingest",
            s(&s01),
            s(&d.join("segment_warehouse.csv")),
            "--format",
            "shopify",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("every row of") && err.contains("segment_warehouse.csv"),
        "{err}"
    );
}

#[test]
fn segment_warehouse_as_ndjson_and_parquet() {
    use polars::prelude::*;
    let d = case_dir("13-segment-warehouse-export");
    let dir = tempfile::tempdir().unwrap();
    let mut df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(d.join("segment_warehouse.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let pq = dir.path().join("wh.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let nd = dir.path().join("wh.ndjson");
    let mut r = csv::Reader::from_path(d.join("segment_warehouse.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let mut lines = String::new();
    for row in r.records() {
        let row = row.unwrap();
        let obj: serde_json::Map<String, serde_json::Value> = head
            .iter()
            .zip(row.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        lines.push_str(&serde_json::Value::Object(obj).to_string());
        lines.push('\n');
    }
    std::fs::write(&nd, lines).unwrap();
    for input in [&pq, &nd] {
        let r = run_case(&[input], &d.join("flow.toml"), &[]);
        assert!(
            close(revenue(&r, "wh-user-1"), 80.0),
            "{input:?}: {:?}",
            r.carts
        );
        assert!(close(revenue(&r, "wh-user-2"), 45.5));
        // `paths` reads the export directly as well.
        let out = dir.path().join("carts.csv");
        run(&[
            "paths",
            s(input),
            "--flow",
            s(&d.join("flow.toml")),
            "--out",
            s(&out),
        ]);
        assert_eq!(carts(&out).len(), 2);
    }
}

#[test]
fn a_refund_seen_as_webhook_snapshot_and_transaction_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let co = checkout(
        9010,
        "t@example.com",
        "tok-t",
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:00:00Z",
        "90.00",
    );
    let placed = order(
        "orders/create",
        90,
        9010,
        "t@example.com",
        "tok-t",
        "2026-03-02T13:00:00Z",
        "2026-03-02T13:00:00Z",
        "90.00",
        "",
    );
    let refund = refund(701, "2026-03-03T10:00:00Z", "25.00", "success");
    let hook = format!(
        r#"{{"topic":"refunds/create","payload":{}}}"#,
        refund.replacen('{', r#"{"order_id":90,"#, 1)
    );
    let snap = order(
        "orders/updated",
        90,
        9010,
        "t@example.com",
        "tok-t",
        "2026-03-02T13:00:00Z",
        "2026-03-03T10:00:05Z",
        "90.00",
        &format!(r#","refunds":[{refund}]"#),
    );
    let txn = r#"{"topic":"order_transactions/create","payload":{"id":702,"order_id":90,"kind":"refund","status":"success","amount":"25.00","created_at":"2026-03-03T10:00:01Z"}}"#.to_string();
    let sale = r#"{"topic":"order_transactions/create","payload":{"id":703,"order_id":90,"kind":"sale","status":"success","amount":"90.00","created_at":"2026-03-02T13:00:00Z"}}"#.to_string();
    let r = run_case(
        &[&write(
            dir.path(),
            "t.ndjson",
            &[co, placed, hook, snap, txn, sale],
        )],
        &flow(),
        &[],
    );
    assert!(close(revenue(&r, "9010"), 65.0), "{:?}", r.carts);
    assert_eq!(r.report["ledger"]["refunds"], 1);
    let reasons: Vec<&str> = r.quarantine.iter().map(|q| q.0.as_str()).collect();
    assert_eq!(
        reasons,
        ["unmapped_event"],
        "the sale transaction: {:?}",
        r.quarantine
    );
}
