"""Leave one model out: is a model placed from a card of published scores routed better than the
prior alone, and how close to one trained on its labels?

For each model M: fit the shared space on folds 1-4 with every label of M removed; place M's head
(as `routoo calibrate --scores` does, src/heads.rs::fit_evidence, under the other broad heads'
prior scaled by PRIOR_SCALE) from (a) the prior alone, (b) a card of its own per-benchmark
accuracies on the training rows, (c) a card of the scores its maker or a leaderboard published
(training/cards/published.json), (d) 25 and 100 of the bundle's probes; and score, on fold 0, the
AIQ of a small pool per table that labels M: M with the table's cheapest, best and one middle
model (by accuracy and price on the training rows), so that one model's placement shows. The
reference is the same pool in the space fitted with M's labels. Intervals: 300 bootstrap
resamples of the test rows, paired across variants. With --kappa, every pool is routed under the
selector's margin as the router routes it, each head's sd from its covariance.

    training/.venv/bin/python training/cards.py            # writes training/work/cards.json
    training/.venv/bin/python training/cards.py --report   # prints the tables of REPORT.md
    training/.venv/bin/python training/cards.py --pool-folds A.json,B.json  # each pair over
                                                          # several runs' held folds together
"""

import argparse
import json
import pathlib

import numpy as np
import torch

import probes
import research
import space
import train
from data import ROOT, read_rows

MODELS = ["gpt-4o-2024-05-13", "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022",
          "claude-3-5-haiku-20241022", "gemini-1.5-pro-002", "gemini-1.5-flash-001",
          "llama-3.1-70b-instruct", "llama-3.1-8b-instruct", "qwen2.5-72b-instruct",
          "gemini-1.5-pro-001", "claude-sonnet-4.5", "gemini-2.5-flash", "gpt-5-mini-medium",
          "qwen3-8b", "gpt-oss-120b", "deepseek-v3.2", "o4-mini-medium", "o3-mini-high",
          "gpt-4.1", "gpt-4.1-mini"]
PRIOR_SCALE = probes.PRIOR_SCALE
BOOT = 300


def family_rows(rows, ref, specs, name, subject=None):
    """Reference rows a card's benchmark stands for (as src/card.rs); `specs` by name."""
    spec = specs[name]
    out = [i for i in ref if train.in_family(rows[i], spec)]
    if subject is not None:
        out = [i for i in out if rows[i]["subject"] == subject]
    return out, spec["questions"]


def augment(z):
    """Prompt positions with the bias's 1 appended."""
    return np.hstack([z, np.ones((len(z), 1))]).astype(np.float64)


def fit_card(mean, precision, families, z_probe=None, y_probe=None, level=False, moving=None,
             shared=None, probe_offset=None, level_sd=None):
    """The posterior mode of (θ, b) given mean scores over families (and probes), by Fisher
    scoring: src/heads.rs::fit_evidence. With `level`, only the bias moves (the prior's shape
    kept, its level set by the scores); `moving` (indices of θ and b) names what moves instead,
    e.g. the domain coordinates and the bias. `shared`, one (benchmark, sd) per family, gives
    each benchmark with sd > 0 its own shift of the logits, N(0, sd²): the gap between the
    harness that published its scores and the table's, which all its scores share.
    `probe_offset`, one per probe, is added to its logit: how much easier the probe is than its
    position says (`item_offsets`). `level_sd` (with `level`) replaces the prior's hold on the
    bias by N(its mean, level_sd²): the spread of the models' levels, not of a bias whose
    coordinates are held at the prior's mean (`level_spread`)."""
    if level and level_sd is not None:
        b = len(mean) - 1
        precision = precision.copy()
        precision[b, :] = 0
        precision[:, b] = 0
        precision[b, b] = 1 / level_sd ** 2
    if shared is not None and any(sd > 0 for _, sd in shared):
        keys = sorted({k for k, sd in shared if sd > 0})
        sd_of = dict(shared)
        k0 = len(mean)
        prec = np.zeros((k0 + len(keys), k0 + len(keys)))
        prec[:k0, :k0] = precision
        for i, k in enumerate(keys):
            prec[k0 + i, k0 + i] = 1 / sd_of[k] ** 2
        fams = []
        for (z, a, n), (k, sd) in zip(families, shared):
            onehot = np.zeros((len(z), len(keys)))
            if sd > 0:
                onehot[:, keys.index(k)] = 1
            # The bias stays last: the shifts go before it.
            fams.append((np.hstack([z, onehot]), a, n))
        ext = np.concatenate([mean[:-1], np.zeros(len(keys)), mean[-1:]])
        order = list(range(k0 - 1)) + list(range(k0, k0 + len(keys))) + [k0 - 1]
        prec_full = prec[np.ix_(order, order)]
        zp = None if z_probe is None else np.hstack([z_probe, np.zeros((len(z_probe), len(keys)))])
        extra = list(range(k0 - 1, k0 - 1 + len(keys)))
        mv = None
        if level:
            mv = extra + [len(ext) - 1]
        elif moving is not None:
            mv = [i if i < k0 - 1 else len(ext) - 1 for i in moving] + extra
        w = fit_card(ext, prec_full, fams, zp, y_probe, moving=mv, probe_offset=probe_offset)
        return np.concatenate([w[:k0 - 1], w[-1:]])
    if level:
        moving = [len(mean) - 1]
    fam = [(augment(z), a, n) for z, a, n in families]
    xp = augment(z_probe) if z_probe is not None and len(z_probe) else np.zeros((0, len(mean)))
    yp = y_probe if y_probe is not None else np.zeros(0)
    off = np.zeros(len(xp)) if probe_offset is None else np.asarray(probe_offset, np.float64)

    def objective(v):
        t = xp @ v + off
        out = (np.logaddexp(0, t) - yp * t).sum() + 0.5 * (v - mean) @ precision @ (v - mean)
        for x, a, n in fam:
            m = np.clip((1 / (1 + np.exp(-(x @ v)))).mean(), 1e-12, 1 - 1e-12)
            out -= n * (a * np.log(m) + (1 - a) * np.log(1 - m))
        return out

    w = mean.copy()
    for _ in range(100):
        p = 1 / (1 + np.exp(-(xp @ w + off)))
        grad = xp.T @ (p - yp) + precision @ (w - mean)
        terms = [mean_score(x, w) for x, _, _ in fam]
        for (m, g), (_, a, n) in zip(terms, fam):
            grad += -n * (a / m - (1 - a) / (1 - m)) * g
        hess = information(precision, xp, p, terms, [n for _, _, n in fam])
        if moving is not None:
            step = np.zeros_like(w)
            step[moving] = np.linalg.solve(hess[np.ix_(moving, moving)], grad[moving])
        else:
            step = np.linalg.solve(hess, grad)
        scale, before = 1.0, objective(w)
        for _ in range(30):
            nxt = w - scale * step
            if objective(nxt) <= before + 1e-12:
                break
            scale /= 2
        moved = np.abs(nxt - w).max()
        w = nxt
        if moved < 1e-9:
            break
    return w


