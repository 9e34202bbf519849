//! The next flow file: the input flow with its arms replaced by the holdout
//! (first, at its weight, so the same customers stay held out when it was
//! first before), the recommended treatment, and optionally an exploration
//! arm. Everything else, `[simulation]` included, is carried unchanged.
//! Comments at the top state the expected gain and its interval; the text
//! is checked to parse back with [`FlowConfig::parse`].

use super::{money, signed, PolicyReport};
use crate::config::{Arm, FlowConfig};
use anyhow::{Context, Result};

/// The next flow's TOML text, comments first.
pub fn next_flow(config: &FlowConfig, report: &PolicyReport, source: &str) -> Result<String> {
    let holdout = config.holdout().clone();
    let rec = &report.recommendation;
    let explore = report.exploration.as_ref();
    let explore_weight = explore.map_or(0.0, |x| x.weight);
    let mut arms = vec![
        holdout.clone(),
        Arm {
            name: rec.arm.clone(),
            weight: clean(1.0 - holdout.weight - explore_weight),
            holdout: false,
            steps: rec.steps.clone(),
            branches: Vec::new(),
        },
    ];
    if let Some(x) = explore {
        arms.push(Arm {
            name: x.arm.clone(),
            weight: x.weight,
            holdout: false,
            steps: x.steps.clone(),
            branches: Vec::new(),
        });
    }
    check_bucket_weights(&arms)?;
    let next = FlowConfig {
        arms,
        ..config.clone()
    };
    let body = next.to_toml()?;
    FlowConfig::parse(&body).context("the next flow file does not parse back (a bug)")?;
    let text = comments(report, source, &holdout, explore_weight) + "\n" + &body;
    // The whole file, comments included, must read back as it was meant.
    let again = FlowConfig::parse(&text)
        .context("the next flow file with its comments does not parse back (a bug)")?;
    anyhow::ensure!(
        again == next,
        "the next flow file reads back differently (a bug)"
    );
    Ok(text)
}

/// Assignment resolves weights to buckets of 1/10,000: an arm below one
/// bucket would get no customer. An error naming the arm and `--explore`.
pub(crate) fn check_bucket_weights(arms: &[Arm]) -> Result<()> {
    const BUCKET: f64 = 1e-4;
    if let Some(a) = arms.iter().find(|a| a.weight < BUCKET) {
        anyhow::bail!(
            "--explore: the next flow would give arm `{}` a weight of {}, below one assignment bucket ({BUCKET}), so no customer would get it; choose an --explore that leaves every arm at least {BUCKET}",
            a.name,
            a.weight
        );
    }
    Ok(())
}

/// A weight without float noise (0.85, not 0.8500000000000001); the sum
/// stays within the 1e-6 the flow file allows.
pub(crate) fn clean(w: f64) -> f64 {
    (w * 1e9).round() / 1e9
}

fn comments(r: &PolicyReport, source: &str, holdout: &Arm, explore_weight: f64) -> String {
    let cur = &r.currency;
    let rec = &r.recommendation;
    let level = format!("{}%", (1.0 - r.alpha) * 100.0);
    let interval = |e: &super::estimate::Estimate, sign: bool| match e.ci {
        Some(c) if sign => format!(
            "{level} CI [{}, {}]",
            signed(c.lower, cur),
            signed(c.upper, cur)
        ),
        Some(c) => format!(
            "{level} CI [{}, {}]",
            money(c.lower, cur),
            money(c.upper, cur)
        ),
        None => format!("no interval: {}", e.error.as_deref().unwrap_or("unknown")),
    };
    let mut lines = vec![
        format!(
            "Next flow written by `cartlift policy` from {source} ({} entries of flow `{}`).",
            r.entries, r.flow
        ),
        format!("Recommended treatment (arm `{}`): {}.", rec.arm, rec.policy),
        format!(
            "Expected net contribution per entry: {}, {}.",
            money(rec.net_contribution_per_entry.estimate, cur),
            interval(&rec.net_contribution_per_entry, false)
        ),
        format!(
            "Expected gain over the current arm `{}`: {} per entry, {} (about {} per 1,000 entries).",
            r.current_arm,
            signed(rec.gain_vs_current.estimate, cur),
            interval(&rec.gain_vs_current, true),
            signed(rec.gain_vs_current.estimate * 1000.0, cur)
        ),
    ];
    if rec.changed {
        lines.push(format!(
            "Segments changed: {}.",
            rec.changed_segments.join(", ")
        ));
    } else {
        lines.push(format!(
            "No segment changes: the evidence supports no change from `{}`.",
            r.current_arm
        ));
    }
    lines.push(format!("Rule: {}", r.rule));
    lines.push(format!(
        "The holdout `{}` keeps its weight ({}) for continuous measurement.",
        holdout.name, holdout.weight
    ));
    if let Some(x) = &r.exploration {
        lines.push(format!(
            "Exploration arm `{}` (weight {explore_weight}): {}; gain over the recommendation {} per entry, {}.",
            x.arm,
            x.policy,
            signed(x.gain_vs_recommended.estimate, cur),
            interval(&x.gain_vs_recommended, true)
        ));
    }
    let mut out = String::new();
    for line in lines {
        // Names and paths come from data: keep every comment one printable line.
        let line = crate::output::encode::toml_comment(&line);
        for wrapped in wrap(&line, 76) {
            out.push_str("# ");
            out.push_str(&wrapped);
            out.push('\n');
        }
    }
    out
}

/// Greedy word wrap; continuation lines are indented by two spaces.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        }
        if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_and_indents_continuations() {
        let w = wrap("a bb ccc dddd eeeee", 8);
        assert_eq!(w, ["a bb ccc", "  dddd", "  eeeee"]);
        assert_eq!(clean(1.0 - 0.1 - 0.05), 0.85);
    }
}
