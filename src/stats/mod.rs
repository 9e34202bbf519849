//! Pure statistics for holdout-based lift: sufficient statistics per arm, and
//! the tests that consume them.
//!
//! This module does no I/O and knows nothing of DataFrames. The DataFrame
//! world reduces each arm × metric × segment to one small struct from
//! [`moments`] (mergeable, so partial aggregates from chunks, days or a
//! warehouse combine exactly); every test takes two [`ArmSummary`] values
//! and returns a serializable result record, or a [`StatsError`] saying why
//! it cannot (never a silent NaN).
//!
//! Conventions, shared by every file here:
//! * `control` is the holdout, `treatment` got the flow; an *absolute*
//!   effect is treatment − control, a *relative* effect is
//!   treatment / control − 1 (with CUPED: (adjusted treatment − adjusted
//!   control) / unadjusted control, as gbstats does).
//! * Two-arm t-type tests (Welch, delta method, Bayesian, sequential)
//!   require n ≥ 2 in each arm and a positive variance in at least one: an
//!   arm with zero variance (no buyers yet) beside one without is a defined
//!   comparison, computed as scipy's `ttest_ind(equal_var=False)` does
//!   (gbstats refuses it).
//! * The headline a report shows is chosen per metric kind in [`headline`]:
//!   randomization inference for means ([`randomization`]), score intervals
//!   for proportions ([`score`]).
//! * Reference implementations, matched by unit tests whose constants come
//!   from `tests/reference/stats_reference.py`: scipy, statsmodels and
//!   GrowthBook's gbstats.
//!
//! Code map: [`moments`] (sufficient statistics) → [`cuped`] (regression
//! adjustment) → [`frequentist`] / [`relative`] / [`proportions`] /
//! [`bayes`] / [`sequential`] (two-arm tests; [`randomization`], [`score`]
//! and [`headline`] for what a report leads with) → [`multiple`] (across a
//! family of segments); [`srm`] checks the split, [`power`] plans the run.

use serde::Serialize;

pub mod bayes;
pub mod cuped;
mod dist;
pub mod error;
pub mod frequentist;
pub mod headline;
pub mod moments;
pub mod multiple;
pub mod power;
pub mod proportions;
pub mod randomization;
pub mod relative;
pub mod score;
pub mod sequential;
pub mod srm;
#[cfg(test)]
mod testutil;

pub use bayes::{bayesian_test, BayesianResult, Prior};
pub use cuped::{cuped_adjust, pooled_theta, CupedAdjustment};
pub use error::{Arm, StatsError};
pub use frequentist::{t_test, welch_df, welch_test, FrequentistResult};
pub use headline::{mean_headlines, proportion_headlines, ratio_headlines, Headline};
pub use moments::{
    summarize_pair, ArmSummary, CentralMoments, Proportion, Ratio, RegressionAdjusted, SampleMean,
    Summarize,
};
pub use multiple::{adjust_p_values, benjamini_hochberg, holm, Correction};
pub use power::{
    days_for_effect, days_for_relative_effect, minimum_detectable_effect, power_at, DurationResult,
    MdeResult, PowerDesign,
};
pub use proportions::{newcombe_interval, two_proportion_test, wilson_interval, ProportionTest};
pub use randomization::{
    kohavi_minimum_n, randomization_distribution, scale_interval, shift_interval,
};
pub use relative::{delta_method_test, fieller_interval, FiellerInterval, FiellerResult};
pub use score::{score_difference, score_ratio};
pub use sequential::{sequential_test, SequentialResult};
pub use srm::{srm_test, SrmResult, SRM_P_THRESHOLD};

/// Which effect a test reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectScale {
    /// treatment − control, in the metric's units.
    Absolute,
    /// treatment / control − 1.
    Relative,
}

/// A closed interval `[lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// `estimate ± half_width`.
    pub fn around(estimate: f64, half_width: f64) -> Self {
        Interval {
            lower: estimate - half_width,
            upper: estimate + half_width,
        }
    }

    /// Whether `value` lies inside the interval.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}
