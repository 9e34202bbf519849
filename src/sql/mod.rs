//! `cartlift sql`: the per-cart reduction as SQL for the engine where the
//! events live (Spark, DuckDB, BigQuery, Snowflake), ending in the
//! sufficient-statistics table `lift --stats` reads, or the path table
//! `attribute --paths` reads.
//!
//! The SQL follows `flow::reconstruct` rule by rule (each step below names
//! the rule it implements) and takes every number from the flow file: the
//! trigger, `abandon_after`, `reentry_cooldown`, `attribution_window`, the
//! salt and arm ranges (`assign`), band edges (`Segments::band_of` gives the
//! labels), message costs and the margin model (`metrics::net_contribution`
//! written as an SQL expression from the same values). What differs between
//! engines lives in [`dialect`].
//!
//! The output is a script: a few intermediate tables (temporary, except in
//! Spark, which has none: tables `cartlift_*` in the current database), then
//! one SELECT. README.md ("Past one machine") lists the dialect differences.

pub mod dialect;

use crate::assign::Assigner;
use crate::config::{FlowConfig, Trigger};
use crate::schema::EventKind;
use anyhow::{bail, Result};
pub use dialect::Dialect;

/// What the final SELECT returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Query {
    /// Sufficient statistics per dimension × segment × arm × metric.
    Stats,
    /// The path table of every treatment arm: arm, path, conversions, value, nulls.
    Paths,
    /// One row per flow entry (the columns the statistics use).
    Carts,
}

/// How journeys' touches are named (`attribute --by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PathBy {
    Step,
    Channel,
}

#[derive(Debug, Clone)]
pub struct SqlOptions {
    pub dialect: Dialect,
    /// A table name, or (DuckDB, Spark) a Parquet path or glob.
    pub events: String,
    /// Carts columns to segment by (besides the overall row).
    pub segment_by: Vec<String>,
    pub query: Query,
    /// Per-partition statistics: rows split by customer bucket mod N (rows
    /// with the same key add up to the merged table).
    pub partitions: Option<u32>,
    /// A column giving the events' original order, for tables.
    pub row_order: Option<String>,
    pub by: PathBy,
    /// `attribute --lookback`, in microseconds.
    pub lookback: Option<i64>,
}

impl SqlOptions {
    pub fn new(dialect: Dialect, events: &str) -> SqlOptions {
        SqlOptions {
            dialect,
            events: events.to_string(),
            segment_by: Vec::new(),
            query: Query::Stats,
            partitions: None,
            row_order: None,
            by: PathBy::Step,
            lookback: None,
        }
    }
}

/// Carts columns the SQL can segment by.
pub const SEGMENT_COLUMNS: [&str; 2] = ["cart_value_band", "customer_status"];

/// Metrics in the order of the statistics table (lift's carts metrics).
pub use crate::lift::units::CARTS_METRICS as METRICS;

/// The statistics table's columns, in order (lift reads exactly these).
pub use crate::lift::sufficient::COLUMNS as STATS_COLUMNS;

/// Names of the intermediate tables the script creates.
const EV: &str = "cartlift_events";
const CAND: &str = "cartlift_candidates";
const ENTRIES: &str = "cartlift_entries";
const MSGS: &str = "cartlift_messages";
const CARTS: &str = "cartlift_carts";

/// Frame of a running window.
const RUNNING: &str = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW";

/// The SQL script for `config` and `opts`: statements separated by `;` and
/// a blank line.
pub fn generate(config: &FlowConfig, opts: &SqlOptions) -> Result<String> {
    let g = Gen::new(config, opts)?;
    let mut statements = Vec::new();
    statements.extend(g.events()?);
    statements.extend(g.candidates());
    statements.extend(g.entries());
    statements.extend(g.messages());
    statements.extend(g.carts());
    statements.push(match opts.query {
        Query::Stats => g.stats(),
        Query::Paths => g.paths(),
        Query::Carts => g.carts_select(),
    });
    let mut out = format!(
        "-- cartlift sql --dialect {} --query {}: flow `{}`\n\
         -- Generated from the flow file; regenerate rather than edit.\n\n",
        opts.dialect.name(),
        match opts.query {
            Query::Stats => "stats",
            Query::Paths => "paths",
            Query::Carts => "carts",
        },
        config.flow.name.replace('\n', " ")
    );
    out.push_str(&statements.join(";\n\n"));
    out.push_str(";\n");
    Ok(out)
}

