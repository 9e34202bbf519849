//! The simulated population, read from the flow file's optional
//! `[simulation]` table. Every field has a default, so `[simulation]` may be
//! empty; unknown fields are an error that names them.

use crate::duration::Span;
use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimParams {
    /// First possible abandonment (RFC 3339).
    pub start: String,
    /// Span over which first carts arrive.
    pub days: u32,
    /// Share of customers who come back with another cart later.
    pub repeat_share: f64,
    /// Shares of new, returning and loyalty customers.
    pub status_mix: StatusMix,
    pub cart_value_median: f64,
    pub cart_value_sigma: f64,
    /// Chance of buying within the window with no message at all, by status.
    pub base_return: ByStatus,
    /// How strongly customers differ in propensity (log-normal sigma); the
    /// same multiplier drives their pre-period spend, so CUPED has signal.
    pub propensity_sigma: f64,
    /// The natural return hazard halves every this long.
    pub return_half_life: Span,
    /// Chance a message converts a shopper it reaches and who opens it,
    /// by step number (1-based), as an overall per-recipient probability.
    pub step_lift: Vec<f64>,
    pub open_rate: f64,
    pub click_rate: f64,
    pub bounce_rate: f64,
    pub price_sensitive_share: f64,
    /// Extra conversion probability an opened incentive gives a price-sensitive shopper.
    pub incentive_lift_sensitive: f64,
    /// The same for shoppers who are not price sensitive (usually 0: pure subsidy).
    pub incentive_lift_insensitive: f64,
    /// Chance a shopper who is not price sensitive redeems an incentive they saw.
    pub redemption_insensitive: f64,
    pub unsubscribe_rate: f64,
    pub complaint_rate: f64,
    pub refund_rate: f64,
    pub partial_refund_share: f64,
    pub refund_delay_mean: Span,
    pub cancel_rate: f64,
    /// Prior orders (before the experiment) per customer, by status.
    pub prior_orders: ByStatus,
    /// Sources of messy data the pipeline must cope with.
    pub duplicate_order_rate: f64,
    pub order_without_cart_rate: f64,
    pub reentry_noise_rate: f64,
    pub late_event_rate: f64,
    /// Bugs of the sending system (messages without effect) the audit must find.
    pub send_after_purchase_rate: f64,
    pub holdout_leak_rate: f64,
    pub duplicate_send_rate: f64,
    pub out_of_order_rate: f64,
    pub reentry_send_rate: f64,
    /// Heterogeneous effects (`[[simulation.effects]]`): who is price
    /// sensitive and how strongly messages move them, by what the store
    /// knows at entry. None by default: everyone responds alike.
    pub effects: Vec<Effect>,
    /// Where carts are captured (`{ web = 0.7, app = 0.3 }`): each cart's
    /// activity events name one channel, drawn with these shares. Empty by
    /// default: cart events name none (`capture_channel` reads `unknown`).
    pub capture_channels: std::collections::BTreeMap<String, f64>,
    /// Chance each order before the experiment used a discount code (10%
    /// off, code `PRIOR10`): the discount history `prior_discounted_orders`
    /// counts. 0 by default.
    pub prior_discount_share: f64,
}

/// At most this many `[[simulation.effects]]` (the oracle keeps one bit
/// per effect).
pub const MAX_EFFECTS: usize = 64;

