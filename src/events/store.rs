//! Canonical events on disk: writing them (Parquet, CSV, NDJSON) and
//! reading a canonical Parquet file back.

use super::fields::format_timestamp;
use super::Event;
use crate::schema::{self as col, EventKind};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Column builders for canonical events.
#[derive(Default)]
pub struct EventColumns {
    ts: Vec<i64>,
    event: Vec<&'static str>,
    customer_id: Vec<String>,
    cart_id: Vec<Option<String>>,
    order_id: Vec<Option<String>>,
    value: Vec<Option<f64>>,
    discount: Vec<Option<f64>>,
    coupon: Vec<Option<String>>,
    flow_step: Vec<Option<i32>>,
    channel: Vec<Option<String>>,
    variant: Vec<Option<String>>,
    customer_status: Vec<Option<String>>,
    currency: Vec<Option<String>>,
}

impl EventColumns {
    /// Columns with room for `n` rows.
    pub fn with_capacity(n: usize) -> EventColumns {
        EventColumns {
            ts: Vec::with_capacity(n),
            event: Vec::with_capacity(n),
            customer_id: Vec::with_capacity(n),
            cart_id: Vec::with_capacity(n),
            order_id: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            discount: Vec::with_capacity(n),
            coupon: Vec::with_capacity(n),
            flow_step: Vec::with_capacity(n),
            channel: Vec::with_capacity(n),
            variant: Vec::with_capacity(n),
            customer_status: Vec::with_capacity(n),
            currency: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, e: &Event) {
        self.ts.push(e.ts);
        self.event.push(e.kind.as_str());
        self.customer_id.push(e.customer_id.clone());
        self.cart_id.push(e.cart_id.clone());
        self.order_id.push(e.order_id.clone());
        self.value.push(e.value);
        self.discount.push(e.discount);
        self.coupon.push(e.coupon.clone());
        self.flow_step.push(e.flow_step);
        self.channel.push(e.channel.clone());
        self.variant.push(e.variant.clone());
        self.customer_status.push(e.customer_status.clone());
        self.currency.push(e.currency.clone());
    }

    /// As [`push`](Self::push), moving the strings instead of copying them.
    pub fn push_owned(&mut self, e: Event) {
        self.ts.push(e.ts);
        self.event.push(e.kind.as_str());
        self.customer_id.push(e.customer_id);
        self.cart_id.push(e.cart_id);
        self.order_id.push(e.order_id);
        self.value.push(e.value);
        self.discount.push(e.discount);
        self.coupon.push(e.coupon);
        self.flow_step.push(e.flow_step);
        self.channel.push(e.channel);
        self.variant.push(e.variant);
        self.customer_status.push(e.customer_status);
        self.currency.push(e.currency);
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn into_frame(self) -> Result<DataFrame> {
        let ts = Int64Chunked::from_vec(col::TS.into(), self.ts)
            .into_datetime(TimeUnit::Microseconds, None)
            .into_series();
        let columns: Vec<Column> = vec![
            ts.into(),
            Column::new(col::EVENT.into(), self.event),
            Column::new(col::CUSTOMER_ID.into(), self.customer_id),
            Column::new(col::CART_ID.into(), self.cart_id),
            Column::new(col::ORDER_ID.into(), self.order_id),
            Column::new(col::VALUE.into(), self.value),
            Column::new(col::DISCOUNT.into(), self.discount),
            Column::new(col::COUPON.into(), self.coupon),
            Column::new(col::FLOW_STEP.into(), self.flow_step),
            Column::new(col::CHANNEL.into(), self.channel),
            Column::new(col::VARIANT.into(), self.variant),
            Column::new(col::CUSTOMER_STATUS.into(), self.customer_status),
            Column::new(col::CURRENCY.into(), self.currency),
        ];
        Ok(DataFrame::new_infer_height(columns)?)
    }
}

/// Rows per Parquet row group when a whole frame is written at once
/// (Polars' default), which [`EventWriter`] follows.
const ROW_GROUP: usize = 512 * 512;

/// The row-group sizes Polars' `ParquetWriter::finish` gives a
/// single-chunk frame of `total` rows: `n = total / ROW_GROUP` groups (one
/// when `n ≤ 1`), `n − 1` of `total / n` rows and the rest in the last.
fn row_groups(total: u64) -> Vec<usize> {
    let total = total as usize;
    let n = total / ROW_GROUP;
    if n <= 1 {
        return vec![total];
    }
    let size = total / n;
    let mut groups = vec![size; n - 1];
    groups.push(total - size * (n - 1));
    groups
}

/// The row-group sizes [`write_events_owned`] gives `total` rows: it
/// builds the frame [`ROW_GROUP`] rows at a time, and Polars keeps those
/// pieces as row groups, so all are full but the last.
fn row_groups_fixed(total: u64) -> Vec<usize> {
    let total = total as usize;
    let mut groups = vec![ROW_GROUP; total / ROW_GROUP];
    if !total.is_multiple_of(ROW_GROUP) || groups.is_empty() {
        groups.push(total % ROW_GROUP);
    }
    groups
}

/// How an [`EventWriter`] cuts Parquet row groups, so that its bytes are
/// those of one of the whole-log writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowGroups {
    /// As [`write_events`] (one frame written whole): groups of about
    /// equal size.
    #[default]
    Even,
    /// As [`write_events_owned`]: full groups of [`ROW_GROUP`] rows, the
    /// rest in the last.
    Fixed,
}

/// Canonical events written as they come, in the format the extension
/// names, through the output layer (renamed into place by
/// [`commit`](Self::commit)); the bytes are those [`write_events`] writes
/// for the same events (or [`write_events_owned`], with
/// [`RowGroups::Fixed`]). Holds one Parquet row group at most.
pub struct EventWriter {
    target: crate::output::PartialFile,
    shown: String,
    groups: RowGroups,
    to: Target,
}

type Batched = Box<polars::io::parquet::write::BatchedWriter<File>>;

enum Target {
    Parquet {
        /// The writer, when no row group is being encoded.
        writer: Option<Batched>,
        /// The row group being encoded and written on its own thread while
        /// the next one fills; gives the writer back.
        encoding: Option<std::thread::JoinHandle<Result<Batched>>>,
        cols: EventColumns,
        groups: std::vec::IntoIter<usize>,
        current: usize,
    },
    Csv(csv::Writer<BufWriter<File>>),
    Ndjson(BufWriter<File>),
    /// Parquet, before [`EventWriter::begin`] says how many rows come.
    Unplanned(File),
}

impl EventWriter {
    pub fn create(path: &Path) -> Result<EventWriter> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        let target = crate::output::PartialFile::create(path)?;
        let file = target.handle()?;
        let to = if name.ends_with(".parquet") || name.ends_with(".pq") {
            Target::Unplanned(file)
        } else if name.ends_with(".csv") {
            let mut w = csv::Writer::from_writer(BufWriter::new(file));
            w.write_record(col::CANONICAL_COLUMNS)?;
            Target::Csv(w)
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
            Target::Ndjson(BufWriter::new(file))
        } else {
            bail!(
                "{}: expected an output ending in .parquet, .csv or .ndjson",
                path.display()
            )
        };
        Ok(EventWriter {
            target,
            shown: path.display().to_string(),
            groups: RowGroups::Even,
            to,
        })
    }

