//! `paths` over one canonical Parquet file in bounded memory.
//!
//! Reconstruction needs all of a customer's events at once, in time order,
//! and the file is in no particular order. So the rows are read once, one
//! row group at a time, and scattered by customer id *range* into spill
//! files (anonymous temporary files, compact length-prefixed records); then
//! each range is read back on its own, built into an [`EventTable`],
//! reconstructed, and its carts and touches appended to the outputs. The
//! ranges are contiguous in customer-id order, so the outputs come out in the
//! same order as [`reconstruct`](super::reconstruct)'s, row for row, and the
//! audit merges range by range in that order. Memory is one row group plus
//! the ranges being reconstructed, whatever the size of the file.
//!
//! The range boundaries come from a sample of customer ids; they decide only
//! how the work is cut, never what is computed. Output row groups have a
//! fixed size, so the output bytes do not depend on the cut either.

use super::audit::Audit;
use super::table::{Batch, EventTable, Interner, ParquetEvents, NONE};
use super::{reconstruct_until, FlowTables, Totals};
use crate::config::FlowConfig;
use crate::schema::{self as col, EventKind};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use rayon::prelude::*;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Rows per customer range: about 40 MB of working memory each while it is
/// reconstructed (two per thread at a time, one wave being written while
/// the next is reconstructed). Smaller ranges also keep each range's id
/// tables in cache; much smaller ones cost more per range than they save.
pub const ROWS_PER_RANGE: usize = 1 << 18;

/// Rows per output row group (Polars' default), whatever the ranges.
const ROW_GROUP: usize = 512 * 512;

/// Customer ids sampled to place the range boundaries.
const SAMPLE: usize = 1 << 16;

/// At most this many ranges (one open spill file each).
const MAX_RANGES: usize = 512;

/// What a streamed run leaves besides its output files.
#[derive(Debug)]
pub struct PathsRun {
    pub audit: Audit,
    pub totals: Totals,
}

/// Reconstructs the canonical events in `events` (Parquet) and writes the
/// carts table to `carts_out` and, if asked, the touches table to
/// `touches_out` (each .parquet or .csv), holding about `rows_per_range`
/// events in memory per thread. The outputs are the ones
/// [`reconstruct_tables`](super::reconstruct_tables) gives on the whole file.
pub fn paths_parquet(
    events: &Path,
    config: &FlowConfig,
    carts_out: &Path,
    touches_out: Option<&Path>,
    rows_per_range: usize,
) -> Result<PathsRun> {
    let file = ParquetEvents::open(events)?;
    let mut out = Outputs {
        carts: TableSink::new(carts_out)?,
        touches: touches_out.map(TableSink::new).transpose()?,
        audit: Audit::new(),
        totals: Totals::new(config),
    };
    let ranges = file
        .rows()
        .div_ceil(rows_per_range.max(1))
        .clamp(1, MAX_RANGES);
    let with_touches = touches_out.is_some();

    let skipped_rows;
    if ranges == 1 {
        let table = EventTable::read_parquet(events)?;
        skipped_rows = table.skipped_rows;
        let data_end = table.ts.iter().copied().max().unwrap_or(0);
        out.add(reconstruct_until(&table, config, with_touches, data_end)?)?;
    } else {
        let started = std::time::Instant::now();
        let bounds = boundaries(&file, ranges)?;
        let spill = scatter(&file, &bounds)?;
        crate::progress::detail(format!(
            "{} rows in {} customer ranges, {} MB spilled, in {:.2} s",
            file.rows(),
            bounds.ranges(),
            spill.parts.iter().map(|p| p.bytes).sum::<usize>() >> 20,
            started.elapsed().as_secs_f64()
        ));
        skipped_rows = spill.skipped_rows;
        let data_end = spill.data_end.unwrap_or(0);
        let (channels, statuses) = (&spill.channels, &spill.statuses);
        // Ranges are reconstructed a wave at a time, in parallel, while a
        // writer appends the previous wave's tables in range order.
        let wave = 2 * rayon::current_num_threads().max(1);
        let mut parts = spill.parts.into_iter();
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<FlowTables>>>(1);
            let out = &mut out;
            let writer = scope.spawn(move || -> Result<()> {
                for tables in rx {
                    for t in tables {
                        out.add(t?)?;
                    }
                }
                Ok(())
            });
            loop {
                let next: Vec<SpillPart> = parts.by_ref().take(wave).collect();
                if next.is_empty() {
                    break;
                }
                let tables: Vec<Result<FlowTables>> = next
                    .into_par_iter()
                    .map(|part| {
                        let table = part.read(channels, statuses)?;
                        reconstruct_until(&table, config, with_touches, data_end)
                    })
                    .collect();
                if tx.send(tables).is_err() {
                    break;
                }
            }
            drop(tx);
            writer.join().expect("the writer does not panic")
        })?;
        crate::progress::detail(format!(
            "reconstructed and written in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
    }
    out.audit.skipped_rows = skipped_rows;
    out.carts.finish()?;
    if let Some(t) = out.touches {
        t.finish()?;
    }
    Ok(PathsRun {
        audit: out.audit,
        totals: out.totals,
    })
}

