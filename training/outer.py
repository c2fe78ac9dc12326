"""Issue 23, item 3: the shipped design judged on the outer split, beside the same pipeline on
the inner folds.

The outer split (space.is_outer: a tenth of the questions, fixed before any design looked at it)
is left out of everything else. This script trains the shipped design with `train.py --fit-on
inner` (its floors fitted on the inner rows alone) and scores it with `routoo eval --bootstrap`
(the Rust router, the shipped pool's prices and cost estimate) on every evaluation of
space.evaluations. Beside it, the same pipeline on the inner rows: five bundles, each trained
without one inner fold and scored on it, so the inner and outer figures are measured alike.

    python training/outer.py --inner   # five bundles and their scores (training/work/outer-check)
    python training/outer.py --outer   # the outer split: run once for a design frozen in a commit
    python training/outer.py           # the table: inner folds (mean ± sd) against outer [bounds]
    python training/outer.py --billing # the inner folds' bundles with and without `billing`
    python training/outer.py --lead    # ... with billing, and with the selection's lead too
    python training/outer.py --outer-lead  # a second look at the outer split, for that design
    python training/outer.py --outer-inferred  # a later look, for the balanced classifier
    python training/outer.py --cost-margin     # as --inferred, with the selection's cost margin
    python training/outer.py --outer-cost-margin  # a later look at that
    python training/outer.py --preamble        # billing by preambles; then --endings (and
                                               # prompt endings), --endings-e01, --endings-e0
                                               # (no cost margin: what ships), one per run
    python training/outer.py --outer-endings-e0   # a later look at that
    python training/outer.py --split       # as --endings-e0, input and output at two ratios
    python training/outer.py --levels      # ... a head's level per class (also --levels-fe,
                                           # --levels-pro, --levels-inferred, --levels-cued,
                                           # --levels-cued-pro, shipped until --accuracy-only)
    python training/outer.py --accuracy-only   # a head's accuracy per subject class: what ships
    python training/outer.py --outer-accuracy-only   # a later look at that
    python training/outer.py --geometric   # as --lead, cost ratios shrunk in logs (not shipped)

Each outer figure carries one-sided 95 % bounds from a paired bootstrap over its questions; a
model's gain at its own cost whose upper bound is below zero is a loss by issue 23's rule.
"""

import argparse
import json
import shutil
import subprocess
import sys

import numpy as np

import space
import split
from data import ROOT, read_rows
from report import G4, MX
from summary import at_cost

WORK = ROOT / "training" / "work" / "outer-check"
ROUTOO = ROOT / "target" / "release" / "routoo"
DRAWS = 1000
# Prices as billed on this day; the historical models the tables label have one price each.
DATE = "2026-12-05"
FOLDS = range(space.FOLDS)


def slug(name):
    return name.replace(", ", "-").replace(" ", "-")


def evaluate(bundle, data, out, evaluations, extra=()):
    out.mkdir(parents=True, exist_ok=True)
    for name, table, models in evaluations:
        cmd = [str(ROUTOO), "eval", "--bundle", str(bundle), "--data", str(data / f"{table}.csv"),
               "--models", ",".join(models), "--json", "--bootstrap", str(DRAWS), "--seed", "0",
               "--date", DATE, *extra]
        result = subprocess.run(cmd, check=True, capture_output=True, text=True)
        (out / f"{slug(name)}.json").write_text(result.stdout)
        print(f"  {name}: {json.loads(result.stdout)['rows']} rows", flush=True)


def train_inner(out, *train_args):
    """train.py on the inner rows into `out`."""
    subprocess.run([sys.executable, str(ROOT / "training" / "train.py"), "--fit-on", "inner",
                    "--out", str(out), *train_args], check=True)


def held_fold(f):
    """The rows inner fold f holds out, by question key."""
    return lambda key: not space.is_outer(key) and space.fold_of(key) == f


