//! Shopify webhook and Admin API payloads onto the canonical schema and the
//! order ledger.
//!
//! Payloads come bare or wrapped as `{"topic", "payload"}` (also `body`,
//! and the `X-Shopify-Topic` header name). The topic decides what a payload
//! is; without one, its shape does:
//!
//! | payload | becomes | event time |
//! |---|---|---|
//! | checkout (`checkouts/create`, `checkouts/update`; `token`, `abandoned_checkout_url`) | `checkout_started`, a snapshot: every update is activity | `updated_at`, else `created_at` |
//! | order (`orders/create`, `orders/updated`, `orders/paid`, `orders/cancelled`, …; `order_number`, `financial_status`) | an order snapshot for the ledger: state, `cancelled_at`, `refunds[]` | placed at `processed_at`, else `created_at`; state as of `updated_at` |
//! | refund (`refunds/create`; `order_id` with `transactions`) | one refund of that order, joined to its customer through the ledger | `processed_at`, else `created_at` |
//! | transaction (`order_transactions/create`) | a `refund` transaction of that order (other kinds: quarantined, the order counts the sale) | `processed_at`, else `created_at` |
//!
//! A refund counts only the money that moved: transactions of kind `refund`
//! with status `success` (pending, failed and voided transactions count
//! nothing; a transaction without a status, as older exports write them, is
//! read as settled; a settled one without an amount is quarantined). Refund
//! money is identified by transaction id (by refund id and position, or time
//! and position, where ids are missing), so the same refund seen in
//! `refunds/create`, in every later `orders/updated` and as an
//! `order_transactions/create` counts once. Orders with `test: true`
//! are test orders (not revenue). Identity: `customer.id` and the e-mail
//! (`email`, `customer.email`, `contact_email`) are aliases of one customer.

use super::fields::{self, EpochUnit};
use super::identity::{self, IdKind};
use super::ledger::{OrderPayload, OrderState, RefundFact, Source};
use super::{Event, Mapped, Reason, Rejection};
use crate::schema::EventKind;
use serde_json::{Map, Value};

/// What a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Checkout,
    Order,
    Refund,
    Transaction,
}

/// The topic of a wrapped payload, and the payload itself.
fn unwrap(row: &Map<String, Value>) -> (Option<String>, &Map<String, Value>) {
    let topic = ["topic", "X-Shopify-Topic", "x-shopify-topic"]
        .iter()
        .find_map(|k| fields::text(row.get(*k)))
        .or_else(|| {
            row.get("headers").and_then(Value::as_object).and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-shopify-topic"))
                    .and_then(|(_, v)| fields::text(Some(v)))
            })
        });
    let body = ["payload", "body"]
        .iter()
        .find_map(|k| row.get(*k).and_then(Value::as_object));
    match body {
        Some(inner) => (topic, inner),
        None => (topic, row),
    }
}

fn kind_of(topic: Option<&str>, obj: &Map<String, Value>) -> Result<Kind, Rejection> {
    if let Some(t) = topic {
        let t = t.trim().to_ascii_lowercase();
        let (family, _) = t.split_once('/').unwrap_or((t.as_str(), ""));
        return match family {
            "checkouts" => Ok(Kind::Checkout),
            "orders" => Ok(Kind::Order),
            "refunds" => Ok(Kind::Refund),
            "order_transactions" => Ok(Kind::Transaction),
            _ => Err(Rejection::new(
                Reason::UnmappedEvent,
                Some("topic"),
                format!("Shopify topic {t:?} has no meaning for a recovery flow (checkouts, orders and refunds do)"),
            )),
        };
    }
    if obj.contains_key("order_number") || obj.contains_key("financial_status") {
        Ok(Kind::Order)
    } else if obj.contains_key("order_id")
        && (obj.contains_key("transactions") || obj.contains_key("refund_line_items"))
    {
        Ok(Kind::Refund)
    } else {
        Ok(Kind::Checkout)
    }
}

/// The customer's identifiers: `customer.id` first, then e-mail addresses.
fn ids_of(obj: &Map<String, Value>) -> Vec<(IdKind, String)> {
    let customer = obj.get("customer").and_then(Value::as_object);
    let mut ids = Vec::new();
    let scalar = |v: Option<&Value>| match v {
        Some(Value::String(_)) | Some(Value::Number(_)) => fields::text(v),
        _ => None,
    };
    if let Some(id) = customer.and_then(|c| scalar(c.get("id"))) {
        let id = identity::normalize(&id);
        ids.push((identity::kind_of_bare(&id), id));
    }
    for v in [
        obj.get("email"),
        customer.and_then(|c| c.get("email")),
        obj.get("contact_email"),
    ] {
        if let Some(e) = scalar(v).map(|e| identity::normalize(&e)) {
            if !ids.iter().any(|(_, x)| *x == e) {
                ids.push((identity::kind_of_bare(&e), e));
            }
        }
    }
    ids
}

