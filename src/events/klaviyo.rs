//! Klaviyo events onto the canonical schema and the order ledger.
//!
//! Two shapes:
//! - **Events API pages**: what `GET /api/events?include=metric,profile`
//!   returns — `{"data": [event…], "included": [metric…, profile…],
//!   "links": …}`. Pages may be one per file, pretty-printed or not,
//!   concatenated, one per line, or in a JSON array. Each event's metric and
//!   profile are resolved from its page's `included[]`. [`read_pages`] reads
//!   them as one row per event (line: where its page starts; raw: the event).
//! - **A metric's CSV export**: one row per event with columns such as
//!   `Event ID`, `Timestamp`, `Metric` (or the file named after the metric),
//!   `Email`, `Profile ID`/`Klaviyo ID`, `External ID`, and the event's
//!   properties as further columns (`$value`, `$event_id`, `$flow`,
//!   `$message`, `OrderId`, …).
//!
//! Event time: `datetime` (ISO 8601 with offset), else `timestamp` (epoch
//! seconds). Identity: the profile's `external_id` (the shop's customer id,
//! as Klaviyo's Shopify integration sets it), its e-mail and its Klaviyo
//! profile id are aliases of one customer.
//!
//! | metric | becomes |
//! |---|---|
//! | Started Checkout, Checkout Started | `checkout_started` (value `$value`; checkout id from the properties, else `$event_id`) |
//! | Added to Cart | `cart_updated` |
//! | Placed Order | an order placement for the ledger (`OrderId`, else `$event_id`; `$value`) |
//! | Refunded Order | a refund of that order (`$value`, else the whole order), identified by the event's id |
//! | Cancelled Order | the order's cancellation |
//! | Received Email / SMS / Push | `message_sent` (channel from the metric) |
//! | Opened Email, Clicked Email, Clicked SMS, Bounced Email | `message_opened`, `message_clicked`, `message_bounced` |
//! | Unsubscribed (from Email Marketing, from SMS), Marked Email as Spam | `unsubscribed`, `spam_complaint` |
//! | Ordered Product, and every other metric | quarantined as `unmapped_event` |
//!
//! Messages belong to a flow by `$flow` (a campaign's carry none and are
//! quarantined: they are not the flow's touches); their step comes from
//! `$message` (or the message's name) through a [`StepMap`] built from the
//! flow file, so sends of other flows are set aside when the flow's Klaviyo
//! id is known. Re-imports change nothing: a repeated event is an exact
//! repeat (quarantined once as a duplicate), and refunds are keyed by the
//! event's own id, not `$event_id`, which a Refunded or Cancelled Order
//! shares with its Placed Order.

use super::fields::{self, EpochUnit};
use super::identity::{self, IdKind};
use super::ledger::{OrderPayload, OrderState, RefundFact, Source};
use super::source::{kind_name, RawRow};
use super::{Event, Mapped, Reason, Rejection};
use crate::schema::EventKind;
use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Klaviyo message → flow step, and which flows are this flow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepMap {
    /// Klaviyo flow ids of this flow; empty: every message with a `$flow`.
    pub flow_ids: BTreeSet<String>,
    /// Message id or message name → 1-based step.
    pub steps: BTreeMap<String, i32>,
}

impl StepMap {
    /// From a flow file: each step's message name (and Klaviyo ids where the
    /// flow was imported from Klaviyo).
    pub fn from_config(config: &crate::config::FlowConfig) -> StepMap {
        let mut m = StepMap::default();
        if let Some(id) = config.klaviyo.as_ref().and_then(|k| k.flow_id.as_ref()) {
            m.flow_ids.insert(id.clone());
        }
        for arm in &config.arms {
            for s in &arm.steps {
                if let Some(name) = &s.message {
                    m.steps.insert(name.trim().to_string(), s.step as i32);
                }
                for id in &s.klaviyo_message_ids {
                    m.steps.insert(id.clone(), s.step as i32);
                }
            }
        }
        // Branch steps add the names and ids the arms' own steps do not
        // have; a name both use keeps the arms' own step.
        for arm in &config.arms {
            for s in arm.branches.iter().flat_map(|b| &b.steps) {
                if let Some(name) = &s.message {
                    m.steps
                        .entry(name.trim().to_string())
                        .or_insert(s.step as i32);
                }
                for id in &s.klaviyo_message_ids {
                    m.steps.entry(id.clone()).or_insert(s.step as i32);
                }
            }
        }
        m
    }
}

