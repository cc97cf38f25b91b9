"""Per-reference figures from a labelled set's predictions CSV: where a pooled SRCC is lost.

On a set whose labels belong to the condition, not to the photograph (the built-in set: KADID's
per-(type, level) means, the same on every photograph), a method can order each photograph's
pairs well and still lose the pooled SRCC by scoring one photograph's pairs higher on the whole
than another's. This splits the pooled figure in two:

* ``within``: the pooled SRCC after each reference's values are replaced by their ranks within
  that reference, so offsets between references no longer count (meaningful when every
  reference carries the same conditions, as the built-in sets do);
* per reference: the SRCC over its pairs, and ``offset``, the mean of its pairs' values in
  standard deviations of the method over the whole set, minus the same mean of the labels
  (positive: the method finds this photograph's pairs better than their labels say).

The CSV is the one every report writes (``--csv``, the demo's ``*predictions.csv``): columns
``reference``, ``mos`` and one per method; GMSD is negated, as in every table.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from asna.core import metrics
from asna.core.errors import UserError
from asna.evaluation.per_type import PairTypes, type_blocks
from asna.evaluation.report import METHODS, ROW_NAMES, oriented


def read_predictions(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(references, labels, {method: oriented values})`` of a predictions CSV; one line if it lacks a column."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read it as a predictions CSV ({error})") from None
    missing = [column for column in ("reference", "mos") if column not in table.columns]
    if missing:
        raise UserError(f"{path}: no {' or '.join(missing)} column; give a predictions CSV a report wrote (--csv)")
    methods = {method: oriented(method, table[method].to_numpy()) for method in METHODS if method in table.columns}
    return table["reference"].astype(str).to_numpy(), table["mos"].to_numpy(np.float64), methods


def within_reference_ranks(references: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value replaced by its rank among its own reference's values."""
    ranks = np.empty(len(values), np.float64)
    for reference in np.unique(references):
        chosen = references == reference
        ranks[chosen] = metrics.average_ranks(values[chosen])
    return ranks


def standardised(values: np.ndarray) -> np.ndarray:
    """Values in standard deviations from their mean (all zero for constant values)."""
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def per_reference(references: np.ndarray, labels: np.ndarray, methods: dict[str, np.ndarray]) -> dict[str, dict]:
    """``{method: {pooled, within, references: {name: {pairs, srcc, offset}}}}`` (see the module's docstring).

    Each reference's SRCC is the per-type figure's (``asna.evaluation.per_type``), the reference in the type's place.
    """
    groups = type_blocks(labels, methods, PairTypes(list(references)))
    label_z = standardised(labels)
    report = {}
    for method, values in methods.items():
        value_z = standardised(values)
        rows = {name: {"pairs": block["pairs"], "srcc": block[method],
                       "offset": float(value_z[references == name].mean() - label_z[references == name].mean())}
                for name, block in groups.items()}
        report[ROW_NAMES.get(method, method)] = {
            "pooled": metrics.srcc(labels, values),
            "within": metrics.srcc(labels, within_reference_ranks(references, values)),
            "references": rows}
    return report


def table_text(report: dict[str, dict]) -> str:
    """The report as a fixed-width table: a row per method, SRCC and offset per reference."""
    names = list(next(iter(report.values()))["references"])
    header = f"{'method':<9} {'pooled':>7} {'within':>7}" + "".join(f" {name[:14]:>15}" for name in names)
    lines = [header, " " * 25 + "".join(f" {'srcc  offset':>15}" for _ in names)]
    for method, row in report.items():
        cells = "".join(f" {row['references'][name]['srcc']:>6.3f} {row['references'][name]['offset']:>+7.2f}"
                        for name in names)
        lines.append(f"{method:<9} {row['pooled']:>7.4f} {row['within']:>7.4f}{cells}")
    return "\n".join(lines)
