"""The routing metrics of `routoo eval` (src/eval.rs) in numpy, and the evaluations the
targets name; training/space.py scores every design with them.

The router decides with estimated costs (pool prices × ⌈chars/4⌉ input tokens + expected output
tokens) and is charged the table's true costs; training/validate.sh re-checks the shipped design
with `routoo eval` itself.
"""

import itertools

import numpy as np

# --- metrics, as in src/eval.rs ---------------------------------------------------------------

def upper_hull(costs, qualities):
    """(cost, quality, model) of a row's upper hull, cheapest first (as src/batch.rs)."""
    pts = sorted(zip(costs, qualities, range(len(costs))), key=lambda p: (p[0], -p[1]))
    out = []
    for p in pts:
        if out and p[1] <= out[-1][1]:
            continue
        while len(out) >= 2:
            a, b = out[-2], out[-1]
            if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0:
                out.pop()
            else:
                break
        out.append(p)
    return out


def curve(correct, cost, quality, estimate):
    """Every routing argmax(quality − λ·estimate) makes as λ falls from ∞ to 0, as
    (λ, accuracy, mean cost); the exact sweep of src/eval.rs."""
    n = len(correct)
    hulls = [upper_hull(estimate[r], quality[r]) for r in range(n)]
    moves = sorted(((h[j][1] - h[j - 1][1]) / (h[j][0] - h[j - 1][0]), r, j)
                   for r, h in enumerate(hulls) for j in range(1, len(h)))
    moves.sort(key=lambda m: (-m[0], m[1], m[2]))
    pick = [h[0][2] for h in hulls]
    right = float(sum(correct[r, pick[r]] for r in range(n)))
    spend = float(sum(cost[r, pick[r]] for r in range(n)))
    pts, i = [], 0
    while i < len(moves):
        rate = moves[i][0]
        pts.append((rate, right / n, spend / n))
        while i < len(moves) and moves[i][0] == rate:
            _, r, j = moves[i]
            a, b = hulls[r][j - 1][2], hulls[r][j][2]
            right += correct[r, b] - correct[r, a]
            spend += cost[r, b] - cost[r, a]
            i += 1
    pts.append((0.0, right / n, spend / n))
    return pts


def hull_area(points, by="max"):
    """RouterBench's AIQ: the area under the non-decreasing upper hull from the cheapest to the
    dearest point, ÷ the largest cost (by="max", as its evaluation/AIQ.py) or ÷ the cost range
    (by="range")."""
    pts = sorted(points)
    lo, hi = pts[0][0], pts[-1][0]
    if hi <= lo:
        return max(p[1] for p in pts)
    hull = []
    for p in pts:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    area, best = 0.0, -np.inf
    for a, b in itertools.pairwise(hull):
        ya = max(a[1], best)
        yb = max(b[1], ya)
        area += (b[0] - a[0]) * (ya + yb) / 2
        best = yb
    area += (hi - hull[-1][0]) * max(hull[-1][1], best)
    return area / (hi if by == "max" else hi - lo)


def pair(correct, quality, estimate):
    """RouteLLM's APGR (rows by predicted gain), the cost-ordered APGR, CPT(50 %), CPT(80 %)."""
    correct = correct.astype(int)
    acc = correct.mean(axis=0)
    weak, strong = (0, 1) if acc[0] <= acc[1] else (1, 0)
    gap = acc[strong] - acc[weak]
    n = len(correct)
    dq = quality[:, strong] - quality[:, weak]
    dc = estimate[:, strong] - estimate[:, weak]
    per_cost = np.where(dc > 0, dq / np.where(dc > 0, dc, 1),
                        np.where(dq >= 0, np.inf, -np.inf))

    def recovered(key):
        order = sorted(range(n), key=lambda r: (-key[r], r))
        gains = correct[order, strong] - correct[order, weak]
        acc_curve = (correct[:, weak].sum() + np.concatenate([[0], np.cumsum(gains)])) / n
        return (acc_curve - acc[weak]) / gap if gap > 0 else np.zeros(n + 1)

    def first(curve, level):
        hit = np.flatnonzero(curve >= level)
        if gap <= 0 or len(hit) == 0:
            return None
        i = hit[0]
        if i == 0:
            return 0.0
        return (i - 1 + (level - curve[i - 1]) / (curve[i] - curve[i - 1])) / n

    by_gain, by_cost = recovered(dq), recovered(per_cost)
    trap = lambda c: float(((c[1:] + c[:-1]) / 2).mean())
    return {"apgr": trap(by_gain), "apgr_by_cost": trap(by_cost),
            "cpt50": first(by_gain, 0.5), "cpt80": first(by_gain, 0.8)}


def gain_within(pts, acc, c):
    """The curve's best accuracy at a mean cost within `c`, less `acc` (−inf: no such point)."""
    within = [p[1] for p in pts if p[2] <= c * (1 + 1e-9)]  # as COST_SLACK in eval.rs
    return max(within) - acc if within else -np.inf


