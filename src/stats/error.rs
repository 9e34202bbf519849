//! Why a statistic or test could not be computed.
//!
//! Every degenerate input (too few units, no variance, a zero baseline for a
//! relative lift, a parameter out of range) is an error value here rather
//! than a NaN in a result: a report must be able to say *why* a cell is
//! empty.

use std::fmt;

use serde::Serialize;

/// Which side of a two-arm comparison an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The holdout / baseline arm (gbstats' `stat_a`).
    Control,
    /// The arm that received the flow (gbstats' `stat_b`).
    Treatment,
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arm::Control => "control",
            Arm::Treatment => "treatment",
        })
    }
}

/// Errors from the statistics layer. Messages are written for the person
/// reading a lift report, not for the programmer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The error happened while looking at one arm; `source` says what.
    #[error("{arm} arm: {source}")]
    InArm {
        arm: Arm,
        #[source]
        source: Box<StatsError>,
    },

    #[error("no units observed")]
    NoUnits,

    #[error("{n} unit(s) observed; at least {needed} are needed to estimate a variance")]
    TooFewUnits { n: f64, needed: u32 },

    #[error("the metric has zero variance (every unit has the same value), so no test statistic can be formed")]
    ZeroVariance,

    #[error("the combined standard error is zero, so no test statistic can be formed")]
    ZeroStandardError,

    #[error(
        "the control mean is zero, so the relative lift (treatment / control - 1) is undefined"
    )]
    ZeroControlMean,

    #[error("the ratio's denominator sums to zero, so the ratio metric is undefined")]
    ZeroDenominator,

    #[error("invalid {name} = {value}: expected {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },

    #[error("invalid sufficient statistic: {reason}")]
    InvalidStatistic { reason: &'static str },

    #[error("{what} is not a finite number")]
    NonFinite { what: &'static str },

    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },

    #[error("{what} needs at least {needed} entries, got {got}")]
    TooFewEntries {
        what: &'static str,
        needed: usize,
        got: usize,
    },
}

impl StatsError {
    /// Attach the arm this error was found in.
    pub fn in_arm(self, arm: Arm) -> Self {
        StatsError::InArm {
            arm,
            source: Box::new(self),
        }
    }
}

/// Check that `value` is finite, naming it in the error otherwise.
pub(crate) fn ensure_finite(value: f64, what: &'static str) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NonFinite { what })
    }
}

/// Check a significance level: strictly between 0 and 1.
pub(crate) fn ensure_alpha(alpha: f64) -> Result<f64, StatsError> {
    ensure_open_unit(
        alpha,
        "alpha",
        "a significance level strictly between 0 and 1",
    )
}

/// Check that `value` lies strictly between 0 and 1.
pub(crate) fn ensure_open_unit(
    value: f64,
    name: &'static str,
    expected: &'static str,
) -> Result<f64, StatsError> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(StatsError::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

/// Check that `value` is finite and strictly positive.
pub(crate) fn ensure_positive(
    value: f64,
    name: &'static str,
    expected: &'static str,
) -> Result<f64, StatsError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(StatsError::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_context_reads_as_a_sentence() {
        let err = StatsError::TooFewUnits { n: 1.0, needed: 2 }.in_arm(Arm::Control);
        assert_eq!(
            err.to_string(),
            "control arm: 1 unit(s) observed; at least 2 are needed to estimate a variance"
        );
    }

    #[test]
    fn alpha_must_be_inside_the_unit_interval() {
        assert!(ensure_alpha(0.05).is_ok());
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(
                ensure_alpha(bad),
                Err(StatsError::InvalidParameter { name: "alpha", .. })
            ));
        }
    }
}