    /// Cuts Parquet row groups as `groups` says (before the first row).
    pub fn with_row_groups(mut self, groups: RowGroups) -> EventWriter {
        self.groups = groups;
        self
    }

    fn flush_group(&mut self) -> Result<()> {
        if let Target::Parquet {
            writer,
            encoding,
            cols,
            groups,
            current,
        } = &mut self.to
        {
            if cols.len() == *current && *current > 0 {
                let next = groups.next().unwrap_or(0);
                let full = std::mem::replace(cols, EventColumns::with_capacity(next));
                let mut w = writer_back(writer, encoding)?;
                *encoding = Some(std::thread::spawn(move || -> Result<Batched> {
                    w.write_batch(&full.into_frame()?)?;
                    Ok(w)
                }));
                *current = next;
            }
        }
        Ok(())
    }

    /// Writes what is left and renames the file into place; an I/O error
    /// (disk full included) names the file.
    pub fn commit(self) -> Result<()> {
        let shown = self.shown.clone();
        self.commit_inner()
            .with_context(|| format!("writing {shown}"))
    }

    fn commit_inner(self) -> Result<()> {
        let shown = self.shown.clone();
        match self.to {
            Target::Parquet {
                mut writer,
                mut encoding,
                cols,
                ..
            } => {
                let mut writer = writer_back(&mut writer, &mut encoding)?;
                if !cols.is_empty() {
                    writer.write_batch(&cols.into_frame()?)?;
                }
                writer.finish()?;
            }
            Target::Csv(mut w) => w.flush()?,
            Target::Ndjson(mut w) => w.flush()?,
            Target::Unplanned(_) => {
                bail!("{shown}: internal error: no row count before the first row")
            }
        }
        self.target.commit()
    }
}

