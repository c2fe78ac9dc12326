"""Accuracy–cost plots for the report, from research.py's results and `routoo eval --json`
outputs (training/validate.sh). Writes PNGs to training/report/."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from data import ROOT  # noqa: E402

WORK = ROOT / "training" / "work"
OUT = ROOT / "training" / "report"
SHOWN = ["base-rate", "lr", "domain-prior", "knn", "blend"]
PANELS = [
    ("mmlu, 9 models", "mmlu9-pool-mmlu.json"),
    ("mmlu, open pool", "mmlu-open-pool-mmlu.json"),
    ("mmlu, mixtral vs gpt-4", "mmlu2-pool-mmlu.json"),
    ("routerbench, 11 models", "routerbench.json"),
]


def frontier(points):
    """Points not beaten by a cheaper one: what a user can buy at each cost."""
    best, out = -1.0, []
    for cost, acc in sorted(points):
        if acc > best:
            out.append((cost, acc))
            best = acc
    return out


def main():
    research = json.loads((WORK / "research" / "results.json").read_text())
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for ax, (name, eval_file) in zip(axes.flat, PANELS):
        for design in SHOWN:
            if design not in research:
                continue
            pts = frontier([(p[2], p[1]) for p in research[design][name]["curve"]])
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post",
                    label=f"{design} (research.py)", alpha=0.8,
                    linewidth=2.2 if design == "blend" else 1.2)
        path = WORK / "eval" / eval_file
        if path.exists():
            rep = json.loads(path.read_text())
            pts = frontier([(p["mean_cost"], p["accuracy"]) for p in rep["curve"]])
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="black",
                    linestyle="--", label="shipped design (routoo eval)")
            for model, s in rep["models"].items():
                ax.scatter(s["mean_cost"], s["accuracy"], marker="o", color="grey", zorder=5)
                ax.annotate(model.split("-")[0] + ("-" + model.split("-")[1]
                            if model.startswith(("gpt", "claude", "llama", "mistral")) else ""),
                            (s["mean_cost"], s["accuracy"]), fontsize=7,
                            textcoords="offset points", xytext=(3, -8))
            ax.scatter(rep["oracle"]["mean_cost"], rep["oracle"]["accuracy"], marker="*",
                       s=120, color="gold", edgecolor="black", zorder=6, label="oracle")
        ax.set_xscale("log")
        ax.set_title(f"{name} (validation rows)")
        ax.set_xlabel("mean US$ per prompt (true cost)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "curves.png", dpi=110)
    print(f"wrote {OUT / 'curves.png'}")




def table():
    """Markdown table of the target metrics per design (research.py's validation figures)."""
    research = json.loads((WORK / "research" / "results.json").read_text())
    g4, mx = "gpt-4-1106-preview", "mixtral-8x7b-instruct"
    fmt = lambda v: "never" if v is None else f"{v:.3f}"
    print("| design | MMLU-9 AIQ | MMLU-9 cost to match GPT-4 | MMLU-9 vs GPT-4 at 0.5× cost "
          "| open AIQ | open cost to match Mixtral | open gain at Mixtral cost | APGR "
          "| RouterBench AIQ | RouterBench worst gain | RouterBench models matched ≤1× |")
    print("|---" * 11 + "|")
    for design, res in research.items():
        m9, op, two, rb = (res[n] for n in ("mmlu, 9 models", "mmlu, open pool",
                                            "mmlu, mixtral vs gpt-4", "routerbench, 11 models"))
        acc, cost = m9["models"][g4]
        at_half = max([p[1] for p in m9["curve"] if p[2] <= 0.5 * cost], default=float("nan"))
        gains = [v for v in rb["gac"].values()]
        matched = sum(1 for v in rb["ctm"].values() if v is not None and v <= 1 + 1e-9)
        print(f"| {design} | {m9['aiq']:.4f} | {fmt(m9['ctm'][g4])} | {at_half - acc:+.4f} "
              f"| {op['aiq']:.4f} | {fmt(op['ctm'][mx])} | {op['gac'][mx]:+.4f} "
              f"| {two['apgr']:.3f} | {rb['aiq']:.4f} | {min(gains):+.4f} "
              f"| {matched}/{len(rb['ctm'])} |")


if __name__ == "__main__":
    main()
    table()