def as_frozen(bundle):
    """The frozen design c89e298 drew no head toward the prior and had no cost margin:
    train.py's transfer and cost margin are taken out (the variants that study them put them
    back)."""
    path = bundle / "predictor.json"
    manifest = json.loads(path.read_text())
    manifest.pop("transfer", None)
    manifest.pop("levels", None)
    manifest.pop("accuracy", None)
    manifest["selection"].pop("costMargin", None)
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def run(label, keep, train_args, evaluations):
    where = WORK / label
    split.write(where / "data", keep)
    # The frozen design c89e298: every row alike in the domain classifier's loss.
    train_inner(where / "bundle", "--domain-balance", "0", *train_args)
    as_frozen(where / "bundle")
    # It kept the top incumbent at every budget.
    evaluate(where / "bundle", where / "data", where / "eval", evaluations, TOP)


def bound(rep, kind, model=None):
    iv = rep.get("intervals")
    if not iv:
        return None
    iv = iv[kind] if model is None else iv[kind].get(model)
    return None if iv is None else (iv["low"], iv["high"])


def figures(evals):
    """name → (value, bounds or None): the headline figures of one set of `routoo eval` outputs.
    A value of None: never reached (cost to match) or no point at the model's cost (gain)."""
    out = {}
    m9 = evals.get("mmlu-9-models")
    if m9:
        g = m9["models"][G4]
        out["MMLU-9 AIQ"] = (m9["aiq"], bound(m9, "aiq"))
        out["MMLU-9 cost to match GPT-4"] = (m9["cost_to_match"][G4],
                                             bound(m9, "cost_to_match", G4))
        half = at_cost(m9, 0.5 * g["mean_cost"])
        out["MMLU-9 vs GPT-4 at 0.5× cost"] = (None if np.isnan(half) else half - g["accuracy"],
                                               None)
    op = evals.get("mmlu-open-pool")
    if op:
        out["open gain at Mixtral's cost"] = (op["gain_at_cost"][MX], bound(op, "gain_at_cost", MX))
    for key, label in (("mmlu-mixtral-vs-gpt-4", "MMLU"), ("gsm8k-mixtral-vs-gpt-4", "GSM8K")):
        two = evals.get(key)
        if two:
            out[f"{label} APGR (RouteLLM)"] = (two["apgr"], bound(two, "apgr"))
            out[f"{label} APGR by cost"] = (two["apgr_by_cost"], bound(two, "apgr_by_cost"))
    for key, label in (("routerbench-11-models", "RouterBench"), ("zeroeval-all-models", "ZeroEval"),
                       ("mmlu-pro-all-models", "MMLU-Pro"),
                       ("formationeval-all-models", "FormationEval")):
        r = evals.get(key)
        if not r:
            continue
        best = max(r["models"], key=lambda m: r["models"][m]["accuracy"])
        out[f"{label} AIQ"] = (r["aiq"], bound(r, "aiq"))
        # Over the models the router has a point at; the others are listed apart (losses).
        gains = {m: g for m, g in r["gain_at_cost"].items() if g is not None}
        worst = min(gains, key=gains.get) if gains else None
        out[f"{label} worst gain at a model's cost"] = (
            gains.get(worst), bound(r, "gain_at_cost", worst) if worst else None)
        out[f"{label} cost to match the best"] = (r["cost_to_match"][best],
                                                  bound(r, "cost_to_match", best))
        top = min(r["curve"], key=lambda p: p["lambda"])
        out[f"{label} gain at λ=0"] = (top["accuracy"] - r["models"][best]["accuracy"], None)
    return out


def losses(evals):
    """Per evaluation: the models whose gain at their own cost is surely below zero (upper
    bound < 0), and those the router has no point at (its cheapest routing costs more)."""
    out = {}
    for key, rep in evals.items():
        iv = rep.get("intervals", {}).get("gain_at_cost", {})
        sure = sorted(m for m, b in iv.items() if b and b["high"] is not None and b["high"] < 0)
        none = sorted(m for m, g in rep["gain_at_cost"].items() if g is None)
        out[key] = (rep["rows"], len(rep["models"]), sure, none)
    return out


def load(folder):
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def gain_like(name):
    return "gain" in name or "vs GPT-4" in name


def number(v, name):
    if v is None:
        return "never" if "cost to match" in name else "none"
    return f"{100 * v:+.2f} pt" if gain_like(name) else f"{v:.3f}"


