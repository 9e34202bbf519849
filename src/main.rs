//! The `cartlift` command: argument parsing and one short function per
//! subcommand over library calls. Exit codes: 0 success, 1 a problem with
//! the input, config or files (the message says which), 2 a usage error.

use anyhow::{bail, Context, Result};
use cartlift::config::FlowConfig;
use cartlift::events::fields::EpochUnit;
use cartlift::events::ingest::{self, Format, IngestOptions, Quarantine};
use cartlift::progress::stage;
use cartlift::report::write_json;
use cartlift::{assign, events, flow, output, simulate};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc keeps freed memory for reuse: reading Parquet row group after
/// row group and spilling runs otherwise spends a tenth of `paths` and a
/// third of streaming `ingest` in glibc's malloc and in page faults on
/// memory it handed back to the kernel (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` through [`say`]: encoded for the terminal, no panic on a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {
        say(&format!("{}\n", format_args!($($arg)*)))
    };
}

#[derive(Parser)]
#[command(
    name = "cartlift",
    version,
    about = "What your abandoned-cart flow really earns, and how to tune it"
)]
struct Cli {
    /// More on stderr: -v times each stage, -vv adds details.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// No spinners on stderr (they only ever show on a terminal).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read raw event logs, map them to the canonical schema, quarantine bad rows.
    Ingest(IngestArgs),
    /// Reconstruct each cart's path through the flow: carts, touches and the audit.
    Paths(PathsArgs),
    /// Write a simulated event log with known ground truth (TRUTH.json).
    Simulate(SimulateArgs),
    /// Deterministic holdout assignment of customer ids.
    Assign(AssignArgs),
    /// Incremental effect of each treatment against the holdout, with intervals.
    Lift(LiftArgs),
    /// Credit per step under every attribution model, beside the holdout's truth.
    Attribute(AttributeArgs),
    /// Power planning: the effect a run can detect, or the days a given effect needs.
    Plan(PlanArgs),
    /// The whole job on event files: ingest, paths, lift; every output in one folder.
    Report(ReportArgs),
    /// The whole job on the bundled sample.
    Demo(DemoArgs),
    /// Which carts deserve an incentive: each segment's best tested treatment, written as the next flow.
    Policy(PolicyArgs),
    /// The per-cart reduction as SQL for Spark, DuckDB, BigQuery or Snowflake: statistics or path tables.
    Sql(SqlArgs),
    /// Flow definitions of sending platforms to and from flow.toml (Klaviyo).
    #[command(subcommand)]
    Flow(FlowCommand),
}

#[derive(clap::Args)]
struct PolicyArgs {
    /// Carts table from `paths` (.parquet), or events to reconstruct first.
    #[arg(required_unless_present = "units")]
    input: Option<PathBuf>,
    #[arg(long, required_unless_present = "units")]
    flow: Option<PathBuf>,
    #[command(flatten)]
    table: PolicyTableArgs,
    /// The arm running today (default: the first treatment arm in the flow file).
    #[arg(long)]
    current: Option<String>,
    /// Share of traffic for an exploration arm in the next flow (0: none).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share_or_zero)]
    explore: f64,
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// Results as JSON (keys documented in the README).
    #[arg(long)]
    json: Option<PathBuf>,
    /// The next flow file: the recommended arm beside the holdout (with
    /// --covariates, the policy tree as conditional branches).
    #[arg(long, conflicts_with = "units")]
    write_flow: Option<PathBuf>,
}

/// `policy --units`: a learned policy tree on a recipients table.
#[derive(clap::Args)]
struct PolicyTableArgs {
    /// Table mode: one row per randomized unit (.csv or .parquet).
    #[arg(long, conflicts_with_all = ["input", "flow"], requires_all = ["arm_col", "control", "metric", "covariates"])]
    units: Option<PathBuf>,
    /// Table mode: the column holding each unit's arm.
    #[arg(long)]
    arm_col: Option<String>,
    /// Table mode: the control arm's name.
    #[arg(long)]
    control: Option<String>,
    /// Table mode: the outcome column.
    #[arg(long)]
    metric: Option<String>,
    /// Table mode: cost of any arm but the control, per unit, in value units.
    #[arg(long, default_value_t = 0.0, value_parser = parse_number)]
    cost_per_treated: f64,
    /// Table mode: value of one unit of the metric.
    #[arg(long, default_value_t = 1.0, value_parser = parse_number)]
    value_per_unit: f64,
    /// Covariate columns (numbers, or text as categories); on a carts table,
    /// a learned policy over `all` or some of the carts' covariates.
    #[arg(long, value_delimiter = ',')]
    covariates: Vec<String>,
    /// Table mode: column of `train` / `test`; learn on train, report on test.
    #[arg(long)]
    split_col: Option<String>,
    /// Per reported unit, predicted uplift per arm and the policy's arm (CSV).
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Table mode: cross-fitting folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Table mode: policy tree depth (0 to 3).
    #[arg(long, default_value_t = 2)]
    depth: usize,
    /// Table mode: fewest units per leaf, as a share of the training units.
    #[arg(long, default_value_t = 0.05, value_parser = parse_share)]
    min_leaf: f64,
    /// Table mode: seed of the fold assignment.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Table mode: the predicted uplift the ranking diagnostics sort by.
    #[arg(long, value_enum, default_value = "t-learner", requires = "covariates")]
    ranker: cartlift::uplift::Ranker,
    /// Depth of the boosted trees of the outcome and effect models (1 to 6;
    /// 1: additive in the covariates). Default: 1 for a 0/1 metric, else 3.
    #[arg(long, requires = "covariates", value_parser = clap::builder::ValueParser::new(clap::builder::TypedValueParser::map(clap::value_parser!(u8).range(1..=6), usize::from)))]
    model_depth: Option<usize>,
    /// Table mode: the design's split, ARM=W,... (default: the arms' shares in the table).
    #[arg(long, requires = "units", value_parser = parse_weights)]
    weights: Option<Weights>,
}

#[derive(clap::Args)]
struct AttributeArgs {
    /// Events (any supported shape) to reconstruct and attribute.
    #[arg(required_unless_present = "paths")]
    events: Option<PathBuf>,
    #[arg(long, required_unless_present = "paths")]
    flow: Option<PathBuf>,
    /// Models to run (default: every heuristic, Markov order 1, both Shapley forms).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Name touches by flow step or by channel.
    #[arg(long, value_enum, default_value = "step")]
    by: cartlift::attribution::journeys::By,
    /// The interaction that makes a message a touch.
    #[arg(long, value_enum, default_value = "send")]
    interaction: cartlift::attribution::journeys::Interaction,
    /// Only touches this long before the order count (e.g. 5d).
    #[arg(long, value_parser = parse_span)]
    lookback: Option<cartlift::duration::Span>,
    /// What an email platform's dashboard shows: opens or clicks within 5 days.
    #[arg(long, conflicts_with_all = ["interaction", "lookback"])]
    platform_default: bool,
    /// Path-table mode: a CSV of aggregated paths (path, conversions, value, nulls).
    #[arg(long, conflicts_with_all = ["events", "flow"])]
    paths: Option<PathBuf>,
    #[arg(long, default_value = "path")]
    path_col: String,
    #[arg(long, default_value = "total_conversions")]
    conv_col: String,
    #[arg(long)]
    value_col: Option<String>,
    #[arg(long)]
    null_col: Option<String>,
    #[arg(long, default_value = ">")]
    sep: String,
    /// Field delimiter of the path table (sniffed when absent).
    #[arg(long)]
    delimiter: Option<char>,
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_span(s: &str) -> Result<cartlift::duration::Span, String> {
    cartlift::duration::Span::parse(s)?.check_ceiling("--lookback")
}

/// Numeric options are checked where they are parsed (exit 2, naming the
/// option's value): finite, and in the range each states.
fn parse_number(s: &str) -> Result<f64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !x.is_finite() || x.abs() > 1e15 {
        return Err(format!("`{s}`: expected a finite number of at most 1e15"));
    }
    Ok(x)
}

