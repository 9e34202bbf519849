//! Attribution: journeys in, credit per channel (or flow step) out.
//!
//! Every model implements [`AttributionModel`] over the same [`PathSet`], so
//! models can be shown side by side and adding a model is adding a file.
//! Models are pure functions of the path table: no I/O happens here except in
//! [`path_table`], which reads the CSV format common to attribution tools.
//!
//! Invariants every model keeps (and the tests check):
//! - credit is never negative and never NaN;
//! - per model, credited conversions sum to the creditable conversions of the
//!   path set and credited value to its creditable value (see
//!   [`PathSet::total_conversions`]);
//! - degenerate input (no conversions, empty or malformed paths, a single
//!   channel) gets a defined answer plus a note saying what happened.

mod first;
pub mod holdout;
pub mod journeys;
mod last;
mod linear;
mod markov;
pub mod path_table;
mod position;
mod shapley;
mod time_decay;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use first::FirstTouch;
pub use last::LastTouch;
pub use linear::Linear;
pub use markov::{Markov, Solver, MAX_ORDER};
pub use path_table::{credit_to_json, read_path_table, PathTableError, PathTableOptions};
pub use position::PositionBased;
pub use shapley::Shapley;
pub use time_decay::TimeDecay;

/// Index of a channel (or flow step) in [`PathSet::channels`].
pub type ChannelId = u32;

/// One row of an aggregated path table: how many journeys took this exact
/// sequence of touches, and how they ended.
///
/// A single journey is a row with `conversions` 0 or 1 and `nulls` 1 or 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Path {
    /// Channels touched, in order, repeats included.
    pub touches: Vec<ChannelId>,
    /// Seconds between each touch and the conversion (or the end of the
    /// journey); only time decay reads them.
    pub touch_ages: Option<Vec<f64>>,
    /// Journeys on this path that converted.
    pub conversions: f64,
    /// Conversion value (revenue) of those journeys.
    pub value: f64,
    /// Journeys on this path that did not convert.
    pub nulls: f64,
}

impl Path {
    /// A path row without touch ages.
    pub fn new(touches: Vec<ChannelId>, conversions: f64, value: f64, nulls: f64) -> Self {
        Path {
            touches,
            touch_ages: None,
            conversions,
            value,
            nulls,
        }
    }
}

/// Journeys over a fixed channel vocabulary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathSet {
    /// Channel names; a touch `t` names `channels[t]`.
    pub channels: Vec<String>,
    /// Path rows, aggregated or one per journey: every model accepts both.
    pub paths: Vec<Path>,
}

impl PathSet {
    /// Builds a path set from channel names, interning them in order of
    /// first appearance; convenient for tests and small callers.
    pub fn from_named<S: AsRef<str>>(rows: &[(&[S], f64, f64, f64)]) -> Self {
        let mut interner = ChannelInterner::default();
        let paths = rows
            .iter()
            .map(|(names, conversions, value, nulls)| {
                let touches = names.iter().map(|n| interner.intern(n.as_ref())).collect();
                Path::new(touches, *conversions, *value, *nulls)
            })
            .collect();
        PathSet {
            channels: interner.into_names(),
            paths,
        }
    }

    /// Conversions that a model can credit: those on usable paths (see
    /// [`usable_paths`]). Every model's credited conversions sum to this.
    pub fn total_conversions(&self) -> f64 {
        self.usable().map(|p| p.conversions).sum()
    }

    /// Conversion value that a model can credit, like
    /// [`PathSet::total_conversions`].
    pub fn total_value(&self) -> f64 {
        self.usable().map(|p| p.value).sum()
    }

    /// Merges rows with the same touches (and no touch ages), keeping the
    /// order of first appearance. Every model is linear in the rows, so this
    /// changes no result and makes repeated journeys cost nothing.
    pub fn aggregated(&self) -> PathSet {
        let mut index: FastMap<&[ChannelId], usize> = FastMap::default();
        let mut paths: Vec<Path> = Vec::new();
        for path in &self.paths {
            if path.touch_ages.is_some() {
                paths.push(path.clone());
                continue;
            }
            match index.get(path.touches.as_slice()) {
                Some(&i) => add_outcomes(&mut paths[i], path),
                None => {
                    index.insert(&path.touches, paths.len());
                    paths.push(path.clone());
                }
            }
        }
        PathSet {
            channels: self.channels.clone(),
            paths,
        }
    }

