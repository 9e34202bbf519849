//! A generative model of shoppers, carts and a recovery flow, with ground
//! truth.
//!
//! Every entry is simulated under **every arm with common random numbers**:
//! all random draws of an entry are made up front, in a fixed order keyed by
//! step number, and each arm's outcome is a deterministic function of them.
//! Only the assigned arm's events are emitted; the potential outcomes of all
//! arms go to TRUTH.json, so the true intent-to-treat effects are known.
//!
//! Messages act only through opens; an incentive adds conversion probability
//! for price-sensitive shoppers and is redeemed by anyone who saw it and
//! bought (so for insensitive shoppers it is pure subsidy). The sending
//! system's bugs (sends after purchase, holdout leaks, duplicate and
//! out-of-order sends, re-entry sends) are extra messages with no effect.
//!
//! [`oracle`] adds the best incentive threshold under the same potential
//! outcomes, and [`evaluate`] the expected net contribution per entry of the
//! policy a flow file deploys.

pub mod oracle;
pub mod params;
pub mod render;

use crate::assign::Assigner;
use crate::branch::Covariates;
use crate::config::{Arm, FlowConfig, Incentive, Step};
use crate::events::ingest::EventSink;
use crate::events::spill::Runs;
use crate::events::Event;
use crate::metrics::net_contribution;
use crate::schema::EventKind;
use anyhow::{bail, Result};
pub use oracle::{evaluate, Evaluation, Oracle, OraclePoint};
use params::{SimParams, Status};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

const SECOND: i64 = 1_000_000;
const NEVER: i64 = i64::MAX;

/// A simulated log and what is true about it.
pub struct Simulation {
    pub events: Vec<Event>,
    pub truth: Truth,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Truth {
    pub seed: u64,
    pub carts: u64,
    pub customers: u64,
    pub events: u64,
    pub arms: BTreeMap<String, ArmTruth>,
    /// Each treatment's true effect against the holdout (potential outcomes).
    pub effects: BTreeMap<String, Effect>,
    /// Per treatment, each step's true incremental revenue per entry: the
    /// potential outcome with steps 1..k minus that with steps 1..k−1, so
    /// the steps add up to the arm's whole effect.
    pub steps: BTreeMap<String, Vec<StepTruth>>,
    /// Counts of deliberately messy rows and sending-system bugs.
    pub injected: BTreeMap<&'static str, u64>,
    /// The best policy in the incentive-threshold family of the flow's
    /// treatment template; absent when no treatment arm has an incentive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle: Option<Oracle>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ArmTruth {
    /// Realized in the emitted log (entries assigned to this arm).
    pub entries: u64,
    pub customers: u64,
    pub conversions: u64,
    pub net_revenue: f64,
    pub discount: f64,
    /// Potential outcomes: every entry of the log under this arm.
    pub po_conversion_rate: f64,
    pub po_revenue_per_entry: f64,
    pub po_discount_per_entry: f64,
    pub po_net_contribution_per_entry: f64,
    pub po_conversions_per_customer: f64,
    pub po_revenue_per_customer: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct StepTruth {
    pub step: u32,
    pub incremental_revenue_per_entry: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Effect {
    pub conversion_rate: f64,
    pub revenue_per_entry: f64,
    pub net_contribution_per_entry: f64,
    pub conversions_per_customer: f64,
    pub revenue_per_customer: f64,
}

/// Resolved, per-run constants.
struct Ctx<'a> {
    config: &'a FlowConfig,
    p: &'a SimParams,
    assigner: Assigner,
    start: i64,
    abandon: i64,
    window: i64,
    cooldown: i64,
    holdout: usize,
    /// The arm whose messages a holdout entry would have got.
    shadow: usize,
    max_step: usize,
    /// The treatment template the oracle varies the incentive threshold of.
    template: Option<oracle::Template>,
    /// Whether to write events (false: potential outcomes only).
    emit: bool,
}

/// All random draws of one entry, made before any arm is evaluated.
struct Draws {
    natural: bool,
    natural_delay: i64,
    steps: Vec<StepDraws>,
    redeem: f64,
    refund: f64,
    refund_delay: i64,
    partial: f64,
    cancel: f64,
    cancel_delay: i64,
    duplicate: f64,
    no_cart: f64,
    noise: f64,
    noise_at: f64,
    bug_after: f64,
    bug_leak: f64,
    bug_dup: f64,
    bug_order: f64,
    bug_reentry: f64,
}

struct StepDraws {
    bounce: f64,
    open: f64,
    open_delay: i64,
    convert: f64,
    lag: i64,
    click: f64,
    unsubscribe: f64,
    complain: f64,
}

struct Cart {
    id: String,
    t0: i64,
    value_cents: i64,
}

/// One message as the flow would send it under an arm.
struct Send<'a> {
    step: &'a Step,
    at: i64,
    suppressed: bool,
    bounced: bool,
    opened_at: Option<i64>,
    clicked_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    complained_at: Option<i64>,
}

/// An entry's outcome under one arm.
struct ArmOutcome<'a> {
    sends: Vec<Send<'a>>,
    order_at: i64,
    converted: bool,
    paid_cents: i64,
    discount_cents: i64,
    coupon: Option<String>,
    refund: Option<(i64, i64)>,
    cancel_at: Option<i64>,
    net_cents: i64,
    shipped: bool,
    message_cost: f64,
}

/// Customers simulated at a time on the way to the log: their events are
/// sorted and spilled as one run (some 100 MB of events held at once).
pub const DEFAULT_BATCH: usize = 1 << 14;

/// The simulated log in memory (what the platform shapes are rendered
/// from): the events [`stream`] hands its sink, in the same order.
pub fn simulate(config: &FlowConfig, carts: usize, seed: u64) -> Result<Simulation> {
    let mut events = Vec::new();
    let truth = stream(config, carts, seed, &mut events)?;
    Ok(Simulation { events, truth })
}

/// Checks what the simulator reads of the flow file (its `[simulation]`
/// table, the flow's timing), as [`simulate`] and [`stream`] do first.
pub fn check(config: &FlowConfig) -> Result<()> {
    let p = SimParams::from_table(config.simulation.as_ref())?;
    context(config, &p, true).map(|_| ())
}

