"""Choose the probe set a new model is calibrated from, and write it into a bundle.

A probe is a table row whose reference answer a program can check (an MMLU-Pro letter, a GSM8K
or MATH number, a CRUXEval literal; the rule is `Grading::for_row` in src/probe.rs). The set is
ordered greedily for information about a new model's (θ, b): each step adds the row that most
raises the log-determinant of the Fisher information, averaged over the bundle's heads (the
models a new one is likely to resemble) and started from the prior the calibration uses (the
heads' covariance). Rows carry information where models disagree and where the space is not yet
covered, so the set spreads over domains by itself; a cap per subject and per benchmark keeps
it from leaning on one, and a floor per benchmark keeps each in every prefix. Every prefix of the order is a good design: `--probes 25` takes the
first 25.

    training/.venv/bin/python training/probes.py            # rewrites www/models/probes.json
"""

import argparse
import json
import pathlib
import re

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from data import ROOT, read_table, sha256

SIZE = 200
# The calibration's prior: the heads' covariance plus this ridge (src/calibrate.rs, RIDGE),
# times PRIOR_SCALE (CALIBRATION_PRIOR_SCALE). The probe order is chosen under the unscaled one.
RIDGE = 1e-2
PRIOR_SCALE = 0.25
# And along the domain coordinates of z, times DOMAIN_PRIOR_SCALE (src/heads.rs).
DOMAIN_PRIOR_SCALE = 8.0
# Longest prompt considered: probes are sent to paid APIs.
MAX_CHARS = 2500
# No subject more than this share of the set, no benchmark more than BENCHMARK_SHARE.
SUBJECT_SHARE = 0.08
BENCHMARK_SHARE = 0.4
# Every benchmark at least this share of every prefix (rounded down), information permitting;
# every subject at least SUBJECT_FLOOR, so 100 probes ask
# each of MMLU-Pro's 14 categories.
BENCHMARK_FLOOR = 0.1
SUBJECT_FLOOR = 0.015
# "d": maximise the information about (θ, b) itself (log det); "v": minimise the variance of
# the logit averaged over the candidate prompts (what routing reads).
CRITERION = "d"

INSTRUCTIONS = {
    "choice": "Think step by step, then end with a line \"The answer is (X)\", where X is the "
              "letter of the correct option.",
    "number": "Think step by step, then end with a line \"The answer is N\", where N is the "
              "final number alone.",
    "literal": "Think step by step, then end with a line \"The answer is V\", where V is the "
               "output as a Python literal.",
}

NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$|^-?\.\d+$")


def grading(benchmark, answer):
    """As `Grading::for_row` (src/probe.rs), for the answers these tables hold."""
    answer = answer.strip()
    if benchmark == "mmlu-pro":
        return "choice" if re.fullmatch(r"[A-J]", answer) else None
    if benchmark in ("gsm8k", "math-l5"):
        return "number" if NUMBER.match(answer) else None
    if benchmark == "cruxeval":
        return "literal" if answer else None
    return None


def candidates(data):
    """Gradeable rows of every table with an `answer` column, one per question."""
    out, seen = [], set()
    for table in sorted(data.glob("*.csv")):
        rows, _ = read_table(table)
        if not rows or "answer" not in rows[0]:
            continue
        for r in rows:
            kind = grading(r["benchmark"], r["answer"])
            key = re.sub(r"\s+", "", r["prompt"]).casefold()
            if kind is None or len(r["prompt"]) > MAX_CHARS or key in seen:
                continue
            seen.add(key)
            out.append({"id": r["id"], "benchmark": r["benchmark"], "subject": r["subject"],
                        "prompt": r["prompt"], "answer": r["answer"].strip(), "grading": kind,
                        "table": table.stem})
    return out


