"""Issue 23, item 5: what bounds the paper's ratios on these rows.

Two limits run through space.py like designs (`--designs oracle,subject-oracle`): the oracle
(each row's own answers and costs) and the subject oracle (each model's accuracy and mean cost in
the row's benchmark and subject over every scored row, the row included): the best a router that
knows only subjects can do. `--runs` tables their headline figures beside the lookup and the
router (report.runs_table).

Then, for each table's pair of a strong and a cheap model, on the rows where exactly one of them
is right: does the router's predicted gain (logit strong − logit cheap) say which one (AUC), over
all those rows and within a benchmark and subject? A subject-level lookup scores 0.5 within a
subject by construction; a goal the subject oracle misses needs the router to do better there.

    python training/bounds.py --router training/work/inner-domains \\
        --lookup training/work/inner-bounds --runs "oracle=training/work/inner-bounds:oracle" ...
"""

import argparse
import pathlib

import numpy as np

import report
import space
from data import ROOT, read_rows


def logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def pairs(rows, models, y, true_cost):
    """(evaluation, strong, cheap, rows): the paper's Mixtral-vs-GPT-4 pair on MMLU, and on each
    other table's full pool its best model on average against its cheapest, on rows where both
    are labelled."""
    index = {m: j for j, m in enumerate(models)}
    out = []
    for name, table, ms in space.evaluations(rows):
        if len(ms) != 2 and not name.endswith("all models") and "routerbench" not in name:
            continue
        idx = np.array([i for i, r in enumerate(rows) if r["table"] == table
                        and all(m in r["labels"] for m in ms)])
        if len(idx) < 10:
            continue
        cols = [index[m] for m in ms]
        acc = y[np.ix_(idx, cols)].mean(axis=0)
        cost = true_cost[np.ix_(idx, cols)].mean(axis=0)
        strong, cheap = ms[int(np.argmax(acc))], ms[int(np.argmin(cost))]
        if strong != cheap:
            out.append((name, strong, cheap, idx))
    return out


def split_auc(rows, idx, truth, score):
    """AUC of `score` for `truth` over `idx`, and the mean AUC within each benchmark and subject
    weighed by its rows (subjects where both outcomes occur)."""
    overall = space.roc_auc(truth, score)
    groups = {}
    for k, i in enumerate(idx):
        groups.setdefault((rows[i]["benchmark"], rows[i]["subject"]), []).append(k)
    total = weight = 0.0
    for ks in groups.values():
        ks = np.array(ks)
        a = space.roc_auc(truth[ks], score[ks])
        if not np.isnan(a):
            total += a * len(ks)
            weight += len(ks)
    return overall, (total / weight if weight else float("nan")), len(groups)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--router", type=pathlib.Path, required=True,
                    help="a space.py --outer exclude run holding the shipped design's predictions")
    ap.add_argument("--lookup", type=pathlib.Path, required=True,
                    help="a space.py --outer exclude run holding the lookup's predictions")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--runs", nargs="*", default=[], metavar="LABEL=DIR:RESULT")
    args = ap.parse_args()
    if args.runs:
        report.runs_table(args.runs)
    rows, _ = space.without_outer(*read_rows(args.data))
    models = sorted({m for r in rows for m in r["labels"]})
    y, true_cost = space.label_matrix(rows, models)
    router = np.load(args.router / f"oof-{space.SHIPPED}.npy")
    lookup = np.load(args.lookup / "oof-lookup.npy")
    index = {m: j for j, m in enumerate(models)}
    print("| evaluation | strong | cheap | rows where one is right | strong right there | "
          "router AUC | router AUC within subject | subjects | lookup AUC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, strong, cheap, idx in pairs(rows, models, y, true_cost):
        s, c = index[strong], index[cheap]
        split = idx[y[idx, s] != y[idx, c]]
        truth = y[split, s]
        gain = logit(router[split, s]) - logit(router[split, c])
        overall, within, n_subjects = split_auc(rows, split, truth, gain)
        looked = space.roc_auc(truth, logit(lookup[split, s]) - logit(lookup[split, c]))
        print(f"| {name} | {strong} | {cheap} | {len(split)} | {truth.mean():.3f} | "
              f"{overall:.3f} | {within:.3f} | {n_subjects} | {looked:.3f} |")


if __name__ == "__main__":
    main()