/// One `[[simulation.effects]]` table: for entries whose covariates satisfy
/// `when` (the condition language of flow branches), a price-sensitive
/// share in place of the base one (the last effect giving one wins) and a
/// factor on every step's lift (factors of all covering effects multiply).
/// The covariates are the customer's history at the cart's abandonment
/// (orders, discounted orders, spend before the experiment, days since the
/// latest and the first order), the cart's value, the channel it was
/// captured on, and the hour and weekday it was abandoned (UTC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effect {
    #[serde(default)]
    pub when: crate::branch::When,
    pub price_sensitive_share: Option<f64>,
    pub message_response: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusMix {
    pub new: f64,
    pub returning: f64,
    pub loyalty: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByStatus {
    pub new: f64,
    pub returning: f64,
    pub loyalty: f64,
}

impl ByStatus {
    pub fn get(&self, status: Status) -> f64 {
        match status {
            Status::New => self.new,
            Status::Returning => self.returning,
            Status::Loyalty => self.loyalty,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Returning,
    Loyalty,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Returning => "returning",
            Status::Loyalty => "loyalty",
        }
    }
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            start: "2026-03-02T00:00:00Z".into(),
            days: 56,
            repeat_share: 0.2,
            status_mix: StatusMix {
                new: 0.5,
                returning: 0.35,
                loyalty: 0.15,
            },
            cart_value_median: 70.0,
            cart_value_sigma: 0.7,
            base_return: ByStatus {
                new: 0.06,
                returning: 0.12,
                loyalty: 0.2,
            },
            propensity_sigma: 0.5,
            return_half_life: Span::from_hours(18),
            step_lift: vec![0.02, 0.01, 0.006, 0.004],
            open_rate: 0.45,
            click_rate: 0.25,
            bounce_rate: 0.015,
            price_sensitive_share: 0.35,
            incentive_lift_sensitive: 0.08,
            incentive_lift_insensitive: 0.0,
            redemption_insensitive: 0.8,
            unsubscribe_rate: 0.002,
            complaint_rate: 0.0004,
            refund_rate: 0.06,
            partial_refund_share: 0.5,
            refund_delay_mean: Span::from_days(5),
            cancel_rate: 0.02,
            prior_orders: ByStatus {
                new: 0.0,
                returning: 2.0,
                loyalty: 5.0,
            },
            duplicate_order_rate: 0.03,
            order_without_cart_rate: 0.1,
            reentry_noise_rate: 0.05,
            late_event_rate: 0.01,
            send_after_purchase_rate: 0.02,
            holdout_leak_rate: 0.005,
            duplicate_send_rate: 0.003,
            out_of_order_rate: 0.003,
            reentry_send_rate: 0.2,
            effects: Vec::new(),
            capture_channels: std::collections::BTreeMap::new(),
            prior_discount_share: 0.0,
        }
    }
}

