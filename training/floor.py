"""What "worst gain at a model's cost" shows for a router that knows nothing per question.

Issue 22 asks that no single model beat the router's curve at its own cost by more than 2
points on FormationEval, and issue 23 that the router be at least each model at its cost
"within the sampling noise of the rows". The worst of many such gains, on a held fold of a few
dozen questions, is biased low even for a router as good as every model: it is the minimum over
many noisy differences. This script measures that floor with a null router, the single-model
curve chosen on the training rows: at each trade-off λ, the one model best on the training rows
in accuracy − λ·mean true cost, sent every held question, and between two such models a random
share of the questions to each. It has no per-question information and is not a goal; it tells
what the statistic shows when routing adds nothing.

It is scored as `routoo eval` scores the router (gain at a model's cost: the best curve point
whose mean true cost is within the model's, less the model's accuracy, on the held rows where
every model of the evaluation is labelled and costed; one-sided 95 % bounds from 1,000 paired
bootstrap draws of the held rows, a sure loss when the upper bound is below zero), on the inner
folds and the outer split of outer.py, beside the router's scores there.

    python training/floor.py [--router eval-endings_e0]
"""

import argparse
import json

import numpy as np

import outer
import research
import space
import split
from data import read_rows

DRAWS = 1000
# The evaluations with more than two models: a pair has no model between its two points.
KEYS = ("mmlu-9-models", "mmlu-open-pool", "routerbench-11-models", "zeroeval-all-models",
        "mmlu-pro-all-models", "formationeval-all-models")


def matrices(rows, idx, models):
    """(labels, costs) [row, model] of rows `idx` where every one of `models` has both."""
    keep = [i for i in idx if all(m in rows[i]["labels"] and m in rows[i]["cost"]
                                  for m in models)]
    y = np.array([[rows[i]["labels"][m] for m in models] for i in keep], dtype=np.float64)
    c = np.array([[rows[i]["cost"][m] for m in models] for i in keep], dtype=np.float64)
    return y.reshape(len(keep), len(models)), c.reshape(len(keep), len(models))


def gains(y, c, curve):
    """[model]: the null router's best accuracy at a mean cost within each model's, less its
    accuracy (NaN: no point there). Between two `curve` models it sends each question to one
    or the other at random, in the share that spends the budget: their accuracies and costs
    interpolated, as a router's many trade-offs fill its curve between single models."""
    acc, cost = y.mean(0), c.mean(0)
    out = np.full(len(acc), np.nan)
    for j in range(len(acc)):
        budget = cost[j] * (1 + 1e-9)
        best = [acc[k] for k in curve if cost[k] <= budget]
        for a in curve:
            for b in curve:
                if cost[a] < budget < cost[b]:
                    t = (budget - cost[a]) / (cost[b] - cost[a])
                    best.append(acc[a] + t * (acc[b] - acc[a]))
        if best:
            out[j] = max(best) - acc[j]
    return out


def null_router(rows, train, held, models, seed=0):
    """(worst gain, model, sure losses) of the null router on rows `held`, chosen on `train`."""
    ty, tc = matrices(rows, train, models)
    hy, hc = matrices(rows, held, models)
    # The models some λ ≥ 0 makes best on the training rows.
    curve = [m for _, _, m in research.upper_hull(tc.mean(0), ty.mean(0))]
    g = gains(hy, hc, curve)
    rng = np.random.default_rng(seed)
    draws = np.array([gains(hy[ix], hc[ix], curve)
                      for ix in rng.integers(0, len(hy), (DRAWS, len(hy)))])
    with np.errstate(invalid="ignore"):
        high = np.nanquantile(draws, 0.95, axis=0)
    sure = [models[j] for j in range(len(models)) if np.isfinite(high[j]) and high[j] < 0]
    j = int(np.nanargmin(g))
    return g[j], models[j], sure, len(hy)


def of_table(rows, idx, table):
    return np.array([i for i in idx if rows[i]["table"] == table])


def router_worst(rep):
    got = {m: v for m, v in rep["gain_at_cost"].items() if v is not None}
    iv = rep.get("intervals", {}).get("gain_at_cost", {})
    sure = [m for m, b in iv.items() if b and b["high"] is not None and b["high"] < 0]
    worst = min(got, key=got.get)
    return got[worst], worst, sure


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--router", default="eval-endings_e0",
                    help="the router's scores, outer.py's eval-<variant> folder")
    args = ap.parse_args()
    rows, prompts = read_rows(split.DATA)
    keys = np.array([space.question_key(r, p) for r, p in zip(rows, prompts)])
    is_outer = np.array([space.is_outer(k) for k in keys])
    folds = np.array([space.fold_of(k) for k in keys])
    inner = np.flatnonzero(~is_outer)
    splits = [(f"inner {f}", inner[folds[inner] != f], inner[folds[inner] == f],
               outer.WORK / f"inner-{f}" / args.router) for f in outer.FOLDS]
    splits.append(("outer", inner, np.flatnonzero(is_outer), outer.WORK / "outer" / args.router))
    print(f"| evaluation | split | rows | null: worst gain (model) | null: sure losses | "
          f"router ({args.router}): worst gain (model) | router: sure losses |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for key in KEYS:
        for name, train, held, where in splits:
            path = where / f"{key}.json"
            if not path.exists():
                continue
            rep = json.loads(path.read_text())
            models = sorted(rep["models"])
            table = next(r["table"] for r in (rows[i] for i in held)
                         if all(m in r["labels"] for m in models))
            g, m, sure, n = null_router(rows, of_table(rows, train, table),
                                        of_table(rows, held, table), models)
            rg, rm, rsure = router_worst(rep)
            if n != rep["rows"]:
                raise SystemExit(f"{key}, {name}: {n} rows here, {rep['rows']} in {path}")
            summary.setdefault(key, []).append((name, g, len(sure), rg, len(rsure)))
            print(f"| {key} | {name} | {n} | {100 * g:+.2f} ({m}) | {', '.join(sure) or '–'} | "
                  f"{100 * rg:+.2f} ({rm}) | {', '.join(rsure) or '–'} |")
    print("\n| evaluation | null: worst gain, inner mean ± sd | null: sure losses, inner | "
          "router: worst gain, inner mean ± sd | router: sure losses, inner |")
    print("|---|---|---|---|---|")
    for key, got in summary.items():
        inner_only = [v for v in got if v[0] != "outer"]
        g = np.array([v[1] for v in inner_only]) * 100
        r = np.array([v[3] for v in inner_only]) * 100
        print(f"| {key} | {g.mean():+.2f} ± {g.std():.2f} | {sum(v[2] for v in inner_only)} | "
              f"{r.mean():+.2f} ± {r.std():.2f} | {sum(v[4] for v in inner_only)} |")


if __name__ == "__main__":
    main()
