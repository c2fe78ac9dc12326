"""Markdown tables for training/REPORT.md from space.py's results.json and transfer.json."""

import argparse
import json
import math
import pathlib

import numpy as np

import research
from data import ROOT

G4, MX = "gpt-4-1106-preview", "mixtral-8x7b-instruct"


def figures(rep):
    """name → value (None = never / not reached) of the headline measures."""
    out = {}
    m9 = rep.get("mmlu, 9 models")
    if m9:
        acc, c = m9["models"][G4]
        out["MMLU-9 AIQ"] = m9["aiq"]
        out["MMLU-9 cost to match GPT-4"] = m9["ctm"][G4]
        out["MMLU-9 vs GPT-4 at 0.5× cost"] = research.accuracy_at(m9, 0.5 * c) - acc
        out["MMLU-9 gain at λ=0"] = top_gain(m9)
    op = rep.get("mmlu, open pool")
    if op:
        out["open AIQ"] = op["aiq"]
        out["open cost to match Mixtral"] = op["ctm"][MX]
        out["open gain at Mixtral's cost"] = op["gac"][MX]
    two = rep.get("mmlu, mixtral vs gpt-4")
    if two:
        out["APGR (RouteLLM)"] = two["apgr"]
        out["APGR by cost"] = two["apgr_by_cost"]
        out["CPT(50 %)"] = two["cpt50"]
        out["CPT(80 %)"] = two["cpt80"]
    rb = rep.get("routerbench, 11 models")
    if rb:
        out["RouterBench AIQ"] = rb["aiq"]
        out["RouterBench worst gain"] = min(finite(v) for v in rb["gac"].values())
        out["RouterBench gain at λ=0"] = top_gain(rb)
    for name, label in (("zeroeval, all models", "ZeroEval"), ("mmlu-pro, all models", "MMLU-Pro"),
                        ("formationeval, all models", "FormationEval")):
        r = rep.get(name)
        if r:
            best = max(r["models"], key=lambda m: r["models"][m][0])
            out[f"{label} AIQ"] = r["aiq"]
            out[f"{label} worst gain"] = min(finite(v) for v in r["gac"].values())
            out[f"{label} cost to match best"] = r["ctm"][best]
            out[f"{label} gain at λ=0"] = top_gain(r)
    return out


def top_gain(rep):
    """Accuracy of the router at λ = 0 (quality alone) minus the best single model's."""
    return rep["curve"][-1][1] - max(acc for acc, _ in rep["models"].values())


def finite(v):
    return -math.inf if v is None else v


def cell(v, name):
    if v is None:
        return "never"
    if math.isinf(v):
        return "none"
    if "gain" in name or "vs GPT-4" in name:
        return f"{v:+.4f}"
    return f"{v:.3f}" if "cost to match" in name or "CPT" in name else f"{v:.4f}"


def spread(values):
    vals = [v for v in values if v is not None and not math.isinf(v)]
    never = len(values) - len(vals)
    if not vals:
        return "never"
    text = f"{np.mean(vals):.3f} ± {np.std(vals):.3f}"
    return text + (f" ({never}× never)" if never else "")


def plot(results, designs, path):
    """Accuracy against true mean cost of each design on three evaluations (pooled folds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = ["mmlu, 9 models", "routerbench, 11 models", "zeroeval, all models"]
    fig, axes = plt.subplots(1, len(names), figsize=(15, 4.5))
    for ax, name in zip(axes, names):
        for d in designs:
            rep = results[d]["pooled"][name]
            pts = sorted((p[2], p[1]) for p in rep["curve"])
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=d,
                    lw=2.2 if d == "static" else 1, ls="-" if d in ("static", "blend") else ":")
        for acc, cost in rep["models"].values():
            ax.scatter([cost], [acc], color="grey", s=10)
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("mean true cost per prompt (US$, log)")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def runs_table(runs):
    """Markdown: the headline figures (pooled) of space.py runs side by side, each given as
    LABEL=DIR:RESULT (a key of DIR/results.json) or LABEL=FILE.json:RESULT."""
    shown = {}
    for run in runs:
        label, _, where = run.partition("=")
        place, _, result = where.partition(":")
        path = pathlib.Path(place)
        results = json.loads((path if path.suffix == ".json" else path / "results.json").read_text())
        shown[label] = (figures(results[result]["pooled"]),
                        [figures(f) for f in results[result]["folds"]])
    print("| figure: pooled (folds: mean ± sd) | " + " | ".join(shown) + " |")
    print("|---|" + "---|" * len(shown))
    for name in next(iter(shown.values()))[0]:
        cells = []
        for pooled, folds in shown.values():
            cells.append(f"{cell(pooled.get(name), name)} ({spread([f.get(name) for f in folds])})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", default=ROOT / "training" / "work" / "space", type=pathlib.Path)
    ap.add_argument("--runs", nargs="*", default=[], metavar="LABEL=DIR:RESULT",
                    help="instead: the headline figures of these runs side by side (runs_table)")
    args = ap.parse_args()
    if args.runs:
        runs_table(args.runs)
        return
    results = json.loads((args.work / "results.json").read_text())
    designs = list(results)
    names = list(figures(results[designs[0]]["pooled"]))
    print("### Pooled over the five folds (every row predicted by the fold that did not see it)\n")
    print("| measure | " + " | ".join(designs) + " |")
    print("|---|" + "---|" * len(designs))
    pooled = {d: figures(results[d]["pooled"]) for d in designs}
    for n in names:
        print(f"| {n} | " + " | ".join(cell(pooled[d].get(n), n) for d in designs) + " |")
    print("\n### Mean ± standard deviation over the five folds\n")
    print("| measure | " + " | ".join(designs) + " |")
    print("|---|" + "---|" * len(designs))
    for n in names:
        row = [spread([figures(f).get(n) for f in results[d]["folds"]]) for d in designs]
        print(f"| {n} | " + " | ".join(row) + " |")
    print("\n### Calibration on every row, out of fold (Brier / expected calibration error, "
          "10 bins)\n")
    print("| model | rows | " + " | ".join(designs) + " |")
    print("|---|---|" + "---|" * len(designs))
    for m, (rows, _, _) in results[designs[0]]["calibration"].items():
        cells = [f"{results[d]['calibration'][m][1]:.3f} / {results[d]['calibration'][m][2]:.3f}"
                 for d in designs]
        print(f"| {m} | {rows} | " + " | ".join(cells) + " |")
    plot(results, designs, ROOT / "training" / "report" / "curves.png")
    print("\n![accuracy against mean cost, pooled folds](report/curves.png)")
    transfer = args.work / "transfer.json"
    if transfer.exists():
        print("\n### Transfer: a model's labels withheld on one table, predicted from the "
              "others\n")
        print("| design | model | withheld table | rows | true acc | predicted acc | true rank | "
              "predicted rank | Spearman over models | row AUC |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for t in json.loads(transfer.read_text()):
            print(f"| {t['design']} | {t['model']} | {t['table']} | {t['rows']} | "
                  f"{t['true_accuracy']:.3f} | {t['predicted_accuracy']:.3f} | "
                  f"{t['true_rank']}/{t['models']} | {t['predicted_rank']}/{t['models']} | "
                  f"{t['spearman_over_models']:.2f} | {t['row_auc']:.3f} |")


if __name__ == "__main__":
    main()
