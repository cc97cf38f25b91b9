"""Load trained models once and score image pairs on the dataset's own scale.

A trained model ``X.keras`` is always read with its sidecar ``X.json`` (written
by training): ``image_size`` and ``standardization`` ``{source: [mean, std]}``.
The networks predict standardised scores, ``(mos - mean) / std``; a score is
mapped back with ``p * std + mean`` of one source:

* ``source`` given (``--scale-source``): that source, for every model;
* a model whose sidecar has one source: that source;
* per-pair sources (an HDF5 file's ``source`` column): each pair's own.

A model without a sidecar is refused: its output could not be put on any
dataset's scale, and a score silently left in standardised units would look
like a quality score. Several models form an ensemble: each model's score is
averaged over the TTA variants, mapped back with its own sidecar, and the
ensemble's score is the mean over models.

Fitting (``fit``): ``tile``, the default for every model (chosen on the
full-resolution validation folder), cuts input-sized tiles; ``auto`` is
``whole`` for free-size models (a pooled head) and ``tile`` for fixed-size ones; an ensemble that mixes the two is refused in
one line (name ``tile`` or ``center``), since its models would not score the
same pixels. ``whole`` feeds each image in one piece, its central crop to the
largest multiple of 16 per side; images of one size share model calls, others
go one size at a time. ``tile`` pools the tiles' scores with
:mod:`asna.evaluation.pooling` (per model, after the TTA mean of each tile).

Nothing here imports TensorFlow until models are loaded, so every check on
names, folders and sidecars is answered in a second.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from asna.core.config import HEADS
from asna.core.errors import UserError
from asna.core.paths import REPO_ROOT, sidecar_path
from asna.core.speed_paths import PATHS
from asna.data.images import describe_size
from asna.evaluation import (DEFAULT_BATCH_SIZE, DEFAULT_FIT, DEFAULT_MODELS, DEFAULT_POOL, FIT_MODES,
                             WHOLE_MULTIPLE, pooling, tta)

Source = str | Sequence[str] | None
"""One source for every pair, one per pair, or ``None`` for each model's only source."""

CHUNK_PIXELS = 2 ** 21
"""Pixels of one image's pieces cut and scored at a time (512 tiles of 64 px, 32 of 256 px).

Tiles are cut from the decoded images a chunk at a time, and the TTA variants
of a chunk only exist while it is scored, so the memory a pair needs beyond
its two decoded images does not grow with their size (an 8000 x 8000 pair
holds 15,625 tiles of 64 px; stacked at once with full TTA they took 5.7 GB).
"""

PROGRESS_DELAY = 3.0
"""Seconds a call scores before its progress bar (tiles scored, time left) appears on a terminal."""


@dataclass(frozen=True)
class ModelInfo:
    """A model file and what its sidecar says about it."""

    path: Path
    network: str
    image_size: int
    standardization: dict[str, tuple[float, float]]
    head: str = "flatten"

    @property
    def free_size(self) -> bool:
        """A pooled head takes any size (a multiple of 16, at least ``image_size``): whole images at once."""
        return self.head == "pooled"

    def scale(self, source: str | None) -> tuple[float, float]:
        """``(mean, std)`` that maps this model's output back to ``source``'s scale."""
        known = ", ".join(sorted(self.standardization))
        if source is None:
            if len(self.standardization) == 1:
                return next(iter(self.standardization.values()))
            raise UserError(f"{self.path}: its standardisation has several sources ({known}); "
                            f"choose the score scale with --scale-source NAME")
        if source not in self.standardization:
            raise UserError(f"{self.path}: its standardisation has no source {source!r} "
                            f"(it has {known}); choose one with --scale-source NAME")
        return self.standardization[source]


# ----------------------------------------------------------------------------- finding models


def find_model_files(paths: Sequence[str | os.PathLike] | None) -> list[Path]:
    """``.keras`` files named directly or found (sorted) in named folders; default the checkout's ``models/``.

    The default is never a ``models/`` folder of the current directory
    (``asna.api.default_models`` also finds the copy an installed package carries).
    """
    if not paths:
        paths = [REPO_ROOT / DEFAULT_MODELS]
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.keras") if p.is_file())
            if not inside:
                raise UserError(f"{path}: no model files (*.keras) in this folder")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: model file or folder not found (--models)")
    return list(dict.fromkeys(found))