def positions(models_dir, prompts, max_tokens):
    """z of each prompt, by the bundle's own encoder graph."""
    tok = Tokenizer.from_file(str(models_dir / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    sess = ort.InferenceSession(str(models_dir / "encoder.onnx"), providers=["CPUExecutionProvider"])
    out = []
    for p in prompts:
        ids = np.array([tok.encode(p).ids], dtype=np.int64)
        out.append(sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return np.array(out, dtype=np.float64)


# Heads trained on fewer labelled rows stay out of the prior and of the probe choice, when two
# or more others do not (src/heads.rs, PRIOR_MIN_ROWS).
PRIOR_MIN_ROWS = 1000


def broad(rows_per_head):
    """Indices of the heads the prior is taken over, from each head's labelled row count."""
    rows = np.asarray(rows_per_head)
    keep = np.flatnonzero(rows >= PRIOR_MIN_ROWS)
    return keep if len(keep) >= 2 else np.arange(len(rows))


def prior_precision(theta, bias):
    params = np.hstack([theta, bias[:, None]])
    cov = np.cov(params, rowvar=False) + RIDGE * np.eye(params.shape[1])
    return np.linalg.inv(cov)


def prior_heads(rows_per_head, leave_out):
    """Indices of the heads a prior for head `leave_out` is taken over: the broad ones of the
    others, from each head's labelled row count."""
    others = np.array([k for k in range(len(rows_per_head)) if k != leave_out])
    return others[broad(np.asarray(rows_per_head)[others])]


def prior_of(theta, bias, scale):
    """(mean, precision) of a new head's prior over these heads, the covariance times `scale`
    (src/heads.rs)."""
    return np.hstack([theta, bias[:, None]]).mean(axis=0), prior_precision(theta, bias) / scale


def calibration_prior(theta, bias, scale=PRIOR_SCALE, domains=None,
                      domain_scale=DOMAIN_PRIOR_SCALE):
    """(mean, precision) of `routoo calibrate`'s prior over these heads (src/heads.rs,
    Prior::for_calibration): the covariance times `scale`, and along the domain coordinates
    `domains` (a range of θ's indices; None: a space without them) times `domain_scale` more."""
    mean, precision = prior_of(theta, bias, scale)
    if domains is not None:
        precision = widen(precision, domains.start, domains.stop, domain_scale)
    return mean, precision


def widen(precision, start, stop, scale):
    """The prior's precision with its variance along coordinates [start, stop) times `scale`
    (their covariances with the rest times √scale, so it stays a covariance)."""
    d = np.ones(len(precision))
    d[start:stop] = np.sqrt(scale)
    return np.linalg.inv(np.linalg.inv(precision) * np.outer(d, d))


def choose(z, theta, bias, groups, size, subject_cap, benchmark_cap, criterion=None):
    """Greedy D-optimal order of rows: indices into z. `groups` are (benchmark, subject);
    a benchmark without subjects is capped as a benchmark only."""
    x = np.hstack([z, np.ones((len(z), 1))])
    p = 1 / (1 + np.exp(-(z @ theta.T + bias)))              # [row, model]
    w = p * (1 - p)
    inv = np.repeat(np.linalg.inv(prior_precision(theta, bias))[None], len(theta), axis=0)
    criterion = criterion or CRITERION
    # Per model, the mean of x xᵀ over the candidates, weighted as the logit's variance counts.
    spread = np.einsum("rm,ri,rj->mij", w, x, x) / len(x)
    chosen, per_subject, per_bench = [], {}, {}
    allowed = np.ones(len(z), dtype=bool)
    benches = np.array([g[0] for g in groups])
    subjects = np.array([bool(g[1]) for g in groups])
    for k in range(1, min(size, len(z)) + 1):
        # Gain of each row: mean over models of log(1 + w·xᵀ A⁻¹ x).
        quad = np.einsum("ri,mij,rj->rm", x, inv, x)
        if criterion == "d":
            gain = np.log1p(w * quad).mean(axis=1)
        elif criterion == "random":
            # A representative sample (research baseline): every prompt equally likely.
            gain = np.random.default_rng(k).random(len(x))
        else:
            # Fall of the mean predictive variance: w·xᵀA⁻¹SA⁻¹x / (1 + w·xᵀA⁻¹x).
            ax = np.einsum("mij,rj->rmi", inv, x)
            gain = (w * np.einsum("rmi,mij,rmj->rm", ax, spread, ax) / (1 + w * quad)).mean(axis=1)
        gain[~allowed] = -np.inf
        owed = np.isin(benches, [b for b in set(benches)
                                 if per_bench.get(b, 0) < int(BENCHMARK_FLOOR * k)])
        owed |= subjects & np.array([per_subject.get(g, 0) < int(SUBJECT_FLOOR * k)
                                     for g in groups])
        if np.isfinite(gain[owed]).any():
            gain[~owed] = -np.inf
        r = int(np.argmax(gain))
        if not np.isfinite(gain[r]):
            break
        chosen.append(r)
        allowed[r] = False
        for m in range(len(theta)):                      # Sherman–Morrison per model
            a = inv[m] @ x[r]
            inv[m] -= w[r, m] * np.outer(a, a) / (1 + w[r, m] * x[r] @ a)
        bench, _ = groups[r]
        per_bench[bench] = per_bench.get(bench, 0) + 1
        per_subject[groups[r]] = per_subject.get(groups[r], 0) + 1
        for i, g in enumerate(groups):
            if allowed[i] and (per_bench.get(g[0], 0) >= benchmark_cap
                               or (g[1] and per_subject.get(g, 0) >= subject_cap)):
                allowed[i] = False
    return chosen


def build(models_dir, data, size=SIZE, heads=None):
    """The probe set for the bundle in `models_dir` (heads from its predictor.json unless
    given as (theta, bias))."""
    manifest = json.loads((models_dir / "predictor.json").read_text())
    if heads is None:
        keep = broad([h.get("labels", {}).get("rows", 0) for h in manifest["heads"]])
        theta = np.array([manifest["heads"][i]["weights"] for i in keep], dtype=np.float64)
        bias = np.array([manifest["heads"][i]["bias"] for i in keep], dtype=np.float64)
    else:
        theta, bias = heads
    rows = candidates(data)
    z = positions(models_dir, [r["prompt"] for r in rows], manifest["encoder"]["max_tokens"])
    groups = [(r["benchmark"], r["subject"]) for r in rows]
    order = choose(z, theta, bias, groups, size, max(1, int(SUBJECT_SHARE * size)),
                   max(1, int(BENCHMARK_SHARE * size)))
    return {
        "format": "routoo-probes",
        "instructions": INSTRUCTIONS,
        "probes": [{k: v for k, v in rows[i].items() if k != "table"} for i in order],
        "provenance": {
            "script": "training/probes.py",
            "candidates": len(rows),
            "rule": f"greedy D-optimal for a new head under the heads' prior (ridge {RIDGE}), "
                    f"mean over {len(theta)} of the bundle's heads (those trained on "
                    f"{PRIOR_MIN_ROWS} labelled rows or more); prompts up to {MAX_CHARS} "
                    f"characters; at most {SUBJECT_SHARE:.0%} of the set per subject and "
                    f"{BENCHMARK_SHARE:.0%} per benchmark; at least {BENCHMARK_FLOOR:.0%} of every "
                    f"prefix per benchmark and {SUBJECT_FLOOR:.1%} per subject",
            "data": [{"file": t.name, "sha256": sha256(t)} for t in sorted(data.glob("*.csv"))],
        },
    }


def write(models_dir, data, size=SIZE):
    """Writes probes.json beside predictor.json and names it there, pinned by sha256."""
    probes = build(models_dir, data, size)
    path = models_dir / "probes.json"
    path.write_text(json.dumps(probes, indent=1, ensure_ascii=False) + "\n")
    manifest_path = models_dir / "predictor.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["probes"] = {"file": path.name, "sha256": sha256(path)}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    kinds = {}
    for p in probes["probes"]:
        kinds[p["benchmark"]] = kinds.get(p["benchmark"], 0) + 1
    print(f"wrote {path} ({path.stat().st_size} bytes): {len(probes['probes'])} probes {kinds}")
    return probes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=pathlib.Path, default=ROOT / "www" / "models")
    ap.add_argument("--data", type=pathlib.Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--size", type=int, default=SIZE)
    args = ap.parse_args()
    write(args.models, args.data, args.size)


if __name__ == "__main__":
    main()
