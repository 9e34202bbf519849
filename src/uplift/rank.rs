//! Uplift ranking diagnostics with scikit-uplift's definitions
//! (`sklift.metrics`, version 0.5.1): the uplift and Qini curves and their
//! normalized areas (`uplift_auc_score`, `qini_auc_score`), uplift@k
//! (`uplift_at_k`, strategies `overall` and `by_group`) and uplift by
//! decile (`uplift_by_percentile`, strategy `overall`). The curves go back
//! to Radcliffe (2007), "Using control groups to target on predicted lift"
//! (Qini) and Rzepakowski & Jaroszewicz (2012) (uplift curve).
//!
//! Inputs: `y` (0/1 outcomes; the curves are defined for any number, the
//! perfect curves only for 0/1), `uplift` (a score, higher = target first)
//! and `treated`, all of one length. Units are ordered by descending score,
//! ties in descending input position (numpy's stable ascending argsort,
//! reversed); the curves have one point per distinct score. A figure that
//! scikit-uplift would give as NaN (an empty group) is `None` here.
//!
//! Areas are trapezoids over the curve minus the straight line to its end
//! point (random targeting), divided by the same for the perfect curve.
//! Tested against scikit-uplift to 1e-9 (this file's tests, on the inputs
//! and figures `tests/reference/uplift_reference.py` wrote).

/// `uplift_at_k`'s strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The top k share of all units; treated mean minus control mean there.
    Overall,
    /// The top k share of the treated and, separately, of the controls.
    ByGroup,
}

/// Positions by descending score, ties by descending position.
fn descending(uplift: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..uplift.len()).collect();
    // `+ 0.0` makes −0 equal to 0, as numpy compares them.
    order.sort_by(|&i, &j| {
        (uplift[j] + 0.0)
            .total_cmp(&(uplift[i] + 0.0))
            .then(j.cmp(&i))
    });
    order
}

/// Cumulative (units, treated, treated outcome, control outcome) at the
/// last position of each distinct score, in descending order.
fn cumulative(y: &[f64], uplift: &[f64], treated: &[bool]) -> Vec<(f64, f64, f64, f64)> {
    let order = descending(uplift);
    let mut out = Vec::new();
    let (mut nt, mut yt, mut yc) = (0.0, 0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        if treated[i] {
            nt += 1.0;
            yt += y[i];
        } else {
            yc += y[i];
        }
        let last = pos + 1 == order.len() || uplift[order[pos + 1]] != uplift[i];
        if last {
            out.push(((pos + 1) as f64, nt, yt, yc));
        }
    }
    out
}

fn starting_at_origin(mut x: Vec<f64>, mut v: Vec<f64>) -> Vec<(f64, f64)> {
    if x.is_empty() || v[0] != 0.0 || x[0] != 0.0 {
        x.insert(0, 0.0);
        v.insert(0, 0.0);
    }
    x.into_iter().zip(v).collect()
}

/// The uplift curve: at each cut, (treated rate − control rate) × units
/// targeted (a rate is 0 for an empty group), starting at (0, 0).
pub fn uplift_curve(y: &[f64], uplift: &[f64], treated: &[bool]) -> Vec<(f64, f64)> {
    let cum = cumulative(y, uplift, treated);
    let x: Vec<f64> = cum.iter().map(|c| c.0).collect();
    let v = cum
        .iter()
        .map(|&(n, nt, yt, yc)| {
            let nc = n - nt;
            let rt = if nt != 0.0 { yt / nt } else { 0.0 };
            let rc = if nc != 0.0 { yc / nc } else { 0.0 };
            (rt - rc) * n
        })
        .collect();
    starting_at_origin(x, v)
}

/// The Qini curve: treated outcomes − control outcomes × treated / control
/// units among those targeted (the second term 0 with no control yet).
pub fn qini_curve(y: &[f64], uplift: &[f64], treated: &[bool]) -> Vec<(f64, f64)> {
    let cum = cumulative(y, uplift, treated);
    let x: Vec<f64> = cum.iter().map(|c| c.0).collect();
    let v = cum
        .iter()
        .map(|&(n, nt, yt, yc)| {
            let nc = n - nt;
            yt - yc * if nc != 0.0 { nt / nc } else { 0.0 }
        })
        .collect();
    starting_at_origin(x, v)
}

