//! A compact, read-only event table for flow reconstruction: strings interned
//! to `u32`, nulls as sentinels, about 45 bytes an event. Built from a
//! canonical Parquet file one row group at a time, so peak memory stays near
//! the compact size rather than the size of the decoded file.

use crate::events::Event;
use crate::schema::{self as col, EventKind};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::path::Path;

/// Sentinel for a missing interned string.
pub const NONE: u32 = u32::MAX;

/// Strings to dense ids, in first-seen order.
///
/// Keyed by a 128-bit hash of the string (two independent 64-bit hashes), so
/// a lookup is one probe and no string comparison: with a few million
/// distinct ids the chance of two colliding is below 1e-25.
#[derive(Default, Debug, Clone)]
pub struct Interner {
    ids: FxHashMap<u128, u32>,
    /// Every name, end to end (one allocation, not one per name).
    bytes: String,
    /// Where each name ends in `bytes`.
    ends: Vec<usize>,
}

fn hash128(s: &str) -> u128 {
    let a = FxBuildHasher.hash_one(s);
    let b = foldhash::fast::FixedState::with_seed(0x9e37_79b9_7f4a_7c15).hash_one(s);
    ((a as u128) << 64) | b as u128
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        let next = self.ends.len() as u32;
        let id = *self.ids.entry(hash128(s)).or_insert(next);
        if id == next {
            self.bytes.push_str(s);
            self.ends.push(self.bytes.len());
        }
        id
    }

    pub fn intern_opt(&mut self, s: Option<&str>) -> u32 {
        match s {
            Some(s) if !s.is_empty() => self.intern(s),
            _ => NONE,
        }
    }

    pub fn name(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| {
            let i = id as usize;
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.bytes[start..self.ends[i]]
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Interns a column's values for the kept rows.
fn intern_column(
    interner: &mut Interner,
    column: Option<&StringChunked>,
    keep: &[bool],
    out: &mut Vec<u32>,
) {
    match column {
        Some(ca) => {
            for (v, &k) in ca.iter().zip(keep) {
                if k {
                    out.push(interner.intern_opt(v));
                }
            }
        }
        None => out.extend(keep.iter().filter(|&&k| k).map(|_| NONE)),
    }
}

#[derive(Default, Debug)]
pub struct EventTable {
    pub ts: Vec<i64>,
    pub kind: Vec<EventKind>,
    pub customer: Vec<u32>,
    pub cart: Vec<u32>,
    pub order: Vec<u32>,
    /// NaN where absent.
    pub value: Vec<f64>,
    /// NaN where absent.
    pub discount: Vec<f64>,
    /// 0 where absent.
    pub step: Vec<i32>,
    pub channel: Vec<u32>,
    pub status: Vec<u32>,
    pub coupon: Vec<u32>,
    pub customers: Interner,
    pub carts: Interner,
    pub orders: Interner,
    pub channels: Interner,
    pub statuses: Interner,
    pub coupons: Interner,
    /// Rows that were not valid canonical events (unknown event name, no
    /// customer, no timestamp): counted, never silently used.
    pub skipped_rows: u64,
}

impl EventTable {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn from_events(events: &[Event]) -> EventTable {
        let mut t = EventTable::default();
        for e in events {
            t.push(e);
        }
        t
    }

    /// Appends one event.
    pub fn push(&mut self, e: &Event) {
        self.ts.push(e.ts);
        self.kind.push(e.kind);
        self.customer.push(self.customers.intern(&e.customer_id));
        self.cart.push(self.carts.intern_opt(e.cart_id.as_deref()));
        self.order
            .push(self.orders.intern_opt(e.order_id.as_deref()));
        self.value.push(e.value.unwrap_or(f64::NAN));
        self.discount.push(e.discount.unwrap_or(f64::NAN));
        self.step.push(e.flow_step.unwrap_or(0));
        self.channel
            .push(self.channels.intern_opt(e.channel.as_deref()));
        self.status
            .push(self.statuses.intern_opt(e.customer_status.as_deref()));
        self.coupon
            .push(self.coupons.intern_opt(e.coupon.as_deref()));
    }

    /// Reads a canonical events Parquet file (as written by `ingest` or `simulate`).
    pub fn read_parquet(path: &Path) -> Result<EventTable> {
        let file = ParquetEvents::open(path)?;
        let mut table = EventTable::default();
        table.reserve(file.rows());
        for g in 0..file.row_groups() {
            let df = file.read_group(g)?;
            table.append(&df).with_context(|| file.group_context(g))?;
        }
        Ok(table)
    }

    /// Reads the events of the given kinds from a canonical events Parquet
    /// file, with their time, customer and step only (the other columns
    /// are not read: absent values). For scans that need a few rare
    /// events, such as the guardrails' unsubscribes and complaints, without
    /// holding the log. Rows that are not valid events are counted in
    /// `skipped_rows`; valid rows of other kinds are neither kept nor counted.
    pub fn read_parquet_kinds(path: &Path, kinds: &[EventKind]) -> Result<EventTable> {
        let file = ParquetEvents::open(path)?;
        let columns: Vec<&str> = [col::TS, col::EVENT, col::CUSTOMER_ID, col::FLOW_STEP]
            .into_iter()
            .filter(|c| file.columns.iter().any(|have| have == c))
            .collect();
        let mut table = EventTable::default();
        for g in 0..file.row_groups() {
            let df = file.read_group_columns(g, Some(&columns))?;
            table
                .append_where(&df, |k| kinds.contains(&k))
                .with_context(|| file.group_context(g))?;
        }
        Ok(table)
    }

    fn append(&mut self, df: &DataFrame) -> Result<()> {
        self.append_where(df, |_| true)
    }

    /// Appends the valid rows whose kind is wanted.
    fn append_where(&mut self, df: &DataFrame, want: impl Fn(EventKind) -> bool) -> Result<()> {
        let b = Batch::decode(df)?;
        let mut keep = b.keep.clone();
        for (i, k) in keep.iter_mut().enumerate() {
            if !*k {
                self.skipped_rows += 1;
            } else if want(b.kind[i]) {
                self.kind.push(b.kind[i]);
                self.ts.push(b.ts[i]);
            } else {
                *k = false;
            }
        }
        let keep = &keep;

        // The high-cardinality ids dominate: intern them on two threads.
        let (customers, carts, orders) = (&mut self.customers, &mut self.carts, &mut self.orders);
        let (c_out, co_out, o_out) = (&mut self.customer, &mut self.cart, &mut self.order);
        rayon::join(
            || intern_column(customers, Some(&b.customer), keep, c_out),
            || {
                intern_column(carts, b.cart.as_ref(), keep, co_out);
                intern_column(orders, b.order.as_ref(), keep, o_out);
            },
        );
        intern_column(&mut self.coupons, b.coupon.as_ref(), keep, &mut self.coupon);
        intern_column(
            &mut self.channels,
            b.channel.as_ref(),
            keep,
            &mut self.channel,
        );
        intern_column(
            &mut self.statuses,
            b.status.as_ref(),
            keep,
            &mut self.status,
        );
        push_f64(b.value.as_ref(), keep, &mut self.value);
        push_f64(b.discount.as_ref(), keep, &mut self.discount);
        match &b.step {
            Some(ca) => {
                for (v, &k) in ca.iter().zip(keep) {
                    if k {
                        self.step.push(v.unwrap_or(0).max(0));
                    }
                }
            }
            None => self.step.extend(keep.iter().filter(|&&k| k).map(|_| 0)),
        }
        Ok(())
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.ts.reserve(n);
        self.kind.reserve(n);
        self.customer.reserve(n);
        self.cart.reserve(n);
        self.order.reserve(n);
        self.value.reserve(n);
        self.discount.reserve(n);
        self.step.reserve(n);
        self.channel.reserve(n);
        self.status.reserve(n);
        self.coupon.reserve(n);
    }
}

/// Numbers for the kept rows; NaN where absent.
fn push_f64(column: Option<&Float64Chunked>, keep: &[bool], out: &mut Vec<f64>) {
    match column {
        Some(ca) => {
            for (v, &k) in ca.iter().zip(keep) {
                if k {
                    out.push(v.unwrap_or(f64::NAN));
                }
            }
        }
        None => out.extend(keep.iter().filter(|&&k| k).map(|_| f64::NAN)),
    }
}

/// Timestamps as UTC microseconds from a Datetime, integer or RFC 3339 string column.
fn timestamp_micros(c: &Column) -> Result<Vec<Option<i64>>> {
    let s = c.as_materialized_series();
    match s.dtype() {
        DataType::Datetime(unit, _) => {
            let factor_div = match unit {
                TimeUnit::Nanoseconds => (1, 1000),
                TimeUnit::Microseconds => (1, 1),
                TimeUnit::Milliseconds => (1000, 1),
            };
            let phys = s.to_physical_repr();
            Ok(phys
                .i64()?
                .iter()
                .map(|v| {
                    v.and_then(|x| x.checked_mul(factor_div.0))
                        .map(|x| x / factor_div.1)
                })
                .collect())
        }
        DataType::String => Ok(s
            .str()?
            .iter()
            .map(|v| {
                v.and_then(|t| {
                    crate::events::fields::parse_timestamp(
                        t,
                        col::TS,
                        crate::events::fields::EpochUnit::None,
                    )
                    .ok()
                })
            })
            .collect()),
        dt => {
            bail!("column `ts` has type {dt}; expected a timestamp (Datetime) or RFC 3339 strings")
        }
    }
}

/// A canonical events Parquet file, opened for reading one row group at a time.
pub(crate) struct ParquetEvents {
    path: std::path::PathBuf,
    columns: Vec<String>,
    groups: Vec<(usize, usize)>,
}

impl crate::events::ingest::EventSink for EventTable {
    fn begin(&mut self, total: u64) -> Result<()> {
        self.reserve(total as usize);
        Ok(())
    }
    fn push(&mut self, e: Event) -> Result<()> {
        EventTable::push(self, &e);
        Ok(())
    }
}

impl ParquetEvents {
    /// Checks the schema (the required canonical columns) and lists the row groups.
    pub(crate) fn open(path: &Path) -> Result<ParquetEvents> {
        let mut reader = ParquetReader::new(open_file(path)?);
        let schema = reader
            .schema()
            .map_err(|e| anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display()))?;
        crate::events::source::check_parquet_types(path, &schema)?;
        crate::events::source::check_canonical_parquet(path)?;
        for required in col::REQUIRED_COLUMNS {
            if schema.get(required).is_none() {
                bail!(
                    "{}: missing required column `{required}`; expected canonical events (run `cartlift ingest` first)",
                    path.display()
                );
            }
        }
        let columns: Vec<String> = [
            col::TS,
            col::EVENT,
            col::CUSTOMER_ID,
            col::CART_ID,
            col::ORDER_ID,
            col::VALUE,
            col::DISCOUNT,
            col::COUPON,
            col::FLOW_STEP,
            col::CHANNEL,
            col::CUSTOMER_STATUS,
        ]
        .iter()
        .filter(|c| schema.get(c).is_some())
        .map(|c| c.to_string())
        .collect();
        let mut groups = Vec::new();
        let mut offset = 0usize;
        for g in &reader.get_metadata()?.row_groups {
            groups.push((offset, g.num_rows()));
            offset += g.num_rows();
        }
        Ok(ParquetEvents {
            path: path.to_path_buf(),
            columns,
            groups,
        })
    }

    pub(crate) fn rows(&self) -> usize {
        self.groups.iter().map(|g| g.1).sum()
    }

    pub(crate) fn row_groups(&self) -> usize {
        self.groups.len()
    }

    pub(crate) fn group_context(&self, g: usize) -> String {
        let (offset, rows) = self.groups[g];
        format!("{}: rows {offset}..{}", self.path.display(), offset + rows)
    }

    /// The canonical columns of row group `g` (all of them, or only `columns`).
    pub(crate) fn read_group_columns(
        &self,
        g: usize,
        columns: Option<&[&str]>,
    ) -> Result<DataFrame> {
        let (offset, rows) = self.groups[g];
        let wanted = match columns {
            Some(c) => c.iter().map(|c| c.to_string()).collect(),
            None => self.columns.clone(),
        };
        ParquetReader::new(open_file(&self.path)?)
            .with_columns(Some(wanted))
            .with_slice(Some((offset, rows)))
            .finish()
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot read rows from {offset}: {e}",
                    self.path.display()
                )
            })
    }

    pub(crate) fn read_group(&self, g: usize) -> Result<DataFrame> {
        self.read_group_columns(g, None)
    }
}

