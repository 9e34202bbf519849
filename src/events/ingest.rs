//! The ingest job: files in any supported shape → canonical events plus a
//! quarantine file, with `read = accepted + quarantined` by construction.

use super::fields::{self, EpochUnit};
use super::identity::{self, CustomerKey, Identities, IdentityReport};
use super::ledger::{self, Ledger, LedgerReport, OrderPayload, Pending, Source};
use super::source::{self, Container, RawRow, Unread};
use super::spill::{self, Bloom, Prints, Runs};
use super::{
    canonical, check_event, ga4, klaviyo, segment, shopify, Event, Mapped, Reason, Rejection,
};
use crate::schema as col;
use anyhow::{bail, Context, Result};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufWriter, Seek};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Auto,
    Canonical,
    Segment,
    Shopify,
    Ga4,
    /// Klaviyo Events API pages, or a metric's CSV export.
    Klaviyo,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Canonical => "canonical",
            Format::Segment => "segment",
            Format::Shopify => "shopify",
            Format::Ga4 => "ga4",
            Format::Klaviyo => "klaviyo",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub format: Format,
    pub epoch_unit: EpochUnit,
    /// Currency every value is converted to; required with `rates`.
    pub currency: Option<String>,
    /// Units of `currency` per unit of each other currency.
    pub rates: BTreeMap<String, f64>,
    /// Which identifier each customer's events are filed under.
    pub customer_key: CustomerKey,
    /// Klaviyo messages → flow steps (from the flow file), when known.
    pub klaviyo_steps: Option<klaviyo::StepMap>,
    /// Events (and order payloads) held in memory before a sorted run is
    /// spilled to a temporary file; `None`: [`spill::CHUNK_ENV`] or
    /// [`spill::DEFAULT_CHUNK`]. The output does not depend on it.
    pub chunk: Option<usize>,
    /// How the report and the quarantine name an input file, when not as
    /// its path (`demo` reads files it wrote into a staging folder that is
    /// renamed afterwards).
    pub shown_as: BTreeMap<PathBuf, String>,
}

/// Counts of one ingest run. `read == accepted + quarantined` always.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IngestReport {
    pub read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    pub events: u64,
    pub quarantined_by_reason: BTreeMap<String, u64>,
    pub files: Vec<FileReport>,
    pub currency: Option<String>,
    /// The order ledger's bookkeeping (orders, tests, cancellations, refunds).
    pub ledger: LedgerReport,
    /// Identifiers joined into customers.
    pub identity: IdentityReport,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    pub read: u64,
    pub accepted: u64,
    pub quarantined: u64,
}

impl IngestReport {
    /// A warning when nothing usable was read: every row quarantined, with
    /// the most common reason and what it usually means.
    pub fn warning(&self) -> Option<String> {
        if self.read == 0 {
            return None;
        }
        if self.accepted > 0 {
            // A file of several that maps nothing is as lost as a whole run.
            let lost: Vec<String> = self
                .files
                .iter()
                .filter(|f| f.read > 0 && f.accepted == 0)
                .map(|f| format!("{} (read as {}, {} rows)", f.path, f.format, f.read))
                .collect();
            if lost.is_empty() {
                return None;
            }
            return Some(format!(
                "every row of {} was quarantined; the file may be in another shape than the one read (check --format, or let --format auto tell per file)",
                lost.join(", ")
            ));
        }
        let (reason, n) = self
            .quarantined_by_reason
            .iter()
            .max_by_key(|(r, n)| (**n, std::cmp::Reverse(r.as_str())))?;
        let hint = match reason.as_str() {
            "unmapped_event" | "unknown_event" | "missing_event" | "missing_customer_id" => {
                " (the rows may be in another shape than the one read: check --format, or let --format auto tell)"
            }
            "bad_timestamp" | "missing_timestamp" => {
                " (timestamps need a UTC offset; bare epoch numbers need --epoch-unit)"
            }
            _ => "",
        };
        Some(format!(
            "every one of the {} rows read was quarantined; most as {reason} ({n}){hint}",
            self.read
        ))
    }

    pub fn summary_line(&self) -> String {
        format!(
            "read {}, accepted {}, quarantined {}",
            self.read, self.accepted, self.quarantined
        )
    }
}

/// Where quarantined rows go: a CSV with the file, line, reason and raw row,
/// written through the output layer (renamed into place by [`finish`](Self::finish))
/// with every text cell encoded so no spreadsheet reads it as a formula.
///
/// Rows are written to an anonymous temporary file as they come; a row
/// whose verdict comes later (an exact repeat is only certain once every
/// row is read) is inserted where it was read ([`mark`](Self::mark),
/// [`insert`](Self::insert)), so the file lists rows in reading order as
/// if each had been decided at once.
pub struct Quarantine {
    writer: Option<Writer>,
}

struct Writer {
    rows: csv::Writer<BufWriter<File>>,
    target: crate::output::PartialFile,
    shown: String,
    /// (mark, CSV bytes of the row), in the order inserted.
    inserted: Vec<(u64, Vec<u8>)>,
}