fn parse_positive(s: &str) -> Result<f64, String> {
    let x = parse_number(s)?;
    if x <= 0.0 {
        return Err(format!("`{s}`: expected a positive number"));
    }
    Ok(x)
}

fn parse_nonzero(s: &str) -> Result<f64, String> {
    let x = parse_number(s)?;
    if x == 0.0 {
        return Err(format!("`{s}`: expected a non-zero effect"));
    }
    Ok(x)
}

/// A share strictly between 0 and 1.
fn parse_share(s: &str) -> Result<f64, String> {
    let x = parse_number(s)?;
    if !(x > 0.0 && x < 1.0) {
        return Err(format!("`{s}`: expected a share between 0 and 1"));
    }
    Ok(x)
}

/// A share in [0, 1).
fn parse_share_or_zero(s: &str) -> Result<f64, String> {
    let x = parse_number(s)?;
    if !(0.0..1.0).contains(&x) {
        return Err(format!(
            "`{s}`: expected a share from 0 up to (not including) 1"
        ));
    }
    Ok(x)
}

/// Smallest significance level accepted: below it the t and normal
/// quantiles are no longer computable in double precision.
const MIN_ALPHA: f64 = 1e-9;

fn parse_alpha(s: &str) -> Result<f64, String> {
    let x = parse_number(s)?;
    if !(MIN_ALPHA..1.0).contains(&x) {
        return Err(format!(
            "`{s}`: expected a significance level from {MIN_ALPHA:e} up to (not including) 1"
        ));
    }
    Ok(x)
}

/// Most carts one `simulate` run generates (canonical logs are streamed
/// through temporary files; the platform shapes are rendered in memory).
const MAX_SIMULATED_CARTS: usize = 50_000_000;

fn parse_carts(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a whole number of carts"))?;
    if n == 0 || n > MAX_SIMULATED_CARTS {
        return Err(format!(
            "`{s}`: expected from 1 to {MAX_SIMULATED_CARTS} carts"
        ));
    }
    Ok(n)
}

