//! A simulated canonical log rendered in the shapes stores really export, so
//! the whole route (mappers → order ledger → identity → reconstruction) is
//! checked against the simulator's ground truth.
//!
//! - **Shopify** (`--format shopify`): the shop's side as a webhook log
//!   (`{"topic", "payload"}` per line): `checkouts/create`, `orders/create`
//!   (webhook retries repeat it byte for byte), `orders/updated` snapshots
//!   that repeat the whole `refunds[]` array (with a failed refund
//!   transaction on some orders), `refunds/create` for each refund,
//!   `orders/cancelled`, and test orders (`test: true`) that must count for
//!   nothing. Everything else (cart activity, messages) is the e-mail
//!   platform's: a canonical CSV beside it, keyed by e-mail address for
//!   every other customer, so only the aliases Shopify records join them.
//! - **Segment warehouse** (`--format segment`): one CSV of track rows with
//!   snake_case columns, event slugs and `… UTC` timestamps; message rows of
//!   every other customer carry only the `anonymous_id`.
//! - **GA4 BigQuery export** (`--format ga4`): NDJSON rows with
//!   `event_timestamp` in microseconds, typed `event_params`, `ecommerce`.
//! - **Klaviyo Events API pages** (`--format klaviyo`): pages of 100 events
//!   with their metrics and profiles in `included[]` (profile id, e-mail,
//!   `external_id`); sends carry `$flow` and `$message`. Klaviyo logs no
//!   suppressed sends and no separate delivery, so those events are left out
//!   (they change no outcome).

use crate::events::fields::format_timestamp;
use crate::events::Event;
use crate::schema::EventKind;
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The shapes `simulate` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SimFormat {
    /// Canonical events (.parquet, .csv or .ndjson by extension).
    #[default]
    Canonical,
    /// Shopify webhooks (NDJSON) plus the e-mail platform's events (CSV).
    Shopify,
    /// A Segment warehouse export (CSV).
    Segment,
    /// A GA4 BigQuery export (NDJSON).
    Ga4,
    /// Klaviyo Events API pages (one page a line, NDJSON).
    Klaviyo,
}

/// Whether a customer's e-mail-platform rows are keyed by e-mail (every
/// other customer), so joining them needs the aliases.
fn keyed_by_email(customer: &str) -> bool {
    customer.bytes().last().is_some_and(|b| b % 2 == 1)
}

fn email_of(customer: &str) -> String {
    format!("{customer}@example.com")
}

fn money(x: Option<f64>) -> Value {
    Value::String(format!("{:.2}", x.unwrap_or(0.0)))
}

fn orders_count(status: Option<&str>, placing: bool) -> u64 {
    match status {
        Some("new") | None => placing as u64,
        _ => 3,
    }
}

fn customer_obj(e: &Event, placing: bool) -> Value {
    json!({
        "id": e.customer_id,
        "email": email_of(&e.customer_id),
        "orders_count": orders_count(e.customer_status.as_deref(), placing),
    })
}

fn writer(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::new(f))
}

/// What a Shopify rendering wrote, for the test's bookkeeping.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ShopifyStats {
    pub payloads: u64,
    pub test_orders: u64,
    pub retries: u64,
    pub failed_refunds: u64,
    pub platform_events: u64,
}

