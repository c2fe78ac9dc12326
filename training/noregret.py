"""No regret at a single model's cost (issue 23, item 1), first looks.

Rule "incumbent": the selector's margin kept against the model a budget can afford instead of
against the pool's best on average.

Rule "capped": at model m's cost the router may also take a point the λ-sweep cannot make: each
row goes to m unless a model whose estimated cost on that row is no higher is predicted better
by more than its margin. It chooses between that point and the sweep's points by their mean
predicted quality among those whose mean estimated cost is within m's, as a router that knows
only its predictions would; the chosen point is then scored on the true labels and costs.

For each evaluation of space.py and each model m of it, the router at m's own cost is run with
m as the incumbent: every other model gives up κ standard deviations of its predicted
difference from m (research.with_margin with m as "best"), λ is swept, and the best point whose
true mean cost is within m's is its accuracy there. Printed beside the shipped rule (one
incumbent, the best model on average): the gain at each model's cost, worst per evaluation,
with a 95 % paired bootstrap interval over questions.

With `--floors`, a third look: the incumbent either the pool's best on average (as shipped) or
the best on average among the rows of the row's own domain class (space.domain_classes, read
from the table: an upper bound on what the encoder's inferred domain can give), and every other
model giving up a floor t on top of its κ margin, so the router leaves the incumbent only for a
predicted gain above t. Printed per evaluation: AIQ, the gain at λ = 0 over the best single
model (95 % paired bootstrap over questions), and the worst gain at a model's own cost.
`--levelled` first moves each model's predictions to its level in each domain class (see
`levelled`). `--level-sd` instead widens each prediction's sd by how far the model's level strays
by domain class (see `level_sd`), so that the margin covers errors shared by a table's rows.
`--pairs Z` gives each challenger of the best model on average its own floor
(research.pair_floors), subtracted outright and clipped at the incumbent as the selector does;
with `--nested` each fold's floors rest on predictions of fits that never saw that fold.

    python training/noregret.py --work training/work/inner-base --design static+margin \\
        --outer exclude
"""

import argparse
import pathlib

import numpy as np

import research
import space
from data import ROOT, read_rows

BOOTSTRAP = 200


def handicapped(q, sd, kappa, incumbent):
    """Predicted qualities with every model but `incumbent` κ standard deviations down."""
    out = q - kappa * np.sqrt(sd ** 2 + sd[:, [incumbent]] ** 2)
    out[:, incumbent] = q[:, incumbent]
    return out


def gains_at(correct, cost, quality, est, ms):
    """For each model index in `ms`, the router's best accuracy within its true mean cost, less
    its accuracy: one λ-sweep for them all."""
    pts = research.curve(correct, cost, quality, est)
    return [research.gain_within(pts, correct[:, m].mean(), cost[:, m].mean()) for m in ms]


