"""The metric in your own code: ``asna.load_metric(...).score(reference, distorted)``.

A thin layer over :class:`asna.evaluation.scorer.QualityScorer` (which does
the tiling, test-time augmentation, ensembles and the score scale) that takes
what a script has at hand: file paths, uint8 arrays, float arrays in [0, 1],
one pair or a batch. What would silently give a wrong score is refused with
one line naming the image: float data outside [0, 1] (a [-1, 1] or 0-255 float
image), channel counts other than 3, pairs of two sizes, images smaller than
the network's input. Nothing here imports TensorFlow until models load.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from asna.api.default_models import shipped_models
from asna.core.errors import UserError
from asna.core.precision import PRECISIONS
from asna.data.images import describe_size, read_rgb
from asna.evaluation import (DEFAULT_BATCH_SIZE, DEFAULT_FIT, DEFAULT_POOL, DEFAULT_TTA, FIT_MODES, POOL_METHODS,
                             TTA_MODES)
from asna.evaluation.scorer import (ModelInfo, QualityScorer, check_sources, inspect_models, load_keras_model,
                                    resolve_fit)

ImageLike = Union[str, os.PathLike, np.ndarray]
"""A file path, an (H, W, 3) uint8 array or an (H, W, 3) float array in [0, 1]."""

Images = Union[ImageLike, Sequence[ImageLike]]
"""One image, a list of them, or an (N, H, W, 3) array."""

CHUNK_PAIRS = 64
"""Pairs decoded and scored at a time, so a long batch of files never sits in memory at once."""

class InputError(UserError, ValueError):
    """An image the metric cannot score as given; the message is one line that names it."""


def load_metric(models: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                tta: str = DEFAULT_TTA, fit: str = DEFAULT_FIT, pool: str = DEFAULT_POOL,
                scale_source: str | None = None, precision: str = "float32",
                batch_size: int = DEFAULT_BATCH_SIZE) -> "Metric":
    """Load trained models once and return a :class:`Metric` that scores image pairs.

    ``models``: ``.keras`` files (each with its ``.json`` sidecar) or folders of
    them; several form an ensemble (mean score). Default: the model shipped in
    the repository's ``models/`` folder (or its copy in an installed package).
    ``tta``: ``none`` (default, as the console commands), ``flips`` (4 variants)
    or ``full`` (the 22 of the challenge entry). ``fit``: ``tile`` (default: input-sized tiles that
    cover the image, pooled by ``pool``), ``whole`` (the image in one piece,
    cropped centrally to multiples of 16; free-size models only), ``auto``
    (``whole`` for free-size models, ``tile`` for the others) or ``center``
    (the central crop). ``pool``: how ``tile`` combines tile scores: ``mean``, ``worst``
    (mean of the lower half) or ``structure`` (weighted by the reference
    tile's gradient magnitude); see :mod:`asna.evaluation.pooling`.
    ``scale_source``: which standardisation of the sidecar maps scores back,
    needed only when it has several.
    ``precision``: the dtype policy the models compute in (``float32`` gives
    the exact scores). Bad values raise :class:`asna.UserError` in one line.
    """
    check_choice("tta", tta, TTA_MODES)
    check_choice("fit", fit, FIT_MODES)
    check_choice("pool", pool, POOL_METHODS)
    check_choice("precision", precision, PRECISIONS)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise UserError(f"batch_size={batch_size!r}: must be a whole number of at least 1")
    if scale_source is not None and not isinstance(scale_source, str):
        raise UserError(f"scale_source={scale_source!r}: give a source name such as 'pipal', or None")
    infos = inspect_models(model_paths_or_default(models))
    check_sources(infos, [scale_source])
    fit = resolve_fit(fit, infos)
    loaded = [load_quietly(info) for info in infos]
    if precision != "float32":
        from asna.core.precision import resolve_precision, with_policy

        policy, _ = resolve_precision(precision)
        if policy != "float32":
            loaded = [with_policy(model, policy) for model in loaded]
    return Metric(QualityScorer(loaded, infos, batch_size), tta, fit, scale_source, pool)


def load_quietly(info: ModelInfo) -> Any:
    """``load_keras_model`` without its note on stdout when it rebuilds a model in float32.

    The scripts print that note; a library call should not write to its caller's stdout.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        return load_keras_model(info)


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Refuse a keyword value that is not one of ``choices``, in one line."""
    if not isinstance(value, str) or value not in choices:
        raise UserError(f"{name}={value!r}: choose one of {', '.join(repr(c) for c in choices)}")


def model_paths_or_default(models: Any) -> list[str | os.PathLike]:
    """The ``models=`` argument as a list of paths; ``None`` is the shipped model's folder."""
    if models is None:
        folder = shipped_models()
        if folder is None:
            raise UserError("no trained model is shipped in models/ yet: name one, e.g. "
                            "asna.load_metric(models='runs/demo/model.keras') (--models for the scripts)")
        return [folder]
    if isinstance(models, (str, os.PathLike)):
        return [models]
    if not isinstance(models, (list, tuple)):
        raise UserError(f"models={models!r}: give a .keras file or folder (str or path), a list of them, or None")
    paths = list(models)
    if not paths:
        raise UserError("models=[]: name at least one .keras file or folder")
    for path in paths:
        check_path_argument("models", path)
    return paths


def check_path_argument(name: str, value: Any) -> None:
    """Refuse, in one line, an argument that should be a path but is not (``models=[123]``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise UserError(f"{name}: got {value!r} ({type(value).__name__}); give a file or folder path "
                        f"(str or pathlib.Path)")


class Metric:
    """Trained ASNA model(s) that score (reference, distorted) pairs; from :func:`load_metric`.

    Scores are on the MOS scale of the model's sidecar (the training data's
    source: about 1-5 for the built-in set, about 1449 ± 121 for PIPAL), and
    **higher is better**: a distorted image that looks more like its reference
    gets a higher score. They are not bounded: the reference scored against
    itself gets a high score of the model's own, not a fixed maximum.
    """

    higher_is_better = True

    def __init__(self, scorer: QualityScorer, tta: str = "none", fit: str = DEFAULT_FIT,
                 scale_source: str | None = None, pool: str = DEFAULT_POOL):
        self.scorer = scorer
        self.tta = tta
        self.fit = resolve_fit(fit, scorer.infos)  # "auto" is shown as what it picked
        self.scale_source = scale_source
        self.pool = pool

    @property
    def model_paths(self) -> list[Path]:
        """The ``.keras`` files this metric scores with (an ensemble when several)."""
        return [info.path for info in self.scorer.infos]

    @property
    def input_size(self) -> int | None:
        """The side of the networks' square input in pixels, or ``None`` when it is free."""
        inputs = getattr(self.scorer.models[0], "inputs", None)
        if inputs and inputs[0].shape[1] is None:
            return None
        return self.scorer.image_size

    def __repr__(self) -> str:
        names = ", ".join(path.name for path in self.model_paths)
        size = f"{self.input_size} px input" if self.input_size else "free-size input"
        pooled = f", pool {self.pool}" if self.fit == "tile" else ""
        return (f"<asna Metric: {len(self.model_paths)} model(s) ({names}), {size}, TTA {self.tta}, "
                f"fit {self.fit}{pooled}; higher is better>")

    def score(self, reference: Images, distorted: Images) -> float | np.ndarray:
        """The quality score of ``distorted`` against ``reference``: higher is better.

        Give one pair (two file paths, or two (H, W, 3) arrays) for a ``float``,
        or a batch (two lists of equal length, or two (N, H, W, 3) arrays) for
        an ``(N,)`` float64 array. Arrays are uint8 (0-255) or float in [0, 1]
        (mapped to 0-255 by ``round(x * 255)``). The two images of a pair must
        have the same size, at least the networks' input; larger images are
        scored as ``fit`` says, never resized. Anything else raises
        :class:`InputError` (a ``ValueError``) with one line naming the image.
        Scores are on the sidecar's MOS scale.
        """
        references, single = _gather(reference, "reference")
        distorted_images, distorted_single = _gather(distorted, "distorted")
        if single != distorted_single:
            raise InputError("reference and distorted: give both as one image, or both as batches "
                             "(lists of equal length or (N, H, W, 3) arrays)")
        if len(references) != len(distorted_images):
            raise InputError(f"{len(references)} references but {len(distorted_images)} distorted images: "
                             f"a batch needs one reference per distorted image")
        scores = self._score_items(list(zip(references, distorted_images)))
        return float(scores[0]) if single else scores

    __call__ = score

    def quality_map(self, reference: ImageLike, distorted: ImageLike) -> np.ndarray:
        """Where ``distorted`` loses its score: an (H, W) float64 array at the image's size, higher is better.

        One pair, in any form :meth:`score` takes for one pair. The values are
        on the score's scale and are what the score is made of: the score of
        each window the image is cut into (``fit``), or a pooled head's
        per-position scores; pixels no window covers are NaN
        (:mod:`asna.evaluation.quality_map`, docs/evaluation.md#quality-maps).
        """
        from asna.evaluation.quality_map import quality_map

        references, single = _gather(reference, "reference")
        distorted_images, distorted_single = _gather(distorted, "distorted")
        if not (single and distorted_single):
            raise InputError("quality_map takes one pair: two file paths or two (H, W, 3) arrays, not batches")
        (ref_name, ref_item), (dis_name, dis_item) = references[0], distorted_images[0]
        ref_image, dis_image = _load(ref_item, ref_name), _load(dis_item, dis_name)
        self._check_pair(ref_image, dis_image, ref_name, dis_name)
        return quality_map(self.scorer, ref_image, dis_image, self.tta, self.scale_source, self.fit, self.pool,
                           dis_name).values

    def score_folder(self, ref_dir: str | os.PathLike, dis_dir: str | os.PathLike) -> dict[str, float]:
        """``{distorted file name: score}`` for a challenge-style folder pair, sorted by name.

        ``Dis/A0001_10_03.bmp`` is scored against ``Ref/A0001.<any image
        extension>``, as ``evaluation_ntire.py`` does; files without an image
        extension are ignored.
        """
        from asna.evaluation.folders import match_pairs

        check_path_argument("ref_dir", ref_dir)
        check_path_argument("dis_dir", dis_dir)
        pairs = match_pairs(ref_dir, dis_dir)
        items = [((str(pair.reference), pair.reference), (str(pair.distorted), pair.distorted))
                 for pair in pairs]
        scores = self._score_items(items)
        return {pair.name: float(score) for pair, score in zip(pairs, scores)}

    def _score_items(self, items: list[tuple[tuple[str, Any], tuple[str, Any]]]) -> np.ndarray:
        """Scores of (name, path or array) pairs, decoded and checked a chunk at a time."""
        from tqdm import tqdm

        scores = np.empty(len(items), dtype=np.float64)
        chunks = range(0, len(items), CHUNK_PAIRS)
        with tqdm(total=len(items), unit="pair", disable=None if len(items) > CHUNK_PAIRS else True) as bar:
            for start in chunks:
                chunk = items[start:start + CHUNK_PAIRS]
                references, distorted, names = [], [], []
                for (ref_name, ref_item), (dis_name, dis_item) in chunk:
                    reference, image = _load(ref_item, ref_name), _load(dis_item, dis_name)
                    self._check_pair(reference, image, ref_name, dis_name)
                    references.append(reference)
                    distorted.append(image)
                    names.append(dis_name)
                scores[start:start + len(chunk)] = self.scorer.score_pairs(
                    references, distorted, tta=self.tta, source=self.scale_source, fit=self.fit,
                    names=names, pool=self.pool)
                bar.update(len(chunk))
        return scores

    def _check_pair(self, reference: np.ndarray, distorted: np.ndarray, ref_name: str, dis_name: str) -> None:
        if reference.shape != distorted.shape:
            raise InputError(f"{dis_name}: image is {describe_size(distorted.shape)}, but {ref_name} is "
                             f"{describe_size(reference.shape)} (a pair must have one size)")
        side = self.scorer.image_size  # a free-size network's least size too
        if reference.shape[0] < side or reference.shape[1] < side:
            least = "input" if self.input_size else "least input"
            raise InputError(f"{dis_name}: image is {describe_size(distorted.shape)}, smaller than the "
                             f"network's {side}x{side} {least} (images are never resized)")


