"""KADID-10k's distortion types made a second way, for the cross-implementation test set.

The main generator (``asna.data.distortions``) has one implementation per
type, and its labels depend only on (type, level), so a network trained on it
can learn that code rather than quality. This module makes the same 25 types
independently: other libraries (SciPy, scikit-image, Pillow instead of OpenCV),
other colour spaces, other codecs' settings, other noise generators (Philox
instead of PCG64) and, where one exists, another published recipe for the
same damage. Its level parameters are KADID's own (the published level table,
the one thing shared with the main generator) where the recipe takes the
same quantity (blur sigma, JPEG quality, noise variance, ...) and matched to
KADID's strength otherwise (the fitted gamma, the mid-tone contrast slope, the
random-walk length of the jitter). No distortion code of the main generator is used.

Where the two differ, per type:

====  ======================  ==============================================================
  1   Gaussian blur           ``scipy.ndimage.gaussian_filter``, edge-replicating borders
  2   lens blur               binary ``skimage.morphology.disk`` kernel, ``ndimage.convolve``
  3   motion blur             mean of bilinear ``ndimage.shift`` copies along the line
  4   colour diffusion        chroma blurred and amplified in YCbCr (not CIE Lab)
  5   colour shift            green moved by ``ndimage.shift``, Sobel edge mask
  6   colour quantisation     Pillow median cut (not k-means)
  7   HSV saturation          ``skimage.color`` HSV round trip, hue turned half a circle if < 0
  8   Lab saturation          chroma scaled in CIE Luv (``skimage.color``)
  9   JPEG 2000               Pillow / OpenJPEG raw codestream, 9/7 wavelet, 3 resolutions
 10   JPEG                    Pillow / libjpeg-turbo, 4:2:2 chroma (main set: OpenCV, 4:2:0)
 11   white noise             ``skimage.util.random_noise`` (Philox generator)
 12   YCbCr noise             noise added in ``skimage.color`` YCbCr (studio range)
 13   impulse noise           ``skimage.util.random_noise`` salt and pepper
 14   multiplicative noise    ``skimage.util.random_noise`` speckle
 15   denoising               white noise then total-variation denoising (not non-local means)
 16   brighten                gamma on HSV value, gamma fitted to KADID's tone curve
 17   darken                  as 16
 18   mean shift              CIE Lab lightness shifted, a and b kept (not all of RGB)
 19   jitter                  one bilinear warp with the 5-warp random walk's spread
 20   non-eccentricity patch  neighbouring patches swapped (not copied one way)
 21   pixelate                Pillow box-filter down, nearest up
 22   quantisation            uniform levels over the image's range (not Otsu / Lloyd-Max)
 23   colour block            ``skimage.draw.rectangle``, Philox colours and places
 24   high sharpen            ``skimage.filters.unsharp_mask`` on RGB (not Lab lightness)
 25   contrast change         linear gain about mid-grey, slope matched to KADID's S-curve
====  ======================  ==============================================================

Every type has a second implementation, so none is skipped (``SKIPPED`` is
empty); a type whose library route is missing at run time (Pillow built
without OpenJPEG) is listed there instead. All functions take and return
uint8 RGB images of shape (H, W, 3).
"""

from __future__ import annotations

import io
import math
from typing import Callable, Sequence

import numpy as np
from PIL import Image as PILImage
from PIL import features
from scipy import ndimage
from scipy.optimize import minimize_scalar
from skimage import color, draw, exposure, filters, morphology, restoration, util

from asna.data.distortions import BY_ID

Image = np.ndarray
Recipe = Callable[[Image, float, np.random.Generator], Image]

KADID_PIXELS = 512 * 384


def unit(image: Image) -> np.ndarray:
    """uint8 -> float64 in [0, 1] (scikit-image's convention)."""
    return util.img_as_float64(image)


def to_bytes(values: np.ndarray) -> Image:
    """float in [0, 1] (clipped first) -> uint8, through scikit-image."""
    return util.img_as_ubyte(np.clip(values, 0.0, 1.0))


