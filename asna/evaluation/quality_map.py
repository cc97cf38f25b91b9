"""Where a pair loses its score: the local judgements the score is pooled from, as a map at the image's size.

The map is not a second model. It is made of what the score is made of:

* a **flatten head** (fixed input size) scores each window the image is cut
  into (``fit``): with ``tile`` the tile scores that :mod:`asna.evaluation.pooling`
  pools into the image's score, with ``center`` the one central window;
* a **pooled head** scores each position of its 1/8-scale feature map: a
  quality ``q`` and a weight ``w``, whose weighted mean the head's last two
  dense layers ``f`` turn into the window's score, ``f(sum(w q) / sum(w))``.
  The map shows ``f(q)`` at every position, the score each position would give
  on its own; ``f`` is monotone, so a window's score lies between its
  positions' lowest and highest values.

Each model's map is on its sidecar's scale (``p * std + mean``, like the
score), averaged over the TTA variants (geometric variants are turned back
before the mean) and over the models of an ensemble. Where windows overlap a
pixel gets the mean of the windows covering it; pixels no window covers (the
margins of ``center`` and of ``whole``'s crop to multiples of 16) are NaN.
Higher is better, as for the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from asna.evaluation import DEFAULT_FIT, DEFAULT_POOL, pooling, tta
from asna.evaluation.scorer import check_pair_sizes, cut_tiles, resolve_fit, tile_windows

POSITION_LAYERS = ("head_quality", "head_squash", "score")
"""The pooled head's layers (``asna.models.blocks.pooled_head``) a position map is read from."""


@dataclass(frozen=True)
class QualityMap:
    """A pair's local scores at the image's size, and the pair's score.

    ``values``: (H, W) float64 on the score's scale, higher is better, NaN
    where no model input covers the pixel; ``score``: the pair's score exactly
    as :meth:`QualityScorer.score_pairs` gives it; ``kind``: ``tiles`` (a
    window's score per window) or ``positions`` (a pooled head's per-position
    scores), ``mixed`` for an ensemble of both.
    """

    values: np.ndarray
    score: float
    kind: str
    fit: str

    def mean_over(self, rows: slice = slice(None), columns: slice = slice(None)) -> float:
        """The mean of the covered pixels in a region (NaN pixels left out)."""
        return float(np.nanmean(self.values[rows, columns]))


def paint(shape: tuple[int, int], placed: Sequence[tuple[int, int, int, int]],
          grids: Sequence[np.ndarray]) -> np.ndarray:
    """Each window's grid stretched over its pixels (nearest cell), overlaps averaged, the rest NaN."""
    total = np.zeros(shape, np.float64)
    count = np.zeros(shape, np.float64)
    for (top, left, height, width), grid in zip(placed, grids):
        grid = np.asarray(grid, np.float64)
        grid = grid.reshape(1, 1) if grid.ndim < 2 else grid
        rows = np.arange(height) * grid.shape[0] // height
        columns = np.arange(width) * grid.shape[1] // width
        total[top:top + height, left:left + width] += grid[rows][:, columns]
        count[top:top + height, left:left + width] += 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


# ----------------------------------------------------------------------------- a pooled head's positions


_TRACED: dict[int, tuple[Any, Any]] = {}
"""Traced position heads by model, kept while their model lives here (so an id is never reused)."""


def position_head(model: Any) -> Any | None:
    """A traced function of a pair batch returning a pooled head's quality map ``q`` (batch, h, w, 1),
    or None for a model without that head. Traced once per model, its batch size free."""
    names = {layer.name for layer in getattr(model, "layers", [])}
    if not set(POSITION_LAYERS) <= names:
        return None
    if id(model) not in _TRACED:
        import keras
        import tensorflow as tf

        quality = keras.Model(model.inputs, model.get_layer("head_quality").output)
        specs = [tf.TensorSpec((None, *tensor.shape[1:]), tf.uint8) for tensor in model.inputs]
        _TRACED[id(model)] = (model, tf.function(lambda r, d: quality([r, d], training=False),
                                                 input_signature=specs, reduce_retracing=True))
    return _TRACED[id(model)][1]