# ----------------------------------------------------------------------------- inputs


def _gather(images: Images, role: str) -> tuple[list[tuple[str, Any]], bool]:
    """``[(name, path or array), ...]`` and whether one image (not a batch) was given."""
    if isinstance(images, (str, os.PathLike)):
        return [(str(images), Path(images))], True
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError(f"{role}: an empty batch")
        items = []
        for index, item in enumerate(images):
            name = f"{role}[{index}]"
            if isinstance(item, (str, os.PathLike)):
                items.append((str(item), Path(item)))
            else:
                array = _as_array(item, name)
                if array.ndim != 3:
                    raise InputError(f"{name}: shape {array.shape}; each image of a list must be (H, W, 3)")
                items.append((name, array))
        return items, False
    array = _as_array(images, role)
    if array.ndim == 4:
        if len(array) == 0:
            raise InputError(f"{role}: an empty batch (shape {array.shape})")
        return [(f"{role}[{index}]", image) for index, image in enumerate(array)], False
    if array.ndim in (2, 3):
        return [(role, array)], True
    raise InputError(f"{role}: shape {array.shape}; give an (H, W, 3) image or an (N, H, W, 3) batch")


def _as_array(item: Any, name: str) -> np.ndarray:
    """NumPy view of an array-like (NumPy, TensorFlow, PyTorch on the CPU); anything else is refused."""
    if isinstance(item, np.ndarray):
        return item
    if hasattr(item, "__array__"):
        return np.asarray(item)
    raise InputError(f"{name}: got {type(item).__name__}; give a file path or an image array")


