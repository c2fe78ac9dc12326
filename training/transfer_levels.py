"""Issues 22 and 23: how a head fitted on one table predicts a model's level on the others, and
whether the other models' shifts between tables predict it better.

The local pool entries borrow FormationEval-only heads: fitted on one domain, they carry that
domain's level everywhere (qwen3-8b is predicted 0.76 on a proof, above every API model). This
script measures that on models the tables label more than once. With one inner fold's bundle
(its encoder and z fixed; `outer.py --inner` writes them), for every model labelled on two
tables or more and every source table S with enough training rows, a head is refitted on the
model's training rows of S alone (L2-regularised logistic regression on z, the N(0, 1) prior of
the heads' covariance) and scored on the held fold's rows of every other table T it labels:

- `one table`: that head as it is, what a FormationEval-only head does today;
- `shifted`: its logit moved, in each domain class d of T, so that its mean there is the model's
  training accuracy on S plus the mean shift from S to d (in logits) of the other models
  labelled on both (their training accuracies): the level the tables say a model has there,
  given where it stands on S;
- `every table`: the head fitted on all of its training rows (the bundle's), for reference;
- `prior`: on the prompt's domain mass outside the classes the model's S rows cover (train.COVERS
  rows or more in the class: the table's, or with `--covered inferred` the encoder's), beyond
  train.INSIDE (train.outside_share), the mean of the other broad heads (an average model)
  instead of the head;
- `blend w`: there, w × the one-table head's logit + (1 − w) × the average model's, for a grid
  of w; `--weight W` names the shipped one, whose logit level error sets the sd it adds.

    python training/transfer_levels.py [--fold 0] [--bundle base-balance --covered inferred]
"""

import argparse
import json
import pathlib

import numpy as np
from scipy.special import expit as sigmoid
from sklearn.linear_model import LogisticRegression

import probes
import space
import train
from data import ROOT, read_rows

WORK = ROOT / "training" / "work" / "outer-check"
LEAST = 100     # training rows of S a refit rests on
LEAST_D = 30    # training rows in a class for a model's accuracy there
GRID = np.round(np.linspace(0, 1, 11), 1)