/// Simulates the log into `sink` in memory that does not grow with the
/// log, and returns the truth about it. Customers are simulated
/// [`DEFAULT_BATCH`] at a time (in parallel within a batch); each batch's
/// events are sorted by time (stably) and spilled as one sorted run
/// ([`Runs`]); the runs are merged, ties going to the earlier batch,
/// so the log is in the order one stable sort of all its events by time
/// gives (customer, then emission order among equal times); late rows are
/// moved in one pass holding 1001 rows ([`make_late`]). What is held for
/// the truth is a few numbers per entry ([`Tally`]), no event.
pub fn stream(
    config: &FlowConfig,
    carts: usize,
    seed: u64,
    sink: &mut dyn EventSink,
) -> Result<Truth> {
    stream_in_batches(config, carts, seed, sink, DEFAULT_BATCH)
}

/// [`stream`] into a canonical event file (Parquet, CSV or NDJSON by
/// extension, fixed row groups), written whole or not at all.
pub fn write_canonical(
    config: &FlowConfig,
    carts: usize,
    seed: u64,
    out: &std::path::Path,
) -> Result<Truth> {
    let mut w = crate::events::store::EventWriter::create(out)?
        .with_row_groups(crate::events::store::RowGroups::Fixed);
    let truth = stream(config, carts, seed, &mut w)?;
    w.commit()?;
    Ok(truth)
}

/// [`stream`] with `batch` customers per sorted run (tests force many runs).
fn stream_in_batches(
    config: &FlowConfig,
    carts: usize,
    seed: u64,
    sink: &mut dyn EventSink,
    batch: usize,
) -> Result<Truth> {
    let p = SimParams::from_table(config.simulation.as_ref())?;
    let ctx = context(config, &p, true)?;
    let plan = plan_customers(carts, seed, &p);
    let mut tally = Tally::new(&ctx);
    // A run per batch, cut by hand (never by count).
    let mut runs: Runs<Event> = Runs::new(usize::MAX, |a, b| a.ts.cmp(&b.ts));
    for part in plan.chunks(batch.max(1)) {
        let results: Vec<CustomerSim> = part
            .par_iter()
            .map(|&(index, n_carts, first_cart)| {
                simulate_customer(&ctx, seed, index, n_carts, first_cart)
            })
            .collect();
        for r in results {
            for e in tally.add(r) {
                runs.push(e)?;
            }
        }
        runs.cut()?;
    }
    let n = runs.len();
    sink.begin(n)?;
    let mut merged = runs.merge()?;
    let mut data_end: Option<i64> = None;
    let late = make_late(
        n,
        seed,
        p.late_event_rate,
        || {
            let e = merged.next_item()?;
            if let Some(e) = &e {
                data_end = Some(data_end.map_or(e.ts, |t| t.max(e.ts)));
            }
            Ok(e)
        },
        |e| sink.push(e),
    )?;
    Ok(tally.truth(&ctx, seed, carts, n, data_end.unwrap_or(0), late))
}

/// Resolves the per-run constants; `emit` false skips writing events.
fn context<'a>(config: &'a FlowConfig, p: &'a SimParams, emit: bool) -> Result<Ctx<'a>> {
    if config.flow.reentry_cooldown < config.flow.attribution_window {
        bail!("the simulator needs flow.reentry_cooldown ≥ flow.attribution_window, so that entries do not overlap");
    }
    let start = crate::events::fields::parse_timestamp(
        &p.start,
        "simulation.start",
        crate::events::fields::EpochUnit::None,
    )
    .map_err(|r| anyhow::anyhow!(r.detail))?;
    let holdout = config.arms.iter().position(|a| a.holdout).unwrap_or(0);
    let shadow = config.arms.iter().position(|a| !a.holdout).unwrap_or(0);
    Ok(Ctx {
        config,
        p,
        assigner: Assigner::new(config),
        start,
        abandon: config.flow.abandon_after.micros(),
        window: config.flow.attribution_window.micros(),
        cooldown: config.flow.reentry_cooldown.micros(),
        holdout,
        shadow,
        max_step: config
            .arms
            .iter()
            .flat_map(|a| {
                a.step_lists()
                    .flat_map(|l| l.iter().map(|s| s.step as usize))
            })
            .max()
            .unwrap_or(0),
        template: oracle::Template::of(config),
        emit,
    })
}

/// How many carts each customer brings: `(customer index, carts, first cart index)`.
fn plan_customers(carts: usize, seed: u64, p: &SimParams) -> Vec<(u64, usize, u64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut plan = Vec::new();
    let mut allocated = 0usize;
    let mut index = 0u64;
    while allocated < carts {
        let mut n = 1;
        if rng.random::<f64>() < p.repeat_share {
            n += 1;
            if rng.random::<f64>() < 0.3 {
                n += 1;
            }
        }
        let n = n.min(carts - allocated);
        index += 1;
        plan.push((index, n, allocated as u64));
        allocated += n;
    }
    plan
}

fn customer_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

fn exp_micros(rng: &mut ChaCha8Rng, mean_seconds: f64) -> i64 {
    let e = Exp::new(1.0 / mean_seconds.max(1.0)).expect("positive rate");
    (e.sample(rng).round() as i64).max(1) * SECOND
}

/// What one customer contributes: events, and per entry the potential outcomes.
struct CustomerSim {
    events: Vec<Event>,
    arm: usize,
    entries: Vec<EntrySim>,
    injected: BTreeMap<&'static str, u64>,
}

struct EntrySim {
    entered_at: i64,
    /// Per arm: (converted, net cents, discount cents, contribution).
    po: Vec<(bool, i64, i64, f64)>,
    /// Per arm: net cents with only its first k steps, k = 0..=steps.
    po_steps: Vec<Vec<i64>>,
    /// Cart value, and the contribution under the treatment template with
    /// its incentive offered to every cart and to none; and the entry's
    /// effect group (which `[[simulation.effects]]` cover it, a bit each).
    template: Option<(f64, f64, f64, u64)>,
}

