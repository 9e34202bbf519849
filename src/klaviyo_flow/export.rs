//! `FlowConfig` → Klaviyo definition (`POST /api/flows` body).
//!
//! The flow starts with one conditional split per arm on the profile
//! property `cartlift_arm`: the holdout's branch goes straight to the exit,
//! each other arm's branch sends its steps, and what follows the last split
//! (profiles with no arm yet) sends the first treatment arm, the production
//! flow. Each step is a `time-delay` (the gap since the step before) and a
//! send; an incentive limited to a cart-value range becomes a `trigger-split`
//! on the trigger event's `$value`, the incentive's message on one branch and
//! the plain one on the other, the rest of the arm repeated on both (Klaviyo
//! branches do not join again).

use super::definition::MAX_ACTIONS;
use super::definition::{Action, Definition, Kind, Op, Reentry};
use super::incentive_tag;
use crate::config::{Arm, FlowConfig, Step};
use anyhow::{bail, Result};

/// What the export needs beyond the flow file.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The account's id of the trigger metric; else `[klaviyo]
    /// trigger_metric_id`; else a placeholder, with a warning.
    pub trigger_metric_id: Option<String>,
}

/// The definition, its create body and what it could not express.
#[derive(Debug, Clone)]
pub struct Exported {
    pub definition: Definition,
    /// The `POST /api/flows` request body.
    pub body: serde_json::Value,
    pub warnings: Vec<String>,
}

struct Builder {
    actions: Vec<Option<Action>>,
    warnings: Vec<String>,
}

/// Translates a flow file into a Klaviyo create-flow body; what Klaviyo
/// cannot express is listed in `warnings`. Fails only when the flow would
/// need more than [`MAX_ACTIONS`] actions (each incentive range splits the
/// rest of its arm in two).
pub fn export(config: &FlowConfig, opts: &ExportOptions) -> Result<Exported> {
    if let Some(arm) = config.arms.iter().find(|a| !a.branches.is_empty()) {
        bail!(
            "arm `{}` has conditional branches (a learned targeting policy); the Klaviyo export does not translate branches yet: export a flow with one list of steps per arm",
            arm.name
        );
    }
    for arm in &config.arms {
        let n = actions_needed(&arm.steps);
        if n > MAX_ACTIONS as f64 {
            bail!(
                "arm `{}`: its incentive ranges need about {n:.0} Klaviyo actions (each range splits the rest of the arm in two); expected at most {MAX_ACTIONS}",
                arm.name
            );
        }
    }
    let mut b = Builder {
        actions: Vec::new(),
        warnings: Vec::new(),
    };
    let metric = opts.trigger_metric_id.clone().or_else(|| {
        config
            .klaviyo
            .as_ref()
            .and_then(|k| k.trigger_metric_id.clone())
    });
    if metric.is_none() {
        let name = match config.flow.trigger {
            crate::config::Trigger::CheckoutStarted => "Started Checkout",
            crate::config::Trigger::CartUpdated => "Added to Cart",
        };
        b.warnings.push(format!(
            "the account's {name} metric id is unknown: the body names it `{}`; replace it (GET /api/metrics lists the ids) or pass --trigger-metric-id",
            super::definition::UNKNOWN_METRIC_ID
        ));
    }
    if let Some(cap) = &config.flow.frequency_cap {
        b.warnings.push(format!(
            "flow.frequency_cap ({} messages per {}) has no equivalent in a Klaviyo flow; Klaviyo's Smart Sending (left on in every message) is the nearest",
            cap.max_messages, cap.per
        ));
    }
    let treatments: Vec<&Arm> = config.arms.iter().filter(|a| !a.holdout).collect();
    let entry = b.arms(config.holdout(), &treatments);
    let reentry = b.reentry(config);
    let definition = Definition {
        flow_id: None,
        name: config.flow.name.clone(),
        trigger_metric_id: metric,
        reentry: Some(reentry),
        entry,
        actions: b.actions.into_iter().map(|a| a.expect("filled")).collect(),
    };
    Ok(Exported {
        body: definition.to_create_body(),
        definition,
        warnings: b.warnings,
    })
}

/// Actions the steps need: per step a delay, its value splits and one send
/// per branch, each followed by a copy of the rest.
fn actions_needed(steps: &[Step]) -> f64 {
    steps.iter().rev().fold(0.0, |rest, s| {
        let range = s
            .incentive
            .as_ref()
            .map(|i| (i.min_cart_value, i.max_cart_value));
        let (splits, sends) = match range {
            Some((Some(_), Some(_))) => (2.0, 3.0),
            Some((Some(_), None)) | Some((None, Some(_))) => (1.0, 2.0),
            _ => (0.0, 1.0),
        };
        1.0 + splits + sends * (1.0 + rest)
    })
}

impl Builder {
    fn reserve(&mut self) -> usize {
        self.actions.push(None);
        self.actions.len() - 1
    }

    fn put(&mut self, slot: usize, kind: Kind) -> String {
        let id = format!("action-{}", slot + 1);
        self.actions[slot] = Some(Action {
            id: id.clone(),
            kind,
        });
        id
    }

    fn id(slot: usize) -> String {
        format!("action-{}", slot + 1)
    }

