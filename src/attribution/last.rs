//! Last touch: the whole conversion goes to the channel that closed the
//! journey — what most email platforms report.

use super::{credit_by_touch_weights, AttributionModel, Credit, PathSet};

/// All credit to the last touch of each converting path.
#[derive(Debug, Clone, Copy, Default)]
pub struct LastTouch;

impl AttributionModel for LastTouch {
    fn name(&self) -> String {
        "last_touch".to_owned()
    }

    fn attribute(&self, paths: &PathSet) -> Credit {
        credit_by_touch_weights(self.name(), paths, |path, w| {
            w.resize(path.touches.len(), 0.0);
            if let Some(last) = w.last_mut() {
                *last = 1.0;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    #[test]
    fn credits_the_closing_channel() {
        let credit = assert_invariants(&LastTouch, &small_set());
        assert_close(&credit.conversions, &[0.0, 4.0, 3.0], 1e-12);
        assert_close(&credit.value, &[0.0, 140.0, 210.0], 1e-12);
    }

    #[test]
    fn matches_channel_attribution_heuristic_models() {
        let set = reference_set();
        let credit = assert_invariants(&LastTouch, &set);
        let expected = &reference_values()["channel_attribution"]["heuristics"]["last"];
        assert_matches_reference(&credit, &set.channels, expected, 1e-9);
    }
}