def mean_score(x, w):
    """A family's mean predicted score at `w` over its prompts `x` (bias appended), and its
    gradient in (θ, b)."""
    q = 1 / (1 + np.exp(-(x @ w)))
    m = np.clip(q.mean(), 1e-12, 1 - 1e-12)
    return m, (x * (q * (1 - q))[:, None]).mean(axis=0)


def information(precision, xp, p, terms, counts):
    """The prior's precision plus the Fisher information of probes `xp` answered with
    probabilities `p` and of mean scores `terms` ((m, g) of mean_score), each counting for
    `counts` questions: fit_card's Newton matrix and laplace's inverse covariance."""
    h = (xp * (p * (1 - p))[:, None]).T @ xp + precision
    for (m, g), n in zip(terms, counts):
        h += n / (m * (1 - m)) * np.outer(g, g)
    return h


def laplace(w, precision, families=(), harness=None, z_probe=None):
    """The covariance routoo keeps with a fitted head (src/heads.rs::fit_evidence): the inverse
    of the prior's precision plus the evidence's Fisher information at `w`, each family's score
    counting for the fewer questions a harness shift of sd `harness[f]` leaves it."""
    xp = augment(z_probe) if z_probe is not None and len(z_probe) else np.zeros((0, len(w)))
    terms = [mean_score(augment(z), w) for z, _, _ in families]
    sds = harness if harness is not None else [0.0] * len(families)
    counts = [n / (1 + n * m * (1 - m) * sd * sd) for (m, _), (_, _, n), sd in
              zip(terms, families, sds)]
    return np.linalg.inv(information(precision, xp, 1 / (1 + np.exp(-(xp @ w))), terms, counts))


def quality_sd(z, p, cov):
    """space.quality_sd for one head's probabilities `p` and covariance `cov`."""
    return space.quality_sd(z, p[:, None], cov[None])[:, 0]


def margined(q, sd, cols, kappa, unknown=None):
    """`q` with the columns `cols` as the selector compares them under a margin of κ sds
    (research.with_margin; the incumbent is the best on average over every row). An incumbent
    known only by the prior (column `unknown`) keeps no one out, as src/select.rs."""
    average = q[:, cols].mean(axis=0)
    if unknown is not None and cols[int(np.argmax(average))] == unknown:
        return q
    out = q.copy()
    out[:, cols] = research.with_margin(q[:, cols], sd, kappa, average)
    return out


def level_spread(theta, bias, z):
    """The sd of the heads' levels, their mean logit over the positions `z`: how far apart
    models sit, where the prior's hold on a bias with θ at its mean is far tighter."""
    return float(np.std(theta @ z.mean(axis=0) + bias))


