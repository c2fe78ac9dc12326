"""Issue 23, item 4: what bounds the router where the subject-level lookup beats it.

`space.py --designs class-lookup,static+domains+inferred` gives two lookups: each model's
training accuracy per domain class, read from the table (`class-lookup`), and the same levels
weighed by the domain probabilities the fitted encoder infers from the prompt's text
(`static+domains+inferred`, what a router could do at route time). This script mixes the
shipped router's out-of-fold predictions with the inferred lookup, in logits,
σ(α·logit(router) + (1 − α)·logit(lookup)): one α for every row, then one α per domain class
chosen by log loss on the other folds' rows (the class read from the table, and the
predictions from fits that saw the scored fold: a first look). The router's margin (κ = 1,
its own sd) and the lookup's true costs throughout.

With `--runs`, first a table of the headline figures of space.py runs side by side, each
given as LABEL=DIR:RESULT (a key of DIR/results.json).

    python training/inferred.py --router training/work/inner-domains-costs \\
        --inferred training/work/inner-inferred \\
        --runs "lookup=training/work/inner-domains:lookup" ...
"""

import argparse
import pathlib

import numpy as np

import report
import research
import space
from data import ROOT, read_rows

ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def mixed(a, router, lookup):
    return 1 / (1 + np.exp(-(a * logit(router) + (1 - a) * logit(lookup))))


def log_loss(q, y):
    have = ~np.isnan(y)
    q = np.clip(q[have], 1e-4, 1 - 1e-4)
    return -(y[have] * np.log(q) + (1 - y[have]) * np.log(1 - q)).sum()


def routing_alpha(rows, idx, q_of, sd, y, real, average, pool):
    """The α (of ALPHAS) whose mix routes rows `idx` best: the mean AIQ, weighed by rows, over
    the tables among them, each with the models labelled on all its rows there, at the margin
    κ = 1 and true costs."""
    def aiq(a):
        q = q_of(a)
        total = 0.0
        for table in {rows[i]["table"] for i in idx}:
            at = np.array([i for i in idx if rows[i]["table"] == table])
            cols = np.flatnonzero(~np.isnan(y[at]).any(axis=0))
            if len(at) < 10 or len(cols) < 2:
                continue
            hq = research.with_margin(q[np.ix_(at, cols)], sd[np.ix_(at, cols)], 1.0,
                                      average[cols])
            pts = research.curve(y[np.ix_(at, cols)], np.nan_to_num(real[np.ix_(at, cols)]),
                                 hq, real[np.ix_(at, cols)])
            total += len(at) * research.hull_area([(p[2], p[1]) for p in pts])
        return total
    return max(ALPHAS, key=aiq)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--router", type=pathlib.Path, required=True)
    ap.add_argument("--inferred", type=pathlib.Path, required=True)
    ap.add_argument("--max-subjects", type=int, default=16, help="as space.py's")
    ap.add_argument("--min-rows", type=int, default=200, help="as space.py's")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--runs", nargs="*", default=[], metavar="LABEL=DIR:RESULT")
    args = ap.parse_args()
    if args.runs:
        report.runs_table(args.runs)
    rows, prompts = space.without_outer(*read_rows(args.data))
    models = sorted({m for r in rows for m in r["labels"]})
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    y, true_cost = space.label_matrix(rows, models)
    real = np.full(true_cost.shape, np.nan)
    for f in range(space.FOLDS):
        test = np.flatnonzero(folds == f)
        real[test] = space.lookup(rows, true_cost, np.flatnonzero(folds != f), test)
    router = np.load(args.router / f"oof-{space.SHIPPED}.npy")
    sd = np.load(args.router / f"sd-{space.SHIPPED}.npy")
    lookup = np.load(args.inferred / "oof-static+domains+inferred.npy")
    pool = space.prices()
    every = np.ones(len(rows), bool)

    columns = {f"α = {a:g}": mixed(a, router, lookup) for a in ALPHAS}
    classes, domain = space.domain_classes(rows, args.max_subjects, args.min_rows)
    per_class = np.empty_like(router)
    chosen = {}
    for f in range(space.FOLDS):
        for d in np.unique(domain):
            train, test = (folds != f) & (domain == d), (folds == f) & (domain == d)
            a = min(ALPHAS, key=lambda a: log_loss(mixed(a, router[train], lookup[train]),
                                                   y[train]))
            chosen.setdefault(classes[d], []).append(a)
            per_class[test] = mixed(a, router[test], lookup[test])
    columns["α per class"] = per_class

    # The same, α chosen by how the class's rows route (AIQ), not by log loss.
    mixes = {a: mixed(a, router, lookup) for a in ALPHAS}
    average = router.mean(axis=0)
    by_routing = np.empty_like(router)
    routed = {}
    for f in range(space.FOLDS):
        for d in np.unique(domain):
            train = np.flatnonzero((folds != f) & (domain == d))
            test = (folds == f) & (domain == d)
            a = routing_alpha(rows, train, mixes.get, sd, y, real, average, pool)
            routed.setdefault(classes[d], []).append(a)
            by_routing[test] = mixes[a][test]
    columns["α per class, by AIQ"] = by_routing

    figures = {name: report.figures(space.score(rows, models, q, every, pool, sd, 1.0, real))
               for name, q in columns.items()}
    print("| figure | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in next(iter(figures.values())):
        print(f"| {name} | " + " | ".join(report.cell(figures[c].get(name), name)
                                          for c in columns) + " |")
    for what, alphas in (("by log loss", chosen), ("by AIQ", routed)):
        print(f"\nα per class {what}, fold by fold: " + "; ".join(
            f"{c} {'/'.join(f'{a:g}' for a in v)}" for c, v in sorted(alphas.items())))


if __name__ == "__main__":
    main()
