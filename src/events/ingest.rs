//! The ingest job: files in any supported shape → canonical events plus a
//! quarantine file, with `read = accepted + quarantined` by construction.

use super::fields::EpochUnit;
use super::source::{self, Container, RawRow};
use super::{canonical, check_event, ga4, segment, shopify, Event, Reason, Rejection};
use crate::schema::{self as col, EventKind};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
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
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Canonical => "canonical",
            Format::Segment => "segment",
            Format::Shopify => "shopify",
            Format::Ga4 => "ga4",
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

/// Reads every input, maps and validates each row, and returns the accepted
/// events in read order.
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
        seen_orders: HashSet::new(),
        currency: opts.currency.clone().map(|c| c.to_ascii_uppercase()),
    };
    for path in inputs {
        state.read_file(path, quarantine)?;
    }
    state.report.currency = state.currency.clone();
    Ok((state.events, state.report))
}

struct State<'a> {
    opts: &'a IngestOptions,
    report: IngestReport,
    events: Vec<Event>,
    seen_orders: HashSet<String>,
    currency: Option<String>,
}

impl State<'_> {
    fn read_file(&mut self, path: &Path, quarantine: &mut Quarantine) -> Result<()> {
        let container = Container::of_path(path)?;
        let keys = source::peek_keys(path, container)?;
        let format = resolve_format(path, self.opts.format, &keys)?;
        if format == Format::Canonical && container != Container::Ndjson {
            require_columns(path, &keys)?;
        }
        let shown = path.display().to_string();
        let mut file_report = FileReport {
            path: shown.clone(),
            format: format.name().into(),
            ..FileReport::default()
        };
        source::read_rows(path, container, &mut |row: RawRow| {
            file_report.read += 1;
            let outcome = match self.map(format, &row) {
                Ok(events) => self.admit(events, &shown, row.line)?,
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
        })?;
        self.report.read += file_report.read;
        self.report.accepted += file_report.accepted;
        self.report.quarantined += file_report.quarantined;
        self.report.files.push(file_report);
        Ok(())
    }

    fn map(&self, format: Format, row: &RawRow) -> Result<Vec<Event>, Rejection> {
        let fields = row.fields.as_ref().map_err(Clone::clone)?;
        let epoch = self.opts.epoch_unit;
        let events = match format {
            Format::Canonical | Format::Auto => vec![canonical::map_row(fields, epoch)?],
            Format::Segment => vec![segment::map_row(fields, epoch)?],
            Format::Ga4 => vec![ga4::map_row(fields, epoch)?],
            Format::Shopify => shopify::map_row(fields, epoch)?,
        };
        for e in &events {
            check_event(e)?;
            crate::validate::event(e)?;
        }
        Ok(events)
    }

    /// Applies the checks that need state across rows (duplicate orders,
    /// currencies); `Err` of the outer result is fatal for the run.
    fn admit(
        &mut self,
        mut events: Vec<Event>,
        file: &str,
        line: u64,
    ) -> Result<Result<(), Rejection>> {
        for e in &events {
            if e.kind == EventKind::OrderCompleted {
                if let Some(id) = &e.order_id {
                    if self.seen_orders.contains(id) {
                        return Ok(Err(Rejection::new(
                            Reason::DuplicateOrder,
                            Some(col::ORDER_ID),
                            format!("order {id} was already read; counted once"),
                        )));
                    }
                }
            }
        }
        for e in &mut events {
            self.convert_currency(e, file, line)
                .map_err(anyhow::Error::msg)?;
        }
        for e in events {
            if e.kind == EventKind::OrderCompleted {
                if let Some(id) = &e.order_id {
                    self.seen_orders.insert(id.clone());
                }
            }
            self.events.push(e);
            self.report.events += 1;
        }
        Ok(Ok(()))
    }

    fn convert_currency(&mut self, e: &mut Event, file: &str, line: u64) -> Result<(), String> {
        let Some(cur) = e.currency.clone() else {
            return Ok(());
        };
        let base = match &self.currency {
            Some(b) => b.clone(),
            None => {
                self.currency = Some(cur.clone());
                cur.clone()
            }
        };
        if cur == base {
            return Ok(());
        }
        let Some(rate) = self.opts.rates.get(&cur) else {
            return Err(format!(
                "{file}:{line}: field `currency` is {cur} but earlier rows are in {base}; mixed currencies need rates, e.g. --currency {base} --rate {cur}=<{base} per {cur}>"
            ));
        };
        e.value = e.value.map(|v| (v * rate * 100.0).round() / 100.0);
        e.discount = e.discount.map(|v| (v * rate * 100.0).round() / 100.0);
        e.currency = Some(base);
        Ok(())
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
    } else if segment::looks_like(&keys) {
        Format::Segment
    } else {
        bail!(
            "{}: cannot tell the event format from its columns ({}); expected canonical (ts, event, customer_id), Segment (type, event, userId), Shopify webhooks (token, cart_token, total_price) or GA4 (event_name, event_timestamp); pass --format",
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
