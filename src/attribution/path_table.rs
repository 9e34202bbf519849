//! Path tables in, credit JSON out: the edges of the attribution module.
//!
//! A path table is the CSV that attribution tools exchange (ChannelAttribution,
//! pychattr, GA exports): one row per distinct path, with `a > b > c` in a path
//! column and counts beside it. Identical paths are merged while reading,
//! before their channels are even split, so a table of millions of single
//! journeys costs one hash lookup per repeated row.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path as FsPath, PathBuf};
use std::sync::mpsc;

use serde_json::json;

use super::{ChannelId, ChannelInterner, Credit, FastHasher, Path, PathSet};

/// Conventional value column, used when present unless another is named.
pub const DEFAULT_VALUE_COL: &str = "total_conversion_value";
/// Conventional null column, used when present unless another is named.
pub const DEFAULT_NULL_COL: &str = "total_null";

/// Delimiters tried when none is given, in order of preference on ties.
const SNIFFED_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How to read a path table; the defaults are the common conventions
/// (`--path-col path --conv-col total_conversions --sep '>'`).
#[derive(Debug, Clone)]
pub struct PathTableOptions {
    /// Column holding `a > b > c` paths.
    pub path_col: String,
    /// Column holding converting journeys per path (required).
    pub conv_col: String,
    /// Column holding conversion value. `None`: use `total_conversion_value`
    /// if the header has it, else value 0. `Some(name)`: required.
    pub value_col: Option<String>,
    /// Column holding non-converting journeys. `None`: use `total_null` if
    /// the header has it, else 0. `Some(name)`: required.
    pub null_col: Option<String>,
    /// Separator between channels inside a path; whitespace around it is
    /// trimmed.
    pub sep: String,
    /// Field delimiter; `None` sniffs `,` `;` tab `|` from the header line.
    pub delimiter: Option<u8>,
}

impl Default for PathTableOptions {
    fn default() -> Self {
        PathTableOptions {
            path_col: "path".to_owned(),
            conv_col: "total_conversions".to_owned(),
            value_col: None,
            null_col: None,
            sep: ">".to_owned(),
            delimiter: None,
        }
    }
}

/// What went wrong reading a path table, naming the file and, for a bad
/// cell, its line and column and what was expected there.
#[derive(Debug, thiserror::Error)]
pub enum PathTableError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: the file is empty; expected a header line naming the columns")]
    NoHeader { file: PathBuf },
    #[error("{file}: cannot tell the field delimiter from the header line {header:?}; expected one of ',' ';' tab '|' (or give the delimiter)")]
    UnknownDelimiter { file: PathBuf, header: String },
    #[error("{file}: no {role} column {column:?}; the header has {header:?}")]
    MissingColumn {
        file: PathBuf,
        role: &'static str,
        column: String,
        header: Vec<String>,
    },
    #[error("{file}, line {line}, column {column:?}: expected {expected}, found {found:?}")]
    BadCell {
        file: PathBuf,
        line: u64,
        column: String,
        expected: String,
        found: String,
    },
    #[error("{file}, line {line}: malformed CSV: {message}")]
    Malformed {
        file: PathBuf,
        line: u64,
        message: String,
    },
    #[error("the channel separator is empty; expected a string such as '>'")]
    EmptySeparator,
}

/// Reads a path table into a [`PathSet`], merging identical paths.
///
/// Every error names the file; cell errors also name the line (1-based,
/// header = 1), the column and what was expected. A row whose path is empty
/// is an error rather than skipped, because a journey without touches cannot
/// be credited and silently dropping its conversions would change totals.
pub fn read_path_table(file: &FsPath, opts: &PathTableOptions) -> anyhow::Result<PathSet> {
    if opts.sep.is_empty() {
        return Err(PathTableError::EmptySeparator.into());
    }
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(file)?,
    };
    let io_error = |source| PathTableError::Io {
        file: file.to_owned(),
        source,
    };
    let reader = BufReader::with_capacity(1 << 20, File::open(file).map_err(io_error)?);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(reader);
    let header = csv
        .byte_headers()
        .map_err(|e| malformed(file, &e))?
        .iter()
        // Spreadsheet exports often start with a byte-order mark.
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect::<Vec<_>>();
    let columns = Columns::locate(file, &header, opts)?;
    Ok(aggregate_rows(file, csv, &columns, opts.sep.as_bytes())?)
}

