//! Shopify checkout and order webhook payloads onto the canonical schema.
//!
//! A checkout (`token`, `cart_token`, `abandoned_checkout_url`) becomes a
//! `checkout_started`; an order (`order_number`, `checkout_token`) becomes an
//! `order_completed`, plus `order_cancelled` at `cancelled_at` and one
//! `order_refunded` per refund. Payloads wrapped as `{"topic", "payload"}`
//! are unwrapped.

use super::fields::{self, EpochUnit};
use super::{Event, Reason, Rejection};
use crate::schema::EventKind;
use serde_json::{Map, Value};

fn customer_of(obj: &Map<String, Value>) -> Option<String> {
    let customer = obj.get("customer").and_then(Value::as_object);
    customer
        .and_then(|c| fields::text(c.get("id")))
        .or_else(|| fields::text(obj.get("email")))
        .or_else(|| customer.and_then(|c| fields::text(c.get("email"))))
}

fn status_of(obj: &Map<String, Value>) -> Option<String> {
    let count = obj
        .get("customer")
        .and_then(Value::as_object)
        .and_then(|c| fields::number(c.get("orders_count"), "customer.orders_count").ok())
        .flatten()?;
    Some(if count > 1.0 { "returning" } else { "new" }.to_string())
}

fn is_order(obj: &Map<String, Value>) -> bool {
    obj.contains_key("order_number") || obj.contains_key("financial_status")
}

pub fn map_row(row: &Map<String, Value>, epoch: EpochUnit) -> Result<Vec<Event>, Rejection> {
    let obj = match row.get("payload").and_then(Value::as_object) {
        Some(inner) => inner,
        None => row,
    };
    let customer = customer_of(obj).ok_or_else(|| {
        Rejection::new(
            Reason::MissingCustomer,
            Some("customer.id"),
            "neither customer.id nor email",
        )
    })?;
    let currency = fields::text(obj.get("currency")).map(|c| c.to_ascii_uppercase());
    let status = status_of(obj);
    let base = |ts: i64, kind: EventKind| {
        let mut e = Event::new(ts, kind, customer.clone());
        e.currency = currency.clone();
        e.customer_status = status.clone();
        e
    };
    if !is_order(obj) {
        let ts = fields::timestamp(obj.get("created_at"), "created_at", epoch)?;
        let mut e = base(ts, EventKind::CheckoutStarted);
        e.cart_id = fields::text(obj.get("cart_token")).or_else(|| fields::text(obj.get("token")));
        e.value = fields::number(obj.get("total_price"), "total_price")?;
        return Ok(vec![e]);
    }
    let ts_field = if obj.get("processed_at").is_some_and(|v| !v.is_null()) {
        "processed_at"
    } else {
        "created_at"
    };
    let ts = fields::timestamp(obj.get(ts_field), ts_field, epoch)?;
    let order_id = fields::text(obj.get("id")).ok_or_else(|| {
        Rejection::new(
            Reason::MissingOrderId,
            Some("id"),
            "order payload without id",
        )
    })?;
    let mut order = base(ts, EventKind::OrderCompleted);
    order.order_id = Some(order_id.clone());
    order.cart_id =
        fields::text(obj.get("cart_token")).or_else(|| fields::text(obj.get("checkout_token")));
    order.value = fields::number(obj.get("total_price"), "total_price")?;
    order.discount = fields::number(obj.get("total_discounts"), "total_discounts")?;
    order.coupon = obj
        .get("discount_codes")
        .and_then(Value::as_array)
        .and_then(|codes| codes.first())
        .and_then(|c| fields::text(c.get("code")));
    let mut out = vec![order];
    if obj.get("cancelled_at").is_some_and(|v| !v.is_null()) {
        let at = fields::timestamp(obj.get("cancelled_at"), "cancelled_at", epoch)?;
        let mut e = base(at, EventKind::OrderCancelled);
        e.order_id = Some(order_id.clone());
        out.push(e);
    }
    for (i, refund) in obj
        .get("refunds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("refunds[{i}]");
        let Some(r) = refund.as_object() else {
            return Err(Rejection::new(
                Reason::MalformedRow,
                Some(&field),
                "refund is not an object",
            ));
        };
        let at = fields::timestamp(r.get("created_at"), &format!("{field}.created_at"), epoch)?;
        let mut amount = 0.0;
        for t in r
            .get("transactions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = t.get("kind").and_then(Value::as_str).unwrap_or("refund");
            if kind == "refund" {
                amount += fields::number(t.get("amount"), &format!("{field}.transactions.amount"))?
                    .unwrap_or(0.0);
            }
        }
        let mut e = base(at, EventKind::OrderRefunded);
        e.order_id = Some(order_id.clone());
        e.value = Some(amount);
        out.push(e);
    }
    Ok(out)
}

pub fn looks_like(keys: &[&str]) -> bool {
    (keys.contains(&"payload") && keys.contains(&"topic"))
        || keys.contains(&"cart_token")
        || keys.contains(&"checkout_token")
        || keys.contains(&"abandoned_checkout_url")
        || (keys.contains(&"total_price") && keys.contains(&"token"))
}
