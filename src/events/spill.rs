//! External sorting for ingestion and the simulator: items are kept in
//! memory up to a fixed number (or until the caller ends a run), then
//! sorted and written as a run to an anonymous temporary file (bincode's
//! compact encoding, removed by the OS when closed, even if the run dies),
//! and the runs are merged back k ways, so memory does not grow with the
//! log. Also the Bloom filter ingestion uses to tell rows that cannot be
//! exact repeats from those that may be.
//!
//! External merge sort: Knuth, *The Art of Computer Programming* vol. 3,
//! §5.4 (runs, k-way merge with a priority queue). Bloom filter: Bloom,
//! "Space/time trade-offs in hash coding with allowable errors", CACM 13(7),
//! 1970, probed with double hashing (Kirsch & Mitzenmacher, "Less hashing,
//! same performance", ESA 2006).

use anyhow::{Context, Result};
use bincode::{Decode, Encode};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};

/// Items held in memory per run when nothing else is asked: about 100 MB
/// of events.
pub const DEFAULT_CHUNK: usize = 1 << 18;

/// The environment variable that sets the run size (items per run) of a
/// run; for tests of the boundaries and for machines with little memory.
pub const CHUNK_ENV: &str = "CARTLIFT_INGEST_CHUNK";

/// Runs on disk at most; past it they are merged into one.
const MAX_RUNS: usize = 200;

