//! Reading rows out of CSV, NDJSON (or a JSON array) and Parquet files as
//! loosely typed JSON objects, with the line each came from and its raw text.
//!
//! A row that cannot even be split into fields (wrong field count, invalid
//! UTF-8, broken JSON, a line over [`MAX_LINE_BYTES`]) is still a row read:
//! it comes back as a rejection.
//!
//! Each input is opened once: a regular file is read in place, while
//! standard input (`-`), a pipe or another special file, and a gzip file
//! (`.gz`) are read once into an anonymous spool file, which every later
//! look (the format sniff, the rows, the report's stamp) reads again.

use super::{Reason, Rejection};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use crate::validate::MAX_LINE_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Csv,
    Ndjson,
    Parquet,
}

impl Container {
    /// The container a name says, or for standard input and special files
    /// without an extension, the one their first bytes say.
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
        } else if is_stream(path) {
            sniff(path)?
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

/// What [`read_batches`] calls with each batch (and the CSV header).
pub type BatchFn<'a> = dyn FnMut(&[String], Vec<Unread>) -> Result<()> + 'a;

/// Rows per batch of [`read_batches`].
pub const BATCH_ROWS: usize = 4096;

/// A batch of JSON lines also ends once its lines hold this many bytes, so
/// a batch of long lines stays small.
const BATCH_BYTES: usize = 8 << 20;

/// A row read but not yet split into fields: the caller splits a batch of
/// them in parallel ([`Unread::into_row`], or its own typed reading of a
/// CSV record).
pub enum Unread {
    Row(RawRow),
    Csv {
        line: u64,
        record: csv::ByteRecord,
        /// The line was longer than [`MAX_LINE_BYTES`] and cut.
        cut: bool,
    },
    Json {
        line: u64,
        bytes: LineBytes,
    },
    /// Row `index` of a Parquet row group (its columns shared by the batch).
    Parquet {
        line: u64,
        group: std::sync::Arc<ParquetGroup>,
        index: usize,
    },
}

/// One line's bytes inside the buffer its batch of lines was read into
/// (one allocation per batch, shared, instead of one per line).
#[derive(Debug, Clone)]
pub struct LineBytes {
    batch: std::sync::Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl std::ops::Deref for LineBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.batch[self.start..self.end]
    }
}

impl From<Vec<u8>> for LineBytes {
    fn from(bytes: Vec<u8>) -> LineBytes {
        let end = bytes.len();
        LineBytes {
            batch: std::sync::Arc::new(bytes),
            start: 0,
            end,
        }
    }
}

/// One Parquet row group's columns, text stored as categories or bytes
/// already read as text.
pub struct ParquetGroup {
    columns: Vec<(String, Series)>,
    height: usize,
    /// Per byte column, the rows whose bytes are not UTF-8 (read as text
    /// with replacement characters, for the raw text only).
    not_utf8: Vec<(String, Vec<bool>)>,
    /// Where each canonical column the file has is in `columns`.
    canonical_at: Vec<(&'static str, usize)>,
}

impl ParquetGroup {
    /// Why row `i` cannot be read, when a byte column of it is not UTF-8
    /// (the same rejection as such a field of a CSV row).
    pub fn unreadable(&self, i: usize) -> Option<Rejection> {
        self.not_utf8
            .iter()
            .find(|(_, rows)| rows[i])
            .map(|(name, _)| not_utf8(name))
    }

    /// Row `i`'s value of each canonical column the file has, as
    /// [`RawRow`]'s fields would hold it (for a typed reading).
    /// Text is borrowed from its column (it reads as the JSON string
    /// [`RawRow`] would hold); any other value, null included, is the JSON
    /// value [`RawRow`] would hold.
    pub fn canonical_values(&self, i: usize) -> Vec<(&'static str, JsonField<'_>)> {
        self.canonical_at
            .iter()
            .map(|&(name, at)| {
                let column = &self.columns[at].1;
                let field = match column.get(i) {
                    Ok(AnyValue::String(t)) => JsonField::Text(std::borrow::Cow::Borrowed(t)),
                    Ok(AnyValue::Datetime(x, unit, _)) => JsonField::Micros(micros_of(x, unit)),
                    v => JsonField::Value(v.map_or(Value::Null, any_to_json)),
                };
                (name, field)
            })
            .collect()
    }

    /// Row `i`'s raw text: its fields as a JSON object, as the quarantine
    /// file shows it.
    pub fn raw(&self, i: usize) -> String {
        self.row(0, i).raw
    }