/// Where each range's tables go, in range order.
struct Outputs {
    carts: TableSink,
    touches: Option<TableSink>,
    audit: Audit,
    totals: Totals,
}

impl Outputs {
    fn add(&mut self, tables: FlowTables) -> Result<()> {
        self.totals.add_carts(&tables.carts)?;
        self.totals.touches += tables.audit.touches;
        self.audit.merge(&tables.audit);
        self.carts.push(tables.carts)?;
        if let Some(t) = self.touches.as_mut() {
            t.push(tables.touches)?;
        }
        Ok(())
    }
}

/// `ranges - 1` customer ids cutting the file's rows into about equal
/// ranges, from an evenly spread sample of rows (deduplicated, so possibly fewer).
fn boundaries(file: &ParquetEvents, ranges: usize) -> Result<Bounds> {
    let groups = file.row_groups();
    if ranges <= 1 || groups == 0 {
        return Ok(Bounds::new(Vec::new()));
    }
    let picks = groups.min(16);
    let per_group = (SAMPLE / picks).max(1);
    let mut sample: Vec<String> = Vec::with_capacity(SAMPLE);
    for i in 0..picks {
        let g = i * groups / picks;
        let df = file
            .read_group_columns(g, Some(&[col::CUSTOMER_ID]))
            .with_context(|| file.group_context(g))?;
        let ids = df.column(col::CUSTOMER_ID)?.str()?;
        let step = (ids.len() / per_group).max(1);
        sample.extend(
            ids.iter()
                .step_by(step)
                .flatten()
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        );
    }
    sample.sort_unstable();
    let mut bounds: Vec<String> = Vec::with_capacity(ranges);
    if sample.is_empty() {
        return Ok(Bounds::new(bounds));
    }
    for i in 1..ranges {
        let b = &sample[i * sample.len() / ranges];
        if bounds.last() != Some(b) && Some(b) != sample.first() {
            bounds.push(b.clone());
        }
    }
    Ok(Bounds::new(bounds))
}

/// Range boundaries: customer ids in order, each with its first eight
/// bytes as a big-endian number so that most comparisons are one integer compare.
struct Bounds {
    keys: Vec<u64>,
    ids: Vec<String>,
}

/// The first eight bytes, zero-padded: `prefix(a) < prefix(b)` implies `a < b`.
fn prefix(s: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = s.len().min(8);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

impl Bounds {
    fn new(ids: Vec<String>) -> Bounds {
        Bounds {
            keys: ids.iter().map(|b| prefix(b)).collect(),
            ids,
        }
    }

    fn ranges(&self) -> usize {
        self.ids.len() + 1
    }

    /// The range of a customer id: how many boundaries are at or below it.
    fn range_of(&self, customer: &str) -> usize {
        let k = prefix(customer);
        let hi = self.keys.partition_point(|&b| b <= k);
        if hi == 0 || self.keys[hi - 1] != k {
            return hi;
        }
        // Boundaries sharing the prefix: compare them in full.
        let lo = self.keys[..hi].partition_point(|&b| b < k);
        lo + self.ids[lo..hi].partition_point(|b| b.as_str() <= customer)
    }
}

/// Low-cardinality strings (channels, statuses) to codes, shared by the
/// threads encoding row groups. Codes are handed out in first-seen order,
/// which may differ from run to run; a code only ever stands for its name
/// (compared, or looked up), so no output depends on it.
#[derive(Default)]
struct Codes {
    names: std::sync::Mutex<Interner>,
}

/// One thread's view of [`Codes`]: the few names seen so far are checked
/// before taking the lock.
struct LocalCodes<'a> {
    shared: &'a Codes,
    recent: Vec<(String, u32)>,
}

