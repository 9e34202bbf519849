//! Each customer's event history → flow entries, their touches and outcomes.
//!
//! Rules (DESIGN.md, "Flow reconstruction"):
//! - A trigger (per `flow.trigger`) opens a candidate; further cart activity
//!   extends it. With no cart activity and no order for `abandon_after`, the
//!   cart is abandoned and enters the flow at `last activity + abandon_after`.
//! - A customer enters at most once per `reentry_cooldown`; a later candidate
//!   inside the cooldown is counted as a suppressed re-entry, not an entry.
//! - The arm is the customer's hash bucket at entry (intent to treat).
//! - An order lands on an open entry (entered before it, window not over,
//!   not yet converted): the one with its cart id, else the latest.
//!   Duplicate order ids count once. Refunds and cancellations inside the
//!   window reduce the entry's revenue; refunds are capped at what is left
//!   of the order (revenue never goes below zero).
//! - Messages belong to the latest entry at or before their timestamp
//!   (preferring the entry of their cart when they carry one).

use super::audit::CustomerAudit;
use super::table::{EventTable, NONE};
use crate::assign::Assigner;
use crate::config::{FlowConfig, Trigger};
use crate::schema::EventKind;
use rustc_hash::FxHashSet;

/// One flow entry, as reconstructed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub customer: u32,
    pub ordinal: u32,
    pub cart: u32,
    pub arm: usize,
    pub bucket: u32,
    pub abandoned_at: i64,
    pub entered_at: i64,
    pub cart_value: f64,
    pub status: u32,
    pub order: Option<Outcome>,
    pub unsubscribed: bool,
    pub complained: bool,
    pub window_complete: bool,
    pub prior_spend: f64,
    /// Distinct orders the customer placed before this cart was abandoned.
    pub prior_orders: u32,
    /// The latest of those orders, if any.
    pub last_order_at: Option<i64>,
    /// The first of those orders, if any.
    pub first_order_at: Option<i64>,
    /// How many of those orders carried a discount or a coupon.
    pub prior_discounted_orders: u32,
    /// The channel (interned; `NONE` when absent) of the cart's first
    /// activity event that named one: where the cart was captured.
    pub capture_channel: u32,
}

impl Entry {
    /// Days from the customer's latest earlier order to the abandonment;
    /// None when they had none.
    pub fn days_since_last_order(&self) -> Option<f64> {
        self.last_order_at
            .map(|at| (self.abandoned_at - at) as f64 / DAY_US)
    }

    /// What is known of the entry at abandonment, as branch conditions
    /// read it (`status` and `capture` are the interned names).
    pub fn covariates<'a>(
        &self,
        status: &'a str,
        capture: &'a str,
    ) -> crate::branch::Covariates<'a> {
        let (hour, weekday) = crate::branch::Covariates::hour_and_weekday(self.abandoned_at);
        crate::branch::Covariates {
            cart_value: self.cart_value,
            customer_status: status,
            customer_prior_spend: self.prior_spend,
            abandoned_hour: hour,
            abandoned_weekday: weekday,
            prior_orders: self.prior_orders,
            days_since_last_order: self.days_since_last_order(),
            prior_discounted_orders: self.prior_discounted_orders,
            days_since_first_order: self.days_since_first_order(),
            capture_channel: capture,
        }
    }

    /// Days from the customer's first earlier order to the abandonment
    /// (tenure); None when they had none.
    pub fn days_since_first_order(&self) -> Option<f64> {
        self.first_order_at
            .map(|at| (self.abandoned_at - at) as f64 / DAY_US)
    }
}

const DAY_US: f64 = 86_400_000_000.0;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub order: u32,
    pub at: i64,
    pub value: f64,
    pub discount: f64,
    pub coupon: u32,
    pub refunded: f64,
    pub cancelled: bool,
}

impl Outcome {
    /// Revenue kept: the order's value less refunds, nothing if cancelled.
    pub fn net_revenue(&self) -> f64 {
        if self.cancelled {
            0.0
        } else {
            self.value - self.refunded
        }
    }
}

