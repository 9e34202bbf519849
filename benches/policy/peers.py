#!/usr/bin/env python3
"""Python peers of `cartlift policy` (the learned targeting policy) for
benches/policy/run.sh, and the held-out valuation every tool is scored by.

    peers.py units   CARTS --flow F --out units.parquet      # the shared units table
    peers.py causalml CARTS --flow F [--max-train N]         # fit, value, print JSON
    peers.py sklift   CARTS --flow F [--max-train N]
    peers.py value   --units units.parquet --flow F --json policy.json --scores scores.csv
    peers.py cartlift-args --flow F                          # --weights/--current for --units
    peers.py report  RUNDIR                                  # the table from run.sh's outputs

Units are built as `cartlift policy CARTS --covariates ...` builds them
(src/uplift/carts.rs, `carts_table`): one row per customer, the customer's
first entry in table order, left out when that entry has no cart value; the
outcome `net_contribution` = contribution_margin × (revenue + discount) −
discount − shipping (converted and not cancelled) − message cost
(src/metrics.rs); `abandoned_hour` and `abandoned_weekday` (0 = Monday) of
`abandoned_at` in UTC; `days_since_last_order` (and `days_since_first_order`)
100,000 when the customer has no earlier order; any other covariate is the
carts column itself, numbers with null → 0, text with null → "unknown" (so
covariates added to CART_COVARIATES later need only their names in
COVARIATES, unless they are derived). The peers one-hot text covariates.

The split: a fixed share of units (--test-share, default 0.3) drawn at
random (numpy, --split-seed) is the test part; every tool fits on the rest.
A policy's value on the test part is the inverse-propensity-weighted mean
of the outcome, (1/n) Σ 1{A_i = π(x_i)} · Y_i / e(A_i), with e the flow
file's arm weights (the randomization probabilities), and its standard
error sd/√n of the summands.
"""

import argparse
import json
import os
import resource
import sys
import time
import tomllib

import numpy as np
import polars as pl

# The covariates of `cartlift policy --covariates all` (CART_COVARIATES in
# src/uplift/carts.rs). run.sh passes its COVARIATES variable here; this is
# the default when it does not.
COVARIATES = [
    "cart_value",
    "customer_status",
    "customer_prior_spend",
    "abandoned_hour",
    "abandoned_weekday",
    "prior_orders",
    "days_since_last_order",
    "prior_discounted_orders",
    "days_since_first_order",
    "capture_channel",
]
NO_ORDER_DAYS = 100_000.0
# Day counts where "no order" (null or not finite) reads as NO_ORDER_DAYS,
# as carts_table reads them.
DAYS_COLUMNS = {"days_since_last_order", "days_since_first_order"}
OUTCOME = "net_contribution"


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_flow(path):
    with open(path, "rb") as f:
        flow = tomllib.load(f)
    arms = flow["arms"]
    total = sum(a["weight"] for a in arms)
    weights = {a["name"]: a["weight"] / total for a in arms}
    control = next(a["name"] for a in arms if a.get("holdout"))
    return flow, arms, weights, control