/// Rows handed from the parsing thread to the aggregating one at a time.
const BATCH_ROWS: usize = 16 * 1024;

/// Parsed rows in flight between the two reading threads.
#[derive(Default)]
struct Batch {
    /// Trimmed path cells, back to back.
    text: Vec<u8>,
    rows: Vec<BatchRow>,
}

struct BatchRow {
    /// End of this row's path cell in `text` (it starts where the previous
    /// row's ends).
    end: usize,
    hash: u64,
    line: u64,
    /// Conversions, value, nulls.
    outcomes: [f64; 3],
}

/// Reads rows on one thread (CSV, numbers, hashing) and merges them on
/// another (lookups into the path index), so on two cores parsing overlaps
/// the cache-missing merge. The first error in file order wins, as it
/// would reading sequentially.
fn aggregate_rows(
    file: &FsPath,
    csv: csv::Reader<BufReader<File>>,
    columns: &Columns,
    sep: &[u8],
) -> Result<PathSet, PathTableError> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel(4);
        let (empty_tx, empty_rx) = mpsc::channel();
        scope.spawn(move || parse_rows(file, csv, columns, full_tx, empty_rx));
        let mut table = TableBuilder::new(file, columns, sep);
        for message in full_rx.iter() {
            let batch: Batch = message?;
            table.add_batch(&batch)?;
            // The parser may be gone after its last batch; nothing to do.
            let _ = empty_tx.send(batch);
        }
        Ok(table.finish())
    })
}

/// The parsing half of [`aggregate_rows`]: sends full batches, then the
/// error that stopped it, if any. Stops quietly when the receiver is gone.
fn parse_rows(
    file: &FsPath,
    mut csv: csv::Reader<BufReader<File>>,
    columns: &Columns,
    full: mpsc::SyncSender<Result<Batch, PathTableError>>,
    empty: mpsc::Receiver<Batch>,
) {
    let parser = RowParser { file, columns };
    let mut batch = Batch::default();
    let mut record = csv::ByteRecord::new();
    let stop = loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {
                if let Err(e) = parser.push(&record, &mut batch) {
                    break Some(e);
                }
            }
            Ok(false) => break None,
            Err(e) => break Some(malformed(file, &e)),
        }
        if batch.rows.len() == BATCH_ROWS {
            if full.send(Ok(batch)).is_err() {
                return;
            }
            batch = empty.try_recv().unwrap_or_default();
            batch.text.clear();
            batch.rows.clear();
        }
    };
    if full.send(Ok(batch)).is_ok() {
        if let Some(e) = stop {
            let _ = full.send(Err(e));
        }
    }
}

/// Reads the numbers and the path cell of one record.
struct RowParser<'a> {
    file: &'a FsPath,
    columns: &'a Columns,
}

