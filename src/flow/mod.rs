//! Flow reconstruction: canonical events → one row per flow entry (carts)
//! and one row per message (touches), plus the audit.
//!
//! Invariants: arms are fixed at entry from the customer's hash bucket
//! (intent to treat); output rows are ordered by customer id, then entry
//! ordinal, so the same events give byte-identical tables.

pub mod audit;
pub mod reconstruct;
pub mod stream;
pub mod table;

use crate::assign::Assigner;
use crate::config::FlowConfig;
use anyhow::Result;
use audit::Audit;
use polars::prelude::*;
use rayon::prelude::*;
use reconstruct::{reconstruct_customer, CustomerFlow, Rules};
use table::{EventTable, NONE};

/// Carts columns (one row per flow entry).
pub mod carts {
    pub const ENTRY_ID: &str = "entry_id";
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const CART_ID: &str = "cart_id";
    pub const ARM: &str = "arm";
    pub const BUCKET: &str = "bucket";
    pub const ABANDONED_AT: &str = "abandoned_at";
    pub const ENTERED_AT: &str = "entered_at";
    pub const CART_VALUE: &str = "cart_value";
    pub const CART_VALUE_BAND: &str = "cart_value_band";
    pub const CUSTOMER_STATUS: &str = "customer_status";
    pub const STEPS_SENT: &str = "steps_sent";
    pub const MESSAGES_SENT: &str = "messages_sent";
    pub const MESSAGES_SUPPRESSED: &str = "messages_suppressed";
    pub const FIRST_TOUCH_STEP: &str = "first_touch_step";
    pub const FIRST_TOUCH_AT: &str = "first_touch_at";
    pub const LAST_TOUCH_STEP: &str = "last_touch_step";
    pub const LAST_TOUCH_AT: &str = "last_touch_at";
    pub const OPENED: &str = "opened";
    pub const CLICKED: &str = "clicked";
    pub const INCENTIVE_OFFERED: &str = "incentive_offered";
    pub const CONVERTED: &str = "converted";
    pub const ORDER_ID: &str = "order_id";
    pub const ORDER_AT: &str = "order_at";
    pub const ORDER_VALUE: &str = "order_value";
    pub const REFUNDED: &str = "refunded";
    pub const CANCELLED: &str = "cancelled";
    pub const REVENUE: &str = "revenue";
    pub const DISCOUNT: &str = "discount";
    pub const COUPON: &str = "coupon";
    pub const MESSAGE_COST: &str = "message_cost";
    pub const UNSUBSCRIBED: &str = "unsubscribed";
    pub const COMPLAINED: &str = "complained";
    pub const WINDOW_COMPLETE: &str = "window_complete";
    pub const CUSTOMER_PRIOR_SPEND: &str = "customer_prior_spend";
    /// Orders the customer placed before the cart was abandoned (entry-time
    /// covariate of the learned policy).
    pub const PRIOR_ORDERS: &str = "prior_orders";
    /// Days from the customer's latest order to the abandonment; null when
    /// they had none.
    pub const DAYS_SINCE_LAST_ORDER: &str = "days_since_last_order";
    /// Earlier orders (before the abandonment) with a discount or coupon.
    pub const PRIOR_DISCOUNTED_ORDERS: &str = "prior_discounted_orders";
    /// Days from the customer's first order to the abandonment; null when
    /// they had none.
    pub const DAYS_SINCE_FIRST_ORDER: &str = "days_since_first_order";
    /// The channel the cart's activity events named (`web`, `app`, …),
    /// `unknown` when none did.
    pub const CAPTURE_CHANNEL: &str = "capture_channel";
}

/// Touches columns (one row per message).
pub mod touches {
    pub const ENTRY_ID: &str = "entry_id";
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const ARM: &str = "arm";
    pub const STEP: &str = "step";
    pub const CHANNEL: &str = "channel";
    pub const STATUS: &str = "status";
    pub const SENT_AT: &str = "sent_at";
    pub const DELIVERED: &str = "delivered";
    pub const BOUNCED: &str = "bounced";
    pub const OPENED: &str = "opened";
    pub const OPENED_AT: &str = "opened_at";
    pub const CLICKED: &str = "clicked";
    pub const CLICKED_AT: &str = "clicked_at";
    pub const AFTER_PURCHASE: &str = "after_purchase";
}

