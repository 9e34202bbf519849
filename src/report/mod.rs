//! The one-command job: events → ingest → paths → lift and attribution,
//! with every output written to one folder, a headline people can read and
//! `index.html`, the page built from `summary.json` alone.
//!
//! Code map: `mod.rs` runs the job and owns [`Summary`]; [`timeline`],
//! [`funnel`] and [`stamp`] add the report's own analyses; [`charts`] draws
//! SVG with plotters, [`raster`] renders it to PNG, [`page`] writes the HTML.

pub mod charts;
pub mod format;
pub mod funnel;
pub mod page;
pub mod raster;
pub mod stamp;
pub mod timeline;

use crate::attribution::holdout::{attribute_flow, FlowAttribution};
use crate::attribution::journeys::{By, Interaction, JourneyRule};
use crate::config::FlowConfig;
use crate::events::ingest::{self, IngestOptions, IngestReport, Quarantine};
use crate::flow::{self, audit::Audit, table::EventTable, FlowTables};
use crate::lift::{self, LiftOptions, LiftReport};
use crate::stats::Interval;
use anyhow::{Context, Result};
use funnel::{StepFunnel, StepGuardrail};
use serde::Serialize;
use stamp::Stamp;
use std::path::{Path, PathBuf};
use timeline::Timeline;

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
    pub currency: String,
    pub ingest: IngestReport,
    pub entries: u64,
    pub audit: Audit,
    pub headline: Vec<Headline>,
    pub lift: LiftReport,
    /// Every standard attribution model beside the holdout, per treatment.
    pub attribution: Vec<FlowAttribution>,
    /// Cumulative incremental revenue by entry date, per treatment.
    pub timeline: Vec<Timeline>,
    pub funnel: Vec<StepFunnel>,
    /// Unsubscribe and complaint rates per message, per treatment step.
    pub guardrails: Vec<StepGuardrail>,
    /// The incentive and timing policy, when the flow's arms can tell one.
    pub policy: Option<crate::policy::PolicyReport>,
    /// Why there is no policy (e.g. a single treatment arm), in words.
    pub policy_note: Option<String>,
    pub stamp: Stamp,
}

/// Segments the report's lift is broken down by.
pub const SEGMENTS: [&str; 2] = ["cart_value_band", "customer_status"];

/// The report's lift options: CUPED on pre-period spend, and confidence
/// sequences tuned to the entries at hand. `cartlift lift --cuped
/// --sequential --planned-n ENTRIES --segment-by cart_value_band,customer_status`
/// gives the same numbers.
pub fn lift_options(entries: usize) -> LiftOptions {
    LiftOptions {
        cuped: true,
        sequential_planned: Some(entries as f64),
        ..LiftOptions::default()
    }
}

/// The journeys attribution runs on: every message sent, named by step, no
/// lookback (the defaults of `cartlift attribute`).
pub fn journey_rule() -> JourneyRule {
    JourneyRule {
        interaction: Interaction::Send,
        lookback: None,
        by: By::Step,
    }
}

