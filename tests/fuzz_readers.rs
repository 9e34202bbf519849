//! Property tests over the readers: arbitrary bytes, arbitrary CSV and JSON
//! rows never panic, and every row read is accepted or quarantined.

use cartlift::events::ingest::{ingest, IngestOptions, Quarantine};
use proptest::prelude::*;
use std::path::PathBuf;

fn ingest_bytes(name: &str, bytes: &[u8]) -> Option<(u64, u64, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut q = Quarantine::discard();
    match ingest(&[path], &IngestOptions::default(), &mut q) {
        Ok((events, r)) => {
            assert_eq!(r.events as usize, events.len());
            Some((r.read, r.accepted, r.quarantined))
        }
        Err(e) => {
            assert!(!format!("{e:#}").is_empty());
            None
        }
    }
}

const EVENTS: [&str; 6] = [
    "cart_updated",
    "order_completed",
    "message_sent",
    "order_refunded",
    "bogus",
    "",
];

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9_#-]{1,8}",
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?",
        Just("2026-03-02T10:00:00Z".to_string()),
        Just("2026-03-02 10:00:00+02:00".to_string()),
        Just("NaN".to_string()),
        Just("\"quoted, comma\"".to_string()),
        proptest::sample::select(EVENTS.to_vec()).prop_map(str::to_string),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for name in ["x.csv", "x.ndjson", "x.json", "x.parquet"] {
            if let Some((r, a, q)) = ingest_bytes(name, &bytes) {
                prop_assert_eq!(r, a + q);
            }
        }
    }

    #[test]
    fn canonical_csv_rows_are_accepted_or_quarantined(
        rows in proptest::collection::vec(proptest::collection::vec(field(), 0..11), 0..30)
    ) {
        let mut text = String::from("ts,event,customer_id,cart_id,order_id,value,discount,coupon,flow_step,channel\n");
        for r in &rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        let got = ingest_bytes("rows.csv", text.as_bytes());
        let (r, a, q) = got.expect("a CSV with the required columns always ingests");
        prop_assert_eq!(r, a + q);
    }

    #[test]
    fn json_rows_are_accepted_or_quarantined(
        rows in proptest::collection::vec((field(), field(), field(), field(), any::<f64>()), 1..30)
    ) {
        let mut text = String::new();
        for (ts, ev, cust, order, v) in &rows {
            let obj = serde_json::json!({"ts": ts, "event": ev, "customer_id": cust, "order_id": order, "value": v});
            text.push_str(&obj.to_string());
            text.push('\n');
        }
        if let Some((r, a, q)) = ingest_bytes("rows.ndjson", text.as_bytes()) {
            prop_assert_eq!(r, a + q);
            prop_assert_eq!(r, rows.len() as u64);
        }
    }

    /// Shopify-shaped payloads (checkouts, orders with refunds and
    /// cancellations, refund webhooks) with arbitrary field values.
    #[test]
    fn shopify_payloads_are_accepted_or_quarantined(
        rows in proptest::collection::vec(
            (0usize..4, field(), field(), field(), field(), field(), any::<bool>()),
            1..20,
        )
    ) {
        let mut text = String::new();
        for (kind, id, cust, at, amount, status, test) in &rows {
            let topic = ["checkouts/update", "orders/updated", "refunds/create", "orders/cancelled"][*kind];
            let payload = serde_json::json!({
                "id": id, "order_id": id, "token": id, "email": cust,
                "customer": {"id": cust, "orders_count": amount},
                "created_at": at, "updated_at": at, "processed_at": at,
                "cancelled_at": if *kind == 3 { serde_json::json!(at) } else { serde_json::Value::Null },
                "order_number": if *kind == 1 || *kind == 3 { serde_json::json!(1) } else { serde_json::Value::Null },
                "total_price": amount, "test": test,
                "refunds": [{"id": id, "created_at": at,
                             "transactions": [{"kind": "refund", "status": status, "amount": amount}]}],
                "transactions": [{"kind": "refund", "status": status, "amount": amount}],
            });
            text.push_str(&serde_json::json!({"topic": topic, "payload": payload}).to_string());
            text.push('\n');
        }
        if let Some((r, a, q)) = ingest_bytes("hooks.ndjson", text.as_bytes()) {
            prop_assert_eq!(r, a + q);
            prop_assert_eq!(r, rows.len() as u64);
        }
    }

    /// Segment warehouse and GA4 export rows with arbitrary field values.
    #[test]
    fn warehouse_and_ga4_rows_are_accepted_or_quarantined(
        rows in proptest::collection::vec((field(), field(), field(), field(), field()), 1..20)
    ) {
        let mut csv = String::from("timestamp,user_id,anonymous_id,event,order_id,total\n");
        let mut ga4 = String::new();
        for (ts, user, ev, order, total) in &rows {
            let cells = [ts, user, user, ev, order, total];
            let quoted: Vec<String> = cells.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
            csv.push_str(&quoted.join(","));
            csv.push('\n');
            let row = serde_json::json!({
                "event_timestamp": ts, "event_name": ev, "user_pseudo_id": user,
                "ecommerce": {"transaction_id": order, "purchase_revenue": total},
                "event_params": [{"key": "value", "value": {"string_value": total}}],
            });
            ga4.push_str(&row.to_string());
            ga4.push('\n');
        }
        for (name, text) in [("wh.csv", &csv), ("ga4.ndjson", &ga4)] {
            if let Some((r, a, q)) = ingest_bytes(name, text.as_bytes()) {
                prop_assert_eq!(r, a + q);
                prop_assert_eq!(r, rows.len() as u64);
            }
        }
    }
}