fn simulate_customer(
    ctx: &Ctx,
    seed: u64,
    index: u64,
    n_carts: usize,
    first_cart: u64,
) -> CustomerSim {
    let p = ctx.p;
    let mut rng = customer_rng(seed, index);
    let customer = format!("c{index:07}");
    let (_, arm) = ctx.assigner.assign(&customer);
    let u: f64 = rng.random();
    let status = if u < p.status_mix.new {
        Status::New
    } else if u < p.status_mix.new + p.status_mix.returning {
        Status::Returning
    } else {
        Status::Loyalty
    };
    // Compared with each entry's price-sensitive share (the base share, or
    // an effect's for the entries it covers).
    let u_sensitive: f64 = rng.random();
    let sigma = p.propensity_sigma.max(0.0);
    let propensity = if sigma > 0.0 {
        LogNormal::new(-sigma * sigma / 2.0, sigma)
            .expect("valid")
            .sample(&mut rng)
    } else {
        1.0
    };
    let value_dist =
        LogNormal::new(p.cart_value_median.ln(), p.cart_value_sigma.max(1e-9)).expect("valid");
    let mut out = CustomerSim {
        events: Vec::new(),
        arm,
        entries: Vec::new(),
        injected: BTreeMap::new(),
    };

    // Orders before the experiment: the pre-period spend CUPED adjusts for.
    let prior_mean = p.prior_orders.get(status) * propensity;
    let prior = if prior_mean > 0.0 {
        Poisson::new(prior_mean).expect("positive").sample(&mut rng) as u32
    } else {
        0
    };
    let session_gap = (ctx.abandon / 2).clamp(SECOND, 600 * SECOND);
    let mut prior_cents = 0i64;
    let mut discounted_before = 0u32;
    let mut last_prior_at: Option<i64> = None;
    let mut first_prior_at: Option<i64> = None;
    for j in 0..prior {
        let at = ctx.start - (1 + rng.random_range(0..180 * 86_400)) * SECOND;
        let cents = cents_of(value_dist.sample(&mut rng));
        last_prior_at = Some(last_prior_at.map_or(at, |l| l.max(at)));
        first_prior_at = Some(first_prior_at.map_or(at, |f| f.min(at)));
        // Drawn only when the share is set, so a population without it
        // draws what it always did.
        let discounted =
            p.prior_discount_share > 0.0 && rng.random::<f64>() < p.prior_discount_share;
        discounted_before += u32::from(discounted);
        // 10% off, in whole cents: what the order records as its value
        // (and the customer's prior spend counts).
        let off = if discounted {
            (cents as f64 / 10.0).round() as i64
        } else {
            0
        };
        prior_cents += cents - off;
        if !ctx.emit {
            continue;
        }
        let cart = format!("q{index:07}-{j}");
        let mut checkout = base_event(
            at - session_gap,
            EventKind::CheckoutStarted,
            &customer,
            status,
        );
        checkout.cart_id = Some(cart.clone());
        checkout.value = Some(cents as f64 / 100.0);
        out.events.push(checkout);
        let mut order = base_event(at, EventKind::OrderCompleted, &customer, status);
        order.cart_id = Some(cart);
        order.order_id = Some(format!("p{index:07}-{j}"));
        order.value = Some((cents - off) as f64 / 100.0);
        if discounted {
            order.discount = Some(off as f64 / 100.0);
            order.coupon = Some("PRIOR10".into());
        }
        out.events.push(order);
    }

    let mut orders_before = prior;
    let mut last_order_at = last_prior_at;
    let first_order_at = |last: Option<i64>| first_prior_at.or(last);
    let mut t0 = ctx.start + rng.random_range(0..(p.days as i64 * 86_400)) * SECOND;
    for c in 0..n_carts {
        let cart = Cart {
            id: format!("k{:08}", first_cart + c as u64 + 1),
            t0,
            value_cents: cents_of(value_dist.sample(&mut rng)).max(100),
        };
        let p_natural = (p.base_return.get(status) * propensity).min(0.95);
        let draws = draw(&mut rng, ctx, p_natural);
        // Drawn only when shares are given, so a population without them
        // draws what it always did.
        let capture = if p.capture_channels.is_empty() {
            None
        } else {
            let u: f64 = rng.random();
            Some(pick_share(&p.capture_channels, u))
        };
        let (hour, weekday) = Covariates::hour_and_weekday(cart.t0);
        let day = (86_400 * SECOND) as f64;
        let x = Covariates {
            cart_value: cart.value_cents as f64 / 100.0,
            customer_status: status.as_str(),
            customer_prior_spend: prior_cents as f64 / 100.0,
            abandoned_hour: hour,
            abandoned_weekday: weekday,
            prior_orders: orders_before,
            days_since_last_order: last_order_at.map(|at| (cart.t0 - at) as f64 / day),
            prior_discounted_orders: discounted_before,
            days_since_first_order: first_order_at(last_order_at)
                .map(|at| (cart.t0 - at) as f64 / day),
            capture_channel: capture.unwrap_or("unknown"),
        };
        let shopper = Shopper::new(p, status, u_sensitive, x);
        // The next cart's history counts this cart's order, as the carts
        // table of the log does.
        if let Some((at, discounted)) =
            simulate_cart(ctx, &customer, &shopper, &cart, &draws, &mut out)
        {
            orders_before += 1;
            discounted_before += u32::from(discounted);
            last_order_at = Some(last_order_at.map_or(at, |l| l.max(at)));
        }
        let entered = cart.t0 + ctx.abandon;
        t0 = entered
            + ctx.window
            + ctx.cooldown
            + 86_400 * SECOND
            + rng.random_range(0..7 * 86_400) * SECOND;
    }
    out
}

/// One shopper at one entry: what the store knows (`x`) and how they
/// respond, after the `[[simulation.effects]]` that cover them.
struct Shopper<'a> {
    status: Status,
    /// Price sensitive at this entry (an opened incentive can convert them;
    /// they always redeem it).
    sensitive: bool,
    /// Multiplies every step's lift.
    response: f64,
    /// Bit `i` set when effect `i` covers the entry.
    group: u64,
    x: Covariates<'a>,
}

