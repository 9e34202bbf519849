//! Markov-chain attribution (Anderl et al. 2016) with removal effects solved
//! exactly from the absorbing chain, not simulated.
//!
//! Chain. Consecutive repeats of a channel are collapsed on each path
//! *before* order-k states are built, so `a > a > b` and `a > b` are the
//! same journey at every order and no state ever loops to itself. The state
//! after the i-th (collapsed) touch is the tuple of the last `min(i, k)`
//! channels: at the start of a path, states are shorter than k, which is
//! the same as padding with the start state. Transition probabilities are
//! path counts: each path row moves `conversions + nulls` journeys along its
//! states, then `conversions` to the conversion state and `nulls` to null.
//!
//! Removal effect of channel c: every state containing c is redirected to
//! null; RE_c = 1 − P_removed / P_full, where P is the probability of
//! absorption in conversion from start, the solution of x = b + Q x over the
//! transient states. Credit_c = C · RE_c / Σ RE.
//!
//! Value, as ChannelAttribution does it (checked against its outputs): each
//! conversion carries the mean value of the conversions that left the chain
//! from the same state, so the value removal effect is 1 − V_removed / V_full
//! with V the expected value absorbed (x = b∘r + Q x), and value credit is
//! total value · REv_c / Σ REv. At order 1 the state is the last channel.
//!
//! Differences from ChannelAttribution, which simulates: it truncates
//! simulated paths at `max_step` (by default the longest path in the data),
//! which biases its removal effects low; and at order ≥ 2 it keeps repeats
//! inside states (a state `a,a` exists) and starts each path at its first
//! full k-window. At order 1 both give the same chain (it drops the a → a
//! self-transitions that collapsing removes), so results are compared there.

use rayon::prelude::*;
use serde_json::json;

use super::{
    no_conversions_note, screen, AttributionModel, ChannelId, Credit, FastMap, Path, PathSet,
};

/// Highest supported order; states are fixed-size arrays of this length.
pub const MAX_ORDER: usize = 4;

/// Chains with at most this many transient states are solved by dense LU;
/// larger ones by Gauss–Seidel, which is cheaper on sparse chains.
const DENSE_LIMIT: usize = 256;

/// Gauss–Seidel stops when no unknown moves by more than this fraction of
/// the largest one: the iteration has reached rounding noise.
const GS_TOLERANCE: f64 = 1e-15;

/// Gauss–Seidel gives up (with a note) after this many sweeps.
const GS_MAX_SWEEPS: usize = 200_000;

/// Marks unused slots of a state shorter than the order.
const EMPTY: ChannelId = ChannelId::MAX;

/// Last `k` channels of a path, left-padded with [`EMPTY`].
type StateKey = [ChannelId; MAX_ORDER];

/// How the absorbing chain is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Solver {
    /// Dense LU for small chains, Gauss–Seidel for large ones.
    #[default]
    Auto,
    /// LU with partial pivoting on I − Q: exact up to rounding.
    DenseLu,
    /// Gauss–Seidel sweeps to rounding noise; linear in the transitions.
    GaussSeidel,
}

/// Markov-chain attribution of order 1 to [`MAX_ORDER`].
#[derive(Debug, Clone, Copy)]
pub struct Markov {
    /// Channels remembered by a state (clamped to 1..=MAX_ORDER).
    pub order: usize,
    /// Linear solver for absorption probabilities.
    pub solver: Solver,
}

impl Markov {
    /// Markov model of the given order with the automatic solver.
    pub fn order(order: usize) -> Self {
        Markov {
            order,
            solver: Solver::Auto,
        }
    }
}

impl AttributionModel for Markov {
    fn name(&self) -> String {
        format!("markov_order_{}", self.order.clamp(1, MAX_ORDER))
    }

    fn attribute(&self, set: &PathSet) -> Credit {
        let order = self.order.clamp(1, MAX_ORDER);
        let screened = screen(set);
        let mut credit = Credit::zeroed(self.name(), set.channels.len());
        credit.notes = screened.notes;
        if order != self.order {
            credit.notes.push(format!(
                "order {} is outside 1..={MAX_ORDER}: order {order} used",
                self.order
            ));
        }
        if let Some(note) = no_conversions_note(&screened.paths) {
            credit.notes.push(note);
            credit_value_without_conversions(&mut credit, &screened.paths, set.total_value());
            return credit;
        }
        let chain = Chain::build(&screened.paths, order);
        let effects = chain.removal_effects(self.solver, set.channels.len());
        let totals = (set.total_conversions(), set.total_value());
        share_by_removal_effects(&mut credit, &effects, &screened.paths, totals);
        credit.notes.extend(effects.notes.iter().cloned());
        credit.details = Some(details(&chain, &effects, order, &set.channels));
        credit
    }
}