struct Gen<'a> {
    config: &'a FlowConfig,
    opts: &'a SqlOptions,
    d: Dialect,
    /// Order of a customer's events after (t, k): file and row position
    /// where known, else the rows' content.
    tie: String,
}

impl<'a> Gen<'a> {
    fn new(config: &'a FlowConfig, opts: &'a SqlOptions) -> Result<Gen<'a>> {
        if config.flow.reentry_cooldown.micros() < config.flow.attribution_window.micros() {
            bail!(
                "flow `{}`: reentry_cooldown ({}) is shorter than attribution_window ({}); \
                 the SQL supports flows whose attribution windows never overlap \
                 (an order then has at most one open entry). Use `cartlift paths` for this flow",
                config.flow.name,
                config.flow.reentry_cooldown,
                config.flow.attribution_window
            );
        }
        for s in &opts.segment_by {
            if !SEGMENT_COLUMNS.contains(&s.as_str()) {
                bail!(
                    "--segment-by {s}: the SQL computes the carts columns {}; expected one of them",
                    SEGMENT_COLUMNS.join(", ")
                );
            }
        }
        let lower = opts.events.to_ascii_lowercase();
        if opts.dialect.parquet_source(&opts.events).is_none()
            && (lower.ends_with(".parquet") || lower.contains('/'))
        {
            bail!(
                "--events {}: {} reads a table here; expected a table name (load the Parquet files into one first)",
                opts.events,
                opts.dialect.name()
            );
        }
        if opts.partitions == Some(0) {
            bail!("--partitions: expected at least 1");
        }
        let has_rows = opts.row_order.is_some() || Self::is_path(opts);
        let tie = if has_rows {
            "src_file, rn".to_string()
        } else {
            // No row order: the rows' content decides between events of one
            // customer with the same timestamp and event (cartlift: file order).
            "src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST"
                .to_string()
        };
        Ok(Gen {
            config,
            opts,
            d: opts.dialect,
            tie,
        })
    }

    fn is_path(opts: &SqlOptions) -> bool {
        let e = opts.events.to_ascii_lowercase();
        opts.dialect.parquet_source(&opts.events).is_some()
            && (e.ends_with(".parquet") || e.ends_with(".pq") || e.contains('/') || e.contains('*'))
    }

    /// `t, k, <tie>` with an optional table prefix.
    fn order(&self, p: &str) -> String {
        let mut cols = vec![format!("{p}t"), format!("{p}k")];
        cols.extend(self.tie.split(", ").map(|c| format!("{p}{c}")));
        cols.join(", ")
    }

    fn micros(&self, span: crate::duration::Span) -> i64 {
        span.micros()
    }

    /// Valid canonical events: a known event name, a timestamp and a
    /// non-empty customer id (EventTable skips the rest); empty strings are
    /// absent values and NaN numbers are NULL, as cartlift reads them.
    fn events(&self) -> Result<Vec<String>> {
        let d = self.d;
        let s = d.string();
        let (from, file, row) = if Self::is_path(self.opts) {
            let src = d.parquet_source(&self.opts.events).expect("checked");
            (src.from, src.file, src.row)
        } else {
            if self.opts.events.trim().is_empty() {
                bail!("--events: expected a table name or a Parquet path");
            }
            let row = match &self.opts.row_order {
                Some(c) => format!("CAST({c} AS {})", d.int()),
                None => format!("CAST(0 AS {})", d.int()),
            };
            (self.opts.events.clone(), format!("CAST('' AS {s})"), row)
        };
        let kinds: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| format!("WHEN {} THEN {}", d.str_lit(k.as_str()), *k as u8))
            .collect();
        let names: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| d.str_lit(k.as_str()))
            .collect();
        let text = |c: &str| format!("NULLIF(CAST({c} AS {s}), '')");
        let query = format!(
            "SELECT CAST({file} AS {s}) AS src_file,
       CAST({row} AS {int}) AS rn,
       {t} AS t,
       CASE event {kinds} END AS k,
       CAST(customer_id AS {s}) AS customer_id,
       {cart} AS cart_id,
       {order} AS order_id,
       {value} AS value,
       {discount} AS discount,
       GREATEST(COALESCE(CAST(flow_step AS {int}), 0), 0) AS step,
       {channel} AS channel,
       {status} AS status
FROM {from}
WHERE ts IS NOT NULL AND customer_id IS NOT NULL AND CAST(customer_id AS {s}) <> ''
  AND event IN ({names})",
            int = d.int(),
            t = d.epoch_us("ts"),
            kinds = kinds.join(" "),
            cart = text("cart_id"),
            order = text("order_id"),
            value = d.nan_to_null("value"),
            discount = d.nan_to_null("discount"),
            channel = text("channel"),
            status = text("customer_status"),
            names = names.join(", "),
        );
        Ok(d.temp_view(EV, &query))
    }

    /// Candidates (flow::reconstruct, first rule). Over a customer's cart
    /// activity and orders in walk order, a cart event starts a new run when
    /// it is the first activity, follows an order, or comes more than
    /// `abandon_after` after the previous cart event. A run's candidate opens
    /// at its first trigger event; later cart events extend it; its cart and
    /// value are the last non-null ones from the trigger on, its customer
    /// status the last non-null status of any event up to its last cart
    /// event. It is abandoned (enters at last activity + `abandon_after`)
    /// when the next activity is more than `abandon_after` later, or there
    /// is none and that moment is within the data (else it is pending).
    /// `nxt` is the first candidate at least `reentry_cooldown` later.
    fn candidates(&self) -> Vec<String> {
        let d = self.d;
        let aa = self.micros(self.config.flow.abandon_after);
        let cool = self.micros(self.config.flow.reentry_cooldown).max(1);
        let openers = match self.config.flow.trigger {
            Trigger::CheckoutStarted => format!("{}", EventKind::CheckoutStarted as u8),
            Trigger::CartUpdated => format!(
                "{}, {}",
                EventKind::CartUpdated as u8,
                EventKind::CheckoutStarted as u8
            ),
        };
        let ord = self.order("");
        let cols = "src_file, rn, t, k, customer_id, cart_id, order_id, value, discount";
        let w_customer = format!("PARTITION BY customer_id ORDER BY {ord}");
        let w_run = format!("PARTITION BY customer_id, run ORDER BY {ord} {RUNNING}");
        let w_status = format!("PARTITION BY customer_id ORDER BY {ord} {RUNNING}");
        let query = format!(
            "WITH bounds AS (
    SELECT MAX(t) AS data_end FROM {EV}
), statused AS (
    SELECT {cols},
           {status} AS status
    FROM {EV}
), activity AS (
    SELECT {cols}, status,
           LAG(t) OVER ({w_customer}) AS prev_t,
           LAG(k) OVER ({w_customer}) AS prev_k,
           LEAD(t) OVER ({w_customer}) AS next_t
    FROM statused
    WHERE k <= 2
), runs AS (
    SELECT {cols}, status, next_t,
           SUM(CASE WHEN prev_t IS NULL OR prev_k = 2 OR t - prev_t > {aa} THEN 1 ELSE 0 END)
               OVER (PARTITION BY customer_id ORDER BY {ord} {RUNNING}) AS run
    FROM activity
    WHERE k <= 1
), opened AS (
    SELECT {cols}, status, next_t, run,
           MAX(CASE WHEN k IN ({openers}) THEN 1 ELSE 0 END) OVER ({w_run}) AS is_open
    FROM runs
), carried AS (
    SELECT customer_id, t, status, next_t,
           {cart} AS cart_id,
           {value} AS cart_value
    FROM opened
    WHERE is_open = 1
), abandoned AS (
    SELECT c.customer_id, c.t AS abandoned_at, c.t + {aa} AS entered, c.cart_id, c.cart_value, c.status
    FROM carried c CROSS JOIN bounds b
    WHERE (c.next_t IS NOT NULL AND c.next_t - c.t > {aa})
       OR (c.next_t IS NULL AND c.t + {aa} <= b.data_end)
), numbered AS (
    SELECT customer_id, abandoned_at, entered, cart_id, cart_value, status,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY entered) AS ci
    FROM abandoned
)
SELECT customer_id, ci, abandoned_at, entered, cart_id, cart_value, status{nxt}
FROM numbered",
            nxt = if d == Dialect::Spark {
                String::new()
            } else {
                format!(
                    ",
       MIN(ci) OVER (PARTITION BY customer_id ORDER BY entered
                     RANGE BETWEEN {cool} FOLLOWING AND UNBOUNDED FOLLOWING) AS nxt"
                )
            },
            status = d.last_non_null("status", &w_status),
            cart = d.last_non_null("cart_id", &w_run),
            value = d.last_non_null("value", &w_run),
        );
        d.temp_table(CAND, &query)
    }

    /// Entries: the reentry cooldown (second rule) is sequential — a
    /// candidate enters when it comes at least the cooldown after the
    /// customer's last entry — so the entries are the chain of successors
    /// from the first candidate, followed recursively (one round per entry
    /// of the busiest customer). The arm is the customer's bucket range
    /// (intent to treat).
    fn entries(&self) -> Vec<String> {
        let d = self.d;
        let assigner = Assigner::new(self.config);
        let ranges = assigner.ranges();
        let mut arm = String::from("CASE");
        for (i, (_, upper)) in ranges.iter().enumerate() {
            if i + 1 == ranges.len() {
                arm.push_str(&format!(" ELSE {}", d.str_lit(assigner.arm_name(i))));
            } else {
                arm.push_str(&format!(
                    " WHEN bucket < {upper} THEN {}",
                    d.str_lit(assigner.arm_name(i))
                ));
            }
        }
        arm.push_str(" END");
        let cool = self.micros(self.config.flow.reentry_cooldown);
        let chain = if self.d == Dialect::Spark {
            // Spark: a fold over each customer's candidate times (a
            // recursive CTE works too, but Spark runs one job per round and
            // cannot reuse a cached table built from one).
            format!(
                "WITH times AS (
    SELECT customer_id, array_sort(collect_list(entered)) AS times
    FROM {CAND}
    GROUP BY customer_id
), kept AS (
    SELECT customer_id,
           aggregate(times, CAST(array() AS ARRAY<BIGINT>),
                     (acc, x) -> CASE WHEN size(acc) = 0 OR x - element_at(acc, -1) >= {cool}
                                      THEN concat(acc, array(x)) ELSE acc END) AS kept_times
    FROM times
), chain AS (
    SELECT customer_id, pos + 1 AS ordinal, entered
    FROM kept
    LATERAL VIEW posexplode(kept_times) p AS pos, entered
)"
            )
        } else {
            format!(
                "WITH RECURSIVE chain AS (
    SELECT customer_id, ci, nxt, entered, 1 AS ordinal
    FROM {CAND}
    WHERE ci = 1
    UNION ALL
    SELECT c.customer_id, c.ci, c.nxt, c.entered, h.ordinal + 1 AS ordinal
    FROM chain h
    JOIN {CAND} c ON c.customer_id = h.customer_id AND c.ci = h.nxt
)"
            )
        };
        let query = format!(
            "{chain}, bucketed AS (
    SELECT h.customer_id, h.ordinal, c.abandoned_at, c.entered, c.cart_id, c.cart_value, c.status,
           {bucket} AS bucket
    FROM chain h
    JOIN {CAND} c ON c.customer_id = h.customer_id AND c.entered = h.entered
)
SELECT customer_id, ordinal, abandoned_at, entered, cart_id, cart_value, status, bucket,
       {arm} AS arm
