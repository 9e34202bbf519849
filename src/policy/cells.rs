//! The carts table reduced once to sufficient statistics: per segment
//! (cart-value band × customer status) and arm, each customer's sums of the
//! money and message components over their entries in the segment, summed
//! with their cross-products. Customers are the units (the randomization
//! unit, as in lift): any smooth function of a cell's component means gets
//! a delta-method variance from the cross-products, and per-entry ratios go
//! through [`crate::stats::Ratio`].
//!
//! A cell is a bag of sums, so pooling the arms that gave a segment the same
//! treatment is adding cells.

use crate::config::FlowConfig;
use crate::flow::carts as c;
use crate::stats::{ArmSummary, Ratio, StatsError, Summarize};
use anyhow::{bail, Result};
use polars::prelude::*;
use std::collections::BTreeMap;

/// The components summed per customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C {
    Entries,
    Conversions,
    Revenue,
    Discount,
    /// `margin × gross merchandise value − shipping`: the net contribution
    /// before incentives and messages (net contribution + discount + message cost).
    Margin,
    MessageCost,
    /// `metrics::net_contribution`, the one definition.
    NetContribution,
    Messages,
    Unsubscribes,
    Complaints,
}

pub const K: usize = 10;

const COLUMNS: [(C, &str); K] = [
    (C::Entries, "entries"),
    (C::Conversions, "conversions"),
    (C::Revenue, "revenue"),
    (C::Discount, "discount"),
    (C::Margin, "margin"),
    (C::MessageCost, "message_cost"),
    (C::NetContribution, "net_contribution"),
    (C::Messages, "messages"),
    (C::Unsubscribes, "unsubscribes"),
    (C::Complaints, "complaints"),
];

/// Sufficient statistics of one group of customers.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub n: f64,
    pub sum: [f64; K],
    pub cross: [[f64; K]; K],
}

impl Default for Cell {
    fn default() -> Self {
        Cell {
            n: 0.0,
            sum: [0.0; K],
            cross: [[0.0; K]; K],
        }
    }
}

impl Cell {
    /// Adds one customer's component sums.
    pub fn push(&mut self, x: &[f64; K]) {
        self.n += 1.0;
        for i in 0..K {
            self.sum[i] += x[i];
            for j in 0..K {
                self.cross[i][j] += x[i] * x[j];
            }
        }
    }

    /// Adds another group of customers.
    pub fn merge(&mut self, other: &Cell) {
        self.n += other.n;
        for i in 0..K {
            self.sum[i] += other.sum[i];
            for j in 0..K {
                self.cross[i][j] += other.cross[i][j];
            }
        }
    }

    pub fn total(&self, c: C) -> f64 {
        self.sum[c as usize]
    }

    /// Σ component / Σ entries; 0 when the cell has no entries.
    pub fn per_entry(&self, c: C) -> f64 {
        let e = self.total(C::Entries);
        if e > 0.0 {
            self.total(c) / e
        } else {
            0.0
        }
    }

    /// Mean per customer of a component.
    pub fn mean(&self, c: C) -> f64 {
        self.sum[c as usize] / self.n
    }

    /// Unbiased covariance between two components of a customer.
    fn cov(&self, a: C, b: C) -> f64 {
        let (i, j) = (a as usize, b as usize);
        (self.cross[i][j] - self.sum[i] * self.sum[j] / self.n) / (self.n - 1.0)
    }

    /// A per-entry ratio `Σ component / Σ entries` over customers: its
    /// mean and delta-method per-customer variance (`stats::Ratio`).
    pub fn ratio(&self, c: C) -> Result<ArmSummary, StatsError> {
        let (x, e) = (c as usize, C::Entries as usize);
        Ratio {
            n: self.n,
            sum_num: self.sum[x],
            sum_num2: self.cross[x][x],
            sum_den: self.sum[e],
            sum_den2: self.cross[e][e],
            sum_num_den: self.cross[x][e],
        }
        .summarize()
    }

    /// A smooth function of the cell's per-customer component means, given
    /// its value and its gradient with respect to those means: the delta
    /// method, per-customer variance `gᵀ Σ g`.
    pub fn linearized(&self, value: f64, gradient: &[(C, f64)]) -> Result<ArmSummary, StatsError> {
        if self.n < 2.0 {
            return Err(StatsError::TooFewUnits {
                n: self.n,
                needed: 2,
            });
        }
        let mut variance = 0.0;
        for &(a, ga) in gradient {
            for &(b, gb) in gradient {
                variance += ga * gb * self.cov(a, b);
            }
        }
        Ok(ArmSummary::new(self.n, value, variance.max(0.0)))
    }

    /// Gradient of `Σ a / Σ b` with respect to the means of `a` and `b`.
    pub fn ratio_gradient(&self, a: C, b: C) -> [(C, f64); 2] {
        let (ma, mb) = (self.mean(a), self.mean(b));
        [(a, 1.0 / mb), (b, -ma / (mb * mb))]
    }
}

/// Where a cell sits: band index, customer status, arm.
pub type Key = (usize, String, String);

/// The whole carts table as cells.
pub struct Reduced {
    pub cells: BTreeMap<Key, Cell>,
    /// Statuses seen, sorted.
    pub statuses: Vec<String>,
    pub entries: u64,
    /// Entries whose cart value is unknown: no band, left out.
    pub entries_without_cart_value: u64,
}