/// Writes the shop's side to `webhooks` (NDJSON) and the rest to `platform`
/// (canonical CSV).
pub fn write_shopify(events: &[Event], webhooks: &Path, platform: &Path) -> Result<ShopifyStats> {
    let mut stats = ShopifyStats::default();
    // (send time, sequence) → payload line.
    let mut out: Vec<((i64, u64), Value)> = Vec::new();
    let mut seq = 0u64;
    let mut push = |at: i64, topic: &str, payload: Value, out: &mut Vec<((i64, u64), Value)>| {
        seq += 1;
        out.push(((at, seq), json!({"topic": topic, "payload": payload})));
    };
    let mut rest: Vec<Event> = Vec::new();
    let mut orders: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    let mut checkouts = 0u64;
    for e in events {
        match e.kind {
            EventKind::CheckoutStarted => {
                checkouts += 1;
                let at = format_timestamp(e.ts);
                let token = e.cart_id.clone().unwrap_or_default();
                push(
                    e.ts,
                    "checkouts/create",
                    json!({
                        "id": checkouts,
                        "token": token,
                        "email": email_of(&e.customer_id),
                        "created_at": at,
                        "updated_at": at,
                        "completed_at": null,
                        "total_price": money(e.value),
                        "currency": e.currency.clone().unwrap_or_else(|| "USD".into()),
                        "abandoned_checkout_url": format!("https://shop.example/checkouts/{token}/recover"),
                        "customer": customer_obj(e, false),
                    }),
                    &mut out,
                );
                // Now and then the store owner tries the checkout with a test order.
                if checkouts.is_multiple_of(40) {
                    stats.test_orders += 1;
                    let t = e.ts + 300_000_000;
                    let at = format_timestamp(t);
                    push(
                        t,
                        "orders/create",
                        json!({
                            "id": format!("test-{checkouts}"),
                            "email": email_of(&e.customer_id),
                            "created_at": at, "updated_at": at, "processed_at": at,
                            "order_number": 900_000 + checkouts,
                            "gateway": "bogus", "test": true,
                            "total_price": money(e.value), "total_discounts": "0.00",
                            "currency": e.currency.clone().unwrap_or_else(|| "USD".into()),
                            "financial_status": "paid",
                            "checkout_token": e.cart_id, "cancelled_at": null, "refunds": [],
                            "customer": customer_obj(e, true),
                        }),
                        &mut out,
                    );
                }
            }
            EventKind::OrderCompleted | EventKind::OrderRefunded | EventKind::OrderCancelled => {
                orders
                    .entry(e.order_id.as_deref().unwrap_or_default())
                    .or_default()
                    .push(e);
            }
            _ => rest.push(e.clone()),
        }
    }
    for (n, (order_id, evs)) in orders.into_iter().enumerate() {
        let mut placings: Vec<&Event> = evs
            .iter()
            .copied()
            .filter(|e| e.kind == EventKind::OrderCompleted)
            .collect();
        placings.sort_by_key(|e| e.ts);
        let Some(first) = placings.first().copied() else {
            continue;
        };
        let mut refunds: Vec<&Event> = evs
            .iter()
            .copied()
            .filter(|e| e.kind == EventKind::OrderRefunded)
            .collect();
        refunds.sort_by_key(|e| e.ts);
        let cancelled = evs
            .iter()
            .filter(|e| e.kind == EventKind::OrderCancelled)
            .map(|e| e.ts)
            .min();
        let with_failed = n % 3 == 0 && !refunds.is_empty();
        let refund_obj = |k: usize, r: &Event| {
            let at = format_timestamp(r.ts);
            json!({
                "id": format!("{order_id}-r{k}"),
                "order_id": order_id,
                "created_at": at, "processed_at": at,
                "transactions": [{
                    "id": format!("{order_id}-t{k}"), "order_id": order_id,
                    "kind": "refund", "status": "success", "amount": money(r.value),
                }],
            })
        };
        // The order as it stands at `t`.
        let snapshot = |t: i64| {
            let placed = format_timestamp(first.ts);
            let mut rs: Vec<Value> = refunds
                .iter()
                .enumerate()
                .filter(|(_, r)| r.ts <= t)
                .map(|(k, r)| refund_obj(k, r))
                .collect();
            if with_failed && refunds[0].ts <= t {
                let at = format_timestamp(refunds[0].ts);
                rs.push(json!({
                    "id": format!("{order_id}-rf"), "order_id": order_id,
                    "created_at": at, "processed_at": at,
                    "transactions": [{"id": format!("{order_id}-tf"), "kind": "refund",
                                      "status": "failure", "amount": money(first.value)}],
                }));
            }
            let mut p = Map::new();
            p.insert("id".into(), json!(order_id));
            p.insert("email".into(), json!(email_of(&first.customer_id)));
            p.insert("created_at".into(), json!(placed));
            p.insert("processed_at".into(), json!(placed));
            p.insert("updated_at".into(), json!(format_timestamp(t)));
            p.insert("order_number".into(), json!(1000 + n));
            p.insert("test".into(), json!(false));
            p.insert("total_price".into(), money(first.value));
            p.insert("total_discounts".into(), money(first.discount));
            p.insert(
                "discount_codes".into(),
                match &first.coupon {
                    Some(c) => json!([{"code": c}]),
                    None => json!([]),
                },
            );
            p.insert(
                "currency".into(),
                json!(first.currency.clone().unwrap_or_else(|| "USD".into())),
            );
            p.insert("financial_status".into(), json!("paid"));
            p.insert("checkout_token".into(), json!(first.cart_id));
            p.insert(
                "cancelled_at".into(),
                match cancelled {
                    Some(c) if c <= t => json!(format_timestamp(c)),
                    _ => Value::Null,
                },
            );
            p.insert("refunds".into(), Value::Array(rs));
            p.insert("customer".into(), customer_obj(first, true));
            Value::Object(p)
        };
        push(first.ts, "orders/create", snapshot(first.ts), &mut out);
        for retry in placings.iter().skip(1) {
            stats.retries += 1;
            push(retry.ts, "orders/create", snapshot(first.ts), &mut out);
        }
        for (k, r) in refunds.iter().enumerate() {
            push(r.ts, "refunds/create", refund_obj(k, r), &mut out);
            push(r.ts, "orders/updated", snapshot(r.ts), &mut out);
            // The same snapshot delivered twice.
            push(r.ts + 1_000_000, "orders/updated", snapshot(r.ts), &mut out);
        }
        if with_failed {
            stats.failed_refunds += 1;
        }
        if let Some(c) = cancelled {
            push(c, "orders/cancelled", snapshot(c), &mut out);
        }
    }
    out.sort_by_key(|(k, _)| *k);
    let mut w = writer(webhooks)?;
    for (_, v) in &out {
        serde_json::to_writer(&mut w, v)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    stats.payloads = out.len() as u64;
    for e in &mut rest {
        if keyed_by_email(&e.customer_id) {
            e.customer_id = email_of(&e.customer_id).to_uppercase();
        }
    }
    stats.platform_events = rest.len() as u64;
    crate::events::store::write_events(&rest, platform)?;
    Ok(stats)
}

fn segment_name(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::CartUpdated => ("product_added", "Product Added"),
        EventKind::CheckoutStarted => ("checkout_started", "Checkout Started"),
        EventKind::OrderCompleted => ("order_completed", "Order Completed"),
        EventKind::OrderRefunded => ("order_refunded", "Order Refunded"),
        EventKind::OrderCancelled => ("order_cancelled", "Order Cancelled"),
        EventKind::MessageSent => ("message_sent", "Message Sent"),
        EventKind::MessageSuppressed => ("message_suppressed", "Message Suppressed"),
        EventKind::MessageDelivered => ("message_delivered", "Message Delivered"),
        EventKind::MessageBounced => ("message_bounced", "Message Bounced"),
        EventKind::MessageOpened => ("message_opened", "Message Opened"),
        EventKind::MessageClicked => ("message_clicked", "Message Clicked"),
        EventKind::Unsubscribed => ("unsubscribed", "Unsubscribed"),
        EventKind::SpamComplaint => ("email_marked_as_spam", "Email Marked as Spam"),
    }
}

