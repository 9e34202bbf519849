//! Klaviyo flow definitions to and from the flow file (`FlowConfig`).
//!
//! * [`import`]: a `GET /api/flows/{id}?additional-fields[flow]=definition`
//!   response → `FlowConfig` (`cartlift flow import`).
//! * [`export`]: `FlowConfig` → the `POST /api/flows` request body
//!   (`cartlift flow export`, `report`'s `recommended_flow.klaviyo.json`).
//! * [`profiles`]: the profile-property CSV that gives each Klaviyo profile its
//!   arm (`cartlift assign --export klaviyo`).
//! * [`step_of_message`]: a Klaviyo message id (`$message`) → the step it sends.
//!
//! The holdout lives in Klaviyo as the profile property `cartlift_arm`
//! (written from the published bucket hash, `assign`) and a conditional split
//! on it at the start of the flow. Nothing outside this module knows Klaviyo's
//! flow format; translations that lose something say what in a warning.

pub mod definition;
mod export;
mod import;
pub mod incentive_tag;
pub mod profiles;

pub use definition::{metric_names, Definition, ARM_PROPERTY};
pub use export::{export, ExportOptions, Exported};
pub use import::{import, ImportOptions, Imported};

use crate::config::FlowConfig;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads a JSON document (a flow, a metrics listing, an events page);
/// errors name the file.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a JSON document", path.display()))
}

/// Reads a Klaviyo flow definition file; errors name the file and the JSON path.
pub fn read_definition(path: &Path) -> Result<Definition> {
    let doc = read_json(path)?;
    Definition::from_json(&doc).with_context(|| format!("Klaviyo flow {}", path.display()))
}

/// Where a Klaviyo message sits in the flow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageStep {
    /// The arm whose step it is.
    pub arm: String,
    /// 1-based step number (`flow_step` of the canonical events).
    pub step: u32,
    /// `email`, `sms` or `push`.
    pub channel: String,
}

/// Every Klaviyo message id the flow file records (`klaviyo_message_ids`
/// of its steps) → arm and step, ordered by message id.
pub fn message_steps(config: &FlowConfig) -> BTreeMap<String, MessageStep> {
    let mut out = BTreeMap::new();
    for arm in &config.arms {
        for s in &arm.steps {
            for id in &s.klaviyo_message_ids {
                out.entry(id.clone()).or_insert_with(|| MessageStep {
                    arm: arm.name.clone(),
                    step: s.step,
                    channel: s.channel.clone(),
                });
            }
        }
    }
    out
}

/// The step a Klaviyo message event belongs to: its `$message` property →
/// arm and step. When `flow_id` (the event's `$flow`) is given and the flow
/// file records its Klaviyo flow id (`[klaviyo] flow_id`), a message of
/// another flow gives `None`, as does a message id the file does not record.
pub fn step_of_message(
    config: &FlowConfig,
    flow_id: Option<&str>,
    message_id: &str,
) -> Option<MessageStep> {
    let ours = config.klaviyo.as_ref().and_then(|k| k.flow_id.as_deref());
    if let (Some(theirs), Some(ours)) = (flow_id, ours) {
        if theirs != ours {
            return None;
        }
    }
    config.arms.iter().find_map(|arm| {
        arm.steps
            .iter()
            .find(|s| s.klaviyo_message_ids.iter().any(|m| m == message_id))
            .map(|s| MessageStep {
                arm: arm.name.clone(),
                step: s.step,
                channel: s.channel.clone(),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SAMPLE;

    const EXPLORE: &str = include_str!("../../data/sample/explore.toml");
    const SMS: &str = include_str!("../../tests/data/flows/klaviyo_sms.toml");

    fn round_trip(text: &str) {
        let config = FlowConfig::parse(text).unwrap();
        let out = export(&config, &ExportOptions::default()).unwrap();
        let def = Definition::from_json(&out.body).unwrap();
        assert_eq!(def, out.definition);
        let back = import(
            &def,
            &ImportOptions {
                base: Some(&config),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(back.warnings, Vec::<String>::new());
        assert_eq!(back.config.to_toml().unwrap(), config.to_toml().unwrap());
    }

    #[test]
    fn flows_round_trip_through_klaviyo() {
        round_trip(SAMPLE);
        round_trip(EXPLORE);
        round_trip(SMS);
    }

    #[test]
    fn export_is_deterministic_and_holds_out_first() {
        let config = FlowConfig::parse(EXPLORE).unwrap();
        let a = serde_json::to_string(&export(&config, &ExportOptions::default()).unwrap().body)
            .unwrap();
        let b = serde_json::to_string(&export(&config, &ExportOptions::default()).unwrap().body)
            .unwrap();
        assert_eq!(a, b);
        let def = export(&config, &ExportOptions::default())
            .unwrap()
            .definition;
        let entry = def.action(def.entry.as_deref().unwrap()).unwrap();
        match &entry.kind {
            definition::Kind::ArmSplit { arm, yes, .. } => {
                assert_eq!(arm, "holdout");
                assert_eq!(*yes, None, "the holdout goes straight to the exit");
            }
            k => panic!("entry is {k:?}"),
        }
        // 100.0 is written with its decimal point: the schema's oneOf
        // integer/number accepts only that form.
        assert!(a.contains("\"value\":100.0"), "{a}");
    }

    #[test]
    fn a_flow_too_large_for_klaviyo_is_an_error_naming_the_arm() {
        let mut config = FlowConfig::parse(SAMPLE).unwrap();
        let template = config.arms[1].steps[3].clone();
        config.arms[1].steps = (1..=12)
            .map(|i| {
                let mut s = template.clone();
                s.step = i;
                s.delay = crate::duration::Span::from_hours(i as i64);
                if let Some(inc) = &mut s.incentive {
                    inc.max_cart_value = Some(500.0);
                }
                s
            })
            .collect();
        let e = export(&config, &ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("arm `flow`") && e.contains("at most 5000"),
            "{e}"
        );
        config.arms[1].steps.truncate(5);
        let out = export(&config, &ExportOptions::default()).unwrap();
        assert!(out.definition.actions.len() <= definition::MAX_ACTIONS);
    }

    #[test]
    fn messages_map_to_steps() {
        let mut config = FlowConfig::parse(SAMPLE).unwrap();
        config.klaviyo = Some(crate::config::KlaviyoLink {
            flow_id: Some("F1".into()),
            trigger_metric_id: None,
        });
        config.arms[1].steps[3].klaviyo_message_ids = vec!["M4a".into(), "M4b".into()];
        let s = step_of_message(&config, Some("F1"), "M4b").unwrap();
        assert_eq!((s.arm.as_str(), s.step), ("flow", 4));
        assert_eq!(step_of_message(&config, Some("F2"), "M4b"), None);
        assert_eq!(step_of_message(&config, None, "M9"), None);
        assert_eq!(message_steps(&config).len(), 2);
    }
}