fn open_file(path: &Path) -> Result<std::fs::File> {
    crate::events::source::open(path)
        .with_context(|| format!("cannot open events file {}", path.display()))
}

/// The validation every ingested event passes ([`crate::validate`]),
/// applied to rows read directly, one column at a time: finite non-negative
/// amounts within the ceiling and printable ids of bounded length. A row
/// that fails has its `keep` flag cleared and is counted as skipped, like a
/// row that is not an event at all. (The time and customer are checked as
/// the rows are decoded.)
fn validate_columns(
    keep: &mut [bool],
    amounts: [&Option<Float64Chunked>; 2],
    ids: [&Option<StringChunked>; 5],
    step: Option<&Float64Chunked>,
) {
    use crate::validate;
    // A step is a whole number from 1 to i32::MAX, as ingestion requires
    // (read as a float, so a value too large for the step column is seen).
    if let Some(c) = step {
        for (k, x) in keep.iter_mut().zip(c.iter()) {
            if let (true, Some(x)) = (*k, x) {
                *k = x.fract() == 0.0 && (1.0..=i32::MAX as f64).contains(&x);
            }
        }
    }
    for c in amounts.into_iter().flatten() {
        for (k, x) in keep.iter_mut().zip(c.iter()) {
            if let (true, Some(x)) = (*k, x) {
                *k = x >= 0.0 && validate::amount(col::VALUE, x).is_ok();
            }
        }
    }
    for c in ids.into_iter().flatten() {
        for (k, s) in keep.iter_mut().zip(c.iter()) {
            if let (true, Some(s)) = (*k, s) {
                *k = validate::id(col::CART_ID, s).is_ok();
            }
        }
    }
}

