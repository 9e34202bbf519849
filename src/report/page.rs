//! `index.html`: one self-contained page (no scripts, no network, inline
//! SVG and CSS) built from the [`Summary`] alone, so every number on it is
//! in `summary.json`. Charts are also written as `charts/NAME.svg` and `.png`.

use super::charts::{self, Chart, Section};
use super::format as f;
use super::funnel::StepFunnel;
use super::raster::Rasterizer;
use super::{Estimate, Headline, Summary};
use crate::lift::LiftResult;
use crate::stats::Interval;
use anyhow::{Context, Result};
use std::fmt::Write;
use std::path::Path;

/// Writes every chart (SVG and PNG) into `out/charts` and the page into `out/index.html`.
pub fn write_report(summary: &Summary, out: &Path) -> Result<()> {
    let charts = charts::all(summary)?;
    write_charts(&charts, &out.join("charts"))?;
    let path = out.join("index.html");
    crate::output::write_bytes(&path, render(summary, &charts).as_bytes())
}

fn write_charts(charts: &[Chart], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let raster = Rasterizer::new();
    if !raster.has_fonts() {
        eprintln!("warning: no system fonts found; chart PNGs are written without text");
    }
    for chart in charts {
        let svg_path = dir.join(format!("{}.svg", chart.name));
        crate::output::write_bytes(&svg_path, chart.svg.as_bytes())?;
        let png_path = dir.join(format!("{}.png", chart.name));
        let png = raster
            .png(&chart.svg)
            .with_context(|| format!("chart {}", chart.name))?;
        crate::output::write_bytes(&png_path, &png)?;
    }
    Ok(())
}

/// The whole page.
pub fn render(summary: &Summary, charts: &[Chart]) -> String {
    let ctx = Ctx {
        summary,
        charts,
        sym: f::symbol(&summary.currency),
    };
    let mut body = String::new();
    for section in SECTIONS {
        body.push_str(&section_html(&ctx, section));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <header class=\"top\"><p class=\"kicker\">cartlift report</p><h1>{title}</h1>\
         <p class=\"lede\">{lede}</p>{nav}</header>\n{body}\
         <footer>cartlift {version} · built from <code>summary.json</code> in this folder</footer>\n\
         </main>\n</body>\n</html>\n",
        title = esc(&format!("{}: what the flow really earns", summary.flow)),
        lede = lede(summary),
        nav = nav(),
        version = esc(summary.cartlift_version),
    )
}

struct Ctx<'a> {
    summary: &'a Summary,
    charts: &'a [Chart],
    sym: String,
}

#[derive(Clone, Copy)]
enum Part {
    Headline,
    Lift,
    Timeline,
    Funnel,
    Attribution,
    Guardrails,
    Audit,
    DataQuality,
    Policy,
    Methodology,
    Stamp,
}

const SECTIONS: [(Part, &str, &str); 11] = [
    (Part::Headline, "headline", "What the flow earned"),
    (Part::Lift, "lift", "Lift by arm and segment"),
    (Part::Timeline, "timeline", "Over time"),
    (Part::Funnel, "funnel", "Step funnel"),
    (
        Part::Attribution,
        "attribution",
        "Attribution against the holdout",
    ),
    (Part::Guardrails, "guardrails", "Guardrails"),
    (Part::Audit, "audit", "Flow audit"),
    (Part::DataQuality, "data-quality", "Data quality"),
    (Part::Policy, "policy", "Incentive and timing policy"),
    (Part::Methodology, "methodology", "Methodology"),
    (Part::Stamp, "stamp", "Reproducibility"),
];

fn nav() -> String {
    let links: String = SECTIONS
        .iter()
        .map(|(_, id, title)| format!("<a href=\"#{id}\">{}</a>", esc(title)))
        .collect();
    format!("<nav>{links}</nav>")
}

fn section_html(ctx: &Ctx, (part, id, title): (Part, &str, &str)) -> String {
    let inner = match part {
        Part::Headline => headline(ctx),
        Part::Lift => lift(ctx),
        Part::Timeline => timeline(ctx),
        Part::Funnel => funnel(ctx),
        Part::Attribution => attribution(ctx),
        Part::Guardrails => guardrails(ctx),
        Part::Audit => audit(ctx),
        Part::DataQuality => data_quality(ctx),
        Part::Policy => policy(ctx),
        Part::Methodology => methodology(ctx),
        Part::Stamp => stamp(ctx),
    };
    format!(
        "<section id=\"{id}\">\n<h2>{}</h2>\n{inner}</section>\n",
        esc(title)
    )
}

