//! Adjusted p-values across a family of tests (segments × metrics of one
//! report), as statsmodels `multipletests`.
//!
//! * Holm (`method="holm"`): step-down Bonferroni; controls the
//!   family-wise error rate under any dependence.
//! * Benjamini–Hochberg (`method="fdr_bh"`): step-up; controls the false
//!   discovery rate for independent or positively dependent tests.
//!
//! The arithmetic follows statsmodels operation for operation (Holm:
//! `p · (m − i)`; BH: `p / ((i + 1) / m)`), so results are bit-identical.
//! Adjusted p-values come back in the input order.

use serde::Serialize;

use super::error::StatsError;

/// Which family-wise correction to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    Holm,
    BenjaminiHochberg,
}

/// Adjust `p_values` with `correction`.
pub fn adjust_p_values(p_values: &[f64], correction: Correction) -> Result<Vec<f64>, StatsError> {
    match correction {
        Correction::Holm => holm(p_values),
        Correction::BenjaminiHochberg => benjamini_hochberg(p_values),
    }
}

fn ensure_p_values(p_values: &[f64]) -> Result<(), StatsError> {
    match p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        Some(&bad) => Err(StatsError::InvalidParameter {
            name: "p-value",
            value: bad,
            expected: "a probability between 0 and 1",
        }),
        None => Ok(()),
    }
}

/// Indices that sort `p_values` ascending.
fn ascending_order(p_values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    order
}

/// Put values computed in sorted order back in input order.
fn unsort(order: &[usize], sorted: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; sorted.len()];
    for (&index, &value) in order.iter().zip(sorted) {
        out[index] = value;
    }
    out
}

/// Holm step-down adjusted p-values.
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    ensure_p_values(p_values)?;
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut running_max = f64::NEG_INFINITY;
    let sorted: Vec<f64> = order
        .iter()
        .enumerate()
        .map(|(i, &index)| {
            running_max = running_max.max(p_values[index] * (m - i) as f64);
            running_max.min(1.0)
        })
        .collect();
    Ok(unsort(&order, &sorted))
}

/// Benjamini–Hochberg step-up adjusted p-values.
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    ensure_p_values(p_values)?;
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut sorted = vec![0.0; m];
    let mut running_min = f64::INFINITY;
    for (i, &index) in order.iter().enumerate().rev() {
        let ecdf = (i + 1) as f64 / m as f64;
        running_min = running_min.min(p_values[index] / ecdf);
        sorted[i] = running_min.min(1.0);
    }
    Ok(unsort(&order, &sorted))
}

#[cfg(test)]
mod tests {
    use super::*;

    // tests/reference/stats_reference.py: statsmodels multipletests(p,
    // method="holm")[1] and method="fdr_bh". (p, holm, bh)
    #[rustfmt::skip]
    const FAMILIES: &[(&[f64], &[f64], &[f64])] = &[
        (&[0.01, 0.04, 0.03, 0.005, 0.2], &[0.04, 0.09, 0.09, 0.025, 0.2], &[0.024999999999999998, 0.049999999999999996, 0.049999999999999996, 0.024999999999999998, 0.2]),
        (&[0.02, 0.02, 0.5, 0.001], &[0.06, 0.06, 0.5, 0.004], &[0.02666666666666667, 0.02666666666666667, 0.5, 0.004]),
        (&[0.3], &[0.3], &[0.3]),
        (&[0.9, 0.6, 0.45, 0.8, 0.7, 0.0001], &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0006000000000000001], &[0.9, 0.9, 0.9, 0.9, 0.9, 0.0006000000000000001]),
        (&[0.0, 1.0, 0.049, 0.051], &[0.0, 1.0, 0.14700000000000002, 0.14700000000000002], &[0.0, 1.0, 0.06799999999999999, 0.06799999999999999]),
    ];

    #[test]
    fn holm_matches_statsmodels_exactly() {
        for (p, expected, _) in FAMILIES {
            assert_eq!(holm(p).expect("valid"), expected.to_vec(), "{p:?}");
        }
    }

    #[test]
    fn benjamini_hochberg_matches_statsmodels_exactly() {
        for (p, _, expected) in FAMILIES {
            assert_eq!(
                benjamini_hochberg(p).expect("valid"),
                expected.to_vec(),
                "{p:?}"
            );
            assert_eq!(
                adjust_p_values(p, Correction::BenjaminiHochberg).expect("valid"),
                expected.to_vec()
            );
        }
    }

    #[test]
    fn adjusted_values_never_fall_below_raw_ones() {
        for (p, _, _) in FAMILIES {
            let holm = holm(p).expect("valid");
            let bh = benjamini_hochberg(p).expect("valid");
            for i in 0..p.len() {
                assert!(holm[i] >= p[i] && bh[i] >= p[i] && holm[i] >= bh[i]);
            }
        }
    }

    #[test]
    fn empty_family_is_empty_and_bad_p_values_are_errors() {
        assert_eq!(holm(&[]).expect("empty"), Vec::<f64>::new());
        assert!(matches!(
            benjamini_hochberg(&[0.1, f64::NAN]),
            Err(StatsError::InvalidParameter {
                name: "p-value",
                ..
            })
        ));
        assert!(holm(&[1.5]).is_err());
    }
}
