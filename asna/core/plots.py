"""Figures people would rather look at than read: training curves, grouped bar charts."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asna.core.paths import atomic_write  # noqa: E402


def save_figure(figure, path: str | Path, **options) -> Path:
    """Save under a temporary name, then rename, so no half-written image is left.

    ``options`` go to ``Figure.savefig`` (defaults: ``dpi=120, bbox_inches="tight"``).
    """
    options = {"dpi": 120, "bbox_inches": "tight", **options}
    try:
        return atomic_write(path, lambda temporary: figure.savefig(temporary, **options))
    finally:
        plt.close(figure)


def plot_training_curves(log_csv: str | Path, out: str | Path, title: str = "") -> None:
    """Loss and validation correlations per epoch from a Keras CSV log."""
    import pandas as pd

    table = pd.read_csv(log_csv)
    epochs = table["epoch"] + 1
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for column, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        if column in table:
            loss_axis.plot(epochs, table[column], marker="o", label=label)
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_axis.legend()
    for column, label in (("val_srcc", "validation SRCC"), ("val_plcc", "validation PLCC")):
        if column in table:
            score_axis.plot(epochs, table[column], marker="o", label=label)
    score_axis.set(xlabel="epoch", ylabel="correlation", title="whole validation set")
    score_axis.legend()
    if title:
        figure.suptitle(title)
    save_figure(figure, out)


def plot_grouped_bars(path: str | Path, groups: Sequence[str], series: dict[str, Sequence[float]],
                      errors: dict[str, Sequence[float]] | None = None, ylabel: str = "",
                      title: str = "") -> Path:
    """One group of bars per entry of ``groups``, one bar per series (NaN: no bar), optional error bars.

    The figure widens with the number of bars so 25 types x 7 methods stay readable;
    the y range holds every bar and error bar, and 0.
    """
    count = max(1, len(series))
    width = 0.8 / count
    figure, axis = plt.subplots(figsize=(min(40.0, max(6.0, 0.11 * len(groups) * count + 2.5)), 4.8))
    positions = np.arange(len(groups))
    ends = [0.0]
    for index, (name, values) in enumerate(series.items()):
        heights = np.asarray(values, dtype=np.float64)
        spread = np.asarray(errors[name], dtype=np.float64) if errors and name in errors else None
        axis.bar(positions + (index - (count - 1) / 2) * width, heights, width, label=name,
                 yerr=None if spread is None else np.nan_to_num(spread), capsize=2 if spread is not None else 0)
        margin = np.nan_to_num(spread) if spread is not None else 0.0
        ends += [float(v) for v in np.concatenate([heights - margin, heights + margin]) if np.isfinite(v)]
    axis.set_xticks(positions, groups, rotation=60, ha="right", fontsize=8)
    axis.set_xlim(-0.6, len(groups) - 0.4)
    axis.set_ylim(min(ends) - 0.05 if min(ends) < 0 else 0.0, max(1.0, max(ends) + 0.02))
    axis.axhline(0.0, color="black", linewidth=0.6)
    axis.set(ylabel=ylabel, title=title)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over a bar
    return save_figure(figure, path)
