//! The ingest job: files in any supported shape → canonical events plus a
//! quarantine file, with `read = accepted + quarantined` by construction.

use super::fields::EpochUnit;
use super::identity::{self, CustomerKey, Identities, IdentityReport};
use super::ledger::{self, LedgerReport, Pending, Source};
use super::source::{self, Container, RawRow};
use super::{
    canonical, check_event, ga4, klaviyo, segment, shopify, Event, Mapped, Reason, Rejection,
};
use crate::schema as col;
use anyhow::{bail, Context, Result};
use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashSet;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::BufWriter;
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
pub struct Quarantine {
    writer: Option<(csv::Writer<BufWriter<File>>, crate::output::PartialFile)>,
}

impl Quarantine {
    pub fn to_file(path: &Path) -> Result<Quarantine> {
        let file = crate::output::PartialFile::create(path)
            .with_context(|| format!("quarantine file {}", path.display()))?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file.handle()?));
        w.write_record(["file", "line", "reason", "field", "detail", "raw"])
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Quarantine {
            writer: Some((w, file)),
        })
    }

    /// Counts without keeping the rows (used where no file was asked for).
    pub fn discard() -> Quarantine {
        Quarantine { writer: None }
    }

    fn put(&mut self, file: &str, line: u64, rej: &Rejection, raw: &str) -> Result<()> {
        use crate::output::encode::csv_cell;
        if let Some((w, _)) = &mut self.writer {
            w.write_record([
                &*csv_cell(file),
                &line.to_string(),
                rej.reason.code(),
                &csv_cell(rej.field.as_deref().unwrap_or("")),
                &csv_cell(&rej.detail),
                &csv_cell(&crate::validate::shorten_raw(raw)),
            ])?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        if let Some((mut w, file)) = self.writer {
            w.flush()?;
            drop(w);
            file.commit()?;
        }
        Ok(())
    }
}