def per_channel(values: np.ndarray, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply a 2-D filter to each channel."""
    return np.stack([function(values[..., c]) for c in range(values.shape[2])], axis=2)


def ycbcr(image: Image) -> np.ndarray:
    """scikit-image YCbCr (ITU-R BT.601 studio range, Y 16-235)."""
    return color.rgb2ycbcr(unit(image))


def from_ycbcr(values: np.ndarray) -> Image:
    return to_bytes(color.ycbcr2rgb(values))


def through_pillow(image: Image, save: Callable[[PILImage.Image, io.BytesIO], None]) -> Image:
    """Encode with Pillow into memory and decode back to uint8 RGB."""
    buffer = io.BytesIO()
    save(PILImage.fromarray(image), buffer)
    buffer.seek(0)
    with PILImage.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()


def patches(shape: tuple[int, ...], kadid_side: int, kadid_count: float) -> tuple[int, int]:
    """Side and number of square patches covering the fraction of the image KADID covered."""
    fraction = shape[0] * shape[1] / KADID_PIXELS
    side = int(np.clip(round(kadid_side * math.sqrt(fraction)), 4, kadid_side))
    covered = kadid_count * kadid_side ** 2 * fraction
    return side, max(1, int(round(covered / side ** 2)))


# ---------------------------------------------------------------- blur

def gaussian_blur(image: Image, sigma: float, rng: np.random.Generator) -> Image:
    return to_bytes(ndimage.gaussian_filter(unit(image), (sigma, sigma, 0), mode="nearest", truncate=4.0))


def lens_blur(image: Image, radius: float, rng: np.random.Generator) -> Image:
    kernel = morphology.disk(max(1, int(round(radius)))).astype(np.float64)
    kernel /= kernel.sum()
    return to_bytes(ndimage.convolve(unit(image), kernel[:, :, None], mode="nearest"))


def motion_blur(image: Image, length: float, rng: np.random.Generator) -> Image:
    angle = rng.uniform(0.0, math.pi)
    steps = np.linspace(-length / 2, length / 2, max(2, int(math.ceil(length)) * 2 + 1))
    values = unit(image)
    copies = [ndimage.shift(values, (t * math.sin(angle), t * math.cos(angle), 0), order=1, mode="nearest")
              for t in steps]
    return to_bytes(np.mean(copies, axis=0))


# ---------------------------------------------------------------- colour

def colour_diffusion(image: Image, amount: float, rng: np.random.Generator) -> Image:
    values = ycbcr(image)
    sigma = 1.5 * amount + 2.0
    chroma = ndimage.gaussian_filter(values[..., 1:], (sigma, sigma, 0), mode="reflect")
    values[..., 1:] = 128.0 + amount * (chroma - 128.0)
    return from_ycbcr(values)


def colour_shift(image: Image, amount: float, rng: np.random.Generator) -> Image:
    values = unit(image)
    edges = ndimage.gaussian_filter(filters.sobel(color.rgb2gray(values)), 4.0)
    weight = np.clip(edges / max(float(np.percentile(edges, 99)), 1e-12), 0.0, 1.0)
    angle = rng.uniform(0.0, 2 * math.pi)
    moved = ndimage.shift(values[..., 1], (amount * math.sin(angle), amount * math.cos(angle)), order=1,
                          mode="mirror")
    values[..., 1] = weight * moved + (1 - weight) * values[..., 1]
    return to_bytes(values)


def colour_quantization(image: Image, colours: float, rng: np.random.Generator) -> Image:
    palette = PILImage.fromarray(image).quantize(int(colours), method=PILImage.Quantize.MEDIANCUT,
                                                 dither=PILImage.Dither.NONE)
    return np.asarray(palette.convert("RGB")).copy()


def saturation_hsv(image: Image, factor: float, rng: np.random.Generator) -> Image:
    hsv = color.rgb2hsv(unit(image))
    if factor < 0:
        hsv[..., 0] = (hsv[..., 0] + 0.5) % 1.0
    hsv[..., 1] = np.clip(hsv[..., 1] * abs(factor), 0.0, 1.0)
    return to_bytes(color.hsv2rgb(hsv))


def saturation_luv(image: Image, factor: float, rng: np.random.Generator) -> Image:
    luv = color.rgb2luv(unit(image))
    luv[..., 1:] *= factor
    return to_bytes(color.luv2rgb(luv))


# ---------------------------------------------------------------- compression

CODESTREAM_HEADER_BYTES = 120  # Pillow / OpenJPEG main header and tile headers at 3 resolutions, measured


def jpeg2000(image: Image, ratio: float, rng: np.random.Generator) -> Image:
    """Compression ``ratio`` of the pixels, the codestream's own headers added to the budget."""
    effective = image.size / (image.size / ratio + CODESTREAM_HEADER_BYTES)
    return through_pillow(image, lambda picture, buffer: picture.save(
        buffer, "JPEG2000", no_jp2=True, irreversible=True, num_resolutions=3,
        quality_mode="rates", quality_layers=[effective]))


def jpeg(image: Image, quality: float, rng: np.random.Generator) -> Image:
    return through_pillow(image, lambda picture, buffer: picture.save(
        buffer, "JPEG", quality=int(quality), subsampling="4:2:2"))


# ---------------------------------------------------------------- noise

def white_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    return to_bytes(util.random_noise(unit(image), mode="gaussian", var=variance, rng=rng))


def ycbcr_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    values = ycbcr(image)
    return from_ycbcr(values + rng.normal(0.0, 255.0 * math.sqrt(variance), values.shape))


def impulse_noise(image: Image, density: float, rng: np.random.Generator) -> Image:
    return to_bytes(util.random_noise(unit(image), mode="s&p", amount=density, rng=rng))


def multiplicative_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    return to_bytes(util.random_noise(unit(image), mode="speckle", var=variance, rng=rng))


def denoise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    noisy = util.random_noise(unit(image), mode="gaussian", var=variance, rng=rng)
    return to_bytes(restoration.denoise_tv_chambolle(noisy, weight=1.5 * math.sqrt(variance), channel_axis=2))


# ---------------------------------------------------------------- brightness

def kadid_tone_curve(middle: float, x: np.ndarray) -> np.ndarray:
    """KADID's tone curve: the parabola through (0, 0), (0.5, middle), (1, 1), clipped."""
    return np.clip((2.0 - 4.0 * middle) * x * x + (4.0 * middle - 1.0) * x, 0.0, 1.0)


def fitted_gamma(middle: float) -> float:
    """The gamma whose curve x ** gamma is closest (least squares on [0, 1]) to KADID's curve."""
    x = np.linspace(0.0, 1.0, 257)
    target = kadid_tone_curve(middle, x)
    fit = minimize_scalar(lambda log_gamma: float(np.sum((x ** math.exp(log_gamma) - target) ** 2)),
                          bounds=(-5.0, 5.0), method="bounded")
    return math.exp(fit.x)


def value_gamma(image: Image, gamma: float) -> Image:
    hsv = color.rgb2hsv(unit(image))
    hsv[..., 2] = exposure.adjust_gamma(hsv[..., 2], gamma)
    return to_bytes(color.hsv2rgb(hsv))


def brighten(image: Image, amount: float, rng: np.random.Generator) -> Image:
    return value_gamma(image, fitted_gamma(0.5 + 0.5 * amount))


def darken(image: Image, amount: float, rng: np.random.Generator) -> Image:
    return value_gamma(image, fitted_gamma(0.5 - 0.5 * amount))


def mean_shift(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """CIE lightness shifted by ``amount`` of its range (a and b kept), not every RGB value."""
    lab = color.rgb2lab(unit(image))
    lab[..., 0] = lab[..., 0] + 100.0 * amount
    return to_bytes(color.lab2rgb(lab))


# ---------------------------------------------------------------- spatial

def jitter(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """One warp whose displacement spread equals five successive N(0, amount^2) warps."""
    height, width = image.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    spread = amount * math.sqrt(5.0)
    rows = rows + rng.normal(0.0, spread, rows.shape)
    columns = columns + rng.normal(0.0, spread, columns.shape)
    values = unit(image)
    return to_bytes(per_channel(values, lambda channel: ndimage.map_coordinates(
        channel, (rows, columns), order=1, mode="mirror")))


def patch_swap(image: Image, count: float, rng: np.random.Generator) -> Image:
    """Swap pairs of overlapping neighbours (half a side apart): every swap moves two patches."""
    side, number = patches(image.shape, 16, count)
    height, width = image.shape[:2]
    out = image.copy()
    for _ in range(max(1, number // 2)):
        y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        angle = rng.uniform(0.0, 2 * math.pi)
        ty = int(np.clip(round(y + side / 2 * math.sin(angle)), 0, height - side))
        tx = int(np.clip(round(x + side / 2 * math.cos(angle)), 0, width - side))
        first, second = out[y:y + side, x:x + side].copy(), out[ty:ty + side, tx:tx + side].copy()
        out[ty:ty + side, tx:tx + side] = first
        out[y:y + side, x:x + side] = second
    return out


def pixelate(image: Image, amount: float, rng: np.random.Generator) -> Image:
    height, width = image.shape[:2]
    zoom = 0.95 - amount ** 0.6
    picture = PILImage.fromarray(image)
    small = picture.resize((max(1, round(width * zoom)), max(1, round(height * zoom))), PILImage.Resampling.BOX)
    return np.asarray(small.resize((width, height), PILImage.Resampling.NEAREST)).copy()


def uniform_quantization(image: Image, levels: float, rng: np.random.Generator) -> Image:
    """``levels`` equal-width bins over the image's own range, each shown at its centre."""
    low, high = float(image.min()), float(image.max())
    if high <= low:
        return image.copy()
    width = (high - low) / int(levels)
    bins = np.minimum(((image.astype(np.float64) - low) // width), int(levels) - 1)
    return np.clip(np.round(low + (bins + 0.5) * width), 0, 255).astype(np.uint8)


def colour_block(image: Image, count: float, rng: np.random.Generator) -> Image:
    side, number = patches(image.shape, 32, count)
    height, width = image.shape[:2]
    out = image.copy()
    for _ in range(number):
        start = (int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)))
        rows, columns = draw.rectangle(start, extent=(side, side), shape=image.shape[:2])
        out[rows, columns] = np.round(rng.random(3) * 255.0).astype(np.uint8)
    return out


# ---------------------------------------------------------------- sharpness and contrast

def high_sharpen(image: Image, amount: float, rng: np.random.Generator) -> Image:
    return to_bytes(filters.unsharp_mask(unit(image), radius=1.0, amount=amount, preserve_range=True,
                                         channel_axis=2))  # -1 gives NaN in skimage 0.26


def linear_contrast(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Gain 1 + amount about mid-grey: the slope of KADID's S-curve between its quartile points."""
    return to_bytes(0.5 + (1.0 + amount) * (unit(image) - 0.5))


# ---------------------------------------------------------------- the catalogue

RECIPES: dict[int, Recipe] = {
    1: gaussian_blur, 2: lens_blur, 3: motion_blur, 4: colour_diffusion, 5: colour_shift,
    6: colour_quantization, 7: saturation_hsv, 8: saturation_luv, 9: jpeg2000, 10: jpeg,
    11: white_noise, 12: ycbcr_noise, 13: impulse_noise, 14: multiplicative_noise, 15: denoise,
    16: brighten, 17: darken, 18: mean_shift, 19: jitter, 20: patch_swap, 21: pixelate,
    22: uniform_quantization, 23: colour_block, 24: high_sharpen, 25: linear_contrast,
}
SKIPPED: dict[int, str] = {} if features.check("jpg_2000") else {9: "Pillow has no JPEG 2000 encoder"}
TYPE_IDS: tuple[int, ...] = tuple(t for t in RECIPES if t not in SKIPPED)
RANDOM_STREAM = 11  # keeps these draws apart from the main generator's for the same seed


def distort(image: Image, type_id: int, level: int, seed: Sequence[int] = (0,)) -> Image:
    """Distort a uint8 RGB image with the second implementation of KADID type ``type_id`` at ``level``.

    Draws come from a Philox generator seeded with ``(*seed, type_id)``, so the
    five levels of one type share them, as in KADID.
    """
    if type_id not in TYPE_IDS:
        raise ValueError(f"no second implementation of type {type_id}: {SKIPPED.get(type_id, 'unknown type')}")
    if not 1 <= level <= 5:
        raise ValueError(f"level must be 1-5, got {level}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image, got {image.dtype} {image.shape}")
    rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([*map(int, seed), type_id, RANDOM_STREAM])))
    out = RECIPES[type_id](np.ascontiguousarray(image), float(BY_ID[type_id].parameters[level - 1]), rng)
    return np.ascontiguousarray(out, dtype=np.uint8)
