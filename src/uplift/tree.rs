//! Policy trees: an arm per leaf, splits `feature ≤ threshold`, chosen to
//! maximize the summed reward (doubly robust scores) of the arm each unit
//! is assigned (Athey & Wager 2021, "Policy Learning with Observational
//! Data", Econometrica 89(1); the exhaustive search of Sverdrup et al.,
//! "policytree", JOSS 2020).
//!
//! Thresholds come from a quantile grid per feature (every distinct value
//! when there are few), so the search is over at most `grid` cut points per
//! feature. Depths 1 and 2 are searched exhaustively: for depth 2 each
//! root cut is swept in order, moving rows from the right child's histogram
//! to the left one, and each child's best single split is read off the
//! per-feature prefix sums. Depth 3 is the "hybrid" tree of policytree:
//! the root is the root of the best depth-2 tree, and each child is the
//! best depth-2 tree of its rows. A split is kept only if it strictly
//! raises the reward and leaves at least `min_leaf` units on each side;
//! ties between arms go to the earlier arm (the control is arm 0).

/// A learned policy tree over feature indices and arm indices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyTree {
    Leaf {
        arm: usize,
    },
    Split {
        feature: usize,
        threshold: f64,
        /// Units with `feature ≤ threshold`.
        left: Box<PolicyTree>,
        right: Box<PolicyTree>,
    },
}

impl PolicyTree {
    /// The arm for one unit, given its feature values.
    pub fn assign(&self, x: impl Fn(usize) -> f64) -> usize {
        let mut node = self;
        loop {
            match node {
                PolicyTree::Leaf { arm } => return *arm,
                PolicyTree::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    node = if x(*feature) <= *threshold {
                        left
                    } else {
                        right
                    }
                }
            }
        }
    }

    pub fn depth(&self) -> usize {
        match self {
            PolicyTree::Leaf { .. } => 0,
            PolicyTree::Split { left, right, .. } => 1 + left.depth().max(right.depth()),
        }
    }

    /// Every arm some leaf assigns, sorted.
    pub fn arms(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect_arms(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_arms(&self, out: &mut Vec<usize>) {
        match self {
            PolicyTree::Leaf { arm } => out.push(*arm),
            PolicyTree::Split { left, right, .. } => {
                left.collect_arms(out);
                right.collect_arms(out);
            }
        }
    }
}

/// Search settings.
#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    /// 0 to 3.
    pub depth: usize,
    /// Cut points per feature (quantile grid).
    pub grid: usize,
    /// Fewest units on each side of a split.
    pub min_leaf: usize,
}

/// Candidate cut points of one feature: the distinct values when there are
/// at most `grid + 1`, else the values at `grid` evenly spaced quantiles
/// (deduplicated); the largest value is never a cut (nothing right of it).
pub fn cut_points(values: &[f64], grid: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    let mut cuts = if distinct.len() <= grid + 1 {
        distinct
    } else {
        let n = sorted.len();
        let mut c: Vec<f64> = (1..=grid)
            .map(|q| sorted[((q * n) / (grid + 1)).min(n - 1)])
            .collect();
        c.dedup();
        c
    };
    if let Some(&max) = sorted.last() {
        cuts.retain(|&c| c < max);
    }
    cuts
}

/// Rewards and binned features, ready for the search.
pub struct Problem<'a> {
    /// `rewards[i * arms + a]`: unit i's score under arm a.
    pub rewards: &'a [f64],
    pub arms: usize,
    /// `bins[f][i]`: the index of unit i's bin in feature f's cut points
    /// (bin b holds values in (cut[b-1], cut[b]]; the last bin is above all cuts).
    pub bins: Vec<Vec<u16>>,
    pub cuts: Vec<Vec<f64>>,
}

impl<'a> Problem<'a> {
    /// Bins `columns` (one slice per feature, all of the units' length) on cut
    /// points from the same columns.
    pub fn new(rewards: &'a [f64], arms: usize, columns: &[&[f64]], grid: usize) -> Self {
        let grid = grid.clamp(1, u16::MAX as usize - 1);
        let mut bins = Vec::with_capacity(columns.len());
        let mut cuts = Vec::with_capacity(columns.len());
        for col in columns {
            let c = cut_points(col, grid);
            bins.push(
                col.iter()
                    .map(|x| c.partition_point(|cut| cut < x) as u16)
                    .collect(),
            );
            cuts.push(c);
        }
        Problem {
            rewards,
            arms,
            bins,
            cuts,
        }
    }

