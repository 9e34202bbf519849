//! Outcome models μ_a(x) = E[Y | X = x, A = a], one per arm, as gradient-
//! boosted trees (the `forust-ml` crate: XGBoost's second-order histogram
//! boosting, Chen & Guestrin 2016). A 0/1 outcome is fit with log loss and
//! predicted as a probability; any other outcome with squared loss.
//!
//! The settings are fixed and deliberately conservative (shallow trees,
//! shrinkage, a minimum hessian per leaf): the models only need to remove
//! predictable variance from the doubly robust scores, whose validity does
//! not rest on them (the randomization probabilities are known). Their
//! depth by default ([`default_depth`]) follows the outcome: stumps for a
//! 0/1 outcome (a model additive on the log-odds scale, like a logistic
//! regression; on the Hillstrom e-mail test they ranked customers better
//! than depth 2 or 3 on four of five train/test splits, README "On the
//! Hillstrom e-mail test"), depth 3 for money (a net contribution is a
//! value times a probability: the covariates interact). `--model-depth`
//! sets it.

use super::features::Features;
use anyhow::{anyhow, Result};
use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};

/// Depth of the models' trees unless `--model-depth` says otherwise: 1
/// (additive) for a 0/1 outcome, 3 for any other.
pub fn default_depth(binary: bool) -> usize {
    if binary {
        1
    } else {
        3
    }
}

/// Settings of one boosted model.
#[derive(Debug, Clone, Copy)]
pub struct Boosting {
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    /// Hessian a leaf needs: log-loss hessians are p(1 − p), so 5 is about
    /// 50 units at a 10% rate; squared-loss hessians are 1 (units).
    pub min_leaf_hessian: f32,
}

/// Outcome models of a 0/1 outcome (log loss).
pub const OUTCOME_BINARY: Boosting = Boosting {
    iterations: 100,
    learning_rate: 0.1,
    max_depth: 3,
    min_leaf_hessian: 5.0,
};

/// Outcome models of any other outcome (squared loss).
pub const OUTCOME_CONTINUOUS: Boosting = Boosting {
    iterations: 100,
    learning_rate: 0.1,
    max_depth: 3,
    min_leaf_hessian: 50.0,
};

/// The effect model of the DR-learner: its target (a difference of doubly
/// robust scores) is far noisier than an outcome, so it learns slowly from
/// large leaves.
pub const EFFECT: Boosting = Boosting {
    iterations: 100,
    learning_rate: 0.05,
    max_depth: 3,
    min_leaf_hessian: 500.0,
};

/// A fitted model of one arm's outcome.
pub enum OutcomeModel {
    /// The training outcomes were all equal (nothing to learn).
    Constant(f64),
    Boosted {
        gbm: Box<GradientBooster>,
        binary: bool,
    },
}

impl OutcomeModel {
    /// Fits on `rows` of `x` with outcomes `y` (indexed like `x`'s rows),
    /// trees `depth` deep.
    pub fn fit(
        x: &Features,
        y: &[f64],
        rows: &[usize],
        binary: bool,
        depth: usize,
    ) -> Result<OutcomeModel> {
        let settings = if binary {
            OUTCOME_BINARY
        } else {
            OUTCOME_CONTINUOUS
        };
        let settings = Boosting {
            max_depth: depth,
            ..settings
        };
        Self::fit_with(x, y, rows, binary, &settings)
    }

    /// The same with explicit settings (log loss when `binary`).
    pub fn fit_with(
        x: &Features,
        y: &[f64],
        rows: &[usize],
        binary: bool,
        settings: &Boosting,
    ) -> Result<OutcomeModel> {
        if rows.is_empty() {
            return Ok(OutcomeModel::Constant(0.0));
        }
        let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let first = ys[0];
        if ys.iter().all(|&v| v == first) || x.features.is_empty() {
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            return Ok(OutcomeModel::Constant(mean));
        }
        let sub = x.subset(rows);
        let matrix = Matrix::new(&sub.data, sub.rows, sub.features.len());
        let objective = if binary {
            ObjectiveType::LogLoss
        } else {
            ObjectiveType::SquaredLoss
        };
        let mut gbm = GradientBooster::default()
            .set_objective_type(objective)
            .set_iterations(settings.iterations)
            .set_learning_rate(settings.learning_rate)
            .set_max_depth(settings.max_depth)
            .set_min_leaf_weight(settings.min_leaf_hessian)
            .set_l2(1.0)
            .set_parallel(false)
            .set_seed(0);
        gbm.fit_unweighted(&matrix, &ys, None)
            .map_err(|e| anyhow!("outcome model: {e}"))?;
        Ok(OutcomeModel::Boosted {
            gbm: Box::new(gbm),
            binary,
        })
    }

    /// Predictions for `rows` of `x` (probabilities for a 0/1 outcome).
    pub fn predict(&self, x: &Features, rows: &[usize]) -> Vec<f64> {
        match self {
            OutcomeModel::Constant(v) => vec![*v; rows.len()],
            OutcomeModel::Boosted { gbm, binary } => {
                let sub = x.subset(rows);
                let matrix = Matrix::new(&sub.data, sub.rows, sub.features.len());
                let raw = gbm.predict(&matrix, false);
                if *binary {
                    raw.into_iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect()
                } else {
                    raw
                }
            }
        }
    }
}
