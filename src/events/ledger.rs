//! The order ledger: every payload that concerns an order, from any source,
//! merged into one record per order before flow reconstruction, so every
//! consumer reads the money the store's books hold.
//!
//! Rules (DESIGN.md, "Money and identity"; README, "The order ledger"):
//! - **One record per order**, keyed by (source, order id); for GA4, whose
//!   `transaction_id` is de-duplicated per user only, and for canonical
//!   logs (whose ids reconstruction reads per customer), by (source,
//!   customer, order id). The record belongs to the customer of its earliest placement.
//! - **Idempotent and order-independent.** A payload read twice is counted
//!   once (`duplicate_order`); a repeated *creation* (event-shaped sources:
//!   canonical, Segment, GA4) keeps the earliest and quarantines the rest as
//!   `duplicate_order`; snapshots (Shopify orders, which carry the whole
//!   order every time) are merged: the order's state is the snapshot with the
//!   latest `updated_at`, refunds are the union of refunds by refund id (by
//!   time and amount where a source has no id), the cancellation is the
//!   earliest `cancelled_at` any payload carries. Every choice is a minimum or
//!   maximum over content, never "the first read".
//! - **Later states are not duplicates**: cancellations, refunds and updates
//!   of a known order are applied to it.
//! - **An order id reused by another customer** is quarantined
//!   (`order_id_reused`) for sources whose ids are unique per store
//!   (Segment, Shopify); for GA4 and canonical logs it is another order.
//! - **Only money that moved**: a mapper reports only settled refund
//!   amounts (Shopify: transactions of kind `refund`, status `success`);
//!   a refund without an amount is a full refund where the source says so
//!   (Segment `Order Refunded`, GA4 `refund`). Refunds are applied in time
//!   order and capped at the order's value (never below zero; reported).
//! - **Not revenue**: test orders emit nothing; they are counted.
//! - A refund or cancellation for an order no payload places cannot be
//!   joined to a customer or a cart: quarantined as `unknown_order`.
//!
//! The ledger emits canonical events (one `order_completed` per order, its
//! `order_cancelled`, one `order_refunded` per counted refund), so `paths`,
//! `sql` and every other consumer read the same money; each carries the
//! order id of its record (and, for GA4, its customer) as the pointer back.

use super::identity::Resolved;
use super::{Event, Reason, Rejection};
use crate::schema::EventKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which system an order id belongs to (ids are unique per source).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Source {
    Canonical,
    Segment,
    Shopify,
    Ga4,
    Klaviyo,
}

impl Source {
    /// GA4 de-duplicates `transaction_id` per user only; the canonical
    /// schema's order ids are per customer too (as reconstruction and the
    /// SQL read them), so a canonical log written from GA4 reads back the
    /// same.
    fn ids_per_customer(self) -> bool {
        matches!(self, Source::Ga4 | Source::Canonical)
    }
}

/// What one payload says about one order.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct OrderPayload {
    pub source: Source,
    pub order_id: String,
    /// The customer the payload names (normalized); `None` for payloads that
    /// name only the order (Shopify `refunds/create`).
    pub customer: Option<String>,
    /// The order as placed or as it is now.
    pub state: Option<OrderState>,
    pub cancelled_at: Option<i64>,
    pub refunds: Vec<RefundFact>,
    /// The currency the payload's amounts are in (refunds included).
    pub currency: Option<String>,
}

impl OrderPayload {
    pub fn new(source: Source, order_id: String, customer: Option<String>) -> OrderPayload {
        OrderPayload {
            source,
            order_id,
            customer,
            state: None,
            cancelled_at: None,
            refunds: Vec::new(),
            currency: None,
        }
    }

    /// Every amount in the payload, for currency conversion.
    pub fn amounts_mut(&mut self) -> impl Iterator<Item = &mut f64> {
        let s = self
            .state
            .iter_mut()
            .flat_map(|s| s.value.iter_mut().chain(s.discount.iter_mut()));
        s.chain(self.refunds.iter_mut().flat_map(|r| r.amount.iter_mut()))
    }
}

