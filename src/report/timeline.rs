//! Cumulative incremental revenue by entry date: the lift's revenue
//! comparison rerun on the entries up to the end of each day, with the
//! always-valid (sequential) band, so a reader sees when the effect became
//! distinguishable from zero without the peeking problem of fixed intervals.

use crate::config::FlowConfig;
use crate::flow::carts as c;
use crate::lift::{units, StatsTable};
use crate::stats::{self, CentralMoments, Interval};
use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;

const DAY_MICROS: i64 = 86_400_000_000;

/// The lift metric the timeline follows.
pub const METRIC: &str = "revenue_per_recipient";

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub treatment: String,
    pub metric: &'static str,
    pub alpha: f64,
    /// Units the confidence sequence is tuned for (the report's lift option).
    pub planned_units: f64,
    pub points: Vec<TimelinePoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    /// UTC entry date; the point covers every entry up to the end of it.
    pub date: String,
    /// Entries (all arms) so far.
    pub entries: u64,
    /// Treatment customers so far.
    pub recipients: u64,
    /// Holdout customers so far.
    pub holdout: u64,
    /// Difference in revenue per recipient × recipients so far.
    pub incremental_revenue: Option<f64>,
    /// The confidence sequence of that difference × recipients.
    pub sequential_ci: Option<Interval>,
    /// Why the point could not be computed (too few customers so far).
    pub error: Option<String>,
}

/// One timeline per treatment arm, one point per day with entries.
pub fn cumulative(
    carts: &DataFrame,
    config: &FlowConfig,
    alpha: f64,
    planned_units: f64,
) -> Result<Vec<Timeline>> {
    let days = entry_days(carts)?;
    let distinct: BTreeSet<i64> = days.iter().flatten().copied().collect();
    let control = config.holdout().name.clone();
    let mut lines: Vec<Timeline> = config
        .arms
        .iter()
        .filter(|a| !a.holdout)
        .map(|a| Timeline {
            treatment: a.name.clone(),
            metric: METRIC,
            alpha,
            planned_units,
            points: Vec::new(),
        })
        .collect();
    for day in distinct {
        let mask: BooleanChunked = days.iter().map(|d| d.is_some_and(|d| d <= day)).collect();
        let upto = carts.filter(&mask)?;
        let stats = units::carts_stats(&upto, config, &[], None)?;
        for line in &mut lines {
            let arms = (control.as_str(), line.treatment.as_str());
            let mut p = point(&stats, arms, alpha, planned_units);
            p.date = date_of(day);
            p.entries = upto.height() as u64;
            line.points.push(p);
        }
    }
    Ok(lines)
}

/// UTC day number of each entry (`None` where the entry time is missing).
fn entry_days(carts: &DataFrame) -> Result<Vec<Option<i64>>> {
    let col = carts.column(c::ENTERED_AT)?.cast(&DataType::Int64)?;
    Ok(col
        .i64()?
        .iter()
        .map(|t| t.map(|t| t.div_euclid(DAY_MICROS)))
        .collect())
}

fn date_of(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0).map_or_else(
        || format!("day {day}"),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

/// The revenue comparison on the units so far; `arms` is (control, treatment).
fn point(stats: &StatsTable, arms: (&str, &str), alpha: f64, planned: f64) -> TimelinePoint {
    let (vc, vt) = (revenue_of(stats, arms.0), revenue_of(stats, arms.1));
    let mut p = TimelinePoint {
        date: String::new(),
        entries: 0,
        recipients: vt.n as u64,
        holdout: vc.n as u64,
        incremental_revenue: None,
        sequential_ci: None,
        error: None,
    };
    let n = vt.n;
    // The headline method (randomization inference) at the confidence
    // sequence's level for the units so far: the same interval lift reports.
    let level = stats::sequential::tuning_rho(alpha, planned)
        .map(|rho| stats::headline::sequential_level(vc.n + vt.n, rho, alpha));
    let test = level.map(|level| stats::mean_headlines(&vc, &vt, level).0);
    match test {
        Ok(h) => match (h.estimate, h.ci) {
            (Some(e), Some(ci)) => {
                p.incremental_revenue = Some(e * n);
                p.sequential_ci = Some(Interval {
                    lower: ci.lower * n,
                    upper: ci.upper * n,
                });
            }
            _ => p.error = h.withheld,
        },
        Err(e) => p.error = Some(e.to_string()),
    }
    p
}

/// The arm's revenue per recipient sums over all units so far.
fn revenue_of(stats: &StatsTable, arm: &str) -> CentralMoments {
    match (stats.metric(METRIC), stats.segments.first()) {
        (Some(m), Some(overall)) => overall.get(arm, m).central(),
        _ => CentralMoments::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(20_514), "2026-03-02");
    }
}
