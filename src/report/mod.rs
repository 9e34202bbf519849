//! The one-command job: events → ingest → paths → lift, with every output
//! written to one folder and a headline people can read.

use crate::config::FlowConfig;
use crate::events::ingest::{self, IngestOptions, IngestReport, Quarantine};
use crate::flow::{self, audit::Audit, table::EventTable};
use crate::lift::{self, LiftOptions, LiftReport};
use crate::stats::Interval;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The bundled sample, embedded so `cartlift demo` works from anywhere.
pub const SAMPLE_FLOW: &str = include_str!("../../data/sample/flow.toml");
pub const SAMPLE_EVENTS: &str = include_str!("../../data/sample/events.csv");

/// What the flow earned that would not have happened anyway, per treatment.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub treatment: String,
    pub recipients: u64,
    pub revenue_per_recipient: Option<Estimate>,
    pub net_contribution_per_recipient: Option<Estimate>,
    /// Per-recipient effect × recipients: the flow's incremental total.
    pub incremental_revenue: Option<Estimate>,
    pub incremental_net_contribution: Option<Estimate>,
    pub conversion_rate_lift: Option<Estimate>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub ci: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cartlift_version: &'static str,
    pub flow: String,
    pub ingest: IngestReport,
    pub entries: u64,
    pub audit: Audit,
    pub headline: Vec<Headline>,
    pub lift: LiftReport,
}

fn estimate(report: &LiftReport, treatment: &str, metric: &str, scale: f64) -> Option<Estimate> {
    let r = report
        .results
        .iter()
        .find(|r| r.treatment == treatment && r.metric == metric && r.segment.dimension == "all")?;
    let a = r.absolute.as_ref()?;
    Some(Estimate {
        estimate: a.estimate * scale,
        ci: Interval {
            lower: a.ci.lower * scale,
            upper: a.ci.upper * scale,
        },
    })
}

pub fn headlines(report: &LiftReport, config: &FlowConfig) -> Vec<Headline> {
    config
        .arms
        .iter()
        .filter(|a| !a.holdout)
        .map(|arm| {
            let n = report.units.get(&arm.name).copied().unwrap_or(0);
            Headline {
                treatment: arm.name.clone(),
                recipients: n,
                revenue_per_recipient: estimate(report, &arm.name, "revenue_per_recipient", 1.0),
                net_contribution_per_recipient: estimate(
                    report,
                    &arm.name,
                    "net_contribution_per_recipient",
                    1.0,
                ),
                incremental_revenue: estimate(report, &arm.name, "revenue_per_recipient", n as f64),
                incremental_net_contribution: estimate(
                    report,
                    &arm.name,
                    "net_contribution_per_recipient",
                    n as f64,
                ),
                conversion_rate_lift: estimate(report, &arm.name, "conversion_rate", 1.0),
            }
        })
        .collect()
}

/// Runs the whole job on event files and writes every output into `out`.
pub fn run(inputs: &[PathBuf], config: &FlowConfig, out: &Path) -> Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut quarantine = Quarantine::to_file(&out.join("quarantine.csv"))?;
    let (events, ingest_report) =
        ingest::ingest(inputs, &IngestOptions::default(), &mut quarantine)?;
    quarantine.finish()?;
    let table = EventTable::from_events(&events);
    let mut tables = flow::reconstruct(&table, config)?;
    flow::write_table(&mut tables.carts, &out.join("carts.parquet"))?;
    flow::write_table(&mut tables.touches, &out.join("touches.parquet"))?;
    let opts = LiftOptions {
        cuped: true,
        sequential_planned: Some(tables.carts.height() as f64),
        ..LiftOptions::default()
    };
    let segments = vec!["cart_value_band".to_string(), "customer_status".to_string()];
    let lift_report = lift::analyze_carts(&tables.carts, config, &segments, &opts)?;
    write_json(&out.join("lift.json"), &lift_report)?;
    write_json(&out.join("audit.json"), &tables.audit)?;
    let summary = Summary {
        cartlift_version: env!("CARGO_PKG_VERSION"),
        flow: config.flow.name.clone(),
        ingest: ingest_report,
        entries: tables.carts.height() as u64,
        audit: tables.audit,
        headline: headlines(&lift_report, config),
        lift: lift_report,
    };
    write_json(&out.join("summary.json"), &summary)?;
    std::fs::write(out.join("recommended_flow.toml"), config.to_toml()?).with_context(|| {
        format!(
            "cannot write {}",
            out.join("recommended_flow.toml").display()
        )
    })?;
    Ok(summary)
}

/// The bundled sample through the whole job.
pub fn demo(out: &Path) -> Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let flow_path = out.join("flow.toml");
    let events_path = out.join("events.csv");
    std::fs::write(&flow_path, SAMPLE_FLOW)?;
    std::fs::write(&events_path, SAMPLE_EVENTS)?;
    let config = FlowConfig::parse(SAMPLE_FLOW)?;
    run(&[events_path], &config, out)
}

/// A few lines a person reads first.
pub fn render_headline(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{}", summary.ingest.summary_line());
    let _ = writeln!(s, "{} flow entries", summary.entries);
    for h in &summary.headline {
        let _ = writeln!(
            s,
            "\n{} ({} recipients) against the holdout:",
            h.treatment, h.recipients
        );
        let line = |label: &str, e: &Option<Estimate>, unit: &str| match e {
            Some(e) => format!(
                "  {label:<42} {unit}{:>10.2}   95% CI [{unit}{:.2}, {unit}{:.2}]\n",
                e.estimate, e.ci.lower, e.ci.upper
            ),
            None => format!("  {label:<42} not estimable\n"),
        };
        s.push_str(&line(
            "incremental revenue (what would not have happened)",
            &h.incremental_revenue,
            "$",
        ));
        s.push_str(&line(
            "incremental net contribution",
            &h.incremental_net_contribution,
            "$",
        ));
        s.push_str(&line(
            "revenue per recipient",
            &h.revenue_per_recipient,
            "$",
        ));
        if let Some(c) = &h.conversion_rate_lift {
            let _ = writeln!(
                s,
                "  {:<42} {:>+10.2} pp  95% CI [{:+.2}, {:+.2}]",
                "conversion rate",
                c.estimate * 100.0,
                c.ci.lower * 100.0,
                c.ci.upper * 100.0
            );
        }
    }
    s
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