impl Quarantine {
    pub fn to_file(path: &Path) -> Result<Quarantine> {
        let target = crate::output::PartialFile::create(path)
            .with_context(|| format!("quarantine file {}", path.display()))?;
        let spool = tempfile::tempfile()
            .with_context(|| format!("quarantine file {}: no temporary file", path.display()))?;
        let mut rows = csv::Writer::from_writer(BufWriter::new(spool));
        rows.write_record(["file", "line", "reason", "field", "detail", "raw"])
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Quarantine {
            writer: Some(Writer {
                rows,
                target,
                shown: path.display().to_string(),
                inserted: Vec::new(),
            }),
        })
    }

    /// Counts without keeping the rows (used where no file was asked for).
    pub fn discard() -> Quarantine {
        Quarantine { writer: None }
    }

    fn record(file: &str, line: u64, rej: &Rejection, raw: &str) -> [String; 6] {
        use crate::output::encode::csv_cell;
        [
            csv_cell(file).into_owned(),
            line.to_string(),
            rej.reason.code().to_string(),
            csv_cell(rej.field.as_deref().unwrap_or("")).into_owned(),
            csv_cell(&rej.detail).into_owned(),
            csv_cell(&crate::validate::shorten_raw(raw)).into_owned(),
        ]
    }

    fn put(&mut self, file: &str, line: u64, rej: &Rejection, raw: &str) -> Result<()> {
        if let Some(w) = &mut self.writer {
            w.rows
                .write_record(Self::record(file, line, rej, raw))
                .with_context(|| format!("cannot write {}", w.shown))?;
        }
        Ok(())
    }

    /// Where the next row written would go.
    fn mark(&mut self) -> Result<u64> {
        let Some(w) = &mut self.writer else {
            return Ok(0);
        };
        w.rows
            .flush()
            .with_context(|| format!("cannot write {}", w.shown))?;
        let mut spool: &File = w.rows.get_ref().get_ref();
        spool
            .stream_position()
            .with_context(|| format!("cannot write {}", w.shown))
    }

    /// A row decided late, placed at `mark` (marks inserted in increasing order).
    fn insert(
        &mut self,
        mark: u64,
        file: &str,
        line: u64,
        rej: &Rejection,
        raw: &str,
    ) -> Result<()> {
        if let Some(w) = &mut self.writer {
            let mut one = csv::Writer::from_writer(Vec::new());
            one.write_record(Self::record(file, line, rej, raw))?;
            w.inserted.push((mark, one.into_inner()?));
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        use std::io::{Read, Write};
        let Some(w) = self.writer else {
            return Ok(());
        };
        let shown = w.shown;
        let mut spool = w
            .rows
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {shown}: {}", e.error()))?
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {shown}: {}", e.error()))?;
        spool
            .rewind()
            .with_context(|| format!("cannot write {shown}"))?;
        let mut out = BufWriter::new(w.target.handle()?);
        let mut at = 0u64;
        for (mark, bytes) in &w.inserted {
            std::io::copy(&mut (&mut spool).take(mark - at), &mut out)
                .with_context(|| format!("cannot write {shown}"))?;
            at = *mark;
            out.write_all(bytes)
                .with_context(|| format!("cannot write {shown}"))?;
        }
        std::io::copy(&mut spool, &mut out).with_context(|| format!("cannot write {shown}"))?;
        out.flush()
            .with_context(|| format!("cannot write {shown}"))?;
        drop(out);
        w.target.commit()
    }
}

/// Where an order payload came from, kept until the ledger decides on it.
#[derive(bincode::Encode, bincode::Decode)]
struct RowRef {
    file: u32,
    line: u64,
    raw: String,
}

/// An order payload spilled with its row, in runs sorted by order id.
#[derive(bincode::Encode, bincode::Decode)]
struct SpilledPayload {
    payload: OrderPayload,
    row: RowRef,
}

/// Where accepted events go, in their final order: (time, kind, content).
pub trait EventSink {
    /// Called once, before the first event, with how many will come.
    fn begin(&mut self, total: u64) -> Result<()>;
    fn push(&mut self, e: Event) -> Result<()>;
}

impl EventSink for Vec<Event> {
    fn begin(&mut self, total: u64) -> Result<()> {
        self.reserve(total as usize);
        Ok(())
    }
    fn push(&mut self, e: Event) -> Result<()> {
        Vec::push(self, e);
        Ok(())
    }
}

/// Reads every input, maps and validates each row, merges every order
/// payload into the order ledger, files each customer under one key, and
/// returns the accepted events sorted by (time, kind, content): the same
/// set of rows in any order gives the same events.
pub fn ingest(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    quarantine: &mut Quarantine,
) -> Result<(Vec<Event>, IngestReport)> {
    let mut events = Vec::new();
    let report = ingest_into(inputs, opts, quarantine, &mut events)?;
    Ok((events, report))
}