/// One message (sent or suppressed) of an entry.
#[derive(Debug, Clone)]
pub struct Touch {
    /// Index of the entry within its customer's entries.
    pub entry: usize,
    pub step: i32,
    pub channel: u32,
    pub suppressed: bool,
    pub sent_at: i64,
    pub delivered: bool,
    pub bounced: bool,
    pub opened_at: Option<i64>,
    pub clicked_at: Option<i64>,
}

/// What one customer's history reconstructs to.
#[derive(Debug, Default)]
pub struct CustomerFlow {
    pub entries: Vec<Entry>,
    pub touches: Vec<Touch>,
    pub audit: CustomerAudit,
    /// [`attach_message`]'s lookups, so each message costs O(1) however
    /// many entries and touches the customer has.
    lookup: MessageLookup,
}

/// Entries by cart and the latest send per (entry, step, channel), with
/// `None` standing for "any" (an engagement event without a step or a
/// channel matches any).
#[derive(Debug, Default)]
struct MessageLookup {
    /// Entries indexed so far (entries are only ever appended); `by_cart`
    /// is only built once the customer has more than [`SCAN_ENTRIES`].
    entries_seen: usize,
    /// Whether `latest_send` is kept: only once the customer has more than
    /// [`SCAN_TOUCHES`] touches (a short scan is faster than hashing).
    sends_indexed: bool,
    by_cart: rustc_hash::FxHashMap<u32, Vec<usize>>,
    latest_send: rustc_hash::FxHashMap<(usize, Option<i32>, Option<u32>), usize>,
}

/// Settings the walk needs, resolved once from the flow config.
pub struct Rules {
    pub trigger: Trigger,
    pub abandon_after: i64,
    pub cooldown: i64,
    pub window: i64,
    pub holdout_arm: usize,
    pub cap: Option<(u32, i64)>,
    /// Latest timestamp in the log: candidates and windows past it are incomplete.
    pub data_end: i64,
    /// Up to how many entries and touches a customer's messages are matched
    /// by scanning rather than through [`MessageLookup`]'s indexes (equal
    /// results either way; scanning is faster for the usual few).
    scan: (usize, usize),
}

impl Rules {
    pub fn new(config: &FlowConfig, data_end: i64) -> Rules {
        Rules {
            trigger: config.flow.trigger,
            abandon_after: config.flow.abandon_after.micros(),
            cooldown: config.flow.reentry_cooldown.micros(),
            window: config.flow.attribution_window.micros(),
            holdout_arm: config.arms.iter().position(|a| a.holdout).unwrap_or(0),
            cap: config
                .flow
                .frequency_cap
                .as_ref()
                .map(|c| (c.max_messages, c.per.micros())),
            data_end,
            scan: (SCAN_ENTRIES, SCAN_TOUCHES),
        }
    }
}

struct Candidate {
    cart: u32,
    last_activity: i64,
    value: f64,
    status: u32,
    channel: u32,
}

/// What the store knows of a customer's orders at a moment: how many
/// (distinct ids), the first and latest, and how many were discounted.
#[derive(Default)]
struct History {
    orders: u32,
    first_at: Option<i64>,
    last_at: Option<i64>,
    discounted: u32,
}