def log_loss(p, y):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--bundle", default="bundle",
                    help="the fold's bundle folder (outer.py --balance trains base-balance)")
    ap.add_argument("--covered", choices=("table", "inferred"), default="table",
                    help="count a source row in its table's class (as measured with every row "
                         "alike) or in the class the encoder infers (as train.labelled now does)")
    ap.add_argument("--weight", type=float, default=None,
                    help="the blend weight to check (else only the grid is printed)")
    ap.add_argument("--sd", type=float, default=None,
                    help="the logit sd per unit of mass outside to check (another fold's rms)")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    args = ap.parse_args()
    bundle = WORK / f"inner-{args.fold}" / args.bundle
    manifest = json.loads((bundle / "predictor.json").read_text())
    rows, prompts = space.without_outer(*read_rows(args.data))
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    order = [h["id"] for h in manifest["heads"]]
    theta = np.array([h["weights"] for h in manifest["heads"]])
    bias = np.array([h["bias"] for h in manifest["heads"]])
    y, _ = space.label_matrix(rows, order)
    classes, domain = space.domain_classes(rows)
    if classes != manifest["encoder"]["domains"]:
        raise SystemExit("the bundle's domains are not the rows' classes")
    z = train.encode_all((bundle / "encoder.onnx").read_bytes(), space.tokenize(prompts))
    q = z[:, -len(classes):]  # the prompt's inferred domain, as probabilities
    row_class = train.inferred_classes(z, len(classes)) if args.covered == "inferred" else domain
    rows_of = np.array([h["labels"]["rows"] for h in manifest["heads"]])
    table = np.array([r["table"] for r in rows])
    fit, held = folds != args.fold, folds == args.fold

    def accuracy(j, at):
        have = at & ~np.isnan(y[:, j])
        return (y[have, j].mean(), have.sum()) if have.any() else (np.nan, 0)

    results = []
    for j, m in enumerate(order):
        tables = sorted({t for t in np.unique(table) if (~np.isnan(y[table == t, j])).any()})
        if len(tables) < 2:
            continue
        for s in tables:
            src = fit & (table == s) & ~np.isnan(y[:, j])
            if src.sum() < LEAST or len(np.unique(y[src, j])) < 2:
                continue
            head = LogisticRegression(C=1.0, max_iter=2000).fit(z[src], y[src, j])
            # The head's own uncertainty (Laplace, as the bundle's heads state theirs).
            cov = space.head_covariance(z[src], y[src, j][:, None], head.coef_,
                                        head.intercept_)[0]
            acc_s, _ = accuracy(j, fit & (table == s))
            # The classes S covers for this model, as train.py's `labelled` records them.
            covered = np.array([(src & (row_class == d)).sum() >= train.COVERS
                                for d in range(len(classes))])
            others = [k for k in probes.broad(rows_of) if k != j]
            avg_theta, avg_bias = theta[others].mean(0), bias[others].mean()
            for t in (t for t in tables if t != s):
                at = held & (table == t) & ~np.isnan(y[:, j])
                if at.sum() < 30:
                    continue
                plain = head.decision_function(z[at])
                shifted = plain.copy()
                for d in np.unique(domain[at]):
                    # Where the other models labelled on S and in d stand, relative to S.
                    shifts = []
                    for k in range(len(order)):
                        if k == j:
                            continue
                        a_s, n_s = accuracy(k, fit & (table == s))
                        a_d, n_d = accuracy(k, fit & (domain == d))
                        if n_s >= LEAST_D and n_d >= LEAST_D:
                            shifts.append(train.logit(a_d) - train.logit(a_s))
                    if not shifts:
                        continue
                    target = train.logit(acc_s) + np.mean(shifts)
                    ref = fit & (domain == d)
                    now = train.logit(sigmoid(head.decision_function(z[ref])).mean())
                    shifted[domain[at] == d] += target - now
                full = z[at] @ theta[j] + bias[j]
                u = train.outside_share(q[at][:, ~covered].sum(1))
                average = z[at] @ avg_theta + avg_bias
                blends = {f"blend {w:.1f}": plain + u * (1 - w) * (average - plain)
                          for w in GRID}
                truth = y[at, j]
                sd = space.quality_sd(z[at], sigmoid(plain)[:, None], cov[None])[:, 0]
                results.append({
                    "model": m, "source": s, "target": t, "rows": int(at.sum()),
                    "true": float(truth.mean()), "sd": float(sd.mean()),
                    "outside": float(u.mean()),
                    "logit sd": float((sd / np.maximum(sigmoid(plain) * (1 - sigmoid(plain)),
                                                       1e-6)).mean()),
                    **{name: (float(sigmoid(v).mean()), log_loss(sigmoid(v), truth))
                       for name, v in (("one table", plain), ("shifted", shifted),
                                       ("every table", full), *blends.items())},
                })
                print(f"{m}: {s} -> {t}", flush=True)
    names = ("one table", "shifted", "every table", "blend 0.0", "blend 0.5")
    print("\n| model | from | to | rows | true | " + " | ".join(names) + " | stated sd |")
    print("|---|---|---|---|---|" + "---|" * len(names) + "---|")
    for r in results:
        print(f"| {r['model']} | {r['source']} | {r['target']} | {r['rows']} | {r['true']:.3f} | "
              + " | ".join(f"{r[n][0]:.3f} ({r[n][1]:.3f})" for n in names)
              + f" | {r['sd']:.3f} |")
    err = {n: np.array([abs(r[n][0] - r["true"]) for r in results]) for n in names}
    loss = {n: np.array([r[n][1] for r in results]) for n in names}
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(results), (1000, len(results)))
    print(f"\n{len(results)} cases (model, from, to). Mean |predicted − true accuracy| and mean "
          "log loss, with 95 % intervals over cases (bootstrap):")
    for n in names:
        e, ll = err[n][draws].mean(1), loss[n][draws].mean(1)
        print(f"- {n}: |error| {err[n].mean():.3f} [{np.quantile(e, 0.025):.3f}, "
              f"{np.quantile(e, 0.975):.3f}], log loss {loss[n].mean():.3f} "
              f"[{np.quantile(ll, 0.025):.3f}, {np.quantile(ll, 0.975):.3f}]")
    sd = np.array([r["sd"] for r in results])
    within = err["one table"] <= sd
    print(f"- the one-table head's stated sd (mean over the target's rows): {sd.mean():.3f}; its "
          f"level error is within it in {int(within.sum())} of {len(results)} cases")
    out_of = np.array([r["outside"] for r in results]) > 0.5
    print(f"\nThe {int(out_of.sum())} cases whose target rows lie mostly (> 0.5 of the domain "
          "mass) outside the classes S covers; mean |error| and log loss by blend weight w "
          "(1 = the one-table head, 0 = the average model):")
    for w in GRID:
        n = f"blend {w:.1f}"
        e = np.array([abs(r[n][0] - r["true"]) for r in results])[out_of]
        ll = np.array([r[n][1] for r in results])[out_of]
        print(f"- w {w:.1f}: |error| {e.mean():.3f}, log loss {ll.mean():.3f}")
    if args.weight is not None:
        n = f"blend {args.weight:.1f}"
        if n not in results[0]:
            raise SystemExit(f"--weight {args.weight} is not on the grid {list(GRID)}")
        sub = [r for r, o in zip(results, out_of) if o]
        # The level error in logits, per unit of mass outside: the sd a head adds there.
        lerr = np.array([(train.logit(r[n][0]) - train.logit(r["true"])) / r["outside"]
                         for r in sub])
        pick = rng.integers(0, len(sub), (1000, len(sub)))
        rms = np.sqrt((lerr[pick] ** 2).mean(1))
        print(f"- w {args.weight:.1f}: logit level error per unit outside, rms "
              f"{np.sqrt((lerr ** 2).mean()):.3f} [{np.quantile(rms, 0.025):.3f}, "
              f"{np.quantile(rms, 0.975):.3f}]; mean stated logit sd "
              f"{np.mean([r['logit sd'] for r in sub]):.3f}")
        if args.sd is not None:
            # Whether the level error falls within the stated sd widened by the sd given.
            wide = np.array([np.hypot(r["logit sd"], r["outside"] * args.sd) for r in sub])
            stated = np.array([r["logit sd"] for r in sub])
            level = np.abs(lerr * np.array([r["outside"] for r in sub]))
            print(f"- its level error within the stated logit sd in {int((level <= stated).sum())}"
                  f" of {len(sub)} cases; within it widened by {args.sd} per unit outside in "
                  f"{int((level <= wide).sum())}")
        e1 = np.array([abs(r["one table"][0] - r["true"]) for r in sub])
        eb = np.array([abs(r[n][0] - r["true"]) for r in sub])
        g = (e1 - eb)[pick].mean(1)
        print(f"- one table less blend {args.weight:.1f}, |error|: {(e1 - eb).mean():+.3f} "
              f"[{np.quantile(g, 0.025):+.3f}, {np.quantile(g, 0.975):+.3f}]; blend better in "
              f"{int((eb < e1).sum())} of {len(sub)}")
    gap = (err["one table"] - err["shifted"])[draws].mean(1)
    print(f"- one table less shifted, |error|: {(err['one table'] - err['shifted']).mean():+.3f} "
          f"[{np.quantile(gap, 0.025):+.3f}, {np.quantile(gap, 0.975):+.3f}]; shifted better in "
          f"{int((err['shifted'] < err['one table']).sum())} of {len(results)}")


if __name__ == "__main__":
    main()