impl RowParser<'_> {
    fn push(&self, record: &csv::ByteRecord, batch: &mut Batch) -> Result<(), PathTableError> {
        let line = record.position().map_or(0, |p| p.line());
        let conversions = self.number(record, line, &self.columns.conversions)?;
        let optional = |col: &Option<(usize, String)>| match col {
            Some(col) => self.number(record, line, col),
            None => Ok(0.0),
        };
        let value = optional(&self.columns.value)?;
        let nulls = optional(&self.columns.nulls)?;
        let raw = trim(record.get(self.columns.path.0).unwrap_or_default());
        batch.text.extend_from_slice(raw);
        batch.rows.push(BatchRow {
            end: batch.text.len(),
            hash: hash_bytes(raw),
            line,
            outcomes: [conversions, value, nulls],
        });
        Ok(())
    }

    /// A finite, non-negative number from a cell, at most the amount
    /// ceiling (so sums over the table stay finite).
    fn number(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        (index, name): &(usize, String),
    ) -> Result<f64, PathTableError> {
        let cell = trim(record.get(*index).unwrap_or_default());
        parse_number(cell)
            .filter(|x| x.is_finite() && (0.0..=crate::validate::MAX_AMOUNT).contains(x))
            .ok_or_else(|| {
                bad_cell(
                    self.file,
                    line,
                    name,
                    "a non-negative number of at most 1e12",
                    cell,
                )
            })
    }
}

fn bad_cell(
    file: &FsPath,
    line: u64,
    column: &str,
    expected: &str,
    found: &[u8],
) -> PathTableError {
    PathTableError::BadCell {
        file: file.to_owned(),
        line,
        column: column.to_owned(),
        expected: expected.to_owned(),
        found: String::from_utf8_lossy(found).into_owned(),
    }
}

fn malformed(file: &FsPath, e: &csv::Error) -> PathTableError {
    PathTableError::Malformed {
        file: file.to_owned(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

/// Picks the candidate delimiter that occurs most often in the header line.
fn sniff_delimiter(file: &FsPath) -> Result<u8, PathTableError> {
    let io_error = |source| PathTableError::Io {
        file: file.to_owned(),
        source,
    };
    let mut line = Vec::new();
    BufReader::new(File::open(file).map_err(io_error)?)
        .read_until(b'\n', &mut line)
        .map_err(io_error)?;
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(PathTableError::NoHeader {
            file: file.to_owned(),
        });
    }
    let count = |d: u8| line.iter().filter(|&&b| b == d).count();
    SNIFFED_DELIMITERS
        .iter()
        .enumerate()
        .filter(|&(_, &d)| count(d) > 0)
        .max_by_key(|&(preference, &d)| (count(d), std::cmp::Reverse(preference)))
        .map(|(_, &d)| d)
        .ok_or_else(|| PathTableError::UnknownDelimiter {
            file: file.to_owned(),
            header: String::from_utf8_lossy(&line).trim_end().to_owned(),
        })
}

/// Positions of the columns read, with their names for error messages.
struct Columns {
    path: (usize, String),
    conversions: (usize, String),
    value: Option<(usize, String)>,
    nulls: Option<(usize, String)>,
}

impl Columns {
    fn locate(
        file: &FsPath,
        header: &[String],
        opts: &PathTableOptions,
    ) -> Result<Columns, PathTableError> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .map(|i| (i, name.to_owned()))
        };
        let required = |role: &'static str, name: &str| {
            find(name).ok_or_else(|| PathTableError::MissingColumn {
                file: file.to_owned(),
                role,
                column: name.to_owned(),
                header: header.to_vec(),
            })
        };
        let optional = |role, chosen: &Option<String>, default: &str| match chosen {
            Some(name) => required(role, name).map(Some),
            None => Ok(find(default)),
        };
        Ok(Columns {
            path: required("path", &opts.path_col)?,
            conversions: required("conversions", &opts.conv_col)?,
            value: optional("value", &opts.value_col, DEFAULT_VALUE_COL)?,
            nulls: optional("null", &opts.null_col, DEFAULT_NULL_COL)?,
        })
    }
}

/// [`FastHasher`] over one byte string.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FastHasher::default();
    h.write(bytes);
    h.finish()
}

/// Hasher for keys that already are hashes.
#[derive(Default, Clone, Copy)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in for safety.
        self.0 ^= hash_bytes(bytes);
    }

    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type PrehashedMap<V> = HashMap<u64, V, BuildHasherDefault<PrehashedHasher>>;