/// The Parquet writer, once the row group being encoded (if any) is written.
fn writer_back(
    writer: &mut Option<Batched>,
    encoding: &mut Option<std::thread::JoinHandle<Result<Batched>>>,
) -> Result<Batched> {
    if let Some(handle) = encoding.take() {
        return handle
            .join()
            .map_err(|_| anyhow::anyhow!("the thread writing a row group panicked"))?;
    }
    writer
        .take()
        .ok_or_else(|| anyhow::anyhow!("internal error: the Parquet writer was lost"))
}

impl crate::events::ingest::EventSink for EventWriter {
    fn begin(&mut self, total: u64) -> Result<()> {
        self.begin_inner(total)
            .with_context(|| format!("writing {}", self.shown))
    }

    fn push(&mut self, e: Event) -> Result<()> {
        self.push_inner(e)
            .with_context(|| format!("writing {}", self.shown))
    }
}

impl EventWriter {
    fn begin_inner(&mut self, total: u64) -> Result<()> {
        if let Target::Unplanned(file) = &self.to {
            let schema = EventColumns::default().into_frame()?.schema().clone();
            let writer = Box::new(
                ParquetWriter::new(file.try_clone()?)
                    .with_statistics(StatisticsOptions::default())
                    .with_key_value_metadata(Some(checked_events_metadata()))
                    .batched(&schema)?,
            );
            let mut groups = match self.groups {
                RowGroups::Even => row_groups(total),
                RowGroups::Fixed => row_groups_fixed(total),
            }
            .into_iter();
            let current = groups.next().unwrap_or(0);
            self.to = Target::Parquet {
                writer: Some(writer),
                encoding: None,
                cols: EventColumns::with_capacity(current),
                groups,
                current,
            };
        }
        Ok(())
    }

    fn push_inner(&mut self, e: Event) -> Result<()> {
        match &mut self.to {
            Target::Parquet { cols, .. } => {
                cols.push_owned(e);
                self.flush_group()?;
            }
            Target::Csv(w) => write_csv_row(w, &e)?,
            Target::Ndjson(w) => {
                serde_json::to_writer(&mut *w, &event_to_json(&e))?;
                w.write_all(b"\n")?;
            }
            Target::Unplanned(_) => bail!("{}: internal error: no row count", self.shown),
        }
        Ok(())
    }
}