def read_model_info(model_path: Path) -> ModelInfo:
    """The sidecar of a model file, checked; a missing or broken sidecar is an error."""
    if model_path.suffix == ".keras" and not zipfile.is_zipfile(model_path):
        raise UserError(f"{model_path}: not a Keras model file (a .keras model is a zip archive)")
    sidecar = sidecar_path(model_path)
    if not sidecar.is_file():
        raise UserError(f"{model_path}: no sidecar {sidecar.name} beside it (training writes it; it holds "
                        f"image_size and the standardization {{source: [mean, std]}} of the scores)")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{sidecar}: not a readable JSON sidecar ({error})") from None
    if not isinstance(info, dict):
        raise UserError(f"{sidecar}: expected a JSON object")
    return ModelInfo(path=model_path, network=str(info.get("network", "?")),
                     image_size=_image_size(info, sidecar),
                     standardization=_standardization(info, sidecar),
                     head=_head(info, sidecar))


def _image_size(info: dict, sidecar: Path) -> int:
    size = info.get("image_size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise UserError(f"{sidecar}: image_size must be a positive whole number, got {size!r}")
    return size


def _head(info: dict, sidecar: Path) -> str:
    """The sidecar's ``head``; sidecars written before the key existed are the flatten head's."""
    head = info.get("head", "flatten")
    if head not in HEADS:
        raise UserError(f"{sidecar}: head must be one of {', '.join(HEADS)}, got {head!r}")
    return head


def _standardization(info: dict, sidecar: Path) -> dict[str, tuple[float, float]]:
    table = info.get("standardization")
    if not isinstance(table, dict) or not table:
        raise UserError(f"{sidecar}: standardization must be an object {{source: [mean, std]}}")
    checked = {}
    for source, pair in table.items():
        ok = (isinstance(pair, (list, tuple)) and len(pair) == 2
              and all(isinstance(v, (int, float)) and math.isfinite(v) for v in pair) and pair[1] > 0)
        if not ok:
            raise UserError(f"{sidecar}: standardization[{source!r}] must be [mean, std] with std > 0, "
                            f"got {pair!r}")
        checked[str(source)] = (float(pair[0]), float(pair[1]))
    return checked


def inspect_models(paths: Sequence[str | os.PathLike] | None) -> list[ModelInfo]:
    """Model files and sidecars, checked without loading TensorFlow; one input size for all."""
    infos = [read_model_info(path) for path in find_model_files(paths)]
    sizes = sorted({info.image_size for info in infos})
    if len(sizes) > 1:
        listing = ", ".join(f"{info.path.name}: {info.image_size}" for info in infos)
        raise UserError(f"{infos[0].path.parent}: an ensemble needs one input size, the models have "
                        f"{listing}")
    return infos


def check_sources(infos: Iterable[ModelInfo], sources: Iterable[str | None]) -> None:
    """Raise now, not after scoring, when a model cannot map a needed source back."""
    for info in infos:
        for source in set(sources):
            info.scale(source)


# ----------------------------------------------------------------------------- loading


def load_keras_model(info: ModelInfo) -> Any:
    """The model of ``info``; a file Keras cannot read, or of the wrong input size, is an error."""
    import keras

    from asna.core.precision import for_inference
    from asna.models import custom_objects

    try:
        model = keras.models.load_model(info.path, compile=False, custom_objects=custom_objects())
    except Exception as error:  # Keras raises many types for a file that is not a model
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"{info.path}: not a Keras model file ({first_line[:200]})") from None
    shapes = [tuple(tensor.shape[1:]) for tensor in model.inputs]
    side = None if info.free_size else info.image_size
    expected = (side, side, 3)
    if len(shapes) != 2 or any(shape != expected for shape in shapes):
        wanted = "free-size" if info.free_size else f"{info.image_size}x{info.image_size}"
        raise UserError(f"{info.path}: takes inputs {shapes}, but its sidecar says two {wanted} RGB images")
    return for_inference(model)


# ----------------------------------------------------------------------------- fitting images


def tile_starts(length: int, size: int) -> list[int]:
    """Evenly spaced starts of the fewest ``size`` windows that cover ``length``."""
    count = math.ceil(length / size)
    if count == 1:
        return [0]
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def resolve_fit(fit: str, infos: Sequence[ModelInfo]) -> str:
    """The concrete fit of ``fit`` for these models: ``auto`` chosen, ``whole`` checked."""
    if fit not in FIT_MODES:
        raise ValueError(f"unknown fit {fit!r}")
    free = [info for info in infos if info.free_size]
    fixed = [info for info in infos if not info.free_size]
    if fit == "whole" and fixed:
        raise UserError(f"{fixed[0].path}: --fit whole needs free-size models (head = pooled), this one takes "
                        f"only {fixed[0].image_size}x{fixed[0].image_size}; use --fit tile or center")
    if fit != "auto":
        return fit
    if free and fixed:
        raise UserError(f"{fixed[0].path}: the ensemble mixes free-size ({free[0].path.name}) and fixed-size "
                        f"models, so --fit auto cannot pick one fit; give --fit tile or center")
    return "whole" if free else "tile"