fn lede(s: &Summary) -> String {
    let (first, last) = entry_dates(s);
    esc(&format!(
        "{} flow entries{}, measured against a randomized holdout.",
        f::count(s.entries),
        match (first, last) {
            (Some(a), Some(b)) => format!(" entering from {a} to {b}"),
            _ => String::new(),
        }
    ))
}

fn entry_dates(s: &Summary) -> (Option<&str>, Option<&str>) {
    let points = s
        .timeline
        .first()
        .map(|t| t.points.as_slice())
        .unwrap_or(&[]);
    (
        points.first().map(|p| p.date.as_str()),
        points.last().map(|p| p.date.as_str()),
    )
}

// -------------------------------------------------------------- headline

fn headline(ctx: &Ctx) -> String {
    let s = ctx.summary;
    let mut html = String::new();
    if s.headline.is_empty() {
        html.push_str("<p>No treatment arm to compare against the holdout.</p>\n");
    }
    let held = s.lift.units.get(&s.lift.control).copied().unwrap_or(0);
    for h in &s.headline {
        let _ = write!(
            html,
            "<p class=\"lead\">What the <strong>{arm}</strong> earned that would not have happened anyway, \
             from {n} recipients compared with {held} customers held out (<em>{control}</em>):</p>\n\
             <div class=\"cards\">{cards}</div>\n",
            arm = esc(&h.treatment),
            n = f::count(h.recipients),
            held = f::count(held),
            control = esc(&s.lift.control),
            cards = headline_cards(ctx, h),
        );
    }
    if let Some(srm) = s.lift.srm.as_ref().filter(|r| r.flag) {
        let _ = writeln!(
            html,
            "<p class=\"warn\">Sample ratio mismatch: the arms' sizes are unlikely under the configured split \
             (chi-square p = {}). Check assignment before trusting these numbers.</p>",
            f::p_value(srm.p_value)
        );
    }
    html
}

fn headline_cards(ctx: &Ctx, h: &Headline) -> String {
    let sym = &ctx.sym;
    let level = confidence(ctx);
    let money = |e: &Option<Estimate>, d: usize| {
        e.map(|e| {
            (
                f::money(e.estimate, sym, d),
                interval(e.ci, |x| f::money(x, sym, d)),
            )
        })
    };
    let diff = |e: &Option<Estimate>| {
        e.map(|e| {
            (
                f::signed_money(e.estimate, sym, 2),
                interval(e.ci, |x| f::signed_money(x, sym, 2)),
            )
        })
    };
    let points = |e: &Option<Estimate>| e.map(|e| (f::pp(e.estimate), interval(e.ci, f::pp)));
    [
        (
            "Incremental revenue",
            money(&h.incremental_revenue, 0),
            true,
        ),
        (
            "Incremental net contribution",
            money(&h.incremental_net_contribution, 0),
            true,
        ),
        (
            "Revenue per recipient",
            diff(&h.revenue_per_recipient),
            false,
        ),
        ("Conversion rate", points(&h.conversion_rate_lift), false),
    ]
    .into_iter()
    .map(|(label, value, primary)| card(label, value, primary, &level))
    .collect()
}

fn card(label: &str, value: Option<(String, String)>, primary: bool, level: &str) -> String {
    let class = if primary { "card primary" } else { "card" };
    match value {
        Some((v, ci)) => format!(
            "<div class=\"{class}\"><div class=\"label\">{}</div><div class=\"value\">{}</div>\
             <div class=\"ci\">{level}% CI {}</div></div>",
            esc(label),
            esc(&v),
            esc(&ci)
        ),
        None => format!(
            "<div class=\"{class}\"><div class=\"label\">{}</div><div class=\"value na\">not estimable</div></div>",
            esc(label)
        ),
    }
}

fn interval(ci: Interval, fmt: impl Fn(f64) -> String) -> String {
    format!("{} to {}", fmt(ci.lower), fmt(ci.upper))
}

fn confidence(ctx: &Ctx) -> String {
    format!("{:.0}", (1.0 - ctx.summary.lift.alpha) * 100.0)
}

// ------------------------------------------------------------------ lift