impl<'a> LocalCodes<'a> {
    fn new(shared: &'a Codes) -> LocalCodes<'a> {
        LocalCodes {
            shared,
            recent: Vec::new(),
        }
    }

    fn code(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = present(s) else { return NONE };
        if let Some(&(_, id)) = self.recent.iter().find(|(n, _)| n == s) {
            return id;
        }
        let id = self
            .shared
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .intern(s);
        if self.recent.len() < 16 {
            self.recent.push((s.to_string(), id));
        }
        id
    }
}

/// One customer range's rows, spilled.
struct SpillPart {
    file: File,
    bytes: usize,
    rows: usize,
}

/// Everything the scatter pass learned.
struct Spill {
    parts: Vec<SpillPart>,
    /// Latest timestamp of a valid row (the whole file's `data_end`).
    data_end: Option<i64>,
    skipped_rows: u64,
    /// Channels and customer statuses are few: coded once, for every range.
    channels: Interner,
    statuses: Interner,
}

// Record layout (little endian): ts i64, kind u8, flags u8, customer
// (varint length + bytes), then only the fields whose flag is set, in flag
// order: value f64, discount f64, step varint, channel code varint, status
// code varint, cart, order, coupon (varint length + bytes each).
const F_VALUE: u8 = 1;
const F_DISCOUNT: u8 = 1 << 1;
const F_STEP: u8 = 1 << 2;
const F_CHANNEL: u8 = 1 << 3;
const F_STATUS: u8 = 1 << 4;
const F_CART: u8 = 1 << 5;
const F_ORDER: u8 = 1 << 6;
const F_COUPON: u8 = 1 << 7;

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_varint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// A non-empty string (empty ids count as missing, as in [`Interner::intern_opt`]).
fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Column values of one decoded batch, row-addressable.
fn strings(ca: &Option<StringChunked>, n: usize) -> Vec<Option<&str>> {
    match ca {
        Some(ca) => ca.iter().collect(),
        None => vec![None; n],
    }
}

fn numbers<T: PolarsNumericType>(ca: &Option<ChunkedArray<T>>, n: usize) -> Vec<Option<T::Native>> {
    match ca {
        Some(ca) => ca.iter().collect(),
        None => vec![None; n],
    }
}

/// Reads every row group once, a few at a time in parallel, and appends
/// each valid row to its range's spill file, row groups in file order.
fn scatter(file: &ParquetEvents, bounds: &Bounds) -> Result<Spill> {
    let ranges = bounds.ranges();
    let mut parts = Vec::with_capacity(ranges);
    for _ in 0..ranges {
        parts.push(SpillPart {
            file: tempfile::tempfile().with_context(|| {
                format!(
                    "cannot create a temporary spill file in {}{}",
                    std::env::temp_dir().display(),
                    crate::events::spill::SCRATCH_HINT
                )
            })?,
            bytes: 0,
            rows: 0,
        });
    }
    let (channels, statuses) = (Codes::default(), Codes::default());
    let mut data_end: Option<i64> = None;
    let mut skipped_rows = 0;
    let groups = file.row_groups();
    let threads = rayon::current_num_threads().max(1);
    let mut start = 0;
    while start < groups {
        let end = (start + threads).min(groups);
        let encoded: Vec<Result<Encoded>> = (start..end)
            .into_par_iter()
            .map(|g| {
                let df = file.read_group(g)?;
                encode_group(&df, bounds, &channels, &statuses)
                    .with_context(|| file.group_context(g))
            })
            .collect();
        for e in encoded {
            let e = e?;
            skipped_rows += e.skipped_rows;
            data_end = data_end.max(e.data_end);
            for ((part, buf), rows) in parts.iter_mut().zip(&e.bufs).zip(&e.rows) {
                if !buf.is_empty() {
                    part.file.write_all(buf).with_context(|| {
                        format!(
                            "cannot write a temporary spill file in {}{}",
                            std::env::temp_dir().display(),
                            crate::events::spill::SCRATCH_HINT
                        )
                    })?;
                    part.bytes += buf.len();
                    part.rows += rows;
                }
            }
        }
        start = end;
    }
    let inner = |c: Codes| c.names.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Spill {
        parts,
        data_end,
        skipped_rows,
        channels: inner(channels),
        statuses: inner(statuses),
    })
}