    fn usable(&self) -> impl Iterator<Item = &Path> {
        let n = self.channels.len();
        self.paths.iter().filter(move |p| is_usable(p, n))
    }
}

fn add_outcomes(into: &mut Path, from: &Path) {
    into.conversions += from.conversions;
    into.value += from.value;
    into.nulls += from.nulls;
}

/// Interns channel names to dense ids in order of first appearance.
#[derive(Debug, Default)]
pub struct ChannelInterner {
    ids: FastMap<String, ChannelId>,
    names: Vec<String>,
}

impl ChannelInterner {
    /// Id of `name`, assigning the next free id on first sight.
    pub fn intern(&mut self, name: &str) -> ChannelId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as ChannelId;
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    /// Names indexed by id.
    pub fn into_names(self) -> Vec<String> {
        self.names
    }
}

/// Fx multiply-rotate hashing with a murmur3 finalizer, for the module's
/// internal maps over paths, states and coalitions. Inputs are the user's
/// own files, so hash flooding is no concern, and on short keys this is
/// several times faster than SipHash; the finalizer mixes the low bits,
/// which pick the bucket and which Fx alone leaves weak.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const FX_K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Credit a model gives each channel, indexed like [`PathSet::channels`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// Model name, as [`AttributionModel::name`] returns it.
    pub model: String,
    /// Conversions credited to each channel.
    pub conversions: Vec<f64>,
    /// Conversion value credited to each channel.
    pub value: Vec<f64>,
    /// What a reader of the numbers must know: degenerate input, skipped
    /// rows, assumptions made for missing data.
    pub notes: Vec<String>,
    /// Model-specific detail (Markov removal effects and transitions,
    /// ordered Shapley positions, …).
    pub details: Option<serde_json::Value>,
}

impl Credit {
    /// Zero credit over `channels` channels.
    pub fn zeroed(model: impl Into<String>, channels: usize) -> Self {
        Credit {
            model: model.into(),
            conversions: vec![0.0; channels],
            value: vec![0.0; channels],
            notes: Vec::new(),
            details: None,
        }
    }
}

/// A way of sharing each conversion among the channels that led to it.
pub trait AttributionModel: Send + Sync {
    /// Stable identifier used in reports (`first_touch`, `markov_order_1`, …).
    fn name(&self) -> String;
    /// Credit per channel for `paths`; never panics, never negative.
    fn attribute(&self, paths: &PathSet) -> Credit;
}

/// The models a report shows by default: every heuristic, exact Markov of
/// order 1 and both Shapley forms.
pub fn standard_models() -> Vec<Box<dyn AttributionModel>> {
    vec![
        Box::new(FirstTouch),
        Box::new(LastTouch),
        Box::new(Linear),
        Box::new(PositionBased),
        Box::new(TimeDecay::default()),
        Box::new(Markov::order(1)),
        Box::new(Shapley::unordered()),
        Box::new(Shapley::ordered()),
    ]
}

/// Runs every model on `paths` (aggregated once up front).
pub fn attribute_all(models: &[Box<dyn AttributionModel>], paths: &PathSet) -> Vec<Credit> {
    let aggregated = paths.aggregated();
    models.iter().map(|m| m.attribute(&aggregated)).collect()
}

/// Whether a row can be credited: it has touches, every touch names a known
/// channel, and its counts are finite and non-negative.
fn is_usable(path: &Path, channels: usize) -> bool {
    !path.touches.is_empty()
        && path.touches.iter().all(|&t| (t as usize) < channels)
        && [path.conversions, path.value, path.nulls]
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0)
}

/// Usable rows of a path set, plus notes on what was left out and why.
pub(crate) struct Screened<'a> {
    pub paths: Vec<&'a Path>,
    pub notes: Vec<String>,
}

