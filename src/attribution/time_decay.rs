//! Time decay: touches closer to the conversion get more credit, halving
//! every `half_life` seconds, w = 2^(−age / half_life).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{credit_by_touch_weights, AttributionModel, Credit, Path, PathSet};

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Time-decay credit with a configurable half-life.
///
/// Paths without usable touch ages (absent, wrong length or non-finite) are
/// treated as touches one `ageless_step` apart, the last one at the
/// conversion, and the credit carries a note saying how many paths that was.
#[derive(Debug, Clone, Copy)]
pub struct TimeDecay {
    /// Seconds after which a touch's weight halves; 7 days by default.
    pub half_life: f64,
    /// Assumed seconds between touches when ages are missing; one day by
    /// default, the natural unit of a half-life given in days.
    pub ageless_step: f64,
}

impl Default for TimeDecay {
    fn default() -> Self {
        TimeDecay {
            half_life: 7.0 * DAY,
            ageless_step: DAY,
        }
    }
}

impl TimeDecay {
    /// Time decay with the given half-life in seconds (ageless step one day).
    pub fn with_half_life(half_life: f64) -> Self {
        TimeDecay {
            half_life,
            ..TimeDecay::default()
        }
    }

    /// Whether the half-life and step give finite, positive weights; a bad
    /// configuration falls back to the defaults with a note.
    fn sanitized(&self) -> (TimeDecay, Option<String>) {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        if ok(self.half_life) && ok(self.ageless_step) {
            return (*self, None);
        }
        let note = format!(
            "half-life {} s / ageless step {} s is not a positive number of seconds: defaults (7 days, 1 day) used",
            self.half_life, self.ageless_step
        );
        (TimeDecay::default(), Some(note))
    }

    /// Fills `w` with normalized weights; returns whether ages were usable.
    fn fill_weights(&self, path: &Path, w: &mut Vec<f64>) -> bool {
        let n = path.touches.len();
        let ages = path.touch_ages.as_deref().filter(|a| usable_ages(a, n));
        match ages {
            Some(ages) => w.extend(ages.iter().copied()),
            None => w.extend((0..n).rev().map(|i| i as f64 * self.ageless_step)),
        }
        // Measuring ages from the youngest touch leaves the normalized
        // weights unchanged but keeps the largest weight at 1, so old
        // journeys never underflow to 0/0.
        let youngest = w.iter().copied().fold(f64::INFINITY, f64::min);
        w.iter_mut()
            .for_each(|a| *a = (-(*a - youngest) / self.half_life).exp2());
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= total);
        ages.is_some()
    }
}

fn usable_ages(ages: &[f64], touches: usize) -> bool {
    ages.len() == touches && ages.iter().all(|a| a.is_finite())
}

impl AttributionModel for TimeDecay {
    fn name(&self) -> String {
        "time_decay".to_owned()
    }

    fn attribute(&self, paths: &PathSet) -> Credit {
        let (model, config_note) = self.sanitized();
        let ageless = AtomicUsize::new(0);
        let mut credit = credit_by_touch_weights(self.name(), paths, |path, w| {
            if !model.fill_weights(path, w) {
                ageless.fetch_add(1, Ordering::Relaxed);
            }
        });
        credit.notes.extend(config_note);
        let ageless = ageless.into_inner();
        if ageless > 0 {
            credit.notes.push(format!(
                "{ageless} converting path row(s) had no usable touch ages: touches treated as {} s apart, the last at the conversion",
                model.ageless_step
            ));
        }
        credit.details = Some(serde_json::json!({
            "half_life_seconds": model.half_life,
            "ageless_step_seconds": model.ageless_step,
        }));
        credit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    #[test]
    fn ages_one_half_life_apart_halve_the_weight() {
        let mut set = PathSet::from_named(&[(&["a", "b"][..], 3.0, 30.0, 0.0)]);
        set.paths[0].touch_ages = Some(vec![7.0 * DAY, 0.0]);
        let credit = assert_invariants(&TimeDecay::default(), &set);
        assert_close(&credit.conversions, &[1.0, 2.0], 1e-12);
        assert_close(&credit.value, &[10.0, 20.0], 1e-12);
        assert!(credit.notes.is_empty(), "{:?}", credit.notes);
    }

    #[test]
    fn missing_ages_are_one_step_apart_and_noted() {
        let set = PathSet::from_named(&[(&["a", "b", "c"][..], 1.0, 0.0, 0.0)]);
        let model = TimeDecay {
            half_life: 1.0,
            ageless_step: 1.0,
        };
        let credit = assert_invariants(&model, &set);
        assert_close(
            &credit.conversions,
            &[1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0],
            1e-12,
        );
        assert_eq!(credit.notes.len(), 1);
    }

    #[test]
    fn ancient_touches_do_not_underflow() {
        let mut set = PathSet::from_named(&[(&["a", "b"][..], 1.0, 1.0, 0.0)]);
        set.paths[0].touch_ages = Some(vec![1e12, 1e12 - 1.0]);
        let credit = assert_invariants(&TimeDecay::with_half_life(1.0), &set);
        assert_close(&credit.conversions, &[1.0 / 3.0, 2.0 / 3.0], 1e-12);
    }

    #[test]
    fn bad_half_life_falls_back_with_a_note() {
        let credit = assert_invariants(&TimeDecay::with_half_life(-1.0), &small_set());
        assert!(credit.notes.iter().any(|n| n.contains("half-life")));
    }

    #[test]
    fn matches_numpy_reference() {
        let set = reference_set();
        let credit = assert_invariants(&TimeDecay::default(), &set);
        let expected = &reference_values()["numpy_reference"]["time_decay"];
        assert_matches_reference(&credit, &set.channels, expected, 1e-9);
    }
}