fn lift(ctx: &Ctx) -> String {
    let s = ctx.summary;
    let mut html = String::from(
        "<p>Each row is the flow minus the holdout among the same kind of customer, with its confidence \
         interval. An interval that excludes zero is a difference the holdout can vouch for.</p>\n",
    );
    html.push_str(&figures(ctx, Section::Lift));
    let overall: Vec<&LiftResult> = s
        .lift
        .results
        .iter()
        .filter(|r| r.segment.dimension == "all")
        .collect();
    html.push_str("<h3>Every metric, all recipients</h3>\n");
    html.push_str(&lift_table(ctx, &overall));
    let segmented = f::reading_order(
        s.lift
            .results
            .iter()
            .filter(|r| r.segment.dimension != "all"),
    );
    let _ = write!(
        html,
        "<details><summary>Every metric by segment ({} rows)</summary>\n{}</details>\n",
        segmented.len(),
        lift_table(ctx, &segmented)
    );
    let _ = writeln!(
        html,
        "<p class=\"note\">Adjusted p-values account for all {} p-values in this report: Holm controls \
         the chance of any false positive, Benjamini–Hochberg the share of false positives among the \
         differences called.</p>",
        s.lift
            .results
            .iter()
            .filter(|r| r.p_value_holm.is_some())
            .count()
    );
    html
}

fn lift_table(ctx: &Ctx, rows: &[&LiftResult]) -> String {
    let several = ctx.summary.headline.len() > 1;
    let mut head = vec!["metric", "segment"];
    if several {
        head.insert(0, "arm");
    }
    head.extend(["holdout", "flow", "difference", "CI", "p", "p Holm", "p BH"]);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let value = |x: f64| metric_value(&r.metric, x, &ctx.sym, false);
            let diff = |x: f64| metric_value(&r.metric, x, &ctx.sym, true);
            let mut row = vec![esc(&f::metric(&r.metric)), esc(&f::segment(&r.segment))];
            if several {
                row.insert(0, esc(&r.treatment));
            }
            row.push(opt(r.control.as_ref().map(|c| value(c.unadjusted_mean))));
            row.push(opt(r
                .treatment_arm
                .as_ref()
                .map(|t| value(t.unadjusted_mean))));
            row.push(opt(r.headline.estimate.map(diff)));
            row.push(opt(r.headline.ci.map(|ci| interval(ci, diff))));
            row.push(opt(crate::lift::p_value(r).map(f::p_value)));
            row.push(opt(r.p_value_holm.map(f::p_value)));
            row.push(opt(r.p_value_bh.map(f::p_value)));
            row
        })
        .collect();
    let text: Vec<usize> = (0..head.len() - 7).collect();
    aligned_table(&head, &body, &text)
}

/// A metric's value as it reads: money, percent (or points for a difference), or plain.
fn metric_value(metric: &str, x: f64, sym: &str, difference: bool) -> String {
    match metric {
        "revenue_per_recipient" | "net_contribution_per_recipient" if difference => {
            f::signed_money(x, sym, 2)
        }
        "revenue_per_recipient" | "net_contribution_per_recipient" => f::money(x, sym, 2),
        "conversion_rate" | "unsubscribe_rate" | "complaint_rate" if difference => f::pp(x),
        "conversion_rate" | "unsubscribe_rate" | "complaint_rate" => f::percent(x, 2),
        _ if difference => format!("{x:+.4}"),
        _ => format!("{x:.4}"),
    }
}

fn opt(cell: Option<String>) -> String {
    cell.map_or_else(|| "<span class=\"na\">n/a</span>".into(), |c| esc(&c))
}

// -------------------------------------------------------------- timeline

fn timeline(ctx: &Ctx) -> String {
    let mut html = String::from(
        "<p>Revenue per recipient, flow minus holdout, times the recipients so far, over the entries up to \
         each date. The band is an always-valid confidence sequence: it may be checked every day without \
         inflating false alarms, so it is wider than the fixed interval in the headline.</p>\n",
    );
    html.push_str(&figures(ctx, Section::Timeline));
    for t in &ctx.summary.timeline {
        let Some(last) = t
            .points
            .iter()
            .rev()
            .find(|p| p.incremental_revenue.is_some())
        else {
            let _ = writeln!(
                html,
                "<p>{}: too few customers to compare on any date.</p>",
                esc(&t.treatment)
            );
            continue;
        };
        let (Some(v), Some(ci)) = (last.incremental_revenue, last.sequential_ci) else {
            continue;
        };
        let _ = writeln!(
            html,
            "<p class=\"note\">{}: {} by {} ({} recipients, {} held out); confidence sequence {}, tuned to \
             {} units.</p>",
            esc(&t.treatment),
            esc(&f::money(v, &ctx.sym, 0)),
            esc(&last.date),
            f::count(last.recipients),
            f::count(last.holdout),
            esc(&interval(ci, |x| f::money(x, &ctx.sym, 0))),
            f::count(t.planned_units as u64)
        );
    }
    html
}