def build_units(carts_path, flow, covariates):
    """The one-row-per-customer table (see the module docstring)."""
    margin = flow["margin"]
    m = float(margin["contribution_margin"])
    ship = float(margin.get("shipping_cost", 0.0))
    derived = {"abandoned_hour", "abandoned_weekday"}
    wanted = ["customer_id", "arm", "abandoned_at", "converted", "cancelled",
              "revenue", "discount", "message_cost", "cart_value"]
    wanted = list(dict.fromkeys(wanted + [c for c in covariates + ["customer_status"] if c not in derived]))
    carts = pl.read_parquet(carts_path, columns=wanted)
    first = (
        carts.with_columns(pl.col("customer_id").fill_null(""))
        .unique(subset="customer_id", keep="first", maintain_order=True)
        .filter(pl.col("cart_value").is_not_null())
    )
    at = pl.col("abandoned_at")
    if first.schema["abandoned_at"].time_zone is not None:
        at = at.dt.convert_time_zone("UTC")
    shipped = pl.col("converted").fill_null(False) & ~pl.col("cancelled").fill_null(False)
    rev = pl.col("revenue").fill_null(0.0)
    disc = pl.col("discount").fill_null(0.0)
    exprs = [
        pl.col("arm").cast(pl.String).fill_null("unknown"),
        (m * (rev + disc) - disc - pl.when(shipped).then(ship).otherwise(0.0)
         - pl.col("message_cost").fill_null(0.0)).alias(OUTCOME),
        pl.col("converted").fill_null(False).cast(pl.Int8).alias("converted"),
    ]
    for c in ("cart_value", "customer_status"):  # the causalml money rule reads them
        if c not in covariates and c in first.columns:
            exprs.append(pl.col(c))
    for c in covariates:
        if c == "abandoned_hour":
            exprs.append(at.dt.hour().cast(pl.Float64).alias(c))
        elif c == "abandoned_weekday":
            exprs.append((at.dt.weekday() - 1).cast(pl.Float64).alias(c))
        elif c in DAYS_COLUMNS:
            v = pl.col(c).cast(pl.Float64)
            exprs.append(pl.when(v.is_null() | ~v.is_finite()).then(NO_ORDER_DAYS)
                         .otherwise(v).alias(c))
        elif first.schema[c] in (pl.String, pl.Categorical, pl.Enum) or first.schema[c] == pl.Boolean:
            exprs.append(pl.col(c).cast(pl.String).fill_null("unknown").alias(c))
        else:
            exprs.append(pl.col(c).cast(pl.Float64).fill_null(0.0).alias(c))
    return first.select(exprs)


def split(n, test_share, seed):
    rng = np.random.default_rng(seed)
    return rng.random(n) < test_share  # True: test


def design(units, covariates):
    """Feature matrix: numeric columns as they are, text columns one-hot
    (one indicator per value, values sorted)."""
    cols, names = [], []
    for c in covariates:
        s = units[c]
        if s.dtype == pl.String:
            for v in sorted(s.unique().to_list()):
                cols.append((s == v).cast(pl.Float64).to_numpy())
                names.append(f"{c}={v}")
        else:
            cols.append(s.cast(pl.Float64).to_numpy())
            names.append(c)
    return np.column_stack(cols).astype(np.float64), names


def ipw_value(arm, y, chosen, weights):
    """IPW value of the policy `chosen` (arm names per unit) and its SE."""
    e = np.array([weights[a] for a in arm])
    terms = np.where(arm == chosen, y / e, 0.0)
    n = len(terms)
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(n)), n


def gain_over(arm, y, chosen, ref, weights):
    """IPW gain of policy `chosen` over giving everyone arm `ref`, paired on
    the same units: mean and SE of the per-unit differences."""
    e = np.array([weights[a] for a in arm])
    d = np.where(arm == chosen, y / e, 0.0) - np.where(arm == ref, y / e, 0.0)
    return {"over": ref, "gain": float(d.mean()), "standard_error": float(d.std(ddof=1) / np.sqrt(len(d)))}


def best_single_arm(arm, y, weights, control):
    """The treatment arm with the highest IPW treat-all value (on the train part)."""
    v = treat_all_values(arm, y, weights)
    return max((a for a in v if a != control), key=v.get)


def treat_all_values(arm, y, weights):
    return {a: ipw_value(arm, y, np.full(len(arm), a, dtype=object), weights)[0]
            for a in weights}


def incentive_discount(arm_cfg, value, status, ship):
    """Discount per converted unit under an arm: its first incentive that
    applies to the cart (cart-value range, statuses), as the flow's
    `discount_on` computes it; 0 without one."""
    disc = np.zeros(len(value))
    done = np.zeros(len(value), dtype=bool)
    for step in arm_cfg.get("steps", []):
        inc = step.get("incentive")
        if not inc:
            continue
        ok = ~done
        if "min_cart_value" in inc:
            ok &= value >= inc["min_cart_value"]
        if "max_cart_value" in inc:
            ok &= value < inc["max_cart_value"]
        if "customer_status" in inc and status is not None:
            ok &= np.isin(status, inc["customer_status"])
        kind, v = inc["kind"], float(inc.get("value", 0.0))
        if kind == "percent_off":
            d = value * v / 100.0
        elif kind == "fixed_off":
            d = np.minimum(v, value)
        else:  # free_shipping
            d = np.full(len(value), ship)
        disc = np.where(ok, np.round(d * 100.0) / 100.0, disc)
        done |= ok
    return disc