/// As [`write_events`], consuming the events so large logs are not held twice.
pub fn write_events_owned(events: Vec<Event>, path: &Path) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        // Column builders hold one row group at a time: each is turned into
        // Arrow arrays (and its strings freed) before the next is filled,
        // so the log is never held as both events and builders. The pieces
        // stay the file's row groups (`RowGroups::Fixed`).
        const ROWS: usize = ROW_GROUP;
        let mut frame: Option<DataFrame> = None;
        let mut cols = EventColumns::default();
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() || frame.is_none() {
            for e in events.by_ref().take(ROWS) {
                cols.push_owned(e);
            }
            let part = std::mem::take(&mut cols).into_frame()?;
            match &mut frame {
                Some(f) => {
                    f.vstack_mut(&part)?;
                }
                None => frame = Some(part),
            }
        }
        write_events_parquet(frame.as_mut().expect("at least one part"), path)
    } else {
        write_events(&events, path)
    }
}

/// Writes events in the format the extension names (.parquet, .csv, .ndjson/.jsonl).
pub fn write_events(events: &[Event], path: &Path) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        let mut cols = EventColumns::default();
        for e in events {
            cols.push(e);
        }
        write_events_parquet(&mut cols.into_frame()?, path)
    } else if name.ends_with(".csv") {
        write_csv(events, path)
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
        write_ndjson(events, path)
    } else {
        bail!(
            "{}: expected an output ending in .parquet, .csv or .ndjson",
            path.display()
        )
    }
}

/// The file-level key and value every canonical events Parquet file that
/// cartlift writes (`ingest`, `simulate`) carries: its rows passed
/// ingestion's checks, so the commands that read events may read it
/// directly ([`is_checked_events`]). Any other Parquet file, canonical in
/// shape or not, goes through ingestion first, so every file is held to
/// the same checks.
pub const CHECKED_EVENTS: (&str, &str) = ("cartlift.events", "canonical, checked by cartlift");

fn checked_events_metadata() -> polars::io::parquet::write::KeyValueMetadata {
    polars::io::parquet::write::KeyValueMetadata::from_static(vec![(
        CHECKED_EVENTS.0.to_string(),
        CHECKED_EVENTS.1.to_string(),
    )])
}

/// Whether a Parquet file is canonical events cartlift wrote
/// ([`CHECKED_EVENTS`]); `false` for an unreadable file.
pub fn is_checked_events(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut reader = ParquetReader::new(file);
    reader.get_metadata().is_ok_and(|m| {
        m.key_value_metadata().as_ref().is_some_and(|kv| {
            kv.iter()
                .any(|k| k.key == CHECKED_EVENTS.0 && k.value.as_deref() == Some(CHECKED_EVENTS.1))
        })
    })
}

/// Writes canonical events as Parquet, marked as checked ([`CHECKED_EVENTS`]).
fn write_events_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_parquet_with(df, path, Some(checked_events_metadata()))
}

/// Writes a frame as Parquet through the output layer (whole or not at all).
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_parquet_with(df, path, None)
}

fn write_parquet_with(
    df: &mut DataFrame,
    path: &Path,
    metadata: Option<polars::io::parquet::write::KeyValueMetadata>,
) -> Result<()> {
    crate::output::write_file(path, |file| {
        ParquetWriter::new(file)
            .with_statistics(StatisticsOptions::default())
            .with_key_value_metadata(metadata)
            .finish(df)?;
        Ok(())
    })
}

fn opt_num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn write_csv(events: &[Event], path: &Path) -> Result<()> {
    crate::output::write_file(path, |file| write_csv_to(events, file))
}

fn write_csv_to(events: &[Event], file: &mut File) -> Result<()> {
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record(col::CANONICAL_COLUMNS)?;
    for e in events {
        write_csv_row(&mut w, e)?;
    }
    w.flush()?;
    Ok(())
}