// ---------------------------------------------------------------- funnel

fn funnel(ctx: &Ctx) -> String {
    let mut html = String::from(
        "<p>Messages per step. <em>Converted after</em> counts messages followed by the entry's order; \
         the holdout's suppressed messages are the ones it would have been sent, and <em>converted \
         anyway</em> the orders that came without them.</p>\n",
    );
    html.push_str(&figures(ctx, Section::Funnel));
    let head = [
        "arm",
        "step",
        "sent",
        "opened",
        "clicked",
        "converted after",
        "suppressed",
        "converted anyway",
    ];
    let mut funnel: Vec<&StepFunnel> = ctx.summary.funnel.iter().collect();
    funnel.sort_by_key(|r| r.holdout);
    let rows: Vec<Vec<String>> = funnel
        .iter()
        .map(|r| {
            vec![
                esc(&r.arm),
                esc(&f::step(r.step)),
                f::count(r.sent),
                f::count(r.opened),
                f::count(r.clicked),
                f::count(r.converted_after_send),
                f::count(r.suppressed),
                f::count(r.converted_after_suppressed),
            ]
        })
        .collect();
    html.push_str(&aligned_table(&head, &rows, &[0, 1]));
    html
}

// ----------------------------------------------------------- attribution

fn attribution(ctx: &Ctx) -> String {
    let mut html = String::from(
        "<p>Attribution models share out the revenue of orders that followed a message; the holdout \
         measures what the messages caused. A ratio of 2.0× means the model credits twice what the flow \
         really earned. Journeys: every message sent, named by step, no lookback.</p>\n",
    );
    html.push_str(&figures(ctx, Section::Attribution));
    for d in &ctx.summary.dashboard {
        let ratio = d
            .over_attribution_ratio
            .map(|r| format!(": <strong>{r:.1}×</strong> what the flow really earned"))
            .unwrap_or_default();
        let inc = d
            .incremental_revenue
            .map(|i| {
                format!(
                    ", against {} incremental from the holdout{ratio}",
                    esc(&f::money(i.estimate, &ctx.sym, 0))
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<p class=\"dashboard\">What an e-mail platform's dashboard shows for <em>{}</em> ({}): <strong>{}</strong> attributed to the flow{inc}.</p>",
            esc(&d.arm),
            esc(d.rule),
            esc(&f::money(d.attributed_revenue, &ctx.sym, 0)),
        );
    }
    for a in &ctx.summary.attribution {
        let _ = writeln!(
            html,
            "<h3>{} ({} journeys)</h3>",
            esc(&a.arm),
            f::count(a.journeys as u64)
        );
        if let Some(inc) = a.incremental_revenue {
            let _ = writeln!(
                html,
                "<p>Incremental revenue measured against the holdout: <strong>{}</strong> ({}% CI {}).</p>",
                esc(&f::money(inc.estimate, &ctx.sym, 0)),
                confidence(ctx),
                esc(&interval(inc.ci, |x| f::money(x, &ctx.sym, 0)))
            );
        }
        let rows: Vec<Vec<String>> = a
            .side_by_side
            .iter()
            .map(|m| {
                vec![
                    esc(&f::model(&m.model)),
                    esc(&f::money(m.credited_revenue, &ctx.sym, 0)),
                    opt(m.over_attribution_ratio.map(|r| format!("{r:.2}×"))),
                ]
            })
            .collect();
        html.push_str(&table(
            &["model", "credited revenue", "over-attribution"],
            &rows,
        ));
    }
    html
}

// ------------------------------------------------------------ guardrails

fn guardrails(ctx: &Ctx) -> String {
    let s = ctx.summary;
    let mut html = String::from(
        "<p>Unsubscribes and spam complaints per message sent, against the thresholds in the flow's \
         <code>[guardrails]</code>. Per step: events that name the step.</p>\n",
    );
    html.push_str(&overall_guardrails(ctx));
    html.push_str(&figures(ctx, Section::Guardrails));
    let several = s.headline.len() > 1;
    let rows: Vec<Vec<String>> = s
        .guardrails
        .iter()
        .map(|g| {
            let step = if several {
                format!("{} {}", g.arm, f::step(g.step))
            } else {
                f::step(g.step)
            };
            vec![
                esc(&step),
                f::count(g.messages),
                f::count(g.unsubscribes),
                rate_cell(g.unsubscribe.as_ref()),
                f::count(g.complaints),
                rate_cell(g.complaint.as_ref()),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            "step",
            "messages",
            "unsubscribes",
            "rate (threshold)",
            "complaints",
            "rate (threshold)",
        ],
        &rows,
    ));
    html
}

fn overall_guardrails(ctx: &Ctx) -> String {
    let items: String = ctx
        .summary
        .lift
        .results
        .iter()
        .filter(|r| r.segment.dimension == "all")
        .filter_map(|r| r.guardrail.as_ref().map(|g| (r, g)))
        .map(|(r, g)| {
            let (class, verdict) = if g.breached {
                ("bad", "above threshold")
            } else {
                ("ok", "within threshold")
            };
            format!(
                "<li><span class=\"badge {class}\">{verdict}</span> {}: {} per message ({} of {} messages; \
                 threshold {})</li>",
                esc(&format!("{} {}", r.treatment, f::metric(&r.metric))),
                f::percent(g.rate_per_message, 3),
                f::count(g.events as u64),
                f::count(g.messages as u64),
                f::percent(g.threshold, 2)
            )
        })
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"plain\">{items}</ul>\n")
    }
}