/// [`ingest`] into `sink`, in memory that does not grow with the number
/// of events: rows are read and mapped one at a time; events and order
/// payloads are kept in sorted runs of [`IngestOptions::chunk`] items,
/// spilled to temporary files and merged back; what is held across rows is
/// per customer identifier (aliases), a fixed-size filter of event
/// fingerprints, and the rows that filter cannot clear (see below).
///
/// Exact repeats: a row whose every event was already read is quarantined
/// (`duplicate_event`). The filter clears almost every row at once; the few
/// it cannot (repeats, and its rare false positives) are held and decided
/// after the last row by one pass over every fingerprint read, then
/// quarantined in the place they were read. Order payloads are merged one
/// order id at a time ([`Ledger`]). The events the sink receives, the
/// quarantine file and the report are the same for any chunk size.
pub fn ingest_into(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    quarantine: &mut Quarantine,
    sink: &mut dyn EventSink,
) -> Result<IngestReport> {
    if !opts.rates.is_empty() && opts.currency.is_none() {
        bail!("--rate given without --currency: expected the currency the rates convert to");
    }
    let chunk = spill::chunk_size(opts.chunk);
    let mut state = State {
        opts,
        report: IngestReport::default(),
        events: Runs::new(chunk, by_time_and_kind),
        pending: Runs::new(chunk, by_order_id),
        bloom: Bloom::new(bloom_bytes(inputs), BLOOM_PROBES),
        prints: Prints::new()?,
        held: Vec::new(),
        seq: 0,
        identities: Identities::default(),
        currency: opts.currency.clone().map(|c| c.to_ascii_uppercase()),
        bar: crate::progress::rows("read and validate"),
    };
    crate::progress::timed("read, map and validate rows", || -> Result<()> {
        for path in inputs {
            state.read_file(path, quarantine)?;
        }
        state.bar.finish_and_clear();
        state.decide_held(quarantine)
    })?;
    let State {
        mut report,
        mut events,
        pending,
        identities,
        currency,
        ..
    } = state;
    let (ids, identity) = identities.resolve(opts.customer_key);

    // The ledger, one order id at a time (timed at `-v`: the benches
    // compare its cost with the rest of the run).
    let (rejected, ledger_report) = crate::progress::timed("order ledger", || -> Result<_> {
        let mut ledger: Ledger<RowRef> = Ledger::default();
        let mut payloads = pending.merge()?;
        let mut same_id: Vec<Pending<RowRef>> = Vec::new();
        while let Some(p) = payloads.next_item()? {
            let last = payloads
                .peek()
                .is_none_or(|next| next.payload.order_id != p.payload.order_id);
            same_id.push(Pending {
                payload: p.payload,
                row: p.row,
            });
            if last {
                for e in ledger.order_id(std::mem::take(&mut same_id), &ids) {
                    events.push(e)?;
                }
            }
        }
        Ok(ledger.finish())
    })?;
    for (row, rej) in rejected {
        let file = &mut report.files[row.file as usize];
        file.accepted -= 1;
        file.quarantined += 1;
        report.accepted -= 1;
        report.quarantined += 1;
        *report
            .quarantined_by_reason
            .entry(rej.reason.code().to_string())
            .or_default() += 1;
        quarantine.put(&file.path, row.line, &rej, &row.raw)?;
    }

    // Every event under its customer's key, in (time, kind, content) order:
    // runs are sorted by (time, kind); events of one (time, kind) are
    // sorted by content after their customers are re-keyed.
    report.events = events.len();
    crate::progress::timed("merge runs and write events", || -> Result<()> {
        sink.begin(report.events)?;
        let mut merged = events.merge()?;
        let mut group: Vec<Event> = Vec::new();
        while let Some(mut e) = merged.next_item()? {
            let key = ids.key(&e.customer_id);
            if key != e.customer_id {
                e.customer_id = key.to_string();
            }
            let last = merged
                .peek()
                .is_none_or(|next| by_time_and_kind(next, &e) != Ordering::Equal);
            if group.is_empty() && last {
                sink.push(e)?;
                continue;
            }
            group.push(e);
            if last {
                group.sort_unstable_by(content_order);
                for e in group.drain(..) {
                    sink.push(e)?;
                }
            }
        }
        Ok(())
    })?;
    report.ledger = ledger_report;
    report.identity = identity;
    report.currency = currency;
    Ok(report)
}

fn by_time_and_kind(a: &Event, b: &Event) -> Ordering {
    (a.ts, a.kind).cmp(&(b.ts, b.kind))
}

fn by_order_id(a: &SpilledPayload, b: &SpilledPayload) -> Ordering {
    a.payload.order_id.cmp(&b.payload.order_id)
}

/// Probes per fingerprint of the repeat filter.
const BLOOM_PROBES: u32 = 7;

/// The repeat filter's size: a byte for every 4 bytes of input, between
/// 64 kB and 64 MB (the most it ever takes, whatever the log's size); at
/// 64 MB and 25 M events about 1 in 10,000 rows is held for the exact check.
fn bloom_bytes(inputs: &[PathBuf]) -> usize {
    const MAX: usize = 64 << 20;
    let mut bytes = 0usize;
    for p in inputs {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() && !source::is_compressed(p) => {
                bytes = bytes.saturating_add(m.len() as usize)
            }
            _ => return MAX,
        }
    }
    (bytes / 4).clamp(64 << 10, MAX)
}

/// A total order on events: time, kind, then every field.
fn content_order(a: &Event, b: &Event) -> Ordering {
    fn num(x: Option<f64>) -> Option<u64> {
        x.map(|v| v.to_bits())
    }
    (a.ts, a.kind, &a.customer_id, &a.cart_id, &a.order_id)
        .cmp(&(b.ts, b.kind, &b.customer_id, &b.cart_id, &b.order_id))
        .then_with(|| {
            (
                num(a.value),
                num(a.discount),
                &a.coupon,
                a.flow_step,
                &a.channel,
            )
                .cmp(&(
                    num(b.value),
                    num(b.discount),
                    &b.coupon,
                    b.flow_step,
                    &b.channel,
                ))
        })
        .then_with(|| {
            (&a.variant, &a.customer_status, &a.currency).cmp(&(
                &b.variant,
                &b.customer_status,
                &b.currency,
            ))
        })
}

/// A 128-bit fingerprint of an event's content, for exact repeats.
fn fingerprint(e: &Event) -> u128 {
    let fields = (
        (e.ts, e.kind, &e.customer_id, &e.cart_id, &e.order_id),
        (
            e.value.map(f64::to_bits),
            e.discount.map(f64::to_bits),
            &e.coupon,
            e.flow_step,
            &e.channel,
            &e.variant,
            &e.customer_status,
            &e.currency,
        ),
    );
    let a = rustc_hash::FxBuildHasher.hash_one(fields);
    let b = foldhash::fast::FixedState::with_seed(0x2545_f491_4f6c_dd1d).hash_one(fields);
    ((a as u128) << 64) | b as u128
}

/// A row the repeat filter could not clear: every one of its events may
/// have been read before. Decided once every row is read.
struct Held {
    seq: u64,
    file: usize,
    line: u64,
    raw: String,
    /// Where the row goes in the quarantine file if it is a repeat.
    mark: u64,
    prints: Vec<u128>,
    mapped: Mapped,
}

