"""Figures people would rather look at than read: training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asna.paths import atomic_write  # noqa: E402


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