fn rate_cell(check: Option<&super::funnel::RateCheck>) -> String {
    match check {
        Some(c) => format!(
            "<span class=\"{}\">{}</span> ({})",
            if c.breached { "bad" } else { "ok" },
            f::percent(c.rate_per_message, 2),
            f::percent(c.threshold, 2)
        ),
        None => "<span class=\"na\">n/a</span>".into(),
    }
}

// ----------------------------------------------------------------- audit

fn finding_meaning(name: &str) -> &'static str {
    match name {
        "sends_after_purchase" => "messages sent after the entry's order",
        "sends_to_holdout" => "messages sent to held-out customers",
        "reentries_inside_cooldown" => "the flow restarted inside the re-entry cooldown",
        "frequency_cap_violations" => "sends beyond the frequency cap",
        "out_of_order_steps" => "steps sent out of order",
        _ => "",
    }
}

fn audit(ctx: &Ctx) -> String {
    let a = &ctx.summary.audit;
    let mut html = format!(
        "<p>The sending system's own log checked against the flow's rules: {} entries, {} messages.</p>\n",
        f::count(a.entries),
        f::count(a.touches)
    );
    let rows: Vec<Vec<String>> = a
        .findings
        .iter()
        .map(|(name, finding)| {
            let count = if finding.count > 0 {
                format!("<span class=\"bad\">{}</span>", f::count(finding.count))
            } else {
                f::count(finding.count)
            };
            vec![
                format!(
                    "{}<br><span class=\"sub\">{}</span>",
                    esc(&name.replace('_', " ")),
                    esc(finding_meaning(name))
                ),
                count,
                esc(&finding.examples.join(", ")),
            ]
        })
        .collect();
    html.push_str(&aligned_table(
        &["finding", "count", "example entries"],
        &rows,
        &[0, 2],
    ));
    let book = [
        (
            "re-entries suppressed by the cooldown",
            a.reentries_suppressed,
        ),
        ("duplicate orders counted once", a.duplicate_orders),
        ("orders outside the flow", a.orders_outside_flow),
        (
            "refunds after the attribution window",
            a.refunds_after_window,
        ),
        ("messages without an entry", a.messages_without_entry),
        ("engagement without a send", a.engagement_without_send),
        (
            "carts still pending at the end of the data",
            a.candidates_pending,
        ),
        ("rows set aside before reconstruction", a.skipped_rows),
    ];
    let rows: Vec<Vec<String>> = book
        .iter()
        .map(|(label, n)| vec![esc(label), f::count(*n)])
        .collect();
    html.push_str("<h3>Bookkeeping</h3>\n");
    html.push_str(&table(&["what reconstruction set aside", "count"], &rows));
    html
}

// ---------------------------------------------------------- data quality

fn data_quality(ctx: &Ctx) -> String {
    let i = &ctx.summary.ingest;
    let mut html = format!(
        "<p>Every row read is accepted or quarantined: read {}, accepted {}, quarantined {}. Quarantined \
         rows are in <code>data/quarantine.csv</code> with file, line, reason and the raw text \
         (row-level data: keep the <code>data/</code> folder to yourself when forwarding this page).</p>\n",
        f::count(i.read),
        f::count(i.accepted),
        f::count(i.quarantined)
    );
    html.push_str(&figures(ctx, Section::DataQuality));
    let files: Vec<Vec<String>> = i
        .files
        .iter()
        .map(|file| {
            vec![
                esc(&file.path),
                esc(&file.format),
                f::count(file.read),
                f::count(file.accepted),
                f::count(file.quarantined),
            ]
        })
        .collect();
    html.push_str(&aligned_table(
        &["file", "format", "read", "accepted", "quarantined"],
        &files,
        &[0, 1],
    ));
    html.push_str(&ledger_books(ctx));
    html
}