def head_function(model: Any, quality: np.ndarray) -> np.ndarray:
    """``f(q)``: the head's last two dense layers applied to each position's quality (standardised score)."""
    flat = np.asarray(quality, np.float32).reshape(-1, 1)
    squashed = model.get_layer("head_squash")(flat)
    return np.asarray(model.get_layer("score")(squashed), np.float64).reshape(np.shape(quality))


def undo_variant(name: str, maps: np.ndarray) -> np.ndarray:
    """A (N, h, w) map of a TTA variant's input put back in the original image's orientation."""
    if name.startswith("rotate_"):
        return np.rot90(maps, -(int(name.split("_")[1]) // 90), axes=(1, 2))
    if name == "flip_vertical":
        return maps[:, ::-1]
    if name == "flip_horizontal":
        return maps[:, :, ::-1]
    if name == "flip_both":
        return maps[:, ::-1, ::-1]
    return maps  # lightness: the geometry is unchanged


def position_scores(model: Any, head: Any, references: np.ndarray, distorted: np.ndarray, mode: str,
                    batch_size: int) -> np.ndarray:
    """(N, h, w) standardised per-position scores ``f(q)`` of same-shape windows, averaged over TTA variants."""
    chosen = tta.variants(mode)
    total = None
    for variant, (ref_v, dis_v) in zip(chosen, tta.variant_batches(chosen, references, distorted)):
        parts = []
        for start in range(0, len(ref_v), batch_size):
            quality = head(ref_v[start:start + batch_size], dis_v[start:start + batch_size])
            parts.append(np.asarray(quality, np.float64)[..., 0])
        scores = undo_variant(variant.name, head_function(model, np.concatenate(parts)))
        total = scores if total is None else total + scores
    return total / len(chosen)


# ----------------------------------------------------------------------------- the map of a pair


def quality_map(scorer: Any, reference: np.ndarray, distorted: np.ndarray, tta_mode: str = "none",
                source: str | None = None, fit: str = DEFAULT_FIT, pool: str = DEFAULT_POOL,
                name: str = "distorted image", score: float | None = None) -> QualityMap:
    """The map of one pair (uint8 (H, W, 3) arrays of one size) and its score, as the scorer scores it.

    ``scorer`` is an :class:`asna.evaluation.scorer.QualityScorer`; ``source``
    picks the scale as for the score. The score is computed by the scorer's own
    path, so it equals ``score_pairs`` bit for bit; a caller that has it already
    (a scored set) passes ``score``, which spares pooled heads a second pass.
    """
    check_pair_sizes(reference, distorted, name)
    fit = resolve_fit(fit, scorer.infos)
    heads = [position_head(model) for model in scorer.models]
    pair = None
    if score is None or any(head is None for head in heads):
        pair = scorer.tile_scores([reference], [distorted], tta_mode, fit, [name])[0]
    if score is None:
        score = float(scorer.to_scale(pooling.pool_tiles(pair.scores, pair.reference_tiles, pool)[:, None],
                                      source)[0])
    height, width = reference.shape[:2]
    placed = tile_windows(reference.shape, scorer.image_size, fit, name)
    tiles_r = np.stack(cut_tiles(reference, scorer.image_size, fit, name))
    tiles_d = np.stack(cut_tiles(distorted, scorer.image_size, fit, name))
    kinds, maps = set(), []
    for index, (model, info, head) in enumerate(zip(scorer.models, scorer.infos, heads)):
        if head is None:
            grids: Any = pair.scores[index]
            kinds.add("tiles")
        else:
            grids = position_scores(model, head, tiles_r, tiles_d, tta_mode, scorer.batch_size)
            kinds.add("positions")
        mean, std = info.scale(source)
        maps.append(paint((height, width), placed, list(grids)) * std + mean)
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return QualityMap(np.mean(maps, axis=0), float(score), kind, fit)