#[derive(clap::Args)]
struct PlanArgs {
    /// A carts table (or events) to take the baseline and daily traffic from.
    input: Option<PathBuf>,
    /// Flow config (for the holdout share and to read events).
    #[arg(long)]
    flow: Option<PathBuf>,
    /// Typed baseline: mean per recipient (with --baseline-sd) ...
    #[arg(long, conflicts_with = "input", value_parser = parse_number)]
    baseline_mean: Option<f64>,
    #[arg(long, requires = "baseline_mean", value_parser = parse_positive)]
    baseline_sd: Option<f64>,
    /// ... or a conversion rate.
    #[arg(long, conflicts_with_all = ["input", "baseline_mean"], value_parser = parse_share)]
    baseline_rate: Option<f64>,
    /// Share of recipients held out (default: the flow's holdout weight).
    #[arg(long, value_parser = parse_share)]
    holdout: Option<f64>,
    /// Recipients entering per day (default: measured from the input).
    #[arg(long, value_parser = parse_positive)]
    daily: Option<f64>,
    /// Run length in days: report the minimum detectable effect.
    #[arg(long, conflicts_with_all = ["effect", "relative_effect"], value_parser = parse_positive)]
    days: Option<f64>,
    /// Absolute effect to detect: report the days needed.
    #[arg(long, value_parser = parse_nonzero)]
    effect: Option<f64>,
    /// Relative effect to detect (0.1 = +10%): report the days needed.
    #[arg(long, conflicts_with = "effect", value_parser = parse_nonzero)]
    relative_effect: Option<f64>,
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ReportArgs {
    #[arg(required = true)]
    events: Vec<PathBuf>,
    #[arg(long)]
    flow: PathBuf,
    /// The report folder (replaced whole; row-level data goes to its `data/`).
    #[arg(long)]
    out: PathBuf,
    /// Name audit examples by entry id (it holds the customer id) in the
    /// page and JSON, instead of by row of data/carts.parquet.
    #[arg(long)]
    show_ids: bool,
}

#[derive(clap::Args)]
struct DemoArgs {
    #[arg(long, default_value = "cartlift-demo")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct LiftArgs {
    /// Carts table from `paths` (.parquet), or events to reconstruct first.
    #[arg(required_unless_present_any = ["units", "stats"])]
    input: Option<PathBuf>,
    /// Flow config (carts and stats modes).
    #[arg(long, required_unless_present = "units")]
    flow: Option<PathBuf>,
    /// Stats mode: a statistics table (.csv or .parquet) from `cartlift sql`
    /// or `--write-stats`; rows with the same key are partial sums and merge.
    #[arg(long, conflicts_with_all = ["input", "units"])]
    stats: Option<PathBuf>,
    /// Also write the statistics table the results were computed from.
    #[arg(long)]
    write_stats: Option<PathBuf>,
    /// Table mode: one row per randomized unit with outcome columns (.csv or .parquet).
    #[arg(long, conflicts_with_all = ["input", "flow"], requires_all = ["arm_col", "control"])]
    units: Option<PathBuf>,
    /// Table mode: the column holding each unit's arm.
    #[arg(long)]
    arm_col: Option<String>,
    /// Table mode: the control arm's name.
    #[arg(long)]
    control: Option<String>,
    /// Table mode: outcome columns to analyze (repeatable).
    #[arg(long = "metric")]
    metrics: Vec<String>,
    /// Table mode: pre-period covariate column for CUPED.
    #[arg(long)]
    covariate: Option<String>,
    /// Table mode: the planned split, ARM=W,... (for the sample ratio check).
    #[arg(long, requires = "units", value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Segment columns (carts: cart_value_band, customer_status, ...).
    #[arg(long, value_delimiter = ',')]
    segment_by: Vec<String>,
    /// Regression-adjust revenue metrics on pre-period spend.
    #[arg(long)]
    cuped: bool,
    /// Always-valid sequential intervals, tuned to --planned-n units.
    #[arg(long, requires = "planned_n")]
    sequential: bool,
    #[arg(long, value_parser = parse_positive)]
    planned_n: Option<f64>,
    /// Standard deviation of a N(0, sd²) prior on the relative lift (flat prior when absent).
    #[arg(long, value_parser = parse_positive)]
    prior_sd: Option<f64>,
    /// Winsorize per-unit values: p99.9, p0.1:p99.9 or LOW:HIGH.
    #[arg(long, value_parser = parse_cap)]
    cap: Option<cartlift::lift::Cap>,
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// Results as JSON (keys documented in the README).
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_cap(s: &str) -> Result<cartlift::lift::Cap, String> {
    use cartlift::validate::MAX_AMOUNT;
    let cap = cartlift::lift::Cap::parse(s)?;
    if let cartlift::lift::Cap::Values { lower, upper } = cap {
        for v in [lower, upper].into_iter().flatten() {
            if !v.is_finite() || v.abs() > MAX_AMOUNT {
                return Err(format!(
                    "--cap {s}: expected finite bounds of at most {MAX_AMOUNT:e} in size"
                ));
            }
        }
        if let (Some(a), Some(b)) = (lower, upper) {
            if a >= b {
                return Err(format!("--cap {s}: expected LOW < HIGH"));
            }
        }
    }
    Ok(cap)
}

/// `--weights ARM=W,...`, parsed whole (one flag value, several arms).
#[derive(Clone)]
struct Weights(Vec<(String, f64)>);

fn parse_weights(s: &str) -> Result<Weights, String> {
    cartlift::lift::parse_weights(s).map(Weights)
}

#[derive(clap::Args)]
struct ReadArgs {
    /// Shape of the input rows.
    #[arg(long, value_enum, default_value = "auto")]
    format: Format,
    /// Unit of bare-number timestamps (otherwise they are rejected as ambiguous).
    #[arg(long, value_enum, default_value = "none")]
    epoch_unit: EpochUnit,
    /// Currency all values are expressed in (required with --rate).
    #[arg(long)]
    currency: Option<String>,
    /// Conversion rate CUR=RATE: units of --currency per unit of CUR (repeatable).
    #[arg(long = "rate", value_parser = parse_rate)]
    rates: Vec<(String, f64)>,
    /// Identifier each customer is filed under when payloads carry several
    /// (platform customer id, e-mail address, anonymous/device id).
    #[arg(long, value_enum, default_value = "id")]
    customer_key: cartlift::events::identity::CustomerKey,
}

impl ReadArgs {
    fn options(&self) -> IngestOptions {
        IngestOptions {
            format: self.format,
            epoch_unit: self.epoch_unit,
            currency: self.currency.clone(),
            rates: self.rates.iter().cloned().collect::<BTreeMap<_, _>>(),
            customer_key: self.customer_key,
            klaviyo_steps: None,
            chunk: None,
            shown_as: BTreeMap::new(),
        }
    }
}

fn parse_rate(s: &str) -> Result<(String, f64), String> {
    let (cur, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected CUR=RATE, e.g. EUR=1.08"))?;
    let rate: f64 = rate
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: rate is not a number"))?;
    if !(rate > 0.0 && rate.is_finite()) {
        return Err(format!("`{s}`: expected a positive rate"));
    }
    Ok((cur.trim().to_ascii_uppercase(), rate))
}

#[derive(clap::Args)]
struct IngestArgs {
    /// Event files: .csv, .parquet, .ndjson/.jsonl/.json.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// Canonical events out (.parquet, .csv or .ndjson).
    #[arg(long)]
    out: PathBuf,
    /// Quarantined rows out (CSV: file, line, reason, field, detail, raw).
    #[arg(long)]
    quarantine: Option<PathBuf>,
    /// Also write the counts as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The flow file, to give Klaviyo messages their step (by message id or
    /// name) and set aside other flows' messages.
    #[arg(long)]
    flow: Option<PathBuf>,
}

#[derive(clap::Args)]
struct PathsArgs {
    /// Canonical events (.parquet from `ingest` or `simulate`), or raw files to ingest on the fly.
    #[arg(required = true)]
    events: Vec<PathBuf>,
    #[arg(long)]
    flow: PathBuf,
    /// Carts table out (.parquet or .csv): one row per flow entry.
    #[arg(long)]
    out: PathBuf,
    /// Touches table out: one row per message.
    #[arg(long)]
    touches: Option<PathBuf>,
    /// Audit findings out (JSON).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Name audit examples by entry id (it holds the customer id) instead
    /// of by row of the carts table.
    #[arg(long)]
    show_ids: bool,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(clap::Args)]
struct SimulateArgs {
    #[arg(long)]
    flow: PathBuf,
    /// Number of abandoned carts (flow entries) to simulate.
    #[arg(long, default_value_t = 10_000, value_parser = parse_carts)]
    carts: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Event log out (.parquet, .csv or .ndjson).
    #[arg(long, required_unless_present = "evaluate")]
    out: Option<PathBuf>,
    /// Ground truth out (JSON).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Shape of the log: canonical events, or the shapes stores export
    /// (Shopify webhooks + the e-mail platform's events, a Segment
    /// warehouse export, a GA4 BigQuery export).
    #[arg(long, value_enum, default_value = "canonical")]
    format: cartlift::simulate::render::SimFormat,
    /// With --format shopify: where the e-mail platform's events go
    /// (canonical CSV; default: beside --out, named `<stem>.platform.csv`).
    #[arg(long)]
    platform_out: Option<PathBuf>,
    /// Print the flow's expected net contribution per entry under the true
    /// model instead, over N carts (potential outcomes; default 200000).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "200000",
          conflicts_with_all = ["out", "truth"], value_parser = parse_carts)]
    evaluate: Option<usize>,
}

#[derive(clap::Args)]
struct AssignArgs {
    #[arg(long)]
    flow: PathBuf,
    /// CSV or Parquet with a `customer_id` column.
    #[arg(long, conflicts_with = "customer_id")]
    customers: Option<PathBuf>,
    /// A single customer id.
    #[arg(long)]
    customer_id: Option<String>,
    /// Output CSV (customer_id,bucket,arm); standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the profile-property CSV a platform imports instead
    /// (klaviyo: `Email,cartlift_arm` from a profile file with an `Email` column).
    #[arg(long, value_enum, requires = "customers")]
    export: Option<AssignExport>,
    /// With --export: the column whose value is hashed into the arm (default:
    /// `customer_id` when the file has one, else the e-mail address).
    #[arg(long, requires = "export")]
    key_column: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AssignExport {
    Klaviyo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = output::clean_up_on_interrupt() {
        // Not fatal: an interruption would leave hidden temporary files.
        eprintln!("warning: {e:#}");
    }
    cartlift::progress::set_verbosity(if cli.quiet {
        -1
    } else {
        cli.verbose.min(2) as i8
    });
    let result = match cli.command {
        Command::Ingest(a) => {
            expand(a.inputs).and_then(|inputs| run_ingest(IngestArgs { inputs, ..a }))
        }
        Command::Paths(a) => {
            expand(a.events).and_then(|events| run_paths(PathsArgs { events, ..a }))
        }
        Command::Simulate(a) => run_simulate(a),
        Command::Assign(a) => run_assign(a),
        Command::Lift(a) => run_lift(a),
        Command::Attribute(a) => run_attribute(a),
        Command::Plan(a) => run_plan(a),
        Command::Report(a) => {
            expand(a.events).and_then(|events| run_report(ReportArgs { events, ..a }))
        }
        Command::Demo(a) => run_demo(a),
        Command::Policy(a) => run_policy(a),
        Command::Sql(a) => run_sql(a),
        Command::Flow(c) => run_flow(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("error: {e:#}");
            eprintln!("{}", output::encode::terminal_text(&message));
            ExitCode::from(1)
        }
    }
}

/// Refuses overlapping inputs and outputs and locks the outputs (the
/// output layer's check, before anything is written).
fn claim(inputs: &[(&str, &PathBuf)], outputs: &[(&str, Option<&PathBuf>)]) -> Result<()> {
    claim_with_folder(inputs, outputs, None)
}

fn claim_with_folder(
    inputs: &[(&str, &PathBuf)],
    outputs: &[(&str, Option<&PathBuf>)],
    folder: Option<(&str, &PathBuf)>,
) -> Result<()> {
    let ins: Vec<output::Named> = inputs.iter().map(|(o, p)| output::named(o, p)).collect();
    let outs: Vec<output::Named> = outputs
        .iter()
        .filter_map(|(o, p)| p.map(|p| output::named(o, p)))
        .collect();
    let folders: Vec<output::Named> = folder.iter().map(|(o, p)| output::named(o, p)).collect();
    output::claim(&ins, &outs, &folders)
}

/// Event arguments as files: glob patterns expanded ([`events::source::expand_inputs`]).
fn expand(args: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    events::source::expand_inputs(&args)
}

fn inputs_named<'a>(option: &'a str, paths: &'a [PathBuf]) -> Vec<(&'a str, &'a PathBuf)> {
    paths.iter().map(|p| (option, p)).collect()
}

fn run_ingest(a: IngestArgs) -> Result<()> {
    let mut inputs = inputs_named("input", &a.inputs);
    if let Some(f) = &a.flow {
        inputs.push(("--flow", f));
    }
    claim(
        &inputs,
        &[
            ("--out", Some(&a.out)),
            ("--quarantine", a.quarantine.as_ref()),
            ("--report", a.report.as_ref()),
        ],
    )?;
    let mut opts = a.read.options();
    if let Some(f) = &a.flow {
        let config = FlowConfig::load(f)?;
        opts.klaviyo_steps = Some(events::klaviyo::StepMap::from_config(&config));
    }
    let mut quarantine = match &a.quarantine {
        Some(p) => Quarantine::to_file(p)?,
        None => Quarantine::discard(),
    };
    // Read, validated and written as one streaming pass (sorted runs
    // merged into the output).
    let mut out = events::store::EventWriter::create(&a.out)?;
    let report = cartlift::progress::timed("ingestion in all (the stages above)", || {
        ingest::ingest_into(&a.inputs, &opts, &mut quarantine, &mut out)
    })?;
    quarantine.finish()?;
    stage("write events", || out.commit())?;
    outln!("{}", report.summary_line());
    for (reason, n) in &report.quarantined_by_reason {
        outln!("  quarantined {n:>8}  {reason}");
    }
    for line in report.ledger.lines() {
        outln!("{line}");
    }
    if let Some(w) = report.warning() {
        eprintln!("warning: {w}");
    }
    if let Some(p) = &a.report {
        write_json(p, &report)?;
    }
    Ok(())
}

fn run_paths(a: PathsArgs) -> Result<()> {
    let mut inputs = inputs_named("input", &a.events);
    inputs.push(("--flow", &a.flow));
    claim(
        &inputs,
        &[
            ("--out", Some(&a.out)),
            ("--touches", a.touches.as_ref()),
            ("--audit", a.audit.as_ref()),
        ],
    )?;
    let config = FlowConfig::load(&a.flow)?;
    // Raw inputs are ingested (streaming) into a temporary canonical
    // Parquet file first, so every input takes the bounded-memory route.
    let (events_path, staged) = match flow::single_parquet(&a.events) {
        Some(p) => (p.to_path_buf(), None),
        None => {
            let mut opts = a.read.options();
            opts.klaviyo_steps = Some(events::klaviyo::StepMap::from_config(&config));
            let staged = cartlift::progress::timed("read events", || {
                flow::ingest_to_parquet(&a.events, &opts)
            })?;
            (staged.path.clone(), Some(staged))
        }
    };
    // One canonical Parquet file: customer range by customer range, in bounded memory.
    let mut run = stage("reconstruct flow entries", || {
        flow::stream::paths_parquet(
            &events_path,
            &config,
            &a.out,
            a.touches.as_deref(),
            flow::stream::ROWS_PER_RANGE,
        )
    })?;
    if let Some(s) = &staged {
        // Quarantined raw rows count where unreadable canonical rows do.
        run.audit.skipped_rows += s.quarantined;
    }
    let audit = if a.show_ids {
        run.audit
    } else {
        flow::audit_by_row(&run.audit, &flow::read_entry_ids(&a.out)?)?
    };
    if let Some(p) = &a.audit {
        write_json(p, &audit)?;
    }
    say(&flow::summary_of(&run.totals, &audit)?);
    if audit.entries == 0 {
        eprintln!("{}", flow::no_entries_warning(&audit, &config));
    }
    Ok(())
}

fn run_simulate(a: SimulateArgs) -> Result<()> {
    claim(
        &[("--flow", &a.flow)],
        &[
            ("--out", a.out.as_ref()),
            ("--truth", a.truth.as_ref()),
            ("--platform-out", a.platform_out.as_ref()),
        ],
    )?;
    if let Some(out) = &a.out {
        use cartlift::simulate::render::SimFormat;
        // The platform shapes have one container each: the name must say it,
        // or the file would not read back as what it is.
        let (wanted, names): (&[&str], &str) = match a.format {
            SimFormat::Canonical => (&[], ""),
            SimFormat::Shopify | SimFormat::Ga4 | SimFormat::Klaviyo => (
                &[".ndjson", ".jsonl", ".json"],
                ".ndjson, .jsonl or .json (one JSON document a line)",
            ),
            SimFormat::Segment => (&[".csv"], ".csv (a warehouse export)"),
        };
        let name = out.to_string_lossy().to_ascii_lowercase();
        if !wanted.is_empty() && !wanted.iter().any(|w| name.ends_with(w)) {
            bail!(
                "--out {}: --format {} writes {names}; name the file so",
                out.display(),
                format!("{:?}", a.format).to_ascii_lowercase()
            );
        }
    }
    let config = FlowConfig::load(&a.flow)?;
    if let Some(n) = a.evaluate {
        let e = simulate::evaluate(&config, n, a.seed)
            .with_context(|| format!("flow config {}", a.flow.display()))?;
        outln!(
            "expected net contribution per entry: {:.4}",
            e.net_contribution_per_entry
        );
        for arm in &config.arms {
            let v = &e.arms[&arm.name];
            outln!(
                "  arm `{}` (weight {}): {:.4}",
                output::encode::terminal(&arm.name),
                v.weight,
                v.net_contribution_per_entry
            );
        }
        if let Some(o) = &e.oracle {
            outln!(
                "oracle ({} of arm `{}` at step {}, {}): {:.4}",
                o.incentive,
                o.template,
                o.step,
                o.policy,
                o.net_contribution_per_entry
            );
            const SHOWN: usize = 20;
            if o.groups.len() > SHOWN {
                outln!(
                    "  (the {SHOWN} largest of {} effect groups; TRUTH.json of `simulate --truth` lists every one)",
                    o.groups.len()
                );
            }
            let mut groups: Vec<_> = o.groups.iter().collect();
            groups.sort_by_key(|g| std::cmp::Reverse(g.entries));
            for g in groups.into_iter().take(SHOWN) {
                outln!(
                    "  {} ({} entries): {}, {:.4}",
                    g.when,
                    g.entries,
                    g.policy,
                    g.net_contribution_per_entry
                );
            }
        } else {
            outln!("no oracle: no treatment arm's own steps offer an incentive (an incentive only in branches is no template); for a learned flow, evaluate the experiment's flow with the same --seed");
        }
        return Ok(());
    }
    let out = a
        .out
        .as_ref()
        .expect("clap requires --out without --evaluate");
    simulate::check(&config).with_context(|| format!("flow config {}", a.flow.display()))?;
    use cartlift::simulate::render::{self, SimFormat};
    if matches!(a.format, SimFormat::Shopify | SimFormat::Klaviyo) {
        let p = cartlift::simulate::params::SimParams::from_table(config.simulation.as_ref())?;
        if !p.capture_channels.is_empty() {
            bail!(
                "--format {}: its cart events have no field for the channel a cart was captured on, which `[simulation] capture_channels` in {} sets; use --format canonical, segment or ga4",
                if a.format == SimFormat::Shopify { "shopify" } else { "klaviyo" },
                a.flow.display()
            );
        }
    }
    if a.format == SimFormat::Canonical {
        // Streamed: sorted runs on temporary files, merged into the writer.
        let truth = stage("simulate and write events", || {
            simulate::write_canonical(&config, a.carts, a.seed, out)
        })?;
        return finish_simulate(&a, out, &truth);
    }
    // The platform shapes are rendered from the whole log in memory.
    let sim = stage("simulate", || simulate::simulate(&config, a.carts, a.seed))?;
    let truth = sim.truth;
    match a.format {
        SimFormat::Canonical => unreachable!("streamed above"),
        SimFormat::Shopify => {
            let platform = a.platform_out.clone().unwrap_or_else(|| {
                let stem = out.file_stem().unwrap_or_default().to_string_lossy();
                out.with_file_name(format!("{stem}.platform.csv"))
            });
            if a.platform_out.is_none() {
                claim(
                    &[("--flow", &a.flow)],
                    &[("--platform-out", Some(&platform))],
                )?;
            }
            let st = output::write_path(out, |webhooks| {
                output::write_path(&platform, |p| {
                    render::write_shopify(&sim.events, webhooks, p)
                })
            })?;
            outln!(
                "shopify: {} webhook payloads ({} test orders, {} retries) → {}; {} e-mail platform events → {}",
                st.payloads,
                st.test_orders,
                st.retries,
                out.display(),
                st.platform_events,
                platform.display()
            );
        }
        SimFormat::Segment => {
            output::write_path(out, |p| render::write_segment_warehouse(&sim.events, p))?
        }
        SimFormat::Ga4 => output::write_path(out, |p| render::write_ga4(&sim.events, p))?,
        SimFormat::Klaviyo => {
            output::write_path(out, |p| render::write_klaviyo(&sim.events, p))?;
        }
    }
    finish_simulate(&a, out, &truth)
}

/// The truth file and the summary line of `simulate`.
fn finish_simulate(a: &SimulateArgs, out: &Path, truth: &simulate::Truth) -> Result<()> {
    if let Some(p) = &a.truth {
        write_json(p, truth)?;
    }
    outln!(
        "simulated {} entries of {} customers: {} events → {}",
        truth.arms.values().map(|t| t.entries).sum::<u64>(),
        truth.customers,
        truth.events,
        out.display()
    );
    Ok(())
}

fn run_policy(a: PolicyArgs) -> Result<()> {
    use cartlift::policy;
    if let Some(units) = &a.table.units {
        return run_policy_table(units, &a);
    }
    let (Some(input), Some(flow)) = (&a.input, &a.flow) else {
        bail!("expected a carts table and --flow, or --units");
    };
    if !a.table.covariates.is_empty() {
        return run_policy_carts(input, flow, &a);
    }
    if a.table.scores.is_some() {
        bail!(
            "--scores: expected --units or --covariates (the grid policy has no per-unit scores)"
        );
    }
    claim(
        &[("input", input), ("--flow", flow)],
        &[
            ("--json", a.json.as_ref()),
            ("--write-flow", a.write_flow.as_ref()),
        ],
    )?;
    let config = FlowConfig::load(flow)?;
    policy::check_config(&config).with_context(|| format!("flow config {}", flow.display()))?;
    let carts = cartlift::lift::load_carts(input, &config)?;
    let opts = policy::PolicyOptions {
        alpha: a.alpha,
        current: a.current.clone(),
        explore: a.explore,
    };
    let report = policy::analyze(&carts, &config, &opts)
        .with_context(|| format!("policy from {}", input.display()))?;
    say(&policy::render(&report));
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    if let Some(p) = &a.write_flow {
        let text = policy::next_flow(&config, &report, &input.display().to_string())?;
        output::write_bytes(p, text.as_bytes())?;
        outln!("next flow: {}", p.display());
    }
    Ok(())
}

fn run_policy_table(units: &PathBuf, a: &PolicyArgs) -> Result<()> {
    let t = &a.table;
    claim(
        &[("--units", units)],
        &[("--json", a.json.as_ref()), ("--scores", t.scores.as_ref())],
    )?;
    let opts = learned_options(
        a,
        t.arm_col.clone().unwrap_or_default(),
        t.control.clone().unwrap_or_default(),
        t.metric.clone().unwrap_or_default(),
        t.covariates.clone(),
        t.weights.as_ref().map(|w| w.0.clone()),
    );
    let df = cartlift::uplift::read_table(units)?;
    learned_policy(&df, &units.display().to_string(), &opts, a).map(|_| ())
}

/// `policy CARTS --flow F --covariates ...`: the learned policy on the
/// carts, one unit per customer, arms at the flow's weights.
fn run_policy_carts(input: &PathBuf, flow: &PathBuf, a: &PolicyArgs) -> Result<()> {
    use cartlift::uplift::carts;
    claim(
        &[("input", input), ("--flow", flow)],
        &[
            ("--json", a.json.as_ref()),
            ("--scores", a.table.scores.as_ref()),
            ("--write-flow", a.write_flow.as_ref()),
        ],
    )?;
    let config = FlowConfig::load(flow)?;
    cartlift::policy::check_message_costs(&config)
        .with_context(|| format!("flow config {}", flow.display()))?;
    if let Some(cur) = &a.current {
        if config.arm(cur).is_some_and(|arm| arm.holdout) {
            bail!("--current {cur}: the holdout is not an arm a flow can deploy; expected the treatment arm running today");
        }
    }
    let covariates = carts::cart_covariates(&a.table.covariates)?;
    let df = cartlift::lift::load_carts(input, &config)?;
    let (table, without_value) = carts::carts_table(&df, &config, &covariates)?;
    if without_value > 0 {
        outln!("{without_value} customers left out: their first entry has no cart value");
    }
    let t = &a.table;
    let mut opts = carts::flow_options(&config, covariates);
    if a.current.is_some() {
        opts.current = a.current.clone();
    }
    opts.folds = t.folds;
    opts.depth = t.depth;
    opts.min_leaf_share = t.min_leaf;
    opts.seed = t.seed;
    opts.ranker = t.ranker;
    opts.model_depth = t.model_depth;
    opts.alpha = a.alpha;
    let source = input.display().to_string();
    let report = learned_policy(&table, &source, &opts, a)?;
    if let Some(p) = &a.write_flow {
        let text = cartlift::uplift::next::tree_flow(&config, &report, a.explore, &source)?;
        output::write_bytes(p, text.as_bytes())?;
        outln!("next flow: {}", p.display());
    }
    Ok(())
}

fn learned_options(
    a: &PolicyArgs,
    arm_col: String,
    control: String,
    metric: String,
    covariates: Vec<String>,
    weights: Option<Vec<(String, f64)>>,
) -> cartlift::uplift::TableOptions {
    let t = &a.table;
    cartlift::uplift::TableOptions {
        arm_col,
        control,
        metric,
        cost_per_treated: t.cost_per_treated,
        value_per_unit: t.value_per_unit,
        covariates,
        split_col: t.split_col.clone(),
        folds: t.folds,
        depth: t.depth,
        grid: 32,
        min_leaf_share: t.min_leaf,
        current: a.current.clone(),
        alpha: a.alpha,
        seed: t.seed,
        ranker: t.ranker,
        model_depth: t.model_depth,
        weights,
    }
}

fn learned_policy(
    df: &polars::prelude::DataFrame,
    source: &str,
    opts: &cartlift::uplift::TableOptions,
    a: &PolicyArgs,
) -> Result<cartlift::uplift::UpliftReport> {
    use cartlift::uplift;
    let report = stage("policy tree and its honest value", || {
        uplift::run_table(df, source, opts)
    })?;
    say(&uplift::render::render(&report));
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    if let Some(p) = &a.table.scores {
        output::write_file(p, |f| uplift::render::write_scores(&report, f))?;
        outln!("scores: {}", p.display());
    }
    Ok(report)
}

fn run_assign(a: AssignArgs) -> Result<()> {
    let mut inputs = vec![("--flow", &a.flow)];
    if let Some(c) = &a.customers {
        inputs.push(("--customers", c));
    }
    claim(&inputs, &[("--out", a.out.as_ref())])?;
    let config = FlowConfig::load(&a.flow)?;
    if let (Some(AssignExport::Klaviyo), Some(input)) = (a.export, &a.customers) {
        return run_assign_klaviyo(&config, input, a.key_column.as_deref(), a.out.as_deref());
    }
    let assigner = assign::Assigner::new(&config);
    let ids: Vec<String> = match (&a.customers, &a.customer_id) {
        (Some(p), _) => assign::read_customer_ids(p)?,
        (None, Some(id)) => vec![id.clone()],
        (None, None) => bail!("expected --customers FILE or --customer-id ID"),
    };
    let write = |out: &mut dyn std::io::Write| -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["customer_id", "bucket", "arm"])?;
        for id in &ids {
            let (bucket, arm) = assigner.assign(id);
            w.write_record([
                &*output::encode::csv_cell(id),
                &bucket.to_string(),
                &output::encode::csv_cell(assigner.arm_name(arm)),
            ])?;
        }
        w.flush()?;
        Ok(())
    };
    match &a.out {
        Some(p) => output::write_file(p, |f| write(f)),
        None => {
            let mut text = Vec::new();
            write(&mut text)?;
            say(&String::from_utf8_lossy(&text));
            Ok(())
        }
    }
}

