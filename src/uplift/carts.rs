//! A carts table (one row per flow entry, from `paths`) as the recipients
//! table of the learned policy: one unit per customer (their first entry,
//! whose arm is the customer's arm for good), the net contribution of that
//! entry as the outcome (`metrics`, so message cost and discount are already
//! in it), and covariates known when the cart was abandoned.

use super::{Ranker, TableOptions};
use crate::config::FlowConfig;
use crate::flow::carts as c;
use anyhow::{bail, Result};
use polars::prelude::*;

/// The outcome column of the table built here.
pub const OUTCOME: &str = "net_contribution";

/// Covariates known at entry: the cart's value, the customer's status and
/// spend before the entry, the hour (0–23, UTC) and weekday (0 = Monday)
/// the cart was abandoned, the orders the customer had placed by then, the
/// days since the latest and the first of them ([`NO_ORDER_DAYS`] when
/// none), how many of them were discounted, and the channel the cart was
/// captured on.
pub const CART_COVARIATES: [&str; 10] = [
    c::CART_VALUE,
    c::CUSTOMER_STATUS,
    c::CUSTOMER_PRIOR_SPEND,
    ABANDONED_HOUR,
    ABANDONED_WEEKDAY,
    c::PRIOR_ORDERS,
    c::DAYS_SINCE_LAST_ORDER,
    c::PRIOR_DISCOUNTED_ORDERS,
    c::DAYS_SINCE_FIRST_ORDER,
    c::CAPTURE_CHANNEL,
];

/// The covariates an earlier `paths` did not write.
const LATER_COLUMNS: [&str; 5] = [
    c::PRIOR_ORDERS,
    c::DAYS_SINCE_LAST_ORDER,
    c::PRIOR_DISCOUNTED_ORDERS,
    c::DAYS_SINCE_FIRST_ORDER,
    c::CAPTURE_CHANNEL,
];

/// Hour of abandonment, 0–23 (UTC).
pub const ABANDONED_HOUR: &str = "abandoned_hour";
/// Weekday of abandonment, 0 = Monday (UTC).
pub const ABANDONED_WEEKDAY: &str = "abandoned_weekday";

/// `days_since_last_order` of a customer with no earlier order: more days
/// than timestamps (2000–2100) can be apart, so a split
/// `days_since_last_order <= d` puts them on the side of the long lapsed,
/// as a flow branch reads a missing last order.
pub const NO_ORDER_DAYS: f64 = 100_000.0;

/// `--covariates` on a carts table: `all` (or nothing) is every one of
/// [`CART_COVARIATES`]; otherwise each name must be one of them.
pub fn cart_covariates(asked: &[String]) -> Result<Vec<String>> {
    if asked.is_empty() || asked.iter().any(|a| a == "all") {
        return Ok(CART_COVARIATES.iter().map(|s| s.to_string()).collect());
    }
    for a in asked {
        if !CART_COVARIATES.contains(&a.as_str()) {
            bail!(
                "--covariates {a}: not a covariate of the carts table; expected `all` or some of {}",
                CART_COVARIATES.join(", ")
            );
        }
    }
    Ok(asked.to_vec())
}

