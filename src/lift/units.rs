//! The DataFrame world reduced to randomization units and, in the same pass,
//! to the sufficient-statistics table (`sufficient`).
//!
//! Carts mode: entries are grouped by customer (one counting sort, no
//! DataFrame group-by per dimension); every money metric comes from
//! `metrics` so there is one definition of each. Table mode: an exported
//! recipients table already has one row per unit.

use super::sufficient::{reduce, MetricSpec, StatsTable, Unit};
use super::{Cap, Segment};
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

/// One outcome column of an exported recipients table.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub values: Vec<f64>,
}

/// Table mode: one row per randomized unit.
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
}

/// Table mode reduced: each row is a unit overall and in its value of each
/// segment dimension (`dims`: name and the value of every row). Arms are
/// the distinct values, sorted.
pub fn table_stats(
    units: &Units,
    dims: &[(String, Vec<String>)],
    cap: Option<Cap>,
) -> (StatsTable, Vec<String>) {
    let mut arms: Vec<String> = units.arm.clone();
    arms.sort();
    arms.dedup();
    let arm_of: Vec<usize> = units
        .arm
        .iter()
        .map(|a| arms.binary_search(a).expect("arm listed"))
        .collect();
    let mut segments = vec![Segment {
        dimension: "all".into(),
        value: "all".into(),
    }];
    let mut segment_of: Vec<Vec<usize>> = Vec::new();
    for (dim, values) in dims {
        let mut distinct: Vec<&String> = values.iter().collect();
        distinct.sort();
        distinct.dedup();
        let base = segments.len();
        segments.extend(distinct.iter().map(|v| Segment {
            dimension: dim.clone(),
            value: (*v).clone(),
        }));
        segment_of.push(
            values
                .iter()
                .map(|v| base + distinct.binary_search(&v).expect("value listed"))
                .collect(),
        );
    }
    let has_cov = units.covariate.is_some();
    let specs = units
        .metrics
        .iter()
        .map(|m| MetricSpec {
            name: m.name.clone(),
            kind: m.kind,
            covariate: has_cov && m.kind == MetricKind::Mean,
            guardrail: None,
        })
        .collect();
    let chunks = CHUNKS.min(units.len()).max(1);
    let visit = |c: usize, emit: &mut dyn FnMut(usize, usize, &Unit)| {
        let mut values = vec![0.0; units.metrics.len()];
        for i in chunk_range(units.len(), chunks, c) {
            for (v, m) in values.iter_mut().zip(&units.metrics) {
                *v = m.values[i];
            }
            let unit = Unit {
                values: &values,
                den: 0.0,
                cov: units.covariate.as_ref().map_or(0.0, |c| c[i]),
                messages: 0.0,
            };
            emit(0, arm_of[i], &unit);
            for seg in &segment_of {
                emit(seg[i], arm_of[i], &unit);
            }
        }
    };
    let table = reduce(specs, segments, &arms, cap, chunks, visit);
    (table, arms)
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

/// The carts-mode metrics, in report order.
pub const CARTS_METRICS: [&str; 6] = [
    "conversion_rate",
    "revenue_per_recipient",
    "net_contribution_per_recipient",
    "orders_per_recipient",
    "unsubscribe_rate",
    "complaint_rate",
];

/// The carts-mode metric definitions (guardrail thresholds from the config).
pub fn carts_metrics(config: &FlowConfig) -> Vec<MetricSpec> {
    let g = &config.guardrails;
    let spec = |name: &str, kind, guardrail| MetricSpec {
        name: name.to_string(),
        kind,
        covariate: kind == MetricKind::Mean,
        guardrail,
    };
    vec![
        spec(CARTS_METRICS[0], MetricKind::Ratio, None),
        spec(CARTS_METRICS[1], MetricKind::Mean, None),
        spec(CARTS_METRICS[2], MetricKind::Mean, None),
        spec(CARTS_METRICS[3], MetricKind::Mean, None),
        spec(
            CARTS_METRICS[4],
            MetricKind::Proportion,
            Some(g.max_unsubscribe_rate),
        ),
        spec(
            CARTS_METRICS[5],
            MetricKind::Proportion,
            Some(g.max_complaint_rate),
        ),
    ]
}

/// A guardrail metric's threshold by name.
pub fn carts_guardrail(config: &FlowConfig, name: &str) -> Option<f64> {
    carts_metrics(config)
        .into_iter()
        .find(|m| m.name == name)
        .and_then(|m| m.guardrail)
}

/// The carts columns lift reads (besides the segment columns).
pub const REQUIRED_COLUMNS: [&str; 11] = [
    c::CUSTOMER_ID,
    c::ARM,
    c::CONVERTED,
    c::REVENUE,
    c::DISCOUNT,
    c::CANCELLED,
    c::MESSAGE_COST,
    c::UNSUBSCRIBED,
    c::COMPLAINED,
    c::MESSAGES_SENT,
    c::CUSTOMER_PRIOR_SPEND,
];

/// One unit's running sums over its entries.
#[derive(Clone, Copy)]
struct Acc {
    arm: u32,
    segment: u32,
    entries: f64,
    conversions: f64,
    revenue: f64,
    net: f64,
    unsubscribed: f64,
    complained: f64,
    messages: f64,
    prior: f64,
}

/// Carts mode in one pass: each customer is a unit, overall and within each
/// value of each `segment_by` column (a customer with carts in two bands is a
/// unit in each). Per unit: entries, converted entries, revenue and net
/// contribution summed, unsubscribed/complained as 0/1, messages sent, and
/// the pre-period spend as CUPED covariate. Every money metric comes from
/// `metrics`, so there is one definition of each.
pub fn carts_stats(
    carts: &DataFrame,
    config: &FlowConfig,
    segment_by: &[String],
    cap: Option<Cap>,
) -> Result<StatsTable> {
    for required in REQUIRED_COLUMNS {
        if carts.column(required).is_err() {
            bail!("the carts table has no column `{required}`; expected the output of `cartlift paths`");
        }
    }
    let names = || {
        carts
            .get_column_names()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for seg in segment_by {
        if carts.column(seg).is_err() {
            bail!(
                "--segment-by {seg}: the carts table has no such column; expected one of {}",
                names()
            );
        }
    }
    let f64s = |name: &str| -> Result<Vec<f64>> {
        Ok(carts
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let bools = |name: &str| -> Result<Vec<bool>> {
        Ok(carts
            .column(name)?
            .cast(&DataType::Boolean)?
            .bool()?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect())
    };
    let height = carts.height();
    let revenue = f64s(c::REVENUE)?;
    let discount = f64s(c::DISCOUNT)?;
    let cost = f64s(c::MESSAGE_COST)?;
    let messages = f64s(c::MESSAGES_SENT)?;
    let prior = f64s(c::CUSTOMER_PRIOR_SPEND)?;
    let converted = bools(c::CONVERTED)?;
    let cancelled = bools(c::CANCELLED)?;
    let unsubscribed = bools(c::UNSUBSCRIBED)?;
    let complained = bools(c::COMPLAINED)?;

    // Entries grouped by customer, keeping their order. The carts table from
    // `paths` is sorted by customer, so each customer is one run of rows;
    // otherwise customers are numbered in order of first appearance and the
    // rows grouped with a counting sort.
    let customer_col = carts.column(c::CUSTOMER_ID)?.cast(&DataType::String)?;
    let customer_col = customer_col.str()?;
    let (order, start) = group_rows(customer_col);
    let n_customers = start.len() - 1;

    // Arms: the configured ones, then any the data has that the config lacks
    // (analysis rejects those with a message naming them).
    let mut arms: Vec<String> = config.arms.iter().map(|a| a.name.clone()).collect();
    let arm_col = carts.column(c::ARM)?.cast(&DataType::String)?;
    let arm_of: Vec<u32> = arm_col
        .str()?
        .iter()
        .map(|a| {
            let a = a.unwrap_or("");
            match arms.iter().position(|x| x == a) {
                Some(i) => i as u32,
                None => {
                    arms.push(a.to_string());
                    (arms.len() - 1) as u32
                }
            }
        })
        .collect();

    // Segments: the overall one, then each dimension's values sorted.
    let mut segments = vec![Segment {
        dimension: "all".into(),
        value: "all".into(),
    }];
    let mut segment_of: Vec<Vec<u32>> = Vec::new();
    for dim in segment_by {
        let col = carts.column(dim)?.cast(&DataType::String)?;
        let col = col.str()?;
        let mut local: rustc_hash::FxHashMap<&str, u32> = Default::default();
        let raw: Vec<u32> = col
            .iter()
            .map(|v| {
                let next = local.len() as u32;
                *local.entry(v.unwrap_or("unknown")).or_insert(next)
            })
            .collect();
        let mut values: Vec<(&str, u32)> = local.into_iter().collect();
        values.sort();
        let mut remap = vec![0u32; values.len()];
        let base = segments.len() as u32;
        for (pos, (value, id)) in values.iter().enumerate() {
            remap[*id as usize] = base + pos as u32;
            segments.push(Segment {
                dimension: dim.clone(),
                value: value.to_string(),
            });
        }
        segment_of.push(raw.into_iter().map(|r| remap[r as usize]).collect());
    }

    let margin = &config.margin;
    let net: Vec<f64> = (0..height)
        .map(|i| {
            net_contribution(
                margin,
                revenue[i],
                discount[i],
                converted[i] && !cancelled[i],
                cost[i],
            )
        })
        .collect();
    let chunks = CHUNKS.min(n_customers).max(1);
    let visit = |chunk: usize, emit: &mut dyn FnMut(usize, usize, &Unit)| {
        let mut units: Vec<Acc> = Vec::new();
        for cust in chunk_range(n_customers, chunks, chunk) {
            units.clear();
            for k in start[cust] as usize..start[cust + 1] as usize {
                let i = order.as_ref().map_or(k, |o| o[k] as usize);
                let arm = arm_of[i];
                let segs = std::iter::once(0u32).chain(segment_of.iter().map(|s| s[i]));
                for segment in segs {
                    let acc = match units
                        .iter_mut()
                        .position(|u| u.arm == arm && u.segment == segment)
                    {
                        Some(k) => &mut units[k],
                        None => {
                            units.push(Acc {
                                arm,
                                segment,
                                entries: 0.0,
                                conversions: 0.0,
                                revenue: 0.0,
                                net: 0.0,
                                unsubscribed: 0.0,
                                complained: 0.0,
                                messages: 0.0,
                                prior: prior[i],
                            });
                            units.last_mut().expect("just pushed")
                        }
                    };
                    acc.entries += 1.0;
                    acc.conversions += f64::from(u8::from(converted[i]));
                    acc.revenue += revenue[i];
                    acc.net += net[i];
                    if unsubscribed[i] {
                        acc.unsubscribed = 1.0;
                    }
                    if complained[i] {
                        acc.complained = 1.0;
                    }
                    acc.messages += messages[i];
                }
            }
            for u in &units {
                let values = [
                    u.conversions,
                    u.revenue,
                    u.net,
                    u.conversions,
                    u.unsubscribed,
                    u.complained,
                ];
                emit(
                    u.segment as usize,
                    u.arm as usize,
                    &Unit {
                        values: &values,
                        den: u.entries,
                        cov: u.prior,
                        messages: u.messages,
                    },
                );
            }
        }
    };
    Ok(reduce(
        carts_metrics(config),
        segments,
        &arms,
        cap,
        chunks,
        visit,
    ))
}

/// Units are reduced in this many fixed pieces (in parallel, merged in order).
const CHUNKS: usize = 64;

/// The `c`-th of `chunks` contiguous pieces of `0..n`.
fn chunk_range(n: usize, chunks: usize, c: usize) -> std::ops::Range<usize> {
    (n * c / chunks)..(n * (c + 1) / chunks)
}

/// Rows grouped by customer: `start[k]..start[k + 1]` are customer k's
/// positions, in `order` when given, else rows themselves (the column is
/// sorted, so each customer is one run).
fn group_rows(customers: &StringChunked) -> (Option<Vec<u32>>, Vec<u32>) {
    let mut start = vec![0u32];
    let mut sorted = true;
    let mut prev: Option<&str> = None;
    for (row, v) in customers.iter().enumerate() {
        let v = v.unwrap_or("");
        match prev {
            Some(p) if p == v => {}
            Some(p) if p > v => {
                sorted = false;
                break;
            }
            _ => {
                if row > 0 {
                    start.push(row as u32);
                }
            }
        }
        prev = Some(v);
    }
    let height = customers.len();
    if sorted {
        if height > 0 {
            start.push(height as u32);
        } else {
            start.clear();
            start.push(0);
        }
        return (None, start);
    }
    let mut customer_of = Vec::with_capacity(height);
    let mut index: rustc_hash::FxHashMap<&str, u32> = Default::default();
    index.reserve(height / 2);
    for v in customers.iter() {
        let next = index.len() as u32;
        customer_of.push(*index.entry(v.unwrap_or("")).or_insert(next));
    }
    let n = index.len();
    let mut start = vec![0u32; n + 1];
    for &c in &customer_of {
        start[c as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut order = vec![0u32; height];
    let mut fill = start.clone();
    for (row, &c) in customer_of.iter().enumerate() {
        order[fill[c as usize] as usize] = row as u32;
        fill[c as usize] += 1;
    }
    (Some(order), start)
}

/// Reads a recipients table: CSV (every column as text, parsed where it is
/// used, so errors name the line) or Parquet.
pub fn read_table(path: &std::path::Path) -> Result<DataFrame> {
    let shown = path.display().to_string();
    let name = shown.to_ascii_lowercase();
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {shown}: {e}"))?;
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        ParquetReader::new(f)
            .finish()
            .map_err(|e| anyhow::anyhow!("{shown}: not a readable Parquet file: {e}"))
    } else {
        CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(f)
            .finish()
            .map_err(|e| anyhow::anyhow!("{shown}: not a readable CSV file: {e}"))
    }
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
            Ok(x) if x.is_finite() && x.abs() <= crate::validate::MAX_AMOUNT => out.push(x),
            Ok(x) if x.is_finite() => bail!(
                "{source}: line {}: column `{name}` has {}; expected at most {:e} in size (see Limits in the README)",
                i + 2,
                crate::validate::shown(x),
                crate::validate::MAX_AMOUNT
            ),
            _ => bail!(
                "{source}: line {}: column `{name}` has {v:?}; expected a number (metrics must be numeric)",
                i + 2
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(ids: &[&str]) -> Vec<Vec<usize>> {
        let col = StringChunked::from_slice("customer_id".into(), ids);
        let (order, start) = group_rows(&col);
        (0..start.len() - 1)
            .map(|k| {
                (start[k] as usize..start[k + 1] as usize)
                    .map(|j| order.as_ref().map_or(j, |o| o[j] as usize))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn rows_group_by_customer_sorted_or_not() {
        assert_eq!(
            groups(&["a", "a", "b", "c", "c"]),
            vec![vec![0, 1], vec![2], vec![3, 4]]
        );
        // Unsorted: customers in order of first appearance, rows in order.
        assert_eq!(
            groups(&["b", "a", "b", "c", "a"]),
            vec![vec![0, 2], vec![1, 4], vec![3]]
        );
        assert!(groups(&[]).is_empty());
        assert_eq!(chunk_range(10, 3, 0), 0..3);
        assert_eq!(chunk_range(10, 3, 2), 6..10);
    }
}