pub struct FlowTables {
    pub carts: DataFrame,
    pub touches: DataFrame,
    pub audit: Audit,
}

/// Reconstructs every customer's entries, in parallel, in customer-id order.
pub fn reconstruct(table: &EventTable, config: &FlowConfig) -> Result<FlowTables> {
    reconstruct_tables(table, config, true)
}

/// As [`reconstruct`]; the touches frame is built only when `with_touches`
/// (it is the larger table, and `paths` without `--touches` never needs it).
pub fn reconstruct_tables(
    table: &EventTable,
    config: &FlowConfig,
    with_touches: bool,
) -> Result<FlowTables> {
    let data_end = table.ts.iter().copied().max().unwrap_or(0);
    reconstruct_until(table, config, with_touches, data_end)
}

/// As [`reconstruct_tables`], for a table holding some customers' events
/// (all of each one's) of a log that ends at `data_end`.
pub(crate) fn reconstruct_until(
    table: &EventTable,
    config: &FlowConfig,
    with_touches: bool,
    data_end: i64,
) -> Result<FlowTables> {
    let rules = Rules::new(config, data_end);
    let assigner = Assigner::new(config);
    let groups = group_by_customer(table);
    let mut order: Vec<u32> = (0..table.customers.len() as u32).collect();
    order.par_sort_unstable_by(|a, b| table.customers.name(*a).cmp(&table.customers.name(*b)));
    let flows: Vec<CustomerFlow> = order
        .par_iter()
        .map(|&c| reconstruct_customer(table, groups.rows(c), c, &rules, &assigner))
        .collect();
    let mut audit = Audit::new();
    audit.skipped_rows = table.skipped_rows;
    for f in &flows {
        if let Some(e) = f.entries.first() {
            let name = table.customers.name(e.customer).unwrap_or_default();
            audit.add(&f.audit, |ordinal| entry_id(name, ordinal));
        } else {
            audit.add(&f.audit, |_| String::new());
        }
        audit.entries += f.entries.len() as u64;
        audit.touches += f.touches.len() as u64;
    }
    let carts = carts_frame(table, config, &assigner, &flows)?;
    let touches = if with_touches {
        touches_frame(table, &assigner, &flows)?
    } else {
        DataFrame::empty()
    };
    Ok(FlowTables {
        carts,
        touches,
        audit,
    })
}

pub fn entry_id(customer: &str, ordinal: u32) -> String {
    format!("{customer}#{ordinal}")
}

/// Row indices grouped by customer, each group sorted by (ts, kind, row).
struct Groups {
    offsets: Vec<usize>,
    rows: Vec<u32>,
}

impl Groups {
    fn rows(&self, customer: u32) -> &[u32] {
        let c = customer as usize;
        &self.rows[self.offsets[c]..self.offsets[c + 1]]
    }
}

fn group_by_customer(t: &EventTable) -> Groups {
    let n_customers = t.customers.len();
    let mut offsets = vec![0usize; n_customers + 1];
    for &c in &t.customer {
        offsets[c as usize + 1] += 1;
    }
    for i in 0..n_customers {
        offsets[i + 1] += offsets[i];
    }
    let mut cursor = offsets.clone();
    let mut rows = vec![0u32; t.len()];
    for (r, &c) in t.customer.iter().enumerate() {
        rows[cursor[c as usize]] = r as u32;
        cursor[c as usize] += 1;
    }
    let mut slices: Vec<&mut [u32]> = Vec::with_capacity(n_customers);
    let mut rest: &mut [u32] = &mut rows;
    for i in 0..n_customers {
        let (head, tail) = rest.split_at_mut(offsets[i + 1] - offsets[i]);
        slices.push(head);
        rest = tail;
    }
    slices
        .par_iter_mut()
        .for_each(|s| s.sort_unstable_by_key(|&r| (t.ts[r as usize], t.kind[r as usize] as u8, r)));
    Groups { offsets, rows }
}