/// Fills conversions and value credit from removal effects, falling back to
/// an even split over converting channels when every effect is zero.
fn share_by_removal_effects(
    credit: &mut Credit,
    effects: &RemovalEffects,
    paths: &[&Path],
    (conversions, value): (f64, f64),
) {
    match normalized(&effects.conversions) {
        Some(shares) => credit.conversions = scaled(&shares, conversions),
        None => {
            credit.notes.push(
                "every removal effect is 0: conversions split evenly over the channels on converting paths".to_owned(),
            );
            let shares = even_shares(paths, credit.conversions.len(), |p| p.conversions > 0.0);
            credit.conversions = scaled(&shares, conversions);
        }
    }
    let value_shares = match normalized(&effects.value) {
        Some(shares) => shares,
        None if value > 0.0 => {
            credit.notes.push(
                "no conversion carries value in the chain: value shared by the conversion removal effects".to_owned(),
            );
            credit.conversions.iter().map(|c| c / conversions).collect()
        }
        None => vec![0.0; credit.value.len()],
    };
    credit.value = scaled(&value_shares, value);
}

/// `effects / Σ effects`, or `None` when the sum is not positive.
fn normalized(effects: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = effects.iter().sum();
    (total > 0.0 && total.is_finite()).then(|| effects.iter().map(|e| e / total).collect())
}

fn scaled(shares: &[f64], total: f64) -> Vec<f64> {
    shares.iter().map(|s| s * total).collect()
}

/// Value on rows without conversions has no chain to flow through: it is
/// split evenly over the channels on those rows, so value credit still sums
/// to the total value.
fn credit_value_without_conversions(credit: &mut Credit, paths: &[&Path], value: f64) {
    if value > 0.0 {
        credit.notes.push(
            "value on rows without conversions split evenly over the channels on those rows"
                .to_owned(),
        );
        let shares = even_shares(paths, credit.value.len(), |p| p.value > 0.0);
        credit.value = scaled(&shares, value);
    }
}

/// Equal shares over the distinct channels seen on the paths `keep` picks.
fn even_shares(paths: &[&Path], channels: usize, keep: impl Fn(&Path) -> bool) -> Vec<f64> {
    let mut seen = vec![0.0; channels];
    for path in paths.iter().filter(|p| keep(p)) {
        path.touches.iter().for_each(|&t| seen[t as usize] = 1.0);
    }
    let count: f64 = seen.iter().sum();
    seen.iter().map(|s| s / count.max(1.0)).collect()
}

/// The absorbing chain: transient states, their transition probabilities,
/// and what absorbs from each.
#[derive(Debug)]
struct Chain {
    states: Vec<StateKey>,
    /// Probability that a journey starts in each state.
    start: Vec<f64>,
    /// Transient → transient probabilities in compressed rows: the
    /// successors of state s are `targets[row_start[s]..row_start[s + 1]]`.
    row_start: Vec<usize>,
    targets: Vec<u32>,
    probs: Vec<f64>,
    /// Per state: probability of moving to conversion, and expected value
    /// absorbed in that move (that probability times the mean value of the
    /// conversions that left from the state).
    rewards: Vec<[f64; 2]>,
    to_null: Vec<f64>,
}

/// Raw transition counts gathered from the paths.
#[derive(Default)]
struct ChainCounts {
    ids: FastMap<StateKey, u32>,
    states: Vec<StateKey>,
    start: Vec<f64>,
    edges: FastMap<(u32, u32), f64>,
    conversions: Vec<f64>,
    nulls: Vec<f64>,
    value: Vec<f64>,
}

impl ChainCounts {
    fn state_id(&mut self, key: StateKey) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.states.len() as u32;
        self.ids.insert(key, id);
        self.states.push(key);
        for v in [
            &mut self.start,
            &mut self.conversions,
            &mut self.nulls,
            &mut self.value,
        ] {
            v.push(0.0);
        }
        id
    }

    /// Walks one path row through its states, adding its journeys.
    fn add_path(&mut self, path: &Path, order: usize) {
        let journeys = path.conversions + path.nulls;
        if journeys <= 0.0 {
            return;
        }
        let mut key = [EMPTY; MAX_ORDER];
        let mut previous: Option<u32> = None;
        for channel in collapsed(&path.touches) {
            key.copy_within(1.., 0);
            key[MAX_ORDER - 1] = channel;
            let id = self.state_id(masked(key, order));
            match previous {
                None => self.start[id as usize] += journeys,
                Some(from) => *self.edges.entry((from, id)).or_insert(0.0) += journeys,
            }
            previous = Some(id);
        }
        if let Some(last) = previous {
            self.conversions[last as usize] += path.conversions;
            self.nulls[last as usize] += path.nulls;
            self.value[last as usize] += path.value;
        }
    }
}

