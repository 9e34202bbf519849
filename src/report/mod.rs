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
use crate::events::ingest::{IngestOptions, IngestReport, Quarantine};
use crate::flow::{self, audit::Audit, table::EventTable, FlowTables};
use crate::lift::{self, LiftOptions, LiftReport};
use crate::schema::EventKind;
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
/// The demo's second sample: a targeting experiment, simulated by `demo`
/// ([`TARGETING_CARTS`] carts, seed [`TARGETING_SEED`]) rather than bundled.
pub const TARGETING_FLOW: &str = include_str!("../../data/sample/targeting.toml");
pub const TARGETING_CARTS: usize = 30_000;
pub const TARGETING_SEED: u64 = 2;
/// The folder of the targeting experiment's report inside the demo's.
pub const TARGETING_DIR: &str = "targeting";

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
    /// What an e-mail platform's dashboard (Klaviyo's default) credits to
    /// the flow, per treatment, beside the holdout's incremental revenue.
    pub dashboard: Vec<Dashboard>,
    /// Cumulative incremental revenue by entry date, per treatment.
    pub timeline: Vec<Timeline>,
    pub funnel: Vec<StepFunnel>,
    /// Unsubscribe and complaint rates per message, per treatment step.
    pub guardrails: Vec<StepGuardrail>,
    /// The incentive and timing policy, when the flow's arms can tell one.
    pub policy: Option<crate::policy::PolicyReport>,
    /// Why there is no policy (e.g. a single treatment arm), in words.
    pub policy_note: Option<String>,
    /// The policy tree learned over the carts' covariates (`uplift`), with
    /// its cross-validated value; or why there is none.
    pub learned_policy: Option<crate::uplift::UpliftReport>,
    pub learned_policy_note: Option<String>,
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
    /// How the stamp, the ingest report and the quarantine name each input
    /// (default: the path as given).
    pub input_names: Option<Vec<String>>,
    /// Raw entry ids (customer ids) as audit examples in the shared files,
    /// instead of rows of the carts table.
    pub show_ids: bool,
}

impl<'a> Job<'a> {
    pub fn new(inputs: &'a [PathBuf], config: &'a FlowConfig) -> Job<'a> {
        Job {
            inputs,
            config,
            config_text: None,
            recommended_flow: None,
            input_names: None,
            show_ids: false,
        }
    }
}

/// Runs the whole job on event files and writes every output into `out`.
pub fn run(inputs: &[PathBuf], config: &FlowConfig, out: &Path) -> Result<Summary> {
    run_job(&Job::new(inputs, config), out)
}

/// Runs a job: every table, JSON file, chart and the page into `out`,
/// built beside it and swapped in whole (a failed or killed run leaves the
/// previous report as it was).
pub fn run_job(job: &Job, out: &Path) -> Result<Summary> {
    let dir = crate::output::ReportDir::create("--out", out)?;
    let summary = write_job(job, dir.path())?;
    dir.commit()?;
    Ok(summary)
}

/// The job's every output, into the folder being built.
fn write_job(job: &Job, out: &Path) -> Result<Summary> {
    let mut stamp = stamp::stamp(job.inputs, job.config, job.config_text)?;
    if let Some(names) = &job.input_names {
        for (digest, name) in stamp.inputs.iter_mut().zip(names) {
            digest.path = name.clone();
        }
    }
    use crate::progress::stage;
    let data = out.join(DATA_DIR);
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    write_text(&data.join("README.txt"), DATA_README)?;
    // The bounded-memory route `paths` takes: events staged as canonical
    // Parquet, reconstructed customer range by customer range.
    let (staged, ingest_report) = stage("ingest", || ingest_events(job, &data))?;
    let mut tables = stage("reconstruct flow entries", || {
        flow::reconstruct_parquet(&staged.path, job.config, true)
    })?;
    // As `cartlift paths` counts them, so the audits agree.
    tables.audit.skipped_rows += staged.quarantined;
    flow::write_table(&mut tables.carts, &data.join("carts.parquet"))?;
    flow::write_table(&mut tables.touches, &data.join("touches.parquet"))?;
    if !job.show_ids {
        tables.audit = flow::audit_by_row(&tables.audit, &tables.carts)?;
    }
    let summary = stage("lift, attribution, policy", || {
        summarize(&staged.path, tables, ingest_report, job.config, stamp)
    })?;
    write_json(&out.join("lift.json"), &summary.lift)?;
    write_json(&out.join("audit.json"), &summary.audit)?;
    write_json(&out.join("summary.json"), &summary)?;
    let learned_flow = || {
        crate::uplift::next::tree_flow(
            job.config,
            summary.learned_policy.as_ref().expect("checked"),
            0.0,
            "this report's events",
        )
        .map_err(|e| {
            // The rest of the report stands; the reason is not dropped.
            eprintln!(
                "warning: recommended_flow.toml: the learned policy is not written: {}",
                crate::output::encode::terminal(&format!("{e:#}"))
            );
        })
        .ok()
    };
    let recommended = match (&job.recommended_flow, &summary.policy) {
        (Some(text), _) => text.clone(),
        (None, policy) => match (
            tree_recommended(&summary).then(learned_flow).flatten(),
            policy,
        ) {
            (Some(text), _) => text,
            (None, Some(p)) => crate::policy::next_flow(job.config, p, "this report's events")?,
            (None, None) => job.config.to_toml()?,
        },
    };
    write_text(&out.join("recommended_flow.toml"), &recommended)?;
    write_klaviyo_flow(&recommended, out)?;
    stage("charts and page", || page::write_report(&summary, out))?;
    Ok(summary)
}

