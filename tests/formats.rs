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