def whole_crop(height: int, width: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the central crop to the largest multiple of 16 per side."""
    crop_h, crop_w = height - height % WHOLE_MULTIPLE, width - width % WHOLE_MULTIPLE
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


Window = tuple[int, int, int, int]
"""``(top, left, height, width)`` of one piece of an image that the models see."""


def tile_windows(shape: Sequence[int], size: int, fit: str, name: str = "image") -> list[Window]:
    """Where the pieces of an image of ``shape`` lie: all tiles, the central crop, or the whole. Never a resize.

    ``fit`` is a resolved fit (:func:`resolve_fit`), not ``auto``. Only
    positions: the pixels are cut when they are scored, a chunk at a time.
    """
    height, width = shape[:2]
    if height < size or width < size:
        raise UserError(f"{name}: image is {describe_size(shape)}, smaller than the models' "
                        f"{size}x{size} input (images are never resized)")
    if fit not in FIT_MODES or fit == "auto":
        raise ValueError(f"unknown fit {fit!r}")
    if fit == "whole":
        return [whole_crop(height, width)]
    if fit == "center":
        tops, lefts = [(height - size) // 2], [(width - size) // 2]
    else:
        tops, lefts = tile_starts(height, size), tile_starts(width, size)
    return [(top, left, size, size) for top in tops for left in lefts]


def cut(image: np.ndarray, window: Window) -> np.ndarray:
    """The pixels of ``window`` (a view, not a copy)."""
    top, left, height, width = window
    return image[top:top + height, left:left + width]


def cut_tiles(image: np.ndarray, size: int, fit: str, name: str = "image") -> list[np.ndarray]:
    """The windows of an image the models see (views): all tiles, the central crop, or the whole."""
    return [cut(image, window) for window in tile_windows(image.shape, size, fit, name)]


def check_pair_sizes(reference: np.ndarray, distorted: np.ndarray, name: str = "distorted image",
                     reference_name: str = "its reference") -> None:
    """Full-reference scores need aligned images of one size."""
    if reference.shape[:2] != distorted.shape[:2]:
        raise UserError(f"{name}: image is {describe_size(distorted.shape)}, but {reference_name} is "
                        f"{describe_size(reference.shape)} (a pair must have one size)")


# ----------------------------------------------------------------------------- scoring


def _prefetched(batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``batches`` in order, each made in a worker thread while the caller scores the one before.

    The variants are NumPy and OpenCV work and the network is TensorFlow's:
    both release the GIL, so the CPU-side variant making overlaps the model calls.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="asna-tta") as pool:
        pending = pool.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            yield batch


def _rebatch(stream: Iterable[tuple[np.ndarray, np.ndarray]],
             batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Fixed-size model batches across variant boundaries: one pair x 22 variants is one call."""
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    count = 0
    for references, distorted in stream:
        pending.append((references, distorted))
        count += len(references)
        if count >= batch_size:  # join once, then cut every full batch out of it
            joined_r = np.concatenate([r for r, _ in pending])
            joined_d = np.concatenate([d for _, d in pending])
            full = count - count % batch_size
            for start in range(0, full, batch_size):
                yield joined_r[start:start + batch_size], joined_d[start:start + batch_size]
            pending, count = [(joined_r[full:], joined_d[full:])], count - full
    if count:
        yield np.concatenate([r for r, _ in pending]), np.concatenate([d for _, d in pending])


class TracedPredictor:
    """A Keras model behind one ``tf.function`` whose batch size is free: traced once.

    ``predict_on_batch`` traces again for each new batch size (and warns about
    it with an ensemble); scoring feeds full batches and one shorter last batch.
    """

    def __init__(self, model: Any):
        import tensorflow as tf

        specs = [tf.TensorSpec((None, *tensor.shape[1:]), tf.uint8) for tensor in model.inputs]
        self._call = tf.function(lambda reference, distorted: model([reference, distorted], training=False),
                                 input_signature=specs)

    def predict_on_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._call(*inputs).numpy()


def _predictor(model: Any) -> Any:
    """Keras models get a :class:`TracedPredictor`; anything else with ``predict_on_batch`` is used as is."""
    return TracedPredictor(model) if hasattr(model, "inputs") and callable(model) else model


@dataclass(frozen=True)
class PairTiles:
    """One pair's tile scores before pooling: (models, tiles) standardised, and its reference tiles."""

    scores: np.ndarray
    reference_tiles: list[np.ndarray]


def _same_shape_groups(windows: Sequence[Window]) -> list[np.ndarray]:
    """Indices of the windows of each shape, in first-seen order: one stack (and batch shape) per group."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, window in enumerate(windows):
        groups.setdefault(window[2:], []).append(index)
    return [np.asarray(indices) for indices in groups.values()]


def _variant_count(mode: str) -> int:
    """How many TTA variants ``mode`` scores (a helper: ``tta`` is a parameter name in the methods)."""
    return len(tta.variants(mode))


class _TileProgress:
    """A tqdm bar of tiles scored, fed with the model inputs (tile variants) each batch scored."""

    def __init__(self, tiles: int, variants: int, show: bool | None):
        from tqdm import tqdm

        self._variants = variants
        self._inputs = 0
        self._bar = tqdm(total=tiles, unit="tile", desc="scoring", delay=PROGRESS_DELAY, leave=False,
                         disable=None if show is None else not show, dynamic_ncols=True)

    def advance(self, inputs: int) -> None:
        self._inputs += inputs
        self._bar.update(self._inputs // self._variants - self._bar.n)

    def __enter__(self) -> "_TileProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()


class QualityScorer:
    """Trained models (one or an ensemble) that score pairs on the dataset's scale.

    ``QualityScorer.from_paths(["models/"])`` loads every ``*.keras`` there once;
    ``score_pairs(references, distorted, tta="full")`` returns one score per pair;
    ``score_files(ref_path, dist_path)`` scores two image files.
    """

    def __init__(self, models: Sequence[Any], infos: Sequence[ModelInfo],
                 batch_size: int = DEFAULT_BATCH_SIZE):
        if not models or len(models) != len(infos):
            raise ValueError("need one ModelInfo per model, and at least one model")
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size}: must be 1 or more")
        if PATHS.plain_stem_scoring:
            from asna.models.blocks import with_plain_stem

            models = [with_plain_stem(model) for model in models]
        self.models = list(models)
        self._predictors = [_predictor(model) for model in self.models]
        self.infos = list(infos)
        self.batch_size = batch_size
        self.image_size = infos[0].image_size

    @classmethod
    def load(cls, infos: Sequence[ModelInfo], batch_size: int = DEFAULT_BATCH_SIZE) -> "QualityScorer":
        """Load the models ``inspect_models`` found."""
        return cls([load_keras_model(info) for info in infos], infos, batch_size)

    @classmethod
    def from_paths(cls, paths: Sequence[str | os.PathLike] | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE) -> "QualityScorer":
        """Model files or folders of ``*.keras`` (default ``models/``), each with its sidecar."""
        return cls.load(inspect_models(paths), batch_size)

    def predict_standardized(self, reference_batch: np.ndarray, distorted_batch: np.ndarray,
                             mode: str = "none", progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(models, N) standardised scores of input-sized pairs, averaged over the TTA variants.

        ``progress(n)`` is told after each model batch how many pair variants it held.
        """
        chosen = tta.variants(mode)
        count = len(reference_batch)
        outputs: list[list[np.ndarray]] = [[] for _ in self._predictors]
        stream = tta.variant_batches(chosen, np.asarray(reference_batch), np.asarray(distorted_batch))
        batches = _rebatch(stream, self.batch_size)
        for references, distorted in _prefetched(batches) if PATHS.prefetch_tta else batches:
            for predictor, sink in zip(self._predictors, outputs):
                sink.append(np.asarray(predictor.predict_on_batch([references, distorted])).reshape(-1))
            if progress is not None:
                progress(len(references))
        stacked = np.stack([np.concatenate(sink) for sink in outputs])
        return stacked.reshape(len(self.models), len(chosen), count).mean(axis=1)

    def to_scale(self, standardized: np.ndarray, source: Source = None) -> np.ndarray:
        """Ensemble mean of each model's ``p * std + mean`` for the pairs' source(s)."""
        count = standardized.shape[1]
        sources = [source] * count if source is None or isinstance(source, str) else list(source)
        if len(sources) != count:
            raise ValueError(f"{len(sources)} sources for {count} pairs")
        scores = np.zeros(count, dtype=np.float64)
        for info, predictions in zip(self.infos, standardized):
            table = {s: info.scale(s) for s in set(sources)}
            mean = np.array([table[s][0] for s in sources])
            std = np.array([table[s][1] for s in sources])
            scores += predictions.astype(np.float64) * std + mean
        return scores / len(self.models)

    def score_pairs(self, reference_batch: Sequence[np.ndarray] | np.ndarray,
                    distorted_batch: Sequence[np.ndarray] | np.ndarray, tta: str = "none",
                    source: Source = None, fit: str = DEFAULT_FIT,
                    names: Sequence[str] | None = None, pool: str = DEFAULT_POOL,
                    progress: bool | None = None) -> np.ndarray:
        """One score per pair on the dataset's scale; images of any (pairwise equal) size.

        ``fit`` (``auto``, ``whole``, ``tile``, ``center``) feeds images to the
        models; ``pool`` combines the tiles of ``tile`` per model
        (:mod:`asna.evaluation.pooling`); ``names`` only label error messages;
        ``progress`` as in :meth:`tile_scores`.
        """
        pooling.check_pool(pool)
        per_pair = [pooling.pool_tiles(pair.scores, pair.reference_tiles, pool)
                    for pair in self.tile_scores(reference_batch, distorted_batch, tta, fit, names, progress)]
        return self.to_scale(np.stack(per_pair, axis=1), source)

    def tile_scores(self, reference_batch: Sequence[np.ndarray] | np.ndarray,
                    distorted_batch: Sequence[np.ndarray] | np.ndarray, tta: str = "none",
                    fit: str = DEFAULT_FIT, names: Sequence[str] | None = None,
                    progress: bool | None = None) -> list["PairTiles"]:
        """Each pair's standardised tile scores (models, tiles), TTA-averaged, before any pooling.

        Every pair is checked before the first model call. Pieces of one shape
        share model calls across pairs; they are cut and scored a chunk of
        :data:`CHUNK_PIXELS` at a time, so a large image never has all its
        tiles (and their variants) in memory at once. ``progress``: a bar of
        tiles scored and time left on stderr when the call runs longer than
        :data:`PROGRESS_DELAY` (``None``: only where stderr is a terminal).
        """
        fit = resolve_fit(fit, self.infos)
        if len(reference_batch) != len(distorted_batch) or len(reference_batch) == 0:
            raise ValueError("need the same, non-zero number of references and distorted images")
        owners: list[int] = []
        windows: list[Window] = []
        for index, (reference, distorted) in enumerate(zip(reference_batch, distorted_batch)):
            name = names[index] if names else f"pair {index}"
            check_pair_sizes(reference, distorted, name)
            found = tile_windows(reference.shape, self.image_size, fit, name)
            windows.extend(found)
            owners.extend([index] * len(found))
        per_tile = np.empty((len(self.models), len(windows)), dtype=np.float64)
        with _TileProgress(len(windows), _variant_count(tta), progress) as bar:
            for indices in _same_shape_groups(windows):
                chunk = self._chunk_tiles(windows[indices[0]])
                for start in range(0, len(indices), chunk):
                    part = indices[start:start + chunk]
                    references = np.stack([cut(reference_batch[owners[i]], windows[i]) for i in part])
                    distorted = np.stack([cut(distorted_batch[owners[i]], windows[i]) for i in part])
                    per_tile[:, part] = self.predict_standardized(references, distorted, tta, bar.advance)
        owner_array = np.asarray(owners)
        return [PairTiles(per_tile[:, owner_array == index],
                          [cut(reference_batch[index], windows[i]) for i in np.flatnonzero(owner_array == index)])
                for index in range(len(reference_batch))]

    def _chunk_tiles(self, window: Window) -> int:
        """Pieces of this window's shape per chunk: :data:`CHUNK_PIXELS` worth, in whole model batches."""
        count = max(1, CHUNK_PIXELS // (window[2] * window[3]))
        return count - count % self.batch_size if count >= self.batch_size else count

    def score_files(self, ref_path: str | os.PathLike, dist_path: str | os.PathLike,
                    tta: str = "none", source: str | None = None, fit: str = DEFAULT_FIT,
                    pool: str = DEFAULT_POOL) -> float:
        """The score of two image files (reference, distorted)."""
        from asna.data.images import read_rgb

        reference, distorted = read_rgb(ref_path), read_rgb(dist_path)
        check_pair_sizes(reference, distorted, str(dist_path), str(ref_path))
        return float(self.score_pairs([reference], [distorted], tta, source, fit, [str(dist_path)], pool)[0])