#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct OrderState {
    /// When the order was placed (UTC µs).
    pub placed_at: i64,
    /// Which state is newest: the payload's `updated_at`, else `placed_at`.
    pub version: i64,
    /// `true` for a payload that *is* the placement (an `Order Completed`
    /// or `purchase` event); `false` for a snapshot of the order's state.
    pub creation: bool,
    pub value: Option<f64>,
    pub discount: Option<f64>,
    pub coupon: Option<String>,
    pub cart_id: Option<String>,
    pub customer_status: Option<String>,
    pub currency: Option<String>,
    pub test: bool,
}

impl OrderState {
    pub fn placed(placed_at: i64) -> OrderState {
        OrderState {
            placed_at,
            version: placed_at,
            creation: true,
            value: None,
            discount: None,
            coupon: None,
            cart_id: None,
            customer_status: None,
            currency: None,
            test: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct RefundFact {
    /// The source's refund id, or `at|amount` where the source has none.
    pub key: String,
    pub at: i64,
    /// Settled amount; `None` means the whole order (where the source says so).
    pub amount: Option<f64>,
}

impl RefundFact {
    /// A refund identified by its content (sources without refund ids).
    pub fn by_content(at: i64, amount: Option<f64>) -> RefundFact {
        let key = match amount {
            Some(a) => format!("{at}|{a}"),
            None => format!("{at}|full"),
        };
        RefundFact { key, at, amount }
    }
}

/// An order event of an event-shaped source (canonical, Segment, GA4) as
/// a payload: `order_completed` places the order, `order_refunded` is one
/// refund (identified by its time and amount), `order_cancelled` cancels it.
/// A refund without an amount is the whole order where `full_when_no_amount`
/// (Segment's and GA4's specs), otherwise quarantined.
pub fn from_event(
    e: Event,
    source: Source,
    full_when_no_amount: bool,
) -> Result<OrderPayload, Rejection> {
    let order_id = e.order_id.clone().unwrap_or_default();
    let mut p = OrderPayload::new(source, order_id, Some(e.customer_id.clone()));
    p.currency = e.currency.clone();
    match e.kind {
        EventKind::OrderCompleted => {
            let mut s = OrderState::placed(e.ts);
            s.value = e.value;
            s.discount = e.discount;
            s.coupon = e.coupon;
            s.cart_id = e.cart_id;
            s.customer_status = e.customer_status;
            s.currency = e.currency;
            p.state = Some(s);
        }
        EventKind::OrderRefunded => {
            if e.value.is_none() && !full_when_no_amount {
                return Err(Rejection::new(
                    Reason::MissingRefundAmount,
                    Some("value"),
                    "order_refunded without an amount; expected the refunded amount in `value`",
                ));
            }
            p.refunds.push(RefundFact::by_content(e.ts, e.value));
        }
        _ => p.cancelled_at = Some(e.ts),
    }
    Ok(p)
}

/// The ledger's bookkeeping, for finance: amounts in the run's currency,
/// summed in cents, with `gross − refunds − cancellations = net` exactly.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LedgerReport {
    /// Orders in the ledger (test orders excluded).
    pub orders: u64,
    pub test_orders: u64,
    pub test_order_value: f64,
    pub cancelled_orders: u64,
    /// Value of cancelled orders not already refunded.
    pub cancellations: f64,
    /// Refunds counted (settled, with money moved; for Shopify, each refund
    /// transaction), and their amount.
    pub refunds: u64,
    pub refunded: f64,
    /// Refunds cut down so that an order never goes below zero.
    pub refunds_capped: u64,
    pub refund_amount_capped: f64,
    /// Order payloads read that merged into an existing record.
    pub payloads_merged: u64,
    /// Quarantined: repeats of a payload or creation, ids reused by another
    /// customer, refunds/cancellations of orders never placed.
    pub duplicate_payloads: u64,
    pub order_ids_reused: u64,
    pub unjoined_payloads: u64,
    pub gross_revenue: f64,
    pub net_revenue: f64,
}

impl LedgerReport {
    /// Lines for a terminal or a text summary.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "orders {} (test orders excluded {}, {:.2}); cancelled {}; refunds {} ({:.2}, {} capped by {:.2})",
                self.orders,
                self.test_orders,
                self.test_order_value,
                self.cancelled_orders,
                self.refunds,
                self.refunded,
                self.refunds_capped,
                self.refund_amount_capped
            ),
            format!(
                "gross {:.2} − refunds {:.2} − cancellations {:.2} = net {:.2}",
                self.gross_revenue, self.refunded, self.cancellations, self.net_revenue
            ),
        ]
    }
}