/// Touches with consecutive repeats dropped.
fn collapsed(touches: &[ChannelId]) -> impl Iterator<Item = ChannelId> + '_ {
    touches
        .iter()
        .enumerate()
        .filter(|&(i, t)| i == 0 || touches[i - 1] != *t)
        .map(|(_, &t)| t)
}

/// Keeps the last `order` slots of a key, blanking the older ones.
fn masked(mut key: StateKey, order: usize) -> StateKey {
    key[..MAX_ORDER - order].fill(EMPTY);
    key
}

fn contains(key: &StateKey, channel: ChannelId) -> bool {
    key.contains(&channel)
}

impl Chain {
    fn build(paths: &[&Path], order: usize) -> Chain {
        let mut counts = ChainCounts::default();
        paths.iter().for_each(|p| counts.add_path(p, order));
        Chain::from_counts(counts)
    }

    fn from_counts(c: ChainCounts) -> Chain {
        let n = c.states.len();
        let mut out_total: Vec<f64> = (0..n).map(|s| c.conversions[s] + c.nulls[s]).collect();
        let mut edges: Vec<((u32, u32), f64)> = c.edges.into_iter().collect();
        // Hash-map order is random: sort so sums, and so results, are
        // bit-for-bit reproducible.
        edges.sort_unstable_by_key(|e| e.0);
        for &((from, _), w) in &edges {
            out_total[from as usize] += w;
        }
        let mut row_start = vec![0; n + 1];
        for &((from, _), _) in &edges {
            row_start[from as usize + 1] += 1;
        }
        for s in 0..n {
            row_start[s + 1] += row_start[s];
        }
        let starts: f64 = c.start.iter().sum();
        let rewards = (0..n)
            .map(|s| {
                let p = c.conversions[s] / out_total[s];
                let per_conversion = if c.conversions[s] > 0.0 {
                    c.value[s] / c.conversions[s]
                } else {
                    0.0
                };
                [p, p * per_conversion]
            })
            .collect();
        Chain {
            start: c.start.iter().map(|s| s / starts).collect(),
            targets: edges.iter().map(|&((_, to), _)| to).collect(),
            probs: edges
                .iter()
                .map(|&((from, _), w)| w / out_total[from as usize])
                .collect(),
            row_start,
            rewards,
            to_null: (0..n).map(|s| c.nulls[s] / out_total[s]).collect(),
            states: c.states,
        }
    }

    /// Successors of state `s` with their probabilities.
    fn row(&self, s: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let span = self.row_start[s]..self.row_start[s + 1];
        self.targets[span.clone()]
            .iter()
            .zip(&self.probs[span])
            .map(|(&t, &p)| (t as usize, p))
    }

    /// Probability of conversion and expected value from start, with the
    /// states in `removed` sent to null.
    fn absorption(&self, solver: Solver, removed: &[bool], warm: Option<&Solution>) -> Solution {
        let use_dense = match solver {
            Solver::Auto => self.states.len() <= DENSE_LIMIT,
            Solver::DenseLu => true,
            Solver::GaussSeidel => false,
        };
        let (x, sweeps) = if use_dense {
            (self.solve_dense(removed), None)
        } else {
            let (x, sweeps) = self.solve_gauss_seidel(removed, warm);
            (x, Some(sweeps))
        };
        let at_start = |k: usize| -> f64 { self.start.iter().zip(&x).map(|(s, x)| s * x[k]).sum() };
        Solution {
            conversion: at_start(0),
            value: at_start(1),
            x,
            sweeps,
        }
    }

    /// Solves (I − Q) x = r over the kept states by LU with partial
    /// pivoting; removed states keep x = 0.
    fn solve_dense(&self, removed: &[bool]) -> Vec<[f64; 2]> {
        let kept: Vec<usize> = (0..self.states.len()).filter(|&s| !removed[s]).collect();
        let mut position = vec![usize::MAX; self.states.len()];
        kept.iter().enumerate().for_each(|(i, &s)| position[s] = i);
        let m = kept.len();
        let mut a = vec![0.0; m * m];
        for (i, &s) in kept.iter().enumerate() {
            a[i * m + i] += 1.0;
            for (t, p) in self.row(s) {
                if position[t] != usize::MAX {
                    a[i * m + position[t]] -= p;
                }
            }
        }
        let lu = LuFactors::factor(a, m);
        let mut x = vec![[0.0; 2]; self.states.len()];
        let solve = |k: usize| lu.solve(kept.iter().map(|&s| self.rewards[s][k]).collect());
        for ((&s, conversion), value) in kept.iter().zip(solve(0)).zip(solve(1)) {
            x[s] = [conversion, value];
        }
        x
    }

