//! Segment e-commerce v2 and e-mail events (`track` calls) onto the
//! canonical schema, in both shapes analysts meet: the API/webhook JSON
//! (`type`, `event`, `userId`, `anonymousId`, nested `properties`) and the
//! warehouse tables (`event` as a slug such as `order_completed`, snake_case
//! `user_id`/`anonymous_id`, properties flattened into columns, timestamps
//! like `2026-03-18 10:00:00 UTC`), as CSV, NDJSON or Parquet.
//!
//! `identify` and `alias` calls carry no event; they link `userId`,
//! `anonymousId` (`previousId`) and `traits.email` as aliases.
//!
//! Event time: `timestamp` (else `original_timestamp`/`originalTimestamp`,
//! `sent_at`/`sentAt`, `received_at`). Identity: `userId` (a customer id, or
//! an e-mail address) and `anonymousId` are aliases of one customer, as is
//! an e-mail in `context.traits.email` or `properties.email`.

use super::fields::{self, EpochUnit};
use super::identity::{self, IdKind};
use super::{Event, Reason, Rejection};
use crate::schema::EventKind;
use serde_json::{Map, Value};

/// A name as the warehouse spells its table: `Order Completed` → `order_completed`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

fn kind_of(name: &str) -> Option<EventKind> {
    Some(match slug(name).as_str() {
        "product_added"
        | "product_removed"
        | "cart_viewed"
        | "cart_updated"
        // Activity inside the checkout: the shopper is still there.
        | "checkout_step_viewed"
        | "checkout_step_completed"
        | "payment_info_entered" => {
            EventKind::CartUpdated
        }
        "checkout_started" => EventKind::CheckoutStarted,
        "order_completed" => EventKind::OrderCompleted,
        "order_refunded" => EventKind::OrderRefunded,
        "order_cancelled" | "order_canceled" => EventKind::OrderCancelled,
        "email_sent" | "message_sent" => EventKind::MessageSent,
        "message_suppressed" | "email_suppressed" => EventKind::MessageSuppressed,
        "email_delivered" | "message_delivered" => EventKind::MessageDelivered,
        "email_bounced" | "message_bounced" => EventKind::MessageBounced,
        "email_opened" | "message_opened" => EventKind::MessageOpened,
        "email_link_clicked" | "message_clicked" | "message_link_clicked" => {
            EventKind::MessageClicked
        }
        "unsubscribed" => EventKind::Unsubscribed,
        "email_marked_as_spam" | "spam_complaint" => EventKind::SpamComplaint,
        _ => return None,
    })
}

fn first<'a>(props: Option<&'a Map<String, Value>>, keys: &[&str]) -> Option<&'a Value> {
    let p = props?;
    keys.iter().find_map(|k| p.get(*k).filter(|v| !v.is_null()))
}

/// Whether the row is a warehouse row (snake_case ids, flattened properties).
fn is_warehouse(row: &Map<String, Value>) -> bool {
    !row.contains_key("userId")
        && !row.contains_key("anonymousId")
        && !row.contains_key("properties")
        && (row.contains_key("user_id") || row.contains_key("anonymous_id"))
}

/// The identifiers an `identify` or `alias` call links: `userId`,
/// `anonymousId` (or `previousId`), and `traits.email`.
fn links(row: &Map<String, Value>) -> Vec<(IdKind, String)> {
    let mut ids = Vec::new();
    for key in ["userId", "user_id"] {
        if let Some(u) = fields::text(row.get(key)).map(|u| identity::normalize(&u)) {
            ids.push((identity::kind_of_bare(&u), u));
        }
    }
    let email = fields::text(row.get("traits").and_then(|t| t.get("email")))
        .or_else(|| {
            fields::text(
                row.get("context")
                    .and_then(|c| c.get("traits"))
                    .and_then(|t| t.get("email")),
            )
        })
        .map(|e| identity::normalize(&e))
        .filter(|e| e.contains('@'));
    if let Some(e) = email {
        ids.push((IdKind::Email, e));
    }
    for key in ["anonymousId", "anonymous_id", "previousId", "previous_id"] {
        if let Some(a) = fields::text(row.get(key)).map(|a| identity::normalize(&a)) {
            ids.push((IdKind::Anonymous, a));
        }
    }
    ids
}