/// Where an order payload came from, kept until the ledger decides on it.
struct RowRef {
    file: usize,
    line: u64,
    raw: String,
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
    if !opts.rates.is_empty() && opts.currency.is_none() {
        bail!("--rate given without --currency: expected the currency the rates convert to");
    }
    let mut state = State {
        opts,
        report: IngestReport::default(),
        events: Vec::new(),
        pending: Vec::new(),
        seen_events: FxHashSet::default(),
        identities: Identities::default(),
        currency: opts.currency.clone().map(|c| c.to_ascii_uppercase()),
    };
    for path in inputs {
        state.read_file(path, quarantine)?;
    }
    let State {
        mut report,
        mut events,
        pending,
        identities,
        currency,
        ..
    } = state;
    let (ids, identity) = identities.resolve(opts.customer_key);
    let resolution = ledger::resolve(pending, &ids);
    for (row, rej) in resolution.rejected {
        let file = &mut report.files[row.file];
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
    events.extend(resolution.events);
    for e in &mut events {
        let key = ids.key(&e.customer_id);
        if key != e.customer_id {
            e.customer_id = key.to_string();
        }
    }
    events.par_sort_unstable_by(content_order);
    report.events = events.len() as u64;
    report.ledger = resolution.report;
    report.identity = identity;
    report.currency = currency;
    Ok((events, report))
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

struct State<'a> {
    opts: &'a IngestOptions,
    report: IngestReport,
    /// Accepted events that are not about orders.
    events: Vec<Event>,
    /// Order payloads, decided on by the ledger once every row is read.
    pending: Vec<Pending<RowRef>>,
    seen_events: FxHashSet<u128>,
    identities: Identities,
    currency: Option<String>,
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
            format
        };
        let file_metric = klaviyo::metric_of_file(path);
        let shown = path.display().to_string();
        let file_index = self.report.files.len();
        self.report.files.push(FileReport {
            path: shown.clone(),
            format: format.name().into(),
            ..FileReport::default()
        });
        let mut file_report = FileReport::default();
        let mut on_row = |row: RawRow| {
            file_report.read += 1;
            let outcome = match self.map(format, &row, file_metric) {
                Ok(mapped) => self.admit(mapped, file_index, &shown, &row)?,
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
                    quarantine.put(&shown, row.line, &rej, &row.raw)?;
                }
            }
            Ok(())
        };
        if pages {
            klaviyo::read_pages(path, &mut on_row)?;
        } else {
            source::read_rows(path, container, &mut on_row)?;
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

    fn map(
        &self,
        format: Format,
        row: &RawRow,
        file_metric: Option<&str>,
    ) -> Result<Mapped, Rejection> {
        let fields = row.fields.as_ref().map_err(Clone::clone)?;
        let epoch = self.opts.epoch_unit;
        let split = |e: Event, source: Source, full: bool| -> Result<Mapped, Rejection> {
            check_event(&e)?;
            crate::validate::event(&e)?;
            if e.kind.is_order() {
                Ok(Mapped::order(ledger::from_event(e, source, full)?))
            } else {
                Ok(Mapped::event(e))
            }
        };
        let mut mapped = match format {
            Format::Canonical | Format::Auto => {
                let mut e = canonical::map_row(fields, epoch)?;
                e.customer_id = identity::normalize(&e.customer_id);
                split(e, Source::Canonical, false)?
            }
            Format::Segment => match segment::map_row(fields, epoch)? {
                (Some(e), ids) => split(e, Source::Segment, true)?.with_ids(ids),
                // An identify/alias call: identifiers linked, no event.
                (None, ids) => Mapped::default().with_ids(ids),
            },
            Format::Ga4 => {
                let (e, ids) = ga4::map_row(fields, epoch)?;
                split(e, Source::Ga4, true)?.with_ids(ids)
            }
            Format::Shopify => shopify::map_row(fields, epoch)?,
            Format::Klaviyo => {
                klaviyo::map_row(fields, epoch, self.opts.klaviyo_steps.as_ref(), file_metric)?
            }
        };
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

    /// Applies the checks that need state across rows (exact repeats of an
    /// event, currencies) and files order payloads for the ledger; `Err` of
    /// the outer result is fatal for the run.
    fn admit(
        &mut self,
        mut mapped: Mapped,
        file: usize,
        shown: &str,
        row: &RawRow,
    ) -> Result<Result<(), Rejection>> {
        let prints: Vec<u128> = mapped.events.iter().map(fingerprint).collect();
        if !prints.is_empty() && prints.iter().all(|p| self.seen_events.contains(p)) {
            return Ok(Err(Rejection::new(
                Reason::DuplicateEvent,
                None,
                "an identical event was already read (a retry or a repeated export); counted once",
            )));
        }
        for e in &mut mapped.events {
            self.convert_currency(e, shown, row.line)
                .map_err(anyhow::Error::msg)?;
        }
        for p in &mut mapped.orders {
            let cur = p
                .currency
                .clone()
                .or_else(|| p.state.as_ref().and_then(|s| s.currency.clone()));
            let converted = self
                .convert(cur, p.amounts_mut(), shown, row.line)
                .map_err(anyhow::Error::msg)?;
            if let Some(s) = &mut p.state {
                s.currency = converted.clone();
            }
            p.currency = converted;
        }
        // Every mapper lists the row's customer among its identifiers, with
        // the kind the shape says it is.
        self.identities.observe(&mapped.ids);
        self.seen_events.extend(prints);
        self.events.append(&mut mapped.events);
        // Every mapper gives a row at most one order payload, so the ledger's
        // verdict on a payload is the row's.
        for payload in mapped.orders {
            self.pending.push(Pending {
                payload,
                row: RowRef {
                    file,
                    line: row.line,
                    raw: row.raw.clone(),
                },
            });
        }
        Ok(Ok(()))
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