def fit_probes(mean, precision, z, y, how="level, then domains", domains=None, offset=None,
               level_sd=None):
    """A head from graded probes as `routoo calibrate` fits it (src/heads.rs::fit_evidence):
    the level, then the domain coordinates (`domains`, indices of θ) with the bias about it;
    everything where there are none. `how` "full" moves everything, "level" only the bias."""
    if how == "full" or not len(z) or not domains:
        return fit_card(mean, precision, [], z, y, probe_offset=offset)
    w = fit_card(mean, precision, [], z, y, level=True, probe_offset=offset, level_sd=level_sd)
    if how == "level, then domains":
        w = fit_card(w, precision, [], z, y, moving=list(domains) + [len(mean) - 1],
                     probe_offset=offset)
    return w


def item_offsets(t, y, tau):
    """Per row, the shift of the logits `t` (rows × heads) that the heads' answers `y` (NaN
    where a head has none) say it needs, under a N(0, τ²) prior: how much easier a question is
    than its position says, as an item's difficulty in item response theory."""
    have = ~np.isnan(y)
    yy = np.where(have, y, 0.0)
    d = np.zeros(len(t))
    for _ in range(50):
        q = 1 / (1 + np.exp(-(t + d[:, None])))
        grad = ((q - yy) * have).sum(axis=1) + d / tau ** 2
        hess = (q * (1 - q) * have).sum(axis=1) + 1 / tau ** 2
        d -= grad / hess
    return d


def implied_level(t, a):
    """The shift of logits `t` whose mean probability is `a`, and that mean's
    slope there: one score's level, the shape held."""
    a = float(np.clip(a, 1e-3, 1 - 1e-3))
    d = 0.0
    for _ in range(100):
        q = 1 / (1 + np.exp(-(t + d)))
        g = float((q * (1 - q)).mean())
        step = (q.mean() - a) / max(g, 1e-9)
        d -= float(np.clip(step, -5, 5))
        if abs(step) < 1e-10:
            break
    q = 1 / (1 + np.exp(-(t + d)))
    return d, float((q * (1 - q)).mean())


def pooled(fams, mean):
    """`fams` with each score's questions cut so its implied level's variance gains the
    between-benchmark spread τ² (DerSimonian and Laird): scores that disagree on the level
    count alike, whatever their size."""
    if len(fams) < 2:
        return fams
    levels, variances = [], []
    for z, a, n in fams:
        t = z @ mean[:-1] + mean[-1]
        d, g = implied_level(t, a)
        levels.append(d)
        aa = float(np.clip(a, 1e-3, 1 - 1e-3))
        variances.append(aa * (1 - aa) / (n * g * g))
    w = 1 / np.array(variances)
    lv = np.array(levels)
    centre = (w * lv).sum() / w.sum()
    q = (w * (lv - centre) ** 2).sum()
    tau2 = max(0.0, (q - (len(fams) - 1)) / (w.sum() - (w * w).sum() / w.sum()))
    return [(z, a, n * v / (v + tau2)) for (z, a, n), v in zip(fams, variances)]


def family_classes(spec, classes):
    """The domain classes a benchmark's family covers: its benchmarks, or their subjects."""
    out = []
    for part in spec["family"]:
        b, subjects = part["benchmark"], part.get("subjects")
        for c in classes:
            whole = c == b and subjects is None
            if whole or (c.startswith(b + "/")
                         and (subjects is None or c[len(b) + 1:] in subjects)):
                out.append(c)
    return out


def log_price(model, pool):
    """log of a model's price for a short prompt and a long answer (US$ per 1M tokens, in + 4 out)."""
    p = next(x for x in pool["models"] if x["id"] == model)
    return np.log(p["priceIn"] + 4 * p["priceOut"])


def priced_prior(mean, biases, ids, model, pool):
    """The prior's mean with its bias set from the model's list price: the least-squares line
    of the prior heads' biases on their log prices, read at this model's."""
    lp = np.array([log_price(k, pool) for k in ids])
    a, b = np.linalg.lstsq(np.vstack([np.ones_like(lp), lp]).T, biases, rcond=None)[0]
    out = mean.copy()
    out[-1] = a + b * log_price(model, pool)
    return out