fn status_of(obj: &Map<String, Value>) -> Option<String> {
    let count = obj
        .get("customer")
        .and_then(Value::as_object)
        .and_then(|c| fields::number(c.get("orders_count"), "customer.orders_count").ok())
        .flatten()?;
    Some(if count > 1.0 { "returning" } else { "new" }.to_string())
}

fn amount(v: Option<&Value>, field: &str) -> Result<Option<f64>, Rejection> {
    let x = fields::number(v, field)?;
    if let Some(x) = x {
        if x < 0.0 {
            return Err(Rejection::new(
                Reason::NegativeValue,
                Some(field),
                format!("{field} = {x}; expected ≥ 0"),
            ));
        }
    }
    Ok(x)
}

fn present(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).is_some_and(|v| !v.is_null())
}

/// The time a payload describes: the first of `keys` present.
fn time_of(
    obj: &Map<String, Value>,
    keys: &[&'static str],
    epoch: EpochUnit,
) -> Result<i64, Rejection> {
    let key = keys
        .iter()
        .copied()
        .find(|k| present(obj, k))
        .unwrap_or(keys[keys.len() - 1]);
    fields::timestamp(obj.get(key), key, epoch)
}

pub fn map_row(row: &Map<String, Value>, epoch: EpochUnit) -> Result<Mapped, Rejection> {
    let (topic, obj) = unwrap(row);
    let kind = kind_of(topic.as_deref(), obj)?;
    let ids = ids_of(obj);
    let customer = ids.first().map(|(_, c)| c.clone());
    let currency = fields::text(obj.get("currency")).map(|c| c.to_ascii_uppercase());
    match kind {
        Kind::Checkout => {
            let customer = customer.ok_or_else(|| {
                Rejection::new(
                    Reason::MissingCustomer,
                    Some("customer.id"),
                    "checkout without customer.id or email; it cannot be joined to a customer",
                )
            })?;
            let ts = time_of(obj, &["updated_at", "created_at"], epoch)?;
            let mut e = Event::new(ts, EventKind::CheckoutStarted, customer);
            e.currency = currency;
            e.customer_status = status_of(obj);
            e.cart_id =
                fields::text(obj.get("token")).or_else(|| fields::text(obj.get("cart_token")));
            e.value = amount(obj.get("total_price"), "total_price")?;
            Ok(Mapped {
                events: vec![e],
                ..Mapped::default()
            }
            .with_ids(ids))
        }
        Kind::Order => {
            let order_id = fields::text(obj.get("id")).ok_or_else(|| {
                Rejection::new(
                    Reason::MissingOrderId,
                    Some("id"),
                    "order payload without id",
                )
            })?;
            if customer.is_none() {
                return Err(Rejection::new(
                    Reason::MissingCustomer,
                    Some("customer.id"),
                    format!("order {order_id} without customer.id or email"),
                ));
            }
            let placed_at = time_of(obj, &["processed_at", "created_at"], epoch)?;
            let version = if present(obj, "updated_at") {
                fields::timestamp(obj.get("updated_at"), "updated_at", epoch)?
            } else {
                placed_at
            };
            let mut state = OrderState::placed(placed_at);
            state.version = version;
            state.creation = false;
            state.value = amount(obj.get("total_price"), "total_price")?;
            state.discount = amount(obj.get("total_discounts"), "total_discounts")?;
            state.coupon = obj
                .get("discount_codes")
                .and_then(Value::as_array)
                .and_then(|codes| codes.first())
                .and_then(|c| fields::text(c.get("code")));
            state.cart_id = fields::text(obj.get("checkout_token"))
                .or_else(|| fields::text(obj.get("cart_token")));
            state.customer_status = status_of(obj);
            state.currency = currency;
            state.test = matches!(obj.get("test"), Some(Value::Bool(true)))
                || fields::text(obj.get("test")).as_deref() == Some("true");
            let mut p = OrderPayload::new(Source::Shopify, order_id, customer);
            p.currency = state.currency.clone();
            p.state = Some(state);
            if present(obj, "cancelled_at") {
                p.cancelled_at = Some(fields::timestamp(
                    obj.get("cancelled_at"),
                    "cancelled_at",
                    epoch,
                )?);
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
                p.refunds.extend(refund_of(r, &field, epoch)?);
            }
            Ok(Mapped {
                orders: vec![p],
                ..Mapped::default()
            }
            .with_ids(ids))
        }
        Kind::Transaction => {
            let order_id = fields::text(obj.get("order_id")).ok_or_else(|| {
                Rejection::new(
                    Reason::MissingOrderId,
                    Some("order_id"),
                    "transaction payload without order_id",
                )
            })?;
            let at = time_of(obj, &["processed_at", "created_at"], epoch)?;
            let fallback = || format!("content:{at}:0");
            let Some(fact) = transaction_fact(obj, "transaction", at, fallback)? else {
                let kind = fields::text(obj.get("kind")).unwrap_or_default();
                return Err(Rejection::new(
                    Reason::UnmappedEvent,
                    Some("kind"),
                    format!("a `{kind}` transaction: the order's own payload counts the sale; only refund transactions change its money"),
                ));
            };
            let mut p = OrderPayload::new(Source::Shopify, order_id, customer);
            p.currency = fields::text(obj.get("currency")).map(|c| c.to_ascii_uppercase());
            p.refunds.push(fact);
            Ok(Mapped {
                orders: vec![p],
                ..Mapped::default()
            }
            .with_ids(ids))
        }
        Kind::Refund => {
            let order_id = fields::text(obj.get("order_id")).ok_or_else(|| {
                Rejection::new(
                    Reason::MissingOrderId,
                    Some("order_id"),
                    "refund payload without order_id",
                )
            })?;
            let mut p = OrderPayload::new(Source::Shopify, order_id, customer);
            p.currency = currency.or_else(|| {
                obj.get("transactions")
                    .and_then(Value::as_array)
                    .and_then(|t| t.iter().find_map(|t| fields::text(t.get("currency"))))
                    .map(|c| c.to_ascii_uppercase())
            });
            p.refunds.extend(refund_of(obj, "refund", epoch)?);
            Ok(Mapped {
                orders: vec![p],
                ..Mapped::default()
            }
            .with_ids(ids))
        }
    }
}

/// One Refund object → one refund fact per `refund` transaction, keyed by
/// the transaction's id (so a refund seen in a `refunds/create` payload, in
/// every later `orders/updated` snapshot and as an
/// `order_transactions/create` payload counts once), with its amount when
/// settled (status `success`) and zero otherwise.
fn refund_of(
    r: &Map<String, Value>,
    field: &str,
    epoch: EpochUnit,
) -> Result<Vec<RefundFact>, Rejection> {
    let at_key = if present(r, "processed_at") {
        "processed_at"
    } else {
        "created_at"
    };
    let at = fields::timestamp(r.get(at_key), &format!("{field}.{at_key}"), epoch)?;
    let Some(transactions) = r.get("transactions").and_then(Value::as_array) else {
        return Err(Rejection::new(
            Reason::MissingRefundAmount,
            Some(&format!("{field}.transactions")),
            "a refund without transactions: the amount refunded cannot be known",
        ));
    };
    let refund_id = fields::text(r.get("id"));
    let mut out = Vec::new();
    for (j, t) in transactions.iter().enumerate() {
        let Some(t) = t.as_object() else {
            return Err(Rejection::new(
                Reason::MalformedRow,
                Some(&format!("{field}.transactions[{j}]")),
                "a transaction that is not an object",
            ));
        };
        if let Some(fact) =
            transaction_fact(
                t,
                &format!("{field}.transactions[{j}]"),
                at,
                || match &refund_id {
                    Some(id) => format!("refund:{id}:{j}"),
                    None => format!("content:{at}:{j}"),
                },
            )?
        {
            out.push(fact);
        }
    }
    Ok(out)
}

/// One transaction as a refund fact: `None` unless its kind is `refund`.
/// `at` is when its refund was made (the transaction's own time otherwise);
/// `fallback_key` names it when it has no id.
fn transaction_fact(
    t: &Map<String, Value>,
    field: &str,
    at: i64,
    fallback_key: impl FnOnce() -> String,
) -> Result<Option<RefundFact>, Rejection> {
    let kind = t.get("kind").and_then(Value::as_str).unwrap_or("refund");
    if !kind.eq_ignore_ascii_case("refund") {
        return Ok(None);
    }
    let status = t.get("status").and_then(Value::as_str).unwrap_or("success");
    let name = format!("{field}.amount");
    let amount = if status.eq_ignore_ascii_case("success") {
        amount(t.get("amount"), &name)?.ok_or_else(|| {
            Rejection::new(
                Reason::MissingRefundAmount,
                Some(&name),
                "a successful refund transaction without an amount: what was refunded cannot be known",
            )
        })?
    } else {
        0.0
    };
    let key = match fields::text(t.get("id")) {
        Some(id) => format!("txn:{id}"),
        None => fallback_key(),
    };
    Ok(Some(RefundFact {
        key,
        at,
        amount: Some((amount * 100.0).round() / 100.0),
    }))
}

pub fn looks_like(keys: &[&str]) -> bool {
    (keys.contains(&"payload") && keys.contains(&"topic"))
        || keys.contains(&"cart_token")
        || keys.contains(&"checkout_token")
        || keys.contains(&"abandoned_checkout_url")
        || (keys.contains(&"total_price") && keys.contains(&"token"))
        || (keys.contains(&"order_id") && keys.contains(&"refund_line_items"))
}