/// Walks one customer's events, given as row indices sorted by
/// (timestamp, event kind, row).
pub fn reconstruct_customer(
    t: &EventTable,
    rows: &[u32],
    customer: u32,
    rules: &Rules,
    assigner: &Assigner,
) -> CustomerFlow {
    let name = t.customers.name(customer).unwrap_or_default();
    let (bucket, arm) = assigner.assign(name);
    let mut out = CustomerFlow::default();
    let mut cand: Option<Candidate> = None;
    let mut last_entry_at: Option<i64> = None;
    let mut seen_orders: FxHashSet<u32> = FxHashSet::default();
    let mut last_status = NONE;
    let mut spend_before_first_entry = 0.0;

    // Orders so far (distinct ids) and the latest one: what the store knows
    // of the customer when a cart is abandoned. An order after the cart's
    // last activity ends the candidate, so every order counted here came
    // before the abandonment.
    let mut before = History::default();
    let finalize = |c: Candidate,
                    out: &mut CustomerFlow,
                    last_entry_at: &mut Option<i64>,
                    before: &History| {
        let entered_at = c.last_activity + rules.abandon_after;
        if last_entry_at.is_some_and(|l| entered_at - l < rules.cooldown) {
            out.audit.reentries_suppressed += 1;
            return;
        }
        *last_entry_at = Some(entered_at);
        out.entries.push(Entry {
            customer,
            ordinal: out.entries.len() as u32 + 1,
            cart: c.cart,
            arm,
            bucket,
            abandoned_at: c.last_activity,
            entered_at,
            cart_value: c.value,
            status: c.status,
            order: None,
            unsubscribed: false,
            complained: false,
            window_complete: entered_at + rules.window <= rules.data_end,
            prior_spend: 0.0,
            prior_orders: before.orders,
            last_order_at: before.last_at,
            first_order_at: before.first_at,
            prior_discounted_orders: before.discounted,
            capture_channel: c.channel,
        });
    };

    for &r in rows {
        let r = r as usize;
        let ts = t.ts[r];
        let kind = t.kind[r];
        let is_activity = kind.is_cart_activity() || kind == EventKind::OrderCompleted;
        if let Some(c) = &cand {
            let deadline = c.last_activity + rules.abandon_after;
            if ts > deadline || (ts == deadline && !is_activity) {
                let c = cand.take().expect("checked");
                finalize(c, &mut out, &mut last_entry_at, &before);
            }
        }
        if t.status[r] != NONE {
            last_status = t.status[r];
        }
        match kind {
            EventKind::CartUpdated | EventKind::CheckoutStarted => {
                let opens =
                    rules.trigger == Trigger::CartUpdated || kind == EventKind::CheckoutStarted;
                let value = t.value[r];
                match (&mut cand, opens) {
                    (Some(c), _) => {
                        c.last_activity = ts;
                        if t.cart[r] != NONE {
                            c.cart = t.cart[r];
                        }
                        if !value.is_nan() {
                            c.value = value;
                        }
                        c.status = last_status;
                        if c.channel == NONE {
                            c.channel = t.channel[r];
                        }
                    }
                    (None, true) => {
                        cand = Some(Candidate {
                            cart: t.cart[r],
                            last_activity: ts,
                            value,
                            status: last_status,
                            channel: t.channel[r],
                        })
                    }
                    (None, false) => {}
                }
            }
            EventKind::OrderCompleted => {
                cand = None;
                if !seen_orders.insert(t.order[r]) {
                    out.audit.duplicate_orders += 1;
                    continue;
                }
                before.orders += 1;
                before.last_at = Some(ts);
                before.first_at.get_or_insert(ts);
                if t.discount[r] > 0.0 || t.coupon[r] != NONE {
                    before.discounted += 1;
                }
                let value = if t.value[r].is_nan() { 0.0 } else { t.value[r] };
                if out.entries.is_empty() {
                    spend_before_first_entry += value;
                }
                match open_entry(&out.entries, ts, t.cart[r], rules.window) {
                    Some(i) => {
                        out.entries[i].order = Some(Outcome {
                            order: t.order[r],
                            at: ts,
                            value,
                            discount: if t.discount[r].is_nan() {
                                0.0
                            } else {
                                t.discount[r]
                            },
                            coupon: t.coupon[r],
                            refunded: 0.0,
                            cancelled: false,
                        })
                    }
                    None => out.audit.orders_outside_flow += 1,
                }
            }
            EventKind::OrderRefunded | EventKind::OrderCancelled => {
                let target = out
                    .entries
                    .iter_mut()
                    .find(|e| e.order.as_ref().is_some_and(|o| o.order == t.order[r]));
                let Some(entry) = target else { continue };
                if ts > entry.entered_at + rules.window {
                    out.audit.refunds_after_window += 1;
                    continue;
                }
                let o = entry.order.as_mut().expect("matched on order");
                if kind == EventKind::OrderCancelled {
                    o.cancelled = true;
                } else if !t.value[r].is_nan() {
                    // Never below zero: a refund beyond what is left is capped.
                    let left = (o.value - o.refunded).max(0.0);
                    if t.value[r] > left {
                        out.audit.refunds_capped += 1;
                    }
                    o.refunded += t.value[r].min(left);
                }
            }
            _ => attach_message(t, r, rules, &mut out),
        }
    }
    if let Some(c) = cand.take() {
        if c.last_activity + rules.abandon_after <= rules.data_end {
            finalize(c, &mut out, &mut last_entry_at, &before);
        } else {
            out.audit.candidates_pending += 1;
        }
    }
    for e in &mut out.entries {
        e.prior_spend = spend_before_first_entry;
    }
    out.audit.observe(&out.entries, &out.touches, rules, t);
    out
}