/// Maps byte strings to ids without one allocation per key: the 64-bit
/// hash finds the entry, which holds the key's place in one arena so the
/// bytes can be compared on every hit, and the rare hash collision goes to
/// an ordinary map. Compact entries keep lookups to few cache misses, which
/// is what bounds reading millions of rows.
#[derive(Default)]
struct KeyIndex {
    /// hash → (start in arena, key length, value).
    by_hash: PrehashedMap<(usize, u32, u32)>,
    arena: Vec<u8>,
    collisions: HashMap<Box<[u8]>, u32>,
}

impl KeyIndex {
    fn get(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let &(start, len, value) = self.by_hash.get(&hash)?;
        if self.arena.get(start..start + len as usize) == Some(key) {
            Some(value)
        } else {
            self.collisions.get(key).copied()
        }
    }

    /// Adds `key` (known to be absent) with `value`.
    fn insert(&mut self, hash: u64, key: &[u8], value: u32) {
        if self.by_hash.contains_key(&hash) || key.len() > u32::MAX as usize {
            self.collisions.insert(key.into(), value);
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        self.by_hash.insert(hash, (start, key.len() as u32, value));
    }
}

/// Accumulates rows into merged paths.
struct TableBuilder<'a> {
    file: &'a FsPath,
    columns: &'a Columns,
    sep: &'a [u8],
    channels: ChannelInterner,
    /// Raw path cell → row, so repeated paths skip splitting entirely.
    by_text: KeyIndex,
    /// Parsed touches (as bytes) → row, merging paths that differ only in
    /// spacing.
    by_touches: KeyIndex,
    touch_bytes: Vec<u8>,
    /// Touches of each merged row.
    touches_by_row: Vec<Vec<ChannelId>>,
    /// Conversions, value and nulls of each merged row, kept apart from
    /// the touches so adding a row writes one small slot.
    outcomes: Vec<[f64; 3]>,
    touches: Vec<ChannelId>,
}

impl<'a> TableBuilder<'a> {
    fn new(file: &'a FsPath, columns: &'a Columns, sep: &'a [u8]) -> Self {
        TableBuilder {
            file,
            columns,
            sep,
            channels: ChannelInterner::default(),
            by_text: KeyIndex::default(),
            by_touches: KeyIndex::default(),
            touch_bytes: Vec::new(),
            touches_by_row: Vec::new(),
            outcomes: Vec::new(),
            touches: Vec::new(),
        }
    }

    fn add_batch(&mut self, batch: &Batch) -> Result<(), PathTableError> {
        let mut start = 0;
        for row in &batch.rows {
            let raw = &batch.text[start..row.end];
            start = row.end;
            let index = match self.by_text.get(row.hash, raw) {
                Some(index) => index,
                None => {
                    let index = self.add_path_text(raw, row.line)?;
                    self.by_text.insert(row.hash, raw, index);
                    index
                }
            };
            let sums = &mut self.outcomes[index as usize];
            sums.iter_mut().zip(row.outcomes).for_each(|(s, x)| *s += x);
        }
        Ok(())
    }

    /// Splits a path cell not seen before, interning its channels.
    fn add_path_text(&mut self, raw: &[u8], line: u64) -> Result<u32, PathTableError> {
        if raw.is_empty() {
            let expected = "at least one channel (a journey without touches cannot be credited)";
            return Err(bad_cell(
                self.file,
                line,
                &self.columns.path.1,
                expected,
                raw,
            ));
        }
        self.touches.clear();
        for (i, piece) in split_bytes(raw, self.sep).enumerate() {
            let name = trim(piece);
            let name = match std::str::from_utf8(name) {
                Ok(n) if !n.is_empty() => n,
                _ => {
                    let expected = format!("a channel name at position {} of the path", i + 1);
                    return Err(bad_cell(
                        self.file,
                        line,
                        &self.columns.path.1,
                        &expected,
                        raw,
                    ));
                }
            };
            self.touches.push(self.channels.intern(name));
        }
        self.touch_bytes.clear();
        for t in &self.touches {
            self.touch_bytes.extend_from_slice(&t.to_le_bytes());
        }
        let hash = hash_bytes(&self.touch_bytes);
        if let Some(row) = self.by_touches.get(hash, &self.touch_bytes) {
            return Ok(row);
        }
        let row = self.outcomes.len() as u32;
        self.by_touches.insert(hash, &self.touch_bytes, row);
        self.touches_by_row.push(self.touches.clone());
        self.outcomes.push([0.0; 3]);
        Ok(row)
    }