def sweep(quality, est, grid=400):
    """(pick per row, for each of `grid` λ values spanning the sweep), λ from ∞ to 0."""
    d_q = quality[:, :, None] - quality[:, None, :]
    d_c = est[:, :, None] - est[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(d_c > 0, d_q / d_c, np.nan)
    rates = rates[np.isfinite(rates) & (rates > 0)]
    lams = np.unique(np.concatenate([[np.inf, 0.0], np.quantile(rates, np.linspace(0, 1, grid))
                                     if len(rates) else []]))[::-1]
    out = []
    for lam in lams:
        score = quality - (0 if lam == 0 else lam) * est if np.isfinite(lam) else -est
        out.append(np.argmax(score, axis=1))
    return out


def capped_gain(correct, cost, q, s, est, m, kappa, shipped):
    """Gain at m's own cost, and its true cost relative to m's, of a router choosing by
    prediction alone between the shipped λ-sweep's picks (`shipped`, from `sweep`) and the
    capped point of incumbent m (see the module's text)."""
    rows = np.arange(len(q))
    hq = handicapped(q, s, kappa, m)
    allowed = est <= est[:, [m]] * (1 + 1e-12)
    capped = np.argmax(np.where(allowed, hq, -np.inf), axis=1)
    budget = est[:, m].mean()
    options = [capped] + [p for p in shipped if est[rows, p].mean() <= budget * (1 + 1e-9)]
    pick = max(options, key=lambda p: q[rows, p].mean())
    return correct[rows, pick].mean() - correct[:, m].mean(), cost[rows, pick].mean() / cost[:, m].mean()


def floored(q, sd, kappa, incumbents, floor):
    """Predicted qualities with every model but the row's incumbent κ standard deviations of
    the difference and `floor` down."""
    at = np.arange(len(q))
    out = q - kappa * np.sqrt(sd ** 2 + sd[at, incumbents][:, None] ** 2) - floor
    out[at, incumbents] = q[at, incumbents]
    return out


def top_interval(correct, est, quality, draws=BOOTSTRAP):
    """The λ = 0 router's accuracy less the best single model's, with its 95 % paired bootstrap
    interval over questions (each draw's own best); the λ = 0 pick is the best predicted, the
    cheaper on ties."""
    pick = np.array([min(range(quality.shape[1]), key=lambda m: (-quality[r, m], est[r, m]))
                     for r in range(len(quality))])
    right = correct[np.arange(len(pick)), pick]
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(draws):
        d = rng.integers(0, len(pick), len(pick))
        gains.append(right[d].mean() - correct[d].mean(axis=0).max())
    return (right.mean() - correct.mean(axis=0).max(), *np.percentile(gains, [2.5, 97.5]))


def levelled(oof, y, domain, folds, least=30):
    """Out-of-fold predictions moved, per model and domain class, by the logit gap between
    the model's accuracy and its mean prediction on the other folds' rows of that class (where
    it has `least` labels there). Those predictions came from fits that saw the scored fold, so
    the gap carries a little of its labels: a first look, not a validated design."""
    def logit(p):
        p = np.clip(p, 1e-4, 1 - 1e-4)
        return np.log(p / (1 - p))
    out = oof.copy()
    for f in range(space.FOLDS):
        for d in set(domain):
            train, test = (folds != f) & (domain == d), (folds == f) & (domain == d)
            for j in range(y.shape[1]):
                have = train & ~np.isnan(y[:, j])
                if have.sum() >= least:
                    gap = logit(y[have, j].mean()) - logit(oof[have, j].mean())
                    out[test, j] = 1 / (1 + np.exp(-(logit(oof[test, j]) + gap)))
    return out


def level_sd(oof, y, domain, folds, least=30):
    """Per row and model, the root mean square over domain classes of the gap between the
    model's accuracy and its mean prediction there, on the other folds' rows (classes where it
    has `least` labels): how far its level strays by domain, as a standard deviation to add to
    the head's. Those predictions came from fits that saw the scored fold (see `levelled`)."""
    out = np.zeros_like(oof)
    for f in range(space.FOLDS):
        test = folds == f
        for j in range(y.shape[1]):
            gaps, weights = [], []
            for d in set(domain):
                have = (folds != f) & (domain == d) & ~np.isnan(y[:, j])
                if have.sum() >= least:
                    gaps.append(y[have, j].mean() - oof[have, j].mean())
                    weights.append(have.sum())
            if gaps:
                out[test, j] = np.sqrt(np.average(np.square(gaps), weights=weights))
    return out


def nested(rows, prompts, y, folds, cache):
    """For each outer fold f, out-of-fold predictions and sds of the shipped design on the
    other folds' rows, from fits that never saw fold f (an inner cross-validation over the
    remaining four folds): what a floor fitted for fold f may rest on without its labels.
    Cached as `cache`/nested-f.npz."""
    out = {}
    fit = {"k": space.SPACE_DIM, "weight_decay": 1e-4, "domains": space.domain_classes(rows)[1]}
    tokens, table = None, None
    for f in range(space.FOLDS):
        path = cache / f"nested-{f}.npz"
        if path.exists():
            saved = np.load(path)
            out[f] = (saved["oof"], saved["sd"])
            continue
        if tokens is None:
            tokens = space.tokenize(prompts)
            table = {"static": space.pca_table(space.minilm_word_embeddings(), space.PCA_DIM)}
        oof, sd = np.full(y.shape, np.nan), np.zeros(y.shape)
        inputs, kw = space.encoder_of(space.SHIPPED.removesuffix("+margin"), None, tokens, table,
                                      fit)
        for g in range(space.FOLDS):
            if g == f:
                continue
            train = np.flatnonzero((folds != f) & (folds != g))
            test = np.flatnonzero(folds == g)
            model = space.fit_space(inputs, y, train, log=f"nested {f}/{g}: ", **kw)
            oof[test], sd[test] = space.held_out(model, inputs, y, train, test,
                                                 kw.get("table"))
        np.savez(path, oof=oof, sd=sd)
        out[f] = (oof, sd)
    return out


def by_domain(rows, domain, y, train, at):
    """Each model's accuracy on the rows of `train` in the domain class of each row of `at`."""
    out = np.zeros((len(at), y.shape[1]))
    for d in set(domain[at]):
        same = train[domain[train] == d]
        out[domain[at] == d] = np.nanmean(y[same], axis=0) if len(same) else 0.0
    return out


def floors(rows, prompts, oof, sd, index, pool, kappa, values, level=False, widen=False,
           pairs=None, cache=None):
    """The --floors table (see the module's text)."""
    _, domain = space.domain_classes(rows)
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    y, _ = space.label_matrix(rows, sorted(index, key=index.get))
    if level:
        oof = levelled(oof, y, domain, folds)
    inner = nested(rows, prompts, y, folds, cache) if cache else None
    if widen:
        sd = np.sqrt(sd ** 2 + level_sd(oof, y, domain, folds) ** 2)
    print("\n| evaluation | incumbent | " + " | ".join(f"floor {t:g}: AIQ / λ=0 gain / worst"
                                                     for t in values) + " |")
    print("|---|---|" + "---|" * len(values))
    for name, table, ms in space.evaluations(rows):
        idx = np.array([i for i, r in enumerate(rows) if r["table"] == table
                        and all(m in r["labels"] for m in ms)])
        cols = [index[m] for m in ms]
        correct, cost, est = research.matrices(rows, idx, ms, pool,
                                               space.OUTPUT_TOKENS.get(table, 1))
        q, s = oof[np.ix_(idx, cols)], sd[np.ix_(idx, cols)]
        mean_in = {d: oof[np.ix_(np.flatnonzero(domain == d), cols)].mean(axis=0)
                   for d in set(domain[idx])}
        # The training folds' accuracy in the row's domain class: the lookup on the classes.
        labelled = np.full((len(idx), len(cols)), np.nan)
        for f in range(space.FOLDS):
            at = folds[idx] == f
            train = np.flatnonzero(folds != f)
            labelled[at] = by_domain(rows, domain, y[:, cols], train, idx[at])
        if pairs is not None:
            best = int(np.argmax(oof[:, cols].mean(axis=0)))
            fq, clipped = np.empty_like(q), np.empty_like(q)
            for f in range(space.FOLDS):
                at = folds[idx] == f
                base, spread = inner[f] if inner else (oof, sd)
                t = research.pair_floors(base[:, cols], spread[:, cols], y[:, cols], best,
                                         folds != f, kappa, pairs)
                t = np.nan_to_num(t, nan=0.0)
                hq = floored(q[at], s[at], kappa, np.full(at.sum(), best), 0.0)
                fq[at] = hq - t[None, :]
                # Clipped: the floor discounts only a predicted gain over the incumbent, and
                # never below it, so a model predicted below the incumbent keeps its value.
                gain = hq - hq[:, [best]]
                clipped[at] = np.where(gain > 0, hq[:, [best]] + np.maximum(gain - t, -1e-9), hq)
            for rule, chosen in (("floors per pair", fq), ("floors per pair, clipped", clipped)):
                rep = research.report(ms, correct, cost, chosen, est)
                top, lo, hi = top_interval(correct, est, chosen)
                print(f"| {name} | best on average, {rule} (z = {pairs:g}) | {rep['aiq']:.4f} / "
                      f"{100 * top:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] / "
                      f"{100 * min(rep['gac'].values()):+.2f} |", flush=True)
            continue
        for rule, incumbents in (
                ("best on average", np.full(len(idx), np.argmax(oof[:, cols].mean(axis=0)))),
                ("best in its domain", np.array([np.argmax(mean_in[d]) for d in domain[idx]])),
                ("best in its domain, by labels", np.argmax(labelled, axis=1))):
            cells = []
            for t in values:
                fq = floored(q, s, kappa, incumbents, t)
                rep = research.report(ms, correct, cost, fq, est)
                top, lo, hi = top_interval(correct, est, fq)
                cells.append(f"{rep['aiq']:.4f} / {100 * top:+.2f} [{100 * lo:+.2f}, "
                             f"{100 * hi:+.2f}] / {100 * min(rep['gac'].values()):+.2f}")
            print(f"| {name} | {rule} | " + " | ".join(cells) + " |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=pathlib.Path, required=True)
    ap.add_argument("--design", default=space.SHIPPED)
    ap.add_argument("--kappa", type=float, default=1.0)
    ap.add_argument("--outer", choices=["include", "exclude"], default="include")
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--floors", help="comma-separated floors t: print the floor table only")
    ap.add_argument("--levelled", action="store_true",
                    help="with --floors: each model's predictions set to its level per domain "
                         "class first (see levelled)")
    ap.add_argument("--level-sd", action="store_true",
                    help="with --floors: each sd widened by the model's level spread by domain "
                         "class first (see level_sd)")
    ap.add_argument("--pairs", type=float, metavar="Z",
                    help="with --floors: one floor per challenger of the best model on average, "
                         "fitted on the other folds, Z standard errors of caution (see "
                         "research.pair_floors)")
    ap.add_argument("--nested", action="store_true",
                    help="with --pairs: fit each fold's floors on predictions of fits that never "
                         "saw it (an inner cross-validation, cached in --work; see nested)")
    args = ap.parse_args()
    rows, prompts = read_rows(args.data)
    if args.outer == "exclude":
        rows, prompts = space.without_outer(rows, prompts)
    models = sorted({m for r in rows for m in r["labels"]})
    index = {m: j for j, m in enumerate(models)}
    oof = np.load(args.work / f"oof-{args.design}.npy")
    sd = np.load(args.work / f"sd-{args.design}.npy")
    pool = space.prices()
    if args.floors:
        return floors(rows, prompts, oof, sd, index, pool, args.kappa,
                      [float(t) for t in args.floors.split(",")], args.levelled, args.level_sd,
                      args.pairs, args.work if args.nested else None)
    rng = np.random.default_rng(0)
    print("| evaluation | rule | worst gain at a model's own cost (points) | model |")
    print("|---|---|---|---|")
    for name, table, ms in space.evaluations(rows):
        if len(ms) < 3:
            continue
        idx = [i for i, r in enumerate(rows) if r["table"] == table
               and all(m in r["labels"] for m in ms)]
        cols = [index[m] for m in ms]
        correct, cost, est = research.matrices(rows, idx, ms, pool,
                                               space.OUTPUT_TOKENS.get(table, 1))
        q, s = oof[np.ix_(idx, cols)], sd[np.ix_(idx, cols)]
        best = int(np.argmax(oof[:, cols].mean(axis=0)))
        draws = [rng.integers(0, len(idx), len(idx)) for _ in range(BOOTSTRAP)]
        shipped_q = handicapped(q, s, args.kappa, best)
        for rule, own in (("shipped (best on average)", False),
                          ("incumbent = the model at its cost", True)):
            if own:
                gains = {m: gains_at(correct, cost, handicapped(q, s, args.kappa, j), est, [j])[0]
                         for j, m in enumerate(ms)}
            else:
                gains = dict(zip(ms, gains_at(correct, cost, shipped_q, est, range(len(ms)))))
            worst = min(gains, key=gains.get)
            j = ms.index(worst)
            qj = handicapped(q, s, args.kappa, j) if own else shipped_q
            boot = [gains_at(correct[d], cost[d], qj[d], est[d], [j])[0] for d in draws]
            lo, hi = np.percentile(boot, [2.5, 97.5])
            print(f"| {name} | {rule} | {100 * gains[worst]:+.2f} [{100 * lo:+.2f}, "
                  f"{100 * hi:+.2f}] | {worst} |", flush=True)
        shipped = sweep(shipped_q, est)
        capped = {m: capped_gain(correct, cost, q, s, est, j, args.kappa, shipped)
                  for j, m in enumerate(ms)}
        worst = min(capped, key=lambda m: capped[m][0])
        over = max(c for _, c in capped.values())
        j = ms.index(worst)
        boot = [capped_gain(correct[d], cost[d], q[d], s[d], est[d], j, args.kappa,
                            sweep(shipped_q[d], est[d]))[0]
                for d in draws[:50]]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        print(f"| {name} | capped (true cost at most {over:.3f}× the model's) | "
              f"{100 * capped[worst][0]:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] | {worst} |",
              flush=True)


if __name__ == "__main__":
    main()