/// Whether a JSON value is an Events API page.
pub fn is_page(v: &Value) -> bool {
    let Some(obj) = v.as_object() else {
        return false;
    };
    let Some(data) = obj.get("data").and_then(Value::as_array) else {
        return false;
    };
    data.first().map_or(
        obj.contains_key("included") || obj.contains_key("links"),
        |e| e.get("type").and_then(Value::as_str) == Some("event"),
    )
}

/// Whether a file holds Events API pages (its first JSON value is one).
pub fn sniff_pages(path: &Path) -> bool {
    let Ok(file) = super::source::open(path) else {
        return false;
    };
    super::source::first_json_value(std::io::BufReader::new(file)).is_some_and(|v| is_page(&v))
}

/// Whether CSV columns are a Klaviyo metric export.
pub fn looks_like_csv(keys: &[&str]) -> bool {
    keys.iter().any(|k| {
        let k = k.trim().to_ascii_lowercase();
        k == "$event_id" || k == "klaviyo id" || k == "profile id" || k == "$flow"
    })
}

/// Reads every event of every page as one row: `metric`, `id`, `datetime`,
/// `timestamp`, `event_properties`, and the profile's `profile_id`,
/// `email`, `external_id`, `phone_number`.
pub fn read_pages(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut super::source::open(path)?, &mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut stream = serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>();
    let mut line = 1u64;
    let mut counted = 0usize;
    loop {
        // The page starts at the first non-blank byte after the last one.
        let mut start = stream.byte_offset();
        while start < bytes.len() && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        line += bytes[counted..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        counted = start;
        match stream.next() {
            None => return Ok(()),
            Some(Ok(Value::Array(pages))) => {
                for page in pages {
                    read_page(page, line, each)?;
                }
            }
            Some(Ok(page)) => read_page(page, line, each)?,
            Some(Err(e)) => {
                let end = bytes.len().min(start + 200);
                let raw = String::from_utf8_lossy(&bytes[start..end]).to_string();
                // Nothing after a broken value can be trusted to be where it seems.
                return each(RawRow {
                    line,
                    raw,
                    fields: Err(Rejection::new(
                        Reason::MalformedRow,
                        None,
                        format!("invalid JSON: {e}; the rest of the file is not read"),
                    )),
                });
            }
        }
    }
}

fn read_page(page: Value, line: u64, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    if !is_page(&page) {
        return each(RawRow {
            line,
            raw: truncate(page.to_string()),
            fields: Err(Rejection::new(
                Reason::MalformedRow,
                None,
                format!(
                    "a JSON {}; expected a Klaviyo events page ({{\"data\": [events], \"included\": [...]}})",
                    kind_name(&page)
                ),
            )),
        });
    }
    let mut metrics: BTreeMap<String, String> = BTreeMap::new();
    let mut profiles: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for inc in page
        .get("included")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = fields::text(inc.get("id"));
        let attrs = inc.get("attributes").and_then(Value::as_object);
        match (inc.get("type").and_then(Value::as_str), id, attrs) {
            (Some("metric"), Some(id), Some(a)) => {
                if let Some(name) = fields::text(a.get("name")) {
                    metrics.insert(id, name);
                }
            }
            (Some("profile"), Some(id), Some(a)) => {
                profiles.insert(id, a.clone());
            }
            _ => {}
        }
    }
    for event in page
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let raw = truncate(event.to_string());
        let fields = flatten(event, &metrics, &profiles);
        each(RawRow { line, raw, fields })?;
    }
    Ok(())
}

