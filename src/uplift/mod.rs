//! Learned, cost-aware targeting on a randomized test: which units should
//! get which arm, valued honestly.
//!
//! Table mode (`cartlift policy --units`): one row per randomized unit with
//! its arm, an outcome and covariates. The pipeline:
//!
//! 1. `features`: covariates → a numeric matrix (text columns become one
//!    indicator per category).
//! 2. `outcome`: per arm, a boosted-tree model of the outcome, cross-fitted
//!    over K folds stratified by arm (each unit predicted by models that
//!    never saw it).
//! 3. `value`: doubly robust (AIPW) scores of every arm for every unit, with
//!    the arms' shares as the randomization probabilities; the net reward of
//!    arm a is `value_per_unit · Γ(a) − cost_per_treated · 1{a ≠ control}`.
//! 4. `tree`: a policy tree of depth ≤ 3 maximizing the summed net reward.
//! 5. Honest value: the tree-learning procedure is itself cross-validated
//!    (for each fold, a tree learned on the other folds assigns the fold's
//!    units), so the mean net reward of the assigned arms estimates the
//!    value of the procedure on units it never saw; with `--split-col` the
//!    tree and models are learned on the `train` part and everything is
//!    reported on the `test` part.
//! 6. `rank`: uplift ranking diagnostics of scikit-uplift (Qini and uplift
//!    curves and areas, uplift@k, uplift by decile) and the gain of treating
//!    the top share by predicted uplift over treating the same share at
//!    random, on the reporting part.

pub mod carts;
pub mod features;
pub mod next;
pub mod outcome;
pub mod rank;
pub mod render;
pub mod tree;
pub mod value;

use crate::stats::Interval;
use anyhow::{bail, Context, Result};
use features::{Feature, Features};
use outcome::OutcomeModel;
use polars::prelude::*;
use rayon::prelude::*;
use tree::{PolicyTree, Problem, TreeOptions};
use value::{aipw_scores, cross_validated_estimate, mean_estimate, stratified_folds, Estimate};

/// Settings of table mode.
#[derive(Debug, Clone)]
pub struct TableOptions {
    pub arm_col: String,
    pub control: String,
    pub metric: String,
    /// Cost of giving a unit any arm other than the control, in the units of
    /// `value_per_unit × metric`.
    pub cost_per_treated: f64,
    /// Money per unit of the metric (1: the policy maximizes the metric).
    pub value_per_unit: f64,
    pub covariates: Vec<String>,
    /// Column with `train` / `test` per row.
    pub split_col: Option<String>,
    /// Cross-fitting folds (≥ 2).
    pub folds: usize,
    /// Policy tree depth, 0 to 3.
    pub depth: usize,
    /// Cut points per feature for the tree search.
    pub grid: usize,
    /// Fewest units per leaf, as a share of the training units.
    pub min_leaf_share: f64,
    /// The arm running today (default: the control).
    pub current: Option<String>,
    pub alpha: f64,
    pub seed: u64,
    /// How units are ranked for the ranking diagnostics.
    pub ranker: Ranker,
    /// Depth of every boosted tree of the outcome and effect models (1:
    /// additive models of the covariates); None: [`outcome::default_depth`].
    pub model_depth: Option<usize>,
    /// The design's arm weights (ARM, weight), when known: the
    /// randomization probabilities are these normalized; else each arm's
    /// share of the part being scored.
    pub weights: Option<Vec<(String, f64)>>,
}

/// The predicted uplift the ranking diagnostics sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Ranker {
    /// μ̂_arm(x) − μ̂_control(x) from the two outcome models (the T-learner).
    TLearner,
    /// A boosted regression of the doubly robust score difference
    /// Γ(arm) − Γ(control) on the covariates (the DR-learner of Kennedy
    /// 2023, "Towards optimal doubly robust estimation of heterogeneous
    /// causal effects"), cross-fitted like the outcome models.
    DrLearner,
}

/// Shares of the ranking diagnostics reported as top-k policies.
pub const TOP_SHARES: [f64; 4] = [0.1, 0.2, 0.3, 0.5];