FROM bucketed",
            bucket = d.bucket(&self.config.assignment.salt, "h.customer_id"),
        );
        d.temp_table(ENTRIES, &query)
    }

    /// Messages, unsubscribes and complaints attached to entries (last
    /// rule): the latest entry at or before the event with the event's
    /// cart, else the latest entry at or before it. Entries and events on
    /// one timeline per customer; ordinals grow with entry time, so a
    /// running MAX of the ordinal is the latest entry so far.
    fn messages(&self) -> Vec<String> {
        let d = self.d;
        let (s, i) = (d.string(), d.int());
        let kinds = format!(
            "{}, {}, {}",
            EventKind::MessageSent as u8,
            EventKind::Unsubscribed as u8,
            EventKind::SpamComplaint as u8
        );
        let query = format!(
            "WITH timeline AS (
    SELECT customer_id, entered AS t, 0 AS src, ordinal, cart_id,
           CAST(NULL AS {i}) AS k, CAST(NULL AS {i}) AS step, CAST(NULL AS {s}) AS channel
    FROM {ENTRIES}
    UNION ALL
    SELECT customer_id, t, 1 AS src, CAST(NULL AS {i}) AS ordinal, cart_id, k, step, channel
    FROM {EV}
    WHERE k IN ({kinds})
), marked AS (
    SELECT customer_id, t, src, cart_id, k, step, channel,
           MAX(ordinal) OVER (PARTITION BY customer_id ORDER BY t, src {RUNNING}) AS latest,
           MAX(ordinal) OVER (PARTITION BY customer_id, cart_id ORDER BY t, src {RUNNING}) AS same_cart
    FROM timeline
)
SELECT customer_id,
       COALESCE(CASE WHEN cart_id IS NOT NULL THEN same_cart END, latest) AS ordinal,
       t, k, step, channel
FROM marked
WHERE src = 1 AND latest IS NOT NULL"
        );
        d.temp_table(MSGS, &query)
    }

    /// One row per entry with its outcome (fourth rule) and what the
    /// statistics need. Order ids count once per customer (the first in walk
    /// order; all NULL ids are one id). Attribution windows of one customer
    /// never overlap here (cooldown ≥ window), so an order has at most one
    /// entry to land on and the entry keeps the first. Refunds and
    /// cancellations of its id count from the order to the window's end;
    /// refunds never take revenue below zero (as `flow::reconstruct` caps
    /// them). Pre-period spend: orders before the first entry.
    fn carts(&self) -> Vec<String> {
        let d = self.d;
        let dbl = d.double();
        let win = self.micros(self.config.flow.attribution_window);
        let ord_o = self
            .tie
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>();
        let zero = d.f64_lit(0.0);
        // Message cost by channel; a send without a channel is an email.
        let mut cost = String::from("CASE COALESCE(channel, 'email')");
        for (ch, c) in &self.config.margin.message_cost {
            cost.push_str(&format!(" WHEN {} THEN {}", d.str_lit(ch), d.f64_lit(*c)));
        }
        cost.push_str(&format!(" ELSE {zero} END"));
        let edges = &self.config.segments.cart_value_bands;
        let mut band = String::from("CASE WHEN cart_value IS NULL THEN 'unknown'");
        for &e in edges {
            // The label of values just below edge `e` is band_of's own.
            let label = self.config.segments.band_of(prev_f64(e));
            band.push_str(&format!(
                " WHEN cart_value < {} THEN {}",
                d.f64_lit(e),
                d.str_lit(&label)
            ));
        }
        let top = self
            .config
            .segments
            .band_of(edges.last().copied().unwrap_or(0.0));
        band.push_str(&format!(" ELSE {} END", d.str_lit(&top)));
        let m = &self.config.margin;
        // metrics::net_contribution: margin × (revenue + discount) − discount
        // − shipping (orders not cancelled) − message cost.
        let net = format!(
            "{cm} * (revenue + discount) - discount - CASE WHEN converted = 1 AND cancelled = 0 THEN {ship} ELSE {zero} END - message_cost",
            cm = d.f64_lit(m.contribution_margin),
            ship = d.f64_lit(m.shipping_cost),
        );
        let query = format!(
            "WITH orders AS (
    SELECT customer_id, t, src_file, rn, cart_id, order_id, value, discount
    FROM (
        SELECT customer_id, t, src_file, rn, cart_id, order_id,
               COALESCE(value, {zero}) AS value, COALESCE(discount, {zero}) AS discount,
               ROW_NUMBER() OVER (PARTITION BY customer_id, order_id ORDER BY {ord}) AS copy
        FROM {EV}
        WHERE k = 2
    ) x
    WHERE copy = 1
), landed AS (
    SELECT customer_id, ordinal, entered, t, order_id, value, discount
    FROM (
        SELECT o.customer_id, e.ordinal, e.entered, o.t, o.order_id, o.value, o.discount,
               ROW_NUMBER() OVER (PARTITION BY o.customer_id, e.ordinal ORDER BY o.t, {ord_o}) AS pick
        FROM orders o
        JOIN {ENTRIES} e
          ON o.customer_id = e.customer_id AND o.t > e.entered AND o.t <= e.entered + {win}
    ) x
    WHERE pick = 1
), adjusted AS (
    SELECT l.customer_id, l.ordinal,
           SUM(CASE WHEN r.k = 3 THEN r.value END) AS refunded,
           MAX(CASE WHEN r.k = 4 THEN 1 ELSE 0 END) AS cancelled
    FROM landed l
    JOIN {EV} r
      ON r.customer_id = l.customer_id AND r.order_id IS NOT DISTINCT FROM l.order_id
     AND r.t >= l.t AND r.t <= l.entered + {win}
    WHERE r.k IN (3, 4)
    GROUP BY l.customer_id, l.ordinal
), prior AS (
    SELECT e.customer_id, SUM(o.value) AS spend
    FROM {ENTRIES} e
    JOIN orders o ON o.customer_id = e.customer_id AND o.t < e.entered
    WHERE e.ordinal = 1
    GROUP BY e.customer_id
), sends AS (
    SELECT m.customer_id, m.ordinal,
           SUM(CASE WHEN m.k = 5 THEN 1 ELSE 0 END) AS messages_sent,
           SUM(CASE WHEN m.k = 5 THEN {cost} ELSE {zero} END) AS message_cost,
           MAX(CASE WHEN m.k = 11 AND m.t <= e.entered + {win} THEN 1 ELSE 0 END) AS unsubscribed,
           MAX(CASE WHEN m.k = 12 AND m.t <= e.entered + {win} THEN 1 ELSE 0 END) AS complained
    FROM {MSGS} m
    JOIN {ENTRIES} e ON e.customer_id = m.customer_id AND e.ordinal = m.ordinal
    GROUP BY m.customer_id, m.ordinal
), outcomes AS (
    SELECT e.customer_id, e.ordinal, e.arm, e.bucket, e.entered, e.cart_value, e.status,
           CASE WHEN l.t IS NULL THEN 0 ELSE 1 END AS converted,
           l.t AS order_at,
           COALESCE(a.cancelled, 0) AS cancelled,
           CASE WHEN l.t IS NULL OR COALESCE(a.cancelled, 0) = 1 THEN {zero}
                ELSE GREATEST(l.value - COALESCE(a.refunded, {zero}), {zero}) END AS revenue,
           COALESCE(l.discount, {zero}) AS discount,
           COALESCE(s.messages_sent, 0) AS messages_sent,
           COALESCE(s.message_cost, {zero}) AS message_cost,
           COALESCE(s.unsubscribed, 0) AS unsubscribed,
           COALESCE(s.complained, 0) AS complained,
           COALESCE(p.spend, {zero}) AS customer_prior_spend
    FROM {ENTRIES} e
    LEFT JOIN landed l ON l.customer_id = e.customer_id AND l.ordinal = e.ordinal
    LEFT JOIN adjusted a ON a.customer_id = e.customer_id AND a.ordinal = e.ordinal
    LEFT JOIN sends s ON s.customer_id = e.customer_id AND s.ordinal = e.ordinal
    LEFT JOIN prior p ON p.customer_id = e.customer_id
)
SELECT customer_id, ordinal, arm, bucket, entered, cart_value,
       {band} AS cart_value_band,
       COALESCE(status, {unknown}) AS customer_status,
       converted, order_at, cancelled, revenue, discount, messages_sent, message_cost,
       unsubscribed, complained, customer_prior_spend,
       CAST({net} AS {dbl}) AS net_contribution
FROM outcomes",
            ord = self.order(""),
            ord_o = ord_o.join(", "),
            unknown = d.str_lit("unknown"),
        );
        d.temp_table(CARTS, &query)
    }

    /// The statistics table: customers within a segment value are the
    /// units; per dimension × segment × arm, sums over units of each
    /// metric's value, square, denominator and covariate terms.
    fn stats(&self) -> String {
        let d = self.d;
        let (dbl, s, int) = (d.double(), d.string(), d.int());
        let part = match self.opts.partitions {
            Some(n) => format!(", {} AS part", d.modulo("MIN(bucket)", n)),
            None => String::new(),
        };
        let group_part = if self.opts.partitions.is_some() {
            ", part"
        } else {
            ""
        };
        let unit = |dimension: &str, segment: Option<&str>| {
            let (seg, group) = match segment {
                Some(c) => (
                    format!("COALESCE(CAST({c} AS {s}), {})", d.str_lit("unknown")),
                    format!(", {c}"),
                ),
                None => (format!("CAST({} AS {s})", d.str_lit("all")), String::new()),
            };
            format!(
                "    SELECT CAST({dim} AS {s}) AS dimension, {seg} AS segment, customer_id, arm{part},
           CAST(COUNT(*) AS {dbl}) AS entries,
           CAST(SUM(converted) AS {dbl}) AS conversions,
           SUM(revenue) AS revenue,
           SUM(net_contribution) AS net_contribution,
           CAST(MAX(unsubscribed) AS {dbl}) AS unsubscribed,
           CAST(MAX(complained) AS {dbl}) AS complained,
           CAST(SUM(messages_sent) AS {dbl}) AS messages,
           MAX(customer_prior_spend) AS prior_spend
    FROM {CARTS}
    GROUP BY customer_id, arm{group}",
                dim = d.str_lit(dimension),
            )
        };
        let mut units = vec![unit("all", None)];
        for c in &self.opts.segment_by {
            units.push(unit(c, Some(c)));
        }
        let null = format!("CAST(NULL AS {dbl})");
        let row = |metric: &str, kind: &str, y: &str, den: Option<&str>, cov: bool, msg: bool| {
            let (sd, sdd, snd) = match den {
                Some(dn) => (
                    format!("s_{dn}"),
                    format!("ss_{dn}"),
                    format!("sp_{y}_{dn}"),
                ),
                None => (null.clone(), null.clone(), null.clone()),
            };
            let (sc, scc, scy) = if cov {
                (
                    "s_prior_spend".to_string(),
                    "ss_prior_spend".to_string(),
                    format!("sp_prior_spend_{y}"),
                )
            } else {
                (null.clone(), null.clone(), null.clone())
            };
            let sm = if msg {
                "s_messages".to_string()
            } else {
                null.clone()
            };
            format!(
                "SELECT dimension, segment, arm, CAST({m} AS {s}) AS metric, CAST({k} AS {s}) AS kind, n,
       s_{y} AS sum, ss_{y} AS sum_sq, {sd} AS sum_den, {sdd} AS sum_den_sq, {snd} AS sum_num_den,
       {sc} AS sum_cov, {scc} AS sum_cov_sq, {scy} AS sum_cov_num, {sm} AS sum_messages,
       sc_{y} AS sum_cube, nz_{y} AS nonzero, {null} AS mean, {null} AS m2, {null} AS m3,
       {order} AS metric_order
FROM agg",
                m = d.str_lit(metric),
                k = d.str_lit(kind),
                order = METRICS.iter().position(|x| *x == metric).unwrap_or(0),
            )
        };
        let rows = [
            row(
                "conversion_rate",
                "ratio",
                "conversions",
                Some("entries"),
                false,
                false,
            ),
            row(
                "revenue_per_recipient",
                "mean",
                "revenue",
                None,
                true,
                false,
            ),
            row(
                "net_contribution_per_recipient",
                "mean",
                "net_contribution",
                None,
                true,
                false,
            ),
            row(
                "orders_per_recipient",
                "mean",
                "conversions",
                None,
                true,
                false,
            ),
            row(
                "unsubscribe_rate",
                "proportion",
                "unsubscribed",
                None,
                false,
                true,
            ),
            row(
                "complaint_rate",
                "proportion",
                "complained",
                None,
                false,
                true,
            ),
        ];
        let sums = [
            "entries",
            "conversions",
            "revenue",
            "net_contribution",
            "unsubscribed",
            "complained",
            "prior_spend",
        ]
        .iter()
        .map(|v| {
            format!(
                "           SUM({v}) AS s_{v}, SUM({v} * {v}) AS ss_{v}, SUM({v} * {v} * {v}) AS sc_{v},
           CAST(SUM(CASE WHEN {v} <> 0 THEN 1 ELSE 0 END) AS {dbl}) AS nz_{v},"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
        let cross = [
            ("conversions", "entries"),
            ("prior_spend", "revenue"),
            ("prior_spend", "net_contribution"),
            ("prior_spend", "conversions"),
        ]
        .iter()
        .map(|(a, b)| format!("           SUM({a} * {b}) AS sp_{a}_{b},"))
        .collect::<Vec<_>>()
        .join("\n");
        format!(
            "WITH units AS (
{units}
), agg AS (
    SELECT dimension, segment, arm{group_part},
           CAST(COUNT(*) AS {int}) AS n,
{sums}
{cross}
           SUM(messages) AS s_messages
    FROM units
    GROUP BY dimension, segment, arm{group_part}
), rows_ AS (
{rows}
)
SELECT {cols}
FROM rows_
ORDER BY CASE WHEN dimension = 'all' THEN 0 ELSE 1 END, dimension, segment, arm, metric_order",
            units = units.join("\n    UNION ALL\n"),
            rows = rows.join("\nUNION ALL\n"),
            cols = STATS_COLUMNS.join(", "),
        )
    }

    /// The path table of every treatment arm, as `attribute` builds
    /// journeys from touches (attribution::journeys): per entry, the
    /// messages sent, named by step (or channel), in send order; a
    /// converted entry keeps those sent at or before its order (and within
    /// the lookback), a non-converted one all of them; entries without a
    /// touch are left out. Ties in send time are broken by the name.
    fn paths(&self) -> String {
        let d = self.d;
        let s = d.string();
        let dbl = d.double();
        let zero = d.f64_lit(0.0);
        let treatments: Vec<String> = self
            .config
            .arms
            .iter()
            .filter(|a| !a.holdout)
            .map(|a| d.str_lit(&a.name))
            .collect();
        let name = match self.opts.by {
            PathBy::Step => format!(
                "CASE WHEN m.step > 0 THEN {} || CAST(m.step AS {s}) ELSE {} END",
                d.str_lit("step "),
                d.str_lit("step ?")
            ),
            PathBy::Channel => format!("COALESCE(m.channel, {})", d.str_lit("unknown")),
        };
        let lookback = match self.opts.lookback {
            Some(l) => format!(" AND c.order_at - m.t <= {l}"),
            None => String::new(),
        };
        let arms = if treatments.is_empty() {
            "NULL".to_string()
        } else {
            treatments.join(", ")
        };
        format!(
            "WITH touches AS (
    SELECT m.customer_id, m.ordinal, m.t, {name} AS name
    FROM {MSGS} m
    JOIN {CARTS} c ON c.customer_id = m.customer_id AND c.ordinal = m.ordinal
    WHERE m.k = 5 AND c.arm IN ({arms})
      AND (c.converted = 0 OR (m.t <= c.order_at{lookback}))
), journeys AS (
    SELECT customer_id, ordinal, {agg} AS path
    FROM touches
    GROUP BY customer_id, ordinal
)
SELECT c.arm, j.path,
       CAST(SUM(c.converted) AS {dbl}) AS total_conversions,
       SUM(CASE WHEN c.converted = 1 THEN GREATEST(c.revenue, {zero}) ELSE {zero} END) AS total_conversion_value,
       CAST(SUM(1 - c.converted) AS {dbl}) AS total_null
FROM journeys j
JOIN {CARTS} c ON c.customer_id = j.customer_id AND c.ordinal = j.ordinal
GROUP BY c.arm, j.path
ORDER BY c.arm, j.path",
            agg = d.string_agg("name", ">", &["t", "name"]),
        )
    }

    /// One row per entry, in cartlift's order (customer id, ordinal).
    fn carts_select(&self) -> String {
        let s = self.d.string();
        format!(
            "SELECT customer_id || '#' || CAST(ordinal AS {s}) AS entry_id, customer_id, arm, bucket,
       entered AS entered_at_us, cart_value, cart_value_band, customer_status,
       converted, order_at AS order_at_us, cancelled, revenue, discount,
       messages_sent, message_cost, unsubscribed, complained, customer_prior_spend, net_contribution
FROM {CARTS}
ORDER BY customer_id, ordinal"
        )
    }
}

