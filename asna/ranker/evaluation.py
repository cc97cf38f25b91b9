"""How well a ranker stands in for Spearman's correlation.

For pairs of N(0, 1) vectors, the surrogate Spearman
``1 - 6 ||R(a) - R(b)||^2 / (L (L^2 - 1))`` is compared with SciPy's exact value.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats


def surrogate_spearman(ranks_a: np.ndarray, ranks_b: np.ndarray) -> np.ndarray:
    """Spearman's formula applied to (possibly soft) ranks, row by row."""
    length = ranks_a.shape[-1]
    return 1.0 - 6.0 * np.sum((ranks_a - ranks_b) ** 2, axis=-1) / (length * (length ** 2 - 1))


def true_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SciPy's Spearman correlation of each row pair."""
    return np.array([stats.spearmanr(row_a, row_b).statistic for row_a, row_b in zip(a, b)])


def spearman_errors(rank_fn: Callable[[np.ndarray], np.ndarray], num_tests: int,
                    length: int, seed: int = 0) -> dict[str, float]:
    """Absolute errors of the surrogate over ``num_tests`` random pairs: mean, median, p95, max."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(num_tests, length)).astype(np.float32)
    b = rng.normal(size=(num_tests, length)).astype(np.float32)
    errors = np.abs(surrogate_spearman(np.asarray(rank_fn(a), np.float64),
                                       np.asarray(rank_fn(b), np.float64)) - true_spearman(a, b))
    return {"mae": float(errors.mean()), "median": float(np.median(errors)),
            "p95": float(np.percentile(errors, 95)), "max": float(errors.max())}