/// One arm of the test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArmInfo {
    pub name: String,
    /// Units in the training part (all units without `--split-col`).
    pub train_units: usize,
    /// Its share there: the randomization probability used in the scores.
    pub propensity: f64,
}

/// A named estimate of value per unit (net of cost) or of a gain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Valued {
    pub name: String,
    #[serde(flatten)]
    pub value: Estimate,
}

/// The policy tree with names in place of indices.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeView {
    Leaf {
        arm: String,
    },
    Split {
        /// `column` (numeric, `≤ threshold` goes left) or `column=value`
        /// (a category: units without the value go left).
        feature: String,
        column: String,
        /// For a category split: the value that goes right.
        #[serde(skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        threshold: f64,
        left: Box<TreeView>,
        right: Box<TreeView>,
    },
}

/// What the evidence supports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    /// `policy_tree`, `treat_all:<arm>` or `keep:<arm>`.
    pub recommend: String,
    pub reason: String,
}

/// Top share by predicted uplift against the same share at random.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopShare {
    pub share: f64,
    /// Per reporting unit: value of treating the top share minus treating a
    /// random share of the same size (metric units × value_per_unit).
    pub gain_over_random: Estimate,
}

/// Ranking diagnostics of one treatment arm against the control.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ranking {
    pub arm: String,
    pub units: usize,
    pub qini_auc: Option<f64>,
    pub uplift_auc: Option<f64>,
    /// uplift@k at k = 0.3, strategies of scikit-uplift.
    pub uplift_at_30_by_group: Option<f64>,
    pub uplift_at_30_overall: Option<f64>,
    pub deciles: Vec<rank::DecileRow>,
    pub top_shares: Vec<TopShare>,
    /// The Qini curve at up to 101 points: (units targeted, incremental outcomes).
    pub qini_curve: Vec<(f64, f64)>,
}

/// Everything table mode reports (the JSON's shape).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpliftReport {
    pub source: String,
    pub metric: String,
    pub control: String,
    pub current: String,
    pub cost_per_treated: f64,
    pub value_per_unit: f64,
    pub arms: Vec<ArmInfo>,
    pub features: Vec<String>,
    pub folds: usize,
    pub seed: u64,
    pub alpha: f64,
    pub depth: usize,
    pub min_leaf: usize,
    pub ranker: Ranker,
    /// Depth of the outcome and effect models' trees.
    pub model_depth: usize,
    pub train_units: usize,
    /// `held-out folds` or `test part`.
    pub reported_on: String,
    pub report_units: usize,
    pub tree: TreeView,
    /// The tree's value per unit, then each arm given to every unit.
    pub values: Vec<Valued>,
    /// The tree's gain over the control, over the best single arm, over today.
    pub gains: Vec<Valued>,
    /// The single arm with the highest net score on all training units
    /// (the comparator on a test part; held-out folds each use their own).
    pub best_single_arm: String,
    /// The chosen tree's value on the very units it was learned from (optimistic; for contrast).
    pub same_data_value: f64,
    pub decision: Decision,
    pub rankings: Vec<Ranking>,
    /// Per reporting unit, for `--scores`: input row, predicted uplift per
    /// treatment arm, and the tree's arm.
    #[serde(skip)]
    pub scores: Vec<ScoreRow>,
}

/// One row of `--scores`.
#[derive(Debug, Clone)]
pub struct ScoreRow {
    /// 0-based position of the unit in the input table.
    pub row: usize,
    pub uplift: Vec<f64>,
    pub policy_arm: usize,
}

pub use crate::lift::units::read_table;

fn text_column(df: &DataFrame, name: &str, what: &str, source: &str) -> Result<Vec<String>> {
    let col = df
        .column(name)
        .map_err(|_| anyhow::anyhow!("{source}: {what} {name}: no such column"))?
        .cast(&DataType::String)?;
    Ok(col
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").trim().to_string())
        .collect())
}