struct State<'a> {
    opts: &'a IngestOptions,
    report: IngestReport,
    /// Accepted events that are not about orders, in runs by (time, kind).
    events: Runs<Event>,
    /// Order payloads, decided on by the ledger once every row is read.
    pending: Runs<SpilledPayload>,
    /// Fingerprints of every event admitted so far.
    bloom: Bloom,
    /// The same fingerprints with their row's number, for the exact check.
    prints: Prints,
    held: Vec<Held>,
    /// Rows admitted so far (the number of the next one).
    seq: u64,
    identities: Identities,
    currency: Option<String>,
    bar: indicatif::ProgressBar,
}

impl State<'_> {
    fn read_file(&mut self, path: &Path, quarantine: &mut Quarantine) -> Result<()> {
        let container = Container::of_path(path)?;
        // Klaviyo's Events API pages are whole JSON documents, not one row a line.
        let pages = container == Container::Ndjson
            && matches!(self.opts.format, Format::Klaviyo | Format::Auto)
            && klaviyo::sniff_pages(path);
        let format = if pages {
            Format::Klaviyo
        } else {
            let keys = source::peek_keys(path, container)?;
            let format = resolve_format(path, self.opts.format, &keys)?;
            if format == Format::Canonical && container != Container::Ndjson {
                require_columns(path, &keys)?;
            }
            if format == Format::Canonical && container == Container::Parquet {
                source::check_canonical_parquet(path)?;
            }
            format
        };
        let file_metric = klaviyo::metric_of_file(path);
        let shown = self
            .opts
            .shown_as
            .get(path)
            .cloned()
            .unwrap_or_else(|| path.display().to_string());
        let file_index = self.report.files.len();
        self.report.files.push(FileReport {
            path: shown.clone(),
            format: format.name().into(),
            ..FileReport::default()
        });
        let mut file_report = FileReport::default();
        let opts = self.opts;
        // Canonical CSV is read column by column, without a JSON object per row.
        let typed = format == Format::Canonical && container == Container::Csv;
        // Rows are split into fields and mapped a batch at a time, in
        // parallel, on a reader thread; this thread takes them one by one
        // in order for the checks across rows, so reading the next batch
        // overlaps those checks. At most `IN_FLIGHT` batches wait between
        // the two, so memory stays bounded.
        let prepare_batch = |header: &[String], rows: Vec<Unread>| -> Vec<Prepared> {
            use rayon::prelude::*;
            let columns = typed.then(|| CanonicalColumns::of(header));
            // Any row through its shape's mapper, from a JSON object.
            let general = |u: Unread| {
                let row = u.into_row(header);
                let mapped = map_row(opts, format, &row, file_metric);
                Prepared::new(row.line, RawText::Text(row.raw), mapped)
            };
            let prepare = |u: Unread| match (&columns, u) {
                (
                    Some(c),
                    Unread::Csv {
                        line,
                        record,
                        cut: false,
                    },
                ) => {
                    let mapped = map_canonical_csv(opts, c, header, &record);
                    Prepared::new(line, RawText::Record(record), mapped)
                }
                // Canonical Parquet: the canonical columns' values only,
                // the raw text made when it is needed.
                (
                    _,
                    Unread::Parquet {
                        line, group, index, ..
                    },
                ) if format == Format::Canonical => {
                    let mapped = map_canonical_parquet(opts, &group, index);
                    Prepared::new(line, RawText::Parquet(group, index), mapped)
                }
                // Canonical NDJSON: the canonical keys' values only, the
                // raw text made when it is needed; any line the fast parse
                // does not take goes the general way below.
                (_, Unread::Json { line, bytes }) if format == Format::Canonical => {
                    match map_canonical_json(opts, &bytes) {
                        Some(mapped) => Prepared::new(line, RawText::Json(bytes), mapped),
                        None => general(Unread::Json { line, bytes }),
                    }
                }
                (_, u) => general(u),
            };
            if rows.len() > 1 {
                rows.into_par_iter().map(prepare).collect()
            } else {
                rows.into_iter().map(prepare).collect()
            }
        };
        let mut admit_batch = |prepared: Vec<Prepared>| -> Result<()> {
            for row in prepared {
                file_report.read += 1;
                let outcome = match row.mapped {
                    Ok(mapped) => self.admit(
                        mapped, row.prints, file_index, &shown, row.line, &row.raw, quarantine,
                    )?,
                    Err(rej) => Err(rej),
                };
                match outcome {
                    Ok(()) => file_report.accepted += 1,
                    Err(rej) => {
                        file_report.quarantined += 1;
                        *self
                            .report
                            .quarantined_by_reason
                            .entry(rej.reason.code().to_string())
                            .or_default() += 1;
                        quarantine.put(&shown, row.line, &rej, &row.raw.text())?;
                    }
                }
            }
            self.bar.set_position(self.report.read + file_report.read);
            Ok(())
        };
        if pages {
            klaviyo::read_pages(path, &mut |row| {
                admit_batch(prepare_batch(&[], vec![Unread::Row(row)]))
            })?;
        } else {
            const IN_FLIGHT: usize = 2;
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(IN_FLIGHT);
            std::thread::scope(|scope| -> Result<()> {
                let reader = scope.spawn(move || {
                    source::read_batches(path, container, &mut |header, rows| {
                        // A closed channel: the checks stopped the run; the
                        // reason is theirs, reported below.
                        tx.send(prepare_batch(header, rows))
                            .map_err(|_| anyhow::Error::new(ReaderStopped))
                    })
                });
                let admitted = rx.iter().try_for_each(&mut admit_batch);
                // Unblock and end the reader before its result is read.
                drop(rx);
                let read = reader.join().map_err(|_| {
                    anyhow::anyhow!("{}: the reader thread panicked", path.display())
                })?;
                admitted?;
                match read {
                    Err(e) if e.is::<ReaderStopped>() => Ok(()),
                    other => other,
                }
            })?;
        }
        self.report.read += file_report.read;
        self.report.accepted += file_report.accepted;
        self.report.quarantined += file_report.quarantined;
        let f = &mut self.report.files[file_index];
        f.read = file_report.read;
        f.accepted = file_report.accepted;
        f.quarantined = file_report.quarantined;
        Ok(())
    }
}