# Each variant of a bundle as train.py now writes it: {name: (with_billing's options, the scores
# it is compared with, routoo eval's own options)}; scored into eval-<name>.
# The first three keep the top incumbent at every budget, as they were scored.
TOP = ("--incumbent", "top")
TRADEOFF = ("--incumbent", "tradeoff")
# The variants judged on the outer split too (--outer-<name>), each after the inner folds chose it.
LOOKS = ("lead", "tradeoff", "transfer", "balance", "inferred", "cost_margin", "endings_e0",
         "split", "levels_cued_pro", "accuracy_only")
# with_billing's options of --inferred, which the later variants build on; and of those with a
# billing by preambles and prompt endings.
INFERRED = {"lead": True, "transfer": True, "train": ("--domain-balance", "1"),
            "base": "base-balance", "inferred": True}
ENDINGS = {**INFERRED, "preamble": True, "endings": True}
VARIANTS = {
    "billing": ({}, "eval", TOP),
    "lead": ({"lead": True}, "eval-billing", TOP),
    "geometric": ({"lead": True, "geometric": True}, "eval-lead", TOP),
    "tradeoff": ({"lead": True}, "eval-lead", TRADEOFF),
    "unshrunk": ({"lead": True, "prior_rows": 0}, "eval-tradeoff", TRADEOFF),
    "transfer": ({"lead": True, "transfer": True}, "eval-tradeoff", TRADEOFF),
    "balance": ({"lead": True, "transfer": True, "train": ("--domain-balance", "1")},
                "eval-transfer", TRADEOFF),
    # The same encoders, a head's classes counted by the class the encoder infers for its rows.
    "inferred": (INFERRED, "eval-balance", TRADEOFF),
    # The same bundles, a challenger cheaper than the incumbent only by more than 5 % of its
    # estimate (shipped until the billing read prompt endings).
    "cost_margin": ({**INFERRED, "cost_margin": 0.05}, "eval-inferred", TRADEOFF),
    # The same bundles, each class's billing read as a preamble and an answer length where one
    # line explains it (space.billing_convention).
    "preamble": ({**INFERRED, "cost_margin": 0.05, "preamble": True}, "eval-cost_margin",
                 TRADEOFF),
    # ... and the billing classes weighed by the prompt's last word (space.billing_endings).
    "endings": ({**ENDINGS, "cost_margin": 0.05}, "eval-preamble", TRADEOFF),
    # ... with a cost margin of 1 %, and of none: what ships (train.COST_MARGIN).
    "endings_e01": ({**ENDINGS, "cost_margin": 0.01}, "eval-endings", TRADEOFF),
    "endings_e0": ({**ENDINGS, "cost_margin": 0.0}, "eval-cost_margin", TRADEOFF),
    # ... each class's cost ratio drawn toward the model's in classes of like answer lengths.
    "alike": ({**ENDINGS, "cost_margin": 0.0, "by_convention": True}, "eval-endings_e0",
              TRADEOFF),
    # ... input and output billed at two ratios where one line explains a model's bills.
    "split": ({**ENDINGS, "cost_margin": 0.0, "split": True}, "eval-endings_e0", TRADEOFF),
    # ... each head's level per domain class set to its training accuracy there: every class,
    # FormationEval's, MMLU-Pro's, and every class by where the encoder puts a row.
    "levels": ({**ENDINGS, "cost_margin": 0.0, "levels": "table"}, "eval-endings_e0",
               TRADEOFF),
    "levels_fe": ({**ENDINGS, "cost_margin": 0.0, "levels": "table",
                   "levels_of": "formationeval"}, "eval-endings_e0", TRADEOFF),
    "levels_pro": ({**ENDINGS, "cost_margin": 0.0, "levels": "table", "levels_of": "mmlu-pro/"},
                   "eval-endings_e0", TRADEOFF),
    "levels_inferred": ({**ENDINGS, "cost_margin": 0.0, "levels": "inferred"},
                        "eval-endings_e0", TRADEOFF),
    # ... the levels apart from the heads (the manifest's `levels`), the domains weighed by the
    # prompt's ending as the billing weighs them, so a table's ending keeps its own levels:
    # every class, and MMLU-Pro's.
    "levels_cued": ({**ENDINGS, "cost_margin": 0.0, "levels": "cued"}, "eval-endings_e0",
                    TRADEOFF),
    "levels_cued_pro": ({**ENDINGS, "cost_margin": 0.0, "levels": "cued",
                         "levels_of": "mmlu-pro/"}, "eval-endings_e0", TRADEOFF),
    # ... each head's accuracy in a benchmark's subject classes in the place of its estimate,
    # by the same weights as the levels: with the levels, and instead of them.
    "accuracy": ({**ENDINGS, "cost_margin": 0.0, "levels": "cued", "levels_of": "mmlu-pro/",
                  "accuracy": True}, "eval-levels_cued_pro", TRADEOFF),
    "accuracy_only": ({**ENDINGS, "cost_margin": 0.0, "accuracy": True}, "eval-levels_cued_pro",
                      TRADEOFF),
    # ... and in FormationEval's class, or MMLU's (for every head, or for those MMLU alone
    # labels).
    "accuracy_fe": ({**ENDINGS, "cost_margin": 0.0, "accuracy": ("formationeval",)},
                    "eval-accuracy_only", TRADEOFF),
    "accuracy_mmlu": ({**ENDINGS, "cost_margin": 0.0, "accuracy": ("mmlu",)},
                      "eval-accuracy_only", TRADEOFF),
    "accuracy_mmlu_one": ({**ENDINGS, "cost_margin": 0.0, "accuracy": ("mmlu",),
                           "one_table": True}, "eval-accuracy_only", TRADEOFF),
}


