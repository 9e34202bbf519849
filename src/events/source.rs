//! Reading rows out of CSV, NDJSON (or a JSON array) and Parquet files as
//! loosely typed JSON objects, with the line each came from and its raw text.
//!
//! A row that cannot even be split into fields (wrong field count, invalid
//! UTF-8, broken JSON) is still a row read: it comes back as a rejection.

use super::{Reason, Rejection};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use serde_json::{Map, Number, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Csv,
    Ndjson,
    Parquet,
}

impl Container {
    pub fn of_path(path: &Path) -> Result<Container> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.trim_end_matches(".gz");
        Ok(if name.ends_with(".csv") || name.ends_with(".tsv") {
            Container::Csv
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            Container::Parquet
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            Container::Ndjson
        } else {
            bail!(
                "{}: cannot tell the file type from its name; expected .csv, .parquet, .ndjson, .jsonl or .json",
                path.display()
            )
        })
    }
}

/// One row as read: where it was, its raw text, and its fields or why they
/// could not be read.
pub struct RawRow {
    pub line: u64,
    pub raw: String,
    pub fields: Result<Map<String, Value>, Rejection>,
}

/// Calls `each` for every row of the file; returns the file's column names
/// (CSV header, Parquet schema, or the keys of the first JSON object).
pub fn read_rows(
    path: &Path,
    container: Container,
    each: &mut dyn FnMut(RawRow) -> Result<()>,
) -> Result<()> {
    match container {
        Container::Csv => read_csv(path, each),
        Container::Ndjson => read_json_lines(path, each),
        Container::Parquet => read_parquet(path, each),
    }
}

/// The column names a file offers, for format detection and required-column checks.
pub fn peek_keys(path: &Path, container: Container) -> Result<Vec<String>> {
    match container {
        Container::Csv => {
            let mut r = csv_reader(path)?;
            let header = r
                .byte_headers()
                .with_context(|| format!("{}: cannot read the header line", path.display()))?;
            Ok(header
                .iter()
                .map(|h| String::from_utf8_lossy(h).trim().to_string())
                .collect())
        }
        Container::Parquet => {
            let file = open(path)?;
            let mut reader = ParquetReader::new(file);
            let schema = reader.schema().map_err(|e| {
                anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display())
            })?;
            Ok(schema.iter_names().map(|n| n.to_string()).collect())
        }
        Container::Ndjson => {
            let mut keys = None;
            read_json_lines(path, &mut |row| {
                if keys.is_none() {
                    if let Ok(map) = &row.fields {
                        keys = Some(map.keys().cloned().collect::<Vec<_>>());
                    }
                }
                if keys.is_some() {
                    bail!(StopPeek)
                }
                Ok(())
            })
            .or_else(|e| if e.is::<StopPeek>() { Ok(()) } else { Err(e) })?;
            Ok(keys.unwrap_or_default())
        }
    }
}

#[derive(Debug)]
struct StopPeek;
impl std::fmt::Display for StopPeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for StopPeek {}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

fn csv_reader(path: &Path) -> Result<csv::Reader<File>> {
    let delimiter = if path
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".tsv")
    {
        b'\t'
    } else {
        b','
    };
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(open(path)?))
}

fn read_csv(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    let mut reader = csv_reader(path)?;
    let header: Vec<String> = reader
        .byte_headers()
        .with_context(|| format!("{}: cannot read the header line", path.display()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut record = csv::ByteRecord::new();
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .with_context(|| format!("{}: read error", path.display()))?;
        if !more {
            return Ok(());
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let raw = raw_csv(&record);
        let fields = csv_fields(&header, &record);
        each(RawRow { line, raw, fields })?;
    }
}

fn raw_csv(record: &csv::ByteRecord) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

fn csv_fields(
    header: &[String],
    record: &csv::ByteRecord,
) -> Result<Map<String, Value>, Rejection> {
    if record.len() != header.len() {
        return Err(Rejection::new(
            Reason::MalformedRow,
            None,
            format!(
                "{} fields where the header has {}; the line is truncated or has stray separators",
                record.len(),
                header.len()
            ),
        ));
    }
    let mut map = Map::with_capacity(header.len());
    for (name, bytes) in header.iter().zip(record.iter()) {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Rejection::new(
                Reason::MalformedRow,
                Some(name),
                format!("{name} is not valid UTF-8"),
            )
        })?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            Value::String(text.to_string())
        };
        map.insert(name.clone(), v);
    }
    Ok(map)
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, Rejection> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Rejection::new(
            Reason::MalformedRow,
            None,
            format!("a JSON {}; expected an object", kind_name(&other)),
        )),
        Err(e) => Err(Rejection::new(
            Reason::MalformedRow,
            None,
            format!("invalid JSON: {e}"),
        )),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn read_json_lines(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    let mut reader = BufReader::new(open(path)?);
    let first = {
        let buf = reader
            .fill_buf()
            .with_context(|| format!("{}: read error", path.display()))?;
        buf.iter().copied().find(|b| !b.is_ascii_whitespace())
    };
    if first == Some(b'[') {
        return read_json_array(path, reader, each);
    }
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}: read error after line {line}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let raw = String::from_utf8_lossy(&buf).trim_end().to_string();
        let fields = json_object(&buf);
        each(RawRow { line, raw, fields })?;
    }
}

fn read_json_array(
    path: &Path,
    mut reader: BufReader<File>,
    each: &mut dyn FnMut(RawRow) -> Result<()>,
) -> Result<()> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: read error", path.display()))?;
    let items: Vec<Value> = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: not a valid JSON array of events; expected `[{{...}}, ...]` or one object per line",
            path.display()
        )
    })?;
    for (i, item) in items.into_iter().enumerate() {
        let raw = item.to_string();
        let fields = match item {
            Value::Object(map) => Ok(map),
            other => Err(Rejection::new(
                Reason::MalformedRow,
                None,
                format!("a JSON {}; expected an object", kind_name(&other)),
            )),
        };
        each(RawRow {
            line: i as u64 + 1,
            raw,
            fields,
        })?;
    }
    Ok(())
}

fn read_parquet(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    let df = ParquetReader::new(open(path)?)
        .finish()
        .map_err(|e| anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display()))?;
    let columns: Vec<(String, Series)> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.as_materialized_series().clone()))
        .collect();
    for i in 0..df.height() {
        let mut map = Map::with_capacity(columns.len());
        for (name, s) in &columns {
            let v = s.get(i).map(any_to_json).unwrap_or(Value::Null);
            map.insert(name.clone(), v);
        }
        let raw = Value::Object(map.clone()).to_string();
        each(RawRow {
            line: i as u64 + 1,
            raw,
            fields: Ok(map),
        })?;
    }
    Ok(())
}

fn any_to_json(v: AnyValue) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => Value::from(x),
        AnyValue::Int16(x) => Value::from(x),
        AnyValue::Int32(x) => Value::from(x),
        AnyValue::Int64(x) => Value::from(x),
        AnyValue::UInt8(x) => Value::from(x),
        AnyValue::UInt16(x) => Value::from(x),
        AnyValue::UInt32(x) => Value::from(x),
        AnyValue::UInt64(x) => Value::from(x),
        AnyValue::Float32(x) => Number::from_f64(x as f64).map_or(Value::Null, Value::Number),
        AnyValue::Float64(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        AnyValue::Datetime(x, unit, _) | AnyValue::DatetimeOwned(x, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => x / 1000,
                TimeUnit::Microseconds => x,
                TimeUnit::Milliseconds => x * 1000,
            };
            Value::String(super::fields::format_timestamp(micros))
        }
        other => Value::String(other.to_string()),
    }
}