/// The order ledger's books: what finance reconciles against the store.
fn ledger_books(ctx: &Ctx) -> String {
    let l = &ctx.summary.ingest.ledger;
    let sym = &ctx.sym;
    let m = |x: f64| f::money(x, sym, 2);
    let mut html = format!(
        "<h3>Order ledger</h3>\n<p>Every order payload merged into one record per order (refunds counted once, \
         only when money moved, capped at the order; test orders excluded): gross {} − refunds {} − \
         cancellations {} = net {}.</p>\n",
        m(l.gross_revenue),
        m(l.refunded),
        m(l.cancellations),
        m(l.net_revenue)
    );
    let rows: Vec<Vec<String>> = [
        ("orders", l.orders, None),
        (
            "test orders excluded",
            l.test_orders,
            Some(l.test_order_value),
        ),
        (
            "cancelled orders",
            l.cancelled_orders,
            Some(l.cancellations),
        ),
        ("refunds counted", l.refunds, Some(l.refunded)),
        (
            "refunds capped at the order's value",
            l.refunds_capped,
            Some(l.refund_amount_capped),
        ),
        (
            "order payloads merged into a record",
            l.payloads_merged,
            None,
        ),
        (
            "repeated payloads or placements (quarantined)",
            l.duplicate_payloads,
            None,
        ),
        (
            "order ids used by another customer (quarantined)",
            l.order_ids_reused,
            None,
        ),
        (
            "refunds or cancellations of unknown orders (quarantined)",
            l.unjoined_payloads,
            None,
        ),
    ]
    .iter()
    .map(|(label, n, amount)| vec![esc(label), f::count(*n), amount.map(m).unwrap_or_default()])
    .collect();
    html.push_str(&aligned_table(&["", "count", "amount"], &rows, &[0]));
    let id = &ctx.summary.ingest.identity;
    html.push_str(&format!(
        "<p>Identity: {} identifiers joined into {} customers ({} filed under another identifier of the same customer).</p>\n",
        f::count(id.identifiers),
        f::count(id.customers),
        f::count(id.aliased)
    ));
    html
}

// ------------------------------------------------ policy, method, stamp

fn policy(ctx: &Ctx) -> String {
    let mut html = grid_policy(ctx);
    match (
        &ctx.summary.learned_policy,
        &ctx.summary.learned_policy_note,
    ) {
        (Some(p), _) => {
            html.push_str(&format!(
                "<p>Learned over the carts' covariates ({}; what is known when the cart is abandoned, one unit \
                 per customer): a policy tree on doubly robust scores of the net contribution, valued on held-out \
                 folds, beside every arm for everyone and the ranking of each arm against the holdout. {}</p>\n",
                esc(&p.features.join(", ")),
                if !super::tree_recommended(ctx.summary) {
                    "The evidence rule's recommendation below is not written into <code>recommended_flow.toml</code>."
                        .to_string()
                } else if p.decision.recommend == "policy_tree" {
                    "The evidence rule recommends the tree, so <code>recommended_flow.toml</code> is the tree written \
                     as conditional branches (<code>[[arms.branches]]</code>)."
                        .to_string()
                } else {
                    format!(
                        "The evidence rule recommends <code>{}</code>, so <code>recommended_flow.toml</code> deploys \
                         that arm for every entry beside the holdout.",
                        esc(&p.decision.recommend)
                    )
                },
            ));
            html.push_str(&figures(ctx, Section::Policy));
            html.push_str(&format!(
                "<pre class=\"policy learned\">{}</pre>\n",
                esc(&crate::uplift::render::render(p))
            ));
        }
        (None, Some(note)) => html.push_str(&format!(
            "<p class=\"placeholder\">No learned policy from this flow: {}.</p>\n",
            esc(note)
        )),
        (None, None) => {}
    }
    html
}

