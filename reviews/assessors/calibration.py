"""The calibrated decision of the offline assessor: logistic regression on lexical evidence.

``P(addressed) = sigmoid(w . x + b)`` over :data:`reviews.assessors.lexical.FEATURES`; a practice is
``addressed`` when the probability reaches :attr:`Calibration.threshold`, ``partly`` when it
reaches half of it (or a concept matched), else ``not_addressed`` / ``insufficient_information``.

:func:`fit` is L2-regularised logistic regression by Newton's method (iteratively reweighted
least squares, Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 4.4.1), with
the decision threshold chosen to maximise F1 on the fitting data. The penalty :data:`L2` = 1.0
(the bias is not shrunk) was chosen looking at both documents' leave-one-document-out F1 once
the two implementation-phrase features joined the six lexical ones (eight weights from about
300 practices per document): quick DR / IDP 0.739 / 0.775 at 0.01, 0.753 / 0.774 at 0.1,
0.755 / 0.786 at 0.3, 0.755 / 0.791 at 1.0, 0.764 / 0.796 at 3.0; deep 0.738 / 0.800, 0.729 /
0.806, 0.731 / 0.803, 0.737 / 0.796, 0.734 / 0.774 (the highest mean of the four at 1.0). A
threshold at the middle of the training F1 plateau instead of its maximum was measured and
dropped (within 0.01, lower mean). The shipped weights
(:data:`SHIPPED`) were fitted on both labelled development documents (quick and deep mode
separately); ``benchmarks/review_accuracy.py --lodo`` refits leave-one-document-out and reports
each document scored by weights fitted only on the other one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """Weights (one per feature), bias, and the probability threshold for ``addressed``."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, x: list[float]) -> float:
        """P(addressed) for one feature vector."""
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


#: the L2 penalty of :func:`fit` (see the module docstring for the figures it was chosen on)
L2 = 1.0


def fit(xs: list[list[float]], ys: list[bool], l2: float = L2) -> Calibration:
    """Fit weights and the F1-maximising threshold on labelled feature vectors.

    Raises:
        ValueError: no examples, or only one class.
    """
    if not xs or len(set(ys)) < 2:
        raise ValueError("fit needs labelled examples of both classes")
    x = np.hstack([np.asarray(xs, dtype=float), np.ones((len(xs), 1))])
    y = np.asarray(ys, dtype=float)
    beta = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        grad = x.T @ (p - y) + penalty @ beta
        hess = (x.T * (p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    probs = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
    best, best_f1 = 0.5, -1.0
    for t in np.linspace(0.1, 0.9, 81):
        pred = probs >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return Calibration(
        weights=tuple(round(float(b), 4) for b in beta[:-1]),
        bias=round(float(beta[-1]), 4),
        threshold=round(best, 3),
    )


#: fitted on both development documents (see the module docstring); refit with
#: ``benchmarks/review_accuracy.py --fit``
SHIPPED: dict[str, Calibration] = {
    "quick": Calibration(
        weights=(0.4939, 0.7973, 1.8226, 2.0404, 0.3281, -0.0167, 0.9452, 1.5026, 1.6698),
        bias=-2.0789,
        threshold=0.26,
    ),
    "deep": Calibration(
        weights=(0.1366, 1.1824, 1.4236, 1.5742, 0.6703, -0.1094, 0.9434, 0.4164, 0.9932),
        bias=-2.3419,
        threshold=0.37,
    ),
}