fn write_csv_row(w: &mut csv::Writer<BufWriter<impl Write>>, e: &Event) -> Result<()> {
    fn o(s: &Option<String>) -> &str {
        s.as_deref().unwrap_or_default()
    }
    w.write_record([
        format_timestamp(e.ts).as_str(),
        e.kind.as_str(),
        &e.customer_id,
        o(&e.cart_id),
        o(&e.order_id),
        &opt_num(e.value),
        &opt_num(e.discount),
        o(&e.coupon),
        &e.flow_step.map(|s| s.to_string()).unwrap_or_default(),
        o(&e.channel),
        o(&e.variant),
        o(&e.customer_status),
        o(&e.currency),
    ])?;
    Ok(())
}

pub fn event_to_json(e: &Event) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(col::TS.into(), format_timestamp(e.ts).into());
    m.insert(col::EVENT.into(), e.kind.as_str().into());
    m.insert(col::CUSTOMER_ID.into(), e.customer_id.clone().into());
    let mut put_s = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    };
    put_s(col::CART_ID, &e.cart_id);
    put_s(col::ORDER_ID, &e.order_id);
    put_s(col::COUPON, &e.coupon);
    put_s(col::CHANNEL, &e.channel);
    put_s(col::VARIANT, &e.variant);
    put_s(col::CUSTOMER_STATUS, &e.customer_status);
    put_s(col::CURRENCY, &e.currency);
    for (k, v) in [(col::VALUE, e.value), (col::DISCOUNT, e.discount)] {
        if let Some(x) = v.and_then(serde_json::Number::from_f64) {
            m.insert(k.into(), x.into());
        }
    }
    if let Some(s) = e.flow_step {
        m.insert(col::FLOW_STEP.into(), s.into());
    }
    serde_json::Value::Object(m)
}

fn write_ndjson(events: &[Event], path: &Path) -> Result<()> {
    crate::output::write_file(path, |file| write_ndjson_to(events, file))
}

fn write_ndjson_to(events: &[Event], file: &mut File) -> Result<()> {
    let mut w = BufWriter::new(file);
    for e in events {
        serde_json::to_writer(&mut w, &event_to_json(e))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Parses an event name column value, for readers of canonical frames.
pub fn kind_of(name: &str) -> Option<EventKind> {
    EventKind::parse(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ingest::EventSink;

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = Event::new(
                    1_700_000_000_000_000 + i as i64,
                    EventKind::CartUpdated,
                    format!("c{}", i % 977),
                );
                e.value = (i % 3 > 0).then_some(i as f64 / 8.0);
                e.cart_id = (i % 5 > 0).then(|| format!("k{}", i % 131));
                e
            })
            .collect()
    }

    fn streamed(events: &[Event], path: &Path, groups: RowGroups) -> Vec<u8> {
        let mut w = EventWriter::create(path).unwrap().with_row_groups(groups);
        w.begin(events.len() as u64).unwrap();
        for e in events {
            w.push(e.clone()).unwrap();
        }
        w.commit().unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn fixed_row_groups_give_the_bytes_of_the_owned_write() {
        assert_eq!(row_groups_fixed(0), vec![0]);
        assert_eq!(row_groups_fixed(5), vec![5]);
        assert_eq!(row_groups_fixed(ROW_GROUP as u64), vec![ROW_GROUP]);
        assert_eq!(
            row_groups_fixed(2 * ROW_GROUP as u64 + 3),
            vec![ROW_GROUP, ROW_GROUP, 3]
        );
        let dir = tempfile::tempdir().unwrap();
        // Three groups: two full and a short one (an even split would give two).
        let all = events(2 * ROW_GROUP + 1000);
        let whole = dir.path().join("whole.parquet");
        write_events_owned(all.clone(), &whole).unwrap();
        let whole = std::fs::read(&whole).unwrap();
        let fixed = streamed(&all, &dir.path().join("fixed.parquet"), RowGroups::Fixed);
        assert!(
            whole == fixed,
            "fixed row groups differ from write_events_owned"
        );
        let even = streamed(&all, &dir.path().join("even.parquet"), RowGroups::Even);
        assert!(whole != even, "the test does not tell the layouts apart");
    }
}