/// Splits rows into those a model can credit and notes on the rest, so no
/// model indexes out of range or spreads NaN.
pub(crate) fn screen(set: &PathSet) -> Screened<'_> {
    let n = set.channels.len();
    let mut paths = Vec::with_capacity(set.paths.len());
    let (mut empty, mut unknown, mut bad_counts) = (0usize, 0usize, 0usize);
    let mut lost_conversions = 0.0;
    for path in &set.paths {
        if is_usable(path, n) {
            paths.push(path);
            continue;
        }
        if path.touches.is_empty() {
            empty += 1;
        } else if path.touches.iter().any(|&t| t as usize >= n) {
            unknown += 1;
        } else {
            bad_counts += 1;
        }
        if path.conversions.is_finite() && path.conversions > 0.0 {
            lost_conversions += path.conversions;
        }
    }
    let mut notes = Vec::new();
    if empty > 0 {
        notes.push(format!("{empty} path row(s) with no touches left out"));
    }
    if unknown > 0 {
        notes.push(format!(
            "{unknown} path row(s) naming a channel index outside the {n} known channels left out"
        ));
    }
    if bad_counts > 0 {
        notes.push(format!(
            "{bad_counts} path row(s) with negative or non-finite conversions, value or nulls left out"
        ));
    }
    if lost_conversions > 0.0 {
        notes.push(format!(
            "{lost_conversions} conversion(s) on left-out rows are not credited to any channel"
        ));
    }
    Screened { paths, notes }
}

/// Note for a path set with nothing to credit, or `None`.
pub(crate) fn no_conversions_note(paths: &[&Path]) -> Option<String> {
    let conversions: f64 = paths.iter().map(|p| p.conversions).sum();
    (conversions <= 0.0)
        .then(|| "no conversions in the path set: every channel gets zero credit".to_owned())
}

/// Credit for models that split each path's conversions over its touches by
/// weights summing to one (first, last, linear, position, time decay).
///
/// `weights` fills a buffer with one weight per touch. Rows are processed in
/// parallel, each thread summing into its own accumulator.
pub(crate) fn credit_by_touch_weights<F>(name: String, set: &PathSet, weights: F) -> Credit
where
    F: Fn(&Path, &mut Vec<f64>) + Sync,
{
    let n = set.channels.len();
    let screened = screen(set);
    // Fixed chunks summed in chunk order: the same floating-point result
    // however rayon schedules the work (a work-stealing reduce is not).
    let partials: Vec<(Vec<f64>, Vec<f64>)> = screened
        .paths
        .par_chunks(DETERMINISTIC_CHUNK)
        .map(|chunk| {
            let (mut conv, mut val, mut w) = (vec![0.0; n], vec![0.0; n], Vec::new());
            for path in chunk
                .iter()
                .filter(|p| p.conversions > 0.0 || p.value > 0.0)
            {
                w.clear();
                weights(path, &mut w);
                for (&touch, &wi) in path.touches.iter().zip(&w) {
                    conv[touch as usize] += wi * path.conversions;
                    val[touch as usize] += wi * path.value;
                }
            }
            (conv, val)
        })
        .collect();
    let (conversions, value) = partials
        .into_iter()
        .fold((vec![0.0; n], vec![0.0; n]), add_credit_vectors);
    let mut credit = Credit::zeroed(name, n);
    credit.conversions = conversions;
    credit.value = value;
    credit.notes = screened.notes;
    credit.notes.extend(no_conversions_note(&screened.paths));
    credit
}

/// Rows per parallel chunk where floating-point sums must be reproducible.
pub(crate) const DETERMINISTIC_CHUNK: usize = 4096;