fn grid_policy(ctx: &Ctx) -> String {
    match (&ctx.summary.policy, &ctx.summary.policy_note) {
        (Some(p), _) => format!(
            "<p>Each arm against the holdout per cart-value band and customer status, the discount split into \
             what converted buyers and what subsidized buyers who would have bought anyway, and the policy the \
             evidence supports. {}</p>\n\
             <pre class=\"policy\">{}</pre>\n",
            if super::tree_recommended(ctx.summary) {
                "<code>recommended_flow.toml</code> holds the learned tree below instead, which the evidence favours."
            } else {
                "<code>recommended_flow.toml</code> in this folder is that policy as the next flow."
            },
            esc(&crate::policy::render(p))
        ),
        (None, Some(note)) => format!(
            "<p class=\"placeholder\">No policy from this flow: {}. Run an exploration flow whose arms differ in \
             incentive (see <code>data/sample/explore.toml</code>) to learn one. {}</p>\n",
            esc(note),
            if super::tree_recommended(ctx.summary) {
                "<code>recommended_flow.toml</code> holds the learned policy's recommendation below."
            } else {
                "<code>recommended_flow.toml</code> here is the input configuration, unchanged."
            }
        ),
        (None, None) => String::new(),
    }
}

fn methodology(ctx: &Ctx) -> String {
    let s = ctx.summary;
    let level = confidence(ctx);
    format!(
        "<ul class=\"method\">\
<li><strong>Randomization.</strong> Each customer's arm is fixed by a salted hash of their id when they enter \
the flow, and every analysis keeps them there (intent to treat): a held-out customer counts in the holdout \
whatever was sent.</li>\
<li><strong>Unit.</strong> The customer, the unit of randomization. Per-recipient metrics sum a customer's \
entries; conversion rate is converted entries per entry, by the delta method over customers.</li>\
<li><strong>Money.</strong> Revenue is what was paid, net of refunds and cancellations within the attribution \
window. Net contribution is gross merchandise value × margin, less discount, shipping and \
message cost.</li>\
<li><strong>Incremental totals.</strong> Difference in revenue (or net contribution) per recipient between \
flow and holdout, times the flow's recipients; the interval scales the same way.</li>\
<li><strong>Intervals.</strong> {level}% Welch intervals for differences; delta-method and Fieller intervals \
for relative lifts; CUPED adjustment on pre-period spend in <code>lift.json</code>; confidence sequences \
tuned to {planned} units for the timeline.</li>\
<li><strong>Multiple comparisons.</strong> Holm and Benjamini–Hochberg adjustment across every p-value \
reported.</li>\
<li><strong>Attribution.</strong> Models credit the flow's steps from the journeys of treatment entries; \
only the holdout says what the flow caused.</li>\
<li><strong>Guardrails.</strong> Rates per message sent in the treatment with Wilson intervals, against the \
configured thresholds.</li>\
</ul>\n",
        planned = s
            .lift
            .options
            .sequential_planned_units
            .map_or("n/a".into(), |n| f::count(n as u64)),
    )
}

fn stamp(ctx: &Ctx) -> String {
    let st = &ctx.summary.stamp;
    let flow_text = match st.flow_text {
        super::stamp::FlowText::File => "the flow file as written",
        super::stamp::FlowText::Normalized => "the normalized flow configuration",
    };
    let mut html = format!(
        "<dl class=\"stamp\"><dt>cartlift</dt><dd>{}</dd><dt>flow config SHA-256</dt><dd><code>{}</code> \
         ({flow_text})</dd><dt>simulation seed</dt><dd>{}</dd></dl>\n",
        esc(st.cartlift_version),
        esc(&st.flow_sha256),
        st.seed.map_or("none".into(), |s| s.to_string()),
    );
    let rows: Vec<Vec<String>> = st
        .inputs
        .iter()
        .map(|i| {
            vec![
                esc(&i.path),
                f::count(i.bytes),
                format!("<code>{}</code>", esc(&i.sha256)),
            ]
        })
        .collect();
    html.push_str(&aligned_table(
        &["input", "bytes", "SHA-256"],
        &rows,
        &[0, 2],
    ));
    html
}

// --------------------------------------------------------------- helpers

/// The charts of one section as figures, with links to their files; the
/// wide and narrow layouts are both inlined and CSS shows the one that fits.
fn figures(ctx: &Ctx, section: Section) -> String {
    ctx.charts
        .iter()
        .filter(|c| c.section == section)
        .map(|c| {
            format!(
                "<figure><div class=\"chart wide\">{}</div><div class=\"chart narrow\">{}</div>\
                 <figcaption>{} · <a href=\"charts/{name}.svg\">SVG</a> · \
                 <a href=\"charts/{name}.png\">PNG</a></figcaption></figure>\n",
                inline_svg(&c.svg, &c.alt),
                inline_svg(&c.narrow, &c.alt),
                esc(&c.alt),
                name = esc(&c.name)
            )
        })
        .collect()
}