/// Table mode on a recipients table already read (`source` names it in errors).
pub fn run_table(df: &DataFrame, source: &str, opts: &TableOptions) -> Result<UpliftReport> {
    if !(2..=20).contains(&opts.folds) {
        bail!("--folds: expected 2 to 20, got {}", opts.folds);
    }
    if opts.depth > 3 {
        bail!("--depth: expected 0 to 3, got {}", opts.depth);
    }
    if opts.covariates.is_empty() {
        bail!("--covariates: expected at least one column");
    }
    for (i, c) in opts.covariates.iter().enumerate() {
        if opts.covariates[..i].contains(c) {
            bail!(
                "--covariates: `{}` is named twice; expected each column once",
                crate::output::encode::terminal(c)
            );
        }
    }
    let arm_text = text_column(df, &opts.arm_col, "--arm-col", source)?;
    let y = crate::lift::units::numeric_column(df, &opts.metric, source)?;
    let binary = y.iter().all(|&v| v == 0.0 || v == 1.0);
    let model_depth = opts.model_depth.unwrap_or(outcome::default_depth(binary));
    let x = features::read_features(df, &opts.covariates, source)?;

    // Arms: the control first, then the others sorted.
    let mut arms: Vec<String> = arm_text.clone();
    arms.sort();
    arms.dedup();
    let Some(c) = arms.iter().position(|a| *a == opts.control) else {
        bail!(
            "--control {}: no unit has this arm in column `{}` (arms found: {})",
            opts.control,
            opts.arm_col,
            arms.join(", ")
        );
    };
    let control = arms.remove(c);
    arms.insert(0, control);
    if arms.len() < 2 {
        bail!("{source}: only the control arm is present; a policy needs at least one other arm");
    }
    let current = match &opts.current {
        None => 0,
        Some(name) => arms.iter().position(|a| a == name).with_context(|| {
            format!("--current {name}: no such arm (arms: {})", arms.join(", "))
        })?,
    };
    let arm_of: Vec<usize> = arm_text
        .iter()
        .map(|a| arms.iter().position(|x| x == a).expect("arm listed"))
        .collect();

    let design: Option<Vec<f64>> = match &opts.weights {
        None => None,
        Some(w) => {
            let mut out = Vec::with_capacity(arms.len());
            for arm in &arms {
                let Some((_, weight)) = w.iter().find(|(a, _)| a == arm) else {
                    bail!(
                        "--weights: arm `{arm}` is in {source} but has no weight (weights given for {})",
                        w.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
                    );
                };
                out.push(*weight);
            }
            let total: f64 = out.iter().sum();
            Some(out.into_iter().map(|x| x / total).collect())
        }
    };

    // Parts.
    let (train, test): (Vec<usize>, Option<Vec<usize>>) = match &opts.split_col {
        None => ((0..df.height()).collect(), None),
        Some(col) => {
            let part = text_column(df, col, "--split-col", source)?;
            let (mut train, mut test) = (Vec::new(), Vec::new());
            for (i, p) in part.iter().enumerate() {
                match p.as_str() {
                    "train" => train.push(i),
                    "test" => test.push(i),
                    other => bail!(
                        "{source}: line {}: --split-col {col} has {:?}; expected train or test",
                        i + 2,
                        crate::output::encode::terminal(other)
                    ),
                }
            }
            (train, Some(test))
        }
    };
    let k_arms = arms.len();
    let counts = |rows: &[usize]| {
        let mut c = vec![0usize; k_arms];
        for &i in rows {
            c[arm_of[i]] += 1;
        }
        c
    };
    let train_counts = counts(&train);
    for (a, &n) in train_counts.iter().enumerate() {
        if n < 2 * opts.folds {
            bail!(
                "{source}: arm `{}` has {n} training units; expected at least {} (two per fold)",
                arms[a],
                2 * opts.folds
            );
        }
    }
    let propensity: Vec<f64> = design.clone().unwrap_or_else(|| {
        train_counts
            .iter()
            .map(|&n| n as f64 / train.len() as f64)
            .collect()
    });
    let net = |g: f64, a: usize| {
        opts.value_per_unit * g - if a == 0 { 0.0 } else { opts.cost_per_treated }
    };

    // Cross-fitted outcome models on the training part.
    let xt = x.subset(&train);
    let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
    let at: Vec<usize> = train.iter().map(|&i| arm_of[i]).collect();
    let n = train.len();
    let fold = stratified_folds(&at, k_arms, opts.folds, opts.seed);
    let mut mu = vec![0.0; n * k_arms];
    // One model per (fold, arm), fitted in parallel: each is independent of
    // the others and single-threaded, so the result does not depend on the
    // number of threads.
    let jobs: Vec<(usize, usize)> = (0..opts.folds)
        .flat_map(|f| (0..k_arms).map(move |a| (f, a)))
        .collect();
    let fitted: Vec<(usize, usize, Vec<usize>, Vec<f64>)> = jobs
        .par_iter()
        .map(|&(f, a)| -> Result<_> {
            let held: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
            let fit_rows: Vec<usize> = (0..n).filter(|&i| fold[i] != f && at[i] == a).collect();
            let model = OutcomeModel::fit(&xt, &yt, &fit_rows, binary, model_depth)
                .with_context(|| format!("arm {} fold {}", arms[a], f + 1))?;
            let predicted = model.predict(&xt, &held);
            Ok((f, a, held, predicted))
        })
        .collect::<Result<_>>()?;
    for (_, a, held, predicted) in fitted {
        for (&i, p) in held.iter().zip(predicted) {
            mu[i * k_arms + a] = p;
        }
    }
    let gamma = aipw_scores(&yt, &at, &mu, &propensity);
    let rewards: Vec<f64> = gamma
        .iter()
        .enumerate()
        .map(|(j, &g)| net(g, j % k_arms))
        .collect();
    let columns: Vec<&[f64]> = (0..xt.features.len()).map(|f| xt.column(f)).collect();
    let problem = Problem::new(&rewards, k_arms, &columns, opts.grid);
    let min_leaf = ((opts.min_leaf_share * n as f64).ceil() as usize).max(1);
    let topts = TreeOptions {
        depth: opts.depth,
        grid: opts.grid,
        min_leaf,
    };
    let all_rows: Vec<usize> = (0..n).collect();
    let (tree, in_sample) = tree::fit(&problem, &all_rows, &topts);
    let same_data_value = in_sample / n as f64;
    let best_single = |rows: &[usize]| {
        let mut sums = vec![0.0; k_arms];
        for &i in rows {
            for (a, s) in sums.iter_mut().enumerate() {
                *s += rewards[i * k_arms + a];
            }
        }
        let mut best = 0;
        for a in 1..k_arms {
            if sums[a] > sums[best] {
                best = a;
            }
        }
        best
    };

    // The reporting part: its net rewards, the tree's arm and the best
    // single arm for each unit, and predicted outcomes under every arm.
    let (report_rewards, assigned, uniform, report_mu, report_y, report_arm, report_rows);
    let reported_on;
    match &test {
        None => {
            // Cross-validated procedure: each fold assigned by a tree (and a
            // best single arm) learned on the other folds.
            let mut a_of = vec![0; n];
            let mut u_of = vec![0; n];
            // The folds' trees are independent searches: in parallel.
            let per_fold: Vec<(PolicyTree, usize)> = (0..opts.folds)
                .into_par_iter()
                .map(|f| {
                    let learn: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
                    let (t, _) = tree::fit(&problem, &learn, &topts);
                    (t, best_single(&learn))
                })
                .collect();
            for (f, (t, u)) in per_fold.into_iter().enumerate() {
                for i in (0..n).filter(|&i| fold[i] == f) {
                    a_of[i] = t.assign(|c| xt.get(i, c));
                    u_of[i] = u;
                }
            }
            report_rewards = rewards.clone();
            assigned = a_of;
            uniform = u_of;
            report_mu = mu.clone();
            report_y = yt.clone();
            report_arm = at.clone();
            report_rows = train.clone();
            reported_on = "held-out folds".to_string();
        }
        Some(test) => {
            if test.is_empty() {
                bail!("{source}: --split-col: no row is marked test");
            }
            let xs = x.subset(test);
            let m = test.len();
            let mut mu_t = vec![0.0; m * k_arms];
            let every: Vec<usize> = (0..m).collect();
            let fitted: Vec<Vec<f64>> = (0..k_arms)
                .into_par_iter()
                .map(|a| -> Result<_> {
                    let fit_rows: Vec<usize> = (0..n).filter(|&i| at[i] == a).collect();
                    let model = OutcomeModel::fit(&xt, &yt, &fit_rows, binary, model_depth)
                        .with_context(|| format!("arm {}", arms[a]))?;
                    Ok(model.predict(&xs, &every))
                })
                .collect::<Result<_>>()?;
            for (a, predicted) in fitted.into_iter().enumerate() {
                for (i, p) in predicted.into_iter().enumerate() {
                    mu_t[i * k_arms + a] = p;
                }
            }
            let ys: Vec<f64> = test.iter().map(|&i| y[i]).collect();
            let as_: Vec<usize> = test.iter().map(|&i| arm_of[i]).collect();
            let test_counts = counts(test);
            if let Some(a) = test_counts.iter().position(|&c| c == 0) {
                bail!("{source}: arm `{}` has no unit in the test part", arms[a]);
            }
            let p_test: Vec<f64> = design
                .clone()
                .unwrap_or_else(|| test_counts.iter().map(|&c| c as f64 / m as f64).collect());
            let g = aipw_scores(&ys, &as_, &mu_t, &p_test);
            report_rewards = g
                .iter()
                .enumerate()
                .map(|(j, &v)| net(v, j % k_arms))
                .collect::<Vec<f64>>();
            assigned = (0..m).map(|i| tree.assign(|c| xs.get(i, c))).collect();
            let u = best_single(&all_rows);
            uniform = vec![u; m];
            report_mu = mu_t;
            report_y = ys;
            report_arm = as_;
            report_rows = test.clone();
            reported_on = "test part".to_string();
        }
    }
    let m = report_rows.len();
    let r = |i: usize, a: usize| report_rewards[i * k_arms + a];
    let est = |name: String, v: Vec<f64>| -> Result<Valued> {
        let value = mean_estimate(&v, opts.alpha)
            .with_context(|| format!("{name}: too few units to estimate"))?;
        Ok(Valued { name, value })
    };
    // What a policy learned per fold assigns: on held-out folds its
    // interval also counts the spread between the folds' policies
    // (`cross_validated_estimate`); on a test part there is one policy.
    let learned = |name: String, v: Vec<f64>| -> Result<Valued> {
        let value = match &test {
            None => cross_validated_estimate(&v, &fold, opts.folds, opts.alpha),
            Some(_) => mean_estimate(&v, opts.alpha),
        }
        .with_context(|| format!("{name}: too few units to estimate"))?;
        Ok(Valued { name, value })
    };
    let mut values = vec![learned(
        "policy_tree".into(),
        (0..m).map(|i| r(i, assigned[i])).collect(),
    )?];
    for (a, name) in arms.iter().enumerate() {
        values.push(est(
            format!("treat_all:{name}"),
            (0..m).map(|i| r(i, a)).collect(),
        )?);
    }
    let gain = |against: &dyn Fn(usize) -> usize| -> Vec<f64> {
        (0..m)
            .map(|i| r(i, assigned[i]) - r(i, against(i)))
            .collect()
    };
    let gains = vec![
        learned(format!("over_control:{}", arms[0]), gain(&|_| 0))?,
        learned("over_best_single_arm".into(), gain(&|i| uniform[i]))?,
        learned(
            format!("over_current:{}", arms[current]),
            gain(&|_| current),
        )?,
    ];
    let single_vs_current = learned(
        "best_single_over_current".into(),
        (0..m).map(|i| r(i, uniform[i]) - r(i, current)).collect(),
    )?;
    let decision = decide(
        &gains,
        &single_vs_current,
        &arms,
        current,
        best_single(&all_rows),
        &tree,
        opts.alpha,
    );

    // Predicted uplift of each treatment arm for the reporting units.
    let mut taus: Vec<Vec<f64>> = Vec::new();
    for a in 1..k_arms {
        taus.push(match opts.ranker {
            Ranker::TLearner => (0..m)
                .map(|i| report_mu[i * k_arms + a] - report_mu[i * k_arms])
                .collect(),
            Ranker::DrLearner => {
                let d: Vec<f64> = (0..n)
                    .map(|i| gamma[i * k_arms + a] - gamma[i * k_arms])
                    .collect();
                let effect = |fit_rows: &[usize]| {
                    OutcomeModel::fit_with(
                        &xt,
                        &d,
                        fit_rows,
                        false,
                        &outcome::Boosting {
                            max_depth: model_depth,
                            ..outcome::EFFECT
                        },
                    )
                    .with_context(|| format!("effect model of arm {}", arms[a]))
                };
                match &test {
                    None => {
                        let mut tau = vec![0.0; n];
                        let per_fold: Vec<(Vec<usize>, Vec<f64>)> = (0..opts.folds)
                            .into_par_iter()
                            .map(|f| -> Result<_> {
                                let fit_rows: Vec<usize> =
                                    (0..n).filter(|&i| fold[i] != f).collect();
                                let held: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
                                let predicted = effect(&fit_rows)?.predict(&xt, &held);
                                Ok((held, predicted))
                            })
                            .collect::<Result<_>>()?;
                        for (held, predicted) in per_fold {
                            for (&i, p) in held.iter().zip(predicted) {
                                tau[i] = p;
                            }
                        }
                        tau
                    }
                    Some(test) => {
                        let xs = x.subset(test);
                        let every: Vec<usize> = (0..m).collect();
                        effect(&all_rows)?.predict(&xs, &every)
                    }
                }
            }
        });
    }

    // Ranking diagnostics per treatment arm, on the reporting part.
    let mut rankings = Vec::new();
    for a in 1..k_arms {
        let tau = &taus[a - 1];
        let pair: Vec<usize> = (0..m)
            .filter(|&i| report_arm[i] == a || report_arm[i] == 0)
            .collect();
        let py: Vec<f64> = pair.iter().map(|&i| report_y[i]).collect();
        let pt: Vec<bool> = pair.iter().map(|&i| report_arm[i] == a).collect();
        let pu: Vec<f64> = pair.iter().map(|&i| tau[i]).collect();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&i, &j| tau[j].total_cmp(&tau[i]).then(i.cmp(&j)));
        let mut top_shares = Vec::new();
        for share in TOP_SHARES {
            let cut = (share * m as f64).round() as usize;
            let mut top = vec![false; m];
            for &i in &order[..cut] {
                top[i] = true;
            }
            let v: Vec<f64> = (0..m)
                .map(|i| {
                    let indicator = f64::from(u8::from(top[i]));
                    (indicator - cut as f64 / m as f64) * (r(i, a) - r(i, 0))
                })
                .collect();
            if let Some(g) = mean_estimate(&v, opts.alpha) {
                top_shares.push(TopShare {
                    share,
                    gain_over_random: g,
                });
            }
        }
        let curve = rank::qini_curve(&py, &pu, &pt);
        rankings.push(Ranking {
            arm: arms[a].clone(),
            units: pair.len(),
            // The perfect curves that normalize the areas exist for 0/1
            // outcomes only (scikit-uplift refuses any other).
            qini_auc: binary
                .then(|| rank::qini_auc_score(&py, &pu, &pt, true))
                .flatten(),
            uplift_auc: binary
                .then(|| rank::uplift_auc_score(&py, &pu, &pt))
                .flatten(),
            uplift_at_30_by_group: rank::uplift_at_k(&py, &pu, &pt, rank::Strategy::ByGroup, 0.3),
            uplift_at_30_overall: rank::uplift_at_k(&py, &pu, &pt, rank::Strategy::Overall, 0.3),
            deciles: rank::uplift_by_decile(&py, &pu, &pt),
            top_shares,
            qini_curve: thin(&curve, 101),
        });
    }

    let scores = (0..m)
        .map(|i| ScoreRow {
            row: report_rows[i],
            uplift: taus.iter().map(|t| t[i]).collect(),
            policy_arm: assigned[i],
        })
        .collect();
    Ok(UpliftReport {
        source: source.to_string(),
        metric: opts.metric.clone(),
        control: arms[0].clone(),
        current: arms[current].clone(),
        cost_per_treated: opts.cost_per_treated,
        value_per_unit: opts.value_per_unit,
        arms: arms
            .iter()
            .zip(&train_counts)
            .zip(&propensity)
            .map(|((name, &units), &p)| ArmInfo {
                name: name.clone(),
                train_units: units,
                propensity: p,
            })
            .collect(),
        features: x.features.iter().map(Feature::name).collect(),
        folds: opts.folds,
        seed: opts.seed,
        alpha: opts.alpha,
        depth: opts.depth,
        min_leaf,
        ranker: opts.ranker,
        model_depth,
        train_units: n,
        reported_on,
        report_units: m,
        tree: view(&tree, &x, &arms),
        values,
        gains,
        best_single_arm: arms[best_single(&all_rows)].clone(),
        same_data_value,
        decision,
        rankings,
        scores,
    })
}