/// The run size: `asked`, else [`CHUNK_ENV`], else [`DEFAULT_CHUNK`]; at least 1.
pub fn chunk_size(asked: Option<usize>) -> usize {
    asked
        .or_else(|| std::env::var(CHUNK_ENV).ok()?.trim().parse().ok())
        .unwrap_or(DEFAULT_CHUNK)
        .max(1)
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Where sorted runs go (named in errors: the files have no name).
fn run_dir() -> String {
    std::env::temp_dir().display().to_string()
}

/// Said after an error writing a temporary file: where else to put them.
pub const SCRATCH_HINT: &str = " (set TMPDIR to a folder with more room)";

/// An anonymous temporary file for one sorted run.
fn run_file() -> Result<File> {
    tempfile::tempfile().with_context(|| {
        format!(
            "no temporary file for sorted runs in {}{SCRATCH_HINT}",
            run_dir()
        )
    })
}

/// One sorted run being written to its temporary file.
struct RunWriter {
    w: BufWriter<File>,
}

impl RunWriter {
    fn new() -> Result<RunWriter> {
        Ok(RunWriter {
            w: BufWriter::with_capacity(1 << 16, run_file()?),
        })
    }

    fn put<T: Encode>(&mut self, item: &T) -> Result<()> {
        bincode::encode_into_std_write(item, &mut self.w, config())
            .map_err(|e| match e {
                // The system's words (a full disk, say), not the encoder's.
                bincode::error::EncodeError::Io { inner, .. } => anyhow::Error::new(inner),
                other => anyhow::anyhow!("{other}"),
            })
            .with_context(|| {
                format!(
                    "cannot write a sorted run to a temporary file in {}{SCRATCH_HINT}",
                    run_dir()
                )
            })?;
        Ok(())
    }

    /// The run's file, flushed and rewound for reading.
    fn finish(self) -> Result<File> {
        let mut file = self
            .w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write a sorted run in {}{SCRATCH_HINT}", run_dir()))?;
        file.rewind()
            .with_context(|| format!("cannot read a sorted run back from {}", run_dir()))?;
        Ok(file)
    }
}

/// Items sorted by `order` in runs of at most `chunk` items.
pub struct Runs<T> {
    order: fn(&T, &T) -> Ordering,
    chunk: usize,
    buf: Vec<T>,
    files: Vec<(File, u64)>,
    len: u64,
    /// The run being sorted and written on its own thread while the next
    /// one fills (at most one: memory holds two runs at most).
    writing: Option<std::thread::JoinHandle<Result<WrittenRun<T>>>>,
    /// The buffer of the last run written, emptied, for the next run: its
    /// memory is reused rather than freed and faulted in again.
    spare: Option<Vec<T>>,
}

/// The room a run's buffer is given up front: the run size, at most
/// [`DEFAULT_CHUNK`] (the simulator's runs are cut by the caller).
fn run_capacity(chunk: usize) -> usize {
    chunk.clamp(1, DEFAULT_CHUNK)
}

/// A run on disk, its item count, and its emptied buffer.
type WrittenRun<T> = (File, u64, Vec<T>);

impl<T: Encode + Decode<()> + Send + Sync + 'static> Runs<T> {
    pub fn new(chunk: usize, order: fn(&T, &T) -> Ordering) -> Runs<T> {
        Runs {
            order,
            chunk: chunk.max(1),
            buf: Vec::with_capacity(run_capacity(chunk)),
            files: Vec::new(),
            len: 0,
            writing: None,
            spare: None,
        }
    }

    /// Items pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, item: T) -> Result<()> {
        self.buf.push(item);
        self.len += 1;
        if self.buf.len() >= self.chunk {
            self.spill()?;
        }
        Ok(())
    }

    /// Ends the current run: the items pushed since the last run are
    /// sorted and spilled now, whatever their number (none: no run).
    pub fn cut(&mut self) -> Result<()> {
        self.spill()
    }

    fn sort_buf(&mut self) {
        use rayon::slice::ParallelSliceMut;
        let order = self.order;
        // Stable: items equal under `order` keep the order they came in.
        self.buf.par_sort_by(order);
    }

    fn spill(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.finish_writing()?;
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(run_capacity(self.chunk)));
        let buf = std::mem::replace(&mut self.buf, next);
        let order = self.order;
        self.writing = Some(std::thread::spawn(move || write_run(buf, order)));
        if self.files.len() + 1 >= MAX_RUNS {
            self.finish_writing()?;
            self.compact()?;
        }
        Ok(())
    }

    /// Waits for the run being written and files it after the earlier ones.
    fn finish_writing(&mut self) -> Result<()> {
        if let Some(handle) = self.writing.take() {
            let (file, n, spare) = handle
                .join()
                .map_err(|_| anyhow::anyhow!("the thread writing a sorted run panicked"))??;
            self.files.push((file, n));
            // A buffer grown past twice the run size (the simulator's runs
            // are cut by the caller) is not kept.
            if spare.capacity() <= run_capacity(self.chunk).saturating_mul(2) {
                self.spare = Some(spare);
            }
        }
        Ok(())
    }

    /// Merges every run on disk into one (so few files are open at once,
    /// whatever the run size); equal items keep their push order.
    fn compact(&mut self) -> Result<()> {
        self.finish_writing()?;
        let files = std::mem::take(&mut self.files);
        let total: u64 = files.iter().map(|(_, n)| n).sum();
        let mut merge = Merge::over(self.order, files, Vec::new())?;
        let mut w = RunWriter::new()?;
        while let Some(item) = merge.next_item()? {
            w.put(&item)?;
        }
        self.files.push((w.finish()?, total));
        Ok(())
    }

    /// Every item in `order` (items equal under it in the order pushed).
    pub fn merge(mut self) -> Result<Merge<T>> {
        self.finish_writing()?;
        // The items still in memory are the last pushed: as the last
        // source, they lose ties to every run, as push order says.
        self.sort_buf();
        Merge::over(self.order, self.files, self.buf)
    }
}