def fit_causalml(Xtr, arm_tr, ytr_conv, Xte, units_te, arms, control, flow, args):
    t = time.perf_counter()
    from causalml.inference.tree import UpliftRandomForestClassifier

    import_s = time.perf_counter() - t

    model = UpliftRandomForestClassifier(
        control_name=control,
        n_estimators=args.trees,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        evaluationFunction="KL",
        random_state=args.seed,
        n_jobs=args.jobs,
    )
    t = time.perf_counter()
    model.fit(Xtr, treatment=arm_tr, y=ytr_conv)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    out = model.predict(Xte, full_output=True)
    predict_s = time.perf_counter() - t
    classes = list(model.classes_)
    prob = out[classes].to_numpy()  # P(convert | x, arm) per arm, control first
    # Rule 1 (the one scored): the arm with the highest expected net
    # contribution, p_a(x) · (margin · cart value − shipping − discount_a)
    # − message cost_a, the discount assumed redeemed by every converter.
    m = float(flow["margin"]["contribution_margin"])
    ship = float(flow["margin"].get("shipping_cost", 0.0))
    costs = flow["margin"].get("message_cost", {})
    value = units_te["cart_value"].to_numpy()
    status = units_te["customer_status"].to_numpy() if "customer_status" in units_te.columns else None
    by_name = {a["name"]: a for a in arms}
    money = np.empty_like(prob)
    for j, a in enumerate(classes):
        cfg = by_name[a]
        d = incentive_discount(cfg, value, status, ship)
        msg = 0.0 if cfg.get("holdout") else sum(costs.get(s["channel"], 0.0) for s in cfg.get("steps", []))
        money[:, j] = prob[:, j] * (m * value - ship - d) - msg
    chosen_money = np.array(classes, dtype=object)[money.argmax(axis=1)]
    # Rule 2 (reported beside it): the highest predicted conversion uplift,
    # the control when no arm's is positive.
    delta = prob[:, 1:] - prob[:, [0]]
    best = delta.argmax(axis=1)
    chosen_conv = np.where(delta.max(axis=1) > 0,
                           np.array(classes[1:], dtype=object)[best], control)
    return {"import_s": import_s, "fit_s": fit_s, "predict_s": predict_s,
            "policies": {"expected_net_contribution": chosen_money,
                         "conversion_uplift": chosen_conv},
            "settings": {"n_estimators": args.trees, "max_depth": args.max_depth,
                         "min_samples_leaf": args.min_samples_leaf,
                         "evaluationFunction": "KL", "n_jobs": args.jobs,
                         "outcome": "converted"}}


def lgbm(args):
    from lightgbm import LGBMRegressor

    # The capacity of cartlift's outcome models: 100 rounds of depth-3 trees
    # at learning rate 0.1 (squared loss).
    return LGBMRegressor(n_estimators=100, max_depth=3, num_leaves=8,
                         learning_rate=0.1, min_child_samples=100,
                         subsample=1.0, colsample_bytree=1.0,
                         random_state=args.seed, n_jobs=args.jobs, verbose=-1)


def fit_sklift(Xtr, arm_tr, ytr, Xte, arms, control, args):
    t = time.perf_counter()
    from sklift.models import TwoModels

    import_s = time.perf_counter() - t

    treatments = sorted(a["name"] for a in arms if not a.get("holdout"))
    t = time.perf_counter()
    models = {}
    for a in treatments:
        keep = (arm_tr == a) | (arm_tr == control)
        tm = TwoModels(estimator_trmnt=lgbm(args), estimator_ctrl=lgbm(args), method="vanilla")
        tm.fit(Xtr[keep], ytr[keep], (arm_tr[keep] == a).astype(int))
        models[a] = tm
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    uplift = np.column_stack([models[a].predict(Xte) for a in treatments])
    predict_s = time.perf_counter() - t
    best = uplift.argmax(axis=1)
    chosen = np.where(uplift.max(axis=1) > 0, np.array(treatments, dtype=object)[best], control)
    return {"import_s": import_s, "fit_s": fit_s, "predict_s": predict_s,
            "policies": {"net_contribution_uplift": chosen},
            "settings": {"estimator": "lightgbm.LGBMRegressor(n_estimators=100, max_depth=3, "
                                      "num_leaves=8, learning_rate=0.1, min_child_samples=100)",
                         "method": "vanilla", "models": f"{len(treatments)} TwoModels, each arm vs {control}",
                         "outcome": OUTCOME}}


