//! The flow configuration (`flow.toml`): what the flow does, how it is
//! randomized, how outcomes are attributed and what a sale is worth.
//!
//! The same file is an input (analysis, simulation) and an output (the
//! recommended next flow), so it serializes back to valid TOML. The
//! `[simulation]` table is kept as raw TOML so it round-trips unchanged.

use crate::duration::Span;
use crate::validate::{shown, MAX_AMOUNT};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The largest step number a flow may use (the simulator draws a few
/// random numbers per step number for every cart).
pub const MAX_STEP: u32 = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    pub flow: FlowSection,
    pub assignment: Assignment,
    pub arms: Vec<Arm>,
    pub margin: Margin,
    #[serde(default)]
    pub segments: Segments,
    #[serde(default)]
    pub guardrails: Guardrails,
    /// The Klaviyo flow this file mirrors (`cartlift flow import|export`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo: Option<KlaviyoLink>,
    /// Population parameters for `cartlift simulate`; a production config has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Only `checkout_started` opens a candidate; `cart_updated` extends it.
    CheckoutStarted,
    /// Any cart activity opens or extends a candidate.
    CartUpdated,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowSection {
    #[serde(default = "default_flow_name")]
    pub name: String,
    pub trigger: Trigger,
    /// Inactivity after the last cart activity that makes a cart abandoned.
    pub abandon_after: Span,
    /// A customer enters the flow at most once per this span.
    pub reentry_cooldown: Span,
    /// An order counts for an entry when it lands within this span after entry.
    pub attribution_window: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<FrequencyCap>,
    /// The currency every value is expressed in.
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_flow_name() -> String {
    "abandoned-cart".into()
}
fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    pub max_messages: u32,
    pub per: Span,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Salt of the bucket hash; changing it reshuffles every customer.
    pub salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    pub weight: f64,
    #[serde(default)]
    pub holdout: bool,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Conditional branches (a learned targeting policy): an entry is sent
    /// the steps of the first branch whose condition holds, else `steps`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<crate::branch::Branch>,
}

impl Arm {
    /// The steps an entry with these covariates is sent: the first branch
    /// that holds, else the arm's own steps.
    pub fn steps_for(&self, x: &crate::branch::Covariates) -> &[Step] {
        self.branches
            .iter()
            .find(|b| b.when.holds(x))
            .map_or(&self.steps[..], |b| &b.steps[..])
    }

    /// Every list of steps the arm can send: its own, then each branch's.
    pub fn step_lists(&self) -> impl Iterator<Item = &[Step]> {
        std::iter::once(&self.steps[..]).chain(self.branches.iter().map(|b| &b.steps[..]))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub step: u32,
    /// Measured from the moment the shopper left the cart (last activity).
    pub delay: Span,
    #[serde(default = "default_channel")]
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incentive: Option<Incentive>,
    /// Klaviyo message ids that send this step (one per branch of the
    /// Klaviyo flow that reaches it), so a `$message` maps to `flow_step`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub klaviyo_message_ids: Vec<String>,
}

/// `[klaviyo]`: ids of the Klaviyo flow a flow file was imported from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct KlaviyoLink {
    /// The flow's id (`$flow` on its message events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// The account's id of the trigger metric (Started Checkout, Added to Cart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_metric_id: Option<String>,
}

fn default_channel() -> String {
    "email".into()
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IncentiveKind {
    PercentOff,
    FixedOff,
    FreeShipping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Incentive {
    pub kind: IncentiveKind,
    /// Percent for `percent_off`, currency amount for `fixed_off`, unused for `free_shipping`.
    #[serde(default)]
    pub value: f64,
    /// The incentive is offered only to carts worth at least this much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cart_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cart_value: Option<f64>,
    /// Offered only to these statuses; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_status: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Incentive {
    /// Whether a cart of this value and customer status is offered the incentive.
    pub fn applies_to(&self, cart_value: f64, status: &str) -> bool {
        self.min_cart_value.is_none_or(|m| cart_value >= m)
            && self.max_cart_value.is_none_or(|m| cart_value < m)
            && self
                .customer_status
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == status))
    }

    /// The discount this incentive gives on an order of `cart_value`.
    pub fn discount_on(&self, cart_value: f64, shipping_cost: f64) -> f64 {
        let raw = match self.kind {
            IncentiveKind::PercentOff => cart_value * self.value / 100.0,
            IncentiveKind::FixedOff => self.value.min(cart_value),
            IncentiveKind::FreeShipping => shipping_cost,
        };
        (raw * 100.0).round() / 100.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Margin {
    /// Share of gross merchandise value left after cost of goods.
    pub contribution_margin: f64,
    /// Store-paid fulfilment cost per order.
    #[serde(default)]
    pub shipping_cost: f64,
    /// Cost of one message, by channel.
    #[serde(default)]
    pub message_cost: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Segments {
    /// Upper-exclusive edges of the cart-value bands: `[50, 100]` gives
    /// `<50`, `50-100`, `>=100`.
    pub cart_value_bands: Vec<f64>,
}

impl Default for Segments {
    fn default() -> Self {
        Segments {
            cart_value_bands: vec![50.0, 100.0, 200.0],
        }
    }
}

impl Segments {
    pub fn band_of(&self, value: f64) -> String {
        let edges = &self.cart_value_bands;
        match edges.iter().position(|&e| value < e) {
            Some(0) => format!("<{}", edges[0]),
            Some(i) => format!("{}-{}", edges[i - 1], edges[i]),
            None => match edges.last() {
                Some(last) => format!(">={last}"),
                None => "all".into(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    pub max_unsubscribe_rate: f64,
    pub max_complaint_rate: f64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            max_unsubscribe_rate: 0.003,
            max_complaint_rate: 0.001,
        }
    }
}

/// A money setting: finite, not negative, at most [`MAX_AMOUNT`].
fn amount_ok(x: f64) -> bool {
    x.is_finite() && (0.0..=MAX_AMOUNT).contains(&x)
}

impl FlowConfig {
    /// Reads and validates a flow file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<FlowConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read flow config {}", path.display()))?;
        FlowConfig::parse(&text).with_context(|| format!("flow config {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<FlowConfig> {
        let config: FlowConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    pub fn holdout(&self) -> &Arm {
        self.arms
            .iter()
            .find(|a| a.holdout)
            .expect("validated: one holdout arm")
    }

    pub fn arm(&self, name: &str) -> Option<&Arm> {
        self.arms.iter().find(|a| a.name == name)
    }

    pub fn message_cost(&self, channel: &str) -> f64 {
        self.margin
            .message_cost
            .get(channel)
            .copied()
            .unwrap_or(0.0)
    }

    fn validate(&self) -> Result<()> {
        let f = &self.flow;
        self.validate_spans()?;
        self.validate_names()?;
        if f.abandon_after.seconds() <= 0 {
            bail!("field `flow.abandon_after`: expected a positive duration such as `1h`");
        }
        if f.attribution_window.seconds() <= 0 {
            bail!("field `flow.attribution_window`: expected a positive duration such as `7d`");
        }
        if let Some(cap) = &f.frequency_cap {
            if cap.max_messages == 0 || cap.per.seconds() <= 0 {
                bail!("field `flow.frequency_cap`: expected max_messages ≥ 1 and a positive `per`");
            }
        }
        if self.assignment.salt.is_empty() {
            bail!("field `assignment.salt`: expected a non-empty string");
        }
        if self.arms.is_empty() {
            bail!("field `arms`: expected at least a holdout arm and one treatment arm");
        }
        let holdouts = self.arms.iter().filter(|a| a.holdout).count();
        if holdouts != 1 {
            bail!("field `arms`: expected exactly one arm with `holdout = true`, found {holdouts}");
        }
        if self.arms.len() < 2 {
            bail!("field `arms`: expected at least one treatment arm beside the holdout; a flow with only a holdout sends nothing to measure");
        }
        let mut total = 0.0;
        for (i, arm) in self.arms.iter().enumerate() {
            self.validate_arm(i, arm)?;
            total += arm.weight;
        }
        if (total - 1.0).abs() > 1e-6 {
            bail!("field `arms[].weight`: expected weights summing to 1, they sum to {total}");
        }
        let m = &self.margin;
        if !(0.0..=1.0).contains(&m.contribution_margin) {
            bail!(
                "field `margin.contribution_margin`: expected a share between 0 and 1, got {}",
                m.contribution_margin
            );
        }
        if !amount_ok(m.shipping_cost) {
            bail!(
                "field `margin.shipping_cost`: expected a non-negative amount of at most {MAX_AMOUNT:e}, got {}",
                shown(m.shipping_cost)
            );
        }
        for (ch, cost) in &m.message_cost {
            if !amount_ok(*cost) {
                bail!(
                    "field `margin.message_cost.{ch}`: expected a non-negative amount of at most {MAX_AMOUNT:e}, got {}",
                    shown(*cost)
                );
            }
        }
        let bands = &self.segments.cart_value_bands;
        if bands.windows(2).any(|w| w[0] >= w[1])
            || bands.iter().any(|b| !b.is_finite() || b.abs() > MAX_AMOUNT)
        {
            bail!("field `segments.cart_value_bands`: expected strictly increasing numbers of at most {MAX_AMOUNT:e}");
        }
        let g = &self.guardrails;
        for (name, v) in [
            ("max_unsubscribe_rate", g.max_unsubscribe_rate),
            ("max_complaint_rate", g.max_complaint_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("field `guardrails.{name}`: expected a rate between 0 and 1, got {v}");
            }
        }
        Ok(())
    }

    /// Every span at most [`crate::duration::MAX_SPAN`], so no time
    /// computed from one can overflow.
    fn validate_spans(&self) -> Result<()> {
        let f = &self.flow;
        let mut spans = vec![
            ("flow.abandon_after".to_string(), f.abandon_after),
            ("flow.reentry_cooldown".to_string(), f.reentry_cooldown),
            ("flow.attribution_window".to_string(), f.attribution_window),
        ];
        if let Some(cap) = &f.frequency_cap {
            spans.push(("flow.frequency_cap.per".into(), cap.per));
        }
        for (i, arm) in self.arms.iter().enumerate() {
            for (j, s) in arm.steps.iter().enumerate() {
                spans.push((format!("arms[{i}].steps[{j}].delay"), s.delay));
            }
            for (b, branch) in arm.branches.iter().enumerate() {
                for (j, s) in branch.steps.iter().enumerate() {
                    spans.push((format!("arms[{i}].branches[{b}].steps[{j}].delay"), s.delay));
                }
            }
        }
        for (field, span) in spans {
            span.check_ceiling(&field).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    /// Names end up in terminals, TOML comments, file names and pages: no
    /// control characters, and a bounded length.
    fn validate_names(&self) -> Result<()> {
        let mut names: Vec<(String, &str)> = vec![
            ("flow.name".into(), &self.flow.name),
            ("flow.currency".into(), &self.flow.currency),
            ("assignment.salt".into(), &self.assignment.salt),
        ];
        for (i, arm) in self.arms.iter().enumerate() {
            names.push((format!("arms[{i}].name"), &arm.name));
            let mut lists = vec![(format!("arms[{i}]"), &arm.steps)];
            for (b, branch) in arm.branches.iter().enumerate() {
                if let Some(n) = &branch.name {
                    names.push((format!("arms[{i}].branches[{b}].name"), n));
                }
                lists.push((format!("arms[{i}].branches[{b}]"), &branch.steps));
            }
            for (at, steps) in lists {
                for (j, s) in steps.iter().enumerate() {
                    names.push((format!("{at}.steps[{j}].channel"), &s.channel));
                    if let Some(m) = &s.message {
                        names.push((format!("{at}.steps[{j}].message"), m));
                    }
                    if let Some(inc) = &s.incentive {
                        if let Some(code) = &inc.code {
                            names.push((format!("{at}.steps[{j}].incentive.code"), code));
                        }
                        for st in inc.customer_status.iter().flatten() {
                            names.push((format!("{at}.steps[{j}].incentive.customer_status"), st));
                        }
                    }
                }
            }
        }
        for ch in self.margin.message_cost.keys() {
            names.push(("margin.message_cost".into(), ch));
        }
        for (field, name) in names {
            crate::validate::config_text(&field, name)?;
        }
        Ok(())
    }

    fn validate_arm(&self, i: usize, arm: &Arm) -> Result<()> {
        if arm.name.trim().is_empty() {
            bail!("field `arms[{i}].name`: expected a non-empty name");
        }
        if self.arms.iter().filter(|a| a.name == arm.name).count() > 1 {
            bail!(
                "field `arms[{i}].name`: arm name `{}` is used twice",
                arm.name
            );
        }
        if !(arm.weight > 0.0 && arm.weight <= 1.0) {
            bail!(
                "field `arms[{i}].weight` (arm `{}`): expected a share in (0, 1], got {}",
                arm.name,
                arm.weight
            );
        }
        if arm.holdout && !arm.steps.is_empty() {
            bail!(
                "field `arms[{i}].steps` (arm `{}`): a holdout arm sends nothing; remove its steps",
                arm.name
            );
        }
        if arm.holdout && !arm.branches.is_empty() {
            bail!(
                "field `arms[{i}].branches` (arm `{}`): a holdout arm sends nothing; remove its branches",
                arm.name
            );
        }
        if !arm.holdout && arm.step_lists().all(|s| s.is_empty()) {
            bail!(
                "field `arms[{i}].steps` (arm `{}`): expected at least one step for a treatment arm",
                arm.name
            );
        }
        self.validate_steps(&format!("arms[{i}]"), &arm.name, &arm.steps)?;
        for (b, branch) in arm.branches.iter().enumerate() {
            let at = format!("arms[{i}].branches[{b}]");
            branch.when.validate(&at)?;
            if branch.when.is_empty() && b + 1 < arm.branches.len() {
                bail!(
                    "field `{at}.when` (arm `{}`): no condition, so every entry takes this branch and the {} after it never run; give it a condition or move it last",
                    arm.name,
                    arm.branches.len() - b - 1
                );
            }
            if let Some((a, earlier)) = arm.branches[..b]
                .iter()
                .enumerate()
                .find(|(_, e)| branch.when.covered_by(&e.when))
            {
                let label = |x: &crate::branch::Branch| {
                    x.name
                        .as_ref()
                        .map(|n| format!(" (`{n}`)"))
                        .unwrap_or_default()
                };
                bail!(
                    "field `{at}.when` (arm `{}`): branch {b}{} is never taken: every entry it holds for, the earlier `arms[{i}].branches[{a}]`{} takes first; narrow or remove it, or move it before that one",
                    arm.name,
                    label(branch),
                    label(earlier)
                );
            }
            self.validate_steps(&at, &arm.name, &branch.steps)?;
        }
        Ok(())
    }

    /// One list of steps (an arm's or a branch's), `at` naming it in errors.
    fn validate_steps(&self, at_list: &str, arm_name: &str, steps: &[Step]) -> Result<()> {
        for (j, w) in steps.windows(2).enumerate() {
            if w[1].step <= w[0].step || w[1].delay <= w[0].delay {
                bail!(
                    "field `{at_list}.steps[{}]` (arm `{}`): expected steps in increasing order of step number and delay",
                    j + 1,
                    arm_name
                );
            }
        }
        for (j, s) in steps.iter().enumerate() {
            let at = format!("{at_list}.steps[{j}]");
            if s.step == 0 || s.step > MAX_STEP {
                bail!(
                    "field `{at}.step`: steps are numbered from 1 to {MAX_STEP}, got {}",
                    s.step
                );
            }
            if s.delay < self.flow.abandon_after {
                bail!(
                    "field `{at}.delay`: {} is before the cart counts as abandoned ({}); expected a delay ≥ flow.abandon_after",
                    s.delay,
                    self.flow.abandon_after
                );
            }
            if !self.margin.message_cost.is_empty()
                && !self.margin.message_cost.contains_key(&s.channel)
            {
                bail!(
                    "field `margin.message_cost`: no cost for channel `{}` used by {at}; expected an entry `{} = <cost>`",
                    s.channel,
                    s.channel
                );
            }
            if let Some(inc) = &s.incentive {
                let ok = match inc.kind {
                    IncentiveKind::PercentOff => inc.value > 0.0 && inc.value <= 100.0,
                    IncentiveKind::FixedOff => inc.value > 0.0 && amount_ok(inc.value),
                    IncentiveKind::FreeShipping => inc.value.is_finite(),
                };
                if !ok {
                    bail!(
                        "field `{at}.incentive.value`: expected a percent in (0, 100] for percent_off or a positive amount of at most {MAX_AMOUNT:e} for fixed_off, got {}",
                        shown(inc.value)
                    );
                }
                for (name, v) in [
                    ("min_cart_value", inc.min_cart_value),
                    ("max_cart_value", inc.max_cart_value),
                ] {
                    if let Some(v) = v {
                        if !amount_ok(v) {
                            bail!(
                                "field `{at}.incentive.{name}`: expected a non-negative amount of at most {MAX_AMOUNT:e}, got {}",
                                shown(v)
                            );
                        }
                    }
                }
                if let (Some(lo), Some(hi)) = (inc.min_cart_value, inc.max_cart_value) {
                    if hi <= lo {
                        bail!(
                            "field `{at}.incentive.max_cart_value`: expected more than min_cart_value ({lo}), got {hi}; no cart could get the incentive"
                        );
                    }
                }
                if inc.customer_status.as_ref().is_some_and(|s| s.is_empty()) {
                    bail!(
                        "field `{at}.incentive.customer_status`: an empty list offers the incentive to nobody; expected at least one status, or no list for all"
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const SAMPLE: &str = include_str!("../data/sample/flow.toml");

    #[test]
    fn sample_parses_and_round_trips() {
        let c = FlowConfig::parse(SAMPLE).unwrap();
        assert_eq!(c.arms.len(), 2);
        assert_eq!(c.holdout().weight, 0.1);
        let again = FlowConfig::parse(&c.to_toml().unwrap()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn a_branch_an_earlier_one_covers_is_refused() {
        let branches = |second: &str| {
            format!(
                "{SAMPLE}\n[[arms.branches]]\nname = \"big\"\n[arms.branches.when.cart_value]\nabove = 50\n\
                 [[arms.branches]]\nname = \"bigger\"\n{second}"
            )
        };
        let covered = branches("[arms.branches.when.cart_value]\nabove = 80\n");
        let e = format!("{:#}", FlowConfig::parse(&covered).unwrap_err());
        assert!(
            e.contains("branches[1]")
                && e.contains("(`bigger`) is never taken")
                && e.contains("branches[0]`"),
            "{e}"
        );
        let disjoint = branches("[arms.branches.when.cart_value]\nat_most = 20\n");
        FlowConfig::parse(&disjoint).unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let bad = SAMPLE.replace("weight = 0.9", "weight = 0.8");
        let e = format!("{:#}", FlowConfig::parse(&bad).unwrap_err());
        assert!(e.contains("arms[].weight"), "{e}");

        let bad = SAMPLE.replace("abandon_after = \"1h\"", "abandon_after = \"1y\"");
        let e = format!("{:#}", FlowConfig::parse(&bad).unwrap_err());
        assert!(
            e.contains("abandon_after") && e.contains("unknown unit"),
            "{e}"
        );

        let bad = SAMPLE.replace("trigger = \"checkout_started\"", "trigger = \"page_view\"");
        let e = format!("{:#}", FlowConfig::parse(&bad).unwrap_err());
        assert!(e.contains("trigger"), "{e}");

        let bad = SAMPLE.replace("contribution_margin = 0.45", "contribution_margin = 45");
        let e = format!("{:#}", FlowConfig::parse(&bad).unwrap_err());
        assert!(e.contains("margin.contribution_margin"), "{e}");
    }

    #[test]
    fn meaningless_flows_are_refused_by_field() {
        let cases = [
            (
                SAMPLE.replace("abandon_after = \"1h\"", "abandon_after = \"115740741d\""),
                "flow.abandon_after",
            ),
            (
                SAMPLE.replace("shipping_cost = 6.0", "shipping_cost = 1e308"),
                "margin.shipping_cost",
            ),
            (
                SAMPLE.replace("name = \"abandoned-checkout\"", "name = \"a\\u0001b\""),
                "flow.name",
            ),
        ];
        for (text, field) in cases {
            assert_ne!(text, SAMPLE, "{field}: the sample changed");
            let e = format!("{:#}", FlowConfig::parse(&text).unwrap_err());
            assert!(e.contains(field), "{field}: {e}");
        }
        let explore = include_str!("../data/sample/explore.toml");
        let offer = "min_cart_value = 100.0,";
        assert!(explore.contains(offer));
        for (to, field) in [
            ("min_cart_value = nan,", "incentive.min_cart_value"),
            (
                "min_cart_value = 100.0, max_cart_value = 50.0,",
                "incentive.max_cart_value",
            ),
        ] {
            let e = format!(
                "{:#}",
                FlowConfig::parse(&explore.replacen(offer, to, 1)).unwrap_err()
            );
            assert!(e.contains(field), "{field}: {e}");
        }
        let mut c = FlowConfig::parse(SAMPLE).unwrap();
        c.arms.retain(|a| a.holdout);
        c.arms[0].weight = 1.0;
        let e = format!("{:#}", c.validate().unwrap_err());
        assert!(e.contains("treatment arm"), "{e}");
    }

    #[test]
    fn bands_label_values() {
        let s = Segments::default();
        assert_eq!(s.band_of(10.0), "<50");
        assert_eq!(s.band_of(50.0), "50-100");
        assert_eq!(s.band_of(250.0), ">=200");
    }
}
