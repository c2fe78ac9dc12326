"""Leave one model out: is a model calibrated from probes routed as well as one trained on?

For each model M of the list: fit the shared space on folds 1–4 with every label of M removed,
choose the probe order for that space (training/probes.py, from the training rows M has a grade
on), take M's grades on the first N probes, fit M's head as `routoo calibrate` does (the posterior
mode under the other heads' mean and covariance scaled by probes.PRIOR_SCALE, src/calibrate.rs)
and score routing on fold 0 (--test-fold).
The reference is the same space design fitted with M's labels. M's grades are its labels in the
tables, which are its recorded answers graded by the table's own grader (src/probe.rs agrees with
those graders on 98–100 % of recorded responses).

    training/.venv/bin/python training/lomo.py              # writes training/work/lomo.json
    training/.venv/bin/python training/lomo.py --report     # prints the tables of REPORT.md
"""

import argparse
import json
import pathlib

import numpy as np
import torch

import cards
import probes
import space
import train as train_mod
from data import ROOT, read_rows

MODELS = ["gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022", "gemini-1.5-flash-002",
          "llama-3.1-8b-instruct", "llama-3.1-70b-instruct", "qwen2.5-72b-instruct",
          "mixtral-8x7b-instruct"]
PROBES = [0, 25, 50, 100, 200]


def fit_head(mean, precision, z, y, how="full", domains=None, offset=None):
    """The posterior mode of (θ, b) and its Laplace covariance: src/calibrate.rs::fit. `how`:
    "full" moves everything; "level" only the bias; "level, then domains" (ships) the bias,
    then the domain coordinates (`domains`, indices of θ) and the bias about it, as a card by
    subject does (src/heads.rs::fit_evidence), or everything where there are none."""
    w = cards.fit_probes(mean, precision, z, y, how, domains, offset)
    x = np.hstack([z, np.ones((len(z), 1))]).astype(np.float64)
    p = 1 / (1 + np.exp(-(x @ w + (0 if offset is None else offset))))
    hess = (x * (p * (1 - p))[:, None]).T @ x + precision
    return w, np.linalg.inv(hess)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--out", default=ROOT / "training" / "work" / "lomo.json", type=pathlib.Path)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--report", action="store_true", help="print the tables from --out")
    ap.add_argument("--criterion", default=probes.CRITERION, choices=["d", "v", "random"],
                    help="probe order: d = D-optimal, v = V-optimal (see probes.py)")
    ap.add_argument("--prior-scale", type=float, default=probes.PRIOR_SCALE,
                    help="multiplies the prior's covariance (default: what routoo calibrate uses)")
    ap.add_argument("--test-fold", type=int, default=0,
                    help="the fold scored; the space is fitted on the others")
    ap.add_argument("--outer", choices=["include", "exclude"], default="include",
                    help="exclude: leave the outer split's questions out (space.is_outer)")
    ap.add_argument("--domains", action="store_true",
                    help="the space with domain coordinates, its classes weighed as the bundle's")
    ap.add_argument("--fit", default="level, then domains",
                    choices=["full", "level", "level, then domains"],
                    help="what the probes move (default: what routoo calibrate does; in a space "
                    "without domain coordinates, everything)")
    ap.add_argument("--item-offsets", type=float, default=None, metavar="TAU",
                    help="give each probe its difficulty beyond its position, from the other "
                    "models' answers, under a N(0, TAU²) prior (cards.item_offsets)")
    ap.add_argument("--domain-scale", type=float, default=probes.DOMAIN_PRIOR_SCALE,
                    help="the prior's variance along the domain coordinates times this "
                         "(default: what routoo calibrate uses)")
    args = ap.parse_args()
    if args.report:
        return report(json.loads(args.out.read_text()))
    torch.set_num_threads(2)
    rows, prompts = read_rows(args.data)
    if args.outer == "exclude":
        rows, prompts = space.without_outer(rows, prompts)
    keys = [space.question_key(r, p) for r, p in zip(rows, prompts)]
    folds = np.array([space.fold_of(k) for k in keys])
    models = sorted({m for r in rows for m in r["labels"]})
    y, _ = space.label_matrix(rows, models)
    tokens = space.tokenize(prompts)
    table = space.pca_table(space.minilm_word_embeddings(), space.PCA_DIM)
    fit = {"k": space.SPACE_DIM, "weight_decay": 1e-4, "table": table}
    if args.domains:
        fit["domains"] = space.domain_classes(rows)[1]
        space.DOMAIN_BALANCE = train_mod.SHIPPED_DOMAIN_BALANCE
    pool = space.prices()
    train, test = np.flatnonzero(folds != args.test_fold), folds == args.test_fold

    # Probe candidates among the training rows: gradeable rows of the tables with answers.
    where = {(r["table"], r["id"]): i for i, r in enumerate(rows)}
    cands = [(where[(c["table"], c["id"])], c) for c in probes.candidates(args.data)
             if (c["table"], c["id"]) in where and folds[where[(c["table"], c["id"])]] != args.test_fold]
    print(f"{len(rows)} rows, {len(cands)} probe candidates outside fold {args.test_fold}", flush=True)

    cache = args.out.parent / ("lomo" + ("" if args.test_fold == 0 else f"-fold{args.test_fold}")
                               + ("-inner" if args.outer == "exclude" else "")
                               + ("-domains-balanced" if args.domains else ""))
    cache.mkdir(parents=True, exist_ok=True)

    def fitted(name, labels):
        """(p, z, theta, bias) of the space fitted on folds 1-4 with `labels`, cached."""
        return space.fit_cached(cache / f"{name}.npz", tokens, labels, train, **fit)

    p_full, _, _, _ = fitted("full", y)
    out = {"probes": PROBES, "criterion": args.criterion, "prior_scale": args.prior_scale,
           "fit": args.fit, "item_offsets": args.item_offsets,
           "outer": args.outer, "domains": args.domains, "domain_scale": args.domain_scale,
           "full": space.score(rows, models, p_full, test, pool), "models": {}}
    for m in args.models.split(","):
        j = models.index(m)
        y_out = y.copy()
        y_out[:, j] = np.nan
        p, z, theta, bias = fitted(f"without-{m}", y_out)
        others = probes.prior_heads((~np.isnan(y[train])).sum(axis=0), j)
        # The domain coordinates follow the space's k learned ones.
        mean, precision = probes.calibration_prior(
            theta[others], bias[others], args.prior_scale,
            range(space.SPACE_DIM, theta.shape[1]) if args.domains else None, args.domain_scale)
        mine = [(i, c) for i, c in cands if not np.isnan(y[i, j])]
        idx = np.array([i for i, _ in mine])
        groups = [(c["benchmark"], c["subject"]) for _, c in mine]
        order = probes.choose(z[idx].astype(np.float64), theta[others], bias[others], groups,
                              max(PROBES), max(1, int(probes.SUBJECT_SHARE * max(PROBES))),
                              max(1, int(probes.BENCHMARK_SHARE * max(PROBES))),
                              criterion=args.criterion)
        labelled = np.flatnonzero((folds != args.test_fold) & ~np.isnan(y[:, j]))
        offsets = None
        if args.item_offsets:
            rest = [k for k in range(len(models)) if k != j]
            pp = np.clip(p[:, rest], 1e-6, 1 - 1e-6)
            offsets = cards.item_offsets(np.log(pp / (1 - pp)), y[:, rest], args.item_offsets)
        runs = {}
        for n in PROBES + ["all"]:
            sel = labelled if n == "all" else idx[order[:n]]
            w, _ = fit_head(mean, precision, z[sel].astype(np.float64),
                            y[sel, j].astype(np.float64), args.fit,
                            range(space.SPACE_DIM, theta.shape[1]),
                            None if offsets is None or n == "all" else offsets[sel])
            q = p.copy()
            q[:, j] = 1 / (1 + np.exp(-(z.astype(np.float64) @ w[:-1] + w[-1])))
            per_bench = {}
            for b in sorted({rows[i]["benchmark"] for i in np.flatnonzero(test & ~np.isnan(y[:, j]))}):
                at = np.flatnonzero(test & ~np.isnan(y[:, j])
                                    & np.array([r["benchmark"] == b for r in rows]))
                per_bench[b] = {"rows": len(at), "true": float(y[at, j].mean()),
                                "predicted": float(q[at, j].mean()),
                                "full": float(p_full[at, j].mean())}
            runs[str(n)] = {"scores": space.score(rows, models, q, test, pool),
                            "benchmarks": per_bench, "probes": len(sel)}
        out["models"][m] = {"runs": runs, "candidates": len(mine),
                            "probe_mix": {b: sum(1 for o in order[:100] if groups[o][0] == b)
                                          for b in sorted({g[0] for g in groups})}}
        print(f"  {m} done", flush=True)
        args.out.write_text(json.dumps(out, indent=1, default=float))
    report(out)


