//! The DataFrame world reduced to randomization units: one row per customer
//! (per segment value), with the metric values the statistics need.
//!
//! Carts mode: entries are grouped by customer with Polars; every money
//! metric comes from `metrics` so there is one definition of each. Table
//! mode: an exported recipients table already has one row per unit.

use crate::config::FlowConfig;
use crate::flow::carts as c;
use crate::metrics::net_contribution;
use anyhow::{bail, Result};
use polars::prelude::*;

/// How a metric is summarized per arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Per-unit values; Welch on means.
    Mean,
    /// Per-unit 0/1 outcomes; Newcombe interval alongside Welch.
    Proportion,
    /// Σ numerator / Σ denominator over units; delta method.
    Ratio,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub values: Vec<f64>,
    /// Denominators for ratio metrics.
    pub denominators: Option<Vec<f64>>,
    /// Guardrail: the threshold on the treatment's rate per message, and
    /// each unit's messages sent (the rate's denominator).
    pub guardrail: Option<(f64, Vec<f64>)>,
}

/// One row per unit (per segment value when segmented).
#[derive(Debug, Clone)]
pub struct Units {
    pub arm: Vec<String>,
    pub metrics: Vec<Metric>,
    /// Pre-period covariate for CUPED, when one exists.
    pub covariate: Option<Vec<f64>>,
}

impl Units {
    pub fn len(&self) -> usize {
        self.arm.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arm.is_empty()
    }

    /// The units at these row positions.
    pub fn subset(&self, rows: &[usize]) -> Units {
        let pick = |v: &Vec<f64>| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        Units {
            arm: rows.iter().map(|&i| self.arm[i].clone()).collect(),
            metrics: self
                .metrics
                .iter()
                .map(|m| Metric {
                    name: m.name.clone(),
                    kind: m.kind,
                    values: pick(&m.values),
                    denominators: m.denominators.as_ref().map(pick),
                    guardrail: m.guardrail.as_ref().map(|(t, d)| (*t, pick(d))),
                })
                .collect(),
            covariate: self.covariate.as_ref().map(pick),
        }
    }
}

/// Adds the per-entry net contribution (one definition: `metrics`).
pub fn with_net_contribution(carts: &DataFrame, config: &FlowConfig) -> Result<DataFrame> {
    let revenue = carts.column(c::REVENUE)?.f64()?;
    let discount = carts.column(c::DISCOUNT)?.f64()?;
    let converted = carts.column(c::CONVERTED)?.bool()?;
    let cancelled = carts.column(c::CANCELLED)?.bool()?;
    let cost = carts.column(c::MESSAGE_COST)?.f64()?;
    let values: Vec<f64> = (0..carts.height())
        .map(|i| {
            net_contribution(
                &config.margin,
                revenue.get(i).unwrap_or(0.0),
                discount.get(i).unwrap_or(0.0),
                converted.get(i).unwrap_or(false) && !cancelled.get(i).unwrap_or(false),
                cost.get(i).unwrap_or(0.0),
            )
        })
        .collect();
    let mut df = carts.clone();
    df.with_column(Column::new("net_contribution".into(), values))?;
    Ok(df)
}