impl<'a> Shopper<'a> {
    /// Every effect whose condition holds applies: the last one giving a
    /// price-sensitive share sets it, message responses multiply.
    fn new(p: &SimParams, status: Status, u_sensitive: f64, x: Covariates<'a>) -> Shopper<'a> {
        let mut share = p.price_sensitive_share;
        let mut response = 1.0;
        let mut group = 0u64;
        for (i, e) in p.effects.iter().enumerate() {
            if !e.when.holds(&x) {
                continue;
            }
            group |= 1 << i;
            if let Some(s) = e.price_sensitive_share {
                share = s;
            }
            response *= e.message_response.unwrap_or(1.0);
        }
        Shopper {
            status,
            sensitive: u_sensitive < share,
            response,
            group,
            x,
        }
    }
}

/// The name whose cumulative share first exceeds `u` (in name order; the
/// last name when rounding leaves `u` beyond the total).
fn pick_share(shares: &BTreeMap<String, f64>, u: f64) -> &str {
    let mut acc = 0.0;
    for (name, share) in shares {
        acc += share;
        if u < acc {
            return name;
        }
    }
    shares.keys().next_back().map_or("unknown", |k| k.as_str())
}

fn cents_of(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn base_event(ts: i64, kind: EventKind, customer: &str, status: Status) -> Event {
    let mut e = Event::new(ts, kind, customer);
    e.customer_status = Some(status.as_str().to_string());
    e.currency = Some("USD".into());
    e
}

fn draw(rng: &mut ChaCha8Rng, ctx: &Ctx, p_natural: f64) -> Draws {
    let p = ctx.p;
    let half_life = p.return_half_life.seconds() as f64;
    let natural = rng.random::<f64>() < p_natural;
    let natural_delay = exp_micros(rng, half_life / std::f64::consts::LN_2);
    let steps = (0..ctx.max_step)
        .map(|_| StepDraws {
            bounce: rng.random(),
            open: rng.random(),
            open_delay: exp_micros(rng, 3.0 * 3600.0),
            convert: rng.random(),
            lag: exp_micros(rng, 3600.0),
            click: rng.random(),
            unsubscribe: rng.random(),
            complain: rng.random(),
        })
        .collect();
    Draws {
        natural,
        natural_delay,
        steps,
        redeem: rng.random(),
        refund: rng.random(),
        refund_delay: exp_micros(rng, p.refund_delay_mean.seconds() as f64),
        partial: rng.random(),
        cancel: rng.random(),
        cancel_delay: exp_micros(rng, 12.0 * 3600.0),
        duplicate: rng.random(),
        no_cart: rng.random(),
        noise: rng.random(),
        noise_at: rng.random(),
        bug_after: rng.random(),
        bug_leak: rng.random(),
        bug_dup: rng.random(),
        bug_order: rng.random(),
        bug_reentry: rng.random(),
    }
}

fn applicable(step: &Step, value: f64, status: Status) -> Option<&Incentive> {
    step.incentive
        .as_ref()
        .filter(|i| i.applies_to(value, status.as_str()))
}

/// The entry's outcome if its customer were in `arm`.
#[allow(clippy::too_many_arguments)]
fn outcome<'a>(
    ctx: &'a Ctx,
    arm_index: usize,
    step_limit: usize,
    shopper: &Shopper,
    cart: &Cart,
    d: &Draws,
) -> ArmOutcome<'a> {
    let arm: &Arm = &ctx.config.arms[arm_index];
    let holdout = arm_index == ctx.holdout;
    let steps = if holdout {
        ctx.config.arms[ctx.shadow].steps_for(&shopper.x)
    } else {
        arm.steps_for(&shopper.x)
    };
    let steps = &steps[..step_limit.min(steps.len())];
    outcome_of(ctx, steps, holdout, shopper, cart, d)
}

/// The entry's outcome if these steps were sent (suppressed for the holdout).
fn outcome_of<'a>(
    ctx: &Ctx,
    steps: &'a [Step],
    holdout: bool,
    shopper: &Shopper,
    cart: &Cart,
    d: &Draws,
) -> ArmOutcome<'a> {
    let p = ctx.p;
    let (status, sensitive) = (shopper.status, shopper.sensitive);
    let entered = cart.t0 + ctx.abandon;
    let value = cart.value_cents as f64 / 100.0;
    let mut t = if d.natural {
        entered + d.natural_delay
    } else {
        NEVER
    };
    let mut incentive_seen: Option<(i64, &Incentive)> = None;
    let mut sends = Vec::new();
    let mut stopped = false;
    for step in steps {
        let at = cart.t0 + step.delay.micros();
        if at >= t || stopped {
            break;
        }
        let sd = &d.steps[step.step as usize - 1];
        let mut send = Send {
            step,
            at,
            suppressed: holdout,
            bounced: false,
            opened_at: None,
            clicked_at: None,
            unsubscribed_at: None,
            complained_at: None,
        };
        if holdout {
            sends.push(send);
            continue;
        }
        send.bounced = sd.bounce < p.bounce_rate;
        if !send.bounced {
            if sd.open < p.open_rate {
                let opened = at + 60 * SECOND + sd.open_delay;
                send.opened_at = Some(opened);
                let incentive = applicable(step, value, status);
                let mut converted_here = false;
                if opened < t {
                    let mut lift = p
                        .step_lift
                        .get(step.step as usize - 1)
                        .copied()
                        .unwrap_or(0.0)
                        * shopper.response;
                    if incentive.is_some() {
                        lift += if sensitive {
                            p.incentive_lift_sensitive
                        } else {
                            p.incentive_lift_insensitive
                        };
                    }
                    if sd.convert < (lift / p.open_rate).min(1.0) {
                        t = t.min(opened + sd.lag);
                        converted_here = true;
                    }
                    if let Some(inc) = incentive {
                        if incentive_seen.is_none() {
                            incentive_seen = Some((opened, inc));
                        }
                    }
                }
                if converted_here || sd.click < p.click_rate {
                    send.clicked_at = Some(opened + 30 * SECOND);
                }
            }
            if sd.unsubscribe < p.unsubscribe_rate {
                send.unsubscribed_at = Some(send.opened_at.unwrap_or(at) + 120 * SECOND);
                stopped = true;
            } else if sd.complain < p.complaint_rate {
                send.complained_at = Some(send.opened_at.unwrap_or(at) + 180 * SECOND);
                stopped = true;
            }
        }
        sends.push(send);
    }
    let converted = t != NEVER && t <= entered + ctx.window;
    let mut discount_cents = 0;
    let mut coupon = None;
    if converted {
        if let Some((seen, inc)) = incentive_seen {
            if seen < t && (sensitive || d.redeem < p.redemption_insensitive) {
                discount_cents = cents_of(inc.discount_on(value, ctx.config.margin.shipping_cost));
                coupon = inc.code.clone().or_else(|| Some("INCENTIVE".into()));
            }
        }
    }
    let paid = cart.value_cents - discount_cents;
    let cancel_at =
        (converted && d.cancel < p.cancel_rate).then(|| t + 600 * SECOND + d.cancel_delay);
    let refund = (converted && cancel_at.is_none() && d.refund < p.refund_rate).then(|| {
        let amount = if d.partial < p.partial_refund_share {
            (paid + 1) / 2
        } else {
            paid
        };
        (t + 3600 * SECOND + d.refund_delay, amount)
    });
    let window_end = entered + ctx.window;
    let cancelled_in_window = cancel_at.is_some_and(|c| c <= window_end);
    let net_cents = if !converted || cancelled_in_window {
        0
    } else {
        paid - refund.filter(|r| r.0 <= window_end).map_or(0, |r| r.1)
    };
    let message_cost: f64 = sends
        .iter()
        .filter(|s| !s.suppressed)
        .map(|s| ctx.config.message_cost(&s.step.channel))
        .sum();
    ArmOutcome {
        sends,
        order_at: t,
        converted,
        paid_cents: paid,
        discount_cents,
        coupon,
        refund,
        cancel_at,
        net_cents,
        shipped: converted && !cancelled_in_window,
        message_cost,
    }
}

