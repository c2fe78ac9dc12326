"""Writes the rows of fold 0 (training/space.py's grouped folds) of each routing table to
training/work/validation/ (same format), so `routoo eval` can test a bundle trained with
`train.py --fit-on train` on questions it never saw; with `--outer`, the outer split's rows
(space.is_outer) to training/work/outer/, for a bundle trained with `--fit-on inner`."""

import argparse
import csv

from data import ROOT
from space import fold_of, is_outer, question_key

DATA = ROOT.parent / "shared" / "data"


def write(out, keep, data=DATA):
    """Each table of `data` to `out` (same name and format), the rows whose question key
    `keep` accepts."""
    out.mkdir(parents=True, exist_ok=True)
    csv.field_size_limit(1 << 30)
    for table in sorted(data.glob("*.csv")):
        with open(table, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if keep(question_key(r, r["prompt"]))]
            with open(out / table.name, "w", newline="", encoding="utf-8") as g:
                writer = csv.DictWriter(g, reader.fieldnames)
                writer.writeheader()
                writer.writerows(rows)
        print(f"{out / table.name}: {len(rows)} rows")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outer", action="store_true")
    args = ap.parse_args()
    out = ROOT / "training" / "work" / ("outer" if args.outer else "validation")
    write(out, is_outer if args.outer else (lambda key: fold_of(key) == 0))


if __name__ == "__main__":
    main()
