"""Fitting the expression model in plain numpy: class-balanced softmax regression (or a small MLP), person-grouped
folds, temperature scaling and the prior correction. Seeded: the same data and seed give the same weights."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Standardised inputs are clipped to this many standard deviations: a blendshape that is almost always 0 in
#: training (mouthClose) must not dominate the answer when a new photo's value is far out in its tail.
CLIP = 4.0


def standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale, clipped to ±CLIP; unmeasured values (NaN) become the training mean (0)."""
    return np.clip(np.nan_to_num((x - mean) / scale, nan=0.0), -CLIP, CLIP)


@dataclass(frozen=True)
class FitSettings:
    """How a model is fitted; the defaults are those of the shipped model."""

    hidden: int = 0  # 0: logistic regression
    l2: float = 0.1  # weight decay on the standardised inputs
    epochs: int = 600
    learning_rate: float = 0.05
    #: 1: every class weighs the same in the loss (balanced); 0: as often as it occurs. In between: counts^-power.
    balance: float = 1.0
    #: Share of the training prior put back at prediction time (0: balanced answers, 1: the training mix;
    #: below 0 favours the rare labels further, trading accuracy for mean recall).
    prior_strength: float = -0.1
    #: Training on several folders: a photo weighs (photos of its label / photos of its label in its folder)
    #: ** folder_balance. 0: as many photos, as much say; 1: a folder's photos of a label weigh as much as
    #: another folder's, however few; 0.5: a small, cleanly labelled set counts more than its size.
    folder_balance: float = 0.5
    #: Train on each photo's mirror image too (its features measured on the flipped photo): a face and its
    #: mirror show the same expression, so the answer should not depend on which side moves more.
    mirror: bool = True
    seed: int = 0


@dataclass
class Network:
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = standardise(x, self.mean, self.scale)
        for i, (w, b) in enumerate(self.layers):
            z = z @ w + b
            if i < len(self.layers) - 1:
                z = np.maximum(z, 0.0)
        return z


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales, ignoring NaN (unmeasured); columns never measured (a model trained without an
    appearance backend) get mean 0, constant columns scale 1."""
    measured = np.isfinite(x)
    count = np.maximum(measured.sum(axis=0), 1)
    mean = np.where(measured, x, 0.0).sum(axis=0) / count
    scale = np.sqrt(np.where(measured, (x - mean) ** 2, 0.0).sum(axis=0) / count)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def class_weights(y: np.ndarray, k: int, balance: float) -> np.ndarray:
    """Per-sample weights: counts^-balance per class, normalised to mean 1."""
    counts = np.bincount(y, minlength=k).astype(np.float64)
    per_class = np.where(counts > 0, np.maximum(counts, 1.0) ** -balance, 0.0)
    w = per_class[y]
    return w / w.mean()


def folder_weights(folders: Sequence[str], y: np.ndarray, power: float) -> np.ndarray:
    """Per-sample weights (see ``FitSettings.folder_balance``); all 1 when the photos come from one folder."""
    cells = [f"{f}\0{label}" for f, label in zip(folders, y.tolist(), strict=True)]
    per_cell = Counter(cells)
    per_label = Counter(y.tolist())
    return np.array(
        [(per_label[label] / per_cell[c]) ** power for c, label in zip(cells, y.tolist(), strict=True)]
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_network(
    x: np.ndarray, y: np.ndarray, k: int, settings: FitSettings, sample_weight: np.ndarray | None = None
) -> Network:
    """Weighted softmax cross-entropy with L2, full-batch Adam (the data are thousands of rows, not millions).

    ``sample_weight`` multiplies the class-balancing weights (e.g. to give a small studio set a say)."""
    rng = np.random.default_rng(settings.seed)
    mean, scale = standardiser(x)
    z = standardise(x, mean, scale)
    n, d = z.shape
    weights = class_weights(y, k, settings.balance)
    if sample_weight is not None:
        weights = weights * sample_weight / np.mean(weights * sample_weight) * weights.mean()
    onehot = np.eye(k)[y]
    sizes = [d, settings.hidden, k] if settings.hidden else [d, k]
    params: list[np.ndarray] = []
    for a, b in itertools.pairwise(sizes):
        params += [rng.normal(0.0, np.sqrt(2.0 / a) if settings.hidden else 0.01, (a, b)), np.zeros(b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2 = 0.9, 0.999
    for step in range(1, settings.epochs + 1):
        acts = [z]
        h = z
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = np.maximum(h, 0.0)
            acts.append(h)
        grad_out = (_softmax(acts[-1]) - onehot) * weights[:, None] / n
        grads: list[np.ndarray] = [np.empty(0)] * len(params)
        g = grad_out
        for i in range(len(params) - 2, -1, -2):
            inp = acts[i // 2]
            grads[i] = inp.T @ g + settings.l2 * params[i]
            grads[i + 1] = g.sum(axis=0)
            if i > 0:
                g = (g @ params[i].T) * (inp > 0)
        lr = settings.learning_rate * (0.1 + 0.9 * (1 - step / settings.epochs))  # linear decay to 10 %
        for j, p in enumerate(params):
            m[j] = beta1 * m[j] + (1 - beta1) * grads[j]
            v[j] = beta2 * v[j] + (1 - beta2) * grads[j] ** 2
            p -= lr * (m[j] / (1 - beta1**step)) / (np.sqrt(v[j] / (1 - beta2**step)) + 1e-8)
    layers = [(params[i], params[i + 1]) for i in range(0, len(params), 2)]
    return Network(mean, scale, layers)


def log_prior(y: np.ndarray, k: int, settings: FitSettings) -> np.ndarray:
    """Logit offsets that undo the class balancing by ``prior_strength`` (Bayes' rule on the priors)."""
    counts = np.bincount(y, minlength=k).astype(np.float64) + 1.0
    trained_prior = counts ** (1.0 - settings.balance)
    offset = settings.prior_strength * (
        np.log(counts / counts.sum()) - np.log(trained_prior / trained_prior.sum())
    )
    return offset - offset.mean()


def fit_temperature(logits: np.ndarray, y: np.ndarray, offset: np.ndarray) -> float:
    """The temperature that minimises the out-of-fold negative log-likelihood (golden-section on log T)."""

    def nll(log_t: float) -> float:
        p = _softmax((logits + offset) / np.exp(log_t))
        return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())

    lo, hi = np.log(0.2), np.log(5.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def grouped_folds(groups: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold index per row; all rows of one group (person) in one fold, folds of similar size."""
    rng = np.random.default_rng(seed)
    unique, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    order = rng.permutation(len(unique))
    order = order[np.argsort(-counts[order], kind="stable")]  # big groups first, ties in random order
    load = np.zeros(folds)
    fold_of = np.empty(len(unique), dtype=int)
    for g in order:
        fold_of[g] = int(np.argmin(load))
        load[fold_of[g]] += counts[g]
    return fold_of[inverse]