fn simulate_cart(
    ctx: &Ctx,
    customer: &str,
    shopper: &Shopper,
    cart: &Cart,
    d: &Draws,
    out: &mut CustomerSim,
) -> Option<(i64, bool)> {
    let status = shopper.status;
    let p = ctx.p;
    let entered = cart.t0 + ctx.abandon;
    let mut po = Vec::with_capacity(ctx.config.arms.len());
    let mut assigned: Option<ArmOutcome> = None;
    for a in 0..ctx.config.arms.len() {
        let o = outcome(ctx, a, usize::MAX, shopper, cart, d);
        let contribution = contribution(ctx, &o);
        po.push((
            o.converted,
            o.net_cents,
            if o.converted { o.discount_cents } else { 0 },
            contribution,
        ));
        if a == out.arm {
            assigned = Some(o);
        }
    }
    let ordered = assigned
        .as_ref()
        .filter(|o| o.converted)
        .map(|o| (o.order_at, o.discount_cents > 0));
    let template = ctx.template.as_ref().map(|t| {
        let with = outcome_of(ctx, &t.always, false, shopper, cart, d);
        let without = outcome_of(ctx, &t.never, false, shopper, cart, d);
        (
            cart.value_cents as f64 / 100.0,
            contribution(ctx, &with),
            contribution(ctx, &without),
            shopper.group,
        )
    });
    if !ctx.emit {
        out.entries.push(EntrySim {
            po_steps: Vec::new(),
            entered_at: entered,
            po,
            template,
        });
        return ordered;
    }
    let po_steps = ctx
        .config
        .arms
        .iter()
        .enumerate()
        .map(|(a, arm)| {
            if a == ctx.holdout {
                return Vec::new();
            }
            (0..=arm.steps.len())
                .map(|k| outcome(ctx, a, k, shopper, cart, d).net_cents)
                .collect()
        })
        .collect();
    out.entries.push(EntrySim {
        po_steps,
        entered_at: entered,
        po,
        template,
    });
    let o = assigned.expect("the customer's arm is one of the arms");
    let arm_name = ctx.config.arms[out.arm].name.clone();
    let value = cart.value_cents as f64 / 100.0;
    let capture = (!p.capture_channels.is_empty()).then_some(shopper.x.capture_channel);
    let ev = |ts: i64, kind: EventKind| {
        let mut e = base_event(ts, kind, customer, status);
        e.cart_id = Some(cart.id.clone());
        if kind.is_cart_activity() {
            e.channel = capture.map(str::to_string);
        }
        e
    };

    // The shopping session that ends in abandonment.
    let browse = rand_count(d.noise_at, 3);
    for i in (1..=browse).rev() {
        let mut e = ev(cart.t0 - (i as i64) * 240 * SECOND, EventKind::CartUpdated);
        e.value = Some(((value * (1.0 - 0.1 * i as f64)) * 100.0).round() / 100.0);
        out.events.push(e);
    }
    let mut checkout = ev(cart.t0, EventKind::CheckoutStarted);
    checkout.value = Some(value);
    out.events.push(checkout);

    for s in &o.sends {
        let msg = |ts: i64, kind: EventKind| {
            let mut e = ev(ts, kind);
            e.flow_step = Some(s.step.step as i32);
            e.channel = Some(s.step.channel.clone());
            e.variant = Some(arm_name.clone());
            e
        };
        if s.suppressed {
            out.events.push(msg(s.at, EventKind::MessageSuppressed));
            continue;
        }
        out.events.push(msg(s.at, EventKind::MessageSent));
        if s.bounced {
            out.events
                .push(msg(s.at + 60 * SECOND, EventKind::MessageBounced));
            continue;
        }
        out.events
            .push(msg(s.at + 60 * SECOND, EventKind::MessageDelivered));
        if let Some(t) = s.opened_at {
            out.events.push(msg(t, EventKind::MessageOpened));
        }
        if let Some(t) = s.clicked_at {
            out.events.push(msg(t, EventKind::MessageClicked));
        }
        if let Some(t) = s.unsubscribed_at {
            out.events.push(msg(t, EventKind::Unsubscribed));
        }
        if let Some(t) = s.complained_at {
            out.events.push(msg(t, EventKind::SpamComplaint));
        }
    }

    if o.converted {
        let order_id = format!("o{}", &cart.id[1..]);
        let lead = (ctx.abandon / 2).min(300 * SECOND);
        if o.order_at - lead > entered {
            let mut back = ev(o.order_at - lead, EventKind::CheckoutStarted);
            back.value = Some(value);
            out.events.push(back);
        }
        let mut order = ev(o.order_at, EventKind::OrderCompleted);
        order.order_id = Some(order_id.clone());
        order.value = Some(o.paid_cents as f64 / 100.0);
        if o.discount_cents > 0 {
            order.discount = Some(o.discount_cents as f64 / 100.0);
            order.coupon = o.coupon.clone();
        }
        if d.no_cart < p.order_without_cart_rate {
            order.cart_id = None;
        }
        if d.duplicate < p.duplicate_order_rate {
            let mut dup = order.clone();
            dup.ts += 60 * SECOND;
            out.events.push(dup);
            *out.injected.entry("duplicate_orders").or_default() += 1;
        }
        out.events.push(order);
        if let Some(at) = o.cancel_at {
            let mut e = ev(at, EventKind::OrderCancelled);
            e.order_id = Some(order_id.clone());
            out.events.push(e);
        }
        if let Some((at, cents)) = o.refund {
            let mut e = ev(at, EventKind::OrderRefunded);
            e.order_id = Some(order_id.clone());
            e.value = Some(cents as f64 / 100.0);
            out.events.push(e);
        }
    }

    // The shopper comes back inside the cooldown and leaves again: a
    // candidate that must not become a second entry.
    let room = ctx.cooldown - ctx.abandon - 7200 * SECOND;
    if d.noise < p.reentry_noise_rate && room > 0 {
        let at = entered + 3600 * SECOND + ((d.noise_at * room as f64) as i64 / SECOND) * SECOND;
        let mut e = ev(at, EventKind::CheckoutStarted);
        e.value = Some(value);
        out.events.push(e);
        *out.injected.entry("reentry_noise").or_default() += 1;
        let first = ctx.config.arms[out.arm].steps.first();
        if let (Some(step), false) = (first, out.arm == ctx.holdout) {
            if d.bug_reentry < p.reentry_send_rate
                && (!o.converted || at + ctx.abandon < o.order_at)
            {
                out.events.push(bug_send(
                    ev(at + ctx.abandon, EventKind::MessageSent),
                    step,
                    &arm_name,
                ));
                *out.injected.entry("reentry_sends").or_default() += 1;
            }
        }
    }
    inject_bugs(ctx, d, &o, &arm_name, out, &ev);
    ordered
}