fn datetime(name: &str, v: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), v.into_iter())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_series()
        .into()
}

fn carts_frame<'a>(
    t: &'a EventTable,
    config: &FlowConfig,
    assigner: &'a Assigner,
    flows: &[CustomerFlow],
) -> Result<DataFrame> {
    let n: usize = flows.iter().map(|f| f.entries.len()).sum();
    let mut b = CartsBuilder::with_capacity(n);
    let mut bands = Bands::new(config);
    for f in flows {
        for (i, e) in f.entries.iter().enumerate() {
            let customer = t.customers.name(e.customer).unwrap_or_default();
            let sent: Vec<_> = f
                .touches
                .iter()
                .filter(|x| x.entry == i && !x.suppressed)
                .collect();
            let suppressed = f
                .touches
                .iter()
                .filter(|x| x.entry == i && x.suppressed)
                .count();
            let mut steps: Vec<i32> = sent.iter().map(|x| x.step).collect();
            steps.sort_unstable();
            steps.dedup();
            let first = sent.iter().min_by_key(|x| (x.sent_at, x.step));
            let last = sent.iter().max_by_key(|x| (x.sent_at, x.step));
            let status = t.statuses.name(e.status).unwrap_or("unknown");
            let capture = t.channels.name(e.capture_channel).unwrap_or("unknown");
            let value = (!e.cart_value.is_nan()).then_some(e.cart_value);
            let arm = &config.arms[e.arm];
            // The entry's branch, when its arm has any (what it knows at
            // abandonment decides which steps it was meant to get).
            let arm_steps = if arm.branches.is_empty() {
                &arm.steps[..]
            } else {
                arm.steps_for(&e.covariates(status, capture))
            };
            let offered = sent.iter().any(|x| {
                arm_steps.iter().any(|s| {
                    s.step as i32 == x.step
                        && s.incentive
                            .as_ref()
                            .is_some_and(|inc| inc.applies_to(e.cart_value, status))
                })
            });
            let cost: f64 = sent
                .iter()
                .map(|x| config.message_cost(t.channels.name(x.channel).unwrap_or("email")))
                .sum();
            b.entry_id.push(entry_id(customer, e.ordinal));
            b.customer_id.push(customer);
            b.cart_id.push(t.carts.name(e.cart));
            b.arm.push(assigner.arm_name(e.arm));
            b.bucket.push(e.bucket);
            b.abandoned_at.push(Some(e.abandoned_at));
            b.entered_at.push(Some(e.entered_at));
            b.cart_value.push(value);
            b.band.push(match value {
                Some(v) => bands.band_of(v),
                None => "unknown".into(),
            });
            b.status.push(status);
            b.steps_sent.push(steps.len() as u32);
            b.messages_sent.push(sent.len() as u32);
            b.messages_suppressed.push(suppressed as u32);
            b.first_step.push(first.map(|x| x.step));
            b.first_at.push(first.map(|x| x.sent_at));
            b.last_step.push(last.map(|x| x.step));
            b.last_at.push(last.map(|x| x.sent_at));
            b.opened.push(sent.iter().any(|x| x.opened_at.is_some()));
            b.clicked.push(sent.iter().any(|x| x.clicked_at.is_some()));
            b.incentive_offered.push(offered);
            let o = e.order.as_ref();
            b.converted.push(o.is_some());
            b.order_id.push(o.and_then(|o| t.orders.name(o.order)));
            b.order_at.push(o.map(|o| o.at));
            b.order_value.push(o.map_or(0.0, |o| o.value));
            b.refunded.push(o.map_or(0.0, |o| o.refunded));
            b.cancelled.push(o.is_some_and(|o| o.cancelled));
            b.revenue.push(o.map_or(0.0, |o| o.net_revenue()));
            b.discount.push(o.map_or(0.0, |o| o.discount));
            b.coupon.push(o.and_then(|o| t.coupons.name(o.coupon)));
            b.message_cost.push(cost);
            b.unsubscribed.push(e.unsubscribed);
            b.complained.push(e.complained);
            b.window_complete.push(e.window_complete);
            b.prior_spend.push(e.prior_spend);
            b.prior_orders.push(e.prior_orders);
            b.days_since_last_order.push(e.days_since_last_order());
            b.prior_discounted_orders.push(e.prior_discounted_orders);
            b.days_since_first_order.push(e.days_since_first_order());
            b.capture_channel.push(capture);
        }
    }
    b.finish()
}