fn truncate(mut s: String) -> String {
    const MAX: usize = 4096;
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn related<'a>(event: &'a Value, what: &str) -> Option<&'a Value> {
    event
        .get("relationships")?
        .get(what)?
        .get("data")?
        .get("id")
}

fn flatten(
    event: &Value,
    metrics: &BTreeMap<String, String>,
    profiles: &BTreeMap<String, Map<String, Value>>,
) -> Result<Map<String, Value>, Rejection> {
    let Some(obj) = event.as_object() else {
        return Err(Rejection::new(
            Reason::MalformedRow,
            None,
            format!(
                "data[] holds a JSON {}; expected an event",
                kind_name(event)
            ),
        ));
    };
    let attrs = obj.get("attributes").and_then(Value::as_object);
    let mut row = Map::new();
    let mut put = |k: &str, v: Option<&Value>| {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            row.insert(k.to_string(), v.clone());
        }
    };
    put("id", obj.get("id"));
    put("datetime", attrs.and_then(|a| a.get("datetime")));
    put("timestamp", attrs.and_then(|a| a.get("timestamp")));
    put(
        "event_properties",
        attrs.and_then(|a| a.get("event_properties")),
    );
    let metric_id = fields::text(related(event, "metric"));
    match metric_id.as_ref().and_then(|m| metrics.get(m)) {
        Some(name) => put("metric", Some(&Value::String(name.clone()))),
        None => {
            return Err(Rejection::new(
                Reason::UnknownEvent,
                Some("relationships.metric"),
                match metric_id {
                    Some(m) => format!(
                        "metric {m} is not in the page's included[]; export with include=metric"
                    ),
                    None => "an event without a metric".to_string(),
                },
            ))
        }
    }
    if let Some(pid) = fields::text(related(event, "profile")) {
        if let Some(p) = profiles.get(&pid) {
            put("email", p.get("email"));
            put("external_id", p.get("external_id"));
            put("phone_number", p.get("phone_number"));
        }
        put("profile_id", Some(&Value::String(pid)));
    }
    Ok(row)
}

/// A field of a CSV row by any of `names`, ignoring case and spaces around.
fn column<'a>(row: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    row.iter()
        .find(|(k, v)| !v.is_null() && names.iter().any(|n| k.trim().eq_ignore_ascii_case(n)))
        .map(|(_, v)| v)
}

/// The property `name` (nested `$extra.name` too).
fn prop<'a>(props: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    column(props, names).or_else(|| {
        props
            .get("$extra")
            .and_then(Value::as_object)
            .and_then(|x| column(x, names))
    })
}