/// The evidence rule: the tree only if its gain over the best single arm
/// and over today's arm both have a lower bound above zero; else the best
/// single arm if its gain over today's has; else keep today's arm.
///
/// The rule has two ways to a change (the tree; one arm for everyone), so
/// each is tested at one-sided `alpha / 4` (Bonferroni over the two; the
/// tree's two bounds form an intersection–union test, which needs no
/// correction: Berger 1982): the lower bound is `estimate − z · SE` with
/// `z` the standard normal's `1 − alpha/4` quantile (2.241 at `alpha` =
/// 0.05), the lower end of a two-sided `1 − alpha/2` interval. When no
/// change helps, the rule recommends one in at most `alpha / 2` of
/// experiments.
pub fn rule_lower_bound(v: &Estimate, alpha: f64) -> f64 {
    let z = -statrs::distribution::ContinuousCDF::inverse_cdf(
        &statrs::distribution::Normal::standard(),
        alpha / 4.0,
    );
    v.estimate - z * v.standard_error
}

fn decide(
    gains: &[Valued],
    single_vs_current: &Valued,
    arms: &[String],
    current: usize,
    best_single: usize,
    tree: &PolicyTree,
    alpha: f64,
) -> Decision {
    let lb = |v: &Valued| rule_lower_bound(&v.value, alpha);
    let level = format!(
        "; bounds at one-sided {}%, alpha/4 for each of the two ways to a change",
        alpha / 4.0 * 100.0
    );
    let (over_single, over_current) = (&gains[1], &gains[2]);
    if tree.depth() > 0 && lb(over_single) > 0.0 && lb(over_current) > 0.0 {
        return Decision {
            recommend: "policy_tree".into(),
            reason: format!(
                "the tree's gain over the best single arm has lower bound {:.6} > 0 and over today's arm {:.6} > 0",
                lb(over_single),
                lb(over_current)
            ) + &level,
        };
    }
    if best_single != current && lb(single_vs_current) > 0.0 {
        return Decision {
            recommend: format!("treat_all:{}", arms[best_single]),
            reason: format!(
                "the tree does not beat one arm for everyone (lower bound {:.6}); giving everyone `{}` beats today's `{}` with lower bound {:.6} > 0",
                lb(over_single),
                arms[best_single],
                arms[current],
                lb(single_vs_current)
            ) + &level,
        };
    }
    let tree_part = if tree.depth() == 0 {
        "the tree has no split".to_string()
    } else if lb(over_current) > 0.0 {
        format!(
            "the tree beats today's arm (lower bound {:.6}) but not the best single arm (lower bound {:.6})",
            lb(over_current),
            lb(over_single)
        )
    } else {
        format!(
            "the tree's gain over today's arm has lower bound {:.6}",
            lb(over_current)
        )
    };
    let single_part = if best_single == current {
        format!("`{}` is also the best single arm", arms[current])
    } else {
        format!(
            "giving everyone `{}` has lower bound {:.6}",
            arms[best_single],
            lb(single_vs_current)
        )
    };
    Decision {
        recommend: format!("keep:{}", arms[current]),
        reason: format!(
            "no candidate clears the rule against today's `{}`: {tree_part}; {single_part}{level}",
            arms[current]
        ),
    }
}