/// Cart value bands by label, each formatted once: the band of a value is
/// decided by the first edge above it, so values with the same first edge
/// above share the label `band_of` gives.
struct Bands<'a> {
    config: &'a FlowConfig,
    labels: Vec<Option<std::sync::Arc<str>>>,
}

impl<'a> Bands<'a> {
    fn new(config: &'a FlowConfig) -> Bands<'a> {
        Bands {
            config,
            labels: vec![None; config.segments.cart_value_bands.len() + 1],
        }
    }

    fn band_of(&mut self, value: f64) -> std::sync::Arc<str> {
        let edges = &self.config.segments.cart_value_bands;
        let i = edges.iter().position(|&e| value < e).unwrap_or(edges.len());
        self.labels[i]
            .get_or_insert_with(|| self.config.segments.band_of(value).into())
            .clone()
    }
}

#[derive(Default)]
struct CartsBuilder<'a> {
    entry_id: Vec<String>,
    customer_id: Vec<&'a str>,
    cart_id: Vec<Option<&'a str>>,
    arm: Vec<&'a str>,
    bucket: Vec<u32>,
    abandoned_at: Vec<Option<i64>>,
    entered_at: Vec<Option<i64>>,
    cart_value: Vec<Option<f64>>,
    band: Vec<std::sync::Arc<str>>,
    status: Vec<&'a str>,
    steps_sent: Vec<u32>,
    messages_sent: Vec<u32>,
    messages_suppressed: Vec<u32>,
    first_step: Vec<Option<i32>>,
    first_at: Vec<Option<i64>>,
    last_step: Vec<Option<i32>>,
    last_at: Vec<Option<i64>>,
    opened: Vec<bool>,
    clicked: Vec<bool>,
    incentive_offered: Vec<bool>,
    converted: Vec<bool>,
    order_id: Vec<Option<&'a str>>,
    order_at: Vec<Option<i64>>,
    order_value: Vec<f64>,
    refunded: Vec<f64>,
    cancelled: Vec<bool>,
    revenue: Vec<f64>,
    discount: Vec<f64>,
    coupon: Vec<Option<&'a str>>,
    message_cost: Vec<f64>,
    unsubscribed: Vec<bool>,
    complained: Vec<bool>,
    window_complete: Vec<bool>,
    prior_spend: Vec<f64>,
    prior_orders: Vec<u32>,
    days_since_last_order: Vec<Option<f64>>,
    prior_discounted_orders: Vec<u32>,
    days_since_first_order: Vec<Option<f64>>,
    capture_channel: Vec<&'a str>,
}

