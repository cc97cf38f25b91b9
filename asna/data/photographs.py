"""The photographs the built-in sets are cut from, and their split by name.

They are the photographs scikit-image ships inside its wheel (nothing is downloaded), less
any that scikit-learn, matplotlib, SciPy, imgaug or PyWavelets also bundle (skimage's
``camera`` is PyWavelets' too, so ``clock`` took its place): checks made outside the project
use those, and a model must not have seen them. The split
is fixed by name, the same for every seed, so figures from different seeds score the same
photographs; both the crop set (``asna.data.synthetic``) and the full-resolution folders
(``asna.data.full_resolution``) read it from here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from asna.core.errors import UserError
from asna.data.distortions import BY_ID

# (name, skimage.data function, index into a tuple result or None, grey)
PHOTOGRAPHS: tuple[tuple[str, str, int | None, bool], ...] = (
    ("astronaut", "astronaut", None, False),
    ("chelsea", "chelsea", None, False),
    ("coffee", "coffee", None, False),
    ("rocket", "rocket", None, False),
    ("hubble_deep_field", "hubble_deep_field", None, False),
    ("ihc", "immunohistochemistry", None, False),
    ("motorcycle_left", "stereo_motorcycle", 0, False),
    ("motorcycle_right", "stereo_motorcycle", 1, False),
    ("retina", "retina", None, False),
    ("clock", "clock", None, True),  # in the place of camera, so every later photograph keeps its seed
    ("brick", "brick", None, True),
    ("grass", "grass", None, True),
    ("gravel", "gravel", None, True),
    ("moon", "moon", None, True),
    ("coins", "coins", None, True),
    ("page", "page", None, True),
    ("text", "text", None, True),
)
VAL_PHOTOGRAPHS = ("rocket", "retina", "coins")
TEST_PHOTOGRAPHS = ("chelsea", "coffee", "clock", "gravel")


def split_of(photo: str) -> str:
    """The split a photograph's crops belong to (fixed by name, the same for every seed)."""
    return "test" if photo in TEST_PHOTOGRAPHS else "val" if photo in VAL_PHOTOGRAPHS else "train"


def load_photograph(function: str, index: int | None) -> np.ndarray | None:
    """Load one bundled skimage photograph; None if it would need a download."""
    import skimage.data

    loader = getattr(skimage.data, function, None)
    if loader is None:
        return None
    try:
        image = loader()
    except (ImportError, OSError, ValueError):  # pooch missing / file not in the wheel
        return None
    return np.asarray(image[index] if index is not None else image)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB from a grey, RGB or RGBA array."""
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * (255.0 if image.max() <= 1 else 1.0)), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def check_seed_and_types(seed: int, type_ids: Sequence[int]) -> None:
    """One-line UserErrors for a negative seed or unknown distortion types (every built-in file checks them)."""
    if seed < 0:
        raise UserError(f"--seed {seed}: must be 0 or more")
    unknown = [t for t in type_ids if t not in BY_ID]
    if unknown or not type_ids:
        raise UserError(f"distortion types {unknown or 'none'}: choose from 1-25")
