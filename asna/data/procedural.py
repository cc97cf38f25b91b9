"""Procedural reference images for the built-in set's training split: dead leaves and textured leaves.

Ten training photographs are little content to learn quality from; these
images add as many more training references as wanted, with no licence
question, and are never used for validation or test (every reported figure
stays on photographs). They are made to have the statistics that matter for
judging distortions: occluding objects at every scale, smooth and textured
regions, edges of every sharpness, a roughly 1/f^2 power spectrum.

* ``leaves``: a dead-leaves image. Discs, ellipses and rotated rectangles whose
  size r is drawn from a power law p(r) ~ r^-alpha (alpha in [2.4, 3.2], about
  scale invariant) between ``rmin`` (1.5-6 px at 512) and ``rmax`` (0.1-0.4 x
  the side) are laid on top of one another, later ones in front, until the
  canvas is covered about five times over. Each leaf takes a colour
  from a small per-image palette (in Lab: a colour cast, moderate chroma, a wide
  range of lightness) plus its own jitter, a linear shading across it and a
  faint 1/f texture.
* ``texture``: the same with a 1/f^a noise texture (``a`` drawn in [1.5, 2.5])
  showing through part of the leaves, in the image's colours.

Both get a smooth illumination field, soft highlights (few clipped pixels) and
a depth-of-field blur (sharp in some places, blurred in others), so edges are not all perfectly sharp; every fourth
image (indices 3, 7, ...) is grey. An image is fully determined by its kind,
index, seed and side: ``procedural_image``. Names are ``<kind>_<index>``,
``leaves_00``, ``texture_01``, ``leaves_02``, ... (kinds alternate), so they
stand out wherever the photographs' names are listed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

KINDS = ("leaves", "texture")
SIDE = 512  # default side of a procedural image
GREY_EVERY = 4  # indices 3, 7, 11, ... are grey
MAX_COUNT = 1000
COVERAGE = 5.0  # leaves' total area / canvas area: about e^-5 of the canvas is left to the background
MARGIN = 0.1  # leaves' centres fall up to this share of the side outside the canvas


def kind_of(index: int) -> str:
    """The kind of the ``index``-th procedural image (they alternate)."""
    return KINDS[index % len(KINDS)]


def procedural_name(index: int) -> str:
    """``leaves_00``, ``texture_01``, ``leaves_02``, ..."""
    return f"{kind_of(index)}_{index:02d}"


def is_grey(index: int) -> bool:
    return index % GREY_EVERY == GREY_EVERY - 1


def is_procedural(name: str) -> bool:
    """Whether a reference's photograph name is a procedural image's."""
    kind, _, number = name.rpartition("_")
    return kind in KINDS and number.isdigit()


def power_law_noise(rng: np.random.Generator, side: int, exponent: float) -> np.ndarray:
    """A ``side`` x ``side`` float32 field with power spectrum ~ 1/f^exponent, zero mean, unit std (periodic)."""
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    amplitude = radius ** (-exponent / 2)
    amplitude[0, 0] = 0.0
    shape = (side, side // 2 + 1)
    spectrum = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * amplitude
    field = np.fft.irfft2(spectrum, s=(side, side))
    return ((field - field.mean()) / (field.std() + 1e-12)).astype(np.float32)


def leaf_radii(rng: np.random.Generator, side: int, rmin: float, rmax: float, alpha: float) -> np.ndarray:
    """Radii from p(r) ~ r^-alpha on [rmin, rmax] (inverse CDF), as many as cover the canvas with its margin
    ``COVERAGE`` times (ellipses and rectangles counted at 0.8 pi r^2, about their mean area)."""
    target = COVERAGE * (side * (1 + 2 * MARGIN)) ** 2
    low, high = rmin ** (1 - alpha), rmax ** (1 - alpha)
    batches, covered = [], 0.0
    while covered < target:
        radii = (low - rng.uniform(size=4096) * (low - high)) ** (1 / (1 - alpha))
        batches.append(radii)
        covered += float(np.sum(0.8 * np.pi * radii ** 2))
    radii = np.concatenate(batches)
    return radii[:int(np.searchsorted(np.cumsum(0.8 * np.pi * radii ** 2), target)) + 1]


def dead_leaves(rng: np.random.Generator, side: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A label map (int32, 0 = background, leaf k = k + 1, later leaves on top) and each leaf's centre and
    size (index 0: the background)."""
    alpha = rng.uniform(2.4, 3.2)
    rmin = max(1.5, math.exp(rng.uniform(math.log(1.5), math.log(6.0))) * side / SIDE)
    rmax = rng.uniform(0.1, 0.4) * side
    radii = leaf_radii(rng, side, rmin, rmax, alpha)
    count = len(radii)
    low, high = -MARGIN * side, (1 + MARGIN) * side
    centres = rng.uniform(low, high, size=(count, 2))
    shapes = rng.choice(3, size=count, p=(0.55, 0.3, 0.15))  # disc, ellipse, rotated rectangle
    ratios = rng.uniform(0.35, 1.0, size=count)
    angles = rng.uniform(0, 180, size=count)
    labels = np.zeros((side, side), np.int32)
    shift = 2  # quarter-pixel positions
    scale = 1 << shift
    fixed_centres = np.rint(centres * scale).astype(np.int64)
    fixed_radii = np.maximum(np.rint(radii * scale), scale).astype(np.int64)
    for k in range(count):
        centre = (int(fixed_centres[k, 0]), int(fixed_centres[k, 1]))
        radius = int(fixed_radii[k])
        label = k + 1
        if shapes[k] == 0:
            cv2.circle(labels, centre, radius, label, -1, cv2.LINE_8, shift)
        elif shapes[k] == 1:
            cv2.ellipse(labels, centre, (radius, max(scale, int(radius * ratios[k]))), float(angles[k]), 0, 360,
                        label, -1, cv2.LINE_8, shift)
        else:
            box = cv2.boxPoints(((centres[k, 0], centres[k, 1]), (2 * radii[k], 2 * radii[k] * ratios[k]),
                                 float(angles[k])))
            cv2.fillConvexPoly(labels, np.rint(box * scale).astype(np.int32), label, cv2.LINE_8, shift)
    centres = np.vstack([[side / 2, side / 2], centres]).astype(np.float32)
    radii = np.concatenate([[side], radii]).astype(np.float32)
    return labels, {"centres": centres, "radii": radii}


