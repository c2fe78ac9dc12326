"""Can probes say "good at maths, weak at history"? (issue 23, item 2), in numpy.

A scripted model answers MMLU-Pro's maths, physics, chemistry and engineering questions right
and every other question wrong. The space is fitted on folds 1-4 of the inner rows (the outer
split left out); the model's head is placed from the prior of the broad heads and 100 probes
chosen as the bundle chooses them (probes.choose) among the gradeable MMLU-Pro rows of folds
1-4, so every category is covered; then its mean predicted chance on fold 0's MMLU-Pro maths
and history questions is printed, for the shipped design and with domain coordinates.

    python training/domain_gap.py
"""

import argparse
import pathlib

import numpy as np
import torch

import cards
import probes
import space
from data import ROOT, read_rows

STRONG = {"math", "physics", "chemistry", "engineering"}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--domain-scale", type=float, default=probes.DOMAIN_PRIOR_SCALE,
                    help="the prior's variance along the domain coordinates times this "
                         "(default: what routoo calibrate uses)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows, prompts = space.without_outer(*read_rows(args.data))
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    models = sorted({m for r in rows for m in r["labels"]})
    y, _ = space.label_matrix(rows, models)
    tokens = space.tokenize(prompts)
    table = space.pca_table(space.minilm_word_embeddings(), space.PCA_DIM)
    train = np.flatnonzero(folds != 0)
    _, domains = space.domain_classes(rows)
    pro = np.array([r["benchmark"] == "mmlu-pro" for r in rows])
    right = np.array([r["subject"] in STRONG for r in rows], dtype=float)
    pool = np.flatnonzero(pro & (folds != 0))
    for name, extra in (("shipped (static)", {}), ("with domain coordinates", {"domains": domains})):
        model = space.fit_space(tokens, y, train, table=table, log=f"{name}: ", **extra)
        _, z = space.predict_space(model, tokens, np.arange(len(rows)), table)
        z = z.astype(np.float64)
        theta = model.theta.detach().numpy().astype(np.float64)
        bias = model.bias.detach().numpy().astype(np.float64)
        heads = probes.prior_heads((~np.isnan(y[train])).sum(axis=0), -1)
        # The domain coordinates follow the space's k learned ones.
        mean, precision = probes.calibration_prior(
            theta[heads], bias[heads], cards.PRIOR_SCALE,
            range(space.SPACE_DIM, theta.shape[1]) if "domains" in extra else None,
            args.domain_scale)
        groups = [(rows[i]["benchmark"], rows[i]["subject"]) for i in pool]
        order = probes.choose(z[pool], theta[heads], bias[heads], groups, args.probes, 10, 200)
        sent = pool[order[:args.probes]]
        w = cards.fit_card(mean, precision, [], z[sent], right[sent])
        p = 1 / (1 + np.exp(-(z @ w[:-1] + w[-1])))
        test = pro & (folds == 0)
        at = {s: p[test & np.array([r["subject"] == s for r in rows])].mean()
              for s in ("math", "physics", "history", "law")}
        covered = len({rows[i]["subject"] for i in sent})
        print(f"{name}: {len(sent)} probes over {covered} categories, "
              f"{int(right[sent].sum())} right; fold 0 MMLU-Pro: "
              + ", ".join(f"{s} {v:.3f}" for s, v in at.items())
              + f"; maths − history {at['math'] - at['history']:+.3f}", flush=True)


if __name__ == "__main__":
    main()