    fn finish(self) -> PathSet {
        PathSet {
            channels: self.channels.into_names(),
            paths: self
                .touches_by_row
                .into_iter()
                .zip(self.outcomes)
                .map(|(touches, [c, v, n])| Path::new(touches, c, v, n))
                .collect(),
        }
    }
}

/// A number from a cell, as `str::parse::<f64>` reads it.
fn parse_number(cell: &[u8]) -> Option<f64> {
    plain_decimal(cell).or_else(|| std::str::from_utf8(cell).ok()?.parse().ok())
}

/// Exact powers of ten up to 10^15.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Clinger's fast path for the counts and amounts path tables hold: digits
/// with at most one '.', 15 digits at most. The mantissa and the power of
/// ten are exact in f64, so one division is correctly rounded and gives
/// the same bits as `str::parse`, at a fraction of its cost on millions
/// of cells. Anything else returns `None` for the general parser.
fn plain_decimal(cell: &[u8]) -> Option<f64> {
    if cell.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut point) = (0_u64, 0_usize, None);
    for (i, &b) in cell.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    let scale = point.map_or(0, |p| cell.len() - p - 1);
    Some(mantissa as f64 / POW10[scale])
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Splits `bytes` on every occurrence of `sep` (non-empty).
fn split_bytes<'b>(bytes: &'b [u8], sep: &'b [u8]) -> impl Iterator<Item = &'b [u8]> + 'b {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let current = rest?;
        match find(current, sep) {
            Some(i) => {
                rest = Some(&current[i + sep.len()..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => haystack.iter().position(|c| c == b),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}

/// Credit of several models as one JSON document with a stable layout:
///
/// ```json
/// {"channels": ["email", "sms"],
///  "models": [{"model": "first_touch",
///              "total": {"conversions": 3.0, "value": 120.0},
///              "channels": [{"channel": "email", "conversions": 2.0, "value": 80.0}, …],
///              "notes": [], "details": null}, …]}
/// ```
///
/// Models keep the order given and channels the order of `channels`, so
/// reports diff cleanly between runs.
pub fn credit_to_json(credits: &[Credit], channels: &[String]) -> serde_json::Value {
    let models: Vec<_> = credits
        .iter()
        .map(|credit| {
            let per_channel: Vec<_> = channels
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    json!({
                        "channel": name,
                        "conversions": credit.conversions.get(i).copied().unwrap_or(0.0),
                        "value": credit.value.get(i).copied().unwrap_or(0.0),
                    })
                })
                .collect();
            json!({
                "model": credit.model,
                "total": {
                    "conversions": credit.conversions.iter().sum::<f64>(),
                    "value": credit.value.iter().sum::<f64>(),
                },
                "channels": per_channel,
                "notes": credit.notes,
                "details": credit.details,
            })
        })
        .collect();
    json!({ "channels": channels, "models": models })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cartlift-path-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::File::create(&file)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        file
    }

    fn read(name: &str, text: &str) -> anyhow::Result<PathSet> {
        read_path_table(&write_temp(name, text), &PathTableOptions::default())
    }

    fn error_text(name: &str, text: &str) -> String {
        read(name, text).unwrap_err().to_string()
    }

    #[test]
    fn reads_and_merges_paths_with_any_spacing() {
        let set = read(
            "merge.csv",
            "path,total_conversions,total_conversion_value,total_null\n\
             a > b,1,10,0\n\
             a>b,0,0,1\n\
             \" a >  b \",2,5.5,3\n\
             b,1,1,1\n",
        )
        .unwrap();
        assert_eq!(set.channels, ["a", "b"]);
        assert_eq!(set.paths.len(), 2);
        assert_eq!(set.paths[0], Path::new(vec![0, 1], 3.0, 15.5, 4.0));
        assert_eq!(set.paths[1], Path::new(vec![1], 1.0, 1.0, 1.0));
    }

    #[test]
    fn key_index_survives_hash_collisions() {
        let mut index = KeyIndex::default();
        index.insert(7, b"a > b", 0);
        index.insert(7, b"c", 1);
        index.insert(9, b"d", 2);
        assert_eq!(index.get(7, b"a > b"), Some(0));
        assert_eq!(index.get(7, b"c"), Some(1));
        assert_eq!(index.get(7, b"e"), None);
        assert_eq!(index.get(9, b"d"), Some(2));
        assert_eq!(index.get(8, b"d"), None);
    }

    #[test]
    fn byte_order_mark_before_the_header_is_ignored() {
        let set = read("bom.csv", "\u{feff}path,total_conversions\na,1\n").unwrap();
        assert_eq!(set.total_conversions(), 1.0);
    }

    #[test]
    fn sniffs_delimiters() {
        for (name, d) in [("semi.csv", ';'), ("tab.tsv", '\t'), ("pipe.csv", '|')] {
            let text = format!("path{d}total_conversions\nx > y{d}2\n");
            let set = read(name, &text).unwrap();
            assert_eq!(set.paths[0], Path::new(vec![0, 1], 2.0, 0.0, 0.0), "{name}");
        }
    }

    #[test]
    fn honours_custom_columns_and_separator() {
        let file = write_temp("custom.csv", "journey;conv;rev;lost\nemail -> sms;1;9;2\n");
        let opts = PathTableOptions {
            path_col: "journey".into(),
            conv_col: "conv".into(),
            value_col: Some("rev".into()),
            null_col: Some("lost".into()),
            sep: "->".into(),
            delimiter: Some(b';'),
        };
        let set = read_path_table(&file, &opts).unwrap();
        assert_eq!(set.channels, ["email", "sms"]);
        assert_eq!(set.paths[0], Path::new(vec![0, 1], 1.0, 9.0, 2.0));
    }

    #[test]
    fn non_numeric_conversions_name_file_line_and_column() {
        let text = "path,total_conversions\na,1\nb,x1\n";
        let msg = error_text("nonnum.csv", text);
        assert!(
            msg.contains("nonnum.csv") && msg.contains("line 3"),
            "{msg}"
        );
        assert!(
            msg.contains("total_conversions") && msg.contains("non-negative number"),
            "{msg}"
        );
    }

    #[test]
    fn negative_and_empty_numbers_are_errors() {
        assert!(error_text("neg.csv", "path,total_conversions\na,-1\n").contains("line 2"));
        assert!(
            error_text("blank.csv", "path,total_conversions,total_null\na,1,\n")
                .contains("total_null")
        );
    }

    #[test]
    fn empty_paths_and_channels_are_errors() {
        let msg = error_text("emptypath.csv", "path,total_conversions\n  ,1\n");
        assert!(
            msg.contains("line 2") && msg.contains("at least one channel"),
            "{msg}"
        );
        let msg = error_text("emptychan.csv", "path,total_conversions\na >> b,1\n");
        assert!(msg.contains("position 2"), "{msg}");
    }

    #[test]
    fn missing_columns_list_the_header() {
        let msg = error_text("nocol.csv", "route,total_conversions\na,1\n");
        assert!(msg.contains("\"path\"") && msg.contains("route"), "{msg}");
        let file = write_temp("noval.csv", "path,total_conversions\na,1\n");
        let opts = PathTableOptions {
            value_col: Some("revenue".into()),
            ..PathTableOptions::default()
        };
        let msg = read_path_table(&file, &opts).unwrap_err().to_string();
        assert!(msg.contains("revenue"), "{msg}");
    }

    #[test]
    fn ragged_rows_empty_files_and_missing_files_are_errors() {
        let msg = error_text("ragged.csv", "path,total_conversions\na,1\nb,1,2\n");
        assert!(msg.contains("line 3") && msg.contains("malformed"), "{msg}");
        assert!(error_text("empty.csv", "").contains("empty"));
        assert!(error_text("onecol.csv", "path\na\n").contains("delimiter"));
        let missing = read_path_table(
            FsPath::new("/nonexistent/x.csv"),
            &PathTableOptions::default(),
        );
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/x.csv"));
    }

    #[test]
    fn plain_decimals_parse_to_the_same_bits_as_std() {
        let cells = [
            "0",
            "1",
            "0.00",
            "12.34",
            "0.1",
            "0.3",
            "123456789012345",
            "99999.9999999999",
            "1.",
            ".5",
            "007",
            "2.675",
            "1e3",
            "-1",
            "+2",
            ".",
            "",
            "1.2.3",
            "1234567890123456",
            "0.000000000000001",
            "inf",
            "NaN",
            "8.1",
        ];
        for cell in cells {
            let std = cell.parse::<f64>().ok();
            let ours = parse_number(cell.as_bytes());
            assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{cell:?}");
        }
        for i in 0..200_000_u64 {
            let cell = format!("{}.{:02}", i * 7919 % 100_000, i % 100);
            assert_eq!(plain_decimal(cell.as_bytes()), cell.parse().ok(), "{cell}");
        }
    }

    #[test]
    fn credit_json_layout_is_stable() {
        let channels = vec!["a".to_owned(), "b".to_owned()];
        let mut credit = Credit::zeroed("first_touch", 2);
        credit.conversions = vec![1.0, 2.0];
        credit.value = vec![10.0, 0.0];
        let v = credit_to_json(&[credit], &channels);
        assert_eq!(
            v,
            json!({"channels": ["a", "b"], "models": [{
                "model": "first_touch",
                "total": {"conversions": 3.0, "value": 10.0},
                "channels": [
                    {"channel": "a", "conversions": 1.0, "value": 10.0},
                    {"channel": "b", "conversions": 2.0, "value": 0.0}],
                "notes": [], "details": null}]})
        );
    }

    /// Errors past the first batch handed between the reading threads
    /// still report the first bad line in file order.
    #[test]
    fn first_error_in_file_order_wins_across_batches() {
        let bad_path_line = BATCH_ROWS + 5_000;
        let bad_number_line = BATCH_ROWS + 9_000;
        let table = |first_bad: usize, second_bad: usize, first: &str, second: &str| {
            let mut text = String::from("path,total_conversions\n");
            for line in 2..=BATCH_ROWS * 2 {
                let row = match line {
                    l if l == first_bad => first.to_owned(),
                    l if l == second_bad => second.to_owned(),
                    l => format!("c{} > c{},1\n", l % 7, l % 5),
                };
                text.push_str(&row);
            }
            text
        };
        let text = table(bad_path_line, bad_number_line, " ,1\n", "a,oops\n");
        let msg = error_text("order1.csv", &text);
        assert!(msg.contains(&format!("line {bad_path_line}")), "{msg}");
        let text = table(bad_path_line, bad_number_line, "a,oops\n", " ,1\n");
        let msg = error_text("order2.csv", &text);
        assert!(
            msg.contains(&format!("line {bad_path_line}")) && msg.contains("oops"),
            "{msg}"
        );
        let good = table(0, 0, "", "");
        let set = read("big.csv", &good).unwrap();
        assert_eq!(set.total_conversions(), (BATCH_ROWS * 2 - 1) as f64);
        assert_eq!(set.paths.len(), 35);
    }
}