fn view(t: &PolicyTree, x: &Features, arms: &[String]) -> TreeView {
    match t {
        PolicyTree::Leaf { arm } => TreeView::Leaf {
            arm: arms[*arm].clone(),
        },
        PolicyTree::Split {
            feature,
            threshold,
            left,
            right,
        } => {
            let f = &x.features[*feature];
            let (column, category) = match f {
                Feature::Numeric { column } => (column.clone(), None),
                Feature::Category { column, value } => (column.clone(), Some(value.clone())),
            };
            TreeView::Split {
                feature: f.name(),
                column,
                category,
                threshold: *threshold,
                left: Box::new(view(left, x, arms)),
                right: Box::new(view(right, x, arms)),
            }
        }
    }
}

/// At most `points` points of a curve, evenly spaced by index, ends kept.
fn thin(curve: &[(f64, f64)], points: usize) -> Vec<(f64, f64)> {
    if curve.len() <= points {
        return curve.to_vec();
    }
    let last = curve.len() - 1;
    (0..points)
        .map(|k| curve[k * last / (points - 1)])
        .collect()
}

/// Interval helper for the renderer.
pub fn shown_interval(ci: &Interval) -> String {
    format!("[{:+.6}, {:+.6}]", ci.lower, ci.upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valued(name: &str, estimate: f64, se: f64) -> Valued {
        Valued {
            name: name.into(),
            value: Estimate {
                estimate,
                standard_error: se,
                ci: Interval::around(estimate, 1.959964 * se),
                n: 1000,
            },
        }
    }

    /// Each of the rule's two ways to a change is tested at one-sided
    /// alpha/4: a gain 2.1 standard errors above zero clears a 95%
    /// interval's lower end but not the rule's, one 2.3 above clears both.
    #[test]
    fn each_way_to_a_change_is_tested_at_alpha_over_four() {
        let arms: Vec<String> = ["holdout", "reminders", "discount"]
            .map(String::from)
            .to_vec();
        let tree = PolicyTree::Split {
            feature: 0,
            threshold: 1.0,
            left: Box::new(PolicyTree::Leaf { arm: 1 }),
            right: Box::new(PolicyTree::Leaf { arm: 2 }),
        };
        let decide_with = |z: f64, single_z: f64| {
            let gains = vec![
                valued("over_control", 5.0, 1.0),
                valued("over_best_single_arm", z, 1.0),
                valued("over_current", z, 1.0),
            ];
            decide(
                &gains,
                &valued("single", single_z, 1.0),
                &arms,
                1,
                2,
                &tree,
                0.05,
            )
            .recommend
        };
        assert!(gains_lower(2.1) > 0.0, "a 95% interval excludes 0");
        assert_eq!(decide_with(2.1, 2.1), "keep:reminders");
        assert_eq!(decide_with(2.3, 2.1), "policy_tree");
        assert_eq!(decide_with(2.1, 2.3), "treat_all:discount");
        let reason = decide(
            &[
                valued("a", 5.0, 1.0),
                valued("b", 3.0, 1.0),
                valued("c", 3.0, 1.0),
            ],
            &valued("single", 0.0, 1.0),
            &arms,
            1,
            2,
            &tree,
            0.05,
        )
        .reason;
        assert!(reason.contains("one-sided 1.25%"), "{reason}");
        let bound = rule_lower_bound(&valued("x", 3.0, 1.0).value, 0.05);
        assert!((bound - (3.0 - 2.241403)).abs() < 1e-6, "{bound}");
    }

    fn gains_lower(z: f64) -> f64 {
        valued("x", z, 1.0).value.ci.lower
    }
}