/// Whether the learned policy's evidence rule recommends its tree: then
/// `recommended_flow.toml` is the tree as branches, not the segment policy.
pub(crate) fn tree_recommended(summary: &Summary) -> bool {
    summary.learned_policy.as_ref().is_some_and(|p| {
        p.decision.recommend == "policy_tree"
            // Without a segment policy, a single arm for everyone that the
            // learned policy's rule recommends is the next flow too.
            || (summary.policy.is_none() && p.decision.recommend.starts_with("treat_all:"))
    })
}

/// `recommended_flow.klaviyo.json`: the recommended flow as Klaviyo's
/// create-flow body; what Klaviyo cannot express goes to stderr as warnings.
fn write_klaviyo_flow(recommended: &str, out: &Path) -> Result<()> {
    let next = FlowConfig::parse(recommended).context("recommended_flow.toml does not parse")?;
    let exported = match crate::klaviyo_flow::export(&next, &Default::default()) {
        Ok(e) => e,
        Err(e) => {
            // The rest of the report stands; the reason is not dropped.
            eprintln!(
                "warning: recommended_flow.klaviyo.json not written: {}",
                crate::output::encode::terminal(&format!("{e:#}"))
            );
            return Ok(());
        }
    };
    for w in &exported.warnings {
        eprintln!(
            "warning: recommended_flow.klaviyo.json: {}",
            crate::output::encode::terminal(w)
        );
    }
    write_json(&out.join("recommended_flow.klaviyo.json"), &exported.body)
}

/// The report folder's subfolder of row-level data (customer ids, raw rows),
/// kept apart from the page and JSON meant for forwarding.
pub const DATA_DIR: &str = "data";

const DATA_README: &str = "Row-level data of this report: carts.parquet and touches.parquet hold\n\
every entry id and customer id; quarantine.csv holds the raw rejected rows.\n\
They are personal data where customer ids are e-mail addresses or similar.\n\
Share index.html, summary.json, lift.json, audit.json and charts/ without\n\
this folder. Audit examples there name rows of carts.parquet (0-based).\n";

/// What an e-mail platform's dashboard says the flow made, per treatment.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub arm: String,
    /// The platform's rule in words.
    pub rule: &'static str,
    /// Revenue of entries whose order followed an open or click within the
    /// platform's window: what the dashboard reports as the flow's revenue.
    pub attributed_revenue: f64,
    /// The holdout's incremental revenue for the same recipients.
    pub incremental_revenue: Option<Estimate>,
    /// attributed / incremental (absent when the increment is not positive).
    pub over_attribution_ratio: Option<f64>,
}

/// Klaviyo's default conversion rule (an open or click of the flow's
/// e-mail within five days before the order) applied to the flow's own
/// tables. Every model credits the whole of such an order to the flow, so
/// last touch gives the dashboard's total.
fn dashboard_view(
    carts: &polars::prelude::DataFrame,
    touches: &polars::prelude::DataFrame,
    config: &FlowConfig,
) -> Result<Vec<Dashboard>> {
    let last: Vec<Box<dyn crate::attribution::AttributionModel>> =
        vec![Box::new(crate::attribution::LastTouch)];
    let rule = JourneyRule::platform_default();
    let views = attribute_flow(carts, touches, config, &rule, &last)?;
    Ok(views
        .into_iter()
        .map(|v| {
            let m = v.side_by_side.first();
            Dashboard {
                arm: v.arm,
                rule: "an open or click within 5 days before the order (Klaviyo's default for e-mail)",
                attributed_revenue: m.map_or(0.0, |m| m.credited_revenue),
                incremental_revenue: v.incremental_revenue,
                over_attribution_ratio: m.and_then(|m| m.over_attribution_ratio),
            }
        })
        .collect())
}

/// Ingests every input, quarantining bad rows into `data/quarantine.csv`.
/// Ingests the job's inputs into a temporary canonical Parquet file
/// ([`flow::stage_events`]), quarantining bad rows to `out/quarantine.csv`.
fn ingest_events(job: &Job, out: &Path) -> Result<(flow::Staged, IngestReport)> {
    let mut quarantine = Quarantine::to_file(&out.join("quarantine.csv"))?;
    let opts = IngestOptions {
        klaviyo_steps: Some(crate::events::klaviyo::StepMap::from_config(job.config)),
        shown_as: match &job.input_names {
            Some(names) => job
                .inputs
                .iter()
                .cloned()
                .zip(names.iter().cloned())
                .collect(),
            None => Default::default(),
        },
        ..IngestOptions::default()
    };
    let staged = flow::stage_events(job.inputs, &opts, &mut quarantine)?;
    quarantine.finish()?;
    Ok(staged)
}