/// `2026-03-18 10:00:00.123456 UTC`, as BigQuery renders a timestamp.
fn warehouse_time(micros: i64) -> String {
    let s = format_timestamp(micros);
    let s = s.trim_end_matches('Z').replacen('T', " ", 1);
    format!("{s} UTC")
}

/// Writes a Segment warehouse export (CSV).
pub fn write_segment_warehouse(events: &[Event], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(writer(path)?);
    w.write_record([
        "id",
        "received_at",
        "sent_at",
        "timestamp",
        "original_timestamp",
        "anonymous_id",
        "user_id",
        "event",
        "event_text",
        "checkout_id",
        "order_id",
        "total",
        "cart_total",
        "discount",
        "coupon",
        "flow_step",
        "channel",
        "variant",
        "customer_status",
        "currency",
    ])?;
    let num = |x: Option<f64>| x.map(|v| format!("{v}")).unwrap_or_default();
    for (i, e) in events.iter().enumerate() {
        let (slug, text) = segment_name(e.kind);
        let at = warehouse_time(e.ts);
        let anonymous = format!("anon-{}", e.customer_id);
        let user = if e.kind.is_message() && keyed_by_email(&e.customer_id) {
            String::new()
        } else {
            e.customer_id.clone()
        };
        let (total, cart_total) = if e.kind == EventKind::CartUpdated {
            (String::new(), num(e.value))
        } else {
            (num(e.value), String::new())
        };
        w.write_record([
            format!("ajs-{i:09}"),
            at.clone(),
            at.clone(),
            at.clone(),
            at,
            anonymous,
            user,
            slug.to_string(),
            text.to_string(),
            e.cart_id.clone().unwrap_or_default(),
            e.order_id.clone().unwrap_or_default(),
            total,
            cart_total,
            num(e.discount),
            e.coupon.clone().unwrap_or_default(),
            e.flow_step.map(|s| s.to_string()).unwrap_or_default(),
            e.channel.clone().unwrap_or_default(),
            e.variant.clone().unwrap_or_default(),
            e.customer_status.clone().unwrap_or_default(),
            e.currency.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn ga4_param(key: &str, v: Value) -> Value {
    let value = match &v {
        Value::Number(n) if n.is_i64() => {
            json!({"string_value": null, "int_value": n.to_string(), "double_value": null})
        }
        Value::Number(_) => json!({"string_value": null, "int_value": null, "double_value": v}),
        _ => json!({"string_value": v, "int_value": null, "double_value": null}),
    };
    json!({"key": key, "value": value})
}

/// Writes a GA4 BigQuery export (NDJSON).
pub fn write_ga4(events: &[Event], path: &Path) -> Result<()> {
    let mut w = writer(path)?;
    for e in events {
        let name = match e.kind {
            EventKind::CartUpdated => "add_to_cart",
            EventKind::CheckoutStarted => "begin_checkout",
            EventKind::OrderCompleted => "purchase",
            EventKind::OrderRefunded => "refund",
            other => other.as_str(),
        };
        let mut params = Vec::new();
        if let Some(c) = &e.currency {
            params.push(ga4_param("currency", json!(c)));
        }
        if let Some(v) = e.value {
            params.push(ga4_param("value", json!(v)));
        }
        if let Some(v) = e.discount {
            params.push(ga4_param("discount", json!(v)));
        }
        for (k, v) in [
            ("cart_id", &e.cart_id),
            ("coupon", &e.coupon),
            ("channel", &e.channel),
            ("variant", &e.variant),
            ("customer_status", &e.customer_status),
            ("transaction_id", &e.order_id),
        ] {
            if let Some(v) = v {
                params.push(ga4_param(k, json!(v)));
            }
        }
        if let Some(s) = e.flow_step {
            params.push(ga4_param("flow_step", json!(s)));
        }
        let (revenue, refund) = match e.kind {
            EventKind::OrderCompleted => (e.value, None),
            EventKind::OrderRefunded => (None, e.value),
            _ => (None, None),
        };
        let date = format_timestamp(e.ts)[..10].replace('-', "");
        let row = json!({
            "event_date": date,
            "event_timestamp": e.ts.to_string(),
            "event_name": name,
            "event_params": params,
            "user_id": e.customer_id,
            "user_pseudo_id": format!("{}.{}", 1_000_000 + e.customer_id.len(), e.customer_id),
            "ecommerce": {
                "transaction_id": e.order_id,
                "purchase_revenue": revenue,
                "refund_value": refund,
            },
            "platform": "WEB",
        });
        serde_json::to_writer(&mut w, &row)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

fn klaviyo_metric(e: &Event) -> Option<&'static str> {
    let sms = e.channel.as_deref() == Some("sms");
    Some(match e.kind {
        EventKind::CartUpdated => "Added to Cart",
        EventKind::CheckoutStarted => "Started Checkout",
        EventKind::OrderCompleted => "Placed Order",
        EventKind::OrderRefunded => "Refunded Order",
        EventKind::OrderCancelled => "Cancelled Order",
        EventKind::MessageSent if sms => "Received SMS",
        EventKind::MessageSent => "Received Email",
        EventKind::MessageOpened if sms => return None,
        EventKind::MessageOpened => "Opened Email",
        EventKind::MessageClicked if sms => "Clicked SMS",
        EventKind::MessageClicked => "Clicked Email",
        EventKind::MessageBounced => "Bounced Email",
        EventKind::Unsubscribed => "Unsubscribed",
        EventKind::SpamComplaint => "Marked Email as Spam",
        EventKind::MessageSuppressed | EventKind::MessageDelivered => return None,
    })
}

/// The flow id every simulated send carries as `$flow`.
pub const KLAVIYO_FLOW_ID: &str = "SIMFLOW";

/// Writes Klaviyo Events API pages (one page a line). Returns the number
/// of events written.
pub fn write_klaviyo(events: &[Event], path: &Path) -> Result<u64> {
    let mut w = writer(path)?;
    let mut written = 0u64;
    let kept: Vec<(&Event, &'static str)> = events
        .iter()
        .filter_map(|e| klaviyo_metric(e).map(|m| (e, m)))
        .collect();
    for (page_no, page) in kept.chunks(100).enumerate() {
        let mut metrics: BTreeMap<&str, Value> = BTreeMap::new();
        let mut profiles: BTreeMap<String, Value> = BTreeMap::new();
        let mut data = Vec::with_capacity(page.len());
        for (i, (e, metric)) in page.iter().enumerate() {
            let metric_id = format!("M-{}", metric.replace(' ', ""));
            metrics.entry(metric).or_insert_with(|| {
                json!({"type": "metric", "id": metric_id, "attributes": {"name": metric}, "links": {"self": ""}})
            });
            let profile_id = format!("P-{}", e.customer_id);
            profiles.entry(profile_id.clone()).or_insert_with(|| {
                json!({"type": "profile", "id": profile_id, "attributes": {
                    "email": email_of(&e.customer_id), "external_id": e.customer_id}, "links": {"self": ""}})
            });
            let mut props = Map::new();
            if let Some(v) = e.value {
                props.insert("$value".into(), json!(v));
            }
            if let Some(c) = &e.currency {
                props.insert("$currency_code".into(), json!(c));
            }
            match e.kind {
                EventKind::CheckoutStarted | EventKind::CartUpdated => {
                    props.insert("$event_id".into(), json!(e.cart_id));
                    props.insert("checkout_id".into(), json!(e.cart_id));
                }
                EventKind::OrderCompleted
                | EventKind::OrderRefunded
                | EventKind::OrderCancelled => {
                    props.insert("$event_id".into(), json!(e.order_id));
                    props.insert("OrderId".into(), json!(e.order_id));
                    if e.kind == EventKind::OrderCompleted {
                        props.insert("checkout_id".into(), json!(e.cart_id));
                        if let Some(d) = e.discount {
                            props.insert("Discount Value".into(), json!(d));
                        }
                        if let Some(c) = &e.coupon {
                            props.insert("Discount Codes".into(), json!([c]));
                        }
                    }
                }
                _ => {
                    props.insert("$flow".into(), json!(KLAVIYO_FLOW_ID));
                    if let Some(step) = e.flow_step {
                        props.insert("$message".into(), json!(format!("MSG-{step}")));
                    }
                }
            }
            let seconds = e.ts.div_euclid(1_000_000);
            data.push(json!({
                "type": "event",
                "id": format!("EV{page_no:06}{i:03}"),
                "attributes": {
                    "timestamp": seconds,
                    "datetime": format_timestamp(e.ts),
                    "event_properties": props,
                    "uuid": format!("00000000-0000-0000-{page_no:04x}-{i:012x}"),
                },
                "relationships": {
                    "metric": {"data": {"type": "metric", "id": metric_id}},
                    "profile": {"data": {"type": "profile", "id": format!("P-{}", e.customer_id)}},
                },
                "links": {"self": ""},
            }));
            written += 1;
        }
        let included: Vec<Value> = metrics
            .into_values()
            .chain(profiles.into_values())
            .collect();
        let page = json!({"data": data, "included": included, "links": {"self": "", "next": null, "prev": null}});
        serde_json::to_writer(&mut w, &page)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(written)
}
