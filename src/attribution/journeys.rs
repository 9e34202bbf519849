//! Journeys from the flow's own tables: per treatment entry, the ordered
//! touches that count under an interaction rule and lookback window, ending
//! in the entry's order (or not).
//!
//! This is the one attribution file that reads DataFrames; the models never do.

use super::{ChannelInterner, Path, PathSet};
use crate::duration::Span;
use crate::flow::{carts as c, touches as t};
use anyhow::Result;
use polars::prelude::*;
use std::collections::HashMap;

/// Which interaction with a message makes it a touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    /// Every message sent.
    Send,
    /// Opened messages (a click implies an open).
    Open,
    /// Clicked messages.
    Click,
}

/// What a step's touches are named by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Step,
    Channel,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JourneyRule {
    pub interaction: Interaction,
    /// A touch counts for an order only within this span before it.
    pub lookback: Option<Span>,
    pub by: By,
}

impl JourneyRule {
    /// What an email platform's dashboard counts: an open or click within
    /// five days before the order.
    pub fn platform_default() -> JourneyRule {
        JourneyRule {
            interaction: Interaction::Open,
            lookback: Some(Span::from_days(5)),
            by: By::Step,
        }
    }
}

/// Journeys of every entry in `arm` with at least one qualifying touch.
pub fn journeys(
    carts: &DataFrame,
    touches: &DataFrame,
    arm: &str,
    rule: &JourneyRule,
) -> Result<PathSet> {
    let micros = |df: &DataFrame, name: &str| -> Result<Vec<Option<i64>>> {
        let col = df.column(name)?.cast(&DataType::Int64)?;
        Ok(col.i64()?.iter().collect())
    };
    // Outcome of each entry.
    let entry = carts.column(c::ENTRY_ID)?.str()?;
    let arms = carts.column(c::ARM)?.str()?;
    let converted = carts.column(c::CONVERTED)?.bool()?;
    let revenue = carts.column(c::REVENUE)?.f64()?;
    let order_at = micros(carts, c::ORDER_AT)?;
    let entered_at = micros(carts, c::ENTERED_AT)?;
    let mut outcome: HashMap<&str, (bool, f64, Option<i64>, i64)> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for i in 0..carts.height() {
        if arms.get(i) != Some(arm) {
            continue;
        }
        let id = entry.get(i).unwrap_or_default();
        outcome.insert(
            id,
            (
                converted.get(i).unwrap_or(false),
                revenue.get(i).unwrap_or(0.0),
                order_at[i],
                entered_at[i].unwrap_or(0),
            ),
        );
        order.push(id);
    }
    // Touches of each entry, in send order.
    let t_entry = touches.column(t::ENTRY_ID)?.str()?;
    let status = touches.column(t::STATUS)?.str()?;
    let step = touches.column(t::STEP)?.cast(&DataType::Int32)?;
    let step = step.i32()?;
    let channel = touches.column(t::CHANNEL)?.str()?;
    let sent_at = micros(touches, t::SENT_AT)?;
    let opened_at = micros(touches, t::OPENED_AT)?;
    let clicked_at = micros(touches, t::CLICKED_AT)?;
    let mut interner = ChannelInterner::default();
    let mut by_entry: HashMap<&str, Vec<(i64, u32)>> = HashMap::new();
    for i in 0..touches.height() {
        let Some(id) = t_entry.get(i) else { continue };
        if status.get(i) != Some("sent") || !outcome.contains_key(id) {
            continue;
        }
        let when = match rule.interaction {
            Interaction::Send => sent_at[i],
            Interaction::Open => opened_at[i].or(clicked_at[i]),
            Interaction::Click => clicked_at[i],
        };
        let Some(when) = when else { continue };
        let name = match rule.by {
            By::Step => step
                .get(i)
                .map_or("step ?".to_string(), |s| format!("step {s}")),
            By::Channel => channel.get(i).unwrap_or("unknown").to_string(),
        };
        by_entry
            .entry(id)
            .or_default()
            .push((when, interner.intern(&name)));
    }
    let lookback = rule.lookback.map(|s| s.micros());
    let mut paths = Vec::new();
    for id in order {
        let Some(list) = by_entry.get_mut(id) else {
            continue;
        };
        list.sort_unstable();
        let (conv, value, order_time, entered) = outcome[id];
        let end = if conv {
            order_time.unwrap_or(entered)
        } else {
            list.last().map_or(entered, |x| x.0)
        };
        let kept: Vec<(i64, u32)> = list
            .iter()
            .copied()
            .filter(|(when, _)| {
                !conv || (*when <= end && lookback.is_none_or(|l| end - *when <= l))
            })
            .collect();
        if kept.is_empty() {
            continue;
        }
        let mut p = Path::new(
            kept.iter().map(|x| x.1).collect(),
            conv as u8 as f64,
            if conv { value.max(0.0) } else { 0.0 },
            (!conv) as u8 as f64,
        );
        p.touch_ages = Some(
            kept.iter()
                .map(|x| ((end - x.0) as f64 / 1e6).max(0.0))
                .collect(),
        );
        paths.push(p);
    }
    Ok(PathSet {
        channels: interner.into_names(),
        paths,
    })
}