/// The best possible uplift curve (scikit-uplift's `perfect_uplift_curve`).
pub fn perfect_uplift_curve(y: &[f64], treated: &[bool]) -> Vec<(f64, f64)> {
    let cr = y
        .iter()
        .zip(treated)
        .filter(|(&v, &t)| v == 1.0 && !t)
        .count();
    let tn = y
        .iter()
        .zip(treated)
        .filter(|(&v, &t)| v == 0.0 && t)
        .count();
    let score: Vec<f64> = y
        .iter()
        .zip(treated)
        .map(|(&v, &t)| {
            let t = f64::from(u8::from(t));
            let summand = if cr > tn { v } else { t };
            2.0 * f64::from(u8::from(v == t)) + summand
        })
        .collect();
    uplift_curve(y, &score, treated)
}

/// The best possible Qini curve; with `negative_effect`, the one that also
/// puts the control responders last (scikit-uplift's `perfect_qini_curve`).
pub fn perfect_qini_curve(y: &[f64], treated: &[bool], negative_effect: bool) -> Vec<(f64, f64)> {
    if negative_effect {
        let score: Vec<f64> = y
            .iter()
            .zip(treated)
            .map(|(&v, &t)| if t { v } else { -v })
            .collect();
        return qini_curve(y, &score, treated);
    }
    let (mut nt, mut yt, mut nc, mut yc) = (0.0, 0.0, 0.0, 0.0);
    for (&v, &t) in y.iter().zip(treated) {
        if t {
            nt += 1.0;
            yt += v;
        } else {
            nc += 1.0;
            yc += v;
        }
    }
    let ratio = yt - nt * yc / nc;
    vec![(0.0, 0.0), (ratio, ratio), (y.len() as f64, ratio)]
}

/// Trapezoidal area under a curve (`sklearn.metrics.auc` on increasing x).
pub fn auc(curve: &[(f64, f64)]) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

fn normalized_area(actual: &[(f64, f64)], perfect: &[(f64, f64)]) -> Option<f64> {
    // sklearn's auc refuses a curve whose x runs both ways (the perfect Qini
    // curve without negative effects when treatment lowers the outcome).
    if perfect.windows(2).any(|w| w[1].0 < w[0].0) {
        return None;
    }
    let &(xe, ye) = perfect.last()?;
    let baseline = auc(&[(0.0, 0.0), (xe, ye)]);
    let best = auc(perfect) - baseline;
    let got = auc(actual) - baseline;
    let score = got / best;
    score.is_finite().then_some(score)
}

/// Area between the Qini curve and random targeting, over the same for the
/// perfect Qini curve (`qini_auc_score`); `None` when undefined.
pub fn qini_auc_score(
    y: &[f64],
    uplift: &[f64],
    treated: &[bool],
    negative_effect: bool,
) -> Option<f64> {
    normalized_area(
        &qini_curve(y, uplift, treated),
        &perfect_qini_curve(y, treated, negative_effect),
    )
}

