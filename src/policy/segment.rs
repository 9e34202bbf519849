//! One segment (cart-value band × customer status): each tested arm against
//! the holdout, with the discount cost split, and the distinct treatments
//! the arms gave it, pooled, against the current arm's.
//!
//! **Discount split.** Per entry, the treatment converts `p_t` and pays
//! discount `d_t`; the holdout converts `p_h` and pays `d_h` (0 when nothing
//! else discounts). The holdout says `p_h` of the treatment's orders would
//! have happened anyway (the flow does not stop anyone buying), so
//! `p_t − p_h` are incremental. Without a way to tell which orders are which,
//! both kinds are taken to carry the same expected discount, `r = d_t / p_t`
//! per order. Then
//!
//! * *converted because of it* = `r · (p_t − p_h)`: discount paid on incremental orders;
//! * *subsidy* = `r · p_h − d_h`: discount paid on orders that would have
//!   happened anyway, beyond what they would have got anyway;
//!
//! and the two add up to the incentive cost `d_t − d_h`. When the treatment
//! converts no more than the holdout, every discounted order is subsidy.
//! The equal-discount assumption understates the subsidy when the offer
//! mostly reaches shoppers who were going to buy late anyway, and overstates
//! it when it mostly reaches those it converts. Intervals: the delta method
//! over customers in each group, combined with Welch–Satterthwaite
//! ([`super::estimate`]).

use super::cells::{Cell, C};
use super::estimate::{combine, Estimate, Term};
use crate::stats::{ArmSummary, StatsError};
use serde::Serialize;

