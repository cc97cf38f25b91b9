"""Drawing a quality map: the distorted image with its local scores laid over it, worse = warmer.

The colours are matplotlib's ``RdYlBu`` (red, yellow, blue) on the score's own
scale: the low (worse) end of the range red, the high end blue, so damage
shows as a warm patch. Pixels the models never saw (NaN) keep the image,
dimmed. Two outputs: an RGB array for the HTML report (no figure, so it is
cheap) and a PNG figure with a colour bar and the score in its title.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

COLOURS = "RdYlBu"
"""Low scores red, high scores blue: a warm patch is a worse region."""

OPACITY = 0.6
"""How much of a pixel the map's colour covers; the rest is the distorted image."""


def value_range(*maps: np.ndarray, extra: tuple[float, ...] = ()) -> tuple[float, float]:
    """The finite values' range over ``maps`` (and ``extra`` values), never of zero width."""
    finite = [np.asarray(m, np.float64)[np.isfinite(m)] for m in maps]
    values = np.concatenate([*finite, np.asarray(extra, np.float64)])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        margin = max(abs(low) * 0.01, 1e-3)
        low, high = low - margin, high + margin
    return low, high


def colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(H, W, 3) float colours in [0, 1] of ``values`` on ``[low, high]``; NaN gets NaN."""
    from matplotlib import colormaps

    scaled = np.clip((np.asarray(values, np.float64) - low) / (high - low), 0.0, 1.0)
    rgb = colormaps[COLOURS](np.nan_to_num(scaled, nan=0.5))[..., :3]
    rgb[~np.isfinite(values)] = np.nan
    return rgb


def overlay(image: np.ndarray, values: np.ndarray, low: float, high: float) -> np.ndarray:
    """The uint8 image with the map's colours laid over it at :data:`OPACITY`; uncovered pixels dimmed."""
    base = np.asarray(image, np.float64) / 255.0
    tint = colours(values, low, high)
    covered = np.isfinite(tint[..., :1])
    mixed = np.where(covered, (1.0 - OPACITY) * base + OPACITY * np.nan_to_num(tint), 0.45 * base)
    return np.rint(mixed * 255.0).astype(np.uint8)


def colour_stops(count: int = 9) -> list[str]:
    """The colour scale as CSS colours from the low end to the high end (for an HTML colour bar)."""
    from matplotlib import colormaps

    rgb = colormaps[COLOURS](np.linspace(0.0, 1.0, count))[:, :3]
    return [f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}" for r, g, b in rgb]


def save_map_figure(path: str | os.PathLike, distorted: np.ndarray, values: np.ndarray, score: float,
                    name: str, low: float | None = None, high: float | None = None) -> Path:
    """A PNG (or any matplotlib format): the overlay, a colour bar on the score's scale, the score in the title."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from asna.core.plots import save_figure

    if low is None or high is None:
        low, high = value_range(values, extra=(score,))
    height, width = values.shape
    figure, axis = plt.subplots(figsize=(7.0, 7.0 * height / width + 0.9), layout="constrained")
    axis.imshow(overlay(distorted, values, low, high))
    axis.set_title(f"Image Quality Score: {score:.4f}\n{Path(name).name}: local scores, worse = warmer",
                   fontsize=10)
    axis.axis("off")
    bar = figure.colorbar(ScalarMappable(Normalize(low, high), COLOURS), ax=axis, shrink=0.85)
    bar.set_label("local score (higher is better)")
    bar.ax.axhline(score, color="black", linewidth=1.5)
    return save_figure(figure, path)
