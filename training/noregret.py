"""No regret at a single model's cost (issue 23, item 1), a first look: the selector's margin
kept against the model a budget can afford instead of against the pool's best on average.

For each evaluation of space.py and each model m of it, the router at m's own cost is run with
m as the incumbent: every other model gives up κ standard deviations of its predicted
difference from m (research.with_margin with m as "best"), λ is swept, and the best point whose
true mean cost is within m's is its accuracy there. Printed beside the shipped rule (one
incumbent, the best model on average): the gain at each model's cost, worst per evaluation,
with a 95 % paired bootstrap interval over questions.

    python training/noregret.py --work training/work/inner-base --design static+margin \\
        --outer exclude
"""

import argparse
import pathlib

import numpy as np

import research
import space
from data import ROOT, read_rows

BOOTSTRAP = 200


def handicapped(q, sd, kappa, incumbent):
    """Predicted qualities with every model but `incumbent` κ standard deviations down."""
    out = q - kappa * np.sqrt(sd ** 2 + sd[:, [incumbent]] ** 2)
    out[:, incumbent] = q[:, incumbent]
    return out


def gain_at(correct, cost, quality, est, m):
    """The router's best accuracy within model m's true mean cost, less m's accuracy."""
    pts = research.curve(correct, cost, quality, est)
    c, acc = cost[:, m].mean(), correct[:, m].mean()
    within = [p[1] for p in pts if p[2] <= c * (1 + 1e-9)]
    return (max(within) if within else -np.inf) - acc


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=pathlib.Path, required=True)
    ap.add_argument("--design", default="static+margin")
    ap.add_argument("--kappa", type=float, default=1.0)
    ap.add_argument("--outer", choices=["include", "exclude"], default="include")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    args = ap.parse_args()
    rows, prompts = read_rows(args.data)
    if args.outer == "exclude":
        rows = [r for r, p in zip(rows, prompts)
                if not space.is_outer(space.question_key(r, p))]
    models = sorted({m for r in rows for m in r["labels"]})
    index = {m: j for j, m in enumerate(models)}
    oof = np.load(args.work / f"oof-{args.design}.npy")
    sd = np.load(args.work / f"sd-{args.design}.npy")
    pool = space.prices()
    rng = np.random.default_rng(0)
    print("| evaluation | rule | worst gain at a model's own cost (points) | model |")
    print("|---|---|---|---|")
    for name, table, ms in space.evaluations(rows):
        if len(ms) < 3:
            continue
        idx = [i for i, r in enumerate(rows) if r["table"] == table
               and all(m in r["labels"] for m in ms)]
        cols = [index[m] for m in ms]
        correct, cost, est = research.matrices(rows, idx, ms, pool,
                                               space.OUTPUT_TOKENS.get(table, 1))
        q, s = oof[np.ix_(idx, cols)], sd[np.ix_(idx, cols)]
        best = int(np.argmax(oof[:, cols].mean(axis=0)))
        draws = [rng.integers(0, len(idx), len(idx)) for _ in range(BOOTSTRAP)]
        for rule, own in (("shipped (best on average)", False),
                          ("incumbent = the model at its cost", True)):
            gains = {m: gain_at(correct, cost, handicapped(q, s, args.kappa, j if own else best),
                                est, j) for j, m in enumerate(ms)}
            worst = min(gains, key=gains.get)
            j = ms.index(worst)
            qj = handicapped(q, s, args.kappa, j if own else best)
            boot = [gain_at(correct[d], cost[d], qj[d], est[d], j) for d in draws]
            lo, hi = np.percentile(boot, [2.5, 97.5])
            print(f"| {name} | {rule} | {100 * gains[worst]:+.2f} [{100 * lo:+.2f}, "
                  f"{100 * hi:+.2f}] | {worst} |", flush=True)


if __name__ == "__main__":
    main()