/// Every analysis of the reconstructed tables, in one record.
fn summarize(
    events: &Path,
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
    let dashboard = dashboard_view(&tables.carts, &tables.touches, config)?;
    let timeline = timeline::cumulative(&tables.carts, config, opts.alpha, entries as f64)?;
    let funnel = funnel::step_funnel(&tables.carts, &tables.touches, config)?;
    let guardrail_events = EventTable::read_parquet_kinds(
        events,
        &[EventKind::Unsubscribed, EventKind::SpamComplaint],
    )?;
    let guardrails = funnel::step_guardrails(
        &guardrail_events,
        &tables.carts,
        &funnel,
        config,
        opts.alpha,
    )?;
    let (policy, policy_note) = match policy_of(&tables.carts, config) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let (learned_policy, learned_policy_note) =
        match crate::uplift::carts::learned_policy(&tables.carts, config) {
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
        dashboard,
        timeline,
        funnel,
        guardrails,
        policy,
        policy_note,
        learned_policy,
        learned_policy_note,
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

/// The bundled sample through the whole job; the sample's events and flow
/// file go into the folder beside the report.
pub fn demo(out: &Path) -> Result<Demo> {
    let dir = crate::output::ReportDir::create("--out", out)?;
    let summary = sample_report(dir.path(), out, SAMPLE_FLOW, "events.csv", |path, _| {
        write_text(path, SAMPLE_EVENTS)
    })?;
    // The second sample: a randomized incentive test large enough to learn
    // a targeting policy from, simulated into its own report folder.
    let sub = dir.path().join(TARGETING_DIR);
    std::fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
    let targeting = sample_report(
        &sub,
        &out.join(TARGETING_DIR),
        TARGETING_FLOW,
        "events.parquet",
        |path, config| {
            crate::progress::stage("simulate the targeting experiment", || {
                crate::simulate::write_canonical(config, TARGETING_CARTS, TARGETING_SEED, path)
            })
            .map(|_| ())
        },
    )?;
    dir.commit()?;
    Ok(Demo { summary, targeting })
}

/// One of the demo's samples reported into `folder` (shown to the user as
/// `shown`): its flow file, its events (written by `write_events` into
/// `events`), and the report on them.
fn sample_report(
    folder: &Path,
    shown: &Path,
    flow_text: &'static str,
    events: &str,
    write_events: impl FnOnce(&Path, &FlowConfig) -> Result<()>,
) -> Result<Summary> {
    write_text(&folder.join("flow.toml"), flow_text)?;
    let config = FlowConfig::parse(flow_text)?;
    let events_path = folder.join(events);
    write_events(&events_path, &config)?;
    let inputs = [events_path];
    let job = Job {
        config_text: Some(flow_text),
        input_names: Some(vec![shown.join(events).display().to_string()]),
        ..Job::new(&inputs, &config)
    };
    write_job(&job, folder)
}

/// What `demo` computed: the bundled sample's report and the targeting
/// experiment's (in [`TARGETING_DIR`]).
pub struct Demo {
    pub summary: Summary,
    pub targeting: Summary,
}

/// The targeting experiment's learned policy in a few lines: what the rule
/// recommends and why, the tree, and where the next flow is. `dir` is the
/// experiment's report folder as the user named it.
pub fn render_targeting(summary: &Summary, dir: &Path) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ntargeting experiment ({TARGETING_CARTS} simulated carts, {} flow entries; {}):",
        summary.entries,
        dir.join("index.html").display()
    );
    match (&summary.learned_policy, &summary.learned_policy_note) {
        (Some(p), _) => {
            let _ = writeln!(s, "  learned policy (cross-validated, {} folds):", p.folds);
            for line in crate::uplift::render::tree_text(&p.tree).lines() {
                let _ = writeln!(s, "  {line}");
            }
            for v in p.gains.iter() {
                let _ = writeln!(
                    s,
                    "  gain {:<30} {:+.2} per entry, 95% CI [{:+.2}, {:+.2}]",
                    crate::output::encode::terminal(&v.name),
                    v.value.estimate,
                    v.value.ci.lower,
                    v.value.ci.upper
                );
            }
            let _ = writeln!(
                s,
                "  recommendation: {} ({})",
                crate::output::encode::terminal(&p.decision.recommend),
                crate::output::encode::terminal(&p.decision.reason)
            );
            let _ = writeln!(
                s,
                "  next flow: {}",
                dir.join("recommended_flow.toml").display()
            );
        }
        (None, note) => {
            let _ = writeln!(
                s,
                "  no learned policy: {}",
                crate::output::encode::terminal(note.as_deref().unwrap_or("not computed"))
            );
        }
    }
    s
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
    crate::output::write_bytes(path, text.as_bytes())
}
