//! First touch: the whole conversion goes to the channel that opened the
//! journey.

use super::{credit_by_touch_weights, AttributionModel, Credit, PathSet};

/// All credit to the first touch of each converting path.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstTouch;

impl AttributionModel for FirstTouch {
    fn name(&self) -> String {
        "first_touch".to_owned()
    }

    fn attribute(&self, paths: &PathSet) -> Credit {
        credit_by_touch_weights(self.name(), paths, |path, w| {
            w.resize(path.touches.len(), 0.0);
            w[0] = 1.0;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    #[test]
    fn credits_the_opening_channel() {
        let credit = assert_invariants(&FirstTouch, &small_set());
        // a opens 2+1 conversions, c opens 1, b opens 3 (and a null-only path).
        assert_close(&credit.conversions, &[3.0, 3.0, 1.0], 1e-12);
        assert_close(&credit.value, &[250.0, 90.0, 10.0], 1e-12);
    }

    #[test]
    fn matches_channel_attribution_heuristic_models() {
        let set = reference_set();
        let credit = assert_invariants(&FirstTouch, &set);
        let expected = &reference_values()["channel_attribution"]["heuristics"]["first"];
        assert_matches_reference(&credit, &set.channels, expected, 1e-9);
    }
}
