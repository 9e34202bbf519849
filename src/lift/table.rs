//! The lift report as a readable terminal table (the same numbers as the JSON).

use super::{LiftReport, LiftResult};
use std::fmt::Write;

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

/// `estimate [lower, upper]`, or `withheld` (the reason is printed below
/// the table).
fn shown(h: &crate::stats::Headline, f: fn(f64) -> String) -> String {
    match (h.estimate, h.ci) {
        (Some(e), Some(ci)) => format!("{} [{}, {}]", f(e), f(ci.lower), f(ci.upper)),
        _ => "withheld".into(),
    }
}

fn segment_name(r: &LiftResult) -> String {
    if r.segment.dimension == "all" {
        "all".to_string()
    } else {
        format!("{}={}", r.segment.dimension, r.segment.value)
    }
}

/// Notes under the table: withheld headlines, Kohavi's check, capped results.
fn notes(r: &LiftResult) -> Vec<String> {
    let at = format!("{} {} {}", r.metric, segment_name(r), r.treatment);
    let mut out = Vec::new();
    for (what, h) in [
        ("difference", &r.headline),
        ("relative", &r.headline_relative),
    ] {
        if let Some(why) = &h.withheld {
            if r.control.is_some() {
                out.push(format!("{at}: {what} withheld: {why}"));
            }
        }
    }
    if let Some(g) = &r.guidance {
        if let Some(note) = &g.note {
            out.push(format!(
                "{at}: buyers {:.0} / {:.0} (control / treatment); {note}",
                g.control.buyers, g.treatment.buyers
            ));
        }
    }
    if let Some(c) = &r.capped {
        out.push(format!(
            "{at}: capped at the pooled 99.9th percentile: difference {}, relative {}",
            shown(&c.headline, num),
            shown(&c.headline_relative, pct)
        ));
    }
    out
}

fn row(r: &LiftResult) -> String {
    let seg = if r.segment.dimension == "all" {
        "all".to_string()
    } else {
        format!("{}={}", r.segment.dimension, r.segment.value)
    };
    let (Some(c), Some(t)) = (&r.control, &r.treatment_arm) else {
        return format!(
            "{:<30} {:<22} {:<10} {}\n",
            r.metric,
            seg,
            r.treatment,
            r.error.as_deref().unwrap_or("not computed")
        );
    };
    let abs = shown(&r.headline, num);
    let rel = shown(&r.headline_relative, pct);
    let p = super::p_value(r)
        .map(|p| format!("{p:.4}"))
        .unwrap_or_default();
    let holm = r
        .p_value_holm
        .map(|p| format!("{p:.4}"))
        .unwrap_or_default();
    let win = r
        .bayesian
        .as_ref()
        .map(|b| format!("{:.1}%", b.chance_to_win * 100.0))
        .unwrap_or_default();
    let flag = match &r.guardrail {
        Some(g) => format!(
            "  {:.3}% per message (limit {:.3}%){}",
            g.rate_per_message * 100.0,
            g.threshold * 100.0,
            if g.breached {
                " GUARDRAIL BREACHED"
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    format!(
        "{:<30} {:<22} {:<10} {:>10} {:>10} {:<34} {:<28} {:>7} {:>7} {:>7}{}\n",
        r.metric,
        seg,
        r.treatment,
        num(c.unadjusted_mean),
        num(t.unadjusted_mean),
        abs,
        rel,
        p,
        holm,
        win,
        flag
    )
}

pub fn render(report: &LiftReport) -> String {
    let mut s = String::new();
    let units: Vec<String> = report
        .units
        .iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect();
    let _ = writeln!(s, "units (customers): {}", units.join(", "));
    if let Some(srm) = &report.srm {
        let _ = writeln!(
            s,
            "sample ratio check: chi² {:.3}, p {:.4}{}",
            srm.chi_square,
            srm.p_value,
            if srm.flag {
                "  SAMPLE RATIO MISMATCH: do not trust these results"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        "\n{:<30} {:<22} {:<10} {:>10} {:>10} {:<34} {:<28} {:>7} {:>7} {:>7}",
        "metric",
        "segment",
        "arm",
        "control",
        "treatment",
        "difference [95% CI]",
        "relative [95% CI]",
        "p",
        "p_holm",
        "P(win)"
    );
    for r in &report.results {
        s.push_str(&row(r));
    }
    let notes: Vec<String> = report.results.iter().flat_map(notes).collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    s
}