/// Reduces a carts table (the output of `cartlift paths`) to cells.
pub fn reduce(carts: &DataFrame, config: &FlowConfig) -> Result<Reduced> {
    for required in [
        c::CUSTOMER_ID,
        c::ARM,
        c::CART_VALUE,
        c::CUSTOMER_STATUS,
        c::CONVERTED,
        c::CANCELLED,
        c::REVENUE,
        c::DISCOUNT,
        c::MESSAGE_COST,
        c::MESSAGES_SENT,
        c::UNSUBSCRIBED,
        c::COMPLAINED,
    ] {
        if carts.column(required).is_err() {
            bail!("the carts table has no column `{required}`; expected the output of `cartlift paths`");
        }
    }
    let df = crate::lift::units::with_net_contribution(carts, config)?;
    let band = config
        .segments
        .cart_value_bands
        .iter()
        .fold(lit(0u32), |acc, &edge| {
            acc + col(c::CART_VALUE).gt_eq(lit(edge)).cast(DataType::UInt32)
        });
    let f = |name: &str| col(name).cast(DataType::Float64);
    // `paths` leaves the cart value empty when the log never gave one.
    let valued = col(c::CART_VALUE).is_not_null();
    let grouped = df
        .lazy()
        .filter(valued)
        .with_columns([
            band.alias("band"),
            col(c::CUSTOMER_STATUS)
                .cast(DataType::String)
                .fill_null(lit("unknown"))
                .alias("status"),
            (col("net_contribution") + col(c::DISCOUNT) + col(c::MESSAGE_COST)).alias("margin"),
        ])
        .group_by([col("band"), col("status"), col(c::ARM), col(c::CUSTOMER_ID)])
        .agg([
            len().cast(DataType::Float64).alias("entries"),
            f(c::CONVERTED).sum().alias("conversions"),
            f(c::REVENUE).sum().alias("revenue"),
            f(c::DISCOUNT).sum().alias("discount"),
            col("margin").sum().alias("margin"),
            f(c::MESSAGE_COST).sum().alias("message_cost"),
            col("net_contribution").sum().alias("net_contribution"),
            f(c::MESSAGES_SENT).sum().alias("messages"),
            f(c::UNSUBSCRIBED).sum().alias("unsubscribes"),
            f(c::COMPLAINED).sum().alias("complaints"),
        ])
        // Sums in a fixed order, so the same table gives the same bytes.
        .sort(
            ["band", "status", c::ARM, c::CUSTOMER_ID],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(|e| anyhow::anyhow!("grouping entries by segment and customer: {e}"))?;
    let values = COLUMNS
        .iter()
        .map(|(_, name)| -> Result<Vec<f64>> {
            Ok(grouped
                .column(name)?
                .f64()?
                .iter()
                .map(|v| v.unwrap_or(0.0))
                .collect())
        })
        .collect::<Result<Vec<_>>>()?;
    let bands: Vec<u32> = grouped
        .column("band")?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let text = |name: &str| -> Result<Vec<String>> {
        Ok(grouped
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let statuses = text("status")?;
    let arms = text(c::ARM)?;
    let mut cells: BTreeMap<Key, Cell> = BTreeMap::new();
    let mut entries = 0u64;
    for row in 0..grouped.height() {
        let mut x = [0.0; K];
        for (k, v) in values.iter().enumerate() {
            x[k] = v[row];
        }
        entries += x[C::Entries as usize] as u64;
        cells
            .entry((
                bands[row] as usize,
                statuses[row].clone(),
                arms[row].clone(),
            ))
            .or_default()
            .push(&x);
    }
    let mut seen: Vec<String> = statuses;
    seen.sort();
    seen.dedup();
    Ok(Reduced {
        cells,
        statuses: seen,
        entries,
        entries_without_cart_value: carts.height() as u64 - entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(rows: &[[f64; 3]]) -> Cell {
        // (entries, conversions, discount) per customer.
        let mut c = Cell::default();
        for r in rows {
            let mut x = [0.0; K];
            x[C::Entries as usize] = r[0];
            x[C::Conversions as usize] = r[1];
            x[C::Discount as usize] = r[2];
            c.push(&x);
        }
        c
    }

    #[test]
    fn linearized_ratio_is_stats_ratio() {
        let c = cell(&[
            [1.0, 1.0, 5.0],
            [2.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [3.0, 2.0, 7.5],
            [1.0, 1.0, 0.0],
        ]);
        let r = c.ratio(C::Conversions).unwrap();
        let g = c.ratio_gradient(C::Conversions, C::Entries);
        let l = c.linearized(r.mean, &g).unwrap();
        assert!((r.mean - 4.0 / 8.0).abs() < 1e-15);
        assert!((r.variance - l.variance).abs() < 1e-12, "{r:?} {l:?}");
    }

    #[test]
    fn merging_cells_is_pushing_their_customers() {
        let a = cell(&[[1.0, 1.0, 5.0], [2.0, 0.0, 0.0]]);
        let b = cell(&[[1.0, 0.0, 0.0]]);
        let mut m = a.clone();
        m.merge(&b);
        let all = cell(&[[1.0, 1.0, 5.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
        assert_eq!(m, all);
        assert_eq!(all.per_entry(C::Discount), 5.0 / 4.0);
        assert_eq!(Cell::default().per_entry(C::Discount), 0.0);
    }
}