/// The reader thread's stop when the checks across rows ended the run first.
#[derive(Debug)]
struct ReaderStopped;

impl std::fmt::Display for ReaderStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading stopped: the run ended")
    }
}

impl std::error::Error for ReaderStopped {}

/// A row split and mapped (in parallel), waiting for the checks across rows.
struct Prepared {
    line: u64,
    raw: RawText,
    mapped: Result<Mapped, Rejection>,
    /// The mapped events' fingerprints (for the exact repeat check),
    /// computed with the mapping.
    prints: Vec<u128>,
}

impl Prepared {
    fn new(line: u64, raw: RawText, mapped: Result<Mapped, Rejection>) -> Prepared {
        let prints = match &mapped {
            Ok(m) => m.events.iter().map(fingerprint).collect(),
            Err(_) => Vec::new(),
        };
        Prepared {
            line,
            raw,
            mapped,
            prints,
        }
    }
}

/// A row's raw text, made only when it is needed (a quarantined row, an
/// order payload, a row held for the repeat check).
enum RawText {
    Text(String),
    Record(csv::ByteRecord),
    /// A JSON line's bytes.
    Json(source::LineBytes),
    Parquet(std::sync::Arc<source::ParquetGroup>, usize),
}

impl RawText {
    fn text(&self) -> String {
        match self {
            RawText::Text(t) => t.clone(),
            RawText::Record(r) => source::csv_raw(r),
            RawText::Json(bytes) => source::json_raw(bytes),
            RawText::Parquet(group, i) => group.raw(*i),
        }
    }
}

/// Where each canonical column is in a CSV header.
struct CanonicalColumns {
    at: Vec<(&'static str, usize)>,
}

impl CanonicalColumns {
    fn of(header: &[String]) -> CanonicalColumns {
        CanonicalColumns {
            at: col::CANONICAL_COLUMNS
                .iter()
                .filter_map(|&c| Some((c, header.iter().position(|h| h == c)?)))
                .collect(),
        }
    }
}

/// A canonical CSV record mapped without a JSON object: the same values
/// (empty cell: null; other cells: text), checks and rejections as
/// [`map_row`] on the record's fields.
fn map_canonical_csv(
    opts: &IngestOptions,
    columns: &CanonicalColumns,
    header: &[String],
    record: &csv::ByteRecord,
) -> Result<Mapped, Rejection> {
    let texts = source::csv_texts(header, record)?;
    // An empty cell is null; any other is read as a JSON string holding it.
    let get = |name: &str| {
        let &(_, i) = columns.at.iter().find(|(n, _)| *n == name)?;
        match texts[i] {
            "" => None,
            t => Some(fields::Cell::Text(t)),
        }
    };
    let e = canonical::map_cells(get, opts.epoch_unit)?;
    check_mapped(canonical_event(e)?)
}

/// A canonical JSON line mapped from its canonical keys' values alone
/// ([`source::canonical_json`]): the same values, checks and rejections as
/// [`map_row`] on the whole object; `None` for a line that is not one
/// object with unique keys (the general route words its rejection).
fn map_canonical_json(opts: &IngestOptions, bytes: &[u8]) -> Option<Result<Mapped, Rejection>> {
    let values = source::canonical_json(bytes)?;
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.cell())
    };
    Some(
        canonical::map_cells(get, opts.epoch_unit)
            .and_then(canonical_event)
            .and_then(check_mapped),
    )
}

/// Row `index` of a canonical Parquet row group mapped from its canonical
/// columns' typed values ([`source::ParquetGroup::canonical_values`]): the
/// same values, checks and rejections as [`map_row`] on the row's fields.
fn map_canonical_parquet(
    opts: &IngestOptions,
    group: &source::ParquetGroup,
    index: usize,
) -> Result<Mapped, Rejection> {
    if let Some(rejection) = group.unreadable(index) {
        return Err(rejection);
    }
    let values = group.canonical_values(index);
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.cell())
    };
    canonical::map_cells(get, opts.epoch_unit)
        .and_then(canonical_event)
        .and_then(check_mapped)
}

fn canonical_event(mut e: Event) -> Result<Mapped, Rejection> {
    e.customer_id = identity::normalize(&e.customer_id);
    split_event(e, Source::Canonical, false)
}

/// An event-shaped source's event: an order event becomes a payload for the ledger.
fn split_event(e: Event, source: Source, full: bool) -> Result<Mapped, Rejection> {
    check_event(&e)?;
    crate::validate::event(&e)?;
    if e.kind.is_order() {
        Ok(Mapped::order(ledger::from_event(e, source, full)?))
    } else {
        Ok(Mapped::event(e))
    }
}

/// The checks every mapped row passes, whatever its shape.
fn check_mapped(mut mapped: Mapped) -> Result<Mapped, Rejection> {
    for e in &mapped.events {
        check_event(e)?;
        crate::validate::event(e)?;
    }
    for p in &mut mapped.orders {
        if let Some(c) = &mut p.customer {
            *c = identity::normalize(c);
            crate::validate::id(col::CUSTOMER_ID, c)?;
        }
        crate::validate::id(col::ORDER_ID, &p.order_id)?;
    }
    Ok(mapped)
}

