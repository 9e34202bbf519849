//! Policy: which carts deserve an incentive, and which treatment each
//! segment should get, measured from randomized arms against the holdout
//! and written back as the next flow file.
//!
//! The carts table is reduced once to sufficient statistics per segment
//! (cart-value band × customer status) and arm ([`cells`]). In each segment
//! the arms that gave the same treatment are pooled ([`treatment`]); each
//! arm is measured against the holdout with the discount cost split into
//! what converted shoppers and what subsidized buyers who would have bought
//! anyway ([`segment`]). A policy is what one flow arm can express: a tested
//! arm, or the template's incentive offered over a cart-value interval and a
//! set of statuses, or no incentive. Its expected net contribution per entry
//! is the entry-weighted sum over segments of the tested treatment it would
//! give each segment ([`choose`]). The recommendation follows [`rule`], and
//! [`next_flow`] writes it as a flow file.
//!
//! Units are customers, as in lift. Segments are treated as independent in
//! policy-level intervals (a customer with carts in two segments makes them
//! slightly dependent); segment shares are taken as known.
//!
//! Not modelled: margins per product category (the canonical schema has no
//! category column, so one contribution margin applies to every cart).

pub mod cells;
pub mod choose;
pub mod estimate;
pub(crate) mod next;
pub mod segment;
pub mod treatment;

pub use next::next_flow;

use crate::config::{Arm, FlowConfig, Guardrails, Margin, Step};
use anyhow::{bail, Result};
use cells::{Cell, C};
use estimate::Estimate;
use polars::prelude::DataFrame;
use serde::Serialize;
use std::collections::BTreeSet;
use treatment::Band;

#[derive(Debug, Clone)]
pub struct PolicyOptions {
    pub alpha: f64,
    /// The arm running today; the first treatment arm in the flow file when `None`.
    pub current: Option<String>,
    /// Share of traffic for an exploration arm in the next flow (0: none).
    pub explore: f64,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            alpha: 0.05,
            current: None,
            explore: 0.0,
        }
    }
}

pub const NOT_MODELLED: &str = "margins per product category: the canonical schema has no category column, so one contribution margin applies to every cart";

/// The decision rule, as the report and the next flow file state it.
pub fn rule(alpha: f64) -> String {
    let level = (1.0 - alpha) * 100.0;
    format!(
        "The baseline policy gives each segment (cart-value band × customer status) its cheapest tested treatment: no incentive before any, then the least discount paid per entry, the current arm's among equals; a segment without data keeps the current arm's. A policy one flow arm can express (a tested arm; the template's incentive offered to a cart-value interval with ends on band edges and a set of customer statuses; the template without its incentive) replaces it only when the lower {level}% bound of its gain in net contribution per entry over the baseline policy is above 0 (summed over the segments where they differ; customers as units, delta method, Welch–Satterthwaite), so a discount must earn its cost and the current arm changes only for a cheaper treatment or on that evidence. Among the baseline and the policies that pass, within the unsubscribe and complaint rates per message of [guardrails], the highest estimated net contribution per entry is recommended; ties go to the one paying less discount."
    )
}

