"""Test-time augmentation: the same transform applied to both images of a pair.

The original averaged each pair's score over 22 variants (``full``):

* rotations by 0, 90, 180 and 270 degrees (counter-clockwise);
* vertical flip (rows reversed), horizontal flip (columns reversed), both flips;
* the Lab lightness L of both images scaled by 0.1, 0.2, ..., 1.5 (15 factors).

``full`` keeps the original's list as it was, so the identity is counted twice
(rotation 0 and lightness x1.0, which differs only by Lab rounding) and so is
the half turn (rotation 180 and both flips). ``flips`` is the cheap subset:
identity, vertical, horizontal and both flips (4 variants). ``none`` is the
identity alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from asna.core.speed_paths import PATHS
from asna.data.images import scale_lightness

LIGHTNESS_FACTORS = tuple(round(0.1 * step, 1) for step in range(1, 16))


@dataclass(frozen=True)
class Variant:
    """One augmentation: a name and a transform of an (N, S, S, 3) uint8 batch.

    ``factor`` is the lightness factor of the lightness variants (None for the others).
    """

    name: str
    transform: Callable[[np.ndarray], np.ndarray]
    factor: float | None = None

    def apply(self, reference_batch: np.ndarray, distorted_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both images get the same transform, so only their difference is scored."""
        return self.transform(reference_batch), self.transform(distorted_batch)


class LabBatch:
    """A uint8 RGB batch converted to float Lab once, then lightness-scaled by any number of factors.

    ``scaled(factor)`` equals ``scale_lightness`` on each image bit for bit (the
    same OpenCV conversions, which work pixel by pixel, in the same float32
    arithmetic), but the RGB -> Lab half of the work is done once instead of
    once per factor, and each conversion runs over the whole batch as one tall
    image (one OpenCV call, on all its threads) instead of image by image.
    """

    def __init__(self, batch: np.ndarray):
        self.shape = batch.shape
        tall = batch.reshape(-1, *batch.shape[2:]).astype(np.float32)  # (N * H, W, 3)
        tall /= 255.0
        self.lab = cv2.cvtColor(tall, cv2.COLOR_RGB2Lab)

    def scaled(self, factor: float) -> np.ndarray:
        scaled = self.lab.copy()
        scaled[..., 0] = np.clip(self.lab[..., 0] * float(factor), 0.0, 100.0)
        rgb = cv2.cvtColor(scaled, cv2.COLOR_Lab2RGB)
        rgb *= 255.0
        np.rint(rgb, out=rgb)
        np.clip(rgb, 0, 255, out=rgb)
        return rgb.astype(np.uint8).reshape(self.shape)


def variant_batches(chosen: Sequence[Variant], reference_batch: np.ndarray, distorted_batch: np.ndarray
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``variant.apply(reference_batch, distorted_batch)`` for each variant in order, made lazily.

    The lightness variants share one Lab conversion per image
    (``speed_paths.shared_lab_tta``; the pixels are the same either way).
    """
    labs: tuple[LabBatch, LabBatch] | None = None
    for variant in chosen:
        if variant.factor is None or not PATHS.shared_lab_tta:
            yield variant.apply(reference_batch, distorted_batch)
            continue
        if labs is None:
            labs = LabBatch(reference_batch), LabBatch(distorted_batch)
        yield labs[0].scaled(variant.factor), labs[1].scaled(variant.factor)


def _rotate(quarter_turns: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: np.rot90(batch, quarter_turns, axes=(1, 2))


def _lightness(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: np.stack([scale_lightness(image, factor) for image in batch])


IDENTITY = Variant("rotate_0", _rotate(0))
FLIPS = (Variant("flip_vertical", lambda batch: batch[:, ::-1]),
         Variant("flip_horizontal", lambda batch: batch[:, :, ::-1]),
         Variant("flip_both", lambda batch: batch[:, ::-1, ::-1]))
ROTATIONS = tuple(Variant(f"rotate_{90 * k}", _rotate(k)) for k in range(1, 4))
LIGHTNESS = tuple(Variant(f"lightness_{factor:.1f}", _lightness(factor), factor) for factor in LIGHTNESS_FACTORS)

VARIANTS: dict[str, tuple[Variant, ...]] = {
    "full": (IDENTITY, *ROTATIONS, *FLIPS, *LIGHTNESS),
    "flips": (IDENTITY, *FLIPS),
    "none": (IDENTITY,),
}


def describe(mode: str) -> str:
    """``TTA full: 22 variants``: what a printed score says about how it was averaged."""
    count = len(variants(mode))
    return f"TTA {mode}: {count} variant{'s' if count > 1 else ''}"


def variants(mode: str) -> tuple[Variant, ...]:
    """The variants of a TTA mode (``full``: 22, ``flips``: 4, ``none``: 1)."""
    if mode not in VARIANTS:
        raise ValueError(f"unknown TTA mode {mode!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[mode]
