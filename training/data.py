"""Shared by train.py and space.py: reading the routing tables and embedding prompts with the
frozen MiniLM (the baseline space.py compares with)."""

import csv
import hashlib
import pathlib

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXED = {"id", "benchmark", "subject", "prompt", "answer"}


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


def read_rows(data):
    """Every row of every table in `data`: (rows with labels and costs, prompts)."""
    tables = sorted(data.glob("*.csv"))
    rows, prompts = [], []
    for table in tables:
        table_rows, models = read_table(table)
        for row in table_rows:
            rows.append({
                "table": table.stem, "id": row["id"], "benchmark": row["benchmark"],
                "subject": row["subject"], "chars": len(row["prompt"]),
                "labels": {m: int(row[m]) for m in models if row[m] != ""},
                "cost": {m: float(row[f"{m}|cost"]) for m in models if row[m] != ""},
            })
            prompts.append(row["prompt"])
    return rows, prompts


def load(data, models_dir, work):
    """Every row of every table, with its prompt and MiniLM embedding."""
    rows, prompts = read_rows(data)
    return rows, prompts, embed(models_dir, prompts, work)