fn add_credit_vectors(
    (mut c1, mut v1): (Vec<f64>, Vec<f64>),
    (c2, v2): (Vec<f64>, Vec<f64>),
) -> (Vec<f64>, Vec<f64>) {
    c1.iter_mut().zip(&c2).for_each(|(a, b)| *a += b);
    v1.iter_mut().zip(&v2).for_each(|(a, b)| *a += b);
    (c1, v1)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Asserts the invariants every model keeps on `set`.
    pub fn assert_invariants(model: &dyn AttributionModel, set: &PathSet) -> Credit {
        let credit = model.attribute(set);
        let n = set.channels.len();
        assert_eq!(credit.conversions.len(), n, "{}", credit.model);
        assert_eq!(credit.value.len(), n, "{}", credit.model);
        for x in credit.conversions.iter().chain(&credit.value) {
            assert!(x.is_finite() && *x >= 0.0, "{}: {x}", credit.model);
        }
        let conv: f64 = credit.conversions.iter().sum();
        let val: f64 = credit.value.iter().sum();
        let (tc, tv) = (set.total_conversions(), set.total_value());
        assert!(
            (conv - tc).abs() <= 1e-9 * tc.max(1.0),
            "{}: {conv} vs {tc}",
            credit.model
        );
        assert!(
            (val - tv).abs() <= 1e-9 * tv.max(1.0),
            "{}: {val} vs {tv}",
            credit.model
        );
        credit
    }

    pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tol, "{actual:?} vs {expected:?}");
        }
    }

    /// The committed reference path table (see
    /// `tests/reference/attribution_reference.py`).
    pub fn reference_set() -> PathSet {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/data/paths.csv"
        );
        read_path_table(std::path::Path::new(file), &PathTableOptions::default())
            .expect("reference path table")
    }

    /// Reference values the script produced for `reference_set`.
    pub fn reference_values() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/reference/data/expected.json"))
            .expect("reference JSON")
    }

    /// Asserts `credit` matches `{channel: [conversions, value, …]}` to a
    /// relative tolerance, channel by channel.
    pub fn assert_matches_reference(
        credit: &Credit,
        channels: &[String],
        expected: &serde_json::Value,
        rel: f64,
    ) {
        let expected = expected.as_object().expect("channel map");
        assert_eq!(expected.len(), channels.len(), "{}", credit.model);
        for (i, name) in channels.iter().enumerate() {
            let want = &expected[name];
            for (got, want) in [
                (credit.conversions[i], &want[0]),
                (credit.value[i], &want[1]),
            ] {
                let want = want.as_f64().expect("number");
                assert!(
                    (got - want).abs() <= rel * want.abs().max(1.0),
                    "{} {name}: {got} vs reference {want}",
                    credit.model
                );
            }
        }
    }

    /// A small mixed path set used by several model tests.
    pub fn small_set() -> PathSet {
        PathSet::from_named(&[
            (&["a", "b", "c"][..], 2.0, 200.0, 1.0),
            (&["a", "a", "b"][..], 1.0, 50.0, 3.0),
            (&["c"][..], 1.0, 10.0, 4.0),
            (&["b", "c", "a", "b"][..], 3.0, 90.0, 0.0),
            (&["b"][..], 0.0, 0.0, 5.0),
        ])
    }

    /// Degenerate sets every model must survive with a defined answer.
    pub fn degenerate_sets() -> Vec<PathSet> {
        let mut with_empty = small_set();
        with_empty.paths.push(Path::new(vec![], 3.0, 30.0, 1.0));
        with_empty.paths.push(Path::new(vec![99], 1.0, 1.0, 0.0));
        with_empty
            .paths
            .push(Path::new(vec![0], f64::NAN, 1.0, 0.0));
        vec![
            PathSet::default(),
            PathSet::from_named(&[(&["a", "b"][..], 0.0, 0.0, 7.0)]),
            PathSet::from_named(&[
                (&["a", "a"][..], 3.0, 30.0, 1.0),
                (&["a"][..], 1.0, 5.0, 0.0),
            ]),
            PathSet::from_named(&[(&["a"][..], 2.0, 0.0, 0.0)]),
            PathSet::from_named(&[
                (&["a", "b"][..], 0.0, 5.0, 1.0),
                (&["c"][..], 0.0, 0.0, 2.0),
            ]),
            with_empty,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn every_standard_model_keeps_invariants_on_small_and_degenerate_sets() {
        let mut sets = degenerate_sets();
        sets.push(small_set());
        for set in &sets {
            for model in standard_models() {
                assert_invariants(model.as_ref(), set);
            }
        }
    }

    #[test]
    fn aggregation_changes_no_credit() {
        let mut set = small_set();
        let copy = set.paths.clone();
        set.paths.extend(copy);
        let aggregated = set.aggregated();
        assert_eq!(aggregated.paths.len(), 5);
        for model in standard_models() {
            let a = model.attribute(&set);
            let b = model.attribute(&aggregated);
            assert_close(&a.conversions, &b.conversions, 1e-9);
            assert_close(&a.value, &b.value, 1e-9);
        }
    }

    #[test]
    fn skipped_rows_are_noted() {
        let set = degenerate_sets().pop().unwrap();
        let credit = FirstTouch.attribute(&set);
        assert_eq!(credit.notes.len(), 4, "{:?}", credit.notes);
    }
}