/// One row group's records, by range.
struct Encoded {
    bufs: Vec<Vec<u8>>,
    rows: Vec<usize>,
    skipped_rows: u64,
    data_end: Option<i64>,
}

fn encode_group(
    df: &DataFrame,
    bounds: &Bounds,
    channels: &Codes,
    statuses: &Codes,
) -> Result<Encoded> {
    let b = Batch::decode(df)?;
    let n = df.height();
    let mut out = Encoded {
        bufs: vec![Vec::new(); bounds.ranges()],
        rows: vec![0; bounds.ranges()],
        skipped_rows: 0,
        data_end: None,
    };
    let (mut channels, mut statuses) = (LocalCodes::new(channels), LocalCodes::new(statuses));
    let customer: Vec<Option<&str>> = b.customer.iter().collect();
    let cart = strings(&b.cart, n);
    let order = strings(&b.order, n);
    let coupon = strings(&b.coupon, n);
    let channel = strings(&b.channel, n);
    let status = strings(&b.status, n);
    let value = numbers(&b.value, n);
    let discount = numbers(&b.discount, n);
    let step = numbers(&b.step, n);
    for i in 0..n {
        if !b.keep[i] {
            out.skipped_rows += 1;
            continue;
        }
        let c = customer[i].expect("kept rows have a customer");
        let p = bounds.range_of(c);
        let buf = &mut out.bufs[p];
        out.rows[p] += 1;
        let ts = b.ts[i];
        out.data_end = Some(out.data_end.map_or(ts, |e| e.max(ts)));
        let (cart, order, coupon) = (present(cart[i]), present(order[i]), present(coupon[i]));
        let channel = channels.code(channel[i]);
        let status = statuses.code(status[i]);
        let step = step[i].unwrap_or(0).max(0);
        let mut flags = 0u8;
        for (set, flag) in [
            (value[i].is_some(), F_VALUE),
            (discount[i].is_some(), F_DISCOUNT),
            (step > 0, F_STEP),
            (channel != NONE, F_CHANNEL),
            (status != NONE, F_STATUS),
            (cart.is_some(), F_CART),
            (order.is_some(), F_ORDER),
            (coupon.is_some(), F_COUPON),
        ] {
            if set {
                flags |= flag;
            }
        }
        buf.extend_from_slice(&ts.to_le_bytes());
        buf.push(b.kind[i] as u8);
        buf.push(flags);
        put_str(buf, c);
        if let Some(v) = value[i] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(v) = discount[i] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if step > 0 {
            put_varint(buf, step as u64);
        }
        if channel != NONE {
            put_varint(buf, channel as u64);
        }
        if status != NONE {
            put_varint(buf, status as u64);
        }
        for s in [cart, order, coupon].into_iter().flatten() {
            put_str(buf, s);
        }
    }
    Ok(out)
}

/// Reads spilled records back.
struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Records<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let Some(s) = self.bytes.get(self.at..self.at + n) else {
            bail!("temporary spill file is truncated");
        };
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                bail!("temporary spill file is corrupt");
            }
        }
    }

    fn str(&mut self) -> Result<&'a str> {
        let n = self.varint()? as usize;
        std::str::from_utf8(self.take(n)?).context("temporary spill file is corrupt")
    }
}