    /// Row `i` as loosely typed fields, and its raw text (the fields as a
    /// JSON object, as the quarantine file shows it).
    fn row(&self, line: u64, i: usize) -> RawRow {
        let mut map = Map::with_capacity(self.columns.len());
        for (name, s) in &self.columns {
            let v = s.get(i).map(any_to_json).unwrap_or(Value::Null);
            map.insert(name.clone(), v);
        }
        let raw = serde_json::to_string(&map).unwrap_or_default();
        RawRow {
            line,
            raw,
            fields: match self.unreadable(i) {
                Some(rejection) => Err(rejection),
                None => Ok(map),
            },
        }
    }
}

impl Unread {
    /// The row as loosely typed fields; `header`: the CSV header.
    pub fn into_row(self, header: &[String]) -> RawRow {
        match self {
            Unread::Row(row) => row,
            Unread::Csv { line, record, cut } => RawRow {
                line,
                raw: raw_csv(&record),
                fields: if cut {
                    Err(cut_line())
                } else {
                    csv_fields(header, &record)
                },
            },
            Unread::Json { line, bytes } => RawRow {
                line,
                raw: json_raw(&bytes),
                fields: json_object(&bytes),
            },
            Unread::Parquet { line, group, index } => group.row(line, index),
        }
    }
}

/// The raw text of a JSON line, as the quarantine file shows it.
pub fn json_raw(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

/// The raw text of a CSV record, as the quarantine file shows it.
pub fn csv_raw(record: &csv::ByteRecord) -> String {
    raw_csv(record)
}

/// The text of each field of a CSV record, or why the record cannot be
/// read (the same rejection [`read_rows`] gives it).
pub fn csv_texts<'r>(
    header: &[String],
    record: &'r csv::ByteRecord,
) -> Result<Vec<&'r str>, Rejection> {
    if record.len() != header.len() {
        return Err(field_count(record.len(), header.len()));
    }
    header
        .iter()
        .zip(record.iter())
        .map(|(name, bytes)| std::str::from_utf8(bytes).map_err(|_| not_utf8(name)))
        .collect()
}

fn cut_line() -> Rejection {
    Rejection::new(
        Reason::MalformedRow,
        None,
        format!("the line is longer than {MAX_LINE_BYTES} bytes; the rest was not read"),
    )
}

fn field_count(found: usize, header: usize) -> Rejection {
    Rejection::new(
        Reason::MalformedRow,
        None,
        format!(
            "{found} fields where the header has {header}; the line is truncated or has stray separators"
        ),
    )
}

fn not_utf8(name: &str) -> Rejection {
    Rejection::new(
        Reason::MalformedRow,
        Some(name),
        format!("{name} is not valid UTF-8"),
    )
}

/// As [`read_rows`], [`BATCH_ROWS`] rows at a time, with the CSV header
/// (empty for other containers): lines are read in order and handed over
/// unsplit, so the caller splits each batch in parallel.
pub fn read_batches(path: &Path, container: Container, each: &mut BatchFn) -> Result<()> {
    match container {
        Container::Csv => read_csv_batches(path, each),
        Container::Ndjson => read_json_line_batches(path, each),
        Container::Parquet => {
            // Rows are handed over as indices into their row group, so the
            // caller turns them into fields in parallel.
            read_parquet_groups(path, &mut |offset, group| {
                let group = std::sync::Arc::new(group);
                let mut start = 0;
                while start < group.height {
                    let end = (start + BATCH_ROWS).min(group.height);
                    let batch = (start..end)
                        .map(|index| Unread::Parquet {
                            line: (offset + index) as u64 + 1,
                            group: group.clone(),
                            index,
                        })
                        .collect();
                    each(&[], batch)?;
                    start = end;
                }
                Ok(())
            })
        }
    }
}