def small_pool(rows, train_idx, table, m, y, models, pool):
    """M with the table's cheapest, best and middle model by training accuracy."""
    price = {p["id"]: p for p in pool["models"]}
    others = sorted({k for r in rows if r["table"] == table for k in r["labels"]} - {m})
    at = [i for i in train_idx if rows[i]["table"] == table]
    acc = {k: np.nanmean(y[at, models.index(k)]) for k in others}
    cost = {k: price[k]["priceIn"] + 4 * price[k]["priceOut"] for k in others}
    cheapest = min(others, key=lambda k: (cost[k], k))
    best = max(others, key=lambda k: (acc[k], k))
    rest = sorted((k for k in others if k not in (cheapest, best)), key=lambda k: acc[k])
    pick = [cheapest, best] + ([rest[len(rest) // 2]] if rest else [])
    return [m] + sorted(set(pick))


def pool_rows(rows, idx, ms, quality, models, pool, table):
    """(correct, true cost, estimated cost, quality) of pool `ms` on rows `idx`."""
    correct, cost, est = research.matrices(rows, idx, ms, pool, space.OUTPUT_TOKENS.get(table, 1))
    return correct, cost, est, quality[np.ix_(idx, [models.index(k) for k in ms])]


def aiq_boot(ms, correct, cost, est, q, seed=0):
    """AIQ on the rows and its bootstrap resamples (the same resamples for every variant)."""
    point = research.report(ms, correct, cost, q, est)["aiq"]
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(BOOT):
        s = rng.integers(0, len(correct), len(correct))
        boot.append(research.report(ms, correct[s], cost[s], q[s], est[s])["aiq"])
    return point, np.array(boot)


def interval(d):
    return [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--out", default=ROOT / "training" / "work" / "cards.json", type=pathlib.Path)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--published", default=ROOT / "training" / "cards" / "published.json",
                    type=pathlib.Path)
    ap.add_argument("--fit-only", action="store_true", help="fit and cache the spaces only")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--outer", choices=["include", "exclude"], default="include",
                    help="exclude: leave the outer split's questions out (space.is_outer)")
    ap.add_argument("--domains", action="store_true",
                    help="the space with domain coordinates (the shipped design), its prior "
                    "widened along them as routoo's is, and a card variant that moves them")
    ap.add_argument("--eval-fold", type=int, default=0, choices=[0, 1, 2, 3, 4],
                    help="score on this fold; 1-4 are training rows of the other heads, for "
                    "choosing a design without looking at fold 0")
    ap.add_argument("--drop", type=lambda v: v.split(","), default=[],
                    help="leave these benchmarks' scores out of the published cards")
    ap.add_argument("--only", type=lambda v: v.split(";"), default=None,
                    help="score only these variants (names separated by ;) beside the prior")
    ap.add_argument("--kappa", type=float, default=0.0,
                    help="route under the selector's margin of κ sds (the bundle ships 1), each "
                    "head's sd from the covariance routoo keeps with it; variants whose "
                    "covariance is not reproduced here are left out")
    ap.add_argument("--pool-folds", type=lambda v: [pathlib.Path(x) for x in v.split(",")],
                    help="runs' JSON files (comma-separated), each with its rows beside it: "
                    "score each pair over their folds' rows together")
    args = ap.parse_args()
    if args.report:
        return report(json.loads(args.out.read_text()))
    if args.pool_folds:
        models = args.models.split(",") if args.models != ",".join(MODELS) else None
        return pool_folds(args.pool_folds, args.only, models)
    torch.set_num_threads(1)
    rows, prompts = read_rows(args.data)
    if args.outer == "exclude":
        rows, prompts = space.without_outer(rows, prompts)
    folds = np.array([space.fold_of(space.question_key(r, p)) for r, p in zip(rows, prompts)])
    models = sorted({m for r in rows for m in r["labels"]})
    y, _ = space.label_matrix(rows, models)
    tokens = space.tokenize(prompts)
    table = space.pca_table(space.minilm_word_embeddings(), space.PCA_DIM)
    pool = space.prices()
    train_idx, test = np.flatnonzero(folds != 0), folds == args.eval_fold
    ref = train.reference_rows(rows, train_idx, 1000, np.random.default_rng(0))
    specs = {b["name"]: b for b in train.benchmarks(rows, ref)}
    cache = args.out.parent / ("cards" + ("-inner" if args.outer == "exclude" else "")
                               + ("-domains" if args.domains else ""))
    fit = {"k": space.SPACE_DIM, "weight_decay": 1e-4, "table": table}
    classes = []
    if args.domains:
        classes, fit["domains"] = space.domain_classes(rows)
        space.DOMAIN_BALANCE = train.SHIPPED_DOMAIN_BALANCE
    cache.mkdir(parents=True, exist_ok=True)
    published = json.loads(args.published.read_text()) if args.published.exists() else {}
    for card in published.values():
        if isinstance(card, dict):
            card["scores"] = [s for s in card["scores"] if s["benchmark"] not in args.drop]

    def fitted(name, labels):
        """(p, z, theta, bias) of the space fitted on folds 1-4 with `labels`, cached."""
        return space.fit_cached(cache / f"{name}.npz", tokens, labels, train_idx, **fit)

    if args.fit_only:
        for m in args.models.split(","):
            if m == "full":
                fitted("full", y)
            else:
                y_out = y.copy()
                y_out[:, models.index(m)] = np.nan
                fitted(f"without-{m}", y_out)
        return
    p_full, z_full, theta_full, bias_full = fitted("full", y)

    def covariance(z, labels, theta, bias, k):
        """Model k's covariance as the space's heads are scored with one (space.held_out)."""
        return space.head_covariance(z[train_idx], labels[train_idx][:, [k]], theta[[k]],
                                     bias[[k]])[0]

    # Each model's sd in the full fit, computed once (a dict: the same models recur in pools).
    sd_full = {}
    where = {(r["table"], r["id"]): i for i, r in enumerate(rows)}
    cands = [(where[(c["table"], c["id"])], c) for c in probes.candidates(args.data)
             if (c["table"], c["id"]) in where
             and folds[where[(c["table"], c["id"])]] not in (0, args.eval_fold)]
    out = {"prior_scale": PRIOR_SCALE, "eval_fold": args.eval_fold, "outer": args.outer,
           "domains": args.domains, "kappa": args.kappa, "models": {}}
    kept = {}  # each pool's rows, for --pool-folds
    for m in args.models.split(","):
        j = models.index(m)
        y_out = y.copy()
        y_out[:, j] = np.nan
        p, z, theta, bias = fitted(f"without-{m}", y_out)
        others = probes.prior_heads((~np.isnan(y[train_idx])).sum(axis=0), j)
        # The domain coordinates follow the space's k learned ones.
        mean, precision = probes.calibration_prior(
            theta[others], bias[others], PRIOR_SCALE,
            range(space.SPACE_DIM, theta.shape[1]) if args.domains else None)
        zz = z.astype(np.float64)
        # How far apart the prior's models sit in level, over the reference prompts.
        spread = level_spread(theta[others], bias[others], zz[ref])

        # The other models' gaps between published scores and the tables (rows of folds 1-4
        # outside the scored fold; never this model's labels).
        gap = train.offsets(published, rows, [i for i in train_idx if not test[i]], y,
                            models, specs, m)

        def shifted(card, gap=gap):
            """`card` with a shared shift for each benchmark no offset maps: a table's own
            benchmark scored by another harness, or an outside one no model measured."""
            return [{**s, "shift": 0.0 if s["benchmark"] in gap else train.unmapped_sd(gap)}
                    for s in card]

        # Card (b): its accuracy per benchmark on the training rows it is labelled on.
        mine = [i for i in train_idx if not np.isnan(y[i, j]) and not test[i]]
        own = {}
        for i in mine:
            own.setdefault(rows[i]["benchmark"], []).append(y[i, j])
        cards = {"own": [{"benchmark": b, "accuracy": float(np.mean(v)), "n": len(v)}
                         for b, v in sorted(own.items())]}
        # The same by subject, where a benchmark has subjects: a card that says "good at
        # maths, weak at law".
        by_subject = {}
        for i in mine:
            if rows[i]["subject"]:
                by_subject.setdefault((rows[i]["benchmark"], rows[i]["subject"]), []).append(y[i, j])
        cards["own, pooled"] = [{**s, "pooled": True} for s in cards["own"]]
        if by_subject:
            cards["own, by subject"] = [
                {"benchmark": b, "subject": s, "accuracy": float(np.mean(v)), "n": len(v)}
                for (b, s), v in sorted(by_subject.items())
                if family_rows(rows, ref, specs, b, s)[0]]
            cards["own, by subject, shifted"] = shifted(cards["own, by subject"])
        cards["own, shifted"] = shifted(cards["own"])
        if isinstance(published.get(m), dict):
            cards["published"] = published[m]["scores"]
            # The same scores moved onto their families' scale by the other models' gaps.
            cards["published, offset"] = [
                {**s, "accuracy": float(1 / (1 + np.exp(-(train.logit(s["accuracy"])
                                                           + gap.get(s["benchmark"], (0, 0))[0]))))}
                for s in published[m]["scores"]]
            # The same, each score counting for fewer questions as its mapping is less sure:
            # the spread of the gaps behind its offset, or the typical offset where none is
            # measured (the tables' own benchmarks map exactly).
            cards["published, offset, sure"] = [
                {**s, "sd": train.mapping_sd(s["benchmark"], gap)} for s in cards["published, offset"]]
            # Each score's implied level weighed as in a random-effects meta-analysis: the
            # spread between benchmarks' levels caps what one large benchmark can say.
            cards["published, offset, pooled"] = [
                {**s, "pooled": True} for s in cards["published, offset"]]
            cards["published, offset, shifted"] = shifted(cards["published, offset"])
        heads = {"prior": mean, "prior at its price": priced_prior(
            mean, bias[others], [models[k] for k in others], m, pool)}
        # Each head's covariance as routoo keeps it (fit_evidence's last curvature).
        unplaced = np.linalg.inv(precision)
        covs = {"prior": unplaced, "prior at its price": unplaced}
        sd_without = {}
        evidence = {}
        for name, card in cards.items():
            if args.only and not any(f"card: {name}, {v}" in args.only for v in
                                     ("level", "level and domains", "level, then domains",
                                      "level, then own domains", "wide level",
                                      "wide level, then domains",
                                      "wide level, then plain domains")):
                continue
            fams = []
            for s in card:
                at, questions = family_rows(rows, ref, specs, s["benchmark"],
                                            s.get("subject"))
                n = s.get("n", questions)
                if "sd" in s:
                    n = train.effective_questions(s["accuracy"], n, s["sd"])
                fams.append((zz[at], s["accuracy"], n))
            if any(s.get("pooled") for s in card):
                fams = pooled(fams, mean)
            shared = [(s["benchmark"], s.get("shift", 0.0)) for s in card]
            evidence[name] = (fams, shared)
            heads[f"card: {name}"] = fit_card(mean, precision, fams, shared=shared)
            heads[f"card: {name}, level"] = fit_card(mean, precision, fams, level=True,
                                                     shared=shared)
            # The level held only as far as the models' levels spread.
            heads[f"card: {name}, wide level"] = fit_card(mean, precision, fams, level=True,
                                                          shared=shared, level_sd=spread)
            covs[f"card: {name}, wide level"] = laplace(
                heads[f"card: {name}, wide level"], precision, fams, [sd for _, sd in shared])
            if args.domains:
                shape = list(range(space.SPACE_DIM, len(mean)))
                heads[f"card: {name}, wide level, then domains"] = fit_card(
                    heads[f"card: {name}, wide level"], precision, fams, moving=shape,
                    shared=shared)
                # The harness's shift sets the level only; the shape is the table's.
                heads[f"card: {name}, wide level, then plain domains"] = fit_card(
                    heads[f"card: {name}, wide level"], precision, fams, moving=shape)
                if all(s.get("subject") is not None for s in card):
                    # The shape step's curvature: the scores by subject, no shift.
                    covs[f"card: {name}, wide level, then plain domains"] = laplace(
                        heads[f"card: {name}, wide level, then plain domains"], precision, fams)
                heads[f"card: {name}, level and domains"] = fit_card(
                    mean, precision, fams, moving=shape, shared=shared)
                # The level first, then the shape about it: the prior re-centred on the
                # levelled head, so the domain coordinates take what differs by subject and
                # the bias keeps the level the other tables' prompts see.
                heads[f"card: {name}, level, then domains"] = fit_card(
                    heads[f"card: {name}, level"], precision, fams, moving=shape, shared=shared)
                # Each score moves only its own family's classes: a maker's MMLU sets MMLU's
                # level, not MMLU-Pro's.
                own = sorted({space.SPACE_DIM + classes.index(c) for s in card
                              for c in family_classes(specs[s["benchmark"]], classes)})
                heads[f"card: {name}, level, then own domains"] = fit_card(
                    heads[f"card: {name}, level"], precision, fams,
                    moving=own + [len(mean) - 1], shared=shared)
        idx = np.array([i for i, c in cands if not np.isnan(y[i, j])])
        if len(idx) and (not args.only or any("probes" in v for v in args.only)):
            groups = [(rows[i]["benchmark"], rows[i]["subject"]) for i in idx]
            order = probes.choose(zz[idx], theta[others], bias[others], groups, 100, 10, 50)
            for n in (25, 100):
                sel = idx[order[:n]]
                yp = y[sel, j].astype(np.float64)
                domains = range(space.SPACE_DIM, len(mean) - 1)
                heads[f"{n} probes"] = fit_probes(mean, precision, zz[sel], yp, domains=domains)
                covs[f"{n} probes"] = laplace(heads[f"{n} probes"], precision, z_probe=zz[sel])
                # A published card sharpened by probes: the level from both, then the shape
                # from both ("ships" names 6d0abca's fit; what ships now is "probes shape").
                for card_name, how in (("published, offset", "before"),
                                       ("published, offset, shifted", "ships")):
                    if card_name not in evidence or not len(domains):
                        continue
                    fams, shared = evidence[card_name]
                    level_sd = spread if how == "ships" else None
                    lvl = fit_card(mean, precision, fams, zz[sel], yp, level=True,
                                   shared=shared, level_sd=level_sd)
                    shape = list(domains) + [len(mean) - 1]
                    heads[f"card and {n} probes ({how})"] = fit_card(
                        lvl, precision, fams, zz[sel], yp, moving=shape)
                    if how != "ships":
                        continue
                    # The shape from the probes alone (a benchmark-wide score sets the level
                    # only): after the level from both, or from the card alone (its head
                    # above).
                    heads[f"card and {n} probes (probes shape)"] = fit_card(
                        lvl, precision, [], zz[sel], yp, moving=shape)
                    # The shape step's curvature: the probes alone.
                    covs[f"card and {n} probes (probes shape)"] = laplace(
                        heads[f"card and {n} probes (probes shape)"], precision,
                        z_probe=zz[sel])
                    heads[f"card and {n} probes (card level, probes shape)"] = fit_card(
                        heads[f"card: {card_name}, wide level"], precision, [], zz[sel], yp,
                        moving=shape)
                heads[f"{n} probes, wide level"] = fit_probes(
                    mean, precision, zz[sel], yp, domains=domains, level_sd=spread)
                covs[f"{n} probes, wide level"] = laplace(heads[f"{n} probes, wide level"],
                                                          precision, z_probe=zz[sel])
                if len(domains):
                    heads[f"{n} probes, full"] = fit_probes(mean, precision, zz[sel], yp, "full")
        if args.only:
            heads = {k: v for k, v in heads.items() if k == "prior" or k in args.only}
        if args.kappa > 0:
            heads = {k: v for k, v in heads.items() if k in covs}
        res = {"cards": cards, "tables": {}}
        tables = sorted({rows[i]["table"] for i in np.flatnonzero(test & ~np.isnan(y[:, j]))})
        for t in tables:
            ms = small_pool(rows, train_idx, t, m, y, models, pool)
            idx_t = [i for i in np.flatnonzero(test) if rows[i]["table"] == t
                     and all(k in rows[i]["labels"] for k in ms)]
            if len(idx_t) < 30:
                continue
            cols = [models.index(k) for k in ms]
            q_full = p_full
            if args.kappa > 0:
                for k in cols:
                    if k not in sd_full:
                        sd_full[k] = quality_sd(z_full, p_full[:, k], covariance(
                            z_full, y, theta_full, bias_full, k))
                    if k != j and k not in sd_without:
                        sd_without[k] = quality_sd(zz, p[:, k],
                                                   covariance(zz, y_out, theta, bias, k))
                q_full = margined(p_full, np.stack([sd_full[k] for k in cols], axis=1), cols,
                                  args.kappa)
                # The others' sds in the space fitted without M; M's column is each variant's.
                sd_out = np.stack([sd_without.get(k, np.zeros(len(p))) for k in cols], axis=1)
            correct, cost, est, qf = pool_rows(rows, idx_t, ms, q_full, models, pool, t)
            key = f"{m}|{t}|"
            kept.update({key + "correct": correct, key + "cost": cost, key + "est": est,
                         key + "q|full": qf})
            full, full_boot = aiq_boot(ms, correct, cost, est, qf)
            cell = {"pool": ms, "rows": len(idx_t), "full": full, "variants": {}}
            boots = {}
            for name, w in heads.items():
                q = p.copy()
                q[:, j] = 1 / (1 + np.exp(-(zz @ w[:-1] + w[-1])))
                if args.kappa > 0:
                    sd_out[:, cols.index(j)] = quality_sd(zz, q[:, j], covs[name])
                    q = margined(q, sd_out, cols, args.kappa,
                                 j if name in ("prior", "prior at its price") else None)
                kept[key + "q|" + name] = q[np.ix_(idx_t, cols)]
                v, boots[name] = aiq_boot(ms, correct, cost, est, kept[key + "q|" + name])
                cell["variants"][name] = {"aiq": v, "vs_full": v - full,
                                          "vs_full_ci": interval(boots[name] - full_boot)}
            for name, boot in boots.items():
                if name != "prior":
                    cell["variants"][name]["vs_prior_ci"] = interval(boot - boots["prior"])
            res["tables"][t] = cell
        out["models"][m] = res
        print(f"  {m} done", flush=True)
        args.out.write_text(json.dumps(out, indent=1, default=float))
        np.savez_compressed(rows_path(args.out), **kept)
    report(out)


def rows_path(out):
    """Where a run keeps each pool's rows beside its JSON, for --pool-folds."""
    return out.with_suffix(".rows.npz")


def pool_folds(outs, only=None, models=None):
    """Each model-table pair over the rows of several held folds, each row routed by the fit
    that did not see it: the per-fold intervals, on 4 times the questions. `only` and `models`
    narrow it to those variants (beside the prior) and models left out."""
    runs = [(json.loads(o.read_text()), np.load(rows_path(o))) for o in outs]
    first = runs[0][0]
    print(f"folds {', '.join(str(r['eval_fold']) for r, _ in runs)} pooled; margin κ = "
          f"{first.get('kappa', 0.0)}; AIQ points against the prior alone and against full "
          "labels (95 % bootstrap interval over the pooled questions)\n")
    summary = {}
    print("| model left out | table | rows | variant | against the prior | against full labels |")
    print("|---|---|---|---|---|---|")
    for m, res in first["models"].items():
        if models is not None and m not in models:
            continue
        for t, cell in res["tables"].items():
            cells = [r["models"].get(m, {}).get("tables", {}).get(t) for r, _ in runs]
            if any(c is None or c["pool"] != cell["pool"] for c in cells):
                print(f"| {m} | {t} | – | not pooled: the pool differs by fold | | |")
                continue
            key = f"{m}|{t}|"
            cat = {k: np.concatenate([a[key + k] for _, a in runs])
                   for k in ("correct", "cost", "est")}
            names = [n for n in cell["variants"] if all(key + "q|" + n in a for _, a in runs)
                     and (only is None or n == "prior" or n in only)]
            scored = {}
            for n in ["full"] + names:
                q = np.concatenate([a[key + "q|" + n] for _, a in runs])
                scored[n] = aiq_boot(cell["pool"], cat["correct"], cat["cost"], cat["est"], q)
            for n in names:
                if n == "prior":
                    continue
                d_prior = scored[n][0] - scored["prior"][0]
                lo_p, hi_p = interval(scored[n][1] - scored["prior"][1])
                d_full = scored[n][0] - scored["full"][0]
                lo_f, hi_f = interval(scored[n][1] - scored["full"][1])
                summary.setdefault(n, []).append((d_prior, hi_p, d_full, f"{m} on {t}"))
                print(f"| {m} | {t} | {len(cat['correct'])} | {n} | {100 * d_prior:+.2f} "
                      f"[{100 * lo_p:+.2f}, {100 * hi_p:+.2f}] | {100 * d_full:+.2f} "
                      f"[{100 * lo_f:+.2f}, {100 * hi_f:+.2f}] |", flush=True)
    print("\n| variant | pairs | against the prior: mean | worst | pairs below −0.2 | surely "
          "below 0 | against full labels: mean |")
    print("|---|---|---|---|---|---|---|")
    for n, d in summary.items():
        worst = min(d)
        print(f"| {n} | {len(d)} | {100 * np.mean([x[0] for x in d]):+.2f} | "
              f"{100 * worst[0]:+.2f} ({worst[3]}) | {sum(x[0] < -0.002 for x in d)} | "
              f"{sum(x[1] < 0 for x in d)} | {100 * np.mean([x[2] for x in d]):+.2f} |")


def report(out):
    names = ["prior", "prior at its price", "card: own", "card: own, level", "card: published",
             "card: published, level", "card: published, offset", "card: published, offset, level",
             "card: published, offset, sure, level",
             "card: published, offset, pooled, level",
             "card: own, pooled, level", "card: own, shifted, level",
             "card: published, offset, shifted, level",
             "card: own, by subject, shifted, level, then domains", "card: own, level and domains",
             "card: own, by subject, level", "card: own, by subject, level and domains",
             "card: own, by subject, level, then domains", "card: own, level, then domains",
             "card: published, offset, level, then domains",
             "card: published, offset, level and domains", "25 probes", "100 probes",
             "25 probes, full", "100 probes, full", "card: published, offset, level, then own domains",
             "card: own, level, then own domains", "card: own, wide level",
             "card: own, shifted, wide level", "card: published, offset, wide level",
             "card: published, offset, shifted, wide level",
             "card: own, by subject, wide level, then domains",
             "card: own, by subject, shifted, wide level, then domains",
             "card: own, by subject, shifted, wide level, then plain domains",
             "25 probes, wide level", "100 probes, wide level", "card and 25 probes (before)",
             "card and 25 probes (ships)", "card and 100 probes (before)",
             "card and 100 probes (ships)", "card and 25 probes (probes shape)",
             "card and 100 probes (probes shape)", "card and 25 probes (card level, probes shape)",
             "card and 100 probes (card level, probes shape)"]
    names = [n for n in names if any(n in c["variants"] for r in out["models"].values()
                                     for c in r["tables"].values())]
    print(f"scored on fold {out.get('eval_fold', 0)}; outer split {out.get('outer', 'include')}d; "
          f"domain coordinates {'yes' if out.get('domains') else 'no'}; prior scale {out['prior_scale']}; "
          f"margin κ = {out.get('kappa', 0.0)}; AIQ points against the same pool trained with the "
          "model's labels (95 % bootstrap interval)\n")
    print("| model left out | table (pool) | rows | with its labels | "
          + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    gaps = {n: [] for n in names}
    card_vs_prior = {n: [] for n in names if n != "prior"}
    for m, res in out["models"].items():
        for t, cell in res["tables"].items():
            cells = []
            for n in names:
                v = cell["variants"].get(n)
                if v is None:
                    cells.append("–")
                    continue
                gaps[n].append(v["vs_full"])
                lo, hi = v["vs_full_ci"]
                cells.append(f"{100 * v['vs_full']:+.2f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
                if n in card_vs_prior:
                    card_vs_prior[n].append(v["vs_full"] - cell["variants"]["prior"]["vs_full"])
            pool = ", ".join(k for k in cell["pool"][1:])
            print(f"| {m} | {t} ({pool}) | {cell['rows']} | {cell['full']:.4f} | "
                  + " | ".join(cells) + " |")
    print("| **mean (worst)** | | | | " + " | ".join(
        f"{100 * np.mean(gaps[n]):+.2f} ({100 * min(gaps[n]):+.2f})" if gaps[n] else "–"
        for n in names) + " |")
    for n, d in card_vs_prior.items():
        if d:
            print(f"\n{n} against the prior alone: mean {100 * np.mean(d):+.2f} points, worst "
                  f"{100 * min(d):+.2f}, over {len(d)} model-table pairs")


if __name__ == "__main__":
    main()