/// The same for the uplift curve (`uplift_auc_score`).
pub fn uplift_auc_score(y: &[f64], uplift: &[f64], treated: &[bool]) -> Option<f64> {
    normalized_area(
        &uplift_curve(y, uplift, treated),
        &perfect_uplift_curve(y, treated),
    )
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for v in values {
        s += v;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// Treated mean − control mean among the top `k` share (0 < k < 1) by score
/// (`uplift_at_k`); sizes are floored like scikit-uplift's `int(n * k)`.
pub fn uplift_at_k(
    y: &[f64],
    uplift: &[f64],
    treated: &[bool],
    strategy: Strategy,
    k: f64,
) -> Option<f64> {
    if !(k > 0.0 && k < 1.0) {
        return None;
    }
    let order = descending(uplift);
    match strategy {
        Strategy::Overall => {
            let size = (y.len() as f64 * k) as usize;
            let top = &order[..size];
            let t = mean(top.iter().filter(|&&i| treated[i]).map(|&i| y[i]))?;
            let c = mean(top.iter().filter(|&&i| !treated[i]).map(|&i| y[i]))?;
            Some(t - c)
        }
        Strategy::ByGroup => {
            let nt = treated.iter().filter(|&&t| t).count();
            let nc = treated.len() - nt;
            let (st, sc) = ((nt as f64 * k) as usize, (nc as f64 * k) as usize);
            let t = mean(
                order
                    .iter()
                    .filter(|&&i| treated[i])
                    .take(st)
                    .map(|&i| y[i]),
            )?;
            let c = mean(
                order
                    .iter()
                    .filter(|&&i| !treated[i])
                    .take(sc)
                    .map(|&i| y[i]),
            )?;
            Some(t - c)
        }
    }
}

/// One tenth of the units by descending score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecileRow {
    /// `0-10`, `10-20`, ...
    pub percentile: String,
    pub n_treatment: usize,
    pub n_control: usize,
    pub response_rate_treatment: Option<f64>,
    pub response_rate_control: Option<f64>,
    pub uplift: Option<f64>,
}

/// Units by descending score cut into ten bins as `numpy.array_split` cuts
/// (the first `n mod 10` bins one unit larger); per bin, each group's mean
/// outcome and their difference (`uplift_by_percentile`, `overall`).
pub fn uplift_by_decile(y: &[f64], uplift: &[f64], treated: &[bool]) -> Vec<DecileRow> {
    const BINS: usize = 10;
    let order = descending(uplift);
    let n = order.len();
    if n <= BINS {
        return Vec::new();
    }
    let (base, extra) = (n / BINS, n % BINS);
    let mut out = Vec::with_capacity(BINS);
    let mut at = 0;
    for b in 0..BINS {
        let size = base + usize::from(b < extra);
        let bin = &order[at..at + size];
        at += size;
        let rate = |group: bool| {
            let members: Vec<f64> = bin
                .iter()
                .filter(|&&i| treated[i] == group)
                .map(|&i| y[i])
                .collect();
            (members.len(), mean(members.into_iter()))
        };
        let (n_treatment, rt) = rate(true);
        let (n_control, rc) = rate(false);
        out.push(DecileRow {
            percentile: format!("{}-{}", b * 10, (b + 1) * 10),
            n_treatment,
            n_control,
            response_rate_treatment: rt,
            response_rate_control: rc,
            uplift: rt.zip(rc).map(|(t, c)| t - c),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-checked case: scores put the treated responder first and the
    /// control responder last, which is the perfect order.
    #[test]
    fn perfect_order_scores_one() {
        let y = [1.0, 0.0, 0.0, 1.0];
        let t = [true, true, false, false];
        let s = [4.0, 3.0, 2.0, 1.0];
        assert_eq!(qini_curve(&y, &s, &t)[1], (1.0, 1.0));
        assert_eq!(qini_auc_score(&y, &s, &t, true), Some(1.0));
        assert_eq!(uplift_at_k(&y, &s, &t, Strategy::ByGroup, 0.5), Some(1.0));
        // Overall: the top 2 are both treated, so no control mean.
        assert_eq!(uplift_at_k(&y, &s, &t, Strategy::Overall, 0.5), None);
    }

    fn close(got: Option<f64>, want: &serde_json::Value, what: &str) {
        match (got, want.as_f64()) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}: {g} vs {w}"),
            (None, None) => {}
            (g, _) => panic!("{what}: {g:?} vs {want}"),
        }
    }

    /// scikit-uplift 0.5.1's figures on fixed inputs, to 1e-9.
    #[test]
    fn matches_scikit_uplift() {
        let reference: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/reference/data/uplift_metrics.json"
        ))
        .unwrap();
        let ks: Vec<f64> = reference["ks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_f64().unwrap())
            .collect();
        let cases = reference["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let floats = |key: &str| -> Vec<f64> {
                c[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            };
            let y = floats("y");
            let s = floats("uplift");
            let t: Vec<bool> = floats("treatment").iter().map(|&v| v == 1.0).collect();
            close(qini_auc_score(&y, &s, &t, true), &c["qini_auc"], name);
            close(
                qini_auc_score(&y, &s, &t, false),
                &c["qini_auc_no_negative"],
                name,
            );
            close(uplift_auc_score(&y, &s, &t), &c["uplift_auc"], name);
            for (strategy, key) in [
                (Strategy::Overall, "uplift_at_k_overall"),
                (Strategy::ByGroup, "uplift_at_k_by_group"),
            ] {
                for (j, &k) in ks.iter().enumerate() {
                    close(
                        uplift_at_k(&y, &s, &t, strategy, k),
                        &c[key][j],
                        &format!("{name} {key} k={k}"),
                    );
                }
            }
            for (key, curve) in [
                ("qini_curve", qini_curve(&y, &s, &t)),
                ("uplift_curve", uplift_curve(&y, &s, &t)),
            ] {
                let want = c[key].as_array().unwrap();
                assert_eq!(curve.len(), want.len(), "{name} {key}");
                for (got, w) in curve.iter().zip(want) {
                    close(Some(got.0), &w[0], key);
                    close(Some(got.1), &w[1], key);
                }
            }
            let deciles = uplift_by_decile(&y, &s, &t);
            let want = c["deciles"].as_array().unwrap();
            assert_eq!(deciles.len(), want.len());
            for (d, w) in deciles.iter().zip(want) {
                assert_eq!(d.percentile, w["percentile"].as_str().unwrap());
                assert_eq!(d.n_treatment as u64, w["n_treatment"].as_u64().unwrap());
                assert_eq!(d.n_control as u64, w["n_control"].as_u64().unwrap());
                close(d.uplift, &w["uplift"], &format!("{name} {}", d.percentile));
            }
        }
    }
}