impl<'a> CartsBuilder<'a> {
    fn with_capacity(n: usize) -> CartsBuilder<'a> {
        let mut b = CartsBuilder::default();
        b.entry_id.reserve(n);
        b
    }

    fn finish(self) -> Result<DataFrame> {
        use carts as c;
        let cols: Vec<Column> = vec![
            Column::new(c::ENTRY_ID.into(), self.entry_id),
            Column::new(c::CUSTOMER_ID.into(), self.customer_id),
            Column::new(c::CART_ID.into(), self.cart_id),
            Column::new(c::ARM.into(), self.arm),
            Column::new(c::BUCKET.into(), self.bucket),
            datetime(c::ABANDONED_AT, self.abandoned_at),
            datetime(c::ENTERED_AT, self.entered_at),
            Column::new(c::CART_VALUE.into(), self.cart_value),
            Column::new(
                c::CART_VALUE_BAND.into(),
                self.band.iter().map(|b| &**b).collect::<Vec<&str>>(),
            ),
            Column::new(c::CUSTOMER_STATUS.into(), self.status),
            Column::new(c::STEPS_SENT.into(), self.steps_sent),
            Column::new(c::MESSAGES_SENT.into(), self.messages_sent),
            Column::new(c::MESSAGES_SUPPRESSED.into(), self.messages_suppressed),
            Column::new(c::FIRST_TOUCH_STEP.into(), self.first_step),
            datetime(c::FIRST_TOUCH_AT, self.first_at),
            Column::new(c::LAST_TOUCH_STEP.into(), self.last_step),
            datetime(c::LAST_TOUCH_AT, self.last_at),
            Column::new(c::OPENED.into(), self.opened),
            Column::new(c::CLICKED.into(), self.clicked),
            Column::new(c::INCENTIVE_OFFERED.into(), self.incentive_offered),
            Column::new(c::CONVERTED.into(), self.converted),
            Column::new(c::ORDER_ID.into(), self.order_id),
            datetime(c::ORDER_AT, self.order_at),
            Column::new(c::ORDER_VALUE.into(), self.order_value),
            Column::new(c::REFUNDED.into(), self.refunded),
            Column::new(c::CANCELLED.into(), self.cancelled),
            Column::new(c::REVENUE.into(), self.revenue),
            Column::new(c::DISCOUNT.into(), self.discount),
            Column::new(c::COUPON.into(), self.coupon),
            Column::new(c::MESSAGE_COST.into(), self.message_cost),
            Column::new(c::UNSUBSCRIBED.into(), self.unsubscribed),
            Column::new(c::COMPLAINED.into(), self.complained),
            Column::new(c::WINDOW_COMPLETE.into(), self.window_complete),
            Column::new(c::CUSTOMER_PRIOR_SPEND.into(), self.prior_spend),
            Column::new(c::PRIOR_ORDERS.into(), self.prior_orders),
            Column::new(c::DAYS_SINCE_LAST_ORDER.into(), self.days_since_last_order),
            Column::new(
                c::PRIOR_DISCOUNTED_ORDERS.into(),
                self.prior_discounted_orders,
            ),
            Column::new(
                c::DAYS_SINCE_FIRST_ORDER.into(),
                self.days_since_first_order,
            ),
            Column::new(c::CAPTURE_CHANNEL.into(), self.capture_channel),
        ];
        Ok(DataFrame::new_infer_height(cols)?)
    }
}

fn touches_frame(t: &EventTable, assigner: &Assigner, flows: &[CustomerFlow]) -> Result<DataFrame> {
    use touches as c;
    let mut entry = Vec::new();
    let mut customer = Vec::new();
    let mut arm = Vec::new();
    let mut step = Vec::new();
    let mut channel = Vec::new();
    let mut status = Vec::new();
    let mut sent_at = Vec::new();
    let mut delivered = Vec::new();
    let mut bounced = Vec::new();
    let mut opened = Vec::new();
    let mut opened_at = Vec::new();
    let mut clicked = Vec::new();
    let mut clicked_at = Vec::new();
    let mut after = Vec::new();
    for f in flows {
        let mut idx: Vec<usize> = (0..f.touches.len()).collect();
        idx.sort_by_key(|&i| {
            (
                f.touches[i].entry,
                f.touches[i].sent_at,
                f.touches[i].step,
                i,
            )
        });
        for i in idx {
            let x = &f.touches[i];
            let e = &f.entries[x.entry];
            let name = t.customers.name(e.customer).unwrap_or_default();
            entry.push(entry_id(name, e.ordinal));
            customer.push(name.to_string());
            arm.push(assigner.arm_name(e.arm).to_string());
            step.push((x.step > 0).then_some(x.step));
            channel.push(t.channels.name(x.channel).map(str::to_string));
            status.push(if x.suppressed { "suppressed" } else { "sent" });
            sent_at.push(Some(x.sent_at));
            delivered.push(x.delivered);
            bounced.push(x.bounced);
            opened.push(x.opened_at.is_some());
            opened_at.push(x.opened_at);
            clicked.push(x.clicked_at.is_some());
            clicked_at.push(x.clicked_at);
            after.push(e.order.as_ref().is_some_and(|o| x.sent_at > o.at));
        }
    }
    let _ = NONE;
    let cols: Vec<Column> = vec![
        Column::new(c::ENTRY_ID.into(), entry),
        Column::new(c::CUSTOMER_ID.into(), customer),
        Column::new(c::ARM.into(), arm),
        Column::new(c::STEP.into(), step),
        Column::new(c::CHANNEL.into(), channel),
        Column::new(c::STATUS.into(), status),
        datetime(c::SENT_AT, sent_at),
        Column::new(c::DELIVERED.into(), delivered),
        Column::new(c::BOUNCED.into(), bounced),
        Column::new(c::OPENED.into(), opened),
        datetime(c::OPENED_AT, opened_at),
        Column::new(c::CLICKED.into(), clicked),
        datetime(c::CLICKED_AT, clicked_at),
        Column::new(c::AFTER_PURCHASE.into(), after),
    ];
    Ok(DataFrame::new_infer_height(cols)?)
}