fn run_lift(a: LiftArgs) -> Result<()> {
    use cartlift::lift;
    let mut inputs = Vec::new();
    for (opt, p) in [
        ("input", &a.input),
        ("--flow", &a.flow),
        ("--stats", &a.stats),
        ("--units", &a.units),
    ] {
        if let Some(p) = p {
            inputs.push((opt, p));
        }
    }
    claim(
        &inputs,
        &[
            ("--write-stats", a.write_stats.as_ref()),
            ("--json", a.json.as_ref()),
        ],
    )?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha: expected a level between 0 and 1, got {}", a.alpha);
    }
    if let Some(sd) = a.prior_sd {
        if !(sd > 0.0 && sd.is_finite()) {
            bail!("--prior-sd: expected a positive standard deviation, got {sd}");
        }
    }
    let opts = lift::LiftOptions {
        alpha: a.alpha,
        prior_sd: a.prior_sd,
        cuped: a.cuped || a.covariate.is_some(),
        sequential_planned: if a.sequential { a.planned_n } else { None },
        cap: a.cap,
    };
    let report = if let Some(table) = &a.units {
        let control = a.control.clone().unwrap_or_default();
        let arm_col = a.arm_col.clone().unwrap_or_default();
        if a.metrics.is_empty() {
            bail!("--metric: expected at least one outcome column in table mode");
        }
        lift::run_table(
            table,
            &arm_col,
            &control,
            &a.metrics,
            &a.segment_by,
            a.covariate.as_deref(),
            a.weights.as_ref().map(|w| w.0.as_slice()),
            &opts,
        )?
    } else if let Some(stats) = &a.stats {
        let flow_path = a.flow.as_ref().expect("clap requires --flow");
        let config = FlowConfig::load(flow_path)?;
        stage("statistics from the table", || {
            lift::run_stats(stats, &config, &a.segment_by, &opts)
        })?
    } else {
        let flow_path = a.flow.as_ref().expect("clap requires --flow");
        let config = FlowConfig::load(flow_path)?;
        let input = a.input.as_ref().expect("clap requires the input");
        let mut columns: Vec<String> = lift::units::REQUIRED_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect();
        for dim in &a.segment_by {
            if !columns.contains(dim) {
                columns.push(dim.clone());
            }
        }
        let carts = stage("read carts", || {
            lift::load_carts_columns(input, &config, Some(&columns))
        })?;
        cartlift::progress::detail(format!("{} entries", carts.height()));
        let stats = stage("reduce to sufficient statistics", || {
            lift::carts_stats(&carts, &config, &a.segment_by, &opts)
        })?;
        let mut report = stage("statistics", || {
            lift::analyze_config(&stats, &config, &opts)
        })?;
        stage("capped beside the raw result", || {
            lift::capped_beside_carts(&mut report, &carts, &config, &a.segment_by, &opts)
        })?;
        (stats, report)
    };
    let (stats, report) = report;
    if let Some(p) = &a.write_stats {
        stats.write(p)?;
    }
    say(&lift::table::render(&report));
    if let Some(p) = &a.json {
        write_json(p, &report)?;
    }
    Ok(())
}

