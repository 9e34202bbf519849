//! One definition of each per-entry money metric, shared by the simulator,
//! lift, policy and the SQL generator.

use crate::config::Margin;

/// Contribution of one entry to the store's margin:
/// `margin × gross merchandise value − discount − shipping − message cost`,
/// where gross merchandise value is the revenue kept plus the discount given
/// (order values are recorded as paid, after the discount), and shipping is
/// paid by the store for every order that was not cancelled.
pub fn net_contribution(
    margin: &Margin,
    revenue: f64,
    discount: f64,
    shipped: bool,
    message_cost: f64,
) -> f64 {
    let gross = revenue + discount;
    let shipping = if shipped { margin.shipping_cost } else { 0.0 };
    margin.contribution_margin * gross - discount - shipping - message_cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn contribution_adds_up() {
        let m = Margin {
            contribution_margin: 0.4,
            shipping_cost: 5.0,
            message_cost: BTreeMap::new(),
        };
        // $90 paid after a $10 discount: 0.4 × 100 − 10 − 5 − 0.01
        let c = net_contribution(&m, 90.0, 10.0, true, 0.01);
        assert!((c - 24.99).abs() < 1e-12);
        assert_eq!(net_contribution(&m, 0.0, 0.0, false, 0.0), 0.0);
    }
}
