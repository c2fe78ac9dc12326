"""How many output tokens an answer takes, per model, from the tables that record it.

ZeroEval's costs count the model's full chain-of-thought answer (ceil(chars / 4) tokens at the
model's list output price); RouterBench's are what each provider billed. Subtracting the input
(ceil(chars / 4) of the prompt at the input price) leaves the output tokens of each answer.
FormationEval's costs are floors (one output token) and MMLU's and GSM8K's one-token answers say
nothing about answer length, so they are left out. Hidden reasoning (o1) is not in these costs:
its figures are the visible answer only.

    python3 training/output_tokens.py              # prints the table of REPORT.md
    python3 training/output_tokens.py --write-pool # sets expectedOutputTokens in www/pool.json

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


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--write-pool", action="store_true",
                    help="set each ZeroEval model's expectedOutputTokens in www/pool.json")
    args = ap.parse_args()
    found = output_tokens(args.data)
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