fn run_attribute(a: AttributeArgs) -> Result<()> {
    use cartlift::attribution::{self as attr, holdout, journeys};
    let mut inputs = Vec::new();
    for (opt, p) in [
        ("input", &a.events),
        ("--flow", &a.flow),
        ("--paths", &a.paths),
    ] {
        if let Some(p) = p {
            inputs.push((opt, p));
        }
    }
    claim(&inputs, &[("--json", a.json.as_ref())])?;
    let models: Vec<Box<dyn attr::AttributionModel>> = if a.models.is_empty() {
        attr::standard_models()
    } else {
        a.models
            .iter()
            .map(|m| {
                holdout::model_by_name(m.trim()).ok_or_else(|| {
                    anyhow::anyhow!("--models: unknown model `{m}`; expected first_touch, last_touch, linear, position_based, time_decay, markov_order_1..4, shapley or shapley_ordered")
                })
            })
            .collect::<Result<_>>()?
    };
    if let Some(table) = &a.paths {
        let delimiter = match a.delimiter {
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => bail!("--delimiter {c:?}: expected a single ASCII character"),
            None => None,
        };
        let opts = attr::PathTableOptions {
            path_col: a.path_col.clone(),
            conv_col: a.conv_col.clone(),
            value_col: a.value_col.clone(),
            null_col: a.null_col.clone(),
            sep: a.sep.clone(),
            delimiter,
        };
        let paths = attr::read_path_table(table, &opts)?;
        let credits = attr::attribute_all(&models, &paths);
        let json = attr::credit_to_json(&credits, &paths.channels);
        say(&render_credit(&json));
        if let Some(p) = &a.json {
            write_json(p, &json)?;
        }
        return Ok(());
    }
    let config = FlowConfig::load(a.flow.as_ref().expect("clap requires --flow"))?;
    let events = a.events.clone().expect("clap requires events");
    // Raw events take the bounded-memory route `paths` takes.
    let opts = IngestOptions {
        klaviyo_steps: Some(events::klaviyo::StepMap::from_config(&config)),
        ..Default::default()
    };
    let tables = flow::reconstruct_inputs(&[events], &opts, &config, true)?;
    let rule = if a.platform_default {
        journeys::JourneyRule {
            by: a.by,
            ..journeys::JourneyRule::platform_default()
        }
    } else {
        journeys::JourneyRule {
            interaction: a.interaction,
            lookback: a.lookback,
            by: a.by,
        }
    };
    let reports = holdout::attribute_flow(&tables.carts, &tables.touches, &config, &rule, &models)?;
    for r in &reports {
        outln!("{} ({} journeys)", r.arm, r.journeys);
        say(&render_credit(&r.credit));
        if let Some(inc) = &r.incremental_revenue {
            outln!(
                "holdout-measured incremental revenue: {:.2}  95% CI [{:.2}, {:.2}]",
                inc.estimate,
                inc.ci.lower,
                inc.ci.upper
            );
            for m in &r.side_by_side {
                outln!(
                    "  {:<18} credits {:>12.2}  over-attribution {}",
                    m.model,
                    m.credited_revenue,
                    m.over_attribution_ratio
                        .map_or("n/a".into(), |x| format!("{x:.2}×"))
                );
            }
        }
    }
    if let Some(p) = &a.json {
        write_json(p, &reports)?;
    }
    Ok(())
}