def cmd_units(args):
    flow, _, _, _ = load_flow(args.flow)
    units = build_units(args.carts, flow, args.covariates)
    test = split(units.height, args.test_share, args.split_seed)
    units = units.with_columns(pl.Series("part", np.where(test, "test", "train")))
    units.write_parquet(args.out)
    print(json.dumps({"units": units.height, "test": int(test.sum()), "out": args.out}))


def cmd_fit(args):
    t0 = time.perf_counter()
    flow, arms, weights, control = load_flow(args.flow)
    units = build_units(args.carts, flow, args.covariates)
    test = split(units.height, args.test_share, args.split_seed)
    X, names = design(units, args.covariates)
    arm = units["arm"].to_numpy().astype(object)
    y = units[OUTCOME].to_numpy()
    conv = units["converted"].to_numpy()
    tr = np.flatnonzero(~test)
    if args.max_train and len(tr) > args.max_train:
        tr = np.sort(np.random.default_rng(args.seed).choice(tr, args.max_train, replace=False))
    te = np.flatnonzero(test)
    units_te = units[te]
    prep_s = time.perf_counter() - t0
    if args.peer == "causalml":
        r = fit_causalml(X[tr], arm[tr], conv[tr], X[te], units_te, arms, control, flow, args)
    else:
        r = fit_sklift(X[tr], arm[tr], y[tr], X[te], arms, control, args)
    values = {}
    best = best_single_arm(arm[tr], y[tr], weights, control)
    for rule, chosen in r["policies"].items():
        v, se, n = ipw_value(arm[te], y[te], chosen, weights)
        shares = {a: float(np.mean(chosen == a)) for a in weights}
        values[rule] = {"value": v, "standard_error": se, "n": n, "arm_shares": shares,
                        "vs_best_single_arm": gain_over(arm[te], y[te], chosen, best, weights)}
    out = {
        "peer": args.peer,
        "units": units.height,
        "train_units": int(len(tr)),
        "test_units": int(len(te)),
        "features": names,
        "prepare_s": round(prep_s, 3),
        "import_s": round(r["import_s"], 3),
        "fit_s": round(r["fit_s"], 3),
        "predict_s": round(r["predict_s"], 3),
        "total_s": round(time.perf_counter() - t0, 3),
        "peak_rss_mb_self": round(peak_mb(), 1),
        "settings": r["settings"],
        "policies": values,
        "treat_all_on_test": treat_all_values(arm[te], y[te], weights),
    }
    text = json.dumps(out, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


def cmd_value(args):
    """IPW value on the test part of the policy cartlift deploys after
    learning on the train part (`policy --units --split-col part`), and of
    its policy tree whether deployed or not."""
    _, _, weights, control = load_flow(args.flow)
    units = pl.read_parquet(args.units, columns=["arm", OUTCOME, "part"])
    with open(args.json) as f:
        rep = json.load(f)
    rec = rep["decision"]["recommend"]
    is_test = (units["part"] == "test").to_numpy()
    te = np.flatnonzero(is_test)
    arm_all = units["arm"].to_numpy().astype(object)
    y_all = units[OUTCOME].to_numpy()
    best = best_single_arm(arm_all[~is_test], y_all[~is_test], weights, control)
    arm = arm_all[te]
    y = y_all[te]
    scores = pl.read_csv(args.scores, columns=["row", "policy_arm"])
    rows = scores["row"].to_numpy()
    if not np.array_equal(np.sort(rows), te):
        sys.exit("scores: rows are not the test part of the units table")
    tree = np.empty(len(te), dtype=object)
    tree[np.searchsorted(te, rows)] = scores["policy_arm"].to_numpy().astype(object)
    chosen = tree if rec == "policy_tree" else np.full(len(te), rec.split(":", 1)[1], dtype=object)

    def entry(c):
        v, se, n = ipw_value(arm, y, c, weights)
        return {"value": v, "standard_error": se, "n": n,
                "arm_shares": {a: float(np.mean(c == a)) for a in weights},
                "vs_best_single_arm": gain_over(arm, y, c, best, weights)}

    name = "policy_tree" if rec == "policy_tree" else "treat_all:" + rec.split(":", 1)[1]
    out = {"recommend": rec, "deployed": entry(chosen), "tree": entry(tree),
           "cartlift_dr_value_on_test": next((x for x in rep["values"] if x["name"] == name), None),
           "treat_all_on_test": treat_all_values(arm, y, weights)}
    text = json.dumps(out, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


def cmd_cartlift_args(args):
    """`--weights ARM=W,... --current ARM` for `cartlift policy --units`: the
    flow's arm weights and its first treatment arm, as the carts route uses."""
    _, arms, _, _ = load_flow(args.flow)
    w = ",".join(f"{a['name']}={a['weight']}" for a in arms)
    current = next(a["name"] for a in arms if not a.get("holdout"))
    print(f"--weights {w} --current {current}")


def gnu_time(path):
    """Wall seconds and peak RSS (MB) from `/usr/bin/time -v` output."""
    wall = rss = None
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("Elapsed (wall clock) time"):
                    parts = line.rsplit(" ", 1)[1].split(":")
                    wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))
                elif line.startswith("Maximum resident set size"):
                    rss = int(line.rsplit(" ", 1)[1]) / 1024.0
    except FileNotFoundError:
        pass
    return wall, rss


