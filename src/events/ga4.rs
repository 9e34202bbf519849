//! GA4 e-commerce rows (BigQuery export, nested or flattened) onto the
//! canonical schema. Event time: `event_timestamp`, epoch microseconds in
//! the export. Identity: `user_id` (when the site sets one) and
//! `user_pseudo_id` (the device) are aliases of one customer.
//! `transaction_id` is de-duplicated per user only (GA4's own rule), which
//! the order ledger follows; a `refund` without a value refunds the whole
//! transaction (GA4's spec).

use super::fields::{self, EpochUnit};
use super::identity::{self, IdKind};
use super::{Event, Reason, Rejection};
use crate::schema::EventKind;
use serde_json::{Map, Value};

fn kind_of(name: &str) -> Option<EventKind> {
    Some(match name {
        "add_to_cart" | "remove_from_cart" | "view_cart"
        // Activity inside the checkout: the shopper is still there.
        | "add_shipping_info"
        | "add_payment_info" => EventKind::CartUpdated,
        "begin_checkout" => EventKind::CheckoutStarted,
        "purchase" => EventKind::OrderCompleted,
        "refund" => EventKind::OrderRefunded,
        other => return EventKind::parse(other),
    })
}

/// `event_params` is a list of `{key, value: {string_value | int_value | double_value | float_value}}`.
fn param<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = row.get(key).filter(|v| !v.is_null()) {
        return Some(v);
    }
    let params = row.get("event_params")?.as_array()?;
    let entry = params
        .iter()
        .find(|p| p.get("key").and_then(Value::as_str) == Some(key))?;
    let value = entry.get("value")?;
    ["string_value", "int_value", "double_value", "float_value"]
        .iter()
        .find_map(|k| value.get(*k).filter(|v| !v.is_null()))
}

fn ecommerce<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    row.get("ecommerce")
        .and_then(|e| e.get(key))
        .filter(|v| !v.is_null())
        .or_else(|| row.get(key).filter(|v| !v.is_null()))
}

pub fn map_row(
    row: &Map<String, Value>,
    epoch: EpochUnit,
) -> Result<(Event, Vec<(IdKind, String)>), Rejection> {
    let name = fields::text(row.get("event_name"))
        .ok_or_else(|| Rejection::new(Reason::MissingEvent, Some("event_name"), "no event_name"))?;
    let kind = kind_of(&name).ok_or_else(|| {
        Rejection::new(
            Reason::UnmappedEvent,
            Some("event_name"),
            format!("GA4 event {name:?} has no meaning for a recovery flow"),
        )
    })?;
    // The export's own unit is microseconds; an explicit option wins.
    let unit = if epoch == EpochUnit::None {
        EpochUnit::Us
    } else {
        epoch
    };
    let ts = fields::timestamp(row.get("event_timestamp"), "event_timestamp", unit)?;
    let user = fields::text(row.get("user_id")).map(|u| identity::normalize(&u));
    let pseudo = fields::text(row.get("user_pseudo_id")).map(|u| identity::normalize(&u));
    let mut ids = Vec::new();
    if let Some(u) = &user {
        ids.push((identity::kind_of_bare(u), u.clone()));
    }
    if let Some(p) = &pseudo {
        ids.push((IdKind::Anonymous, p.clone()));
    }
    let customer = user.or(pseudo).ok_or_else(|| {
        Rejection::new(
            Reason::MissingCustomer,
            Some("user_id"),
            "neither user_id nor user_pseudo_id",
        )
    })?;
    let mut e = Event::new(ts, kind, customer);
    // GA4 writes `(not set)` where a tag sent no id: no id at all.
    let known = |id: String| (id != "(not set)").then_some(id);
    e.order_id = fields::text(ecommerce(row, "transaction_id"))
        .and_then(known)
        .or_else(|| fields::text(param(row, "transaction_id")).and_then(known));
    if kind == EventKind::OrderCompleted && e.order_id.is_none() {
        // Without an id GA4 de-duplicates nothing: each purchase is its own order.
        e.order_id = Some(format!(
            "(no transaction_id) {}",
            fields::format_timestamp(ts)
        ));
    }
    let value = match kind {
        EventKind::OrderCompleted => ecommerce(row, "purchase_revenue"),
        EventKind::OrderRefunded => ecommerce(row, "refund_value"),
        _ => None,
    }
    .or_else(|| param(row, "value"));
    e.value = fields::number(value, "value")?;
    e.discount = fields::number(param(row, "discount"), "discount")?;
    e.coupon = fields::text(param(row, "coupon"));
    e.cart_id = fields::text(param(row, "cart_id"));
    e.flow_step = fields::step(param(row, "flow_step"), "flow_step")?;
    e.channel = fields::text(param(row, "channel"));
    e.variant = fields::text(param(row, "variant"));
    e.customer_status = fields::text(param(row, "customer_status"));
    e.currency = fields::text(param(row, "currency")).map(|c| c.to_ascii_uppercase());
    Ok((e, ids))
}

pub fn looks_like(keys: &[&str]) -> bool {
    keys.contains(&"event_name") && keys.contains(&"event_timestamp")
}