/// The column names a file offers, for format detection and required-column checks.
pub fn peek_keys(path: &Path, container: Container) -> Result<Vec<String>> {
    match container {
        Container::Csv => {
            let mut r = csv_reader(path)?;
            csv_header(path, &mut r)
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

/// Standard input, or a file that cannot be read twice (a pipe, a device).
fn is_stream(path: &Path) -> bool {
    path == Path::new(crate::output::STDIO)
        || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// A `.gz` input (read through a spool file, so its size on disk is not its size).
pub fn is_compressed(path: &Path) -> bool {
    is_gzip(path)
}

fn is_gzip(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Spool files of inputs read once: path → anonymous file with the bytes.
fn spools() -> &'static Mutex<HashMap<PathBuf, File>> {
    static SPOOLS: OnceLock<Mutex<HashMap<PathBuf, File>>> = OnceLock::new();
    SPOOLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The input files that event arguments name, in order: an argument that
/// is an existing path (or `-`, standard input) is itself; any other that
/// holds a glob pattern (`*`, `?`, `[...]` within a name; `**` for any
/// depth of folders) is every file it matches, so `"logs/*.ndjson"` reads
/// the files a shell would list, in the order it would list them (by the
/// bytes of their paths, as in the C locale), when no shell expanded it
/// (quoted, or past a shell's argument limit). As in a shell, a name
/// starting with `.` (hidden files, cartlift's own lock and temporary
/// files) is matched only by a pattern that starts with `.` too, and `**`
/// does not descend into symbolic links to folders; a file reached twice
/// (through a link) is read once. Each file is then read as a stream of its
/// own, never concatenated in memory.
///
/// Errors: a pattern that is malformed, matches no file, or names a folder
/// that cannot be listed, each naming the pattern.
pub fn expand_inputs(args: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let text = arg.to_string_lossy();
        if !has_pattern(arg.as_os_str()) || arg.exists() || text == crate::output::STDIO {
            out.push(arg.clone());
            continue;
        }
        let fail = |why: String| anyhow::anyhow!("input {text}: {why}");
        // The leading components without a pattern are the folder to list.
        let parts: Vec<&std::ffi::OsStr> = arg.iter().collect();
        let literal = parts.iter().take_while(|p| !has_pattern(p)).count();
        let base: std::path::PathBuf = parts[..literal].iter().collect();
        let mut rest = Vec::with_capacity(parts.len() - literal);
        for p in &parts[literal..] {
            let part = p
                .to_str()
                .ok_or_else(|| fail("the pattern is not UTF-8 text".into()))?;
            rest.push(if part == "**" {
                Part::AnyDepth
            } else {
                Part::Name(
                    glob::Pattern::new(part)
                        .map_err(|e| fail(format!("not a valid file pattern: {e}")))?,
                )
            });
        }
        let mut matched = Vec::new();
        walk_pattern(&base, &rest, &mut matched).map_err(|e| fail(format!("{e:#}")))?;
        {
            use std::os::unix::ffi::OsStrExt;
            matched.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
        }
        let mut seen = std::collections::HashSet::new();
        matched.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
        if matched.is_empty() {
            return Err(fail("no file matches this pattern".into()));
        }
        out.extend(matched);
    }
    Ok(out)
}

/// One component of a file pattern after its literal folder.
enum Part {
    Name(glob::Pattern),
    /// `**`: any number of folders, zero included.
    AnyDepth,
}

fn has_pattern(text: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    text.as_bytes()
        .iter()
        .any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// The files under `dir` that the pattern components `rest` match.
fn walk_pattern(dir: &Path, rest: &[Part], out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let Some((first, tail)) = rest.split_first() else {
        if dir.is_file() {
            out.push(dir.to_path_buf());
        }
        return Ok(());
    };
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(listed) {
        Ok(entries) => entries
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list {}", listed.display()))?,
        // A literal part that names no folder matches nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", listed.display())),
    };
    let visible = |e: &std::fs::DirEntry| {
        use std::os::unix::ffi::OsStrExt;
        e.file_name().as_bytes().first() != Some(&b'.')
    };
    match first {
        Part::AnyDepth => {
            walk_pattern(dir, tail, out)?;
            for e in &entries {
                // Real folders only: a link to a folder is not descended.
                if visible(e) && e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk_pattern(&dir.join(e.file_name()), rest, out)?;
                }
            }
        }
        Part::Name(pattern) => {
            let options = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: true,
            };
            for e in &entries {
                let name = e.file_name();
                // A name that is not UTF-8 is matched on its text with
                // replacement characters, and opened by its own bytes.
                if pattern.matches_with(&name.to_string_lossy(), options) {
                    walk_pattern(&dir.join(&name), tail, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Opens an input for reading from its start. Streams and gzip files are
/// read (and decompressed) once into a spool file; later opens rewind it.
pub fn open(path: &Path) -> Result<File> {
    if !is_stream(path) && !is_gzip(path) {
        return File::open(path).with_context(|| format!("cannot open {}", path.display()));
    }
    let mut spools = spools().lock().unwrap_or_else(|e| e.into_inner());
    if !spools.contains_key(path) {
        let mut spool = tempfile::tempfile().with_context(|| {
            format!(
                "cannot buffer {}: no temporary file in {}{}",
                path.display(),
                std::env::temp_dir().display(),
                super::spill::SCRATCH_HINT
            )
        })?;
        let source: Box<dyn Read> = if path == Path::new(crate::output::STDIO) {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
        };
        let copied = if is_gzip(path) {
            std::io::copy(&mut flate2::read::MultiGzDecoder::new(source), &mut spool)
        } else {
            std::io::copy(&mut std::io::BufReader::new(source), &mut spool)
        };
        copied.map_err(|e| {
            use std::io::ErrorKind as K;
            // A full disk is the spool's; anything else is the input's.
            let spool_full = matches!(
                e.kind(),
                K::StorageFull | K::QuotaExceeded | K::FileTooLarge
            );
            let why = if spool_full {
                format!(
                    "{}: cannot hold it in a temporary file in {}{}",
                    path.display(),
                    std::env::temp_dir().display(),
                    super::spill::SCRATCH_HINT
                )
            } else {
                format!("{}: read error", path.display())
            };
            anyhow::Error::new(e).context(why)
        })?;
        spools.insert(path.to_path_buf(), spool);
    }
    let mut file = spools[path]
        .try_clone()
        .with_context(|| format!("cannot read {}", path.display()))?;
    use std::io::Seek;
    file.rewind()
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(file)
}

/// The container of a stream from its first bytes.
fn sniff(path: &Path) -> Result<Container> {
    let mut head = [0u8; 64];
    let mut file = open(path)?;
    let n = file
        .read(&mut head)
        .with_context(|| format!("{}: read error", path.display()))?;
    let head = &head[..n];
    Ok(if head.starts_with(b"PAR1") {
        Container::Parquet
    } else if head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{' || b == b'[')
    {
        Container::Ndjson
    } else {
        Container::Csv
    })
}

fn csv_reader(path: &Path) -> Result<csv::Reader<LineLimit<File>>> {
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
        .from_reader(LineLimit::new(open(path)?)))
}

/// The header of a CSV file; a column named twice is an error (which of
/// the two would be read is anybody's guess).
fn csv_header(path: &Path, reader: &mut csv::Reader<LineLimit<File>>) -> Result<Vec<String>> {
    let header: Vec<String> = reader
        .byte_headers()
        .with_context(|| format!("{}: cannot read the header line", path.display()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    if reader.get_ref().cut.contains(&1) {
        bail!(
            "{}: line 1: the header line is longer than {MAX_LINE_BYTES} bytes; expected a line of column names",
            path.display()
        );
    }
    for (i, name) in header.iter().enumerate() {
        if let Some(j) = header[..i].iter().position(|h| h == name) {
            bail!(
                "{}: line 1: column `{name}` appears twice (columns {} and {}); expected each column once",
                path.display(),
                j + 1,
                i + 1
            );
        }
    }
    Ok(header)
}

/// A reader that cuts any line longer than [`MAX_LINE_BYTES`] short: the
/// rest of the line is skipped without being held, so the CSV reader sees
/// a short record, and `cut` lists the lines cut.
pub struct LineLimit<R> {
    inner: BufReader<R>,
    /// Bytes of the current line passed on so far.
    in_line: usize,
    line: u64,
    skipping: bool,
    cut: Vec<u64>,
}

impl<R: Read> LineLimit<R> {
    fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner: BufReader::with_capacity(1 << 16, inner),
            in_line: 0,
            line: 1,
            skipping: false,
            cut: Vec::new(),
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(0);
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            if self.skipping {
                match newline {
                    Some(p) => {
                        self.inner.consume(p);
                        self.skipping = false;
                    }
                    None => {
                        let n = buf.len();
                        self.inner.consume(n);
                    }
                }
                continue;
            }
            let room = MAX_LINE_BYTES - self.in_line;
            if room == 0 && newline != Some(0) {
                self.cut.push(self.line);
                self.skipping = true;
                continue;
            }
            let n = match newline {
                Some(p) if p <= room => (p + 1).min(out.len()),
                _ => room.min(buf.len()).min(out.len()),
            };
            out[..n].copy_from_slice(&buf[..n]);
            self.inner.consume(n);
            if newline.is_some_and(|p| p < n) {
                self.in_line = 0;
                self.line += 1;
            } else {
                self.in_line += n;
            }
            return Ok(n);
        }
    }
}

fn read_csv(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    let mut reader = csv_reader(path)?;
    let header = csv_header(path, &mut reader)?;
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
        let cut = reader.get_ref().cut.contains(&line);
        let fields = if cut {
            Err(Rejection::new(
                Reason::MalformedRow,
                None,
                format!("the line is longer than {MAX_LINE_BYTES} bytes; the rest was not read"),
            ))
        } else {
            csv_fields(&header, &record)
        };
        each(RawRow { line, raw, fields })?;
    }
}

fn read_csv_batches(path: &Path, each: &mut BatchFn) -> Result<()> {
    let mut reader = csv_reader(path)?;
    let header = csv_header(path, &mut reader)?;
    let mut batch: Vec<Unread> = Vec::with_capacity(BATCH_ROWS);
    // Each record sized as the last one was, so reading it rarely grows it.
    let mut room = 64usize;
    loop {
        let mut record = csv::ByteRecord::with_capacity(room, header.len());
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                // The rows read before the error are checked first, so
                // errors come in reading order.
                if !batch.is_empty() {
                    each(&header, std::mem::take(&mut batch))?;
                }
                return Err(e).with_context(|| format!("{}: read error", path.display()));
            }
        };
        if more {
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let cut = reader.get_ref().cut.contains(&line);
            room = record.as_slice().len().max(16);
            batch.push(Unread::Csv { line, record, cut });
        }
        if batch.len() >= BATCH_ROWS || (!more && !batch.is_empty()) {
            each(&header, std::mem::take(&mut batch))?;
        }
        if !more {
            return Ok(());
        }
    }
}

fn raw_csv(record: &csv::ByteRecord) -> String {
    // One writer per thread, reused: a fresh one per row costs a buffer
    // allocation per row. Flexible, so a record of another length than the
    // last is written as it is.
    thread_local! {
        static RAW: std::cell::RefCell<csv::Writer<Vec<u8>>> =
            std::cell::RefCell::new(raw_writer());
    }
    RAW.with(|w| {
        let mut w = w.borrow_mut();
        let start = w.get_ref().len();
        let _ = w.write_byte_record(record);
        let _ = w.flush();
        let text = String::from_utf8_lossy(&w.get_ref()[start..])
            .trim_end()
            .to_string();
        if w.get_ref().len() > 1 << 20 {
            *w = raw_writer();
        }
        text
    })
}

fn raw_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new())
}

fn csv_fields(
    header: &[String],
    record: &csv::ByteRecord,
) -> Result<Map<String, Value>, Rejection> {
    if record.len() != header.len() {
        return Err(field_count(record.len(), header.len()));
    }
    let mut map = Map::with_capacity(header.len());
    for (name, bytes) in header.iter().zip(record.iter()) {
        let text = std::str::from_utf8(bytes).map_err(|_| not_utf8(name))?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            Value::String(text.to_string())
        };
        map.insert(name.clone(), v);
    }
    Ok(map)
}

/// An object's entries and the first key it gave twice.
type KeysOnce = (Map<String, Value>, Option<String>);

/// An object's entries, each key's first value kept, with the first key
/// given twice (if any) so the caller can refuse the object.
fn object_keys_once<'de, A: serde::de::MapAccess<'de>>(
    access: &mut A,
) -> Result<KeysOnce, A::Error> {
    let mut map = Map::new();
    let mut twice = None;
    while let Some(key) = access.next_key::<String>()? {
        let value: Value = access.next_value()?;
        if map.contains_key(&key) {
            twice.get_or_insert(key);
        } else {
            map.insert(key, value);
        }
    }
    Ok((map, twice))
}

/// A JSON object whose keys are unique (a key given twice is an error,
/// not a silent choice of the last value).
struct UniqueObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UniqueObject, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueObject, A::Error> {
                match object_keys_once(&mut access)? {
                    (map, None) => Ok(UniqueObject(map)),
                    (_, Some(key)) => Err(serde::de::Error::custom(format!(
                        "key `{key}` appears twice in one object"
                    ))),
                }
            }
        }
        d.deserialize_map(Keys)
    }
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let unique_error = match serde_json::from_slice::<UniqueObject>(bytes) {
        Ok(UniqueObject(map)) => return Ok(map),
        Err(e) => e,
    };
    let detail = match serde_json::from_slice::<Value>(bytes) {
        // An object that parses, but not with unique keys.
        Ok(Value::Object(_)) => format!("invalid JSON object: {unique_error}"),
        Ok(other) => format!("a JSON {}; expected an object", kind_name(&other)),
        Err(e) => format!("invalid JSON: {e}"),
    };
    Err(Rejection::new(Reason::MalformedRow, None, detail))
}

/// A canonical column's value in a JSON line: a string (borrowed from the
/// line unless it holds escapes), or any other JSON value.
#[derive(Debug)]
pub enum JsonField<'a> {
    Text(std::borrow::Cow<'a, str>),
    Value(Value),
    /// A Parquet datetime, UTC microseconds ([`fields::Cell::Micros`](super::fields::Cell::Micros)).
    Micros(i64),
}

impl JsonField<'_> {
    /// The field as [`fields::Cell`](super::fields::Cell): a string reads
    /// as the JSON string it is.
    pub fn cell(&self) -> super::fields::Cell<'_> {
        match self {
            JsonField::Text(s) => super::fields::Cell::Text(s),
            JsonField::Value(v) => super::fields::Cell::Value(v),
            JsonField::Micros(m) => super::fields::Cell::Micros(*m),
        }
    }
}