    fn features(&self) -> usize {
        self.bins.len()
    }

    fn nbins(&self, f: usize) -> usize {
        self.cuts[f].len() + 1
    }
}

/// The best tree of at most `opts.depth` levels on `rows`, and its summed reward.
pub fn fit(p: &Problem, rows: &[usize], opts: &TreeOptions) -> (PolicyTree, f64) {
    match opts.depth {
        0 => best_leaf(p, rows),
        1 => depth1(p, rows, opts),
        2 => depth2(p, rows, opts),
        _ => {
            let (tree, value) = depth2(p, rows, opts);
            let PolicyTree::Split {
                feature, threshold, ..
            } = tree
            else {
                return (tree, value);
            };
            let (l, r) = split_rows(p, rows, feature, threshold);
            let (lt, lv) = depth2(p, &l, opts);
            let (rt, rv) = depth2(p, &r, opts);
            (
                PolicyTree::Split {
                    feature,
                    threshold,
                    left: Box::new(lt),
                    right: Box::new(rt),
                },
                lv + rv,
            )
        }
    }
}

fn split_rows(
    p: &Problem,
    rows: &[usize],
    feature: usize,
    threshold: f64,
) -> (Vec<usize>, Vec<usize>) {
    let cut = p.cuts[feature]
        .iter()
        .position(|&c| c == threshold)
        .expect("threshold is a cut point");
    rows.iter()
        .partition(|&&i| (p.bins[feature][i] as usize) <= cut)
}

fn arm_sums(p: &Problem, rows: &[usize]) -> Vec<f64> {
    let mut s = vec![0.0; p.arms];
    for &i in rows {
        for (a, v) in s.iter_mut().enumerate() {
            *v += p.rewards[i * p.arms + a];
        }
    }
    s
}

/// The first arm with the largest sum.
fn argmax(sums: &[f64]) -> (usize, f64) {
    let mut best = (0, sums[0]);
    for (a, &v) in sums.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (a, v);
        }
    }
    best
}

fn best_leaf(p: &Problem, rows: &[usize]) -> (PolicyTree, f64) {
    let (arm, v) = argmax(&arm_sums(p, rows));
    (PolicyTree::Leaf { arm }, v)
}

/// A single split: feature, cut index, left arm, right arm.
type Cut = (usize, usize, usize, usize);

/// Per feature, per bin: the count then the reward sum of each arm.
struct Histogram {
    width: usize,
    offsets: Vec<usize>,
    cells: Vec<f64>,
}

impl Histogram {
    fn new(p: &Problem) -> Self {
        let width = p.arms + 1;
        let mut offsets = Vec::with_capacity(p.features() + 1);
        let mut at = 0;
        for f in 0..p.features() {
            offsets.push(at);
            at += p.nbins(f) * width;
        }
        offsets.push(at);
        Histogram {
            width,
            offsets,
            cells: vec![0.0; at],
        }
    }

    fn add(&mut self, p: &Problem, i: usize, sign: f64) {
        let r = &p.rewards[i * p.arms..(i + 1) * p.arms];
        for f in 0..p.features() {
            let at = self.offsets[f] + p.bins[f][i] as usize * self.width;
            let cell = &mut self.cells[at..at + self.width];
            cell[0] += sign;
            for (c, v) in cell[1..].iter_mut().zip(r) {
                *c += sign * v;
            }
        }
    }

    fn of(p: &Problem, rows: &[usize]) -> Self {
        let mut h = Histogram::new(p);
        for &i in rows {
            h.add(p, i, 1.0);
        }
        h
    }