/// The input when it is one canonical events Parquet file that cartlift
/// wrote (`ingest`, `simulate`; [`crate::events::store::CHECKED_EVENTS`]),
/// read directly. Any other Parquet file, a canonical-shaped export from
/// elsewhere included, goes through ingestion like any raw file, so its
/// rows meet the same checks, values and quarantine reasons.
pub fn single_parquet(inputs: &[std::path::PathBuf]) -> Option<&std::path::Path> {
    use crate::events::source::{self, Container};
    match inputs {
        [p] if Container::of_path(p).is_ok_and(|c| c == Container::Parquet)
            && crate::events::store::is_checked_events(p) =>
        {
            let canonical = source::peek_keys(p, Container::Parquet).is_ok_and(|keys| {
                crate::schema::REQUIRED_COLUMNS
                    .iter()
                    .all(|c| keys.iter().any(|k| k == c))
            });
            canonical.then_some(p.as_path())
        }
        _ => None,
    }
}

/// The flow's tables from event files, through the bounded-memory route
/// every command that reads events takes: raw inputs (several files, in
/// order) are ingested, streaming, into a temporary canonical Parquet file
/// (one canonical Parquet input is read where it lies), which
/// [`stream::paths_parquet`] reconstructs customer range by customer range
/// into temporary carts and touches tables, read back here. Memory grows
/// with the entries and touches, not with the events. Quarantined raw rows
/// count as skipped rows, as `cartlift paths` counts them. The touches
/// frame is empty unless `with_touches`.
///
/// Errors: an unreadable input (named), no temporary folder, or a
/// reconstruction error.
pub fn reconstruct_inputs(
    inputs: &[std::path::PathBuf],
    opts: &crate::events::ingest::IngestOptions,
    config: &FlowConfig,
    with_touches: bool,
) -> Result<FlowTables> {
    if let Some(path) = single_parquet(inputs) {
        return reconstruct_parquet(path, config, with_touches);
    }
    let staged = ingest_to_parquet(inputs, opts)?;
    let mut tables = reconstruct_parquet(&staged.path, config, with_touches)?;
    tables.audit.skipped_rows += staged.quarantined;
    Ok(tables)
}

/// The flow's tables from one canonical events Parquet file, reconstructed
/// customer range by customer range ([`stream::paths_parquet`]) into
/// temporary files and read back: the tables [`reconstruct_tables`] gives
/// on the whole file, without holding its events in memory.
pub fn reconstruct_parquet(
    events: &std::path::Path,
    config: &FlowConfig,
    with_touches: bool,
) -> Result<FlowTables> {
    let dir = crate::output::Scratch::new("the reconstructed tables")?;
    let carts_path = dir.path().join("carts.parquet");
    let touches_path = with_touches.then(|| dir.path().join("touches.parquet"));
    let run = stream::paths_parquet(
        events,
        config,
        &carts_path,
        touches_path.as_deref(),
        stream::ROWS_PER_RANGE,
    )?;
    let read = |p: &std::path::Path| -> Result<DataFrame> {
        let file = std::fs::File::open(p)
            .map_err(|e| anyhow::anyhow!("cannot reopen {}: {e}", p.display()))?;
        Ok(ParquetReader::new(file).finish()?)
    };
    let carts = read(&carts_path)?;
    let touches = match &touches_path {
        Some(p) => read(p)?,
        None => DataFrame::empty(),
    };
    Ok(FlowTables {
        carts,
        touches,
        audit: run.audit,
    })
}