/// The entry's net contribution under an outcome (one definition: `metrics`).
fn contribution(ctx: &Ctx, o: &ArmOutcome) -> f64 {
    net_contribution(
        &ctx.config.margin,
        o.net_cents as f64 / 100.0,
        if o.converted {
            o.discount_cents as f64 / 100.0
        } else {
            0.0
        },
        o.shipped,
        o.message_cost,
    )
}

fn rand_count(u: f64, max: usize) -> usize {
    ((u * 1000.0) as usize % max) + 1
}

fn bug_send(mut e: Event, step: &Step, arm: &str) -> Event {
    e.flow_step = Some(step.step as i32);
    e.channel = Some(step.channel.clone());
    e.variant = Some(arm.to_string());
    e
}

/// The sending system's mistakes: extra messages that change no outcome.
fn inject_bugs(
    ctx: &Ctx,
    d: &Draws,
    o: &ArmOutcome,
    arm_name: &str,
    out: &mut CustomerSim,
    ev: &dyn Fn(i64, EventKind) -> Event,
) {
    let p = ctx.p;
    let arm = &ctx.config.arms[out.arm];
    if out.arm == ctx.holdout {
        if let Some(first) = o.sends.first() {
            if d.bug_leak < p.holdout_leak_rate
                && (!o.converted || first.at + 120 * SECOND < o.order_at)
            {
                out.events.push(bug_send(
                    ev(first.at + 120 * SECOND, EventKind::MessageSent),
                    first.step,
                    arm_name,
                ));
                *out.injected.entry("sends_to_holdout").or_default() += 1;
            }
        }
        return;
    }
    if o.converted && d.bug_after < p.send_after_purchase_rate {
        let next = arm.steps.get(o.sends.len()).or(arm.steps.last());
        if let Some(step) = next {
            out.events.push(bug_send(
                ev(o.order_at + 1800 * SECOND, EventKind::MessageSent),
                step,
                arm_name,
            ));
            *out.injected.entry("sends_after_purchase").or_default() += 1;
        }
    }
    // A burst of copies of the first message, enough to break any frequency cap.
    let copies = ctx
        .config
        .flow
        .frequency_cap
        .as_ref()
        .map_or(1, |c| c.max_messages as i64);
    if let Some(first) = o.sends.first() {
        if d.bug_dup < p.duplicate_send_rate && first.at + copies * 600 * SECOND < o.order_at {
            for k in 1..=copies {
                out.events.push(bug_send(
                    ev(first.at + k * 600 * SECOND, EventKind::MessageSent),
                    first.step,
                    arm_name,
                ));
            }
            *out.injected.entry("duplicate_sends").or_default() += 1;
        }
    }
    if o.sends.len() >= 3
        && d.bug_order < p.out_of_order_rate
        && o.sends[2].at + 3600 * SECOND < o.order_at
    {
        out.events.push(bug_send(
            ev(o.sends[2].at + 3600 * SECOND, EventKind::MessageSent),
            o.sends[1].step,
            arm_name,
        ));
        *out.injected.entry("out_of_order_sends").or_default() += 1;
    }
}

/// What the truth needs of each customer and entry, kept compactly (no
/// event) while the events go on to the log; in customer order, entries
/// in the order simulated, so sums run in the order they always have.
struct Tally {
    n_arms: usize,
    /// Per customer: its arm and the end of its entries.
    customers: Vec<(usize, usize)>,
    /// Per entry: when it entered the flow.
    entered: Vec<i64>,
    /// Per entry, per arm: (converted, net cents, discount cents, contribution).
    po: Vec<(bool, i64, i64, f64)>,
    /// Per entry, each treatment arm's net cents with its first k steps,
    /// k = 0..=steps, arm after arm.
    po_steps: Vec<i64>,
    /// Per entry: [`EntrySim::template`].
    template: Vec<Option<(f64, f64, f64, u64)>>,
    injected: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn new(ctx: &Ctx) -> Tally {
        Tally {
            n_arms: ctx.config.arms.len(),
            customers: Vec::new(),
            entered: Vec::new(),
            po: Vec::new(),
            po_steps: Vec::new(),
            template: Vec::new(),
            injected: BTreeMap::new(),
        }
    }

