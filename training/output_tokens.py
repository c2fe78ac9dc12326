"""How many output tokens an answer takes, per model, from the tables that record it.

ZeroEval's costs count the model's full chain-of-thought answer (ceil(chars / 4) tokens at the
model's list output price); RouterBench's are what each provider billed. Subtracting the input
(ceil(chars / 4) of the prompt at the input price) leaves the output tokens of each answer.
FormationEval's costs are floors (one output token) and MMLU's and GSM8K's one-token answers say
nothing about answer length, so they are left out. Hidden reasoning (o1) is not in these costs:
its figures are the visible answer only.

    python3 training/output_tokens.py              # prints the table of REPORT.md
    python3 training/output_tokens.py --write-pool # sets expectedOutputTokens in www/pool.json
    python3 training/output_tokens.py --observe    # how fast observed answers set a model's
                                                   # expected output (src/pool.rs's ObservedOutput)

Only ZeroEval's figures go into the pool: RouterBench billed its inputs with each provider's own
tokenizer, which chars / 4 overcounts, so most of its answers come out at the one-token floor.
"""

import argparse
import csv
import json
import math
import pathlib
import statistics

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLES = ["zeroeval", "routerbench"]


def output_tokens(data):
    """{table: {model: [output tokens of each answer]}}, from the rows with a cost."""
    models = {m["id"]: m for m in json.loads((data / "models.json").read_text())["models"]}
    csv.field_size_limit(1 << 30)
    out = {}
    for table in TABLES:
        path = data / f"{table}.csv"
        if not path.exists():
            continue
        per = out.setdefault(table, {})
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                tokens_in = math.ceil(len(row["prompt"]) / 4)
                for key, value in row.items():
                    if not key.endswith("|cost") or value in ("", None):
                        continue
                    model = key[: -len("|cost")]
                    price = models.get(model)
                    if not price or not price["price_out"]:
                        continue
                    usd = float(value)
                    spent_in = tokens_in * price["price_in"] / 1e6
                    tokens = max(1.0, (usd - spent_in) * 1e6 / price["price_out"])
                    per.setdefault(model, []).append(tokens)
    return out


def observed(stated, answers, prior, window):
    """The expected output after each of `answers`, as src/pool.rs's ObservedOutput gives it."""
    n, mean, out = 0, 0.0, []
    for x in answers:
        n = min(n + 1, window)
        mean += (x - mean) / n
        out.append((prior * stated + n * mean) / (prior + n))
    return out


def observe_table(found, stated=256, window=50, orders=200, seed=0):
    """Relative error of the expected output after n answers, for each prior weight: ZeroEval's
    models as they are (answers near the stated 256), and the same answers ten times as long
    (a model that thinks, as today's do, stated at 256 all the same). Each model's answers come
    in `orders` random orders; the truth is its mean over all its answers. The weight is chosen
    on every other model by name (the choice half) and judged on the rest (the held half)."""
    import random
    names = sorted(found.get("zeroeval", {}))
    for half, label in ((names[0::2], "choice half"), (names[1::2], "held half")):
        print(f"\n{label}: {', '.join(half)}\n")
        observe_half({m: found["zeroeval"][m] for m in half}, stated, window, orders,
                     random.Random(seed))


def observe_half(per, stated, window, orders, rng):
    marks, priors = [0, 1, 3, 10, 30], [0.5, 1, 3, 10]
    print("| answers | scale | " + " | ".join(f"weight {k}" for k in priors) + " |")
    print("|---|---|" + "---|" * len(priors))
    # The criterion: each model's mean relative error after 1, 3, 10 and 30 answers, both scales.
    criterion = {k: {model: [] for model in per} for k in priors}
    for scale in (1, 10):
        errors = {(k, m): [] for k in priors for m in marks}
        for model, xs in per.items():
            truth = scale * statistics.mean(xs)
            for _ in range(orders):
                seen = [scale * x for x in rng.sample(xs, max(marks))]
                for k in priors:
                    est = observed(stated, seen, k, window)
                    for m in marks:
                        e = abs((stated if m == 0 else est[m - 1]) - truth) / truth
                        errors[(k, m)].append(e)
                        if m:
                            criterion[k][model].append(e)
        for m in marks:
            cells = " | ".join(f"{statistics.mean(errors[(k, m)]):.2f}" for k in priors)
            print(f"| {m} | ×{scale} | {cells} |")
    # Over models, with a 95 % bootstrap interval over the models.
    models = list(per)
    cells = []
    for k in priors:
        by_model = [statistics.mean(criterion[k][model]) for model in models]
        draws = sorted(statistics.mean(rng.choices(by_model, k=len(by_model))) for _ in range(1000))
        cells.append(f"{statistics.mean(by_model):.3f} [{draws[25]:.3f}, {draws[974]:.3f}]")
    print(f"| 1–30, mean | both | {' | '.join(cells)} |")


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--write-pool", action="store_true",
                    help="set each ZeroEval model's expectedOutputTokens in www/pool.json")
    ap.add_argument("--observe", action="store_true",
                    help="how fast observed answers set a model's expected output, by prior weight")
    args = ap.parse_args()
    found = output_tokens(args.data)
    if args.observe:
        observe_table(found)
        return
    if args.write_pool:
        path = ROOT / "www" / "pool.json"
        pool = json.loads(path.read_text())
        measured = {m: round(statistics.mean(xs)) for m, xs in found.get("zeroeval", {}).items()}
        for m in pool["models"]:
            if m["id"] in measured:
                m["expectedOutputTokens"] = measured[m["id"]]
        path.write_text(json.dumps(pool, indent=2) + "\n")
    print("| table | model | answers | mean | median | 90th percentile |")
    print("|---|---|---|---|---|---|")
    everyone = []
    for table, per in found.items():
        for model, xs in sorted(per.items(), key=lambda kv: statistics.mean(kv[1])):
            everyone += xs
            print(f"| {table} | {model} | {len(xs)} | {statistics.mean(xs):.0f} | "
                  f"{statistics.median(xs):.0f} | {quantile(xs, 0.9):.0f} |")
    if everyone:
        print(f"\nall answers: {len(everyone)}, mean {statistics.mean(everyone):.0f}, "
              f"median {statistics.median(everyone):.0f}, "
              f"90th percentile {quantile(everyone, 0.9):.0f} output tokens")


if __name__ == "__main__":
    main()
