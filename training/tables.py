"""What adding a routing table does to the cross-validation: the headline figures of one design
run by space.py on two sets of tables (same grouped folds), side by side, and each single model's
gain at its own cost on a table's rows, with paired bootstrap intervals over its questions.

    python training/tables.py --table formationeval   # runs space.py with and without it
    python training/tables.py --before DIR --after DIR  # compares two space.py runs

Figures are pooled (every row predicted by the fold that did not see it) and mean ± standard
deviation over the five folds; a change is "within fold noise" when it is smaller than the
larger of the two fold spreads.
"""

import argparse
import json
import math
import pathlib
import subprocess
import sys

import numpy as np

import report
import research
import space
from data import ROOT, read_rows

BOOTSTRAP = 300


def fold_stats(result, name):
    values = [report.figures(f).get(name) for f in result["folds"]]
    vals = [v for v in values if v is not None and not math.isinf(v)]
    return (float(np.mean(vals)), float(np.std(vals)), len(values) - len(vals)) if vals else None


def comparison(before, after, design, after_design=None):
    """Markdown rows: figure | before pooled | before folds | after pooled | after folds | change."""
    b, a = before[design], after[after_design or design]
    lines = ["| figure | before: pooled | before: folds | after: pooled | after: folds | change |",
             "|---|---|---|---|---|---|"]
    old = report.figures(b["pooled"])
    for name, now in report.figures(a["pooled"]).items():
        fb, fa = fold_stats(b, name), fold_stats(a, name)
        if name not in old:
            change = "new"
        elif fb is None or fa is None or 2 * max(fb[2], fa[2]) > len(a["folds"]):
            change = "–"  # never reached in most folds: no spread to compare
        elif abs(fa[0] - fb[0]) <= max(fb[1], fa[1]):
            change = "within fold noise"
        else:
            lower_is_better = "cost to match" in name or "CPT" in name
            change = "better" if (fa[0] > fb[0]) != lower_is_better else "worse"
        lines.append(f"| {name} | {report.cell(old[name], name) if name in old else '–'} | "
                     f"{folds(fb) if name in old else '–'} | {report.cell(now, name)} | "
                     f"{folds(fa)} | {change} |")
    return lines


def named(design, kappa, results):
    """The results key of `design` at margin κ: with the κ suffix when it has a margin, and
    the ", true costs" suffix when that run scored it so (space.py --costs lookup)."""
    for key in (f"{design} κ={kappa:g}", design):
        for name in (key, f"{key}, true costs"):
            if name in results:
                return name
    raise SystemExit(f"{design} (κ={kappa:g}) is not among {sorted(results)}")


def folds(stats):
    if stats is None:
        return "never"
    mean, sd, never = stats
    return f"{mean:.4f} ± {sd:.4f}" + (f" (never in {never})" if never else "")


def gains(work, design, kappa, table, data, outer="include"):
    """Per model of `table`: (gain at its own cost pooled, 95 % paired bootstrap interval)."""
    rows, prompts = read_rows(data)
    if outer == "exclude":
        rows, prompts = space.without_outer(rows, prompts)
    models = sorted({m for r in rows for m in r["labels"]})
    index = {m: j for j, m in enumerate(models)}
    name = f"{table}, all models"
    ms = next(e[2] for e in space.evaluations(rows) if e[0] == name)
    oof = np.load(work / f"oof-{design}.npy")
    sd = np.load(work / f"sd-{design}.npy")
    idx = [i for i, r in enumerate(rows) if r["table"] == table and all(m in r["labels"] for m in ms)]
    cols = [index[m] for m in ms]
    correct, cost, est = research.matrices(rows, idx, ms, space.prices(),
                                           space.OUTPUT_TOKENS.get(table, 1))
    q = research.with_margin(oof[np.ix_(idx, cols)], sd[np.ix_(idx, cols)], kappa,
                             oof[:, cols].mean(axis=0))
    whole = research.report(ms, correct, cost, q, est)["gac"]
    rng = np.random.default_rng(0)
    draws = {m: [] for m in ms}
    worst = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(idx), len(idx))
        rep = research.report(ms, correct[pick], cost[pick], q[pick], est[pick])["gac"]
        for m in ms:
            draws[m].append(rep[m])
        worst.append(min(rep.values()))
    out = {m: (whole[m], np.percentile(draws[m], 2.5), np.percentile(draws[m], 97.5)) for m in ms}
    return out, (min(whole.values()), np.percentile(worst, 2.5), np.percentile(worst, 97.5)), len(idx)


def run_both(args):
    """space.py on every table but `args.table` (a folder of links to the others), then on all."""
    without = args.work / "data-without"
    without.mkdir(parents=True, exist_ok=True)
    for path in args.data.iterdir():
        if path.suffix in (".csv", ".json") and path.stem != args.table:
            link = without / path.name
            link.unlink(missing_ok=True)
            link.symlink_to(path.resolve())
    out = []
    for name, data in (("without", without), ("with", args.data)):
        work = args.work / name
        subprocess.run([sys.executable, str(ROOT / "training" / "space.py"), "--data", str(data),
                        "--designs", f"base-rate,{args.design}", "--out", str(work)], check=True)
        out.append(work)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", type=pathlib.Path)
    ap.add_argument("--after", type=pathlib.Path)
    ap.add_argument("--design", default=space.SHIPPED)
    ap.add_argument("--after-design", help="the design of --after, when not --design's")
    ap.add_argument("--kappa", type=float, default=1.0)
    ap.add_argument("--table", default="formationeval")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--work", default=ROOT / "training" / "work" / "tables", type=pathlib.Path)
    ap.add_argument("--outer", choices=["include", "exclude"], default="include",
                    help="as space.py's: the rows the runs compared were fitted on")
    ap.add_argument("--no-gains", action="store_true",
                    help="the side-by-side figures only, without the per-model gains")
    args = ap.parse_args()
    if args.before is None or args.after is None:
        args.before, args.after = run_both(args)
    before = json.loads((args.before / "results.json").read_text())
    after = json.loads((args.after / "results.json").read_text())
    after_design = args.after_design or args.design
    print("\n".join(comparison(before, after, named(args.design, args.kappa, before),
                               named(after_design, args.kappa, after))))
    if args.no_gains:
        return
    per_model, worst, n = gains(args.after, after_design, args.kappa, args.table, args.data,
                                args.outer)
    print(f"\n{args.table}: {n} rows, {len(per_model)} models; gain of the router's curve at each "
          f"model's own cost (points), 95 % paired bootstrap over questions ({BOOTSTRAP} draws)\n")
    print("| model | gain at its cost |\n|---|---|")
    for m, (g, lo, hi) in sorted(per_model.items(), key=lambda kv: kv[1][0])[:10]:
        print(f"| {m} | {100 * g:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] |")
    print(f"\nworst over models: {100 * worst[0]:+.2f} points "
          f"[{100 * worst[1]:+.2f}, {100 * worst[2]:+.2f}]")


if __name__ == "__main__":
    main()