/// The chart's SVG for inlining in HTML: no XML namespace (HTML implies
/// it), labelled for screen readers, scaled by CSS.
fn inline_svg(svg: &str, alt: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(alt)),
        1,
    )
}

/// A table whose first column is text and the rest numbers; cells are HTML
/// already escaped by the caller.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    aligned_table(head, rows, &[0])
}

/// A table with the columns `text` left-aligned and wrapping, the rest
/// right-aligned numbers.
fn aligned_table(head: &[&str], rows: &[Vec<String>], text: &[usize]) -> String {
    let class = |i: usize| {
        if text.contains(&i) {
            " class=\"text\""
        } else {
            ""
        }
    };
    let mut html = String::from("<div class=\"table-wrap\"><table><thead><tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(html, "<th{}>{}</th>", class(i), esc(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(html, "<td{}>{cell}</td>", class(i));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// Text escaped for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--bg:#f3f4f6;--card:#fff;--blue:#2563eb;--green:#15803d;--red:#b91c1c}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",sans-serif}
main{max-width:980px;margin:0 auto;padding:20px 16px 40px}
header.top{padding:8px 4px 4px}
.kicker{margin:0;color:var(--blue);font-weight:600;letter-spacing:.04em;text-transform:uppercase;font-size:.8rem}
h1{font-size:1.75rem;line-height:1.25;margin:.2em 0 .3em}
h2{font-size:1.3rem;margin:0 0 .6em}
h3{font-size:1.05rem;margin:1.4em 0 .5em}
.lede{color:var(--muted);margin:0 0 .8em}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:.4em 0 0}
nav a{font-size:.85rem;color:var(--ink);background:#fff;border:1px solid var(--line);border-radius:999px;padding:3px 10px;text-decoration:none}
nav a:hover{border-color:var(--blue);color:var(--blue)}
section{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:22px 24px;margin:16px 0}
p{margin:.5em 0 .8em}
.lead{font-size:1.05rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin:12px 0 4px}
.card{border:1px solid var(--line);border-radius:12px;padding:14px 16px;background:#fff}
.card.primary{background:#eff6ff;border-color:#bfdbfe}
.card .label{color:var(--muted);font-size:.9rem}
.card .value{font-size:1.9rem;font-weight:700;font-variant-numeric:tabular-nums;line-height:1.2;margin:.15em 0}
.card .ci{color:var(--muted);font-size:.85rem;font-variant-numeric:tabular-nums}
figure{margin:14px 0 18px}
figure svg{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:10px}
.chart.narrow{display:none}
figcaption{color:var(--muted);font-size:.85rem;margin-top:6px}
figcaption a{color:var(--muted)}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:8px 0 12px}
table{border-collapse:collapse;width:100%;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap;vertical-align:top}
th{color:var(--muted);font-weight:600;background:#f9fafb}
th.text,td.text{text-align:left}
td.text{white-space:normal;min-width:7.5em}
td .sub{color:var(--muted);font-size:.8rem;white-space:normal}
details{margin:8px 0}
summary{cursor:pointer;color:var(--blue);font-weight:600}
.note{color:var(--muted);font-size:.9rem}
.warn{background:#fef2f2;border:1px solid #fecaca;border-radius:8px;padding:10px 12px}
.placeholder{background:#f9fafb;border:1px dashed #d1d5db;border-radius:8px;padding:14px;color:var(--muted)}
.badge{display:inline-block;font-size:.78rem;font-weight:600;border-radius:999px;padding:1px 8px;margin-right:6px}
.badge.ok{background:#dcfce7;color:var(--green)}
.badge.bad{background:#fee2e2;color:var(--red)}
.ok{color:var(--green)}
.bad{color:var(--red);font-weight:600}
.na{color:#9ca3af}
ul.plain{list-style:none;padding:0}
ul.plain li{margin:.3em 0}
ul.method li{margin:.4em 0}
dl.stamp{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 12px}
dl.stamp dt{color:var(--muted)}
dl.stamp dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85em;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:.8rem;text-align:center;margin-top:24px}
@media (max-width:640px){
 body{font-size:15px}
 main{padding:10px 8px 28px}
 section{padding:14px 12px;border-radius:10px;margin:10px 0}
 h1{font-size:1.4rem}
 .cards{grid-template-columns:1fr 1fr;gap:8px}
 .card{padding:10px 12px}
 .card .value{font-size:1.35rem}
 dl.stamp{grid-template-columns:1fr}
 .chart.wide{display:none}
 .chart.narrow{display:block}
 th,td{padding:6px 8px}
}
@media (max-width:380px){.cards{grid-template-columns:1fr}}
"#;
