"""Issue 22: is a model's level better guessed from its predecessor's labels than from its price?

Today's API models have no labels and no published score on a benchmark the bundle maps, so the
pool places them as an average model at their price (`Prior::at_price`). The tables label the
models they follow. This script measures, on the tables that label both a model and the one it
succeeds (same maker and line, next version, same reasoning effort; the list is below, by name),
how far each guess of the successor's accuracy on those rows falls from the truth:

- `predecessor`: the predecessor's accuracy on the same rows (what `"like"` would give);
- `average`: the mean accuracy of the table's other models (an average model);
- `at price`: a line of logit accuracy on log price (input + 4 × output, US$ per 1M), fitted on
  the table's other models (an average model at its price, in the table's own domain);
- `predecessor, shifted`: the predecessor's logit moved by the mean shift of the other pairs
  (leave one pair out): successors tend to be better;
- `both`: the mean, in logits, of `predecessor` and `at price`.

Rows of the outer split are left out (space.without_outer). Intervals: 95 %, bootstrap over
pairs.

    python training/predecessors.py
"""

import json

import numpy as np

import space
from data import ROOT, read_rows

DATA = ROOT.parent / "shared" / "data"

# (predecessor, successor): one maker's line, the next version, at one reasoning effort.
PAIRS = [
    ("claude-3.5-haiku", "claude-haiku-4.5"),
    ("claude-3.7-sonnet", "claude-sonnet-4.5"),
    ("gemini-2.0-flash-001", "gemini-2.5-flash"),
    ("gemini-2.5-flash", "gemini-3-flash-preview"),
    ("gemini-2.5-pro", "gemini-3-pro-preview"),
    ("gpt-4o", "gpt-4.1"),
    ("gpt-4o-mini", "gpt-4.1-mini"),
    ("gpt-5.1-chat-low", "gpt-5.2-chat-low"),
    ("gpt-5.1-chat-medium", "gpt-5.2-chat-medium"),
    ("gpt-5.1-chat-high", "gpt-5.2-chat-high"),
    ("o3-mini-low", "o4-mini-low"),
    ("o3-mini-medium", "o4-mini-medium"),
    ("o3-mini-high", "o4-mini-high"),
    ("grok-4-fast", "grok-4.1-fast"),
    ("mistral-small-24b-instruct-2501", "mistral-small-3.2-24b-instruct"),
    ("claude-3-haiku-20240307", "claude-3-5-haiku-20241022"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-08-06"),
    ("claude-v1", "claude-v2"),
]


def logit(a):
    a = np.clip(a, 1e-3, 1 - 1e-3)
    return np.log(a / (1 - a))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def accuracy(model, rows):
    return float(np.mean([r["labels"][model] for r in rows if model in r["labels"]]))


def main():
    rows, _ = space.without_outer(*read_rows(DATA))
    price = {m["id"]: m["price_in"] + 4 * m["price_out"]
             for m in json.loads((DATA / "models.json").read_text())["models"]
             if m.get("price_in") is not None and m.get("price_out") is not None}
    cases = []
    for before, after in PAIRS:
        both = [r for r in rows if before in r["labels"] and after in r["labels"]]
        if len(both) < 100:
            print(f"{before} -> {after}: {len(both)} rows together, left out")
            continue
        table = both[0]["table"]
        others = sorted({m for r in both for m in r["labels"]} - {after})
        level = {m: accuracy(m, both) for m in others}
        fit = [m for m in others if m in price and price[m] > 0]
        slope, icept = np.polyfit(np.log([price[m] for m in fit]),
                                  logit(np.array([level[m] for m in fit])), 1)
        cases.append({
            "pair": f"{before} -> {after}", "table": table, "rows": len(both),
            "true": accuracy(after, both), "predecessor": level[before],
            "average": float(np.mean([level[m] for m in others])),
            "at price": float(sigmoid(icept + slope * np.log(price[after])))
            if price.get(after) else np.nan,
        })
    shifts = np.array([logit(c["true"]) - logit(c["predecessor"]) for c in cases])
    for i, c in enumerate(cases):
        c["predecessor, shifted"] = float(sigmoid(logit(c["predecessor"])
                                                  + np.delete(shifts, i).mean()))
    for c in cases:
        c["both"] = float(sigmoid((logit(c["predecessor"]) + logit(c["at price"])) / 2))
    names = ("predecessor", "predecessor, shifted", "average", "at price", "both")
    print("| pair | table | rows | true | " + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    for c in cases:
        print(f"| {c['pair']} | {c['table']} | {c['rows']} | {c['true']:.3f} | "
              + " | ".join(f"{c[n]:.3f}" for n in names) + " |")
    err = {n: np.array([abs(c[n] - c["true"]) for c in cases]) for n in names}
    draws = np.random.default_rng(0).integers(0, len(cases), (2000, len(cases)))
    print(f"\n{len(cases)} pairs; mean |guess − true accuracy| (95 % interval over pairs):")
    for n in names:
        e = err[n][draws].mean(1)
        print(f"- {n}: {err[n].mean():.3f} [{np.quantile(e, 0.025):.3f}, "
              f"{np.quantile(e, 0.975):.3f}]")
    for n in ("average", "at price", "both"):
        gap = (err[n] - err["predecessor"])[draws].mean(1)
        print(f"- {n} less predecessor: {(err[n] - err['predecessor']).mean():+.3f} "
              f"[{np.quantile(gap, 0.025):+.3f}, {np.quantile(gap, 0.975):+.3f}]; predecessor "
              f"closer in {int((err['predecessor'] < err[n]).sum())} of {len(cases)}")


if __name__ == "__main__":
    main()