def report(models, correct, cost, quality, estimate):
    pts = curve(correct, cost, quality, estimate)
    single = {m: (correct[:, i].mean(), cost[:, i].mean()) for i, m in enumerate(models)}
    out = {"rows": len(correct), "models": single, "curve": pts, "ctm": {}, "gac": {}}
    for m, (acc, c) in single.items():
        reach = [p[2] for p in pts if p[1] >= acc]
        out["ctm"][m] = min(reach) / c if reach else None
        out["gac"][m] = gain_within(pts, acc, c)
    out["aiq"] = hull_area([(p[2], p[1]) for p in pts])
    out["aiq_range"] = hull_area([(p[2], p[1]) for p in pts], by="range")
    two = pair(correct, quality, estimate) if len(models) == 2 else {}
    for key in ("apgr", "apgr_by_cost", "cpt50", "cpt80"):
        out[key] = two.get(key)
    correct = correct.astype(bool)
    oracle = np.where(correct, cost, np.inf).min(axis=1)
    none = ~correct.any(axis=1)
    oracle[none] = cost[none].min(axis=1)
    out["oracle"] = (correct.any(axis=1).mean(), oracle.mean())
    return out


def with_margin(quality, sd, kappa, average):
    """The qualities the selector compares: every model but the one best on average (highest
    `average`, its mean predicted quality over prompts of every table) gives up κ standard
    deviations of its predicted difference from that model, so the router leaves that model only
    for a margin the predictor is sure of. As src/select.rs."""
    best = int(np.argmax(average))
    handicap = kappa * np.sqrt(sd ** 2 + sd[:, [best]] ** 2)
    handicap[:, best] = 0.0
    return quality - handicap


FLOOR_GRID = np.linspace(0, 0.5, 51)
# The fewest rows a floor may rest on: a handful of rows taken can gain on average by chance.
LEAST_TAKEN = 30


def pair_floors(q, s, y, incumbent, train, kappa, z=0.0, grid=FLOOR_GRID, least=LEAST_TAKEN):
    """Per model, the least floor t (of `grid`) such that, on the `train` rows where it and the
    incumbent are both labelled, the rows it would take from the incumbent (predicted gain less
    its κ margin above t), `least` of them at least, truly gain on the incumbent: their mean
    gain less z standard errors is not below 0 (z = 0: the mean; 1.645: a one-sided 95 %
    bound); ∞ where no floor does, NaN where they share fewer than `least` rows (nothing is
    known). The margin calibrated per pair of models: the selector discounts a predicted gain
    over the incumbent by the floor, never below the incumbent (src/select.rs)."""
    out = np.full(q.shape[1], np.inf)
    out[incumbent] = 0.0
    for m in range(q.shape[1]):
        if m == incumbent:
            continue
        both = train & ~np.isnan(y[:, m]) & ~np.isnan(y[:, incumbent])
        gain = q[both, m] - q[both, incumbent] - kappa * np.hypot(s[both, m], s[both, incumbent])
        real = y[both, m] - y[both, incumbent]
        if both.sum() < least:
            out[m] = np.nan
            continue
        for t in grid:
            took = gain > t
            se = real[took].std() / np.sqrt(max(took.sum(), 1))
            if took.sum() >= least and real[took].mean() - z * se >= 0:
                out[m] = t
                break
    return out


def accuracy_at(rep, budget):
    within = [p[1] for p in rep["curve"] if p[2] <= budget]
    return max(within) if within else float("nan")


# --- the evaluations the targets name ---------------------------------------------------------

def evaluations(rows):
    """(name, table, models) for each target; the caller keeps the validation rows."""
    mmlu9 = ["gpt-4-1106-preview", "mixtral-8x7b-instruct", "mistral-7b-v0.1",
             "metamath-mistral-7b", "chinese-mistral-7b-v0.1", "zephyr-7b-beta",
             "dolphin-2.6-mistral-7b", "llama-3-8b", "dolphin-2.9-llama3-8b"]
    rb = sorted({m for r in rows if r["table"] == "routerbench" for m in r["labels"]})
    return [
        ("mmlu, 9 models", "mmlu", mmlu9),
        ("mmlu, open pool", "mmlu", mmlu9[1:]),
        ("mmlu, mixtral vs gpt-4", "mmlu", mmlu9[:2]),
        ("routerbench, 11 models", "routerbench", rb),
        ("gsm8k, mixtral vs gpt-4", "gsm8k", mmlu9[:2]),
    ]


def matrices(rows, idx, models, pool, output_tokens):
    correct = np.array([[rows[i]["labels"][m] for m in models] for i in idx], dtype=int)
    cost = np.array([[rows[i]["cost"][m] for m in models] for i in idx])
    price = {m["id"]: m for m in pool["models"]}
    est = np.array([[((rows[i]["chars"] + 3) // 4 * price[m]["priceIn"]
                      + output_tokens * price[m]["priceOut"]) / 1e6 for m in models]
                    for i in idx])
    return correct, cost, est
