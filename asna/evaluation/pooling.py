"""Tile scores -> one image score: how ``--fit tile`` combines the tiles of a large image.

The scores pooled here are the networks' standardised outputs of each tile
(already averaged over the TTA variants), where **higher is better**: a tile
that looks more like its reference scores higher. Pooling happens per model,
before the sidecar maps the score back to a MOS scale; that map is
``p * std + mean`` with ``std > 0``, so it keeps the order of tiles and every
method below gives the same image ranking before or after it.

* ``mean`` — the plain mean of the tiles (what the scorer always did): a flat
  sky tile counts as much as a textured one.
* ``worst`` — the mean of the lower half of the tile scores (the worse
  ``ceil(n / 2)``): quality is decided where the image is worst, the
  spread-aware pooling of the IQA literature (percentile / worst-region pooling).
* ``structure`` — a mean weighted by the reference tile's local structure, its
  mean gradient magnitude in grey levels: distortions show in texture and edges
  and hide in flat regions. Each weight has a floor of ``STRUCTURE_FLOOR`` times
  the mean weight, so a flat tile still counts a little; an image whose tiles
  are all flat gets the plain mean.

An image scored in one piece (``--fit whole``) or by its central crop has one
tile, and every method gives that tile's score.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from asna.evaluation import POOL_METHODS

STRUCTURE_FLOOR = 0.2
"""A tile's structure weight is at least this fraction of the image's mean weight."""

GREY = np.array([0.299, 0.587, 0.114])
"""ITU-R BT.601 luma weights: the grey level the gradients are taken on."""


def check_pool(method: str) -> str:
    """``method`` if it is a pooling method; a ``ValueError`` otherwise (the callers check choices first)."""
    if method not in POOL_METHODS:
        raise ValueError(f"unknown tile pooling {method!r}; choose from {', '.join(POOL_METHODS)}")
    return method


def gradient_magnitude(tile: np.ndarray) -> float:
    """Mean gradient magnitude of an (H, W, 3) tile's grey level, in grey levels per pixel."""
    grey = np.asarray(tile, np.float64) @ GREY
    rows, columns = np.diff(grey, axis=0)[:, :-1], np.diff(grey, axis=1)[:-1, :]
    return float(np.hypot(rows, columns).mean()) if rows.size else 0.0


def tile_structure(reference_tiles: Sequence[np.ndarray]) -> np.ndarray:
    """The structure of each reference tile: the raw material of ``structure`` pooling's weights."""
    return np.array([gradient_magnitude(tile) for tile in reference_tiles], dtype=np.float64)


def structure_weights(structure: np.ndarray) -> np.ndarray:
    """Weights summing to 1 from tile structures, floored at ``STRUCTURE_FLOOR`` x their mean."""
    structure = np.asarray(structure, np.float64)
    mean = structure.mean()
    if not mean > 0:  # every tile flat: no tile says more than another
        return np.full(len(structure), 1.0 / len(structure))
    weights = np.maximum(structure, STRUCTURE_FLOOR * mean)
    return weights / weights.sum()


def pool_scores(scores: np.ndarray, method: str, structure: np.ndarray | None = None) -> np.ndarray:
    """Pool the last axis (tiles) of ``scores``: one value per leading index (e.g. per model).

    ``structure`` (from :func:`tile_structure`) is needed by ``structure`` only.
    The mean is summed in tile order in float64, as the scorer always summed
    tiles, so ``mean`` gives today's score bit for bit.
    """
    check_pool(method)
    scores = np.asarray(scores, np.float64)
    count = scores.shape[-1]
    if count == 0:
        raise ValueError("no tile scores to pool")
    if method == "mean":
        return np.cumsum(scores, axis=-1)[..., -1] / count
    if method == "worst":
        lower = np.sort(scores, axis=-1)[..., :math.ceil(count / 2)]
        return np.cumsum(lower, axis=-1)[..., -1] / lower.shape[-1]
    if structure is None or len(structure) != count:
        raise ValueError(f"structure pooling needs one structure value per tile ({count})")
    return scores @ structure_weights(structure)


def pool_tiles(scores: np.ndarray, reference_tiles: Sequence[np.ndarray], method: str) -> np.ndarray:
    """The image score(s) of tile ``scores`` (tiles on the last axis) and the reference's tiles."""
    structure = tile_structure(reference_tiles) if check_pool(method) == "structure" else None
    return pool_scores(scores, method, structure)