def cmd_report(args):
    """The bench's table from one run directory (see run.sh)."""
    d = args.dir

    def load(name):
        try:
            with open(os.path.join(d, name)) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def shares(s):
        return ", ".join(f"{a} {v:.0%}" for a, v in s.items() if v >= 0.005)

    rows = []

    def g(x):
        if x is None:
            return ""
        if "gain" in x:
            return f"{x['gain']:+.4f} ± {x['standard_error']:.4f} (vs {x['over']})"
        return f"{x['estimate']:+.4f} ± {x['standard_error']:.4f}"

    def row(tool, timefile, value, se, deploys, note="", gain=""):
        wall, rss = gnu_time(os.path.join(d, timefile)) if timefile else (None, None)
        status = ""
        if timefile and wall is None:
            status = open(os.path.join(d, timefile + ".status")).read().strip() \
                if os.path.exists(os.path.join(d, timefile + ".status")) else "not run"
        rows.append((tool, "" if wall is None else f"{wall:.2f}", "" if rss is None else f"{rss:,.0f}",
                     status or ("" if value is None else f"{value:+.4f} ± {se:.4f}"), gain, deploys, note))

    cv = load("cartlift_carts.json")
    if cv:
        rec = cv["decision"]["recommend"]
        name = "policy_tree" if rec == "policy_tree" else "treat_all:" + rec.split(":", 1)[1]
        v = next(x for x in cv["values"] if x["name"] == name)
        tree = next(x for x in cv["values"] if x["name"] == "policy_tree")
        row("cartlift policy CARTS (5-fold cross-fit, all units)", "cartlift_carts.time",
            v["estimate"], v["standard_error"], rec,
            f"DR value on held-out folds; its tree {tree['estimate']:+.4f} ± {tree['standard_error']:.4f}",
            "" if rec != "policy_tree" else g(next(x for x in cv["gains"] if x["name"].startswith("over_best")))
            + " (DR, held-out folds)")
    else:
        row("cartlift policy CARTS (5-fold cross-fit, all units)", "cartlift_carts.time", None, None, "")
    sp = load("cartlift_split_value.json")
    if sp:
        row("cartlift policy --units --split-col (train/test)", "cartlift_split.time",
            sp["deployed"]["value"], sp["deployed"]["standard_error"], sp["recommend"],
            f"IPW on test; its tree {sp['tree']['value']:+.4f} ± {sp['tree']['standard_error']:.4f}, "
            f"gain {g(sp['tree']['vs_best_single_arm'])} ({shares(sp['tree']['arm_shares'])})",
            g(sp["deployed"]["vs_best_single_arm"]))
    else:
        row("cartlift policy --units --split-col (train/test)", "cartlift_split.time", None, None, "")
    cm = load("causalml.json")
    if cm:
        p = cm["policies"]["expected_net_contribution"]
        row("causalml UpliftRandomForestClassifier (converted; max expected net contribution)",
            "causalml.time", p["value"], p["standard_error"], shares(p["arm_shares"]),
            f"IPW on test; fit {cm['fit_s']:.1f} s on {cm['train_units']:,} units", g(p["vs_best_single_arm"]))
        p = cm["policies"]["conversion_uplift"]
        row("  same forest, max predicted conversion uplift", None, p["value"], p["standard_error"],
            shares(p["arm_shares"]), "IPW on test (same run)", g(p["vs_best_single_arm"]))
    else:
        row("causalml UpliftRandomForestClassifier", "causalml.time", None, None, "")
    sk = load("sklift.json")
    if sk:
        p = sk["policies"]["net_contribution_uplift"]
        row("scikit-uplift TwoModels × 4 (LightGBM, net_contribution)", "sklift.time",
            p["value"], p["standard_error"], shares(p["arm_shares"]),
            f"IPW on test; fit {sk['fit_s']:.1f} s on {sk['train_units']:,} units", g(p["vs_best_single_arm"]))
    else:
        row("scikit-uplift TwoModels", "sklift.time", None, None, "")
    ref = (sp or cm or sk or {}).get("treat_all_on_test")
    head = ("tool", "wall s", "peak MB", "held-out policy value per entry",
            "gain over the best single arm (paired)", "deploys", "note")
    print("| " + " | ".join(head) + " |")
    print("|---|---:|---:|---:|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if ref:
        best = max(ref, key=ref.get)
        print("\ntreat-all values on the test part (IPW): " +
              ", ".join(f"{a} {v:+.4f}" for a, v in ref.items()) + f"; best single arm: {best}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    env_cov = os.environ.get("COVARIATES")
    default_cov = env_cov.split(",") if env_cov else COVARIATES

    def common(q):
        q.add_argument("--flow", required=True)
        q.add_argument("--covariates", type=lambda s: s.split(","), default=default_cov)
        q.add_argument("--test-share", type=float, default=0.3)
        q.add_argument("--split-seed", type=int, default=20261130)

    u = sub.add_parser("units")
    u.add_argument("carts")
    u.add_argument("--out", required=True)
    common(u)
    for peer in ("causalml", "sklift"):
        f = sub.add_parser(peer)
        f.add_argument("carts")
        common(f)
        f.add_argument("--max-train", type=int, default=0,
                       help="fit on at most this many training units (random subsample); 0: all")
        f.add_argument("--seed", type=int, default=1)
        f.add_argument("--jobs", type=int, default=2)
        f.add_argument("--json")
        if peer == "causalml":
            f.add_argument("--trees", type=int, default=10)
            f.add_argument("--max-depth", type=int, default=5)
            f.add_argument("--min-samples-leaf", type=int, default=100)
        f.set_defaults(peer=peer)
    v = sub.add_parser("value")
    v.add_argument("--units", required=True)
    v.add_argument("--flow", required=True)
    v.add_argument("--json", required=True)
    v.add_argument("--scores", required=True)
    v.add_argument("--out")
    c = sub.add_parser("cartlift-args")
    c.add_argument("--flow", required=True)
    r = sub.add_parser("report")
    r.add_argument("dir")
    args = p.parse_args()
    if args.cmd == "units":
        cmd_units(args)
    elif args.cmd == "value":
        cmd_value(args)
    elif args.cmd == "cartlift-args":
        cmd_cartlift_args(args)
    elif args.cmd == "report":
        cmd_report(args)
    else:
        cmd_fit(args)


if __name__ == "__main__":
    main()