def leaf_colours(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` RGB colours in [0, 1] from a small per-image Lab palette with a colour cast, each jittered."""
    size = int(rng.integers(3, 11))
    cast = rng.normal(0, 8, size=2)
    lightness = rng.uniform(8, 95, size=size)
    chroma = rng.exponential(rng.uniform(8, 28), size=size)
    hue = rng.uniform(0, 2 * np.pi, size=size)
    palette = np.stack([lightness, cast[0] + chroma * np.cos(hue), cast[1] + chroma * np.sin(hue)], axis=1)
    weights = rng.dirichlet(np.full(size, 0.8))  # a few colours dominate, as in a scene
    chosen = palette[rng.choice(size, size=count, p=weights)]
    chosen += rng.normal(0, 1, size=(count, 3)) * np.array([rng.uniform(3, 12), 4.0, 4.0])
    chosen[:, 0] = np.clip(chosen[:, 0], 0, 100)
    rgb = cv2.cvtColor(chosen.astype(np.float32)[:, None, :], cv2.COLOR_Lab2RGB)[:, 0, :]
    return np.clip(rgb, 0, 1)


def soft_highlights(image: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Values above ``knee`` compressed smoothly towards 1 (a camera's shoulder), so few pixels clip."""
    over = np.maximum(image - knee, 0)
    return np.minimum(image, knee) + (1 - knee) * np.tanh(over / (1 - knee))


def procedural_image(kind: str, index: int, seed: int = 0, side: int = SIDE) -> np.ndarray:
    """One ``side`` x ``side`` uint8 RGB image of ``kind`` (``leaves`` or ``texture``), determined by
    (kind, index, seed, side); grey (three equal channels) when ``is_grey(index)``."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: choose from {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, 7, KINDS.index(kind), index, side])
    labels, leaves = dead_leaves(rng, side)
    count = len(leaves["radii"])
    colours = leaf_colours(rng, count).astype(np.float32)
    image = colours[labels]  # side x side x 3

    # each leaf: a linear shading across it and a faint texture
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    gradient = rng.normal(0, 1, size=(count, 2)).astype(np.float32) * rng.uniform(0.05, 0.2)
    centre, radius = leaves["centres"][labels], leaves["radii"][labels]
    across = ((xs - centre[..., 0]) * gradient[labels, 0] + (ys - centre[..., 1]) * gradient[labels, 1]) / radius
    shade = 1 + np.clip(across, -0.35, 0.35)
    grain = power_law_noise(rng, side, rng.uniform(1.0, 2.0))
    strength = rng.uniform(0, 0.06, size=count).astype(np.float32)
    shade *= 1 + strength[labels] * grain
    image *= shade[..., None]

    if kind == "texture":  # a 1/f^a texture in the image's colours shows through part of the leaves
        exponent = rng.uniform(1.5, 2.5)
        texture = power_law_noise(rng, side, exponent)
        tint = power_law_noise(rng, side, exponent + 0.5)
        base = colours[rng.integers(count)]
        second = colours[rng.integers(count)]
        mix = (1 / (1 + np.exp(-2.0 * tint)))[..., None]
        layer = (base * (1 - mix) + second * mix) * (1 + rng.uniform(0.2, 0.45) * texture[..., None])
        weight = np.where(rng.uniform(size=count) < 0.55, rng.uniform(0.4, 1.0, size=count), 0.0)
        weight = weight.astype(np.float32)[labels][..., None]
        image = image * (1 - weight) + layer * weight

    # smooth illumination, then sharp in some places and out of focus in others
    light = np.exp(rng.uniform(0.05, 0.3) * power_law_noise(rng, side, 3.5))
    image *= light[..., None]
    sharp = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 0.8))
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(1.0, 3.0) * side / SIDE)
    focus = 1 / (1 + np.exp(-3.0 * (power_law_noise(rng, side, 4.0) - rng.uniform(0.0, 2.0))))
    image = sharp * (1 - focus[..., None]) + blurred * focus[..., None]

    out = np.clip(np.rint(soft_highlights(image) * 255), 0, 255).astype(np.uint8)
    if is_grey(index):
        grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.repeat(grey[..., None], 3, axis=2)
    return np.ascontiguousarray(out)


def procedural_side(image_size: int) -> int:
    """The side of procedural images for crops of ``image_size``: ``SIDE``, or 1.5 x the crop when larger,
    so a crop never needs an enlarged image."""
    return max(SIDE, math.ceil(1.5 * image_size))


def procedural_images(count: int, seed: int = 0, side: int = SIDE) -> list[tuple[str, np.ndarray, bool]]:
    """(name, image, grey) of the first ``count`` procedural images."""
    return [(procedural_name(k), procedural_image(kind_of(k), k, seed, side), is_grey(k)) for k in range(count)]


def save_montage(path: str | os.PathLike, count: int = 4, seed: int = 0, side: int = SIDE,
                 display: int = 256) -> Path:
    """PNG: the first ``count`` procedural images (``side`` px, as the built-in set makes them for crops up
    to 341 px) shown at ``display`` px side by side, each titled with its name."""
    import matplotlib.pyplot as plt

    from asna.core.plots import save_figure  # switches matplotlib to the Agg backend

    images = procedural_images(count, seed, side)
    figure, axes = plt.subplots(1, count, figsize=(count * display / 100 + 0.2, display / 100 + 0.4), dpi=100)
    for axis, (name, image, grey) in zip(np.atleast_1d(axes), images):
        axis.imshow(cv2.resize(image, (display, display), interpolation=cv2.INTER_AREA), interpolation="nearest")
        axis.set_title(f"{name}{' (grey)' if grey else ''}, {side} x {side}", fontsize=9)
        axis.axis("off")
    figure.tight_layout(pad=0.3)
    return save_figure(figure, path, dpi=100)


__all__ = ["KINDS", "SIDE", "procedural_image", "procedural_images", "procedural_name", "procedural_side",
           "is_procedural", "is_grey", "kind_of", "power_law_noise", "save_montage"]