/// Prints rendered text on standard output, with any control character
/// from the data made visible (never passed to the terminal raw). A reader
/// that stops reading (`| head`) ends the run quietly; any other failure
/// to write is an error, never a panic.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(output::encode::terminal_text(text).as_bytes())
        .and_then(|_| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Value credited per channel, one row per model.
fn render_credit(json: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let channels: Vec<&str> = json["channels"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    let _ = write!(s, "{:<18}", "model");
    for c in &channels {
        let _ = write!(s, " {c:>14}");
    }
    s.push('\n');
    for m in json["models"].as_array().into_iter().flatten() {
        let _ = write!(s, "{:<18}", m["model"].as_str().unwrap_or(""));
        for ch in m["channels"].as_array().into_iter().flatten() {
            let _ = write!(s, " {:>14.2}", ch["value"].as_f64().unwrap_or(0.0));
        }
        s.push('\n');
    }
    s
}

fn run_plan(a: PlanArgs) -> Result<()> {
    use cartlift::stats::power::{self, PowerDesign};
    let mut inputs = Vec::new();
    for (opt, p) in [("input", &a.input), ("--flow", &a.flow)] {
        if let Some(p) = p {
            inputs.push((opt, p));
        }
    }
    claim(&inputs, &[("--json", a.json.as_ref())])?;
    let config = a.flow.as_ref().map(|p| FlowConfig::load(p)).transpose()?;
    let holdout = a
        .holdout
        .or_else(|| config.as_ref().map(|c| c.holdout().weight))
        .ok_or_else(|| {
            anyhow::anyhow!("--holdout: expected the held-out share (or --flow to take it from)")
        })?;
    let mut designs: Vec<(String, PowerDesign)> = Vec::new();
    if let Some(input) = &a.input {
        let config = config.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "--flow: expected the flow config to read {}",
                input.display()
            )
        })?;
        let carts = cartlift::lift::load_carts(input, config)?;
        let base = cartlift::lift::baseline(&carts, config)?;
        let daily = a.daily.unwrap_or(base.daily_customers);
        designs.push((
            "revenue_per_recipient".into(),
            PowerDesign::for_mean(base.revenue_mean, base.revenue_variance, holdout, daily),
        ));
        designs.push((
            "conversion_rate".into(),
            PowerDesign::for_proportion(base.conversion_rate, holdout, daily),
        ));
    } else {
        let daily = a
            .daily
            .ok_or_else(|| anyhow::anyhow!("--daily: expected recipients entering per day"))?;
        match (a.baseline_mean, a.baseline_sd, a.baseline_rate) {
            (Some(m), Some(sd), _) => designs.push((
                "metric".into(),
                PowerDesign::for_mean(m, sd * sd, holdout, daily),
            )),
            (_, _, Some(p)) => designs.push((
                "conversion_rate".into(),
                PowerDesign::for_proportion(p, holdout, daily),
            )),
            _ => bail!(
                "expected a carts table, --baseline-mean with --baseline-sd, or --baseline-rate"
            ),
        }
    }
    let mut out = serde_json::Map::new();
    for (name, d) in &designs {
        let value = if let Some(days) = a.days {
            let r = power::minimum_detectable_effect(d, days)?;
            outln!(
                "{name}: in {days} days ({:.0} recipients, {:.0} held out) the smallest detectable effect at 80% power is {:.4} ({})",
                r.total_units,
                r.holdout_units,
                r.mde_absolute,
                r.mde_relative.map_or("n/a".into(), |x| format!("{:+.1}%", x * 100.0))
            );
            serde_json::to_value(r)?
        } else {
            let r = match (a.effect, a.relative_effect) {
                (Some(e), _) => power::days_for_effect(d, e)?,
                (_, Some(rel)) => power::days_for_relative_effect(d, rel)?,
                _ => bail!("expected --days, --effect or --relative-effect"),
            };
            if !(r.days.is_finite() && r.days <= MAX_PLAN_DAYS) {
                bail!(
                    "{name}: an effect of {} is not reachable: detecting it at 80% power needs more than {MAX_PLAN_DAYS} days of traffic; expected a larger effect",
                    cartlift::validate::shown(a.effect.or(a.relative_effect).unwrap_or_default())
                );
            }
            outln!(
                "{name}: detecting {:.4} ({}) at 80% power needs {} days ({:.0} recipients)",
                r.mde_absolute,
                r.mde_relative
                    .map_or("n/a".into(), |x| format!("{:+.1}%", x * 100.0)),
                r.whole_days,
                r.total_units
            );
            serde_json::to_value(r)?
        };
        out.insert(name.clone(), value);
    }
    if let Some(p) = &a.json {
        write_json(p, &out)?;
    }
    Ok(())
}