/// A payload and the input row it came from.
pub struct Pending<R> {
    pub payload: OrderPayload,
    pub row: R,
}

/// What resolution decided: the canonical order events, the rows to
/// quarantine (with their reason), and the bookkeeping.
pub struct Resolution<R> {
    pub events: Vec<Event>,
    pub rejected: Vec<(R, Rejection)>,
    pub report: LedgerReport,
}

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn money(c: impl Into<i128>) -> f64 {
    c.into() as f64 / 100.0
}

/// A total order on payload content, for choices that must not depend on
/// the order rows were read in.
fn content_key(p: &OrderPayload) -> String {
    format!("{p:?}")
}

/// Merges every order payload into the ledger and emits canonical events.
pub fn resolve<R>(payloads: Vec<Pending<R>>, ids: &Resolved) -> Resolution<R> {
    // Payloads of one order id (from any source, for any customer) decide
    // together; they stay in the order they were read.
    let mut by_id: BTreeMap<String, Vec<Pending<R>>> = BTreeMap::new();
    for p in payloads {
        by_id.entry(p.payload.order_id.clone()).or_default().push(p);
    }
    let mut ledger = Ledger::default();
    let mut events = Vec::new();
    for (_, same_id) in by_id {
        events.extend(ledger.order_id(same_id, ids));
    }
    let (rejected, report) = ledger.finish();
    Resolution {
        events,
        rejected,
        report,
    }
}

/// Record key: (source, order id, customer for per-customer ids).
type Key = (Source, String, String);

/// The ledger fed one order id at a time (every payload that names it),
/// so only one order's payloads are held at once: the streaming form of
/// [`resolve`], with the same events, rejections (in record-key order)
/// and report.
pub struct Ledger<R> {
    rejected: Vec<(Key, u64, R, Rejection)>,
    report: LedgerReport,
    tot: Totals,
}

impl<R> Default for Ledger<R> {
    fn default() -> Self {
        Ledger {
            rejected: Vec::new(),
            report: LedgerReport::default(),
            tot: Totals::default(),
        }
    }
}

impl<R> Ledger<R> {
    /// Every payload of one order id, in the order read; returns the
    /// canonical order events of its records.
    pub fn order_id(&mut self, payloads: Vec<Pending<R>>, ids: &Resolved) -> Vec<Event> {
        let mut groups: BTreeMap<Key, Vec<Pending<R>>> = BTreeMap::new();
        for mut p in payloads {
            if let Some(c) = &p.payload.customer {
                p.payload.customer = Some(ids.key(c).to_string());
            }
            let scope = if p.payload.source.ids_per_customer() {
                p.payload.customer.clone().unwrap_or_default()
            } else {
                String::new()
            };
            let key = (p.payload.source, p.payload.order_id.clone(), scope);
            groups.entry(key).or_default().push(p);
        }
        // A refund or cancellation whose source never places the order joins a
        // record of the same order id that another source places (a store that
        // sends orders through Segment and refunds as Shopify webhooks).
        let orphans: Vec<Key> = groups
            .iter()
            .filter(|(_, g)| g.iter().all(|p| p.payload.state.is_none()))
            .map(|(k, _)| k.clone())
            .collect();
        // Likewise a refund a server sent under another device id (GA4's
        // Measurement Protocol) joins the one order of that id, when there is
        // exactly one.
        for key in orphans {
            let placed: Vec<Key> = groups
                .iter()
                .filter(|(k, g)| {
                    **k != key && k.1 == key.1 && g.iter().any(|p| p.payload.state.is_some())
                })
                .map(|(k, _)| k.clone())
                .collect();
            let other_source = placed.iter().find(|k| k.0 != key.0).cloned();
            let same_source: Vec<&Key> = placed.iter().filter(|k| k.0 == key.0).collect();
            let target = match (other_source, same_source.as_slice()) {
                (_, [only]) => Some((*only).clone()),
                (Some(t), []) => Some(t),
                _ => None,
            };
            if let Some(t) = target {
                let mut moved = groups.remove(&key).unwrap_or_default();
                for p in &mut moved {
                    // It joins through the order, whoever it names.
                    p.payload.customer = None;
                }
                groups.entry(t).or_default().extend(moved);
            }
        }
        let mut out = Resolution {
            events: Vec::new(),
            rejected: Vec::new(),
            report: std::mem::take(&mut self.report),
        };
        for (key, group) in groups {
            // Sorted by content (stable), so the same payloads in any order
            // resolve alike; one payload alone needs no content key (most
            // orders: the key is the payload's whole text).
            let mut group: Vec<(String, Pending<R>)> = if group.len() == 1 {
                group.into_iter().map(|p| (String::new(), p)).collect()
            } else {
                group
                    .into_iter()
                    .map(|p| (content_key(&p.payload), p))
                    .collect()
            };
            group.sort_by(|a, b| a.0.cmp(&b.0));
            resolve_order(group, &mut out, &mut self.tot);
            for (row, rej) in out.rejected.drain(..) {
                let n = self.rejected.len() as u64;
                self.rejected.push((key.clone(), n, row, rej));
            }
        }
        self.report = out.report;
        out.events
    }

