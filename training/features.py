"""The v2 predictor's parts on a frozen MiniLM vector (logistic heads, a domain prior, kNN)
and their blend: the baseline training/space.py compares the shipped design with.

Each design takes (rows, prompts, x, val) and returns {model: quality per row}, fit on the rows
where `val` is false only.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression


def domain_of(row):
    """The coarse source of a prompt: MMLU subject, or benchmark."""
    if row["benchmark"] == "mmlu":
        return "mmlu/" + row["subject"]
    return row["benchmark"]


def models_of(rows):
    return sorted({m for r in rows for m in r["labels"]})


def labelled(rows, model, mask):
    idx = np.array([i for i, r in enumerate(rows) if model in r["labels"] and mask[i]])
    y = np.array([rows[i]["labels"][model] for i in idx])
    return idx, y


def logistic(x, y, c):
    return LogisticRegression(C=c, max_iter=3000).fit(x, y)


def lr(rows, prompts, x, val, c=1.0):
    out = {}
    for m in models_of(rows):
        idx, y = labelled(rows, m, ~val)
        out[m] = logistic(x[idx], y, c).predict_proba(x)[:, 1]
    return out


def fit_domain_classifier(rows, x, train, c=10.0):
    """Every domain name, and a multinomial logistic regression over them fit on `train`."""
    domains = sorted({domain_of(r) for r in rows})
    index = {d: i for i, d in enumerate(domains)}
    y = np.array([index[domain_of(r)] for r in rows])
    return domains, LogisticRegression(C=c, max_iter=3000).fit(x[train], y[train])


def domain_classifier(rows, x, train, c=10.0):
    """P(domain | prompt) for every row."""
    domains, clf = fit_domain_classifier(rows, x, train, c)
    probs = np.zeros((len(rows), len(domains)))
    probs[:, clf.classes_] = clf.predict_proba(x)
    return domains, probs


def domain_rates(rows, domains, train, strength=10.0):
    """Per model and domain, accuracy shrunk toward the model's overall rate."""
    index = {d: i for i, d in enumerate(domains)}
    rates = {}
    for m in models_of(rows):
        hits = np.zeros(len(domains))
        seen = np.zeros(len(domains))
        for i, r in enumerate(rows):
            if train[i] and m in r["labels"]:
                d = index[domain_of(r)]
                seen[d] += 1
                hits[d] += r["labels"][m]
        overall = hits.sum() / seen.sum()
        rates[m] = (hits + strength * overall) / (seen + strength)
    return rates


def domain_prior(rows, prompts, x, val):
    domains, probs = domain_classifier(rows, x, ~val)
    truth = np.array([domains.index(domain_of(r)) for r in rows])
    print(f"  domain accuracy on validation: {(probs.argmax(1) == truth)[val].mean():.3f}")
    rates = domain_rates(rows, domains, ~val)
    return {m: probs @ rates[m] for m in rates}


K, TEMPERATURE, PRIOR_WEIGHT = 50, 10.0, 5.0


def quantize(x):
    """Neighbour vectors as the bundle stores them: int8, value = q / 127."""
    return np.clip(np.round(x * 127), -127, 127).astype(np.int8)


def knn_quality(rows, x, keys, train, models, prior, k=None, temperature=None, at=None):
    """Similarity-weighted label mean of the K nearest training prompts, shrunk to `prior`,
    for the rows `at` (default all). `keys` are the (dequantized) vectors of all rows; a row is
    never its own neighbour.
    """
    k = k or K
    temperature = temperature or TEMPERATURE
    at = np.arange(len(rows)) if at is None else np.asarray(at)
    out = {}
    for m in models:
        idx, y = labelled(rows, m, train)
        q = np.zeros(len(at))
        for start in range(0, len(at), 2048):
            part = at[start:start + 2048]
            sims = x[part].astype(np.float32) @ keys[idx].T
            sims[part[:, None] == idx[None, :]] = -np.inf
            top = np.argpartition(-sims, k, axis=1)[:, :k]
            w = np.exp(np.take_along_axis(sims, top, 1).astype(np.float64) * temperature)
            q[start:start + len(part)] = ((w * y[top]).sum(1) + PRIOR_WEIGHT * prior[m]) / (
                w.sum(1) + PRIOR_WEIGHT)
        out[m] = q
    return out


def knn(rows, prompts, x, val, k=None, temperature=None):
    keys = quantize(x).astype(np.float32) / 127
    models = models_of(rows)
    prior = {m: labelled(rows, m, ~val)[1].mean() for m in models}
    return knn_quality(rows, x, keys, ~val, models, prior, k, temperature)


def blend(rows, prompts, x, val):
    parts = [lr(rows, prompts, x, val), domain_prior(rows, prompts, x, val),
             knn(rows, prompts, x, val)]
    return {m: sum(p[m] for p in parts) / len(parts) for m in parts[0]}