    /// Keeps what the truth needs of a customer; returns its events.
    fn add(&mut self, r: CustomerSim) -> Vec<Event> {
        for (k, v) in &r.injected {
            *self.injected.entry(k).or_default() += v;
        }
        for e in r.entries {
            debug_assert_eq!(e.po.len(), self.n_arms);
            self.entered.push(e.entered_at);
            self.po.extend(e.po);
            for steps in e.po_steps {
                self.po_steps.extend(steps);
            }
            self.template.push(e.template);
        }
        self.customers.push((r.arm, self.entered.len()));
        r.events
    }

    /// The truth about a log of `events` rows ending at `data_end`, `late`
    /// of them moved late: entries after the log's end do not count.
    fn truth(
        &self,
        ctx: &Ctx,
        seed: u64,
        carts: usize,
        events: u64,
        data_end: i64,
        late: u64,
    ) -> Truth {
        let n_arms = self.n_arms;
        let mut injected = self.injected.clone();
        injected.insert("late_events", late);
        let mut truth = Truth {
            seed,
            carts: carts as u64,
            customers: self.customers.len() as u64,
            events,
            injected,
            ..Truth::default()
        };
        let counts = |i: &usize| self.entered[*i] <= data_end;
        let mut po_conv = vec![0u64; n_arms];
        let mut po_net = vec![0i64; n_arms];
        let mut po_disc = vec![0i64; n_arms];
        let mut po_contrib = vec![0.0f64; n_arms];
        let mut n_entries = 0u64;
        let mut n_customers = 0u64;
        let mut realized: Vec<ArmTruth> = vec![ArmTruth::default(); n_arms];
        let mut realized_net = vec![0i64; n_arms];
        let mut realized_disc = vec![0i64; n_arms];
        let mut start = 0;
        for &(arm, end) in &self.customers {
            let mut counted = false;
            for i in (start..end).filter(counts) {
                counted = true;
                n_entries += 1;
                let po = &self.po[i * n_arms..(i + 1) * n_arms];
                for a in 0..n_arms {
                    let (c, net, disc, contrib) = po[a];
                    po_conv[a] += c as u64;
                    po_net[a] += net;
                    po_disc[a] += disc;
                    po_contrib[a] += contrib;
                }
                let (c, net, disc, _) = po[arm];
                realized[arm].entries += 1;
                realized[arm].conversions += c as u64;
                realized_net[arm] += net;
                realized_disc[arm] += disc;
            }
            if counted {
                n_customers += 1;
                realized[arm].customers += 1;
            }
            start = end;
        }
        let per = |x: f64, n: u64| if n == 0 { 0.0 } else { x / n as f64 };
        for (a, arm) in ctx.config.arms.iter().enumerate() {
            let mut t = realized[a].clone();
            t.net_revenue = realized_net[a] as f64 / 100.0;
            t.discount = realized_disc[a] as f64 / 100.0;
            t.po_conversion_rate = per(po_conv[a] as f64, n_entries);
            t.po_revenue_per_entry = per(po_net[a] as f64 / 100.0, n_entries);
            t.po_discount_per_entry = per(po_disc[a] as f64 / 100.0, n_entries);
            t.po_net_contribution_per_entry = per(po_contrib[a], n_entries);
            t.po_conversions_per_customer = per(po_conv[a] as f64, n_customers);
            t.po_revenue_per_customer = per(po_net[a] as f64 / 100.0, n_customers);
            truth.arms.insert(arm.name.clone(), t);
        }
        // Each entry's step outcomes: every treatment arm's, arm after arm.
        let stride: usize = ctx
            .config
            .arms
            .iter()
            .enumerate()
            .filter(|&(a, _)| a != ctx.holdout)
            .map(|(_, arm)| arm.steps.len() + 1)
            .sum();
        debug_assert_eq!(self.po_steps.len(), stride * self.entered.len());
        let mut offset = 0;
        for (a, arm) in ctx.config.arms.iter().enumerate() {
            if a == ctx.holdout {
                continue;
            }
            let len = arm.steps.len() + 1;
            let mut sums = vec![0i64; len];
            for i in (0..self.entered.len()).filter(counts) {
                let at = i * stride + offset;
                for (k, v) in self.po_steps[at..at + len].iter().enumerate() {
                    sums[k] += v;
                }
            }
            offset += len;
            let steps = arm
                .steps
                .iter()
                .enumerate()
                .map(|(k, s)| StepTruth {
                    step: s.step,
                    incremental_revenue_per_entry: per(
                        (sums[k + 1] - sums[k]) as f64 / 100.0,
                        n_entries,
                    ),
                })
                .collect();
            // A branched arm's entries get different lists of steps, so
            // "the arm's k-th step" names no one message: no per-step truth.
            if arm.branches.is_empty() {
                truth.steps.insert(arm.name.clone(), steps);
            }
        }
        let control = truth.arms[&ctx.config.arms[ctx.holdout].name].clone();
        for arm in ctx.config.arms.iter().filter(|a| !a.holdout) {
            let t = &truth.arms[&arm.name];
            truth.effects.insert(
                arm.name.clone(),
                Effect {
                    conversion_rate: t.po_conversion_rate - control.po_conversion_rate,
                    revenue_per_entry: t.po_revenue_per_entry - control.po_revenue_per_entry,
                    net_contribution_per_entry: t.po_net_contribution_per_entry
                        - control.po_net_contribution_per_entry,
                    conversions_per_customer: t.po_conversions_per_customer
                        - control.po_conversions_per_customer,
                    revenue_per_customer: t.po_revenue_per_customer
                        - control.po_revenue_per_customer,
                },
            );
        }
        if let Some(template) = &ctx.template {
            let entries: Vec<(f64, f64, f64, u64)> = (0..self.entered.len())
                .filter(counts)
                .filter_map(|i| self.template[i])
                .collect();
            let holdout = &ctx.config.arms[ctx.holdout];
            truth.oracle = Some(template.oracle(
                ctx.config,
                &entries,
                holdout.weight,
                control.po_net_contribution_per_entry,
                &ctx.p.effects,
            ));
        }
        truth
    }
}

/// How far a late row moves at most.
const LATE_REACH: usize = 1000;