/// What a metric becomes.
enum Kind {
    Event(EventKind, Option<&'static str>),
    Placed,
    Refunded,
    Cancelled,
}

fn kind_of(metric: &str) -> Result<Kind, Rejection> {
    let m = metric.trim().to_ascii_lowercase();
    Ok(match m.as_str() {
        "started checkout" | "checkout started" => Kind::Event(EventKind::CheckoutStarted, None),
        "added to cart" => Kind::Event(EventKind::CartUpdated, None),
        "placed order" => Kind::Placed,
        "refunded order" => Kind::Refunded,
        "cancelled order" | "canceled order" => Kind::Cancelled,
        "received email" => Kind::Event(EventKind::MessageSent, Some("email")),
        "received sms" => Kind::Event(EventKind::MessageSent, Some("sms")),
        "received push" => Kind::Event(EventKind::MessageSent, Some("push")),
        "opened email" => Kind::Event(EventKind::MessageOpened, Some("email")),
        "clicked email" => Kind::Event(EventKind::MessageClicked, Some("email")),
        "clicked sms" => Kind::Event(EventKind::MessageClicked, Some("sms")),
        "bounced email" => Kind::Event(EventKind::MessageBounced, Some("email")),
        "unsubscribed" | "unsubscribed from email marketing" | "unsubscribed from list" => {
            Kind::Event(EventKind::Unsubscribed, Some("email"))
        }
        "unsubscribed from sms" | "unsubscribed from sms marketing" => {
            Kind::Event(EventKind::Unsubscribed, Some("sms"))
        }
        "marked email as spam" => Kind::Event(EventKind::SpamComplaint, Some("email")),
        "ordered product" => return Err(Rejection::new(
            Reason::UnmappedEvent,
            Some("metric"),
            "Ordered Product is one row per line item of an order that Placed Order already counts",
        )),
        _ => {
            return Err(Rejection::new(
                Reason::UnmappedEvent,
                Some("metric"),
                format!("Klaviyo metric {metric:?} has no meaning for a recovery flow"),
            ))
        }
    })
}

/// Maps one row (a flattened API event or a CSV export row). `file_metric`
/// is the metric a CSV export is named after, for files without a
/// `Metric` column.
pub fn map_row(
    row: &Map<String, Value>,
    epoch: EpochUnit,
    steps: Option<&StepMap>,
    file_metric: Option<&str>,
) -> Result<Mapped, Rejection> {
    let api = row.contains_key("event_properties") || row.contains_key("metric");
    let empty = Map::new();
    let props = if api {
        row.get("event_properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
    } else {
        row
    };
    let metric = fields::text(column(row, &["metric", "metric name", "event", "event name"]))
        .or_else(|| file_metric.map(str::to_string))
        .ok_or_else(|| {
            Rejection::new(
                Reason::MissingEvent,
                Some("Metric"),
                "no metric: expected a `Metric` column, or a file named after its metric (e.g. `Placed Order.csv`)",
            )
        })?;
    let kind = kind_of(&metric)?;
    let ts = match column(row, &["datetime", "timestamp", "time", "date"]) {
        Some(Value::Number(n)) => {
            let unit = if epoch == EpochUnit::None {
                EpochUnit::S
            } else {
                epoch
            };
            fields::timestamp(Some(&Value::Number(n.clone())), "timestamp", unit)?
        }
        v => fields::timestamp(v, "datetime", epoch)?,
    };
    // Identity: the shop's id, the e-mail, Klaviyo's profile id.
    let mut ids: Vec<(IdKind, String)> = Vec::new();
    if let Some(x) = fields::text(column(row, &["external_id", "external id"])) {
        let x = identity::normalize(&x);
        ids.push((identity::kind_of_bare(&x), x));
    }
    if let Some(e) = fields::text(column(row, &["email", "$email"])) {
        ids.push((IdKind::Email, identity::normalize(&e)));
    }
    if let Some(p) = fields::text(column(
        row,
        &["profile_id", "profile id", "klaviyo id", "person id"],
    )) {
        ids.push((IdKind::Profile, identity::normalize(&p)));
    }
    let customer = ids.first().map(|(_, c)| c.clone()).ok_or_else(|| {
        Rejection::new(
            Reason::MissingCustomer,
            Some("profile"),
            "an event without a profile id, e-mail or external id; it cannot be joined to a customer",
        )
    })?;
    let event_id = fields::text(column(row, &["id", "event id"]));
    let dollar_event_id = fields::text(prop(props, &["$event_id"]));
    let value = fields::number(prop(props, &["$value", "value"]), "$value")?;
    let currency =
        fields::text(prop(props, &["$currency_code", "currency"])).map(|c| c.to_ascii_uppercase());
    let mapped = match kind {
        Kind::Event(k, channel) => {
            let mut e = Event::new(ts, k, customer);
            e.currency = currency;
            if k.is_message() {
                e.channel = channel.map(str::to_string);
                let flow = fields::text(prop(props, &["$flow", "flow"]));
                let is_signal = matches!(k, EventKind::Unsubscribed | EventKind::SpamComplaint);
                match (&flow, steps) {
                    (None, _) if !is_signal => {
                        return Err(Rejection::new(
                            Reason::UnmappedEvent,
                            Some("$flow"),
                            format!("{metric} of a campaign (no $flow): not a message of a flow"),
                        ))
                    }
                    (Some(f), Some(m)) if !m.flow_ids.is_empty() && !m.flow_ids.contains(f) => {
                        return Err(Rejection::new(
                            Reason::UnmappedEvent,
                            Some("$flow"),
                            format!("{metric} of another flow ({f})"),
                        ))
                    }
                    _ => {}
                }
                if let Some(m) = steps {
                    let by_id = fields::text(prop(props, &["$message"]));
                    let by_name = fields::text(prop(
                        props,
                        &["$message_name", "message name", "campaign name"],
                    ));
                    e.flow_step = by_id
                        .iter()
                        .chain(by_name.iter())
                        .find_map(|k| m.steps.get(k.trim()).copied());
                }
            } else {
                e.value = value;
                e.cart_id = fields::text(prop(
                    props,
                    &[
                        "checkout_id",
                        "checkoutid",
                        "checkout id",
                        "checkout_token",
                        "token",
                    ],
                ))
                .or(dollar_event_id);
            }
            Mapped {
                events: vec![e],
                ..Mapped::default()
            }
        }
        Kind::Placed | Kind::Refunded | Kind::Cancelled => {
            let order_id = fields::text(prop(props, &["orderid", "order_id", "order id"]))
                .or(dollar_event_id.clone())
                .ok_or_else(|| {
                    Rejection::new(
                        Reason::MissingOrderId,
                        Some("$event_id"),
                        format!("{metric} without OrderId or $event_id"),
                    )
                })?;
            let mut p = OrderPayload::new(Source::Klaviyo, order_id, Some(customer));
            p.currency = currency.clone();
            match kind {
                Kind::Placed => {
                    let mut s = OrderState::placed(ts);
                    s.value = value;
                    s.discount = fields::number(
                        prop(
                            props,
                            &["discount value", "discountvalue", "total_discounts"],
                        ),
                        "Discount Value",
                    )?;
                    s.coupon = match prop(props, &["discount codes", "discountcodes"]) {
                        Some(Value::Array(codes)) => {
                            codes.first().and_then(|c| fields::text(Some(c)))
                        }
                        other => fields::text(other),
                    };
                    s.cart_id = fields::text(prop(
                        props,
                        &["checkout_id", "checkoutid", "checkout id", "checkout_token"],
                    ));
                    s.currency = currency;
                    p.state = Some(s);
                }
                Kind::Refunded => {
                    let key = match (&event_id, &dollar_event_id) {
                        (Some(id), _) => format!("klaviyo:{id}"),
                        (None, Some(d)) => format!("refunded:{d}:{ts}"),
                        (None, None) => String::new(),
                    };
                    let mut r = RefundFact::by_content(ts, value);
                    if !key.is_empty() {
                        r.key = key;
                    }
                    p.refunds.push(r);
                }
                _ => p.cancelled_at = Some(ts),
            }
            Mapped {
                orders: vec![p],
                ..Mapped::default()
            }
        }
    };
    for e in &mapped.events {
        if let Some(v) = e.value.filter(|v| *v < 0.0) {
            return Err(Rejection::new(
                Reason::NegativeValue,
                Some("$value"),
                format!("$value {v}; expected ≥ 0"),
            ));
        }
    }
    Ok(mapped.with_ids(ids))
}

/// The metric a CSV export is named after (`Placed Order.csv`,
/// `placed_order_export.csv`), when its name holds a known metric.
pub fn metric_of_file(path: &Path) -> Option<&'static str> {
    let stem = path
        .file_stem()?
        .to_string_lossy()
        .to_ascii_lowercase()
        .replace(['_', '-'], " ");
    [
        "Started Checkout",
        "Checkout Started",
        "Added to Cart",
        "Placed Order",
        "Refunded Order",
        "Cancelled Order",
        "Received Email",
        "Received SMS",
        "Opened Email",
        "Clicked Email",
        "Clicked SMS",
        "Bounced Email",
        "Marked Email as Spam",
        "Unsubscribed",
    ]
    .into_iter()
    .find(|m| stem.contains(&m.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page() -> Value {
        json!({
            "data": [
                {"type": "event", "id": "E1", "attributes": {"datetime": "2026-03-02T10:00:00+00:00",
                  "event_properties": {"$value": 80.0, "$event_id": "chk-1"}},
                 "relationships": {"metric": {"data": {"type": "metric", "id": "M1"}},
                                   "profile": {"data": {"type": "profile", "id": "P1"}}}},
                {"type": "event", "id": "E2", "attributes": {"datetime": "2026-03-02T11:00:00+00:00",
                  "event_properties": {"$flow": "F1", "$message": "MSG1"}},
                 "relationships": {"metric": {"data": {"type": "metric", "id": "M2"}},
                                   "profile": {"data": {"type": "profile", "id": "P1"}}}},
                {"type": "event", "id": "E3", "attributes": {"datetime": "2026-03-02T11:00:00+00:00",
                  "event_properties": {}},
                 "relationships": {"metric": {"data": {"type": "metric", "id": "M9"}}}}
            ],
            "included": [
                {"type": "metric", "id": "M1", "attributes": {"name": "Started Checkout"}},
                {"type": "metric", "id": "M2", "attributes": {"name": "Received Email"}},
                {"type": "profile", "id": "P1", "attributes": {"email": "Ann@Example.com", "external_id": "555"}}
            ]
        })
    }

    #[test]
    fn pages_flatten_and_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, serde_json::to_string_pretty(&page()).unwrap()).unwrap();
        assert!(sniff_pages(&path));
        let mut rows = Vec::new();
        read_pages(&path, &mut |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows.len(), 3);
        let mut steps = StepMap::default();
        steps.steps.insert("MSG1".into(), 2);
        let first = map_row(
            rows[0].fields.as_ref().unwrap(),
            EpochUnit::None,
            Some(&steps),
            None,
        )
        .unwrap();
        assert_eq!(first.events[0].kind, EventKind::CheckoutStarted);
        assert_eq!(first.events[0].customer_id, "555");
        assert_eq!(first.events[0].cart_id.as_deref(), Some("chk-1"));
        assert!(first
            .ids
            .contains(&(IdKind::Email, "ann@example.com".into())));
        assert!(first.ids.contains(&(IdKind::Profile, "P1".into())));
        let send = map_row(
            rows[1].fields.as_ref().unwrap(),
            EpochUnit::None,
            Some(&steps),
            None,
        )
        .unwrap();
        assert_eq!(send.events[0].flow_step, Some(2));
        assert_eq!(send.events[0].channel.as_deref(), Some("email"));
        assert_eq!(
            rows[2].fields.as_ref().unwrap_err().reason,
            Reason::UnknownEvent
        );
        steps.flow_ids.insert("OTHER".into());
        let other = map_row(
            rows[1].fields.as_ref().unwrap(),
            EpochUnit::None,
            Some(&steps),
            None,
        );
        assert_eq!(other.unwrap_err().reason, Reason::UnmappedEvent);
    }

    #[test]
    fn csv_rows_and_file_metrics() {
        let row: Map<String, Value> = serde_json::from_value(json!({
            "Event ID": "X1", "Timestamp": "2026-03-02 10:00:00 UTC", "Email": "b@x.com",
            "$value": "40.00", "OrderId": "o-9", "$event_id": "o-9"
        }))
        .unwrap();
        let path = Path::new("exports/Placed Order.csv");
        let m = map_row(&row, EpochUnit::None, None, metric_of_file(path)).unwrap();
        let p = &m.orders[0];
        assert_eq!(p.order_id, "o-9");
        assert_eq!(p.state.as_ref().unwrap().value, Some(40.0));
        assert!(map_row(&row, EpochUnit::None, None, None).is_err());
    }
}