impl SpillPart {
    /// The range's events as a table, rows in file order.
    fn read(mut self, channels: &Interner, statuses: &Interner) -> Result<EventTable> {
        let mut bytes = Vec::with_capacity(self.bytes);
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.read_to_end(&mut bytes))
            .context("cannot read a temporary spill file")?;
        drop(self.file);
        let mut t = EventTable {
            channels: channels.clone(),
            statuses: statuses.clone(),
            ..EventTable::default()
        };
        t.reserve(self.rows);
        let mut r = Records {
            bytes: &bytes,
            at: 0,
        };
        while r.at < bytes.len() {
            t.ts.push(r.i64()?);
            let Some(kind) = EventKind::from_code(r.u8()?) else {
                bail!("temporary spill file is corrupt");
            };
            t.kind.push(kind);
            let flags = r.u8()?;
            let has = |f: u8| flags & f != 0;
            let customer = r.str()?;
            t.customer.push(t.customers.intern(customer));
            t.value.push(if has(F_VALUE) { r.f64()? } else { f64::NAN });
            t.discount
                .push(if has(F_DISCOUNT) { r.f64()? } else { f64::NAN });
            t.step
                .push(if has(F_STEP) { r.varint()? as i32 } else { 0 });
            t.channel.push(if has(F_CHANNEL) {
                r.varint()? as u32
            } else {
                NONE
            });
            t.status.push(if has(F_STATUS) {
                r.varint()? as u32
            } else {
                NONE
            });
            let cart = if has(F_CART) {
                t.carts.intern(r.str()?)
            } else {
                NONE
            };
            t.cart.push(cart);
            let order = if has(F_ORDER) {
                t.orders.intern(r.str()?)
            } else {
                NONE
            };
            t.order.push(order);
            let coupon = if has(F_COUPON) {
                t.coupons.intern(r.str()?)
            } else {
                NONE
            };
            t.coupon.push(coupon);
        }
        Ok(t)
    }
}

enum Writer {
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
    Csv(polars::io::csv::write::BatchedWriter<File>),
}

/// An output table written as it arrives, in row groups of [`ROW_GROUP`]
/// rows (Parquet) or as CSV, into a temporary file beside the target that
/// only [`TableSink::finish`] renames into place (a killed run leaves the
/// previous file, never a shorter one that reads as complete).
struct TableSink {
    path: PathBuf,
    parquet: bool,
    file: Option<crate::output::PartialFile>,
    writer: Option<Writer>,
    pending: Option<DataFrame>,
}