    /// The best single split (or none) read off the prefix sums:
    /// (value, Some((feature, cut index, left arm, right arm))) or the leaf.
    fn best_split(&self, p: &Problem, min_leaf: usize) -> (f64, Option<Cut>, usize) {
        let w = self.width;
        let mut total = vec![0.0; w];
        // Totals from feature 0 (every feature's bins hold every row).
        let f0 = &self.cells[self.offsets[0]..self.offsets[1]];
        for bin in f0.chunks_exact(w) {
            for (t, v) in total.iter_mut().zip(bin) {
                *t += v;
            }
        }
        let (leaf_arm, leaf_value) = argmax(&total[1..]);
        let mut best = (leaf_value, None);
        let min = min_leaf as f64;
        let mut left = vec![0.0; w];
        let mut right = vec![0.0; w];
        for f in 0..p.features() {
            left.iter_mut().for_each(|v| *v = 0.0);
            let cells = &self.cells[self.offsets[f]..self.offsets[f + 1]];
            for (b, bin) in cells.chunks_exact(w).enumerate().take(p.nbins(f) - 1) {
                for (l, v) in left.iter_mut().zip(bin) {
                    *l += v;
                }
                if left[0] < min {
                    continue;
                }
                for ((r, t), l) in right.iter_mut().zip(&total).zip(&left) {
                    *r = t - l;
                }
                if right[0] < min {
                    break;
                }
                let (la, lv) = argmax(&left[1..]);
                let (ra, rv) = argmax(&right[1..]);
                if lv + rv > best.0 {
                    best = (lv + rv, Some((f, b, la, ra)));
                }
            }
        }
        (best.0, best.1, leaf_arm)
    }
}

fn depth1(p: &Problem, rows: &[usize], opts: &TreeOptions) -> (PolicyTree, f64) {
    let h = Histogram::of(p, rows);
    let (value, split, leaf_arm) = h.best_split(p, opts.min_leaf);
    (one_split(p, split, leaf_arm), value)
}

fn one_split(p: &Problem, split: Option<Cut>, leaf_arm: usize) -> PolicyTree {
    match split {
        None => PolicyTree::Leaf { arm: leaf_arm },
        Some((_, _, la, ra)) if la == ra => PolicyTree::Leaf { arm: la },
        Some((f, b, la, ra)) => PolicyTree::Split {
            feature: f,
            threshold: p.cuts[f][b],
            left: Box::new(PolicyTree::Leaf { arm: la }),
            right: Box::new(PolicyTree::Leaf { arm: ra }),
        },
    }
}