/// Maps one row; returns the event (none for an `identify` or `alias`
/// call, which only links identifiers) and the identifiers it carries.
pub fn map_row(
    row: &Map<String, Value>,
    epoch: EpochUnit,
) -> Result<(Option<Event>, identity::Ids), Rejection> {
    let warehouse = is_warehouse(row);
    let call = fields::text(row.get("type")).unwrap_or_else(|| "track".into());
    if call == "identify" || call == "alias" {
        let ids = links(row);
        if ids.len() < 2 {
            return Err(Rejection::new(
                Reason::UnmappedEvent,
                Some("type"),
                format!(
                    "Segment `{call}` call linking fewer than two identifiers; nothing to join"
                ),
            ));
        }
        return Ok((None, ids));
    }
    if call != "track" {
        return Err(Rejection::new(
            Reason::UnmappedEvent,
            Some("type"),
            format!(
                "Segment `{call}` call; only `track` events describe carts, orders and messages"
            ),
        ));
    }
    // Warehouse tables name the event by slug in `event`, by name in `event_text`.
    let name = fields::text(row.get("event"))
        .or_else(|| fields::text(row.get("event_text")))
        .ok_or_else(|| Rejection::new(Reason::MissingEvent, Some("event"), "no event name"))?;
    let kind = kind_of(&name).ok_or_else(|| {
        Rejection::new(
            Reason::UnmappedEvent,
            Some("event"),
            format!("Segment event {name:?} has no meaning for a recovery flow"),
        )
    })?;
    let ts_field = [
        "timestamp",
        "originalTimestamp",
        "original_timestamp",
        "sentAt",
        "sent_at",
        "receivedAt",
        "received_at",
    ]
    .into_iter()
    .find(|k| row.get(*k).is_some_and(|v| !v.is_null()))
    .unwrap_or("timestamp");
    let ts = fields::timestamp(row.get(ts_field), ts_field, epoch)?;
    let (user_key, anon_key) = if warehouse {
        ("user_id", "anonymous_id")
    } else {
        ("userId", "anonymousId")
    };
    let user = fields::text(row.get(user_key)).map(|u| identity::normalize(&u));
    let anon = fields::text(row.get(anon_key)).map(|u| identity::normalize(&u));
    let props = if warehouse {
        Some(row)
    } else {
        row.get("properties").and_then(Value::as_object)
    };
    let email = fields::text(
        row.get("context")
            .and_then(|c| c.get("traits"))
            .and_then(|t| t.get("email")),
    )
    .or_else(|| fields::text(first(props, &["email"])))
    .map(|e| identity::normalize(&e))
    .filter(|e| e.contains('@'));
    let mut ids = Vec::new();
    if let Some(u) = &user {
        ids.push((identity::kind_of_bare(u), u.clone()));
    }
    if let Some(e) = &email {
        ids.push((IdKind::Email, e.clone()));
    }
    if let Some(a) = &anon {
        ids.push((IdKind::Anonymous, a.clone()));
    }
    let customer = user.or(anon).ok_or_else(|| {
        Rejection::new(
            Reason::MissingCustomer,
            Some(user_key),
            format!("neither {user_key} nor {anon_key}"),
        )
    })?;
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
    Ok((Some(e), ids))
}

/// The API/webhook shape (`userId`/`anonymousId`, nested properties).
pub fn looks_like(keys: &[&str]) -> bool {
    keys.contains(&"event")
        && (keys.contains(&"userId") || keys.contains(&"anonymousId") || keys.contains(&"type"))
        && !keys.contains(&"ts")
}

/// The warehouse shape: a track table exported as rows.
pub fn looks_like_warehouse(keys: &[&str]) -> bool {
    keys.contains(&"event")
        && (keys.contains(&"user_id") || keys.contains(&"anonymous_id"))
        && (keys.contains(&"timestamp")
            || keys.contains(&"received_at")
            || keys.contains(&"original_timestamp"))
        && !keys.contains(&"ts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slugs_map_alike() {
        assert_eq!(kind_of("Order Completed"), Some(EventKind::OrderCompleted));
        assert_eq!(kind_of("order_completed"), Some(EventKind::OrderCompleted));
        assert_eq!(
            kind_of("Email Link Clicked"),
            Some(EventKind::MessageClicked)
        );
        assert_eq!(kind_of("page_viewed"), None);
    }
}
