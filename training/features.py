"""Predictor designs compared by research.py.

Each design takes (rows, prompts, x, val) and returns {model: quality per row}, fit on the rows
where `val` is false only. Hyper-parameters are picked by cross-validation inside those rows.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold


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


def pick_c(x, y, grid=(0.1, 0.3, 1.0, 3.0)):
    """C with the lowest 5-fold log loss."""
    best, best_loss = grid[0], np.inf
    folds = KFold(5, shuffle=True, random_state=0)
    for c in grid:
        loss = 0.0
        for tr, te in folds.split(x):
            p = np.clip(logistic(x[tr], y[tr], c).predict_proba(x[te])[:, 1], 1e-6, 1 - 1e-6)
            loss -= (y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p)).sum()
        if loss < best_loss:
            best, best_loss = c, loss
    return best


def base_rate(rows, prompts, x, val):
    out = {}
    for m in models_of(rows):
        _, y = labelled(rows, m, ~val)
        out[m] = np.full(len(rows), y.mean())
    return out


def lr(rows, prompts, x, val, c=1.0):
    out = {}
    for m in models_of(rows):
        idx, y = labelled(rows, m, ~val)
        out[m] = logistic(x[idx], y, c).predict_proba(x)[:, 1]
    return out


def lr_cv(rows, prompts, x, val):
    out = {}
    for m in models_of(rows):
        idx, y = labelled(rows, m, ~val)
        c = pick_c(x[idx], y)
        print(f"  {m}: C={c}", flush=True)
        out[m] = logistic(x[idx], y, c).predict_proba(x)[:, 1]
    return out


def domain_classifier(rows, x, train, c=10.0):
    """P(domain | prompt) for every row, from a multinomial logistic regression."""
    domains = sorted({domain_of(r) for r in rows})
    index = {d: i for i, d in enumerate(domains)}
    y = np.array([index[domain_of(r)] for r in rows])
    clf = LogisticRegression(C=c, max_iter=3000).fit(x[train], y[train])
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


def true_domain_prior(rows, prompts, x, val):
    """Upper bound for priors: the true subject, which the browser does not have."""
    domains = sorted({domain_of(r) for r in rows})
    rates = domain_rates(rows, domains, ~val)
    d = np.array([domains.index(domain_of(r)) for r in rows])
    return {m: rates[m][d] for m in rates}


def knn(rows, prompts, x, val, k=50, prior=None):
    """Similarity-weighted label mean of the k nearest training prompts, shrunk to a prior."""
    out = {}
    prior = prior if prior is not None else base_rate(rows, prompts, x, val)
    for m in models_of(rows):
        idx, y = labelled(rows, m, ~val)
        q = np.zeros(len(rows))
        for start in range(0, len(rows), 2048):
            sims = x[start:start + 2048] @ x[idx].T
            # a training row is not its own neighbour
            own = np.isin(np.arange(start, min(start + 2048, len(rows)))[:, None], idx[None, :])
            sims[own & (np.arange(start, min(start + 2048, len(rows)))[:, None] == idx[None, :])] = -2
            top = np.argpartition(-sims, k, axis=1)[:, :k]
            w = np.exp(np.take_along_axis(sims, top, 1) * 10)
            q[start:start + 2048] = ((w * y[top]).sum(1) + 5 * prior[m][start:start + 2048]) / (
                w.sum(1) + 5)
        out[m] = q
    return out


def lr_domain(rows, prompts, x, val):
    """Logistic regression on the embedding and the predicted domain distribution."""
    _, probs = domain_classifier(rows, x, ~val)
    z = np.hstack([x, probs * 3])
    out = {}
    for m in models_of(rows):
        idx, y = labelled(rows, m, ~val)
        out[m] = logistic(z[idx], y, 1.0).predict_proba(z)[:, 1]
    return out


def knn_domain(rows, prompts, x, val):
    return knn(rows, prompts, x, val, prior=domain_prior(rows, prompts, x, val))


def blend(rows, prompts, x, val):
    parts = [lr(rows, prompts, x, val), domain_prior(rows, prompts, x, val),
             knn(rows, prompts, x, val)]
    return {m: sum(p[m] for p in parts) / len(parts) for m in parts[0]}


DESIGNS = {
    "base-rate": base_rate,
    "lr": lr,
    "lr-cv": lr_cv,
    "domain-prior": domain_prior,
    "true-domain-prior": true_domain_prior,
    "knn": knn,
    "knn-domain": knn_domain,
    "lr-domain": lr_domain,
    "blend": blend,
}
