//! Per flow step: the message funnel (sent, opened, clicked, converted, and
//! the holdout's suppressed messages beside), and the unsubscribe and
//! complaint rates per message against the guardrail thresholds.

use crate::config::FlowConfig;
use crate::flow::table::EventTable;
use crate::flow::{carts as c, touches as t};
use crate::schema::EventKind;
use crate::stats::{self, Interval, Proportion};
use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One arm × step of the funnel, counted in messages.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StepFunnel {
    pub arm: String,
    pub holdout: bool,
    /// `None` for messages that carry no step.
    pub step: Option<i32>,
    pub sent: u64,
    pub opened: u64,
    pub clicked: u64,
    /// Sent messages whose entry converted afterwards (order at or after the send).
    pub converted_after_send: u64,
    /// Messages the sending system logged as suppressed (the holdout's, and
    /// any held back by the frequency cap).
    pub suppressed: u64,
    /// Suppressed messages whose entry converted afterwards anyway.
    pub converted_after_suppressed: u64,
}

/// The funnel of every arm and step, arms in config order, steps ascending.
pub fn step_funnel(
    carts: &DataFrame,
    touches: &DataFrame,
    config: &FlowConfig,
) -> Result<Vec<StepFunnel>> {
    let converted = converted_entries(carts)?;
    let entry = touches.column(t::ENTRY_ID)?.str()?;
    let arm = touches.column(t::ARM)?.str()?;
    let step = touches.column(t::STEP)?.cast(&DataType::Int32)?;
    let step = step.i32()?;
    let status = touches.column(t::STATUS)?.str()?;
    let opened = touches.column(t::OPENED)?.bool()?;
    let clicked = touches.column(t::CLICKED)?.bool()?;
    let after = touches.column(t::AFTER_PURCHASE)?.bool()?;
    let mut rows: BTreeMap<(usize, Option<i32>), StepFunnel> = BTreeMap::new();
    for i in 0..touches.height() {
        let Some(a) = arm.get(i).and_then(|a| arm_index(config, a)) else {
            continue;
        };
        let row = rows.entry((a, step.get(i))).or_insert_with(|| StepFunnel {
            arm: config.arms[a].name.clone(),
            holdout: config.arms[a].holdout,
            step: step.get(i),
            ..StepFunnel::default()
        });
        let converted_later =
            entry.get(i).is_some_and(|e| converted.contains(e)) && !after.get(i).unwrap_or(false);
        if status.get(i) == Some("suppressed") {
            row.suppressed += 1;
            row.converted_after_suppressed += converted_later as u64;
        } else {
            row.sent += 1;
            row.opened += opened.get(i).unwrap_or(false) as u64;
            row.clicked += clicked.get(i).unwrap_or(false) as u64;
            row.converted_after_send += converted_later as u64;
        }
    }
    Ok(rows.into_values().collect())
}

fn arm_index(config: &FlowConfig, name: &str) -> Option<usize> {
    config.arms.iter().position(|a| a.name == name)
}

/// Entry ids that converted.
fn converted_entries(carts: &DataFrame) -> Result<HashSet<&str>> {
    let ids = carts.column(c::ENTRY_ID)?.str()?;
    let converted = carts.column(c::CONVERTED)?.bool()?;
    Ok((0..carts.height())
        .filter(|&i| converted.get(i).unwrap_or(false))
        .filter_map(|i| ids.get(i))
        .collect())
}

/// Unsubscribes and complaints per message sent at one step of one arm.
#[derive(Debug, Clone, Serialize)]
pub struct StepGuardrail {
    pub arm: String,
    pub step: Option<i32>,
    pub messages: u64,
    pub unsubscribes: u64,
    pub complaints: u64,
    pub unsubscribe: Option<RateCheck>,
    pub complaint: Option<RateCheck>,
}

/// A rate per message against its threshold, with its Wilson interval.
#[derive(Debug, Clone, Serialize)]
pub struct RateCheck {
    pub rate_per_message: f64,
    pub ci: Option<Interval>,
    pub threshold: f64,
    pub breached: bool,
}

/// Per treatment step: `unsubscribed` and `spam_complaint` events carrying
/// that step, from customers with an entry in the arm, per message sent.
pub fn step_guardrails(
    events: &EventTable,
    carts: &DataFrame,
    funnel: &[StepFunnel],
    config: &FlowConfig,
    alpha: f64,
) -> Result<Vec<StepGuardrail>> {
    let arm_of = customer_arms(carts)?;
    let mut counts: HashMap<(&str, Option<i32>), (u64, u64)> = HashMap::new();
    for r in 0..events.len() {
        let kind = events.kind[r];
        if !matches!(kind, EventKind::Unsubscribed | EventKind::SpamComplaint) {
            continue;
        }
        let customer = events
            .customers
            .name(events.customer[r])
            .unwrap_or_default();
        let Some(&arm) = arm_of.get(customer) else {
            continue;
        };
        let step = (events.step[r] > 0).then_some(events.step[r]);
        let slot = counts.entry((arm, step)).or_default();
        match kind {
            EventKind::Unsubscribed => slot.0 += 1,
            _ => slot.1 += 1,
        }
    }
    let limits = &config.guardrails;
    Ok(funnel
        .iter()
        .filter(|f| !f.holdout)
        .map(|f| {
            let (unsubscribes, complaints) = counts
                .get(&(f.arm.as_str(), f.step))
                .copied()
                .unwrap_or((0, 0));
            StepGuardrail {
                arm: f.arm.clone(),
                step: f.step,
                messages: f.sent,
                unsubscribes,
                complaints,
                unsubscribe: check(unsubscribes, f.sent, limits.max_unsubscribe_rate, alpha),
                complaint: check(complaints, f.sent, limits.max_complaint_rate, alpha),
            }
        })
        .collect())
}

fn check(events: u64, messages: u64, threshold: f64, alpha: f64) -> Option<RateCheck> {
    if messages == 0 {
        return None;
    }
    let rate = events as f64 / messages as f64;
    let stat = Proportion {
        n: messages as f64,
        successes: events as f64,
    };
    Some(RateCheck {
        rate_per_message: rate,
        ci: stats::wilson_interval(&stat, alpha).ok(),
        threshold,
        breached: rate > threshold,
    })
}

/// Each customer's arm (fixed at entry from the bucket hash, so one per customer).
fn customer_arms(carts: &DataFrame) -> Result<HashMap<&str, &str>> {
    let ids = carts.column(c::CUSTOMER_ID)?.str()?;
    let arms = carts.column(c::ARM)?.str()?;
    Ok(ids
        .iter()
        .zip(arms.iter())
        .filter_map(|(id, arm)| Some((id?, arm?)))
        .collect())
}
