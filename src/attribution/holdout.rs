//! Every model's credit beside the holdout's measured incremental revenue:
//! how much each over-credits, and its credit calibrated so the steps add up
//! to what the flow really earned.

use super::Credit;
use crate::stats::Interval;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ModelVsHoldout {
    pub model: String,
    /// Revenue the model credits to the flow (all channels).
    pub credited_revenue: f64,
    /// credited / incremental: 3.0 means the model claims three times what
    /// the flow really earned.
    pub over_attribution_ratio: Option<f64>,
    pub channels: Vec<ChannelVsHoldout>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelVsHoldout {
    pub channel: String,
    pub credited_revenue: f64,
    /// The model's share of the credit times the holdout's incremental revenue.
    pub calibrated_revenue: f64,
    pub calibrated_ci: Option<Interval>,
}

/// Side by side: `incremental` is the holdout-measured incremental revenue
/// of the same recipients, with its interval.
pub fn side_by_side(
    credits: &[Credit],
    channels: &[String],
    incremental: f64,
    ci: Option<Interval>,
) -> Vec<ModelVsHoldout> {
    credits
        .iter()
        .map(|credit| {
            let total: f64 = credit.value.iter().sum();
            let share = |v: f64| if total > 0.0 { v / total } else { 0.0 };
            ModelVsHoldout {
                model: credit.model.clone(),
                credited_revenue: total,
                over_attribution_ratio: (incremental.abs() > f64::EPSILON)
                    .then(|| total / incremental),
                channels: channels
                    .iter()
                    .zip(&credit.value)
                    .map(|(name, &v)| ChannelVsHoldout {
                        channel: name.clone(),
                        credited_revenue: v,
                        calibrated_revenue: share(v) * incremental,
                        calibrated_ci: ci.map(|i| Interval {
                            lower: share(v) * i.lower,
                            upper: share(v) * i.upper,
                        }),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// One treatment arm's attribution report.
#[derive(Debug, Clone, Serialize)]
pub struct FlowAttribution {
    pub arm: String,
    pub rule: super::journeys::JourneyRule,
    pub journeys: usize,
    /// Per model, credit per step or channel (layout of `credit_to_json`).
    pub credit: serde_json::Value,
    /// The holdout's incremental revenue for this arm's recipients.
    pub incremental_revenue: Option<crate::report::Estimate>,
    pub side_by_side: Vec<ModelVsHoldout>,
}

/// Models by the names reports use (`first_touch`, `markov_order_2`, `shapley`, …).
pub fn model_by_name(name: &str) -> Option<Box<dyn super::AttributionModel>> {
    use super::*;
    Some(match name {
        "first_touch" | "first" => Box::new(FirstTouch),
        "last_touch" | "last" => Box::new(LastTouch),
        "linear" => Box::new(Linear),
        "position_based" | "position" => Box::new(PositionBased),
        "time_decay" => Box::new(TimeDecay::default()),
        "shapley" => Box::new(Shapley::unordered()),
        "shapley_ordered" => Box::new(Shapley::ordered()),
        "markov" => Box::new(Markov::order(1)),
        other => {
            let k: usize = other
                .strip_prefix("markov_order_")
                .or_else(|| other.strip_prefix("markov_"))?
                .parse()
                .ok()?;
            if !(1..=MAX_ORDER).contains(&k) {
                return None;
            }
            Box::new(Markov::order(k))
        }
    })
}

/// Attribution of every treatment arm's journeys, beside the holdout.
pub fn attribute_flow(
    carts: &polars::prelude::DataFrame,
    touches: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
    rule: &super::journeys::JourneyRule,
    models: &[Box<dyn super::AttributionModel>],
) -> anyhow::Result<Vec<FlowAttribution>> {
    let lift =
        crate::lift::analyze_carts(carts, config, &[], &crate::lift::LiftOptions::default())?;
    let headlines = crate::report::headlines(&lift, config);
    let mut out = Vec::new();
    for arm in config.arms.iter().filter(|a| !a.holdout) {
        let paths = super::journeys::journeys(carts, touches, &arm.name, rule)?;
        let credits = super::attribute_all(models, &paths);
        let incremental = headlines
            .iter()
            .find(|h| h.treatment == arm.name)
            .and_then(|h| h.incremental_revenue);
        let side = match incremental {
            Some(e) => side_by_side(&credits, &paths.channels, e.estimate, Some(e.ci)),
            None => Vec::new(),
        };
        out.push(FlowAttribution {
            arm: arm.name.clone(),
            rule: rule.clone(),
            journeys: paths.paths.len(),
            credit: super::credit_to_json(&credits, &paths.channels),
            incremental_revenue: incremental,
            side_by_side: side,
        });
    }
    Ok(out)
}
