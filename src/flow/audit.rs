//! The flow audit: the sending system's bugs, found from its own log, and
//! the bookkeeping of everything reconstruction set aside.

use super::reconstruct::{Entry, Rules, Touch};
use super::table::EventTable;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many example entry ids each finding keeps.
pub const EXAMPLES: usize = 5;

/// Findings about one customer; merged across customers in id order.
#[derive(Debug, Default, Clone)]
pub struct CustomerAudit {
    pub sends_after_purchase: u64,
    pub sends_to_holdout: u64,
    pub reentries_inside_cooldown: u64,
    pub frequency_cap_violations: u64,
    pub out_of_order_steps: u64,
    /// (finding, entry ordinal) for examples.
    pub examples: Vec<(&'static str, u32)>,
    pub reentries_suppressed: u64,
    pub duplicate_orders: u64,
    pub orders_outside_flow: u64,
    pub refunds_after_window: u64,
    pub refunds_capped: u64,
    pub messages_without_entry: u64,
    pub engagement_without_send: u64,
    pub candidates_pending: u64,
}

impl CustomerAudit {
    pub fn observe(
        &mut self,
        entries: &[Entry],
        touches: &[Touch],
        rules: &Rules,
        _t: &EventTable,
    ) {
        let sent: Vec<&Touch> = touches.iter().filter(|x| !x.suppressed).collect();
        for x in &sent {
            let e = &entries[x.entry];
            if e.order.as_ref().is_some_and(|o| x.sent_at > o.at) {
                self.sends_after_purchase += 1;
                self.examples.push(("sends_after_purchase", e.ordinal));
            }
            if e.arm == rules.holdout_arm {
                self.sends_to_holdout += 1;
                self.examples.push(("sends_to_holdout", e.ordinal));
            }
        }
        self.check_reentries(entries, &sent, rules);
        self.check_frequency(entries, &sent, rules);
        self.check_order(entries, &sent);
    }

    /// The flow started again (its first step sent again) inside the cooldown.
    fn check_reentries(&mut self, entries: &[Entry], sent: &[&Touch], rules: &Rules) {
        let Some(first_step) = sent.iter().map(|x| x.step).filter(|&s| s > 0).min() else {
            return;
        };
        let mut starts: Vec<&&Touch> = sent.iter().filter(|x| x.step == first_step).collect();
        starts.sort_by_key(|x| x.sent_at);
        for w in starts.windows(2) {
            if w[1].sent_at - w[0].sent_at < rules.cooldown {
                self.reentries_inside_cooldown += 1;
                self.examples
                    .push(("reentries_inside_cooldown", entries[w[1].entry].ordinal));
            }
        }
    }

    /// A send that makes more than `max_messages` within any `per` span.
    fn check_frequency(&mut self, entries: &[Entry], sent: &[&Touch], rules: &Rules) {
        let Some((max, per)) = rules.cap else { return };
        let mut times: Vec<(i64, usize)> = sent.iter().map(|x| (x.sent_at, x.entry)).collect();
        times.sort_unstable();
        let mut lo = 0;
        for hi in 0..times.len() {
            while times[hi].0 - times[lo].0 >= per {
                lo += 1;
            }
            if (hi - lo + 1) as u32 > max {
                self.frequency_cap_violations += 1;
                self.examples
                    .push(("frequency_cap_violations", entries[times[hi].1].ordinal));
            }
        }
    }

    /// Entries whose sends, in time order, go back to an earlier step.
    /// Sends are grouped by entry in one pass (linear in the sends however
    /// many entries the customer has).
    fn check_order(&mut self, entries: &[Entry], sent: &[&Touch]) {
        let mut by_entry: Vec<Vec<(i64, i32)>> = vec![Vec::new(); entries.len()];
        for x in sent.iter().filter(|x| x.step > 0) {
            by_entry[x.entry].push((x.sent_at, x.step));
        }
        for (e, mut steps) in entries.iter().zip(by_entry) {
            steps.sort_unstable();
            if steps.windows(2).any(|w| w[1].1 < w[0].1) {
                self.out_of_order_steps += 1;
                self.examples.push(("out_of_order_steps", e.ordinal));
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Finding {
    pub count: u64,
    pub examples: Vec<String>,
}

/// The audit as reported (`--audit AUDIT.json`).
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Audit {
    pub entries: u64,
    pub touches: u64,
    pub findings: BTreeMap<&'static str, Finding>,
    pub reentries_suppressed: u64,
    pub duplicate_orders: u64,
    pub orders_outside_flow: u64,
    pub refunds_after_window: u64,
    /// Refunds cut down so that an order's revenue never goes below zero.
    pub refunds_capped: u64,
    pub messages_without_entry: u64,
    pub engagement_without_send: u64,
    pub candidates_pending: u64,
    pub skipped_rows: u64,
}

pub const FINDINGS: [&str; 5] = [
    "sends_after_purchase",
    "sends_to_holdout",
    "reentries_inside_cooldown",
    "frequency_cap_violations",
    "out_of_order_steps",
];

impl Audit {
    pub fn new() -> Audit {
        let mut a = Audit::default();
        for f in FINDINGS {
            a.findings.insert(f, Finding::default());
        }
        a
    }

    /// Adds the audit of the customers that come next in id order (its
    /// examples after this one's, up to [`EXAMPLES`] per finding).
    pub fn merge(&mut self, o: &Audit) {
        self.entries += o.entries;
        self.touches += o.touches;
        for (name, f) in &o.findings {
            let mine = self.findings.entry(name).or_default();
            mine.count += f.count;
            for id in &f.examples {
                if mine.examples.len() < EXAMPLES && !mine.examples.contains(id) {
                    mine.examples.push(id.clone());
                }
            }
        }
        self.reentries_suppressed += o.reentries_suppressed;
        self.duplicate_orders += o.duplicate_orders;
        self.orders_outside_flow += o.orders_outside_flow;
        self.refunds_after_window += o.refunds_after_window;
        self.refunds_capped += o.refunds_capped;
        self.messages_without_entry += o.messages_without_entry;
        self.engagement_without_send += o.engagement_without_send;
        self.candidates_pending += o.candidates_pending;
        self.skipped_rows += o.skipped_rows;
    }

    /// Adds one customer's findings; `entry_id` names an entry by ordinal.
    pub fn add(&mut self, c: &CustomerAudit, entry_id: impl Fn(u32) -> String) {
        let counts = [
            c.sends_after_purchase,
            c.sends_to_holdout,
            c.reentries_inside_cooldown,
            c.frequency_cap_violations,
            c.out_of_order_steps,
        ];
        for (name, n) in FINDINGS.iter().zip(counts) {
            self.findings.entry(name).or_default().count += n;
        }
        for (name, ordinal) in &c.examples {
            let f = self.findings.entry(name).or_default();
            let id = entry_id(*ordinal);
            if f.examples.len() < EXAMPLES && !f.examples.contains(&id) {
                f.examples.push(id);
            }
        }
        self.reentries_suppressed += c.reentries_suppressed;
        self.duplicate_orders += c.duplicate_orders;
        self.orders_outside_flow += c.orders_outside_flow;
        self.refunds_after_window += c.refunds_after_window;
        self.refunds_capped += c.refunds_capped;
        self.messages_without_entry += c.messages_without_entry;
        self.engagement_without_send += c.engagement_without_send;
        self.candidates_pending += c.candidates_pending;
    }
}
