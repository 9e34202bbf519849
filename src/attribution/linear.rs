//! Linear: every touch gets an equal share, repeats included, so a channel
//! touched twice on a path gets twice the share of one touched once.

use super::{credit_by_touch_weights, AttributionModel, Credit, PathSet};

/// Each touch of a converting path gets `1 / touches` of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linear;

impl AttributionModel for Linear {
    fn name(&self) -> String {
        "linear".to_owned()
    }

    fn attribute(&self, paths: &PathSet) -> Credit {
        credit_by_touch_weights(self.name(), paths, |path, w| {
            let n = path.touches.len();
            w.resize(n, 1.0 / n as f64);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    #[test]
    fn splits_evenly_over_touches_with_repeats() {
        let credit = assert_invariants(&Linear, &small_set());
        // a>b>c ×2: 2/3 each; a>a>b ×1: a 2/3, b 1/3; c ×1; b>c>a>b ×3: b 1.5, c .75, a .75.
        let a = 2.0 / 3.0 + 2.0 / 3.0 + 0.75;
        let b = 2.0 / 3.0 + 1.0 / 3.0 + 1.5;
        let c = 2.0 / 3.0 + 1.0 + 0.75;
        assert_close(&credit.conversions, &[a, b, c], 1e-12);
    }

    #[test]
    fn matches_channel_attribution_heuristic_models() {
        let set = reference_set();
        let credit = assert_invariants(&Linear, &set);
        let expected = &reference_values()["channel_attribution"]["heuristics"]["linear"];
        assert_matches_reference(&credit, &set.channels, expected, 1e-9);
    }
}