/// The whole analysis, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    pub flow: String,
    pub currency: String,
    pub alpha: f64,
    pub rule: String,
    pub holdout: String,
    pub current_arm: String,
    pub margin: Margin,
    pub guardrails: Guardrails,
    pub not_modelled: Vec<&'static str>,
    /// Entries with a cart value (the ones analyzed).
    pub entries: u64,
    pub entries_without_cart_value: u64,
    pub segments: Vec<SegmentReport>,
    /// Net contribution per entry against the incentive threshold, per template.
    pub curve: Vec<choose::CurvePoint>,
    /// Every distinct policy evaluated.
    pub candidates: Vec<choose::CandidateReport>,
    pub recommendation: choose::Recommendation,
    pub exploration: Option<choose::Exploration>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentReport {
    pub cart_value_band: String,
    pub customer_status: String,
    pub entries: u64,
    pub customers: u64,
    /// Share of the measured entries (the segment's weight in a policy's value).
    pub share: f64,
    pub holdout_entries: u64,
    /// Each tested arm against the holdout.
    pub arms: Vec<ArmReport>,
    /// The distinct treatments the arms gave this segment, pooled.
    pub options: Vec<OptionReport>,
    /// What the current arm gives this segment.
    pub current: String,
    /// What it keeps without evidence: the cheapest tested treatment.
    pub baseline: String,
    pub recommended: String,
    /// Whether the recommendation differs from the current arm here.
    pub changed: bool,
    /// The difference in short, e.g. `step 2: no incentive → 10% off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// Recommended − current net contribution per entry here.
    pub gain: Estimate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmReport {
    pub arm: String,
    pub treatment: String,
    pub entries: u64,
    pub customers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_holdout: Option<segment::Versus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionReport {
    pub treatment: String,
    pub arms: Vec<String>,
    pub entries: u64,
    pub customers: u64,
    pub net_contribution_per_entry: Estimate,
    pub discount_per_entry: f64,
    pub unsubscribe_rate_per_message: f64,
    pub complaint_rate_per_message: f64,
    pub is_current: bool,
    pub is_baseline: bool,
    /// Against the baseline treatment; absent for the baseline itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain_vs_baseline: Option<Estimate>,
    /// Whether this segment's own evidence supports switching it to this
    /// treatment (lower bound of `gain_vs_baseline` above 0). Shown for
    /// reading; the rule tests whole policies, which pool segments.
    pub supported: bool,
}

/// One segment's data, with the treatments tested there.
pub(crate) struct Segment {
    pub band: Band,
    pub status: String,
    pub holdout: Cell,
    /// Every treatment arm's customers here (empty cells included).
    pub arms: Vec<(String, Cell)>,
    pub variants: Vec<Variant>,
    /// The variant the current arm gives this segment.
    pub current: usize,
    /// The variant the segment keeps without evidence (see `choose::baseline`).
    pub baseline: usize,
    /// Whether the baseline treatment has data here (≥ 2 customers).
    pub measured: bool,
    /// Per variant: its gain over the baseline, and whether that supports a switch.
    pub gains: Vec<Option<Estimate>>,
    pub supported: Vec<bool>,
}

impl Segment {
    pub fn label(&self) -> String {
        format!("{} × {}", self.band.label, self.status)
    }

    pub fn entries(&self) -> f64 {
        self.holdout.total(C::Entries)
            + self
                .arms
                .iter()
                .map(|(_, c)| c.total(C::Entries))
                .sum::<f64>()
    }

    fn customers(&self) -> f64 {
        self.holdout.n + self.arms.iter().map(|(_, c)| c.n).sum::<f64>()
    }
}

/// A distinct treatment of a segment and the arms that gave it.
pub(crate) struct Variant {
    pub steps: Vec<Step>,
    pub arms: Vec<String>,
    pub cell: Cell,
}

/// Every channel a step uses (an arm's own steps and its branches') has a
/// message cost: a policy weighs message costs against margin.
pub fn check_message_costs(config: &FlowConfig) -> Result<()> {
    for (i, arm) in config.arms.iter().enumerate() {
        let mut lists = vec![(format!("arms[{i}]"), &arm.steps)];
        for (b, branch) in arm.branches.iter().enumerate() {
            lists.push((format!("arms[{i}].branches[{b}]"), &branch.steps));
        }
        for (at, steps) in lists {
            for (j, s) in steps.iter().enumerate() {
                if !config.margin.message_cost.contains_key(&s.channel) {
                    bail!(
                        "field `margin.message_cost`: no cost for channel `{ch}` used by {at}.steps[{j}] (arm `{arm}`); the policy weighs message costs against margin, so every channel needs one, e.g. `{ch} = 0.002` (0 if it is free)",
                        ch = s.channel,
                        arm = arm.name
                    );
                }
            }
        }
    }
    Ok(())
}

/// Checks the flow file can drive a policy: every channel has a message
/// cost, and there are at least two treatment arms to choose between.
pub fn check_config(config: &FlowConfig) -> Result<()> {
    check_message_costs(config)?;
    if let Some(arm) = config.arms.iter().find(|a| !a.branches.is_empty()) {
        bail!(
            "arm `{}` has conditional branches: the segment policy compares each arm's one list of steps per cart-value band and status, and cannot read branches; use `policy --covariates` (the learned policy), which values each arm as it was run",
            arm.name
        );
    }
    let treatments: Vec<&str> = config
        .arms
        .iter()
        .filter(|a| !a.holdout)
        .map(|a| a.name.as_str())
        .collect();
    if treatments.len() < 2 {
        bail!(
            "field `arms`: a policy needs at least two randomized treatment arms that differ in what is tuned (incentive, its threshold, timing or steps); this flow has {} ({})",
            treatments.len(),
            treatments.join(", ")
        );
    }
    Ok(())
}

fn current_arm<'a>(config: &'a FlowConfig, name: Option<&str>) -> Result<&'a Arm> {
    let treatments = || {
        config
            .arms
            .iter()
            .filter(|a| !a.holdout)
            .map(|a| format!("`{}`", a.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => match config.arm(n) {
            Some(a) if !a.holdout => Ok(a),
            Some(_) => bail!(
                "--current {n}: that is the holdout; expected one of the treatment arms {}",
                treatments()
            ),
            None => bail!(
                "--current {n}: the flow has no such arm; expected one of {}",
                treatments()
            ),
        },
        None => Ok(config
            .arms
            .iter()
            .find(|a| !a.holdout)
            .expect("checked: two treatment arms")),
    }
}

/// Measures every arm and policy on a carts table and picks the next policy.
pub fn analyze(
    carts: &DataFrame,
    config: &FlowConfig,
    opts: &PolicyOptions,
) -> Result<PolicyReport> {
    check_config(config)?;
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        bail!(
            "--alpha: expected a level between 0 and 1, got {}",
            opts.alpha
        );
    }
    let holdout = config.holdout();
    let room = 1.0 - holdout.weight;
    if !(opts.explore >= 0.0 && opts.explore < room) {
        bail!(
            "--explore: expected a share from 0 up to below {room} (what the holdout leaves), got {}",
            opts.explore
        );
    }
    let current = current_arm(config, opts.current.as_deref())?;
    let reduced = cells::reduce(carts, config)?;
    let known: BTreeSet<&str> = config.arms.iter().map(|a| a.name.as_str()).collect();
    let unknown: BTreeSet<&str> = reduced
        .cells
        .keys()
        .map(|k| k.2.as_str())
        .filter(|a| !known.contains(a))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "the carts table has entries in arm(s) {} that the flow file does not list; expected the flow file the log was made with",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if reduced.entries == 0 {
        bail!("the carts table has no entries with a cart value; nothing to measure");
    }
    let mut warnings = Vec::new();
    if reduced.entries_without_cart_value > 0 {
        warnings.push(format!(
            "{} entries have no cart value, so no band; they are left out",
            reduced.entries_without_cart_value
        ));
    }
    for arm in &config.arms {
        if !reduced.cells.keys().any(|k| k.2 == arm.name) {
            warnings.push(format!("arm `{}` has no entries", arm.name));
        }
    }
    let segments = choose::segments(config, &reduced, current, opts.alpha);
    if segments.iter().all(|s| s.variants.len() < 2) {
        let names: Vec<String> = config
            .arms
            .iter()
            .filter(|a| !a.holdout)
            .map(|a| format!("`{}`", a.name))
            .collect();
        bail!(
            "arms {} give every segment the same treatment (same steps, timing and incentive reach; coupon codes aside): there is nothing to choose between; a policy needs randomized arms that differ in the incentive, its threshold, timing or steps",
            names.join(", ")
        );
    }
    let compared = segments
        .iter()
        .any(|s| s.variants.iter().filter(|v| v.cell.n >= 2.0).count() >= 2);
    if !compared {
        bail!("no segment has customers (at least 2) in two different treatments; nothing can be compared");
    }
    for s in &segments {
        if s.entries() == 0.0 {
            warnings.push(format!(
                "segment {}: no entries; it keeps the current treatment",
                s.label()
            ));
        } else if !s.measured {
            warnings.push(format!(
                "segment {}: fewer than 2 customers got any treatment to compare; it keeps the current one",
                s.label()
            ));
        }
    }
    choose::decide(config, current, &segments, &reduced, opts, warnings)
}

/// A few lines for the terminal: the changed segments and the recommendation.
pub fn render(r: &PolicyReport) -> String {
    use std::fmt::Write;
    let m = |x: f64| money(x, &r.currency);
    let interval = |e: &Estimate, f: &dyn Fn(f64) -> String| match e.ci {
        Some(c) => format!("[{}, {}]", f(c.lower), f(c.upper)),
        None => format!("(no interval: {})", e.error.as_deref().unwrap_or("")),
    };
    let ci = |e: &Estimate| interval(e, &|x| signed(x, &r.currency));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} entries in {} segments; current arm `{}`, holdout `{}`",
        r.entries,
        r.segments.len(),
        r.current_arm,
        r.holdout
    );
    for seg in &r.segments {
        if seg.changed {
            let _ = writeln!(
                s,
                "  {} × {}: {}, gain {} per entry {}",
                seg.cart_value_band,
                seg.customer_status,
                seg.change.as_deref().unwrap_or_default(),
                signed(seg.gain.estimate, &r.currency),
                ci(&seg.gain)
            );
        }
    }
    let rec = &r.recommendation;
    let _ = writeln!(s, "recommended: {}", rec.policy);
    let _ = writeln!(
        s,
        "  net contribution per entry {} {}",
        m(rec.net_contribution_per_entry.estimate),
        interval(&rec.net_contribution_per_entry, &m)
    );
    let _ = writeln!(
        s,
        "  gain over `{}` {} per entry {}",
        r.current_arm,
        signed(rec.gain_vs_current.estimate, &r.currency),
        ci(&rec.gain_vs_current)
    );
    if !rec.changed {
        let _ = writeln!(s, "  (no change: the evidence supports none)");
    }
    if let Some(x) = &r.exploration {
        let _ = writeln!(s, "exploration ({:.0}%): {}", x.weight * 100.0, x.policy);
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// `$1.23` for USD, `1.23 EUR` otherwise.
pub(crate) fn money(x: f64, currency: &str) -> String {
    let x = if x.abs() < 0.005 { 0.0 } else { x };
    if currency == "USD" {
        if x < 0.0 {
            format!("-${:.2}", -x)
        } else {
            format!("${x:.2}")
        }
    } else {
        format!("{x:.2} {currency}")
    }
}

/// `+$1.23`, `-$0.40`.
pub(crate) fn signed(x: f64, currency: &str) -> String {
    let text = money(x, currency);
    if text.starts_with('-') {
        text
    } else {
        format!("+{text}")
    }
}