fn estimate(report: &LiftReport, treatment: &str, metric: &str, scale: f64) -> Option<Estimate> {
    let r = report
        .results
        .iter()
        .find(|r| r.treatment == treatment && r.metric == metric && r.segment.dimension == "all")?;
    // The calibrated headline (lift::LiftResult::headline), not Welch.
    let (estimate, ci) = (r.headline.estimate?, r.headline.ci?);
    Some(Estimate {
        estimate: estimate * scale,
        ci: Interval {
            lower: ci.lower * scale,
            upper: ci.upper * scale,
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

/// What one report is made from.
pub struct Job<'a> {
    pub inputs: &'a [PathBuf],
    pub config: &'a FlowConfig,
    /// The flow file as written, hashed into the stamp; without it the stamp
    /// hashes the normalized config.
    pub config_text: Option<&'a str>,
    /// Hook for the policy module: the recommended next flow, written to
    /// `recommended_flow.toml` verbatim. Until a policy is computed the
    /// input config is written there unchanged.
    pub recommended_flow: Option<String>,
}

impl<'a> Job<'a> {
    pub fn new(inputs: &'a [PathBuf], config: &'a FlowConfig) -> Job<'a> {
        Job {
            inputs,
            config,
            config_text: None,
            recommended_flow: None,
        }
    }
}

/// Runs the whole job on event files and writes every output into `out`.
pub fn run(inputs: &[PathBuf], config: &FlowConfig, out: &Path) -> Result<Summary> {
    run_job(&Job::new(inputs, config), out)
}

/// Runs a job: every table, JSON file, chart and the page into `out`.
pub fn run_job(job: &Job, out: &Path) -> Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let stamp = stamp::stamp(job.inputs, job.config, job.config_text)?;
    use crate::progress::stage;
    let (table, ingest_report) = stage("ingest", || ingest_events(job.inputs, out))?;
    let mut tables = stage("reconstruct flow entries", || {
        flow::reconstruct(&table, job.config)
    })?;
    flow::write_table(&mut tables.carts, &out.join("carts.parquet"))?;
    flow::write_table(&mut tables.touches, &out.join("touches.parquet"))?;
    let summary = stage("lift, attribution, policy", || {
        summarize(&table, tables, ingest_report, job.config, stamp)
    })?;
    write_json(&out.join("lift.json"), &summary.lift)?;
    write_json(&out.join("audit.json"), &summary.audit)?;
    write_json(&out.join("summary.json"), &summary)?;
    let recommended = match (&job.recommended_flow, &summary.policy) {
        (Some(text), _) => text.clone(),
        (None, Some(p)) => crate::policy::next_flow(job.config, p, "this report's events")?,
        (None, None) => job.config.to_toml()?,
    };
    write_text(&out.join("recommended_flow.toml"), &recommended)?;
    stage("charts and page", || page::write_report(&summary, out))?;
    Ok(summary)
}

/// Ingests every input, quarantining bad rows into `out/quarantine.csv`.
fn ingest_events(inputs: &[PathBuf], out: &Path) -> Result<(EventTable, IngestReport)> {
    let mut quarantine = Quarantine::to_file(&out.join("quarantine.csv"))?;
    let (events, report) = ingest::ingest(inputs, &IngestOptions::default(), &mut quarantine)?;
    quarantine.finish()?;
    let mut table = EventTable::from_events(&events);
    // As `cartlift paths` counts them, so the audits agree.
    table.skipped_rows = report.quarantined;
    Ok((table, report))
}

/// Every analysis of the reconstructed tables, in one record.
fn summarize(
    table: &EventTable,
    tables: FlowTables,
    ingest: IngestReport,
    config: &FlowConfig,
    stamp: Stamp,
) -> Result<Summary> {
    let entries = tables.carts.height();
    let opts = lift_options(entries);
    let segments: Vec<String> = SEGMENTS.iter().map(|s| s.to_string()).collect();
    let lift_report = lift::analyze_carts(&tables.carts, config, &segments, &opts)?;
    let models = crate::attribution::standard_models();
    let attribution = attribute_flow(
        &tables.carts,
        &tables.touches,
        config,
        &journey_rule(),
        &models,
    )?;
    let timeline = timeline::cumulative(&tables.carts, config, opts.alpha, entries as f64)?;
    let funnel = funnel::step_funnel(&tables.carts, &tables.touches, config)?;
    let guardrails = funnel::step_guardrails(table, &tables.carts, &funnel, config, opts.alpha)?;
    let (policy, policy_note) = match policy_of(&tables.carts, config) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    Ok(Summary {
        cartlift_version: env!("CARGO_PKG_VERSION"),
        flow: config.flow.name.clone(),
        currency: config.flow.currency.clone(),
        ingest,
        entries: entries as u64,
        audit: tables.audit,
        headline: headlines(&lift_report, config),
        lift: lift_report,
        attribution,
        timeline,
        funnel,
        guardrails,
        policy,
        policy_note,
        stamp,
    })
}

/// The policy analysis with default options; an error says why the arms
/// cannot tell a policy (it is reported, not fatal to the report).
fn policy_of(
    carts: &polars::prelude::DataFrame,
    config: &FlowConfig,
) -> Result<crate::policy::PolicyReport> {
    crate::policy::check_config(config)?;
    crate::policy::analyze(carts, config, &crate::policy::PolicyOptions::default())
}

/// The bundled sample through the whole job.
pub fn demo(out: &Path) -> Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let flow_path = out.join("flow.toml");
    let events_path = out.join("events.csv");
    write_text(&flow_path, SAMPLE_FLOW)?;
    write_text(&events_path, SAMPLE_EVENTS)?;
    let config = FlowConfig::parse(SAMPLE_FLOW)?;
    let inputs = [events_path];
    let job = Job {
        config_text: Some(SAMPLE_FLOW),
        ..Job::new(&inputs, &config)
    };
    run_job(&job, out)
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

/// Pretty JSON with a trailing newline; the one writer of every JSON output.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_text(path, &(text + "\n"))
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
