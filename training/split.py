"""Writes the rows of fold 0 (training/space.py's grouped folds) of each routing table to
training/work/validation/ (same format), so `routoo eval` can test a bundle trained with
`train.py --fit-on train` on questions it never saw."""

import csv

from data import ROOT
from space import fold_of, question_key


def main():
    data = ROOT.parent / "shared" / "data"
    out = ROOT / "training" / "work" / "validation"
    out.mkdir(parents=True, exist_ok=True)
    csv.field_size_limit(1 << 30)
    for table in sorted(data.glob("*.csv")):
        with open(table, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if fold_of(question_key(r, r["prompt"])) == 0]
            with open(out / table.name, "w", newline="", encoding="utf-8") as g:
                writer = csv.DictWriter(g, reader.fieldnames)
                writer.writeheader()
                writer.writerows(rows)
        print(f"{out / table.name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