/// One row per customer: `arm`, [`OUTCOME`] and every covariate of
/// [`CART_COVARIATES`] the table has, from the customer's first entry in
/// table order; and how many customers were left out because that entry
/// has no cart value. A covariate in `needed` that a table written by an
/// earlier `paths` lacks is an error saying to run `paths` again.
pub fn carts_table(
    carts: &DataFrame,
    config: &FlowConfig,
    needed: &[String],
) -> Result<(DataFrame, usize)> {
    for col in [c::CUSTOMER_ID, c::ARM, c::ABANDONED_AT, c::CART_VALUE] {
        if carts.column(col).is_err() {
            bail!("the carts table has no column `{col}`; expected the output of `cartlift paths`");
        }
    }
    for col in LATER_COLUMNS {
        if carts.column(col).is_err() && needed.iter().any(|n| n == col) {
            bail!("the carts table has no column `{col}` (it was written by an earlier `cartlift paths`); run `cartlift paths` on the events again to add the entry-time covariates, or leave `{col}` out of --covariates");
        }
    }
    let with_net = crate::lift::units::with_net_contribution(carts, config)?;
    let customers = carts.column(c::CUSTOMER_ID)?.cast(&DataType::String)?;
    let customers = customers.str()?;
    let mut seen: rustc_hash::FxHashSet<&str> = Default::default();
    let first: Vec<bool> = customers
        .iter()
        .map(|v| seen.insert(v.unwrap_or("")))
        .collect();
    let value = carts.column(c::CART_VALUE)?;
    let has_value: Vec<bool> = value.is_null().iter().map(|n| n != Some(true)).collect();
    let without_value = first
        .iter()
        .zip(&has_value)
        .filter(|(f, v)| **f && !**v)
        .count();
    let keep: Vec<bool> = first
        .iter()
        .zip(&has_value)
        .map(|(f, v)| *f && *v)
        .collect();
    let keep = BooleanChunked::from_slice("keep".into(), &keep);
    let rows = with_net.filter(&keep)?;
    let f64s = |name: &str| -> Result<Vec<f64>> {
        Ok(rows
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let at: Vec<i64> = rows
        .column(c::ABANDONED_AT)?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    const HOUR_US: i64 = 3_600_000_000;
    let hour: Vec<f64> = at
        .iter()
        .map(|t| t.div_euclid(HOUR_US).rem_euclid(24) as f64)
        .collect();
    // 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
    let weekday: Vec<f64> = at
        .iter()
        .map(|t| (t.div_euclid(24 * HOUR_US) + 3).rem_euclid(7) as f64)
        .collect();
    let text = |name: &str| -> Result<Vec<String>> {
        Ok(match rows.column(name) {
            Ok(col) => col
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or("unknown").to_string())
                .collect(),
            Err(_) => vec!["unknown".to_string(); rows.height()],
        })
    };
    let prior = if rows.column(c::CUSTOMER_PRIOR_SPEND).is_ok() {
        f64s(c::CUSTOMER_PRIOR_SPEND)?
    } else {
        vec![0.0; rows.height()]
    };
    let has = |col: &str| rows.column(col).is_ok();
    // Days and counts of the customer's history: a foreign or edited table
    // with a value no store could know (negative, not a number) stops with
    // the customer named; only an empty day count means "no order".
    let ids = rows.column(c::CUSTOMER_ID)?.cast(&DataType::String)?;
    let ids = ids.str()?.clone();
    let history = |name: &str, days: bool| -> Result<Vec<f64>> {
        let col = rows.column(name)?.cast(&DataType::Float64)?;
        col.f64()?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                None if days => Ok(NO_ORDER_DAYS),
                None => Ok(0.0),
                Some(d) if d.is_finite() && d >= 0.0 => Ok(d),
                Some(d) => bail!(
                    "the carts table's `{name}` is {d} for customer `{}`; expected {}",
                    crate::output::encode::terminal(ids.get(i).unwrap_or("")),
                    if days {
                        "a number of days of at least 0, or empty when the customer had no earlier order"
                    } else {
                        "a count of orders of at least 0"
                    }
                ),
            })
            .collect()
    };
    let mut later = Vec::new();
    for col in LATER_COLUMNS.into_iter().filter(|col| has(col)) {
        let values = match col {
            c::DAYS_SINCE_LAST_ORDER | c::DAYS_SINCE_FIRST_ORDER => {
                Column::new(col.into(), history(col, true)?)
            }
            c::CAPTURE_CHANNEL => Column::new(col.into(), text(col)?),
            _ => Column::new(col.into(), history(col, false)?),
        };
        later.push(values);
    }
    let mut columns = vec![
        Column::new("arm".into(), text(c::ARM)?),
        Column::new(OUTCOME.into(), f64s(OUTCOME)?),
        Column::new(c::CART_VALUE.into(), f64s(c::CART_VALUE)?),
        Column::new(c::CUSTOMER_STATUS.into(), text(c::CUSTOMER_STATUS)?),
        Column::new(c::CUSTOMER_PRIOR_SPEND.into(), prior),
        Column::new(ABANDONED_HOUR.into(), hour),
        Column::new(ABANDONED_WEEKDAY.into(), weekday),
    ];
    columns.extend(later);
    let df = DataFrame::new_infer_height(columns)?;
    Ok((df, without_value))
}

/// The learned policy's settings on a flow's carts (what `report` uses and
/// `policy --covariates` starts from): the table built by [`carts_table`],
/// the holdout as control, the flow's arm weights as the randomization
/// probabilities, today's arm the first treatment arm, no extra cost (the
/// net contribution already carries it); 5 folds, depth 2, 32 cut points,
/// 5% of units per leaf, seed 1, T-learner ranking, outcome models of
/// the default depth (3: the net contribution is money), 95% intervals.
pub fn flow_options(config: &FlowConfig, covariates: Vec<String>) -> TableOptions {
    TableOptions {
        arm_col: "arm".into(),
        control: config.holdout().name.clone(),
        metric: OUTCOME.into(),
        cost_per_treated: 0.0,
        value_per_unit: 1.0,
        covariates,
        split_col: None,
        folds: 5,
        depth: 2,
        grid: 32,
        min_leaf_share: 0.05,
        current: config
            .arms
            .iter()
            .find(|a| !a.holdout)
            .map(|a| a.name.clone()),
        alpha: 0.05,
        seed: 1,
        ranker: Ranker::TLearner,
        model_depth: None,
        weights: Some(
            config
                .arms
                .iter()
                .map(|a| (a.name.clone(), a.weight))
                .collect(),
        ),
    }
}

/// The learned policy on a flow's carts with [`flow_options`] over every
/// covariate (for the report).
pub fn learned_policy(carts: &DataFrame, config: &FlowConfig) -> Result<super::UpliftReport> {
    crate::policy::check_message_costs(config)?;
    let all: Vec<String> = CART_COVARIATES.iter().map(|s| s.to_string()).collect();
    let (table, _) = carts_table(carts, config, &all)?;
    // A text covariate with more values than a split can list (e.g. a
    // store's hundred capture channels) is left out, not the whole policy.
    let mut covariates = Vec::new();
    for name in all {
        let col = table.column(&name)?;
        if col.dtype() == &DataType::String {
            let n = col.n_unique()?;
            if n > super::features::MAX_CATEGORIES {
                eprintln!(
                    "warning: learned policy: covariate `{name}` left out: {n} distinct values (at most {})",
                    super::features::MAX_CATEGORIES
                );
                continue;
            }
        }
        covariates.push(name);
    }
    super::run_table(&table, "the carts", &flow_options(config, covariates))
}