impl<'de> serde::Deserialize<'de> for JsonField<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JsonField<'de>, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonField<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Text(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Text(std::borrow::Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(
                    Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_unit<E>(self) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(Value::Null))
            }
            fn visit_none<E>(self) -> Result<JsonField<'de>, E> {
                Ok(JsonField::Value(Value::Null))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<JsonField<'de>, A::Error> {
                <Value as serde::Deserialize>::deserialize(MapAccessDeserializer::new(map))
                    .map(JsonField::Value)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<JsonField<'de>, A::Error> {
                <Value as serde::Deserialize>::deserialize(SeqAccessDeserializer::new(seq))
                    .map(JsonField::Value)
            }
        }
        d.deserialize_any(V)
    }
}

/// The canonical columns' values of one JSON line, parsed without making
/// the whole object (keys and strings read where they lie); `None` when
/// the line is anything but one object with unique keys, and the caller
/// takes the general route ([`Unread::into_row`]), which words the
/// rejection. Every value is parsed as the general route parses it, so the
/// two accept the same lines with the same values.
pub fn canonical_json(bytes: &[u8]) -> Option<Vec<(&'static str, JsonField<'_>)>> {
    serde_json::from_slice::<CanonicalObject>(bytes)
        .ok()
        .map(|o| o.0)
}