/// Sorts `buf` by `order` (stable: equal items keep the order they came
/// in) and writes it as one run; the run's file, its item count and the
/// emptied buffer.
fn write_run<T: Encode + Send + Sync>(
    mut buf: Vec<T>,
    order: fn(&T, &T) -> Ordering,
) -> Result<WrittenRun<T>> {
    // The items stay where they are; a permutation of 4-byte indices is
    // sorted instead (an event is a few hundred bytes to move).
    let mut at: Vec<u32> = (0..buf.len() as u32).collect();
    {
        use rayon::slice::ParallelSliceMut;
        at.par_sort_by(|&a, &b| order(&buf[a as usize], &buf[b as usize]));
    }
    let mut w = RunWriter::new()?;
    for &i in &at {
        w.put(&buf[i as usize])?;
    }
    let n = buf.len() as u64;
    buf.clear();
    Ok((w.finish()?, n, buf))
}

impl<T: Decode<()>> Merge<T> {
    fn over(
        order: fn(&T, &T) -> Ordering,
        files: Vec<(File, u64)>,
        memory: Vec<T>,
    ) -> Result<Merge<T>> {
        let mut sources: Vec<Source<T>> = Vec::with_capacity(files.len() + 1);
        for (file, n) in files {
            sources.push(Source::Run {
                reader: BufReader::with_capacity(1 << 16, file),
                left: n,
            });
        }
        if !memory.is_empty() {
            sources.push(Source::Memory(memory.into_iter()));
        }
        let mut m = Merge {
            order,
            sources,
            heap: BinaryHeap::new(),
        };
        for i in 0..m.sources.len() {
            m.refill(i)?;
        }
        Ok(m)
    }
}

enum Source<T> {
    Run { reader: BufReader<File>, left: u64 },
    Memory(std::vec::IntoIter<T>),
}

/// A run's next item; boxed, so the heap moves a pointer rather than the
/// item (an event is a few hundred bytes) at each of its log k steps.
struct Head<T> {
    item: Box<T>,
    source: usize,
    order: fn(&T, &T) -> Ordering,
}

impl<T> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Head<T> {}
impl<T> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Head<T> {
    // Reversed: `BinaryHeap` pops the greatest, the merge wants the least;
    // equal items come from the earlier run first.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.order)(&other.item, &self.item).then(other.source.cmp(&self.source))
    }
}

/// The k-way merge of [`Runs`].
pub struct Merge<T> {
    order: fn(&T, &T) -> Ordering,
    sources: Vec<Source<T>>,
    heap: BinaryHeap<Head<T>>,
}

impl<T: Decode<()>> Merge<T> {
    fn refill(&mut self, i: usize) -> Result<()> {
        let next = match &mut self.sources[i] {
            Source::Run { reader, left } => {
                if *left == 0 {
                    None
                } else {
                    *left -= 1;
                    Some(
                        bincode::decode_from_std_read(reader, config()).with_context(|| {
                            format!("cannot read a sorted run back from {}", run_dir())
                        })?,
                    )
                }
            }
            Source::Memory(it) => it.next(),
        };
        if let Some(item) = next {
            self.heap.push(Head {
                item: Box::new(item),
                source: i,
                order: self.order,
            });
        }
        Ok(())
    }

    /// The next item, or `None` when every run is done.
    pub fn next_item(&mut self) -> Result<Option<T>> {
        let Some(head) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(head.source)?;
        Ok(Some(*head.item))
    }

    /// The next item without taking it.
    pub fn peek(&self) -> Option<&T> {
        self.heap.peek().map(|h| &*h.item)
    }
}

/// A Bloom filter over 128-bit fingerprints (already uniform hashes), of a
/// fixed size: it answers "certainly not seen" or "maybe seen".
pub struct Bloom {
    bits: Vec<u64>,
    mask: u64,
    probes: u32,
}

impl Bloom {
    /// A filter of `bytes` (rounded down to a power of two, at least 64)
    /// probed `probes` times per fingerprint.
    pub fn new(bytes: usize, probes: u32) -> Bloom {
        // The largest power of two of words that fits.
        let words = ((bytes / 8).max(8) + 1).next_power_of_two() / 2;
        Bloom {
            bits: vec![0; words],
            mask: (words as u64 * 64) - 1,
            probes,
        }
    }