/// An arm (or pooled arms) against the holdout, per entry.
#[derive(Debug, Clone, Serialize)]
pub struct Versus {
    /// Conversion rate difference (incremental conversions per entry).
    pub incremental_conversions: Estimate,
    pub incremental_revenue: Estimate,
    /// `margin × gross merchandise value − shipping`, difference.
    pub incremental_margin: Estimate,
    pub incentive_cost: IncentiveCost,
    pub message_cost: Estimate,
    /// `incremental_margin − incentive_cost.total − message_cost`.
    pub net_contribution: Estimate,
    /// The same money figures × the treatment's entries in the segment.
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncentiveCost {
    /// Discount per entry, treatment − holdout.
    pub total: Estimate,
    /// Discount paid on incremental orders.
    pub converted_because: Estimate,
    /// Discount paid on orders that would have happened anyway.
    pub subsidy: Estimate,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub entries: u64,
    pub incremental_margin: f64,
    pub incentive_cost: f64,
    pub converted_because: f64,
    pub subsidy: f64,
    pub message_cost: f64,
    pub net_contribution: f64,
}

fn stats_error(side: &str, e: StatsError) -> String {
    format!("{side}: {e}")
}

/// Per-entry difference of one component, treatment − holdout.
fn difference(t: &Cell, h: &Cell, c: C, alpha: f64) -> Estimate {
    let point = t.per_entry(c) - h.per_entry(c);
    match (t.ratio(c), h.ratio(c)) {
        (Ok(a), Ok(b)) => combine(point, &[Term::new(1.0, a), Term::new(-1.0, b)], alpha),
        (Err(e), _) => Estimate::no_interval(point, stats_error("treatment", e)),
        (_, Err(e)) => Estimate::no_interval(point, stats_error("holdout", e)),
    }
}

/// A two-group estimate from each group's linearized part.
fn two_parts(
    point: f64,
    t: Result<ArmSummary, StatsError>,
    t_coefficient: f64,
    h: Result<ArmSummary, StatsError>,
    h_coefficient: f64,
    alpha: f64,
) -> Estimate {
    match (t, h) {
        (Ok(a), Ok(b)) => combine(
            point,
            &[Term::new(t_coefficient, a), Term::new(h_coefficient, b)],
            alpha,
        ),
        (Err(e), _) => Estimate::no_interval(point, stats_error("treatment", e)),
        (_, Err(e)) => Estimate::no_interval(point, stats_error("holdout", e)),
    }
}

/// Treatment `t` against holdout `h` (see the module docs).
pub fn versus(t: &Cell, h: &Cell, alpha: f64) -> Result<Versus, String> {
    if t.total(C::Entries) <= 0.0 {
        return Err("no entries in the treatment".into());
    }
    if h.total(C::Entries) <= 0.0 {
        return Err("no entries in the holdout".into());
    }
    let total = difference(t, h, C::Discount, alpha);
    let (p_t, p_h) = (t.per_entry(C::Conversions), h.per_entry(C::Conversions));
    let d_t = t.per_entry(C::Discount);
    let (converted_because, subsidy) = if p_t > p_h {
        let r = t.total(C::Discount) / t.total(C::Conversions);
        let (ch, dh, eh) = (
            h.mean(C::Conversions),
            h.mean(C::Discount),
            h.mean(C::Entries),
        );
        let (ct, dt, et) = (
            t.mean(C::Conversions),
            t.mean(C::Discount),
            t.mean(C::Entries),
        );
        // subsidy = p_h · (D/C)_t + ((r·C − D)/E)_h − r·p_h, linearized per group.
        let subsidy_point = r * p_h - h.per_entry(C::Discount);
        let subsidy = two_parts(
            subsidy_point,
            t.linearized(r, &t.ratio_gradient(C::Discount, C::Conversions)),
            p_h,
            h.linearized(
                subsidy_point,
                &[
                    (C::Conversions, r / eh),
                    (C::Discount, -1.0 / eh),
                    (C::Entries, -(r * ch - dh) / (eh * eh)),
                ],
            ),
            1.0,
            alpha,
        );
        // converted because = (D/E)_t − p_h · (D/C)_t, minus r·(C/E)_h's variation.
        let because_point = d_t - r * p_h;
        let because = two_parts(
            because_point,
            t.linearized(
                because_point,
                &[
                    (C::Discount, 1.0 / et - p_h / ct),
                    (C::Conversions, p_h * dt / (ct * ct)),
                    (C::Entries, -dt / (et * et)),
                ],
            ),
            1.0,
            h.linearized(
                r * p_h,
                &[(C::Conversions, r / eh), (C::Entries, -r * ch / (eh * eh))],
            ),
            -1.0,
            alpha,
        );
        (because, subsidy)
    } else {
        (Estimate::exact(0.0), total.clone())
    };
    let margin = difference(t, h, C::Margin, alpha);
    let message = difference(t, h, C::MessageCost, alpha);
    let net = difference(t, h, C::NetContribution, alpha);
    let entries = t.total(C::Entries);
    let totals = Totals {
        entries: entries as u64,
        incremental_margin: margin.estimate * entries,
        incentive_cost: total.estimate * entries,
        converted_because: converted_because.estimate * entries,
        subsidy: subsidy.estimate * entries,
        message_cost: message.estimate * entries,
        net_contribution: net.estimate * entries,
    };
    Ok(Versus {
        incremental_conversions: difference(t, h, C::Conversions, alpha),
        incremental_revenue: difference(t, h, C::Revenue, alpha),
        incremental_margin: margin,
        incentive_cost: IncentiveCost {
            total,
            converted_because,
            subsidy,
        },
        message_cost: message,
        net_contribution: net,
        totals,
    })
}

/// Net contribution per entry of one option against another:
/// `a − b`, Welch–Satterthwaite over the two groups of customers.
pub fn gain(a: &Cell, b: &Cell, alpha: f64) -> Estimate {
    difference(a, b, C::NetContribution, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::cells::K;

    /// (entries, conversions, discount, margin, message cost) per customer.
    fn cell(rows: &[[f64; 5]]) -> Cell {
        let mut c = Cell::default();
        for r in rows {
            let mut x = [0.0; K];
            x[C::Entries as usize] = r[0];
            x[C::Conversions as usize] = r[1];
            x[C::Discount as usize] = r[2];
            x[C::Margin as usize] = r[3];
            x[C::MessageCost as usize] = r[4];
            x[C::NetContribution as usize] = r[3] - r[2] - r[4];
            c.push(&x);
        }
        c
    }

    #[test]
    fn the_discount_split_adds_up() {
        let t = cell(&[
            [1.0, 1.0, 10.0, 40.0, 0.006],
            [1.0, 1.0, 0.0, 30.0, 0.004],
            [2.0, 1.0, 8.0, 35.0, 0.01],
            [1.0, 0.0, 0.0, 0.0, 0.006],
            [1.0, 1.0, 12.0, 45.0, 0.006],
            [1.0, 0.0, 0.0, 0.0, 0.006],
        ]);
        let h = cell(&[
            [1.0, 1.0, 0.0, 30.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [2.0, 1.0, 0.0, 20.0, 0.0],
        ]);
        let v = versus(&t, &h, 0.05).unwrap();
        let i = &v.incentive_cost;
        // p_t = 4/7, p_h = 2/5, d_t = 30/7: subsidy = (30/4)(2/5), because = (30/4)(4/7 − 2/5).
        assert!((i.subsidy.estimate - 7.5 * 0.4).abs() < 1e-12);
        assert!((i.converted_because.estimate - 7.5 * (4.0 / 7.0 - 0.4)).abs() < 1e-12);
        assert!(
            (i.subsidy.estimate + i.converted_because.estimate - i.total.estimate).abs() < 1e-12
        );
        let net = v.incremental_margin.estimate - i.total.estimate - v.message_cost.estimate;
        assert!((net - v.net_contribution.estimate).abs() < 1e-12);
        for e in [&i.total, &i.subsidy, &i.converted_because, &v.message_cost] {
            assert!(e.ci.is_some(), "{e:?}");
        }
        let tt = &v.totals;
        assert!(
            (tt.incremental_margin - tt.incentive_cost - tt.message_cost - tt.net_contribution)
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn no_incremental_orders_means_all_subsidy() {
        let t = cell(&[[1.0, 1.0, 5.0, 30.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]]);
        let h = cell(&[[1.0, 1.0, 0.0, 30.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]]);
        let v = versus(&t, &h, 0.05).unwrap();
        assert_eq!(v.incentive_cost.converted_because.estimate, 0.0);
        assert_eq!(v.incentive_cost.subsidy.estimate, 2.5);
        assert!(versus(&t, &Cell::default(), 0.05).is_err());
    }
}