def with_billing(where, rows, pick, name="billing", lead=False, geometric=False,
                 prior_rows=space.COST_PRIOR_ROWS, transfer=False, base="bundle", prompts=None,
                 cost_margin=None, preamble=False, endings=False, by_convention=False,
                 split=False, levels=None, levels_of=None, accuracy=False, one_table=False):
    """The bundle in `where` as train.py now writes it, in `bundle-<name>`: the same files, and
    the manifest's `billing` from the training rows `pick` (issue 23, item 4's cost side), so
    the two differ in nothing else; with `lead`, also the selection's lead by the labels of
    those rows (issue 23, item 1); with `geometric`, cost ratios shrunk in logs; `prior_rows`,
    how many rows' worth of a model's overall ratio each class's ratio is shrunk by; with
    `transfer`, each head's labels name the domains they cover and the manifest says how a head
    is drawn toward the prior outside them (issue 22): counted by the rows' classes, or, given
    the rows' `prompts`, by the class the bundle's encoder infers for each (train.labelled);
    `cost_margin`, the selection's cost margin (without: none stated, as every variant before
    it ran); with `preamble`, billing conventions with a preamble; with
    `endings` (and the rows' `prompts`), the prompt endings that weigh the billing classes (the
    reference prompts' endings are left unsaid: `routoo eval` routes the rows themselves); with
    `by_convention`, a class's cost ratio drawn toward the model's in classes of like answer
    lengths (space.class_billing); with `split`, input and output at two ratios where one line
    explains a model's bills in a class (space.split_ratios); with `levels` ("table" or
    "inferred", and the rows' `prompts`), each head's level per domain class set to its accuracy
    on the training rows there (shift_levels; `levels_of`, a class name or a prefix ending in
    "/", only those classes); with `accuracy`, each head's accuracy on the training rows of each
    subject class in the place of its estimate (train.class_accuracy), and, as a tuple, in the
    classes it names too (`one_table`: those only for the heads one table labels)."""
    import train
    src, dst = where / base, where / f"bundle-{name}"
    dst.mkdir(exist_ok=True)
    for path in src.iterdir():
        shutil.copyfile(path, dst / path.name)
    manifest = json.loads((src / "predictor.json").read_text())
    order = [h["id"] for h in manifest["heads"]]
    y, true_cost = space.label_matrix(rows, order)
    domains, domain_of = space.domain_classes(rows)
    if domains != manifest["encoder"]["domains"]:
        raise SystemExit(f"{where.name}: the bundle's domains are not the rows' classes")
    manifest["billing"] = train.billing(rows, order, true_cost, pick, domain_of, len(domains),
                                        geometric, prior_rows,
                                        prompts=prompts if endings else None, preamble=preamble,
                                        by_convention=by_convention, split=split)
    manifest["reference"].pop("ending", None)
    # What train.py now adds, each variant states for itself.
    manifest.pop("levels", None)
    manifest.pop("accuracy", None)
    if lead:
        manifest["selection"]["lead"] = train.selection_lead(y, pick, order)
    manifest["selection"].pop("costMargin", None)
    if cost_margin is not None:
        manifest["selection"]["costMargin"] = cost_margin
    if levels:
        z = train.encode_all((src / "encoder.onnx").read_bytes(),
                             space.tokenize([prompts[i] for i in pick]))
        cued = levels == "cued"
        train.shift_levels(manifest, rows, pick, z,
                           None if levels == "inferred" else domain_of[pick], domains, levels_of,
                           weights=train.cued_mass(manifest, prompts, pick,
                                                   z[:, -len(domains):].astype(np.float64))
                           if cued else None)
    if accuracy:
        train.class_accuracy(manifest, rows, pick, domain_of[pick], domains)
    for only in (accuracy if isinstance(accuracy, tuple) else ()):
        train.class_accuracy(manifest, rows, pick, domain_of[pick], domains, only,
                             one_table=one_table)
    if transfer:
        row_class = domain_of
        if prompts is not None:
            z = train.encode_all((src / "encoder.onnx").read_bytes(), space.tokenize(prompts))
            row_class = train.inferred_classes(z, len(domains))
        for head in manifest["heads"]:
            head["labels"] = train.labelled(rows, pick, head["id"], domains, row_class)
        manifest["transfer"] = train.transfer_spec()
    (dst / "predictor.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return dst


def variant_bundle(name, where, rows, prompts, pick, hold=()):
    """Variant `name`'s bundle in `where` (with_billing on the training rows `pick`). A variant
    of the encoder itself trains its base there first, once (`hold`: train.py's fold options)."""
    options = dict(VARIANTS[name][0])
    train_args = options.pop("train", None)
    if options.pop("inferred", False):
        options["prompts"] = prompts
    if train_args:
        options.setdefault("base", f"base-{name}")
        if not (where / options["base"] / "predictor.json").exists():
            train_inner(where / options["base"], *hold, *train_args)
    return with_billing(where, rows, pick, name, **options)


def cell(values, name):
    """Mean ± sd over folds of one figure, with how many folds had none."""
    got = [v for v in values if v is not None]
    if not got:
        return "–"
    scale = 100 if gain_like(name) else 1
    text = (f"{scale * np.mean(got):+.2f} ± {scale * np.std(got):.2f}" if gain_like(name)
            else f"{np.mean(got):.3f} ± {np.std(got):.3f}")
    return text + (f" ({len(values) - len(got)}× {number(None, name)})"
                   if len(got) < len(values) else "")


def compare(before, after):
    """Markdown: each figure's mean ± sd over the inner folds, scored from `before` and `after`."""
    runs = [[figures(load(WORK / f"inner-{f}" / d)) for f in FOLDS
             if (WORK / f"inner-{f}" / d).exists()] for d in (before, after)]
    print(f"| figure | {before} ({len(runs[0])} folds) | {after} ({len(runs[1])} folds) |")
    print("|---|---|---|")
    for name in next((run[0] for run in runs if run), {}):
        print(f"| {name} | " + " | ".join(cell([f[name][0] for f in run if name in f], name)
                                          for run in runs) + " |")


def table(evals="eval"):
    inner = [figures(load(WORK / f"inner-{f}" / evals)) for f in FOLDS
             if (WORK / f"inner-{f}" / evals).exists()]
    outer_dir = WORK / "outer" / evals
    outer = figures(load(outer_dir)) if outer_dir.exists() else {}
    names = list(inner[0] if inner else outer)
    print(f"| figure | inner folds: mean ± sd ({len(inner)} folds) | outer | outer, 95 % bounds |")
    print("|---|---|---|---|")
    for name in names:
        spread = cell([f[name][0] for f in inner if name in f], name)
        value, bounds = outer.get(name, (None, None))
        shown = number(value, name) if name in outer else "–"
        b = "–" if bounds is None else f"[{number(bounds[0], name)}, {number(bounds[1], name)}]"
        # A bound out of reach is null: never matched, or no point at the model's cost.
        print(f"| {name} | {spread} | {shown} | {b} |")
    if outer:
        print("\n| outer evaluation | rows | models | surely below a model at its cost | "
              "no point at a model's cost |")
        print("|---|---|---|---|---|")
        for key, (rows, n, sure, none) in losses(load(outer_dir)).items():
            print(f"| {key} | {rows} | {n} | {', '.join(sure) or '–'} | {', '.join(none) or '–'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inner", action="store_true", help="train and score the five inner folds")
    ap.add_argument("--outer", action="store_true", help="train and score the outer split")
    ap.add_argument("--billing", action="store_true",
                    help="score each inner fold's bundle again with the billing train.py writes "
                         "(with_billing), and compare")
    ap.add_argument("--lead", action="store_true",
                    help="score each inner fold's bundle with billing and the selection's lead "
                         "by the labels (with_billing), and compare with --billing's")
    ap.add_argument("--outer-lead", action="store_true",
                    help="a second look at the outer split: its bundle with billing and the lead "
                         "from every inner row, beside --lead's inner folds")
    ap.add_argument("--geometric", action="store_true",
                    help="as --lead, with each class's cost ratio shrunk in logs; compare")
    ap.add_argument("--tradeoff", action="store_true",
                    help="as --lead, the margin keeping at each trade-off the model ahead in "
                         "quality less lambda times cost (routoo eval --incumbent tradeoff); "
                         "compare")
    ap.add_argument("--unshrunk", action="store_true",
                    help="as --tradeoff, each class's cost ratio not shrunk towards the model's "
                         "overall ratio (classes of too few rows still take it); compare")
    ap.add_argument("--transfer", action="store_true",
                    help="as --tradeoff, each head drawn toward the prior outside the domains "
                         "its labels cover (train.py's transfer); compare")
    ap.add_argument("--balance", action="store_true",
                    help="as --transfer, each fold's encoder trained anew with its domain "
                         "classifier's classes weighed by the inverse of their row counts "
                         "(train.py --domain-balance 1); compare")
    ap.add_argument("--inferred", action="store_true",
                    help="as --balance (its encoders), a head's classes counted by the class the "
                         "encoder infers for its rows (train.labelled); compare with --balance")
    ap.add_argument("--cost-margin", action="store_true",
                    help="as --inferred, a challenger counted cheaper than the incumbent only by "
                         "more than 5 %% of its estimate (shipped until --endings-e0); compare")
    ap.add_argument("--preamble", action="store_true",
                    help="as --cost-margin, a class's billing read as a preamble and an answer "
                         "length where one line explains it (space.billing_convention); compare")
    ap.add_argument("--endings", action="store_true",
                    help="as --preamble, the billing classes weighed by how often each ends a "
                         "prompt with its last word (space.billing_endings); compare")
    ap.add_argument("--endings-e01", action="store_true",
                    help="as --endings, with a cost margin of 1 %%; compare")
    ap.add_argument("--endings-e0", action="store_true",
                    help="as --endings, with no cost margin (what ships); compare with "
                         "--cost-margin")
    ap.add_argument("--alike", action="store_true",
                    help="as --endings-e0, a class's cost ratio drawn toward the model's in the "
                         "classes whose answer lengths are within a factor of two (not over all "
                         "its rows); compare")
    ap.add_argument("--split", action="store_true",
                    help="as --endings-e0, a model's input and output billed at two ratios where "
                         "one line explains its bills in a class; compare")
    for name, what in (("levels", "every domain class"), ("levels-fe", "FormationEval's class"),
                       ("levels-pro", "MMLU-Pro's classes"),
                       ("levels-inferred", "every class, a row's the one the encoder infers"),
                       ("levels-cued", ("every class, apart from the heads and weighed by "
                                        "the prompt's ending")),
                       ("levels-cued-pro", "MMLU-Pro's classes, as --levels-cued")):
        ap.add_argument(f"--{name}", action="store_true",
                        help=f"as --endings-e0, each head's level in {what} set to its training "
                             "accuracy there (not shipped); compare")
    for name, what in (("accuracy", "with the levels of --levels-cued-pro"),
                       ("accuracy-only", "without levels (what ships)"),
                       ("accuracy-fe", "and in FormationEval's class"),
                       ("accuracy-mmlu", "and in MMLU's class"),
                       ("accuracy-mmlu-one", "and in MMLU's class, for MMLU's heads alone")):
        ap.add_argument(f"--{name}", action="store_true",
                        help=f"as --endings-e0, each head's accuracy in a benchmark's subject "
                             f"classes in the place of its estimate there, {what}; compare with "
                             "--levels-cued-pro")
    ap.add_argument("--folds", type=lambda v: [int(f) for f in v.split(",")],
                    default=list(FOLDS), help="the inner folds a variant scores, e.g. 0,1")
    ap.add_argument("--outer-tradeoff", action="store_true",
                    help="a third look at the outer split: --outer-lead's bundle scored with the "
                         "incumbent at each trade-off, beside --tradeoff's inner folds")
    ap.add_argument("--outer-transfer", action="store_true",
                    help="a fourth look: --outer-tradeoff's with the transfer, as it shipped "
                         "before --balance")
    ap.add_argument("--outer-balance", action="store_true",
                    help="a fifth look: the outer bundle trained anew as --balance trains it, "
                         "with billing, the lead and the transfer")
    ap.add_argument("--outer-inferred", action="store_true",
                    help="a sixth look: --outer-balance's encoder, with --inferred's transfer")
    ap.add_argument("--outer-cost-margin", action="store_true",
                    help="a seventh look: --outer-inferred's bundle with the cost margin")
    ap.add_argument("--outer-endings-e0", action="store_true",
                    help="an eighth look: --outer-inferred's bundle with preambles and prompt "
                         "endings in the billing, and no cost margin")
    ap.add_argument("--outer-split", action="store_true",
                    help="a ninth look: --outer-endings-e0's with input and output billed at two "
                         "ratios")
    ap.add_argument("--outer-levels-cued-pro", action="store_true",
                    help="a tenth look: --outer-endings-e0's with levels per MMLU-Pro class, "
                         "weighed by the prompt's ending (shipped until --accuracy-only)")
    ap.add_argument("--outer-accuracy-only", action="store_true",
                    help="an eleventh look: --outer-endings-e0's with each head's accuracy in "
                         "MMLU-Pro's classes in the place of its estimate (what ships)")
    args = ap.parse_args()
    variant = any(getattr(args, name) for name in VARIANTS)
    looks = {name: getattr(args, f"outer_{name}") for name in LOOKS}
    if args.inner or args.outer or variant or any(looks.values()):
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "routoo"], cwd=ROOT,
                       check=True)
        rows, _ = read_rows(split.DATA)
        evaluations = space.evaluations(rows)
    if args.inner:
        for f in FOLDS:
            run(f"inner-{f}", held_fold(f), ["--hold-fold", str(f)], evaluations)
    if args.outer:
        run("outer", space.is_outer, [], evaluations)
    if variant or any(looks.values()):
        inner_rows, inner_prompts = space.without_outer(*read_rows(split.DATA))
        folds = np.array([space.fold_of(space.question_key(r, p))
                          for r, p in zip(inner_rows, inner_prompts)])
    for name, (_, before, extra) in VARIANTS.items():
        if getattr(args, name):
            for f in args.folds:
                where = WORK / f"inner-{f}"
                if not (where / "data").exists():
                    split.write(where / "data", held_fold(f))
                bundle = variant_bundle(name, where, inner_rows, inner_prompts,
                                        np.flatnonzero(folds != f), ("--hold-fold", str(f)))
                evaluate(bundle, where / "data", where / f"eval-{name}", evaluations, extra)
            compare(before, f"eval-{name}")
            return
    # Later looks at the outer split, each after the design it judges was chosen on the inner
    # folds: not blind, as REPORT.md says.
    for name, asked in looks.items():
        if asked:
            if not (WORK / "outer" / "bundle").exists():
                raise SystemExit("no outer bundle: run --outer first")
            extra = VARIANTS[name][2]
            bundle = variant_bundle(name, WORK / "outer", inner_rows, inner_prompts,
                                    np.arange(len(inner_rows)))
            evaluate(bundle, WORK / "outer" / "data", WORK / "outer" / f"eval-{name}",
                     evaluations, extra)
            table(f"eval-{name}")
            return
    table("eval")


if __name__ == "__main__":
    main()