    /// The `i`-th probe position of a fingerprint (double hashing).
    #[inline]
    fn position(&self, print: u128, i: u64) -> (usize, u64) {
        let h1 = print as u64;
        let h2 = ((print >> 64) as u64) | 1;
        let p = h1.wrapping_add(i.wrapping_mul(h2)) & self.mask;
        ((p >> 6) as usize, 1 << (p & 63))
    }

    pub fn insert(&mut self, print: u128) {
        for i in 0..self.probes as u64 {
            let (word, bit) = self.position(print, i);
            self.bits[word] |= bit;
        }
    }

    pub fn maybe_contains(&self, print: u128) -> bool {
        (0..self.probes as u64).all(|i| {
            let (word, bit) = self.position(print, i);
            self.bits[word] & bit != 0
        })
    }
}

/// A sequential temporary file of fixed-size records (fingerprint,
/// sequence number), scanned once at the end.
pub struct Prints {
    w: BufWriter<File>,
    n: u64,
}

impl Prints {
    pub fn new() -> Result<Prints> {
        let file = tempfile::tempfile().with_context(|| {
            format!(
                "no temporary file for event fingerprints in {}{SCRATCH_HINT}",
                run_dir()
            )
        })?;
        Ok(Prints {
            w: BufWriter::with_capacity(1 << 16, file),
            n: 0,
        })
    }

    pub fn push(&mut self, print: u128, seq: u64) -> Result<()> {
        self.w
            .write_all(&print.to_le_bytes())
            .and_then(|_| self.w.write_all(&seq.to_le_bytes()))
            .with_context(|| {
                format!(
                    "cannot write event fingerprints to a temporary file in {}{SCRATCH_HINT}",
                    run_dir()
                )
            })?;
        self.n += 1;
        Ok(())
    }

    /// Calls `each` with every record, in the order pushed.
    pub fn scan(self, mut each: impl FnMut(u128, u64)) -> Result<()> {
        use std::io::Read;
        let mut file = self
            .w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| {
                format!(
                    "cannot write event fingerprints to a temporary file in {}{SCRATCH_HINT}",
                    run_dir()
                )
            })?;
        file.rewind()
            .context("cannot read event fingerprints back")?;
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut rec = [0u8; 24];
        for _ in 0..self.n {
            r.read_exact(&mut rec)
                .context("cannot read event fingerprints back")?;
            let print = u128::from_le_bytes(rec[..16].try_into().expect("16 bytes"));
            let seq = u64::from_le_bytes(rec[16..].try_into().expect("8 bytes"));
            each(print, seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_in_order_and_keep_push_order_of_equals() {
        for chunk in [1, 2, 3, 7, 100] {
            let mut runs: Runs<(u32, u32)> = Runs::new(chunk, |a, b| a.0.cmp(&b.0));
            let items: Vec<(u32, u32)> = (0..700u32).map(|i| ((i * 37) % 11, i)).collect();
            for &it in &items {
                runs.push(it).unwrap();
            }
            let mut m = runs.merge().unwrap();
            let mut out = Vec::new();
            while let Some(x) = m.next_item().unwrap() {
                out.push(x);
            }
            let mut expected = items.clone();
            expected.sort_by_key(|x| x.0);
            assert_eq!(out, expected, "chunk {chunk}");
        }
    }

    #[test]
    fn bloom_has_no_false_negatives() {
        let mut b = Bloom::new(1 << 12, 6);
        let prints: Vec<u128> = (0..2000u128)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .collect();
        for &p in &prints {
            b.insert(p);
        }
        assert!(prints.iter().all(|&p| b.maybe_contains(p)));
        let misses = (5000..7000u128)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .filter(|&p| b.maybe_contains(p))
            .count();
        assert!(misses < 2000, "a filter that says yes to everything");
    }
}