def _load(item: Any, name: str) -> np.ndarray:
    """The uint8 RGB image of a path (decoded) or an array (checked and converted)."""
    if isinstance(item, Path):
        try:
            return read_rgb(item)
        except UserError as error:
            raise InputError(str(error)) from None
    return as_uint8_rgb(item, name)


def as_uint8_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """An (H, W, 3) uint8 image from a uint8 array or a float array in [0, 1]; else ``InputError``."""
    shape = tuple(image.shape)
    if image.ndim == 2:
        raise InputError(f"{name}: a grey {shape} image; give (H, W, 3) RGB, e.g. np.stack([image] * 3, axis=-1)")
    if image.ndim != 3:
        raise InputError(f"{name}: shape {shape}; an image is (H, W, 3)")
    if shape[2] != 3:
        hint = ("; channels first? use np.moveaxis(image, 0, -1)" if shape[0] in (1, 3, 4) and shape[2] > 4
                else "; drop the alpha channel: image[..., :3]" if shape[2] == 4 else "")
        raise InputError(f"{name}: {shape[2]} channels (shape {shape}), expected 3 (RGB, channels last){hint}")
    if image.dtype == np.uint8:
        return image
    if image.dtype.name in ("bfloat16", "float16"):
        image = image.astype(np.float32)
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{name}: dtype {image.dtype}; give uint8 (0-255) or float in [0, 1]")
    if not np.isfinite(image).all():
        raise InputError(f"{name}: float image with NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        hint = (" (a [-1, 1] image? use (image + 1) / 2)" if low >= -1.0 and high <= 1.0
                else " (a 0-255 float image? divide by 255, or give uint8)" if low >= 0.0 and high <= 255.0
                else "")
        raise InputError(f"{name}: float values in [{low:.4g}, {high:.4g}]; float images must lie in [0, 1]{hint}")
    return np.rint(image.astype(np.float64) * 255.0).astype(np.uint8)