    /// Gauss–Seidel on x = r + Q x for both right-hand sides at once,
    /// sweeping states in reverse order of discovery (successors first).
    /// Starting from the full chain's solution (a supersolution of the
    /// removed chain) makes removal solves converge monotonically and fast.
    /// Converged when no unknown moves by more than rounding noise relative
    /// to the largest of its kind.
    fn solve_gauss_seidel(
        &self,
        removed: &[bool],
        warm: Option<&Solution>,
    ) -> (Vec<[f64; 2]>, usize) {
        let n = self.states.len();
        let mut x = warm.map_or_else(|| vec![[0.0; 2]; n], |w| w.x.clone());
        (0..n).filter(|&s| removed[s]).for_each(|s| x[s] = [0.0; 2]);
        let order: Vec<usize> = (0..n).rev().filter(|&s| !removed[s]).collect();
        let mut sweeps = 0;
        while sweeps < GS_MAX_SWEEPS {
            sweeps += 1;
            let (mut delta, mut scale) = ([0.0_f64; 2], [0.0_f64; 2]);
            for &s in &order {
                let mut next = self.rewards[s];
                for (t, p) in self.row(s) {
                    next[0] += p * x[t][0];
                    next[1] += p * x[t][1];
                }
                for k in 0..2 {
                    delta[k] = delta[k].max((next[k] - x[s][k]).abs());
                    scale[k] = scale[k].max(next[k].abs());
                }
                x[s] = next;
            }
            if (0..2).all(|k| delta[k] <= GS_TOLERANCE * scale[k]) {
                break;
            }
        }
        (x, sweeps)
    }

    /// Removal effect of every channel, solved in parallel. Each solve
    /// keeps only its two numbers (conversion, value), so memory is the
    /// chain plus one solve's working set per thread, whatever the number
    /// of channels. Large chains re-solve only the states whose absorption
    /// removing the channel can change (those that reach one of its states).
    fn removal_effects(&self, solver: Solver, channels: usize) -> RemovalEffects {
        let n = self.states.len();
        let full = self.absorption(solver, &vec![false; n], None);
        let dense = match solver {
            Solver::Auto => n <= DENSE_LIMIT,
            Solver::DenseLu => true,
            Solver::GaussSeidel => false,
        };
        let index = (!dense).then(|| self.removal_index(channels));
        let removed: Vec<Removed> = (0..channels as ChannelId)
            .into_par_iter()
            .map_init(
                || Scratch::new(if dense { 0 } else { n }),
                |scratch, c| match &index {
                    Some(index) => {
                        self.removed_sparse(&index.states_of[c as usize], index, &full, scratch)
                    }
                    None => {
                        let mask: Vec<bool> = self.states.iter().map(|k| contains(k, c)).collect();
                        let s = self.absorption(solver, &mask, Some(&full));
                        Removed {
                            conversion: s.conversion,
                            value: s.value,
                            sweeps: s.sweeps,
                        }
                    }
                },
            )
            .collect();
        let effect = |without: f64, with: f64| -> f64 {
            if with > 0.0 {
                // Redirecting states to null can only lower absorption, so a
                // negative effect is rounding noise.
                (1.0 - without / with).max(0.0)
            } else {
                0.0
            }
        };
        let mut notes = Vec::new();
        let max_sweeps = removed
            .iter()
            .map(|r| r.sweeps)
            .chain(std::iter::once(full.sweeps))
            .flatten()
            .max();
        if max_sweeps == Some(GS_MAX_SWEEPS) {
            notes.push(format!(
                "Gauss–Seidel stopped at {GS_MAX_SWEEPS} sweeps before reaching rounding noise: removal effects may be inexact"
            ));
        }
        RemovalEffects {
            conversions: removed
                .iter()
                .map(|s| effect(s.conversion, full.conversion))
                .collect(),
            value: removed
                .iter()
                .map(|s| effect(s.value, full.value))
                .collect(),
            full_conversion: full.conversion,
            full_value: full.value,
            solver: if max_sweeps.is_some() {
                "gauss_seidel"
            } else {
                "dense_lu"
            },
            max_sweeps,
            notes,
        }
    }
}

/// What one removal solve keeps.
#[derive(Debug, Clone, Copy)]
struct Removed {
    conversion: f64,
    value: f64,
    sweeps: Option<usize>,
}

/// The states of each channel and each state's predecessors, built once
/// for the sparse removal solves.
struct RemovalIndex {
    states_of: Vec<Vec<u32>>,
    pred_start: Vec<usize>,
    preds: Vec<u32>,
}