fn depth2(p: &Problem, rows: &[usize], opts: &TreeOptions) -> (PolicyTree, f64) {
    let (base_tree, base_value) = depth1(p, rows, opts);
    let mut best: (f64, Option<(usize, usize)>) = (base_value, None);
    let total = Histogram::of(p, rows);
    let mut left = Histogram::new(p);
    let mut right = Histogram {
        width: total.width,
        offsets: total.offsets.clone(),
        cells: vec![0.0; total.cells.len()],
    };
    let min = opts.min_leaf;
    for f in 0..p.features() {
        let nb = p.nbins(f);
        if nb < 2 {
            continue;
        }
        // Rows of this node grouped by their bin of feature f.
        let mut by_bin: Vec<Vec<usize>> = vec![Vec::new(); nb];
        for &i in rows {
            by_bin[p.bins[f][i] as usize].push(i);
        }
        left.cells.iter_mut().for_each(|v| *v = 0.0);
        right.cells.copy_from_slice(&total.cells);
        let mut n_left = 0;
        for (b, bin_rows) in by_bin.iter().enumerate().take(nb - 1) {
            for &i in bin_rows {
                left.add(p, i, 1.0);
                right.add(p, i, -1.0);
            }
            n_left += bin_rows.len();
            if n_left < min || bin_rows.is_empty() {
                continue;
            }
            if rows.len() - n_left < min {
                break;
            }
            let (lv, _, _) = left.best_split(p, min);
            let (rv, _, _) = right.best_split(p, min);
            if lv + rv > best.0 {
                best = (lv + rv, Some((f, b)));
            }
        }
    }
    match best.1 {
        None => (base_tree, base_value),
        Some((f, b)) => {
            let threshold = p.cuts[f][b];
            let (l, r) = split_rows(p, rows, f, threshold);
            let (lt, lv) = depth1(p, &l, opts);
            let (rt, rv) = depth1(p, &r, opts);
            let tree = match (&lt, &rt) {
                (PolicyTree::Leaf { arm: x }, PolicyTree::Leaf { arm: y }) if x == y => lt,
                _ => PolicyTree::Split {
                    feature: f,
                    threshold,
                    left: Box::new(lt),
                    right: Box::new(rt),
                },
            };
            (tree, lv + rv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewards where arm 1 pays only for x0 > 0.5 and x1 ≤ 0.2, arm 2 only
    /// for x0 ≤ 0.5; the exact depth-2 tree recovers both cuts.
    #[test]
    fn depth_two_recovers_a_planted_policy() {
        let n = 400;
        let x0: Vec<f64> = (0..n).map(|i| (i % 20) as f64 / 20.0).collect();
        let x1: Vec<f64> = (0..n).map(|i| (i / 20) as f64 / 20.0).collect();
        let mut rewards = Vec::new();
        for i in 0..n {
            let (a, b) = (x0[i], x1[i]);
            rewards.extend([
                0.0,
                if a > 0.5 && b <= 0.2 { 1.0 } else { -1.0 },
                if a <= 0.5 { 0.5 } else { -0.5 },
            ]);
        }
        let p = Problem::new(&rewards, 3, &[&x0, &x1], 32);
        let rows: Vec<usize> = (0..n).collect();
        let opts = TreeOptions {
            depth: 2,
            grid: 32,
            min_leaf: 1,
        };
        let (tree, value) = fit(&p, &rows, &opts);
        let oracle: f64 = (0..n)
            .map(|i| {
                let (a, b) = (x0[i], x1[i]);
                if a <= 0.5 {
                    0.5
                } else if b <= 0.2 {
                    1.0
                } else {
                    0.0
                }
            })
            .sum();
        assert_eq!(value, oracle);
        for i in 0..n {
            let arm = tree.assign(|f| [x0[i], x1[i]][f]);
            let r = &rewards[i * 3..i * 3 + 3];
            assert_eq!(r[arm], r.iter().cloned().fold(f64::MIN, f64::max));
        }
        assert_eq!(tree.depth(), 2);
        // Depth 1 cannot do as well; depth 0 picks the best single arm.
        let (_, v1) = fit(&p, &rows, &TreeOptions { depth: 1, ..opts });
        assert!(v1 < oracle);
        let (leaf, _) = fit(&p, &rows, &TreeOptions { depth: 0, ..opts });
        assert!(matches!(leaf, PolicyTree::Leaf { .. }));
        // Depth 3 (hybrid) is never worse than depth 2.
        let (_, v3) = fit(&p, &rows, &TreeOptions { depth: 3, ..opts });
        assert!(v3 >= value);
    }

    /// A split that would leave fewer than min_leaf units is not taken.
    #[test]
    fn min_leaf_is_respected() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let mut rewards = Vec::new();
        for i in 0..10 {
            rewards.extend([0.0, if i == 9 { 2.0 } else { -3.0 }]);
        }
        let p = Problem::new(&rewards, 2, &[&x], 32);
        let rows: Vec<usize> = (0..10).collect();
        let opts = TreeOptions {
            depth: 1,
            grid: 32,
            min_leaf: 1,
        };
        let (t, v) = fit(&p, &rows, &opts);
        assert_eq!(v, 2.0);
        assert!(matches!(t, PolicyTree::Split { .. }));
        let (t, v) = fit(
            &p,
            &rows,
            &TreeOptions {
                min_leaf: 2,
                ..opts
            },
        );
        assert_eq!(v, 0.0);
        assert_eq!(t, PolicyTree::Leaf { arm: 0 });
    }

    #[test]
    fn cut_points_on_a_grid() {
        assert_eq!(cut_points(&[3.0, 1.0, 2.0, 2.0], 8), vec![1.0, 2.0]);
        let many: Vec<f64> = (0..1000).map(f64::from).collect();
        let c = cut_points(&many, 9);
        assert_eq!(c.len(), 9);
        assert_eq!(c[0], 100.0);
        assert!(cut_points(&[1.0, 1.0], 4).is_empty());
    }
}