impl TableSink {
    fn new(path: &Path) -> Result<TableSink> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        let parquet = if name.ends_with(".csv") {
            false
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            true
        } else {
            bail!(
                "{}: expected an output ending in .parquet or .csv",
                path.display()
            )
        };
        Ok(TableSink {
            path: path.to_path_buf(),
            parquet,
            file: Some(crate::output::PartialFile::create(path)?),
            writer: None,
            pending: None,
        })
    }

    fn push(&mut self, df: DataFrame) -> Result<()> {
        match self.pending.as_mut() {
            None => self.pending = Some(df),
            Some(p) => {
                p.vstack_mut(&df)?;
            }
        }
        while self
            .pending
            .as_ref()
            .is_some_and(|p| p.height() >= ROW_GROUP)
        {
            let p = self.pending.take().expect("checked");
            let mut head = p.slice(0, ROW_GROUP);
            self.pending = Some(p.slice(ROW_GROUP as i64, p.height() - ROW_GROUP));
            self.write(&mut head)?;
        }
        Ok(())
    }

    fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        df.rechunk_mut_par();
        if self.writer.is_none() {
            let file = self.file.as_ref().expect("until finish").handle()?;
            let schema = df.schema().clone();
            self.writer = Some(if self.parquet {
                Writer::Parquet(Box::new(
                    ParquetWriter::new(file)
                        .with_statistics(StatisticsOptions::default())
                        .batched(&schema)?,
                ))
            } else {
                Writer::Csv(CsvWriter::new(file).batched(&schema)?)
            });
        }
        let result = match self.writer.as_mut().expect("created above") {
            Writer::Parquet(w) if df.height() > 0 => w.write_batch(df),
            Writer::Parquet(_) => Ok(()),
            Writer::Csv(w) => w.write_batch(df),
        };
        result.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))
    }

    fn finish(mut self) -> Result<()> {
        if let Some(mut rest) = self.pending.take() {
            self.write(&mut rest)?;
        }
        let result = match self.writer.as_mut() {
            Some(Writer::Parquet(w)) => w.finish().map(|_| ()),
            Some(Writer::Csv(w)) => w.finish(),
            None => bail!("{}: nothing to write", self.path.display()),
        };
        result.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))?;
        self.writer = None;
        self.file.take().expect("until finish").commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::store::EventColumns;
    use crate::flow::{reconstruct_tables, summary, summary_of, write_table};

    fn sample_log(dir: &Path) -> (FlowConfig, PathBuf) {
        let config =
            FlowConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/flow.toml"))
                .unwrap();
        let sim = crate::simulate::simulate(&config, 2000, 7).unwrap();
        let mut cols = EventColumns::default();
        for e in &sim.events {
            cols.push(e);
        }
        let mut df = cols.into_frame().unwrap();
        // Rows that are not events (unknown name, no customer, no time): counted,
        // never used, and no part of the log's end.
        let late = Int64Chunked::from_vec(col::TS.into(), vec![i64::MAX / 2])
            .into_datetime(TimeUnit::Microseconds, None)
            .into_series();
        let mut unknown = df.head(Some(1));
        unknown
            .with_column(Column::new(col::EVENT.into(), ["not_an_event"]))
            .unwrap();
        unknown.with_column(late.into()).unwrap();
        let mut nameless = df.slice(5, 1);
        nameless
            .with_column(Column::new(col::CUSTOMER_ID.into(), [""]))
            .unwrap();
        let mut timeless = df.slice(9, 1);
        timeless
            .with_column(
                Int64Chunked::full_null(col::TS.into(), 1)
                    .into_datetime(TimeUnit::Microseconds, None)
                    .into_series()
                    .into(),
            )
            .unwrap();
        for extra in [&unknown, &nameless, &timeless] {
            df.vstack_mut(extra).unwrap();
        }
        let path = dir.join("events.parquet");
        ParquetWriter::new(File::create(&path).unwrap())
            .with_row_group_size(Some(3000))
            .finish(&mut df)
            .unwrap();
        (config, path)
    }

    #[test]
    fn ranges_give_the_whole_file_reconstruction() {
        let dir = tempfile::tempdir().unwrap();
        let (config, events) = sample_log(dir.path());
        let whole =
            reconstruct_tables(&EventTable::read_parquet(&events).unwrap(), &config, true).unwrap();
        assert!(whole.carts.height() > 1000);
        assert_eq!(whole.audit.skipped_rows, 3);
        for rows_per_range in [usize::MAX, 4000, 500] {
            let carts = dir.path().join(format!("carts{rows_per_range}.parquet"));
            let touches = dir.path().join(format!("touches{rows_per_range}.parquet"));
            let run =
                paths_parquet(&events, &config, &carts, Some(&touches), rows_per_range).unwrap();
            let read = |p: &Path| ParquetReader::new(File::open(p).unwrap()).finish().unwrap();
            assert!(
                read(&carts).equals_missing(&whole.carts),
                "carts, {rows_per_range}"
            );
            assert!(
                read(&touches).equals_missing(&whole.touches),
                "touches, {rows_per_range}"
            );
            assert_eq!(run.audit, whole.audit, "audit, {rows_per_range}");
            assert_eq!(
                summary_of(&run.totals, &run.audit).unwrap(),
                summary(&whole, &config).unwrap()
            );
        }
    }

    #[test]
    fn csv_out_is_the_whole_table_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (config, events) = sample_log(dir.path());
        let mut whole =
            reconstruct_tables(&EventTable::read_parquet(&events).unwrap(), &config, false)
                .unwrap();
        let at_once = dir.path().join("at_once.csv");
        write_table(&mut whole.carts, &at_once).unwrap();
        let streamed = dir.path().join("streamed.csv");
        paths_parquet(&events, &config, &streamed, None, 700).unwrap();
        assert!(std::fs::read(&streamed).unwrap() == std::fs::read(&at_once).unwrap());
    }

    #[test]
    fn boundaries_keep_customers_whole_and_in_order() {
        let bounds = Bounds::new(
            ["c3", "c6", "c60000001", "c60000001\0", "c60000002x"]
                .map(String::from)
                .to_vec(),
        );
        for (id, range) in [
            ("", 0),
            ("c1", 0),
            ("c3", 1),
            ("c5", 1),
            ("c6", 2),
            ("c6000000", 2),
            ("c60000001", 3),
            ("c60000001\0", 4),
            ("c60000001a", 4),
            ("c60000002", 4),
            ("c60000002x", 5),
            ("d", 5),
        ] {
            assert_eq!(bounds.range_of(id), range, "{id:?}");
            let slow = bounds.ids.partition_point(|b| b.as_str() <= id);
            assert_eq!(slow, range, "{id:?}");
        }
        assert_eq!(Bounds::new(Vec::new()).range_of("x"), 0);
    }
}