/// Raw event files ingested into a temporary canonical Parquet file
/// (removed with the value), for the routes that read one Parquet file in
/// bounded memory.
pub struct Staged {
    pub path: std::path::PathBuf,
    /// Rows quarantined by ingestion (counted as skipped rows).
    pub quarantined: u64,
    _dir: crate::output::Scratch,
}

/// Ingests `inputs` (streaming) into a temporary canonical Parquet file;
/// the counts (read, accepted, quarantined) go to standard error.
pub fn ingest_to_parquet(
    inputs: &[std::path::PathBuf],
    opts: &crate::events::ingest::IngestOptions,
) -> Result<Staged> {
    let mut quarantine = crate::events::ingest::Quarantine::discard();
    let (staged, report) = stage_events(inputs, opts, &mut quarantine)?;
    eprintln!("{}", report.summary_line());
    if let Some(w) = report.warning() {
        eprintln!("warning: {w}");
    }
    Ok(staged)
}

/// Ingests `inputs` (streaming) into a temporary canonical Parquet file in
/// a private scratch folder, bad rows to `quarantine`; the file and
/// ingestion's counts.
pub fn stage_events(
    inputs: &[std::path::PathBuf],
    opts: &crate::events::ingest::IngestOptions,
    quarantine: &mut crate::events::ingest::Quarantine,
) -> Result<(Staged, crate::events::ingest::IngestReport)> {
    let dir = crate::output::Scratch::new("the ingested events")?;
    let path = dir.path().join("events.parquet");
    let mut out = crate::events::store::EventWriter::create(&path)?;
    let report = crate::events::ingest::ingest_into(inputs, opts, quarantine, &mut out)?;
    out.commit()?;
    let staged = Staged {
        path,
        quarantined: report.quarantined,
        _dir: dir,
    };
    Ok((staged, report))
}

/// Writes a table as Parquet or CSV, by extension.
pub fn write_table(df: &mut DataFrame, path: &std::path::Path) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".csv") {
        crate::output::write_file(path, |file| Ok(CsvWriter::new(file).finish(df)?))
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        crate::events::store::write_parquet(df, path)
    } else {
        anyhow::bail!(
            "{}: expected an output ending in .parquet or .csv",
            path.display()
        )
    }
}

/// Entries, conversions and net revenue per arm (in the flow file's order),
/// summed over carts tables in the order they are added.
#[derive(Debug, Clone)]
pub struct Totals {
    pub entries: u64,
    pub touches: u64,
    /// (arm name, entries, converted, net revenue)
    pub arms: Vec<(String, u64, u64, f64)>,
}

impl Totals {
    pub fn new(config: &FlowConfig) -> Totals {
        Totals {
            entries: 0,
            touches: 0,
            arms: config
                .arms
                .iter()
                .map(|a| (a.name.clone(), 0, 0, 0.0))
                .collect(),
        }
    }

    /// Adds a carts table's rows (entries only; touches are counted by the caller).
    pub fn add_carts(&mut self, carts: &DataFrame) -> Result<()> {
        let arms = carts.column(carts::ARM)?.str()?;
        let converted = carts.column(carts::CONVERTED)?.bool()?;
        let revenue = carts.column(carts::REVENUE)?.f64()?;
        self.entries += carts.height() as u64;
        for ((arm, conv), rev) in arms.iter().zip(converted.iter()).zip(revenue.iter()) {
            for (name, n, c, r) in &mut self.arms {
                if arm == Some(name.as_str()) {
                    *n += 1;
                    *c += conv.unwrap_or(false) as u64;
                    *r += rev.unwrap_or(0.0);
                }
            }
        }
        Ok(())
    }
}