/// Longer than any experiment runs (a century): beyond it `plan` says "not reachable".
const MAX_PLAN_DAYS: f64 = 36_500.0;

fn run_report(a: ReportArgs) -> Result<()> {
    let mut inputs = inputs_named("input", &a.events);
    inputs.push(("--flow", &a.flow));
    claim_with_folder(&inputs, &[], Some(("--out", &a.out)))?;
    let config = FlowConfig::load(&a.flow)?;
    let job = cartlift::report::Job {
        show_ids: a.show_ids,
        ..cartlift::report::Job::new(&a.events, &config)
    };
    let summary = cartlift::report::run_job(&job, &a.out)?;
    say(&cartlift::report::render_headline(&summary));
    outln!(
        "\nopen {} (every figure: summary.json beside it)",
        a.out.join("index.html").display()
    );
    Ok(())
}

fn run_demo(a: DemoArgs) -> Result<()> {
    claim_with_folder(&[], &[], Some(("--out", &a.out)))?;
    let demo = cartlift::report::demo(&a.out)?;
    say(&cartlift::report::render_headline(&demo.summary));
    say(&cartlift::report::render_targeting(
        &demo.targeting,
        &a.out.join(cartlift::report::TARGETING_DIR),
    ));
    outln!(
        "\nopen {} (every figure: summary.json beside it)",
        a.out.join("index.html").display()
    );
    Ok(())
}