struct CanonicalObject<'a>(Vec<(&'static str, JsonField<'a>)>);

impl<'de> serde::Deserialize<'de> for CanonicalObject<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CanonicalObject<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CanonicalObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<CanonicalObject<'de>, A::Error> {
                // JSON keys are strings: read as fields, borrowed from the
                // line unless they hold escapes.
                let mut seen: Vec<std::borrow::Cow<'de, str>> = Vec::with_capacity(16);
                let mut values = Vec::with_capacity(crate::schema::CANONICAL_COLUMNS.len());
                while let Some(key) = access.next_key::<JsonField<'de>>()? {
                    let JsonField::Text(key) = key else {
                        return Err(serde::de::Error::custom("a key that is not a string"));
                    };
                    let canonical = crate::schema::CANONICAL_COLUMNS.iter().find(|c| **c == key);
                    match canonical {
                        Some(&name) => values.push((name, access.next_value::<JsonField>()?)),
                        // Parsed all the same, as the general route does (a
                        // number out of range refuses the line there too).
                        None => drop(access.next_value::<Value>()?),
                    }
                    if seen.contains(&key) {
                        return Err(serde::de::Error::custom("a key given twice"));
                    }
                    seen.push(key);
                }
                Ok(CanonicalObject(values))
            }
        }
        d.deserialize_map(V)
    }
}

/// The JSON type of a value, for messages (`a JSON array; expected …`).
pub fn kind_name(v: &Value) -> &'static str {
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
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}: read error after line {line}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if n > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            // Skip the rest of the line without holding it.
            skip_line(&mut reader)
                .with_context(|| format!("{}: read error on line {line}", path.display()))?;
            let raw = String::from_utf8_lossy(&buf[..256.min(buf.len())]).to_string();
            each(RawRow {
                line,
                raw,
                fields: Err(Rejection::new(
                    Reason::MalformedRow,
                    None,
                    format!(
                        "the line is longer than {MAX_LINE_BYTES} bytes; the rest was not read"
                    ),
                )),
            })?;
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let raw = String::from_utf8_lossy(&buf).trim_end().to_string();
        let fields = json_object(&buf);
        each(RawRow { line, raw, fields })?;
    }
}