/// Moves a share of rows later in the log, as late-arriving events do: row
/// `i`, with probability `rate`, goes to position `i + 1 + U{0..999}` (the
/// last at most) and the rows between move up one, for `i` from the first
/// row to the last. One pass over the `n` rows `next` gives, handing each
/// to `put` once its place is final: a row moves at most [`LATE_REACH`]
/// places, so 1001 rows are held at most. Returns how many rows moved.
fn make_late(
    n: u64,
    seed: u64,
    rate: f64,
    mut next: impl FnMut() -> Result<Option<Event>>,
    mut put: impl FnMut(Event) -> Result<()>,
) -> Result<u64> {
    let n = n as usize;
    if rate <= 0.0 || n < 2 {
        while let Some(e) = next()? {
            put(e)?;
        }
        return Ok(0);
    }
    let mut rng = customer_rng(seed, 0);
    // Rows i..=i+LATE_REACH of the log as the moves before row i left it.
    let mut ahead: VecDeque<Event> = VecDeque::with_capacity(LATE_REACH + 1);
    let mut moved = 0;
    for i in 0..n {
        while ahead.len() < (LATE_REACH + 1).min(n - i) {
            match next()? {
                Some(e) => ahead.push_back(e),
                None => bail!("internal error: the simulated log ended after {i} of {n} rows"),
            }
        }
        if rng.random::<f64>() < rate {
            let j = (i + 1 + rng.random_range(0..LATE_REACH)).min(n - 1);
            if j > i {
                // Rows i..=j rotated left by one: row i lands at j.
                let row = ahead.pop_front().expect("row i is held");
                ahead.insert(j - i, row);
                moved += 1;
            }
        }
        put(ahead.pop_front().expect("row i is held"))?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::store::{write_events_owned, EventWriter, RowGroups};

    fn sample() -> FlowConfig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample/flow.toml");
        FlowConfig::load(std::path::Path::new(path)).unwrap()
    }

    /// The rows moved late as the whole log in memory had them: the
    /// reference the streaming pass must equal.
    fn rotate_late(events: &mut [Event], seed: u64, rate: f64) -> u64 {
        if rate <= 0.0 || events.len() < 2 {
            return 0;
        }
        let mut rng = customer_rng(seed, 0);
        let n = events.len();
        let mut moved = 0;
        for i in 0..n {
            if rng.random::<f64>() < rate {
                let j = (i + 1 + rng.random_range(0..1000usize)).min(n - 1);
                if j > i {
                    events[i..=j].rotate_left(1);
                    moved += 1;
                }
            }
        }
        moved
    }

    /// The log as one stable sort of all its events in memory, with rows
    /// moved late in place (what `simulate` did before it streamed).
    fn in_memory(config: &FlowConfig, carts: usize, seed: u64) -> (Vec<Event>, Truth) {
        let p = SimParams::from_table(config.simulation.as_ref()).unwrap();
        let ctx = context(config, &p, true).unwrap();
        let mut tally = Tally::new(&ctx);
        let mut events = Vec::new();
        let results: Vec<CustomerSim> = plan_customers(carts, seed, &p)
            .par_iter()
            .map(|&(index, n_carts, first_cart)| {
                simulate_customer(&ctx, seed, index, n_carts, first_cart)
            })
            .collect();
        for r in results {
            events.extend(tally.add(r));
        }
        events.sort_by_key(|e| e.ts);
        let data_end = events.iter().map(|e| e.ts).max().unwrap_or(0);
        let late = rotate_late(&mut events, seed, p.late_event_rate);
        let truth = tally.truth(&ctx, seed, carts, events.len() as u64, data_end, late);
        (events, truth)
    }

    fn rows(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event::new(i as i64, EventKind::CartUpdated, format!("c{i}")))
            .collect()
    }

    #[test]
    fn streaming_late_pass_moves_the_rows_the_rotations_did() {
        for n in [0, 1, 2, 3, 50, 1001, 1002, 4000] {
            for rate in [0.0, 0.01, 0.3, 1.0] {
                for seed in [1, 42] {
                    let mut expected = rows(n);
                    let moved = rotate_late(&mut expected, seed, rate);
                    let mut source = rows(n).into_iter();
                    let mut out = Vec::new();
                    let got = make_late(
                        n as u64,
                        seed,
                        rate,
                        || Ok(source.next()),
                        |e| {
                            out.push(e);
                            Ok(())
                        },
                    )
                    .unwrap();
                    assert_eq!(got, moved, "n {n}, rate {rate}, seed {seed}");
                    assert!(out == expected, "n {n}, rate {rate}, seed {seed}");
                }
            }
        }
    }

    #[test]
    fn streamed_log_and_truth_are_the_bytes_of_the_log_in_memory() {
        let config = sample();
        // Some 580 000 rows: three row groups (two full, one short).
        let (carts, seed) = (40_000, 42);
        let dir = tempfile::tempdir().unwrap();
        let (events, truth) = in_memory(&config, carts, seed);
        let whole = dir.path().join("whole.parquet");
        write_events_owned(events, &whole).unwrap();
        // Batches of 2000 customers: some 16 sorted runs to merge.
        let streamed = dir.path().join("streamed.parquet");
        let mut w = EventWriter::create(&streamed)
            .unwrap()
            .with_row_groups(RowGroups::Fixed);
        let streamed_truth = stream_in_batches(&config, carts, seed, &mut w, 2000).unwrap();
        w.commit().unwrap();
        assert!(
            std::fs::read(&whole).unwrap() == std::fs::read(&streamed).unwrap(),
            "the streamed Parquet differs from the one written in memory"
        );
        assert!(truth.events > 2 * 512 * 512 && truth.injected["late_events"] > 0);
        assert_eq!(
            serde_json::to_string_pretty(&truth).unwrap(),
            serde_json::to_string_pretty(&streamed_truth).unwrap()
        );
    }

    #[test]
    fn runs_of_one_customer_and_one_thread_change_nothing() {
        let config = sample();
        let (carts, seed) = (1500, 7);
        let (expected, truth) = in_memory(&config, carts, seed);
        let json = serde_json::to_string_pretty(&truth).unwrap();
        // A run per customer: past the number of runs merged at once.
        let mut events = Vec::new();
        let t = stream_in_batches(&config, carts, seed, &mut events, 1).unwrap();
        assert!(events == expected);
        assert_eq!(serde_json::to_string_pretty(&t).unwrap(), json);
        // One thread, the default batch.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let sim = pool.install(|| simulate(&config, carts, seed)).unwrap();
        assert!(sim.events == expected);
        assert_eq!(serde_json::to_string_pretty(&sim.truth).unwrap(), json);
    }
}