/// One row mapped and validated (no state across rows: run in parallel).
fn map_row(
    opts: &IngestOptions,
    format: Format,
    row: &RawRow,
    file_metric: Option<&str>,
) -> Result<Mapped, Rejection> {
    let fields = row.fields.as_ref().map_err(Clone::clone)?;
    let epoch = opts.epoch_unit;
    let mapped = match format {
        Format::Canonical | Format::Auto => canonical_event(canonical::map_row(fields, epoch)?)?,
        Format::Segment => match segment::map_row(fields, epoch)? {
            (Some(e), ids) => split_event(e, Source::Segment, true)?.with_ids(ids),
            // An identify/alias call: identifiers linked, no event.
            (None, ids) => Mapped::default().with_ids(ids),
        },
        Format::Ga4 => {
            let (e, ids) = ga4::map_row(fields, epoch)?;
            split_event(e, Source::Ga4, true)?.with_ids(ids)
        }
        Format::Shopify => shopify::map_row(fields, epoch)?,
        Format::Klaviyo => {
            klaviyo::map_row(fields, epoch, opts.klaviyo_steps.as_ref(), file_metric)?
        }
    };
    check_mapped(mapped)
}

impl State<'_> {
    /// Applies the checks that need state across rows (exact repeats of an
    /// event, currencies) and files order payloads for the ledger; `Err` of
    /// the outer result is fatal for the run.
    /// `prints`: the fingerprints of `mapped`'s events ([`fingerprint`]).
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        mut mapped: Mapped,
        prints: Vec<u128>,
        file: usize,
        shown: &str,
        line: u64,
        raw: &RawText,
        quarantine: &mut Quarantine,
    ) -> Result<Result<(), Rejection>> {
        debug_assert_eq!(prints.len(), mapped.events.len());
        // A repeat has every event read before; the filter says which rows
        // certainly are not.
        let maybe_repeat =
            !prints.is_empty() && prints.iter().all(|&p| self.bloom.maybe_contains(p));
        for e in &mut mapped.events {
            self.convert_currency(e, shown, line)
                .map_err(anyhow::Error::msg)?;
        }
        for p in &mut mapped.orders {
            let cur = p
                .currency
                .clone()
                .or_else(|| p.state.as_ref().and_then(|s| s.currency.clone()));
            let converted = self
                .convert(cur, p.amounts_mut(), shown, line)
                .map_err(anyhow::Error::msg)?;
            if let Some(s) = &mut p.state {
                s.currency = converted.clone();
            }
            p.currency = converted;
        }
        let seq = self.seq;
        self.seq += 1;
        for &p in &prints {
            self.bloom.insert(p);
        }
        if maybe_repeat {
            self.held.push(Held {
                seq,
                file,
                line,
                raw: raw.text(),
                mark: quarantine.mark()?,
                prints,
                mapped,
            });
            return Ok(Ok(()));
        }
        for &p in &prints {
            self.prints.push(p, seq)?;
        }
        let raw = if mapped.orders.is_empty() {
            String::new()
        } else {
            raw.text()
        };
        self.accept(mapped, file, line, &raw)?;
        Ok(Ok(()))
    }

    /// Files a row that is not a repeat: its identifiers, events and order payloads.
    fn accept(&mut self, mapped: Mapped, file: usize, line: u64, raw: &str) -> Result<()> {
        // Every mapper lists the row's customer among its identifiers, with
        // the kind the shape says it is.
        self.identities.observe(&mapped.ids);
        for e in mapped.events {
            self.events.push(e)?;
        }
        // Every mapper gives a row at most one order payload, so the ledger's
        // verdict on a payload is the row's.
        for payload in mapped.orders {
            self.pending.push(SpilledPayload {
                payload,
                row: RowRef {
                    file: file as u32,
                    line,
                    raw: raw.to_string(),
                },
            })?;
        }
        Ok(())
    }

    /// Decides the held rows: a row is a repeat when each of its events
    /// was read in an earlier row (the earliest row with an event is never
    /// a repeat, so "earlier" needs no verdict on the earlier row).
    fn decide_held(&mut self, quarantine: &mut Quarantine) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let mut first: FxHashMap<u128, u64> = FxHashMap::default();
        for h in &self.held {
            for &p in &h.prints {
                let s = first.entry(p).or_insert(h.seq);
                *s = (*s).min(h.seq);
            }
        }
        let prints = std::mem::replace(&mut self.prints, Prints::new()?);
        prints.scan(|p, seq| {
            if let Some(s) = first.get_mut(&p) {
                *s = (*s).min(seq);
            }
        })?;
        let held = std::mem::take(&mut self.held);
        crate::progress::detail(format!(
            "{} rows held for the exact repeat check",
            held.len()
        ));
        for h in held {
            if h.prints.iter().all(|p| first[p] < h.seq) {
                let rej = Rejection::new(
                    Reason::DuplicateEvent,
                    None,
                    "an identical event was already read (a retry or a repeated export); counted once",
                );
                let file = &mut self.report.files[h.file];
                file.accepted -= 1;
                file.quarantined += 1;
                self.report.accepted -= 1;
                self.report.quarantined += 1;
                *self
                    .report
                    .quarantined_by_reason
                    .entry(rej.reason.code().to_string())
                    .or_default() += 1;
                let shown = file.path.clone();
                quarantine.insert(h.mark, &shown, h.line, &rej, &h.raw)?;
            } else {
                self.accept(h.mapped, h.file, h.line, &h.raw)?;
            }
        }
        Ok(())
    }

    fn convert_currency(&mut self, e: &mut Event, file: &str, line: u64) -> Result<(), String> {
        let cur = e.currency.clone();
        let amounts = e.value.iter_mut().chain(e.discount.iter_mut());
        let converted = self.convert(cur, amounts, file, line)?;
        e.currency = converted;
        Ok(())
    }

    /// Converts `amounts` from `cur` to the run's currency; returns the
    /// currency they are now in.
    fn convert<'x>(
        &mut self,
        cur: Option<String>,
        amounts: impl Iterator<Item = &'x mut f64>,
        file: &str,
        line: u64,
    ) -> Result<Option<String>, String> {
        let Some(cur) = cur else {
            return Ok(None);
        };
        let base = match &self.currency {
            Some(b) => b.clone(),
            None => {
                self.currency = Some(cur.clone());
                cur.clone()
            }
        };
        if cur == base {
            return Ok(Some(cur));
        }
        let Some(rate) = self.opts.rates.get(&cur) else {
            return Err(format!(
                "{file}:{line}: field `currency` is {cur} but earlier rows are in {base}; mixed currencies need rates, e.g. --currency {base} --rate {cur}=<{base} per {cur}>"
            ));
        };
        for v in amounts {
            *v = (*v * rate * 100.0).round() / 100.0;
        }
        Ok(Some(base))
    }
}