fn read_json_line_batches(path: &Path, each: &mut BatchFn) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, open(path)?);
    let first = {
        let buf = reader
            .fill_buf()
            .with_context(|| format!("{}: read error", path.display()))?;
        buf.iter().copied().find(|b| !b.is_ascii_whitespace())
    };
    if first == Some(b'[') {
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let read = read_json_array(path, reader, &mut |row| {
            batch.push(Unread::Row(row));
            if batch.len() >= BATCH_ROWS {
                each(&[], std::mem::take(&mut batch))?;
            }
            Ok(())
        });
        // The elements read before an error in the array are checked
        // first, so errors come in reading order.
        if !batch.is_empty() {
            each(&[], batch)?;
        }
        return read;
    }
    // A batch's lines are read into one buffer, each line a range of it.
    enum Read {
        Line(u64, usize, usize),
        Row(RawRow),
    }
    let flush = |buf: &mut Vec<u8>, read: &mut Vec<Read>, each: &mut BatchFn| -> Result<()> {
        let room = buf.capacity().min(2 * BATCH_BYTES);
        let batch = std::sync::Arc::new(std::mem::replace(buf, Vec::with_capacity(room)));
        let rows = read
            .drain(..)
            .map(|r| match r {
                Read::Line(line, start, end) => Unread::Json {
                    line,
                    bytes: LineBytes {
                        batch: batch.clone(),
                        start,
                        end,
                    },
                },
                Read::Row(row) => Unread::Row(row),
            })
            .collect();
        each(&[], rows)
    };
    let mut read: Vec<Read> = Vec::with_capacity(BATCH_ROWS);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut line = 0u64;
    loop {
        let start = buf.len();
        let n = match (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(e) => {
                // The lines read before the error are checked first.
                buf.truncate(start);
                if !read.is_empty() {
                    flush(&mut buf, &mut read, each)?;
                }
                return Err(e)
                    .with_context(|| format!("{}: read error after line {line}", path.display()));
            }
        };
        let more = n > 0;
        if more {
            line += 1;
            let bytes = &buf[start..];
            if n > MAX_LINE_BYTES && bytes.last() != Some(&b'\n') {
                // Skip the rest of the line without holding it.
                skip_line(&mut reader)
                    .with_context(|| format!("{}: read error on line {line}", path.display()))?;
                let raw = String::from_utf8_lossy(&bytes[..256.min(bytes.len())]).to_string();
                buf.truncate(start);
                read.push(Read::Row(RawRow {
                    line,
                    raw,
                    fields: Err(cut_line()),
                }));
            } else if bytes.iter().all(u8::is_ascii_whitespace) {
                buf.truncate(start);
            } else {
                read.push(Read::Line(line, start, buf.len()));
            }
        }
        if read.len() >= BATCH_ROWS || buf.len() >= BATCH_BYTES || (!more && !read.is_empty()) {
            flush(&mut buf, &mut read, each)?;
        }
        if !more {
            return Ok(());
        }
    }
}

fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(p) => {
                reader.consume(p + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// The first JSON value of a stream, or the first element when that value
/// is an array (read no further than that element, so sniffing a large
/// array costs one element). `None` when the stream does not start with
/// valid JSON.
pub fn first_json_value<R: std::io::Read>(reader: R) -> Option<Value> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct First(Option<Value>);
    impl<'de> Visitor<'de> for &mut First {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            self.0 = seq.next_element::<Value>()?;
            // Stop here: the rest of the array is not read.
            Err(serde::de::Error::custom("first element read"))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
            let v =
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            self.0 = Some(v);
            Ok(())
        }
    }
    let mut first = First(None);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let _ = (&mut de).deserialize_any(&mut first);
    first.0
}

/// One element of a JSON array of events: an object (with the first key
/// it gives twice, if any: such an object is quarantined, as on an NDJSON
/// line) or any other value.
enum Element {
    Object(Map<String, Value>, Option<String>),
    Other(Value),
}

