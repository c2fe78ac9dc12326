"""Writes the validation rows of each routing table to training/work/validation/ (same format),
so `routoo eval` can test a bundle trained with `train.py --fit-on train` on rows it never saw."""

import csv
import pathlib

from data import ROOT, is_validation


def main():
    data = ROOT.parent / "shared" / "data"
    out = ROOT / "training" / "work" / "validation"
    out.mkdir(parents=True, exist_ok=True)
    csv.field_size_limit(1 << 30)
    for table in sorted(data.glob("*.csv")):
        with open(table, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if is_validation(r["id"])]
            with open(out / table.name, "w", newline="", encoding="utf-8") as g:
                writer = csv.DictWriter(g, reader.fieldnames)
                writer.writeheader()
                writer.writerows(rows)
        print(f"{out / table.name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