/// The largest double below `x` (for the label of the band under an edge).
fn prev_f64(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits - 1 } else { bits + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FlowConfig {
        FlowConfig::parse(include_str!("../../data/sample/flow.toml")).unwrap()
    }

    #[test]
    fn band_labels_come_from_band_of() {
        let sql = generate(&sample(), &SqlOptions::new(Dialect::Duckdb, "ev.parquet")).unwrap();
        for label in ["'<50'", "'50-100'", "'100-200'", "'>=200'"] {
            assert!(sql.contains(label), "{label}");
        }
    }

    #[test]
    fn overlapping_windows_and_unknown_segments_are_errors() {
        let mut c = sample();
        c.flow.reentry_cooldown = crate::duration::Span::parse("1d").unwrap();
        let e = generate(&c, &SqlOptions::new(Dialect::Spark, "t")).unwrap_err();
        assert!(e.to_string().contains("reentry_cooldown"), "{e}");
        let mut o = SqlOptions::new(Dialect::Spark, "t");
        o.segment_by = vec!["zip".into()];
        let e = generate(&sample(), &o).unwrap_err();
        assert!(e.to_string().contains("cart_value_band"), "{e}");
    }

    #[test]
    fn prev_f64_is_just_below() {
        assert!(prev_f64(50.0) < 50.0);
        assert_eq!(sample().segments.band_of(prev_f64(50.0)), "<50");
        assert_eq!(sample().segments.band_of(prev_f64(100.0)), "50-100");
    }
}