def aiq(scores, name):
    return scores.get(name, {}).get("aiq")


def report(out):
    """Markdown: per model, the AIQ of each evaluation it takes part in, full vs N probes."""
    cols = [str(n) for n in out["probes"]] + ["all"]
    print(f"criterion {out.get('criterion')}, prior scale {out.get('prior_scale')}, "
          f"fit {out.get('fit', 'full')}, item offsets {out.get('item_offsets')}\n")
    print("| model | evaluation | trained with its labels | " + " | ".join(
        f"{c} probes" if c != "all" else "all its labels" for c in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    gaps = {c: [] for c in cols}
    for m, res in out["models"].items():
        for name, full in out["full"].items():
            if m not in full["models"]:
                continue
            base = full["aiq"]
            cells = []
            for c in cols:
                v = aiq(res["runs"][c]["scores"], name)
                gaps[c].append(v - base)
                cells.append(f"{v:.4f} ({100 * (v - base):+.2f})")
            print(f"| {m} | {name} | {base:.4f} | " + " | ".join(cells) + " |")
    print("| **mean change, points** | | | " + " | ".join(
        f"{100 * np.mean(gaps[c]):+.2f} (worst {100 * min(gaps[c]):+.2f})" for c in cols) + " |")
    print()
    print("| model | benchmark | rows | true accuracy | trained with its labels | "
          + " | ".join(f"{c} probes" if c != "all" else "all its labels" for c in cols) + " |")
    print("|---|---|---|---|---|" + "---|" * len(cols))
    for m, res in out["models"].items():
        for b, v in res["runs"]["all"]["benchmarks"].items():
            cells = [f"{res['runs'][c]['benchmarks'][b]['predicted']:.3f}" for c in cols]
            print(f"| {m} | {b} | {v['rows']} | {v['true']:.3f} | {v['full']:.3f} | "
                  + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
