"""Correlation metrics as plain NumPy functions (SRCC, PLCC, KRCC, RMSE, main score).

These are the numbers reported after training and in evaluation; they are
computed on whole sets, never averaged over batches. Ties get average ranks,
as SciPy does.

A correlation with a constant vector is undefined: it is NaN here (never 0.0,
which would read as "no relation"), and reports write it as ``null``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _as_vectors(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"score vectors differ in length: {true.size} and {pred.size}")
    if true.size < 2:
        raise ValueError("correlations need at least two scores")
    return true, pred


def plcc(y_true, y_pred) -> float:
    """Pearson's linear correlation coefficient; NaN when either vector is constant."""
    true, pred = _as_vectors(y_true, y_pred)
    true, pred = true - true.mean(), pred - pred.mean()
    denominator = np.sqrt((true ** 2).sum() * (pred ** 2).sum())
    return float((true * pred).sum() / denominator) if denominator > 0 else float("nan")


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    return stats.rankdata(np.asarray(values, dtype=np.float64).reshape(-1), method="average")


def srcc(y_true, y_pred) -> float:
    """Spearman's rank correlation: PLCC of the average ranks; NaN when either vector is constant."""
    true, pred = _as_vectors(y_true, y_pred)
    return plcc(average_ranks(true), average_ranks(pred))


def krcc(y_true, y_pred) -> float:
    """Kendall's tau-b (ties accounted for), as in the IQA literature; NaN when undefined."""
    true, pred = _as_vectors(y_true, y_pred)
    if np.all(true == true[0]) or np.all(pred == pred[0]):
        return float("nan")  # SciPy also warns here; the value is undefined either way
    return float(stats.kendalltau(true, pred).statistic)


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, on whatever scale both vectors are given."""
    true, pred = _as_vectors(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def main_score(y_true, y_pred) -> float:
    """The NTIRE 2021 challenge's main score: SRCC + PLCC."""
    return srcc(y_true, y_pred) + plcc(y_true, y_pred)


def all_metrics(y_true, y_pred) -> dict[str, float]:
    """Every metric above in one dict, keyed by lower-case name."""
    rank, linear = srcc(y_true, y_pred), plcc(y_true, y_pred)
    return {"srcc": rank, "plcc": linear, "krcc": krcc(y_true, y_pred), "rmse": rmse(y_true, y_pred),
            "main_score": rank + linear}