#[derive(clap::Args)]
struct SqlArgs {
    #[arg(long)]
    flow: PathBuf,
    #[arg(long, value_enum)]
    dialect: cartlift::sql::Dialect,
    /// Canonical events: a table name, or (duckdb, spark) a Parquet path or glob.
    #[arg(long)]
    events: String,
    /// Carts columns to segment the statistics by (cart_value_band, customer_status).
    #[arg(long, value_delimiter = ',')]
    segment_by: Vec<String>,
    /// What the final SELECT returns.
    #[arg(long, value_enum, default_value = "stats")]
    query: cartlift::sql::Query,
    /// Per-partition statistics: rows split by customer bucket mod N (they add up).
    #[arg(long)]
    partitions: Option<u32>,
    /// A column holding the events' original order (tables; ties in time otherwise go by content).
    #[arg(long)]
    row_order: Option<String>,
    /// Path table: name touches by flow step or by channel.
    #[arg(long, value_enum, default_value = "step")]
    by: cartlift::sql::PathBy,
    /// Path table: only touches this long before the order count (e.g. 5d).
    #[arg(long, value_parser = parse_span)]
    lookback: Option<cartlift::duration::Span>,
    /// Write the SQL here (standard output when absent).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn run_sql(a: SqlArgs) -> Result<()> {
    use cartlift::sql;
    claim(&[("--flow", &a.flow)], &[("--out", a.out.as_ref())])?;
    let config = FlowConfig::load(&a.flow)?;
    let opts = sql::SqlOptions {
        segment_by: a.segment_by.iter().map(|s| s.trim().to_string()).collect(),
        query: a.query,
        partitions: a.partitions,
        row_order: a.row_order.clone(),
        by: a.by,
        lookback: a.lookback.map(|l| l.micros()),
        ..sql::SqlOptions::new(a.dialect, &a.events)
    };
    let text = sql::generate(&config, &opts)?;
    match &a.out {
        Some(p) => output::write_bytes(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}

#[derive(Subcommand)]
enum FlowCommand {
    /// A Klaviyo flow (GET /api/flows/{id}?additional-fields[flow]=definition) → flow.toml.
    Import(FlowImportArgs),
    /// flow.toml → the Klaviyo create-flow request body (POST /api/flows).
    Export(FlowExportArgs),
}

#[derive(clap::Args)]
struct FlowImportArgs {
    /// The flow definition as Klaviyo's API returns it (a create-flow body also reads).
    #[arg(long, value_name = "FLOW.json")]
    klaviyo: PathBuf,
    #[arg(long, value_name = "flow.toml")]
    out: PathBuf,
    /// The flow file to take what Klaviyo does not hold from: abandonment,
    /// attribution window, salt, arm weights, margin, segments, guardrails.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Names the trigger metric: a GET /api/metrics response or a GET /api/events?include=metric page.
    #[arg(long, value_name = "JSON")]
    metrics: Option<PathBuf>,
    /// The trigger, whatever the metric: checkout_started or cart_updated.
    #[arg(long, value_parser = parse_trigger)]
    trigger: Option<cartlift::config::Trigger>,
    /// The holdout's share when the flow has no holdout split and no --base.
    #[arg(long)]
    holdout_share: Option<f64>,
}

#[derive(clap::Args)]
struct FlowExportArgs {
    /// The flow file to export.
    #[arg(long, value_name = "flow.toml")]
    klaviyo: PathBuf,
    #[arg(long, value_name = "create_flow.json")]
    out: PathBuf,
    /// The account's id of the trigger metric (default: `[klaviyo] trigger_metric_id`).
    #[arg(long)]
    trigger_metric_id: Option<String>,
}

fn parse_trigger(s: &str) -> Result<cartlift::config::Trigger, String> {
    match s {
        "checkout_started" => Ok(cartlift::config::Trigger::CheckoutStarted),
        "cart_updated" => Ok(cartlift::config::Trigger::CartUpdated),
        _ => Err(format!("`{s}`: expected checkout_started or cart_updated")),
    }
}

fn run_flow(c: FlowCommand) -> Result<()> {
    use cartlift::klaviyo_flow as kf;
    match c {
        FlowCommand::Import(a) => {
            let mut inputs = vec![("--klaviyo", &a.klaviyo)];
            inputs.extend(a.base.as_ref().map(|p| ("--base", p)));
            inputs.extend(a.metrics.as_ref().map(|p| ("--metrics", p)));
            claim(&inputs, &[("--out", Some(&a.out))])?;
            if let Some(h) = a.holdout_share {
                if !(h > 0.0 && h < 1.0) {
                    bail!("--holdout-share: expected a share between 0 and 1, got {h}");
                }
            }
            let def = kf::read_definition(&a.klaviyo)?;
            let base = a.base.as_deref().map(FlowConfig::load).transpose()?;
            let metrics = match &a.metrics {
                Some(p) => Some(kf::metric_names(&kf::read_json(p)?)),
                None => None,
            };
            let opts = kf::ImportOptions {
                base: base.as_ref(),
                metrics: metrics.as_ref(),
                trigger: a.trigger,
                holdout_share: a.holdout_share,
            };
            let imported = kf::import(&def, &opts)
                .with_context(|| format!("Klaviyo flow {}", a.klaviyo.display()))?;
            warn_all(&a.klaviyo.display().to_string(), &imported.warnings);
            output::write_bytes(&a.out, imported.config.to_toml()?.as_bytes())?;
            let c = &imported.config;
            let steps: usize = c.arms.iter().map(|x| x.steps.len()).sum();
            say(&format!(
                "flow `{}`: {} arms, {steps} steps; {} warning(s); written to {}\n",
                c.flow.name,
                c.arms.len(),
                imported.warnings.len(),
                a.out.display()
            ));
        }
        FlowCommand::Export(a) => {
            claim(&[("--klaviyo", &a.klaviyo)], &[("--out", Some(&a.out))])?;
            let config = FlowConfig::load(&a.klaviyo)?;
            let opts = kf::ExportOptions {
                trigger_metric_id: a.trigger_metric_id,
            };
            let exported = kf::export(&config, &opts)
                .with_context(|| format!("flow config {}", a.klaviyo.display()))?;
            warn_all(&a.klaviyo.display().to_string(), &exported.warnings);
            write_json(&a.out, &exported.body)?;
            say(&format!(
                "Klaviyo create-flow body for `{}`: {} actions; {} warning(s); written to {}\n",
                config.flow.name,
                exported.definition.actions.len(),
                exported.warnings.len(),
                a.out.display()
            ));
        }
    }
    Ok(())
}

/// Warnings on stderr, each naming its source, made safe for a terminal.
fn warn_all(source: &str, warnings: &[String]) {
    for w in warnings {
        eprintln!(
            "warning: {}",
            output::encode::terminal(&format!("{source}: {w}"))
        );
    }
}

fn run_assign_klaviyo(
    config: &FlowConfig,
    input: &std::path::Path,
    key_column: Option<&str>,
    out: Option<&std::path::Path>,
) -> Result<()> {
    use cartlift::klaviyo_flow::profiles;
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let source = input.display().to_string();
    let r = match out {
        Some(p) => {
            let mut r = None;
            output::write_file(p, |f| {
                r = Some(profiles::write_profiles(
                    config, file, &source, key_column, f,
                )?);
                Ok(())
            })?;
            r.expect("written")
        }
        None => {
            let mut text = Vec::new();
            let r = profiles::write_profiles(config, file, &source, key_column, &mut text)?;
            say(&String::from_utf8_lossy(&text));
            r
        }
    };
    const SHOWN: usize = 20;
    let skipped: Vec<String> = r
        .skipped
        .iter()
        .take(SHOWN)
        .map(|(line, reason)| format!("line {line}: skipped: {reason}"))
        .chain(
            (r.skipped.len() > SHOWN)
                .then(|| format!("{} more rows skipped", r.skipped.len() - SHOWN)),
        )
        .collect();
    warn_all(&source, &skipped);
    let arms: Vec<String> = r.per_arm.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let line = format!(
        "{} profiles ({}; arm from the hash of {}), {} skipped, {} repeated",
        r.written,
        arms.join(", "),
        r.key_column,
        r.skipped.len(),
        r.duplicates
    );
    match out {
        Some(p) => say(&format!("{line}; written to {}\n", p.display())),
        None => eprintln!("{}", output::encode::terminal(&line)),
    }
    Ok(())
}