impl Chain {
    fn removal_index(&self, channels: usize) -> RemovalIndex {
        let n = self.states.len();
        let mut states_of = vec![Vec::new(); channels];
        for (s, key) in self.states.iter().enumerate() {
            let mut seen: Vec<ChannelId> = Vec::with_capacity(MAX_ORDER);
            for &c in key.iter().filter(|&&c| c != EMPTY) {
                if !seen.contains(&c) {
                    seen.push(c);
                    if let Some(list) = states_of.get_mut(c as usize) {
                        list.push(s as u32);
                    }
                }
            }
        }
        let mut pred_start = vec![0usize; n + 1];
        for &t in &self.targets {
            pred_start[t as usize + 1] += 1;
        }
        for s in 0..n {
            pred_start[s + 1] += pred_start[s];
        }
        let mut fill = pred_start.clone();
        let mut preds = vec![0u32; self.targets.len()];
        for s in 0..n {
            for (t, _) in self.row(s) {
                preds[fill[t]] = s as u32;
                fill[t] += 1;
            }
        }
        RemovalIndex {
            states_of,
            pred_start,
            preds,
        }
    }

    /// Gauss–Seidel for one removal, over the states that reach a removed
    /// one (every other state keeps its full-chain value exactly: none of
    /// its successors changes), warm-started from the full chain.
    fn removed_sparse(
        &self,
        removed: &[u32],
        index: &RemovalIndex,
        full: &Solution,
        scratch: &mut Scratch,
    ) -> Removed {
        for &r in removed {
            scratch.slot[r as usize] = Scratch::REMOVED;
        }
        // Predecessors of removed states, transitively.
        let mut affected: Vec<u32> = Vec::new();
        let mut queue: Vec<u32> = removed.to_vec();
        while let Some(s) = queue.pop() {
            let s = s as usize;
            for &p in &index.preds[index.pred_start[s]..index.pred_start[s + 1]] {
                if scratch.slot[p as usize] == Scratch::FREE {
                    scratch.slot[p as usize] = 0;
                    affected.push(p);
                    queue.push(p);
                }
            }
        }
        // The same sweep order as the full solve: reverse order of discovery.
        affected.sort_unstable_by(|a, b| b.cmp(a));
        for (i, &s) in affected.iter().enumerate() {
            scratch.slot[s as usize] = i as u32;
        }
        let mut x: Vec<[f64; 2]> = affected.iter().map(|&s| full.x[s as usize]).collect();
        let mut sweeps = 0;
        while !affected.is_empty() && sweeps < GS_MAX_SWEEPS {
            sweeps += 1;
            let (mut delta, mut scale) = ([0.0_f64; 2], [0.0_f64; 2]);
            for (i, &s) in affected.iter().enumerate() {
                let mut next = self.rewards[s as usize];
                for (t, p) in self.row(s as usize) {
                    let xt = match scratch.slot[t] {
                        Scratch::REMOVED => [0.0; 2],
                        Scratch::FREE => full.x[t],
                        j => x[j as usize],
                    };
                    next[0] += p * xt[0];
                    next[1] += p * xt[1];
                }
                for k in 0..2 {
                    delta[k] = delta[k].max((next[k] - x[i][k]).abs());
                    scale[k] = scale[k].max(next[k].abs());
                }
                x[i] = next;
            }
            if (0..2).all(|k| delta[k] <= GS_TOLERANCE * scale[k]) {
                break;
            }
        }
        let mut at_start = [full.conversion, full.value];
        for k in 0..2 {
            for &r in removed {
                at_start[k] -= self.start[r as usize] * full.x[r as usize][k];
            }
            for (i, &s) in affected.iter().enumerate() {
                at_start[k] += self.start[s as usize] * (x[i][k] - full.x[s as usize][k]);
            }
        }
        for &s in removed.iter().chain(&affected) {
            scratch.slot[s as usize] = Scratch::FREE;
        }
        Removed {
            conversion: at_start[0].max(0.0),
            value: at_start[1].max(0.0),
            sweeps: Some(sweeps.max(1)),
        }
    }
}

/// Per-worker state of the sparse removal solves: each state's place among
/// the re-solved ones (or free / removed), reset after every solve so one
/// allocation serves all the channels a worker takes.
struct Scratch {
    slot: Vec<u32>,
}

impl Scratch {
    const FREE: u32 = u32::MAX;
    const REMOVED: u32 = u32::MAX - 1;

    fn new(states: usize) -> Scratch {
        Scratch {
            slot: vec![Scratch::FREE; states],
        }
    }
}