/// A few lines for the terminal: entries per arm, conversions, audit findings.
pub fn summary(tables: &FlowTables, config: &FlowConfig) -> Result<String> {
    let mut totals = Totals::new(config);
    totals.add_carts(&tables.carts)?;
    totals.touches = tables.audit.touches;
    summary_of(&totals, &tables.audit)
}

/// The warning printed when a run finds no flow entry at all, with the
/// likely cause.
pub fn no_entries_warning(audit: &Audit, config: &FlowConfig) -> String {
    let cause = if audit.skipped_rows > 0 {
        format!(
            "{} rows were set aside as invalid; if that is most of the input, it is probably in another shape than the one read (check --format; `cartlift ingest --quarantine q.csv` lists the reasons)",
            audit.skipped_rows
        )
    } else {
        format!(
            "no `{}` was followed by {} without activity or an order; check the flow's trigger and abandon_after, and that the log holds cart events",
            match config.flow.trigger {
                crate::config::Trigger::CheckoutStarted => "checkout_started",
                crate::config::Trigger::CartUpdated => "cart_updated",
            },
            config.flow.abandon_after
        )
    };
    format!("warning: no flow entries found: {cause}")
}

/// As [`summary`], from totals gathered as the carts were written.
pub fn summary_of(totals: &Totals, audit: &Audit) -> Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    writeln!(s, "{} entries, {} touches", totals.entries, totals.touches)?;
    for (name, n, conv, rev) in &totals.arms {
        writeln!(
            s,
            "  {:<12} entries {:>9}  converted {:>8}  net revenue {:>14.2}",
            name, n, conv, rev
        )?;
    }
    for (name, f) in &audit.findings {
        if f.count > 0 {
            writeln!(
                s,
                "  audit: {name} {} (e.g. {})",
                f.count,
                crate::output::encode::terminal(&f.examples.join(", "))
            )?;
        }
    }
    if audit.skipped_rows > 0 {
        writeln!(
            s,
            "  {} rows were not valid events and were set aside (run `cartlift ingest` for the reasons)",
            audit.skipped_rows
        )?;
    }
    Ok(s)
}

/// The audit as shared (pages, JSON, the terminal): each example entry
/// named by its row in the carts table (`carts row 17`, 0-based, as
/// Polars' `row(17)` and pandas' `iloc[17]` count) instead of its entry id,
/// which holds the customer id (often an e-mail address). The analyst
/// resolves a row from the carts table; `--show-ids` keeps the ids.
pub fn audit_by_row(audit: &Audit, carts: &DataFrame) -> Result<Audit> {
    let ids = carts.column(carts::ENTRY_ID)?.str()?;
    let wanted: std::collections::HashSet<&str> = audit
        .findings
        .values()
        .flat_map(|f| f.examples.iter().map(String::as_str))
        .collect();
    let mut rows: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            if wanted.contains(id) {
                rows.entry(id).or_insert(i);
            }
        }
    }
    let mut shared = audit.clone();
    for f in shared.findings.values_mut() {
        for e in &mut f.examples {
            *e = match rows.get(e.as_str()) {
                Some(row) => format!("carts row {row}"),
                None => "an entry outside the carts table".into(),
            };
        }
    }
    Ok(shared)
}

/// The entry ids of a carts table written to `path` (.parquet or .csv), in
/// row order, for [`audit_by_row`] after a streamed run.
pub fn read_entry_ids(path: &std::path::Path) -> Result<DataFrame> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let columns = vec![carts::ENTRY_ID.to_string()];
    let df = if name.ends_with(".csv") {
        CsvReadOptions::default()
            .with_columns(Some(Arc::from([PlSmallStr::from(carts::ENTRY_ID)])))
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish()
    } else {
        ParquetReader::new(std::fs::File::open(path)?)
            .with_columns(Some(columns))
            .finish()
    };
    df.map_err(|e| anyhow::anyhow!("cannot read back {}: {e}", path.display()))
}