/// Customers as units, within each value of `segment` (or overall when `None`).
/// Returns the segment value of each unit alongside.
pub fn customer_units(
    carts: &DataFrame,
    config: &FlowConfig,
    segment: Option<&str>,
) -> Result<(Units, Vec<String>)> {
    for required in [c::CUSTOMER_ID, c::ARM, c::CONVERTED, c::REVENUE] {
        if carts.column(required).is_err() {
            bail!("the carts table has no column `{required}`; expected the output of `cartlift paths`");
        }
    }
    if let Some(seg) = segment {
        if carts.column(seg).is_err() {
            bail!(
                "--segment-by {seg}: the carts table has no such column; expected one of {}",
                carts
                    .get_column_names()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let df = with_net_contribution(carts, config)?;
    let seg_expr = match segment {
        Some(s) => col(s)
            .cast(DataType::String)
            .fill_null(lit("unknown"))
            .alias("segment"),
        None => lit("all").alias("segment"),
    };
    let grouped = df
        .lazy()
        .with_column(seg_expr)
        .group_by([col(c::CUSTOMER_ID), col(c::ARM), col("segment")])
        .agg([
            len().cast(DataType::Float64).alias("entries"),
            col(c::CONVERTED)
                .cast(DataType::Float64)
                .sum()
                .alias("conversions"),
            col(c::REVENUE).sum().alias("revenue"),
            col("net_contribution").sum().alias("net_contribution"),
            col(c::UNSUBSCRIBED)
                .cast(DataType::Float64)
                .max()
                .alias("unsubscribed"),
            col(c::COMPLAINED)
                .cast(DataType::Float64)
                .max()
                .alias("complained"),
            col(c::MESSAGES_SENT)
                .cast(DataType::Float64)
                .sum()
                .alias("messages"),
            col(c::CUSTOMER_PRIOR_SPEND).first().alias("prior_spend"),
        ])
        .sort(
            ["segment", c::CUSTOMER_ID],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(|e| anyhow::anyhow!("grouping entries by customer: {e}"))?;
    let f = |name: &str| -> Result<Vec<f64>> {
        Ok(grouped
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let s = |name: &str| -> Result<Vec<String>> {
        Ok(grouped
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let entries = f("entries")?;
    let conversions = f("conversions")?;
    let g = &config.guardrails;
    let messages = f("messages")?;
    let metrics = vec![
        Metric {
            name: "conversion_rate".into(),
            kind: MetricKind::Ratio,
            values: conversions.clone(),
            denominators: Some(entries),
            guardrail: None,
        },
        Metric {
            name: "revenue_per_recipient".into(),
            kind: MetricKind::Mean,
            values: f("revenue")?,
            denominators: None,
            guardrail: None,
        },
        Metric {
            name: "net_contribution_per_recipient".into(),
            kind: MetricKind::Mean,
            values: f("net_contribution")?,
            denominators: None,
            guardrail: None,
        },
        Metric {
            name: "orders_per_recipient".into(),
            kind: MetricKind::Mean,
            values: conversions,
            denominators: None,
            guardrail: None,
        },
        Metric {
            name: "unsubscribe_rate".into(),
            kind: MetricKind::Proportion,
            values: f("unsubscribed")?,
            denominators: None,
            guardrail: Some((g.max_unsubscribe_rate, messages.clone())),
        },
        Metric {
            name: "complaint_rate".into(),
            kind: MetricKind::Proportion,
            values: f("complained")?,
            denominators: None,
            guardrail: Some((g.max_complaint_rate, messages)),
        },
    ];
    let units = Units {
        arm: s(c::ARM)?,
        metrics,
        covariate: Some(f("prior_spend")?),
    };
    Ok((units, s("segment")?))
}

/// Table mode: one row per randomized unit with outcome columns.
pub fn table_units(
    df: &DataFrame,
    arm_col: &str,
    metric_cols: &[String],
    covariate: Option<&str>,
    source: &str,
) -> Result<Units> {
    let arm = df
        .column(arm_col)
        .map_err(|_| anyhow::anyhow!("{source}: no arm column `{arm_col}`"))?
        .cast(&DataType::String)?;
    let arm: Vec<String> = arm
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let mut metrics = Vec::new();
    for name in metric_cols {
        let values = numeric_column(df, name, source)?;
        let binary = values.iter().all(|v| *v == 0.0 || *v == 1.0);
        metrics.push(Metric {
            name: name.clone(),
            kind: if binary {
                MetricKind::Proportion
            } else {
                MetricKind::Mean
            },
            values,
            denominators: None,
            guardrail: None,
        });
    }
    let covariate = covariate
        .map(|c| numeric_column(df, c, source))
        .transpose()?;
    Ok(Units {
        arm,
        metrics,
        covariate,
    })
}

/// A column as numbers; a non-numeric cell is an error naming line and value.
pub fn numeric_column(df: &DataFrame, name: &str, source: &str) -> Result<Vec<f64>> {
    let column = df.column(name).map_err(|_| {
        anyhow::anyhow!(
            "{source}: no column `{name}`; the columns are [{}]",
            df.get_column_names()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let text = column.cast(&DataType::String)?;
    let text = text.str()?;
    let mut out = Vec::with_capacity(df.height());
    for (i, v) in text.iter().enumerate() {
        let Some(v) = v else {
            bail!(
                "{source}: line {}: column `{name}` is empty; expected a number",
                i + 2
            );
        };
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => out.push(x),
            _ => bail!(
                "{source}: line {}: column `{name}` has {v:?}; expected a number (metrics must be numeric)",
                i + 2
            ),
        }
    }
    Ok(out)
}