/// Absorption from start, plus the per-state solution for warm starts.
#[derive(Debug, Clone)]
struct Solution {
    conversion: f64,
    value: f64,
    /// Per state: absorption probability and expected value.
    x: Vec<[f64; 2]>,
    sweeps: Option<usize>,
}

/// Removal effects per channel and the full chain's absorption.
#[derive(Debug)]
struct RemovalEffects {
    conversions: Vec<f64>,
    value: Vec<f64>,
    full_conversion: f64,
    full_value: f64,
    solver: &'static str,
    max_sweeps: Option<usize>,
    notes: Vec<String>,
}

/// Dense LU factors of a square matrix, row-major, with row permutation.
struct LuFactors {
    lu: Vec<f64>,
    m: usize,
    pivots: Vec<usize>,
}

impl LuFactors {
    fn factor(mut a: Vec<f64>, m: usize) -> LuFactors {
        let mut pivots = Vec::with_capacity(m);
        for k in 0..m {
            let p = (k..m)
                .max_by(|&i, &j| a[i * m + k].abs().total_cmp(&a[j * m + k].abs()))
                .unwrap_or(k);
            pivots.push(p);
            if p != k {
                for j in 0..m {
                    a.swap(k * m + j, p * m + j);
                }
            }
            let pivot = a[k * m + k];
            if pivot == 0.0 {
                continue;
            }
            for i in k + 1..m {
                let factor = a[i * m + k] / pivot;
                a[i * m + k] = factor;
                if factor != 0.0 {
                    for j in k + 1..m {
                        a[i * m + j] -= factor * a[k * m + j];
                    }
                }
            }
        }
        LuFactors { lu: a, m, pivots }
    }

    fn solve(&self, mut b: Vec<f64>) -> Vec<f64> {
        let m = self.m;
        for (k, &p) in self.pivots.iter().enumerate() {
            b.swap(k, p);
        }
        for i in 0..m {
            let s: f64 = (0..i).map(|j| self.lu[i * m + j] * b[j]).sum();
            b[i] -= s;
        }
        for i in (0..m).rev() {
            let s: f64 = (i + 1..m).map(|j| self.lu[i * m + j] * b[j]).sum();
            let d = self.lu[i * m + i];
            // I − Q is singular only for a closed loop no journey leaves,
            // which path counts cannot produce; 0 keeps the answer finite.
            b[i] = if d != 0.0 { (b[i] - s) / d } else { 0.0 };
        }
        b
    }
}

/// Removal effects, absorption and the sparse transition matrix.
fn details(
    chain: &Chain,
    effects: &RemovalEffects,
    order: usize,
    channels: &[String],
) -> serde_json::Value {
    let name = |s: usize| state_name(&chain.states[s], channels);
    let mut transitions = Vec::new();
    for (s, p) in chain.start.iter().enumerate().filter(|(_, p)| **p > 0.0) {
        transitions.push(json!(["(start)", name(s), p]));
    }
    for s in 0..chain.states.len() {
        for (t, p) in chain.row(s) {
            transitions.push(json!([name(s), name(t), p]));
        }
        let absorbing = [
            ("(conversion)", chain.rewards[s][0]),
            ("(null)", chain.to_null[s]),
        ];
        for (to, p) in absorbing {
            if p > 0.0 {
                transitions.push(json!([name(s), to, p]));
            }
        }
    }
    let removal: Vec<_> = channels
        .iter()
        .enumerate()
        .map(|(c, ch)| json!({"channel": ch, "conversions": effects.conversions[c], "value": effects.value[c]}))
        .collect();
    json!({
        "order": order,
        "repeats": "consecutive repeats collapsed before order-k states are built",
        "states": chain.states.len(),
        "solver": effects.solver,
        "gauss_seidel_sweeps": effects.max_sweeps,
        "conversion_probability": effects.full_conversion,
        "expected_value": effects.full_value,
        "removal_effects": removal,
        "transitions": transitions,
    })
}

