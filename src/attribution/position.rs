//! Position based (U-shaped): 40 % to the first touch, 40 % to the last and
//! 20 % spread over the touches between, because openers and closers are
//! the touches marketers believe matter most.

use super::{credit_by_touch_weights, AttributionModel, Credit, PathSet};

/// 40/20/40 position-based credit; one touch gets 100 %, two get 50/50.
#[derive(Debug, Clone, Copy, Default)]
pub struct PositionBased;

/// Share of the first and of the last touch on paths of three or more.
const END_SHARE: f64 = 0.4;

impl AttributionModel for PositionBased {
    fn name(&self) -> String {
        "position_based".to_owned()
    }

    fn attribute(&self, paths: &PathSet) -> Credit {
        credit_by_touch_weights(self.name(), paths, |path, w| {
            position_weights(path.touches.len(), w)
        })
    }
}

/// Fills `w` with the 40/20/40 weights of a path of `n` touches.
fn position_weights(n: usize, w: &mut Vec<f64>) {
    match n {
        0 => {}
        1 => w.push(1.0),
        2 => w.extend([0.5, 0.5]),
        _ => {
            let middle = (1.0 - 2.0 * END_SHARE) / (n - 2) as f64;
            w.resize(n, middle);
            w[0] = END_SHARE;
            w[n - 1] = END_SHARE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::test_support::*;

    #[test]
    fn weights_follow_the_40_20_40_rule() {
        let mut w = Vec::new();
        for (n, expected) in [
            (1, vec![1.0]),
            (2, vec![0.5, 0.5]),
            (3, vec![0.4, 0.2, 0.4]),
            (4, vec![0.4, 0.1, 0.1, 0.4]),
        ] {
            w.clear();
            position_weights(n, &mut w);
            assert_close(&w, &expected, 1e-15);
        }
    }

    #[test]
    fn credits_small_set() {
        let credit = assert_invariants(&PositionBased, &small_set());
        // a>b>c ×2, a>a>b ×1, c ×1, b>c>a>b ×3.
        let a = 0.8 + 0.6 + 0.3;
        let b = 0.4 + 0.4 + 2.4;
        let c = 0.8 + 1.0 + 0.3;
        assert_close(&credit.conversions, &[a, b, c], 1e-12);
    }

    #[test]
    fn matches_numpy_reference() {
        let set = reference_set();
        let credit = assert_invariants(&PositionBased, &set);
        let expected = &reference_values()["numpy_reference"]["position_based"];
        assert_matches_reference(&credit, &set.channels, expected, 1e-9);
    }
}