    /// The arm splits; returns the entry action.
    fn arms(&mut self, holdout: &Arm, treatments: &[&Arm]) -> Option<String> {
        let first = self.reserve();
        let mut splits = Vec::new();
        for arm in treatments.iter().skip(1) {
            let slot = self.reserve();
            let yes = self.steps(arm, 0, 0);
            splits.push((slot, arm.name.clone(), yes));
        }
        let fallback = match treatments.first() {
            Some(arm) => self.steps(arm, 0, 0),
            None => None,
        };
        let mut no = fallback;
        for (slot, arm, yes) in splits.into_iter().rev() {
            no = Some(self.put(slot, Kind::ArmSplit { arm, yes, no }));
        }
        let entry = self.put(
            first,
            Kind::ArmSplit {
                arm: holdout.name.clone(),
                yes: None,
                no,
            },
        );
        debug_assert_eq!(entry, Self::id(first));
        Some(entry)
    }

    /// Step `i` of `arm` on, after `prev` seconds since the trigger.
    fn steps(&mut self, arm: &Arm, i: usize, prev: i64) -> Option<String> {
        let s = arm.steps.get(i)?;
        if !matches!(s.channel.as_str(), "email" | "sms" | "push") {
            self.warn(format!(
                "arm `{}` step {}: channel `{}` has no Klaviyo send action (email, sms, push): the step is left out",
                arm.name, s.step, s.channel
            ));
            return self.steps(arm, i + 1, prev);
        }
        let at = self.minutes(arm, s);
        let gap = at - prev;
        if gap > 0 {
            let slot = self.reserve();
            let next = self.sends(arm, i, at);
            Some(self.put(
                slot,
                Kind::Delay {
                    seconds: gap,
                    calendar: None,
                    next,
                },
            ))
        } else {
            self.sends(arm, i, at)
        }
    }

    /// The step's delay in whole minutes (Klaviyo's finest unit), rounded up.
    fn minutes(&mut self, arm: &Arm, s: &Step) -> i64 {
        let secs = s.delay.seconds();
        if secs % 60 != 0 {
            self.warn(format!(
                "arm `{}` step {}: delay {} is not whole minutes; Klaviyo's delays are: rounded up",
                arm.name, s.step, s.delay
            ));
        }
        secs.saturating_add(59) / 60 * 60
    }

    /// The send of step `i` (behind value splits when its incentive has a range).
    fn sends(&mut self, arm: &Arm, i: usize, at: i64) -> Option<String> {
        let s = &arm.steps[i];
        let Some(inc) = &s.incentive else {
            return Some(self.send(arm, i, at, false));
        };
        if let Some(statuses) = &inc.customer_status {
            self.warn(format!(
                "arm `{}` step {}: the incentive is offered only to customer status {}; a Klaviyo flow has no such field: the exported flow offers it to every status in its cart-value range",
                arm.name,
                s.step,
                statuses.join(", ")
            ));
        }
        match (inc.min_cart_value, inc.max_cart_value) {
            (None, None) => Some(self.send(arm, i, at, true)),
            (Some(lo), None) => Some(self.value_split(arm, i, at, Op::Ge, lo, None)),
            (None, Some(hi)) => Some(self.value_split(arm, i, at, Op::Lt, hi, None)),
            (Some(lo), Some(hi)) => Some(self.value_split(arm, i, at, Op::Ge, lo, Some(hi))),
        }
    }

    /// `$value OP t`: the incentive's message on `yes` (behind `< hi` when
    /// given), the plain message on `no`.
    fn value_split(
        &mut self,
        arm: &Arm,
        i: usize,
        at: i64,
        op: Op,
        t: f64,
        hi: Option<f64>,
    ) -> String {
        let slot = self.reserve();
        let yes = match hi {
            Some(hi) => self.value_split(arm, i, at, Op::Lt, hi, None),
            None => self.send(arm, i, at, true),
        };
        let no = self.send(arm, i, at, false);
        self.put(
            slot,
            Kind::ValueSplit {
                op,
                threshold: t,
                yes: Some(yes),
                no: Some(no),
            },
        )
    }

    fn send(&mut self, arm: &Arm, i: usize, at: i64, with_incentive: bool) -> String {
        let slot = self.reserve();
        let s = &arm.steps[i];
        let incentive = s.incentive.as_ref().filter(|_| with_incentive);
        let name = incentive_tag::format(s.message.as_deref(), incentive);
        let label = name.clone().unwrap_or_else(|| format!("step {}", s.step));
        let content = if s.klaviyo_message_ids.is_empty() {
            format!(
                "cartlift placeholder: write `{label}` (arm {}, step {}) here",
                arm.name, s.step
            )
        } else {
            format!(
                "cartlift placeholder: copy the content of Klaviyo message {} (`{label}`)",
                s.klaviyo_message_ids.join(" or ")
            )
        };
        let next = self.steps(arm, i + 1, at);
        self.put(
            slot,
            Kind::Send {
                channel: s.channel.clone(),
                name,
                message_id: None,
                status: Some("draft".into()),
                ab_test: None,
                content,
                next,
            },
        )
    }

    fn reentry(&mut self, config: &FlowConfig) -> Reentry {
        let s = config.flow.reentry_cooldown.seconds();
        if s == 0 {
            return Reentry::Always;
        }
        if s % 3600 != 0 {
            self.warn(format!(
                "flow.reentry_cooldown {} is not whole hours, Klaviyo's finest re-entry unit: rounded up",
                config.flow.reentry_cooldown
            ));
        }
        Reentry::After(s.saturating_add(3599) / 3600 * 3600)
    }

    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }
}