/// `a>b` style name of a state, oldest channel first.
fn state_name(key: &StateKey, channels: &[String]) -> String {
    key.iter()
        .filter(|&&c| c != EMPTY)
        .map(|&c| channels[c as usize].as_str())
        .collect::<Vec<_>>()
        .join(">")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    fn removal_effects_of(credit: &Credit) -> (Vec<f64>, Vec<f64>) {
        let d = credit.details.as_ref().expect("details");
        let res = d["removal_effects"].as_array().unwrap();
        let get = |k: &str| res.iter().map(|r| r[k].as_f64().unwrap()).collect();
        (get("conversions"), get("value"))
    }

    /// Two channels, hand-solved.
    ///
    /// Paths: a (1 conv, 1 null), a>b (1 conv, 0 null), b (0 conv, 2 null).
    /// start→a 3/5, start→b 2/5; a→conv 1/3, a→null 1/3, a→b 1/3;
    /// b→conv 1/3, b→null 2/3. x_b = 1/3, x_a = 1/3 + 1/9 = 4/9,
    /// P = 3/5·4/9 + 2/5·1/3 = 2/5 (the observed conversion rate).
    /// Without a: P = 2/15, RE_a = 2/3; without b: P = 1/5, RE_b = 1/2;
    /// credit 2·(2/3)/(7/6) = 8/7 and 2·(1/2)/(7/6) = 6/7.
    #[test]
    fn two_channel_chain_solved_by_hand() {
        let set = PathSet::from_named(&[
            (&["a"][..], 1.0, 10.0, 1.0),
            (&["a", "b"][..], 1.0, 30.0, 0.0),
            (&["b"][..], 0.0, 0.0, 2.0),
        ]);
        let credit = assert_invariants(&Markov::order(1), &set);
        let (re, rev) = removal_effects_of(&credit);
        assert_close(&re, &[2.0 / 3.0, 0.5], 1e-12);
        assert_close(&credit.conversions, &[8.0 / 7.0, 6.0 / 7.0], 1e-12);
        // Value per conversion: r_a = 10, r_b = 30. V_b = 10,
        // V_a = 10/3 + 10/3 = 20/3, V = 3/5·20/3 + 2/5·10 = 8. Without a:
        // V = 4, REv_a = 1/2; without b: V_a = 10/3, V = 2, REv_b = 3/4;
        // value credit 40·(1/2)/(5/4) = 16 and 40·(3/4)/(5/4) = 24.
        assert_close(&rev, &[0.5, 0.75], 1e-12);
        assert_close(&credit.value, &[16.0, 24.0], 1e-12);
        let d = credit.details.unwrap();
        assert!((d["conversion_probability"].as_f64().unwrap() - 0.4).abs() < 1e-15);
        assert!((d["expected_value"].as_f64().unwrap() - 8.0).abs() < 1e-13);
    }

    #[test]
    fn repeats_are_collapsed_before_states_are_built() {
        let a = PathSet::from_named(&[
            (&["a", "a", "b", "b"][..], 1.0, 1.0, 1.0),
            (&["b"][..], 1.0, 1.0, 0.0),
        ]);
        let b = PathSet::from_named(&[
            (&["a", "b"][..], 1.0, 1.0, 1.0),
            (&["b"][..], 1.0, 1.0, 0.0),
        ]);
        for order in 1..=MAX_ORDER {
            let (x, y) = (
                Markov::order(order).attribute(&a),
                Markov::order(order).attribute(&b),
            );
            assert_close(&x.conversions, &y.conversions, 1e-15);
        }
    }

    #[test]
    fn solvers_agree_at_every_order() {
        let set = small_set();
        for order in 1..=MAX_ORDER {
            let lu = Markov {
                order,
                solver: Solver::DenseLu,
            }
            .attribute(&set);
            let gs = Markov {
                order,
                solver: Solver::GaussSeidel,
            }
            .attribute(&set);
            assert_close(&lu.conversions, &gs.conversions, 1e-12);
            assert_close(&lu.value, &gs.value, 1e-10);
            assert_close(
                &removal_effects_of(&lu).0,
                &removal_effects_of(&gs).0,
                1e-13,
            );
        }
    }

    #[test]
    fn higher_order_states_are_tuples_of_last_channels() {
        let set = PathSet::from_named(&[(&["a", "b", "a", "c"][..], 1.0, 1.0, 0.0)]);
        let credit = Markov::order(2).attribute(&set);
        let d = credit.details.unwrap();
        let names: Vec<String> = d["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{}->{}", t[0].as_str().unwrap(), t[1].as_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                "(start)->a",
                "a->a>b",
                "a>b->b>a",
                "b>a->a>c",
                "a>c->(conversion)"
            ]
        );
    }

    #[test]
    fn single_channel_gets_everything() {
        let set = PathSet::from_named(&[(&["a"][..], 3.0, 9.0, 5.0)]);
        let credit = assert_invariants(&Markov::order(1), &set);
        assert_close(&credit.conversions, &[3.0], 0.0);
        assert_eq!(removal_effects_of(&credit).0, vec![1.0]);
    }

    #[test]
    fn channel_only_on_null_paths_gets_nothing() {
        let set = PathSet::from_named(&[(&["a"][..], 3.0, 9.0, 0.0), (&["b"][..], 0.0, 0.0, 5.0)]);
        let credit = assert_invariants(&Markov::order(1), &set);
        assert_close(&credit.conversions, &[3.0, 0.0], 0.0);
    }

    #[test]
    fn value_without_conversions_falls_back_to_conversion_shares() {
        let set = PathSet::from_named(&[
            (&["a", "b"][..], 2.0, 0.0, 1.0),
            (&["c"][..], 0.0, 5.0, 1.0),
        ]);
        let credit = assert_invariants(&Markov::order(1), &set);
        assert!(
            credit.notes.iter().any(|n| n.contains("value")),
            "{:?}",
            credit.notes
        );
    }

    #[test]
    fn out_of_range_order_is_clamped_with_a_note() {
        let credit = assert_invariants(&Markov::order(9), &small_set());
        assert_eq!(credit.model, "markov_order_4");
        assert!(!credit.notes.is_empty());
    }

    /// Exact orders 1–4 against the numpy fundamental-matrix reference.
    #[test]
    fn matches_numpy_fundamental_matrix_at_every_order() {
        let set = reference_set();
        let reference = reference_values();
        for order in 1..=MAX_ORDER {
            let credit = assert_invariants(&Markov::order(order), &set);
            let expected = &reference["numpy_reference"][format!("markov_order_{order}")];
            assert_matches_reference(&credit, &set.channels, &expected["credit"], 1e-9);
            let (re, rev) = removal_effects_of(&credit);
            for (i, name) in set.channels.iter().enumerate() {
                let want = &expected["removal_effects"][name];
                assert!(
                    (re[i] - want[0].as_f64().unwrap()).abs() < 1e-12,
                    "order {order} {name}"
                );
                assert!(
                    (rev[i] - want[1].as_f64().unwrap()).abs() < 1e-12,
                    "order {order} {name}"
                );
            }
            let d = credit.details.unwrap();
            assert_eq!(d["states"], expected["states"], "order {order}");
            let p = d["conversion_probability"].as_f64().unwrap();
            assert!((p - expected["conversion_probability"].as_f64().unwrap()).abs() < 1e-12);
        }
    }

    /// ChannelAttribution simulates the same chain. Its estimates, averaged
    /// over 10 seeds, must be as close to our exact values as its single
    /// runs are to each other: within 4 run-to-run standard deviations,
    /// plus 0.3 % for the small bias of its ratio estimator (on chains
    /// solved by hand its removal effects sit about 0.1–0.4 % above the
    /// exact ones even at 20 seeds × 10^6 simulations).
    #[test]
    fn within_channel_attribution_simulation_noise() {
        let set = reference_set();
        let credit = Markov::order(1).attribute(&set);
        let (re, rev) = removal_effects_of(&credit);
        let runs = &reference_values()["channel_attribution"]["markov_order_1"]["runs"];
        for (i, name) in set.channels.iter().enumerate() {
            let ours = [credit.conversions[i], credit.value[i], re[i], rev[i]];
            for (field, ours) in ours.iter().enumerate() {
                let mean = runs[name]["mean"][field].as_f64().unwrap();
                let sd = runs[name]["sd"][field].as_f64().unwrap();
                let tol = 4.0 * sd + 0.003 * mean.abs();
                assert!(
                    (ours - mean).abs() <= tol,
                    "{name} field {field}: ours {ours}, CA {mean} ± {sd}"
                );
            }
        }
    }

    /// A deterministic pseudo-random path set over `channels` channels.
    fn synthetic_set(channels: u32, rows: usize) -> PathSet {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let paths = (0..rows)
            .map(|_| {
                let len = 1 + next(6) as usize;
                let touches = (0..len).map(|_| next(u64::from(channels)) as u32).collect();
                let conversions = next(3) as f64;
                Path::new(
                    touches,
                    conversions,
                    conversions * next(100) as f64,
                    next(5) as f64,
                )
            })
            .collect();
        PathSet {
            channels: (0..channels).map(|c| format!("ch{c}")).collect(),
            paths,
        }
    }

    /// Twenty channels at order 1 and ten at order 2 (about a hundred
    /// states, small enough for the dense reference in a debug build).
    #[test]
    fn many_channels_solve_alike_by_lu_and_gauss_seidel() {
        for (order, channels) in [(1, 20), (2, 10)] {
            let set = synthetic_set(channels, 3000);
            let lu = Markov {
                order,
                solver: Solver::DenseLu,
            }
            .attribute(&set);
            let gs = Markov {
                order,
                solver: Solver::GaussSeidel,
            }
            .attribute(&set);
            assert_invariants(
                &Markov {
                    order,
                    solver: Solver::Auto,
                },
                &set,
            );
            assert_close(&lu.conversions, &gs.conversions, 1e-9);
            assert_close(&lu.value, &gs.value, 1e-7);
            assert_close(
                &removal_effects_of(&lu).0,
                &removal_effects_of(&gs).0,
                1e-12,
            );
        }
    }
}