impl SimParams {
    pub fn from_table(table: Option<&toml::Table>) -> Result<SimParams> {
        if let Some(toml::Value::Table(shares)) = table.and_then(|t| t.get("capture_channels")) {
            if shares.is_empty() {
                bail!("field `simulation.capture_channels`: expected at least one channel and its share, e.g. {{ web = 0.6, app = 0.4 }}; leave the field out for carts captured on no named channel");
            }
        }
        let p: SimParams = match table {
            Some(t) => t
                .clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("table `[simulation]`: {e}"))?,
            None => SimParams::default(),
        };
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<()> {
        let probabilities = [
            ("repeat_share", self.repeat_share),
            ("base_return.new", self.base_return.new),
            ("base_return.returning", self.base_return.returning),
            ("base_return.loyalty", self.base_return.loyalty),
            ("open_rate", self.open_rate),
            ("click_rate", self.click_rate),
            ("bounce_rate", self.bounce_rate),
            ("price_sensitive_share", self.price_sensitive_share),
            ("incentive_lift_sensitive", self.incentive_lift_sensitive),
            (
                "incentive_lift_insensitive",
                self.incentive_lift_insensitive,
            ),
            ("redemption_insensitive", self.redemption_insensitive),
            ("unsubscribe_rate", self.unsubscribe_rate),
            ("complaint_rate", self.complaint_rate),
            ("refund_rate", self.refund_rate),
            ("partial_refund_share", self.partial_refund_share),
            ("cancel_rate", self.cancel_rate),
            ("duplicate_order_rate", self.duplicate_order_rate),
            ("order_without_cart_rate", self.order_without_cart_rate),
            ("reentry_noise_rate", self.reentry_noise_rate),
            ("late_event_rate", self.late_event_rate),
            ("send_after_purchase_rate", self.send_after_purchase_rate),
            ("holdout_leak_rate", self.holdout_leak_rate),
            ("duplicate_send_rate", self.duplicate_send_rate),
            ("out_of_order_rate", self.out_of_order_rate),
            ("reentry_send_rate", self.reentry_send_rate),
            ("prior_discount_share", self.prior_discount_share),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                bail!("field `simulation.{name}`: expected a probability in [0, 1], got {p}");
            }
        }
        if self.effects.len() > MAX_EFFECTS {
            bail!(
                "field `simulation.effects`: {} effects; expected at most {MAX_EFFECTS}",
                self.effects.len()
            );
        }
        for (i, e) in self.effects.iter().enumerate() {
            let at = format!("simulation.effects[{i}]");
            e.when.validate(&at)?;
            if let Some(p) = e.price_sensitive_share {
                if !(0.0..=1.0).contains(&p) {
                    bail!("field `{at}.price_sensitive_share`: expected a probability in [0, 1], got {p}");
                }
            }
            if let Some(r) = e.message_response {
                if !(r.is_finite() && (0.0..=100.0).contains(&r)) {
                    bail!("field `{at}.message_response`: expected a factor in [0, 100], got {r}");
                }
            }
            if e.price_sensitive_share.is_none() && e.message_response.is_none() {
                bail!("field `{at}`: expected `price_sensitive_share`, `message_response` or both");
            }
        }
        if !self.capture_channels.is_empty() {
            for (name, share) in &self.capture_channels {
                crate::branch::category_value("simulation.capture_channels", name)?;
                if !(share.is_finite() && *share >= 0.0) {
                    bail!("field `simulation.capture_channels.{name}`: expected a share of at least 0, got {share}");
                }
            }
            let total: f64 = self.capture_channels.values().sum();
            if (total - 1.0).abs() > 1e-6 {
                bail!("field `simulation.capture_channels`: expected shares summing to 1, got {total}");
            }
        }
        for (i, l) in self.step_lift.iter().enumerate() {
            if !(0.0..=1.0).contains(l) {
                bail!("field `simulation.step_lift[{i}]`: expected a probability, got {l}");
            }
        }
        let mix = self.status_mix;
        if mix.new < 0.0
            || mix.returning < 0.0
            || mix.loyalty < 0.0
            || (mix.new + mix.returning + mix.loyalty - 1.0).abs() > 1e-6
        {
            bail!("field `simulation.status_mix`: expected non-negative shares summing to 1");
        }
        if self.cart_value_median.is_nan()
            || self.cart_value_median <= 0.0
            || self.cart_value_sigma.is_nan()
            || self.cart_value_sigma < 0.0
        {
            bail!("field `simulation.cart_value_median`/`cart_value_sigma`: expected a positive median and a non-negative sigma");
        }
        if self.days == 0 {
            bail!("field `simulation.days`: expected at least 1");
        }
        if self.open_rate <= 0.0 {
            bail!("field `simulation.open_rate`: expected a positive rate (messages act through opens)");
        }
        crate::events::fields::parse_timestamp(
            &self.start,
            "simulation.start",
            crate::events::fields::EpochUnit::None,
        )
        .map_err(|r| anyhow::anyhow!("field `simulation.start`: {}", r.detail))?;
        self.validate_bounds()
    }

    /// Spans, days and spreads within the limits every other setting has,
    /// so no simulated time or amount overflows.
    fn validate_bounds(&self) -> Result<()> {
        for (name, span) in [
            ("return_half_life", self.return_half_life),
            ("refund_delay_mean", self.refund_delay_mean),
        ] {
            span.check_ceiling(&format!("simulation.{name}"))
                .map_err(anyhow::Error::msg)?;
        }
        if self.days > crate::duration::MAX_SPAN.seconds() as u32 / 86_400 {
            bail!(
                "field `simulation.days`: expected at most {} days, got {}",
                crate::duration::MAX_SPAN.seconds() / 86_400,
                self.days
            );
        }
        if self.cart_value_median > 1e6 {
            bail!(
                "field `simulation.cart_value_median`: expected at most 1e6, got {}",
                crate::validate::shown(self.cart_value_median)
            );
        }
        for (name, sigma) in [
            ("cart_value_sigma", self.cart_value_sigma),
            ("propensity_sigma", self.propensity_sigma),
        ] {
            if !(0.0..=5.0).contains(&sigma) {
                bail!(
                    "field `simulation.{name}`: expected a log-normal sigma from 0 to 5, got {}",
                    crate::validate::shown(sigma)
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_channel_table_is_refused_and_an_absent_one_is_not() {
        let table = |s: &str| -> toml::Table { toml::from_str(s).unwrap() };
        let err = SimParams::from_table(Some(&table("capture_channels = {}")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("simulation.capture_channels") && err.contains("at least one"),
            "{err}"
        );
        assert!(SimParams::from_table(Some(&table("repeat_share = 0.3"))).is_ok());
        let p = SimParams::from_table(Some(&table("capture_channels = { web = 0.5, app = 0.5 }")))
            .unwrap();
        assert_eq!(p.capture_channels.len(), 2);
    }
}