/// One decoded batch of canonical rows, before interning: which rows are
/// events at all (`keep`; the rest are counted, not used), their kind and
/// time, and the optional columns as present in the file.
pub(crate) struct Batch {
    pub keep: Vec<bool>,
    /// Valid where `keep`.
    pub kind: Vec<EventKind>,
    /// Valid where `keep`.
    pub ts: Vec<i64>,
    pub customer: StringChunked,
    pub cart: Option<StringChunked>,
    pub order: Option<StringChunked>,
    pub coupon: Option<StringChunked>,
    pub channel: Option<StringChunked>,
    pub status: Option<StringChunked>,
    pub value: Option<Float64Chunked>,
    pub discount: Option<Float64Chunked>,
    pub step: Option<Int32Chunked>,
}

impl Batch {
    pub(crate) fn decode(df: &DataFrame) -> Result<Batch> {
        let ts = timestamp_micros(df.column(col::TS)?)?;
        // Text stored as categories, bytes or numbers is read as text, as
        // `ingest` reads it (bytes that are not UTF-8 become null: the row
        // is set aside as not a valid event).
        let as_text = |c: &Column| -> Result<StringChunked> {
            Ok(match c.dtype() {
                DataType::Binary => c
                    .binary()?
                    .iter()
                    .map(|b| b.and_then(|b| std::str::from_utf8(b).ok()))
                    .collect::<StringChunked>()
                    .with_name(c.name().clone()),
                _ => c.cast(&DataType::String)?.str()?.clone(),
            })
        };
        let event = as_text(df.column(col::EVENT)?)?;
        let customer = as_text(df.column(col::CUSTOMER_ID)?)?;
        let opt_str = |name: &str| -> Result<Option<StringChunked>> {
            match df.column(name) {
                Ok(c) => Ok(Some(as_text(c)?)),
                Err(_) => Ok(None),
            }
        };
        let opt_f64 = |name: &str| -> Result<Option<Float64Chunked>> {
            match df.column(name) {
                Ok(c) => Ok(Some(c.cast(&DataType::Float64)?.f64()?.clone())),
                Err(_) => Ok(None),
            }
        };
        let step = match df.column(col::FLOW_STEP) {
            Ok(c) => Some(c.cast(&DataType::Int32)?.i32()?.clone()),
            Err(_) => None,
        };
        let value = opt_f64(col::VALUE)?;
        let discount = opt_f64(col::DISCOUNT)?;
        let cart = opt_str(col::CART_ID)?;
        let order = opt_str(col::ORDER_ID)?;
        let coupon = opt_str(col::COUPON)?;
        let channel = opt_str(col::CHANNEL)?;
        let status = opt_str(col::CUSTOMER_STATUS)?;
        let n = df.height();
        let mut keep = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        for ((t, e), c) in ts.iter().zip(event.iter()).zip(customer.iter()) {
            let kind = e.and_then(EventKind::parse);
            match (kind, t) {
                (Some(kind), Some(t))
                    if c.is_some_and(|c| {
                        !c.is_empty() && crate::validate::id(col::CUSTOMER_ID, c).is_ok()
                    }) && crate::validate::timestamp(col::TS, *t).is_ok() =>
                {
                    keep.push(true);
                    kinds.push(kind);
                    times.push(*t);
                }
                _ => {
                    keep.push(false);
                    kinds.push(EventKind::CartUpdated);
                    times.push(0);
                }
            }
        }
        let step_values = match df.column(col::FLOW_STEP) {
            Ok(c) => Some(c.cast(&DataType::Float64)?.f64()?.clone()),
            Err(_) => None,
        };
        validate_columns(
            &mut keep,
            [&value, &discount],
            [&cart, &order, &coupon, &channel, &status],
            step_values.as_ref(),
        );
        Ok(Batch {
            keep,
            kind: kinds,
            ts: times,
            customer,
            cart,
            order,
            coupon,
            channel,
            status,
            value,
            discount,
            step,
        })
    }
}