impl<'de> serde::Deserialize<'de> for Element {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Element, D::Error> {
        use serde::de::value::SeqAccessDeserializer;
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Element, A::Error> {
                let (map, twice) = object_keys_once(&mut access)?;
                Ok(Element::Object(map, twice))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Element, A::Error> {
                <Value as serde::Deserialize>::deserialize(SeqAccessDeserializer::new(seq))
                    .map(Element::Other)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Element, E> {
                Ok(Element::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Element, E> {
                Ok(Element::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Element, E> {
                Ok(Element::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Element, E> {
                Ok(Element::Other(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Element, E> {
                Ok(Element::Other(Value::String(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Element, E> {
                Ok(Element::Other(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// A file that is one JSON array of events, read element by element (the
/// array is never held whole: memory stays at one element).
fn read_json_array(
    path: &Path,
    reader: BufReader<File>,
    each: &mut dyn FnMut(RawRow) -> Result<()>,
) -> Result<()> {
    use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

    /// Visits the array's elements in order, handing each to `each`; the
    /// first error `each` returns stops the walk and is kept in `failed`.
    struct Elements<'a> {
        each: &'a mut dyn FnMut(RawRow) -> Result<()>,
        failed: Option<anyhow::Error>,
    }
    impl<'de> Visitor<'de> for &mut Elements<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of events")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut line = 0u64;
            while let Some(item) = seq.next_element::<Element>()? {
                line += 1;
                let (raw, fields) = match item {
                    Element::Object(map, twice) => {
                        let raw = Value::Object(map.clone()).to_string();
                        match twice {
                            None => (raw, Ok(map)),
                            Some(key) => (
                                raw,
                                Err(Rejection::new(
                                    Reason::MalformedRow,
                                    None,
                                    format!(
                                        "invalid JSON object: key `{key}` appears twice in one object"
                                    ),
                                )),
                            ),
                        }
                    }
                    Element::Other(other) => (
                        other.to_string(),
                        Err(Rejection::new(
                            Reason::MalformedRow,
                            None,
                            format!("a JSON {}; expected an object", kind_name(&other)),
                        )),
                    ),
                };
                if let Err(e) = (self.each)(RawRow { line, raw, fields }) {
                    self.failed = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for &mut Elements<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    let mut elements = Elements { each, failed: None };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let walked = (&mut elements).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = elements.failed {
        return Err(e);
    }
    walked.with_context(|| {
        format!(
            "{}: not a valid JSON array of events; expected `[{{...}}, ...]` or one object per line",
            path.display()
        )
    })
}

/// Refuses a Parquet file with a column of a type the reader cannot turn
/// into values (decimals: this build of Polars reads them only by
/// panicking), naming the file and the column.
pub fn check_parquet_types(path: &Path, schema: &ArrowSchema) -> Result<()> {
    for (name, field) in schema.iter() {
        if matches!(
            field.dtype(),
            ArrowDataType::Decimal(..)
                | ArrowDataType::Decimal32(..)
                | ArrowDataType::Decimal64(..)
                | ArrowDataType::Decimal256(..)
        ) {
            bail!(
                "{}: column `{name}` holds decimals, which cartlift does not read; expected floating-point numbers or text (cast the column, e.g. to DOUBLE)",
                path.display()
            );
        }
    }
    Ok(())
}

/// The canonical columns a canonical Parquet file holds in a type no row
/// could be read from are refused by name before any row is read: a text
/// column holding lists, structs or maps (their printed form is not an
/// identifier), or `ts` holding dates without a time of day.
pub fn check_canonical_parquet(path: &Path) -> Result<()> {
    use crate::schema as col;
    let unreadable =
        |e: PolarsError| anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display());
    let mut reader = ParquetReader::new(open(path)?);
    let schema = reader.schema().map_err(unreadable)?;
    for (name, field) in schema.iter() {
        let nested = matches!(
            field.dtype(),
            ArrowDataType::List(..)
                | ArrowDataType::LargeList(..)
                | ArrowDataType::FixedSizeList(..)
                | ArrowDataType::Struct(..)
                | ArrowDataType::Map(..)
                | ArrowDataType::Union(..)
        );
        let text = col::CANONICAL_COLUMNS.contains(&name.as_str())
            && ![col::TS, col::VALUE, col::DISCOUNT, col::FLOW_STEP].contains(&name.as_str());
        if nested && text {
            bail!(
                "{}: column `{name}` holds lists or structs; expected text (one value per row)",
                path.display()
            );
        }
        if name.as_str() == col::TS
            && matches!(field.dtype(), ArrowDataType::Date32 | ArrowDataType::Date64)
        {
            bail!(
                "{}: column `ts` holds dates without a time of day; expected timestamps (a Parquet timestamp, RFC 3339 text with a UTC offset, or epoch numbers)",
                path.display()
            );
        }
    }
    Ok(())
}

/// A Parquet file's rows, one row group in memory at a time (the file's
/// own row groups; "line" is the row's 1-based number in the file).
fn read_parquet(path: &Path, each: &mut dyn FnMut(RawRow) -> Result<()>) -> Result<()> {
    read_parquet_groups(path, &mut |offset, group| {
        for i in 0..group.height {
            each(group.row((offset + i) as u64 + 1, i))?;
        }
        Ok(())
    })
}

/// Calls `each` with every row group of the file (its first row's 0-based
/// offset and its columns), in order.
fn read_parquet_groups(
    path: &Path,
    each: &mut dyn FnMut(usize, ParquetGroup) -> Result<()>,
) -> Result<()> {
    let unreadable =
        |e: PolarsError| anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display());
    let mut reader = ParquetReader::new(open(path)?);
    check_parquet_types(path, &*reader.schema().map_err(unreadable)?)?;
    let groups: Vec<usize> = reader
        .get_metadata()
        .map_err(unreadable)?
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    let mut offset = 0usize;
    for rows in groups {
        let df = ParquetReader::new(open(path)?)
            .with_slice(Some((offset, rows)))
            .finish()
            .map_err(unreadable)?;
        let mut not_utf8 = Vec::new();
        let columns: Vec<(String, Series)> = df
            .columns()
            .iter()
            .map(|c| {
                // Text stored as categories or as bytes is read as text;
                // bytes that are not UTF-8 make their row unreadable (as in
                // CSV), shown with replacement characters in the raw text.
                let s = c.as_materialized_series();
                let s = match s.dtype() {
                    DataType::Categorical(..) | DataType::Enum(..) => s.cast(&DataType::String),
                    DataType::Binary => {
                        let bytes = s.binary()?;
                        let bad: Vec<bool> = bytes
                            .iter()
                            .map(|b| b.is_some_and(|b| std::str::from_utf8(b).is_err()))
                            .collect();
                        if bad.iter().any(|&b| b) {
                            not_utf8.push((c.name().to_string(), bad));
                        }
                        Ok(bytes
                            .iter()
                            .map(|b| b.map(String::from_utf8_lossy))
                            .collect::<StringChunked>()
                            .with_name(s.name().clone())
                            .into_series())
                    }
                    _ => Ok(s.clone()),
                };
                Ok((c.name().to_string(), s?.rechunk()))
            })
            .collect::<Result<_>>()?;
        let height = df.height();
        let canonical_at = crate::schema::CANONICAL_COLUMNS
            .iter()
            .filter_map(|&c| Some((c, columns.iter().position(|(name, _)| name == c)?)))
            .collect();
        each(
            offset,
            ParquetGroup {
                columns,
                height,
                not_utf8,
                canonical_at,
            },
        )?;
        offset += rows;
    }
    Ok(())
}

/// A datetime value in UTC microseconds (nanoseconds truncated).
fn micros_of(x: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Nanoseconds => x / 1000,
        TimeUnit::Microseconds => x,
        TimeUnit::Milliseconds => x.saturating_mul(1000),
    }
}

fn float_to_json(x: f64) -> Value {
    Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
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
        // NaN and ±inf stay visible (as text) so the mappers reject them as
        // `bad_number`, exactly like the same values in a CSV file.
        // A 32-bit float is read as the decimal it prints as (198.61, not
        // 198.61000061035156), as the same value in a CSV file would be.
        AnyValue::Float32(x) => float_to_json(x.to_string().parse().unwrap_or(x as f64)),
        AnyValue::Float64(x) => float_to_json(x),
        AnyValue::Datetime(x, unit, _) | AnyValue::DatetimeOwned(x, unit, _) => {
            Value::String(super::fields::format_timestamp(micros_of(x, unit)))
        }
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's line and its fields, or the reason it was quarantined.
    type Rows = Vec<(u64, Result<Map<String, Value>, String>)>;

    #[test]
    fn parquet_rows_are_read_a_row_group_at_a_time_and_numbered_across_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let n = 2_500usize;
        let mut df = df!(
            "customer_id" => (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| i as f64).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .with_row_group_size(Some(500))
            .finish(&mut df)
            .unwrap();
        let groups = ParquetReader::new(File::open(&path).unwrap())
            .get_metadata()
            .unwrap()
            .row_groups
            .len();
        assert!(groups >= 2, "{groups} row groups");
        let mut rows = Vec::new();
        read_rows(&path, Container::Parquet, &mut |r| {
            rows.push((r.line, r.fields.unwrap()));
            Ok(())
        })
        .unwrap();
        assert_eq!(rows.len(), n);
        for (i, (line, fields)) in rows.iter().enumerate() {
            assert_eq!(*line, i as u64 + 1);
            assert_eq!(fields["customer_id"], Value::String(format!("c{i}")));
            assert_eq!(fields["value"].as_f64(), Some(i as f64));
        }
    }

    fn array_rows(text: &str) -> Result<Rows> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.json");
        std::fs::write(&path, text).unwrap();
        let mut rows = Vec::new();
        read_rows(&path, Container::Ndjson, &mut |r| {
            rows.push((r.line, r.fields.map_err(|e| e.detail.clone())));
            Ok(())
        })?;
        Ok(rows)
    }

    #[test]
    fn a_json_array_is_read_element_by_element_with_the_ndjson_rules() {
        let rows =
            array_rows(r#" [ {"a": 1}, 7, {"b": 2, "b": 3}, {"c": [1, {"d": null}]} ] "#).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].0, 1);
        assert_eq!(rows[0].1.as_ref().unwrap()["a"], 1);
        assert!(rows[1].1.as_ref().unwrap_err().contains("a JSON number"));
        assert!(rows[2]
            .1
            .as_ref()
            .unwrap_err()
            .contains("`b` appears twice"));
        assert_eq!(rows[3].0, 4);
        assert!(rows[3].1.is_ok());
        let e = array_rows(r#"[{"a": 1}, {"a": "#).unwrap_err();
        assert!(format!("{e:#}").contains("events.json"), "{e:#}");
        let e = array_rows(r#"[{"a": 1}] trailing"#).unwrap_err();
        assert!(format!("{e:#}").contains("not a valid JSON array"), "{e:#}");
    }

    #[test]
    fn sniffing_reads_only_the_first_element() {
        let first = first_json_value(&br#"[{"type": "event"}, oops"#[..]).unwrap();
        assert_eq!(first["type"], "event");
        assert_eq!(
            first_json_value(&br#"{"data": []} {"#[..]).unwrap()["data"],
            Value::Array(vec![])
        );
        assert!(first_json_value(&b"nope"[..]).is_none());
    }
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    #[test]
    fn raw_text_of_a_row_is_the_row_written_alone() {
        let alone = |r: &csv::ByteRecord| {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            let _ = w.write_byte_record(r);
            String::from_utf8_lossy(&w.into_inner().unwrap())
                .trim_end()
                .to_string()
        };
        let rows: Vec<Vec<&[u8]>> = vec![
            vec![b"a", b"b,c", b"say \"hi\""],
            vec![b""],
            vec![],
            vec![b"x", b"", b"multi\nline", b"\xff\xfe"],
            vec![b" padded ", b"=1+2"],
        ];
        for _ in 0..2 {
            for fields in &rows {
                let r = csv::ByteRecord::from(fields.clone());
                assert_eq!(raw_csv(&r), alone(&r), "{fields:?}");
            }
        }
    }
}
