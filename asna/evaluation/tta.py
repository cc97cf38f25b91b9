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
from typing import Callable

import numpy as np

from asna.data.images import scale_lightness

LIGHTNESS_FACTORS = tuple(round(0.1 * step, 1) for step in range(1, 16))


@dataclass(frozen=True)
class Variant:
    """One augmentation: a name and a transform of an (N, S, S, 3) uint8 batch."""

    name: str
    transform: Callable[[np.ndarray], np.ndarray]

    def apply(self, reference_batch: np.ndarray, distorted_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both images get the same transform, so only their difference is scored."""
        return self.transform(reference_batch), self.transform(distorted_batch)


def _rotate(quarter_turns: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: np.rot90(batch, quarter_turns, axes=(1, 2))


def _lightness(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: np.stack([scale_lightness(image, factor) for image in batch])


IDENTITY = Variant("rotate_0", _rotate(0))
FLIPS = (Variant("flip_vertical", lambda batch: batch[:, ::-1]),
         Variant("flip_horizontal", lambda batch: batch[:, :, ::-1]),
         Variant("flip_both", lambda batch: batch[:, ::-1, ::-1]))
ROTATIONS = tuple(Variant(f"rotate_{90 * k}", _rotate(k)) for k in range(1, 4))
LIGHTNESS = tuple(Variant(f"lightness_{factor:.1f}", _lightness(factor)) for factor in LIGHTNESS_FACTORS)

VARIANTS: dict[str, tuple[Variant, ...]] = {
    "full": (IDENTITY, *ROTATIONS, *FLIPS, *LIGHTNESS),
    "flips": (IDENTITY, *FLIPS),
    "none": (IDENTITY,),
}


def variants(mode: str) -> tuple[Variant, ...]:
    """The variants of a TTA mode (``full``: 22, ``flips``: 4, ``none``: 1)."""
    if mode not in VARIANTS:
        raise ValueError(f"unknown TTA mode {mode!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[mode]
