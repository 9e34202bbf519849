//! Segment e-commerce v2 and e-mail events (`track` calls) onto the
//! canonical schema.

use super::fields::{self, EpochUnit};
use super::{Event, Reason, Rejection};
use crate::schema::EventKind;
use serde_json::{Map, Value};

fn kind_of(name: &str) -> Option<EventKind> {
    Some(match name {
        "Product Added" | "Product Removed" | "Cart Viewed" | "Cart Updated" => {
            EventKind::CartUpdated
        }
        "Checkout Started" => EventKind::CheckoutStarted,
        "Order Completed" => EventKind::OrderCompleted,
        "Order Refunded" => EventKind::OrderRefunded,
        "Order Cancelled" => EventKind::OrderCancelled,
        "Email Sent" | "Message Sent" => EventKind::MessageSent,
        "Message Suppressed" | "Email Suppressed" => EventKind::MessageSuppressed,
        "Email Delivered" | "Message Delivered" => EventKind::MessageDelivered,
        "Email Bounced" | "Message Bounced" => EventKind::MessageBounced,
        "Email Opened" | "Message Opened" => EventKind::MessageOpened,
        "Email Link Clicked" | "Message Clicked" => EventKind::MessageClicked,
        "Unsubscribed" => EventKind::Unsubscribed,
        "Email Marked as Spam" => EventKind::SpamComplaint,
        _ => return None,
    })
}

fn first<'a>(props: Option<&'a Map<String, Value>>, keys: &[&str]) -> Option<&'a Value> {
    let p = props?;
    keys.iter().find_map(|k| p.get(*k).filter(|v| !v.is_null()))
}

pub fn map_row(row: &Map<String, Value>, epoch: EpochUnit) -> Result<Event, Rejection> {
    let call = fields::text(row.get("type")).unwrap_or_else(|| "track".into());
    if call != "track" {
        return Err(Rejection::new(
            Reason::UnmappedEvent,
            Some("type"),
            format!(
                "Segment `{call}` call; only `track` events describe carts, orders and messages"
            ),
        ));
    }
    let name = fields::text(row.get("event"))
        .ok_or_else(|| Rejection::new(Reason::MissingEvent, Some("event"), "no event name"))?;
    let kind = kind_of(&name).ok_or_else(|| {
        Rejection::new(
            Reason::UnmappedEvent,
            Some("event"),
            format!("Segment event {name:?} has no meaning for a recovery flow"),
        )
    })?;
    let ts_field = ["timestamp", "originalTimestamp", "sentAt"]
        .into_iter()
        .find(|k| row.get(*k).is_some_and(|v| !v.is_null()))
        .unwrap_or("timestamp");
    let ts = fields::timestamp(row.get(ts_field), ts_field, epoch)?;
    let customer = fields::text(row.get("userId"))
        .or_else(|| fields::text(row.get("anonymousId")))
        .ok_or_else(|| {
            Rejection::new(
                Reason::MissingCustomer,
                Some("userId"),
                "neither userId nor anonymousId",
            )
        })?;
    let props = row.get("properties").and_then(Value::as_object);
    let mut e = Event::new(ts, kind, customer);
    e.cart_id = fields::text(first(props, &["cart_id", "checkout_id"]));
    e.order_id = fields::text(first(props, &["order_id"]));
    let value_keys: &[&str] = match kind {
        EventKind::CartUpdated => &["cart_total", "cart_value", "value"],
        _ => &["total", "revenue", "value"],
    };
    e.value = fields::number(first(props, value_keys), "properties.total")?;
    e.discount = fields::number(first(props, &["discount"]), "properties.discount")?;
    e.coupon = fields::text(first(props, &["coupon"]));
    e.flow_step = fields::step(first(props, &["flow_step", "step"]), "properties.flow_step")?;
    e.channel = fields::text(first(props, &["channel"])).or_else(|| {
        name.starts_with("Email")
            .then(|| "email".to_string())
            .or_else(|| kind.is_message().then(|| "email".to_string()))
    });
    e.variant = fields::text(first(props, &["variant", "campaign_variant"]));
    e.customer_status = fields::text(first(props, &["customer_status"]));
    e.currency = fields::text(first(props, &["currency"])).map(|c| c.to_ascii_uppercase());
    Ok(e)
}

pub fn looks_like(keys: &[&str]) -> bool {
    keys.contains(&"event")
        && (keys.contains(&"userId") || keys.contains(&"anonymousId") || keys.contains(&"type"))
        && !keys.contains(&"ts")
}