/// The entry an order at `ts` lands on: open (entered before, window not
/// over, not converted), preferring the order's cart, else the latest.
fn open_entry(entries: &[Entry], ts: i64, cart: u32, window: i64) -> Option<usize> {
    let open = |e: &Entry| e.order.is_none() && e.entered_at < ts && ts <= e.entered_at + window;
    if cart != NONE {
        if let Some(i) = entries.iter().rposition(|e| open(e) && e.cart == cart) {
            return Some(i);
        }
    }
    entries.iter().rposition(open)
}

/// Up to this many entries, a message's entry is found by scanning them.
const SCAN_ENTRIES: usize = 8;
/// Up to this many touches, an engagement's send is found by scanning them.
const SCAN_TOUCHES: usize = 16;

/// The keys a send is the latest of: (entry, step, channel), each of step
/// and channel either its own or "any".
fn send_keys(ei: usize, step: i32, channel: u32) -> [(usize, Option<i32>, Option<u32>); 4] {
    [
        (ei, Some(step), Some(channel)),
        (ei, None, Some(channel)),
        (ei, Some(step), None),
        (ei, None, None),
    ]
}

fn attach_message(t: &EventTable, r: usize, rules: &Rules, out: &mut CustomerFlow) {
    let ts = t.ts[r];
    let kind = t.kind[r];
    let cart = t.cart[r];
    let lookup = &mut out.lookup;
    let entries = &out.entries;
    let latest = || entries.iter().rposition(|e| e.entered_at <= ts);
    let entry = if cart == NONE {
        latest()
    } else if entries.len() <= rules.scan.0 {
        entries
            .iter()
            .rposition(|e| e.entered_at <= ts && e.cart == cart)
            .or_else(latest)
    } else {
        for (i, e) in entries.iter().enumerate().skip(lookup.entries_seen) {
            lookup.by_cart.entry(e.cart).or_default().push(i);
        }
        lookup.entries_seen = entries.len();
        lookup
            .by_cart
            .get(&cart)
            .and_then(|list| {
                list.iter()
                    .rev()
                    .copied()
                    .find(|&i| entries[i].entered_at <= ts)
            })
            .or_else(latest)
    };
    let Some(ei) = entry else {
        out.audit.messages_without_entry += 1;
        return;
    };
    match kind {
        EventKind::MessageSent | EventKind::MessageSuppressed => {
            let (step, channel) = (t.step[r], t.channel[r]);
            let lookup = &mut out.lookup;
            if !lookup.sends_indexed && out.touches.len() >= rules.scan.1 {
                // Past a short scan: index every earlier send, in order.
                for (i, x) in out.touches.iter().enumerate().filter(|x| !x.1.suppressed) {
                    for key in send_keys(x.entry, x.step, x.channel) {
                        lookup.latest_send.insert(key, i);
                    }
                }
                lookup.sends_indexed = true;
            }
            if kind == EventKind::MessageSent && lookup.sends_indexed {
                // Events come in time order, so this send is the latest
                // of every key it matches.
                let at = out.touches.len();
                for key in send_keys(ei, step, channel) {
                    lookup.latest_send.insert(key, at);
                }
            }
            out.touches.push(Touch {
                entry: ei,
                step,
                channel,
                suppressed: kind == EventKind::MessageSuppressed,
                sent_at: ts,
                delivered: false,
                bounced: false,
                opened_at: None,
                clicked_at: None,
            })
        }
        EventKind::Unsubscribed | EventKind::SpamComplaint => {
            let e = &mut out.entries[ei];
            if ts <= e.entered_at + rules.window {
                if kind == EventKind::Unsubscribed {
                    e.unsubscribed = true;
                } else {
                    e.complained = true;
                }
            }
        }
        _ => {
            let step = t.step[r];
            let channel = t.channel[r];
            // The latest send of this entry with the event's step and
            // channel (either may be absent: any); every earlier send was
            // at or before `ts`, as events come in time order.
            let key = (
                ei,
                (step != 0).then_some(step),
                (channel != NONE).then_some(channel),
            );
            let at = if out.lookup.sends_indexed {
                out.lookup.latest_send.get(&key).copied()
            } else {
                out.touches.iter().rposition(|x| {
                    x.entry == ei
                        && !x.suppressed
                        && key.1.is_none_or(|s| x.step == s)
                        && key.2.is_none_or(|c| x.channel == c)
                })
            };
            let touch = at.map(|i| &mut out.touches[i]);
            let Some(touch) = touch else {
                out.audit.engagement_without_send += 1;
                return;
            };
            match kind {
                EventKind::MessageDelivered => touch.delivered = true,
                EventKind::MessageBounced => touch.bounced = true,
                EventKind::MessageOpened => {
                    touch.opened_at.get_or_insert(ts);
                }
                EventKind::MessageClicked => {
                    touch.clicked_at.get_or_insert(ts);
                    touch.opened_at.get_or_insert(ts);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;

    /// One customer with many entries (a cart each, a fortnight apart) and
    /// many touches on two channels and four steps, with engagement that
    /// names its step, its channel, both or neither, and carts of earlier
    /// entries: the scanning and the indexed lookups must agree.
    #[test]
    fn scanning_and_indexed_lookups_agree() {
        let config = FlowConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/flow.toml"),
        )
        .unwrap();
        let mut events = Vec::new();
        let day = 86_400_000_000i64;
        let mut t = 1_772_409_600_000_000i64;
        let kinds = [
            EventKind::MessageDelivered,
            EventKind::MessageOpened,
            EventKind::MessageClicked,
            EventKind::MessageBounced,
        ];
        for s in 0..14 {
            let mut e = Event::new(t, EventKind::CheckoutStarted, "busy@example.com");
            e.cart_id = Some(format!("k{s}"));
            e.value = Some(40.0 + s as f64);
            events.push(e);
            for j in 0..40i64 {
                let at = t + 2 * 3_600_000_000 + j * 600_000_000;
                let kind = if j % 3 == 0 {
                    EventKind::MessageSent
                } else if j % 11 == 0 {
                    EventKind::MessageSuppressed
                } else {
                    kinds[(j % 4) as usize]
                };
                let mut e = Event::new(at, kind, "busy@example.com");
                if j % 5 != 1 {
                    e.flow_step = Some(1 + (j % 4) as i32);
                }
                if j % 7 != 2 {
                    e.channel = Some(if j % 2 == 0 { "email" } else { "sms" }.into());
                }
                if j % 6 == 4 {
                    e.cart_id = Some(format!("k{}", s / 2));
                }
                events.push(e);
            }
            if s % 4 == 3 {
                let mut o = Event::new(t + day, EventKind::OrderCompleted, "busy@example.com");
                o.order_id = Some(format!("o{s}"));
                o.value = Some(40.0);
                events.push(o);
            }
            t += 15 * day;
        }
        let table = crate::flow::table::EventTable::from_events(&events);
        let mut rows: Vec<u32> = (0..table.len() as u32).collect();
        rows.sort_by_key(|&r| (table.ts[r as usize], table.kind[r as usize] as u8, r));
        let assigner = Assigner::new(&config);
        let scan = Rules::new(&config, t);
        let indexed = Rules {
            scan: (0, 0),
            ..Rules::new(&config, t)
        };
        let walk = |rules: &Rules| {
            let f = reconstruct_customer(&table, &rows, 0, rules, &assigner);
            format!("{:?}", (&f.entries, &f.touches, &f.audit))
        };
        let a = walk(&scan);
        assert_eq!(a, walk(&indexed));
        let f = reconstruct_customer(&table, &rows, 0, &scan, &assigner);
        assert!(f.entries.len() > SCAN_ENTRIES, "{}", f.entries.len());
        assert!(f.touches.len() > SCAN_TOUCHES);
        assert!(f.touches.iter().any(|x| x.opened_at.is_some()));
    }
}