    /// The rows to quarantine, in record-key order (then the order each
    /// record rejected them in), and the bookkeeping.
    pub fn finish(mut self) -> (Vec<(R, Rejection)>, LedgerReport) {
        self.rejected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let tot = &self.tot;
        let r = &mut self.report;
        r.test_order_value = money(tot.test);
        r.refunded = money(tot.refunded);
        r.refund_amount_capped = money(tot.capped);
        r.cancellations = money(tot.cancelled);
        r.gross_revenue = money(tot.gross);
        r.net_revenue = money(tot.gross - tot.refunded - tot.cancelled);
        let rejected = self
            .rejected
            .into_iter()
            .map(|(_, _, row, rej)| (row, rej))
            .collect();
        (rejected, self.report)
    }
}

/// Sums in cents (amounts are at most 1e12, so i128 sums never overflow).
#[derive(Default)]
struct Totals {
    test: i128,
    refunded: i128,
    capped: i128,
    cancelled: i128,
    gross: i128,
}

fn resolve_order<R>(group: Vec<(String, Pending<R>)>, out: &mut Resolution<R>, tot: &mut Totals) {
    // Exact repeats of a payload: the first of equal content stays.
    let mut kept: Vec<Pending<R>> = Vec::with_capacity(group.len());
    let mut last: Option<String> = None;
    for (content, p) in group {
        if last.as_deref() == Some(content.as_str()) {
            out.report.duplicate_payloads += 1;
            let id = p.payload.order_id.clone();
            out.rejected.push((
                p.row,
                Rejection::new(
                    Reason::DuplicateOrder,
                    Some("order_id"),
                    format!(
                        "the same payload of order {id} was already read (a retry); counted once"
                    ),
                ),
            ));
        } else {
            last = Some(content);
            kept.push(p);
        }
    }
    // The owner: the customer of the earliest placement (content breaks ties;
    // the group is sorted by content already, and the sort is stable).
    let owner = kept
        .iter()
        .filter_map(|p| {
            Some((
                p.payload.state.as_ref()?.placed_at,
                p.payload.customer.as_ref()?,
            ))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(_, c)| c.clone());
    let Some(owner) = owner else {
        for p in kept {
            out.report.unjoined_payloads += 1;
            let id = p.payload.order_id.clone();
            let what = if p.payload.refunds.is_empty() {
                "a cancellation or update"
            } else {
                "a refund"
            };
            out.rejected.push((
                p.row,
                Rejection::new(
                    Reason::UnknownOrder,
                    Some("order_id"),
                    format!("{what} of order {id}, which no order payload in the input places; its customer and cart cannot be known"),
                ),
            ));
        }
        return;
    };
    let mut mine: Vec<Pending<R>> = Vec::with_capacity(kept.len());
    for p in kept {
        match &p.payload.customer {
            Some(c) if *c != owner => {
                out.report.order_ids_reused += 1;
                let id = p.payload.order_id.clone();
                out.rejected.push((
                    p.row,
                    Rejection::new(
                        Reason::OrderIdReused,
                        Some("order_id"),
                        format!("order id {id} already belongs to another customer; this payload names a different customer and is not merged into that order"),
                    ),
                ));
            }
            _ => mine.push(p),
        }
    }
    // Repeated creations: the earliest placement stays.
    let first_creation = mine
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let s = p.payload.state.as_ref()?;
            s.creation.then_some((s.placed_at, i))
        })
        .min();
    let mut merged: Vec<OrderPayload> = Vec::with_capacity(mine.len());
    for (i, p) in mine.into_iter().enumerate() {
        let is_creation = p.payload.state.as_ref().is_some_and(|s| s.creation);
        if is_creation && first_creation.is_some_and(|(_, f)| f != i) {
            out.report.duplicate_payloads += 1;
            let id = p.payload.order_id.clone();
            let at = crate::events::fields::format_timestamp(
                first_creation.map(|(t, _)| t).unwrap_or_default(),
            );
            out.rejected.push((
                p.row,
                Rejection::new(
                    Reason::DuplicateOrder,
                    Some("order_id"),
                    format!("order {id} was already placed at {at} by the same customer; a repeated placement (a page reload, a retry) counts once"),
                ),
            ));
        } else {
            merged.push(p.payload);
        }
    }
    if merged.len() > 1 {
        out.report.payloads_merged += merged.len() as u64 - 1;
    }
    emit(merged, &owner, out, tot);
}