fn resolve_format(path: &Path, asked: Format, keys: &[String]) -> Result<Format> {
    if asked != Format::Auto {
        return Ok(asked);
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let found = if canonical::looks_like(&keys) {
        Format::Canonical
    } else if ga4::looks_like(&keys) {
        Format::Ga4
    } else if shopify::looks_like(&keys) {
        Format::Shopify
    } else if klaviyo::looks_like_csv(&keys) {
        Format::Klaviyo
    } else if segment::looks_like(&keys) || segment::looks_like_warehouse(&keys) {
        Format::Segment
    } else {
        bail!(
            "{}: cannot tell the event format from its columns ({}); expected canonical (ts, event, customer_id), Segment (type, event, userId), Segment warehouse (event, user_id or anonymous_id, timestamp), Shopify webhooks (token, cart_token, total_price), Klaviyo (Events API pages; CSV exports with $event_id or Profile ID) or GA4 (event_name, event_timestamp); pass --format",
            path.display(),
            if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
        )
    };
    Ok(found)
}

fn require_columns(path: &Path, keys: &[String]) -> Result<()> {
    for required in col::REQUIRED_COLUMNS {
        if !keys.iter().any(|k| k == required) {
            bail!(
                "{}: line 1: missing required column `{required}`; the header has [{}], expected at least ts, event, customer_id",
                path.display(),
                keys.join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column-wise reading of canonical CSV and the JSON-object one
    /// give the same events and the same rejections.
    #[test]
    fn canonical_json_lines_map_as_the_whole_object_route() {
        let lines: [&[u8]; 18] = [
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":" Alice@Example.com ","cart_id":"k1","value":12.5,"currency":"usd","extra":{"a":[1,2]}}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"order_completed","customer_id":"c1","order_id":"o1","value":"12.5","discount":1,"currency":"EUR"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"message_sent","customer_id":"c1","flow_step":2.5}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1","ts":"2026-03-03T10:00:00Z"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1","x":1,"x":2}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1","extra":1e400}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1","value":[1]}"#,
            br#"{"ts":1772446500,"event":"checkout_started","customer_id":"c1"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"teleported","customer_id":"c1"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":null,"value":"NaN"}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c\u00e91","cart_id":"  ","value":true}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started","customer_id":"c1","value":{"a":1},"flow_step":"3"}"#,
            br#"{"ts":" 2026-03-02T10:00:00Z ","event":"checkout_started","customer_id":"c\"1","coupon":"SAVE\n10","value":-0.0,"discount":12345678901234567890}"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"message_sent","customer_id":"c1","flow_step":3,"channel":null,"variant":"","currency":"eur"}"#,
            br#"[{"ts":"2026-03-02T10:00:00Z"}]"#,
            br#"{"ts":"2026-03-02T10:00:00Z","event":"checkout_started""#,
            b"{\"ts\":\"2026-03-02T10:00:00Z\",\"event\":\"checkout_started\",\"customer_id\":\"c\xff1\"}",
        ];
        let opts = IngestOptions::default();
        let mut fast = 0;
        for bytes in lines {
            let row = Unread::Json {
                line: 2,
                bytes: bytes.to_vec().into(),
            }
            .into_row(&[]);
            let object = map_row(&opts, Format::Canonical, &row, None);
            match map_canonical_json(&opts, bytes) {
                Some(typed) => {
                    fast += 1;
                    assert_eq!(typed, object, "{}", String::from_utf8_lossy(bytes));
                }
                // Only lines the general route refuses as malformed go there.
                None => assert_eq!(
                    object.map_err(|r| r.reason),
                    Err(Reason::MalformedRow),
                    "{}",
                    String::from_utf8_lossy(bytes)
                ),
            }
        }
        assert_eq!(fast, 12);
    }

    #[test]
    fn typed_canonical_parquet_maps_as_the_json_object_route() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let strings = |name: &str, v: &[Option<&str>]| Column::new(name.into(), v.to_vec());
        let n = 8;
        let events = strings(
            "event",
            &[
                Some("checkout_started"),
                Some(" order_completed "),
                Some("teleported"),
                None,
                Some("message_sent"),
                Some("order_refunded"),
                Some(""),
                Some("checkout_started"),
            ],
        );
        let customers = strings(
            "customer_id",
            &[
                Some(" Alice@Example.com "),
                Some("c1"),
                Some("c1"),
                Some("c1"),
                Some("c2"),
                Some("c2"),
                Some("c3"),
                Some("   "),
            ],
        );
        let orders = strings(
            "order_id",
            &[None, Some("o1"), None, None, None, Some("o1"), None, None],
        );
        let values = Column::new(
            "value".into(),
            [
                Some(12.5),
                Some(30.0),
                None,
                Some(f64::NAN),
                Some(-1.0),
                Some(5.0),
                Some(2e12),
                Some(1.0),
            ],
        );
        let steps = Column::new(
            "flow_step".into(),
            [
                None,
                None,
                None,
                Some(0i64),
                Some(2),
                None,
                Some(1),
                Some(3),
            ],
        );
        let currencies = strings(
            "currency",
            &[
                Some("usd"),
                Some(" EUR "),
                None,
                None,
                Some(""),
                None,
                None,
                None,
            ],
        );
        let micros: Vec<Option<i64>> = vec![
            Some(1_772_446_500_000_000),
            Some(1_772_446_500_123_456),
            Some(1_772_446_500_000_000),
            Some(1_772_446_500_000_000),
            None,
            Some(946_684_800_000_000 - 1),
            Some(4_102_444_800_000_000),
            Some(1_772_446_501_000_000),
        ];
        // The time as each type a Parquet file holds it in.
        let times: Vec<(&str, Column)> = vec![
            (
                "us",
                Column::new("ts".into(), micros.clone())
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                    .unwrap(),
            ),
            (
                "ns",
                Column::new(
                    "ts".into(),
                    micros
                        .iter()
                        .map(|m| m.map(|m| m.saturating_mul(1000) + 999))
                        .collect::<Vec<_>>(),
                )
                .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
                .unwrap(),
            ),
            (
                "ms",
                Column::new(
                    "ts".into(),
                    micros
                        .iter()
                        .map(|m| m.map(|m| m / 1000))
                        .collect::<Vec<_>>(),
                )
                .cast(&DataType::Datetime(
                    TimeUnit::Milliseconds,
                    Some(TimeZone::UTC),
                ))
                .unwrap(),
            ),
            (
                "text",
                strings(
                    "ts",
                    &[
                        Some("2026-03-02T10:15:00Z"),
                        Some(" 2026-03-02T10:15:00Z "),
                        Some(""),
                        None,
                        Some("1772446500"),
                        Some("x"),
                        Some("2026-03-02 10:15:00 UTC"),
                        Some("2026-03-02T10:15:00+01:00"),
                    ],
                ),
            ),
            (
                "int",
                Column::new(
                    "ts".into(),
                    [
                        Some(1_772_446_500i64),
                        None,
                        Some(0),
                        Some(1),
                        Some(2),
                        Some(3),
                        Some(4),
                        Some(5),
                    ],
                ),
            ),
        ];
        for epoch in [fields::EpochUnit::None, fields::EpochUnit::S] {
            let opts = IngestOptions {
                epoch_unit: epoch,
                ..IngestOptions::default()
            };
            for (name, ts) in &times {
                let mut df = DataFrame::new_infer_height(vec![
                    ts.clone(),
                    events.clone(),
                    customers.clone(),
                    orders.clone(),
                    values.clone(),
                    steps.clone(),
                    currencies.clone(),
                    strings("extra", &[Some("x"); 8]),
                ])
                .unwrap();
                let path = dir.path().join(format!("{name}.parquet"));
                ParquetWriter::new(std::fs::File::create(&path).unwrap())
                    .finish(&mut df)
                    .unwrap();
                let mut seen = 0;
                source::read_batches(&path, source::Container::Parquet, &mut |header, rows| {
                    for u in rows {
                        let Unread::Parquet { group, index, .. } = &u else {
                            panic!("a Parquet row")
                        };
                        let typed = map_canonical_parquet(&opts, group, *index);
                        let object = map_row(&opts, Format::Canonical, &u.into_row(header), None);
                        assert_eq!(typed, object, "{name} {epoch:?} row {seen}");
                        seen += 1;
                    }
                    Ok(())
                })
                .unwrap();
                assert_eq!(seen, n);
            }
        }
    }

    #[test]
    fn typed_canonical_csv_maps_as_the_json_object_route() {
        let header: Vec<String> =
            "ts,event,customer_id,cart_id,order_id,value,discount,flow_step,currency,extra"
                .split(',')
                .map(str::to_string)
                .collect();
        let rows: Vec<Vec<&[u8]>> = vec![
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b" Alice@Example.com ",
                b"k1",
                b"",
                b"12.5",
                b"",
                b"",
                b"usd",
                b"x",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"order_completed",
                b"c1",
                b"k1",
                b"o1",
                b"12.5",
                b"1",
                b"",
                b"EUR",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"order_refunded",
                b"c1",
                b"",
                b"o1",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"message_sent",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"0",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"message_sent",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"2.5",
                b"",
                b"",
            ],
            vec![
                b"",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"  ",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"1772446500",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"teleported",
                b"c1",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"   ",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"NaN",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"-3",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"1e13",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"c\xff1",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
                b"",
            ],
            vec![
                b" 2026-03-02T10:00:00Z ",
                b" checkout_started ",
                b"c1",
                b"  ",
                b"",
                b" 12 ",
                b" 1.5 ",
                b" 2 ",
                b"  ",
                b"",
            ],
            vec![
                b"2026-03-02T10:00:00Z",
                b"checkout_started",
                b"c1",
                b"",
                b"",
                b"abc",
                b"",
                b"0",
                b"",
                b"",
            ],
            vec![b"2026-03-02T10:00:00Z", b"checkout_started", b"c1"],
        ];
        let opts = IngestOptions::default();
        let columns = CanonicalColumns::of(&header);
        for fields in rows {
            let record = csv::ByteRecord::from(fields.clone());
            let typed = map_canonical_csv(&opts, &columns, &header, &record);
            let row = Unread::Csv {
                line: 2,
                record,
                cut: false,
            }
            .into_row(&header);
            let object = map_row(&opts, Format::Canonical, &row, None);
            assert_eq!(typed, object, "{fields:?}");
        }
    }
}