fn emit<R>(merged: Vec<OrderPayload>, owner: &str, out: &mut Resolution<R>, tot: &mut Totals) {
    let order_id = merged[0].order_id.clone();
    // The placement: the creation if there is one; otherwise the newest snapshot.
    let state = merged
        .iter()
        .filter_map(|p| p.state.as_ref())
        .max_by(|a, b| {
            (a.creation, a.version)
                .cmp(&(b.creation, b.version))
                .then_with(|| format!("{b:?}").cmp(&format!("{a:?}")))
        })
        .expect("an owner implies a placement")
        .clone();
    // For event-shaped sources the creation is the state; for snapshots the
    // newest one is (the creation flag is false on every snapshot).
    let test = merged
        .iter()
        .filter_map(|p| p.state.as_ref())
        .any(|s| s.test);
    let value_c = cents(state.value.unwrap_or(0.0));
    if test {
        out.report.test_orders += 1;
        tot.test += value_c as i128;
        return;
    }
    out.report.orders += 1;
    tot.gross += value_c as i128;
    let mut placed = Event::new(state.placed_at, EventKind::OrderCompleted, owner);
    placed.order_id = Some(order_id.clone());
    placed.cart_id = state.cart_id.clone();
    placed.value = state.value;
    placed.discount = state.discount;
    placed.coupon = state.coupon.clone();
    placed.customer_status = state.customer_status.clone();
    placed.currency = state.currency.clone();
    out.events.push(placed);
    // Refunds: one per key, the largest settled amount any payload reports.
    let mut refunds: BTreeMap<&str, &RefundFact> = BTreeMap::new();
    for r in merged.iter().flat_map(|p| &p.refunds) {
        refunds
            .entry(&r.key)
            .and_modify(|cur| {
                let better = match (cur.amount, r.amount) {
                    (Some(a), Some(b)) => b > a || (b == a && r.at < cur.at),
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if better {
                    *cur = r;
                }
            })
            .or_insert(r);
    }
    let mut ordered: Vec<&RefundFact> = refunds.into_values().collect();
    ordered.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    let mut refunded_c = 0i64;
    for r in ordered {
        let left = (value_c - refunded_c).max(0);
        let asked = r.amount.map_or(left, cents);
        if asked <= 0 {
            continue;
        }
        let amount = asked.min(left);
        if amount < asked {
            out.report.refunds_capped += 1;
            tot.capped += (asked - amount) as i128;
        }
        if amount <= 0 {
            continue;
        }
        refunded_c += amount;
        out.report.refunds += 1;
        let mut e = Event::new(r.at, EventKind::OrderRefunded, owner);
        e.order_id = Some(order_id.clone());
        e.value = Some(money(amount));
        e.currency = state.currency.clone();
        out.events.push(e);
    }
    tot.refunded += refunded_c as i128;
    if let Some(at) = merged.iter().filter_map(|p| p.cancelled_at).min() {
        out.report.cancelled_orders += 1;
        tot.cancelled += (value_c - refunded_c).max(0) as i128;
        let mut e = Event::new(at, EventKind::OrderCancelled, owner);
        e.order_id = Some(order_id);
        e.currency = state.currency.clone();
        out.events.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::identity::Identities;

    fn placed(src: Source, id: &str, cust: &str, at: i64, value: f64) -> OrderPayload {
        let mut p = OrderPayload::new(src, id.into(), Some(cust.into()));
        let mut s = OrderState::placed(at);
        s.value = Some(value);
        p.state = Some(s);
        p
    }

    fn run(payloads: Vec<OrderPayload>) -> Resolution<usize> {
        let ids = Identities::default().resolve(Default::default()).0;
        resolve(
            payloads
                .into_iter()
                .enumerate()
                .map(|(row, payload)| Pending { payload, row })
                .collect(),
            &ids,
        )
    }

    fn sorted_events(r: &Resolution<usize>) -> Vec<String> {
        let mut v: Vec<String> = r.events.iter().map(|e| format!("{e:?}")).collect();
        v.sort();
        v
    }

    #[test]
    fn refunds_count_once_cap_at_value_and_reconcile() {
        let mut snap1 = placed(Source::Shopify, "1", "a", 10, 100.0);
        snap1.state.as_mut().unwrap().creation = false;
        snap1.refunds.push(RefundFact {
            key: "r1".into(),
            at: 20,
            amount: Some(60.0),
        });
        let mut snap2 = snap1.clone();
        snap2.state.as_mut().unwrap().version = 30;
        snap2.refunds.push(RefundFact {
            key: "r2".into(),
            at: 25,
            amount: Some(70.0),
        });
        let r = run(vec![snap1.clone(), snap2.clone(), snap2.clone()]);
        assert_eq!(r.rejected.len(), 1, "the exact repeat");
        assert_eq!(r.report.refunds, 2);
        assert_eq!(r.report.refunded, 100.0);
        assert_eq!(r.report.refunds_capped, 1);
        assert_eq!(r.report.refund_amount_capped, 30.0);
        assert_eq!(r.report.net_revenue, 0.0);
        let shuffled = run(vec![snap2.clone(), snap1, snap2]);
        assert_eq!(sorted_events(&r), sorted_events(&shuffled));
        assert_eq!(r.report, shuffled.report);
    }

    #[test]
    fn ga4_ids_are_per_customer_others_are_not() {
        let r = run(vec![
            placed(Source::Ga4, "1", "b", 10, 40.0),
            placed(Source::Ga4, "1", "c", 20, 55.0),
            placed(Source::Ga4, "T", "a", 30, 72.05),
            placed(Source::Ga4, "T", "a", 40, 72.05),
        ]);
        assert_eq!(r.report.orders, 3);
        assert_eq!(r.report.gross_revenue, 167.05);
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].0, 3, "the later reload is the duplicate");
        let r = run(vec![
            placed(Source::Segment, "1", "b", 10, 40.0),
            placed(Source::Segment, "1", "c", 20, 55.0),
        ]);
        assert_eq!(r.report.orders, 1);
        assert_eq!(r.rejected[0].1.reason, Reason::OrderIdReused);
    }

    #[test]
    fn a_refund_from_another_source_joins_the_order() {
        let mut refund = OrderPayload::new(Source::Shopify, "o1".into(), None);
        refund.refunds.push(RefundFact::by_content(60, Some(5.0)));
        let r = run(vec![refund, placed(Source::Segment, "o1", "a", 10, 50.0)]);
        assert!(r.rejected.is_empty());
        assert_eq!(r.report.refunded, 5.0);
        assert_eq!(r.report.net_revenue, 45.0);
    }

    #[test]
    fn cancellations_tests_and_orphans() {
        let mut cancel = OrderPayload::new(Source::Canonical, "1".into(), Some("a".into()));
        cancel.cancelled_at = Some(50);
        let mut refund = OrderPayload::new(Source::Shopify, "9".into(), None);
        refund.refunds.push(RefundFact::by_content(60, Some(5.0)));
        let mut test = placed(Source::Shopify, "7", "t", 10, 398.0);
        test.state.as_mut().unwrap().test = true;
        let r = run(vec![
            cancel,
            placed(Source::Canonical, "1", "a", 10, 2250.0),
            refund,
            test,
        ]);
        assert_eq!(r.report.cancelled_orders, 1);
        assert_eq!(r.report.cancellations, 2250.0);
        assert_eq!(r.report.net_revenue, 0.0);
        assert_eq!(r.report.test_orders, 1);
        assert_eq!(r.report.unjoined_payloads, 1);
        assert_eq!(r.rejected[0].1.reason, Reason::UnknownOrder);
        assert_eq!(r.events.len(), 2);
    }
}
