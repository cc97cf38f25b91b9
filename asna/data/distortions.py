"""KADID-10k's 25 distortion types at five levels, in NumPy/OpenCV.

Each type follows the definition in Lin, Hosu and Saupe, "KADID-10k: A
Large-scale Artificially Distorted IQA Database" (QoMEX 2019), with the level
parameters of its generator (blur sigmas, JPEG qualities, noise variances, ...)
in KADID's own pixel units, so a distortion looks as strong per pixel as it did
to KADID's viewers. Only the patch distortions (non-eccentricity patch, colour
block) depend on the image size: their patch side shrinks with small images and
their count is set so that the covered fraction of the image matches KADID's
512 x 384 images. Where the original used a tool we do not have (DnCNN for the
denoising type, MATLAB's multithresh and rgb2ind) a documented stand-in is used.

Randomness comes only from the ``rng`` passed in; ``distort`` builds it from a
seed that does not include the level, so the levels of one type share the same
noise field or patch positions and differ only in strength.

All functions take and return uint8 RGB images of shape (H, W, 3).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial import cKDTree

MOS_TABLE_PATH = Path(__file__).with_name("kadid_type_level_mos.csv")
KADID_AREA = 512 * 384  # pixels of a KADID-10k image
LEVELS = (1, 2, 3, 4, 5)

Image = np.ndarray
Apply = Callable[[Image, float, np.random.Generator], Image]


# ---------------------------------------------------------------- helpers

def to_float(image: Image) -> np.ndarray:
    """uint8 -> float32 in [0, 1]."""
    return image.astype(np.float32) / np.float32(255.0)


def to_uint8(image: np.ndarray) -> Image:
    """float in [0, 1] -> uint8, rounded and clipped."""
    return np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """float32 sRGB in [0, 1] -> CIE Lab (L in 0..100)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab -> float32 sRGB, clipped to [0, 1]."""
    return np.clip(cv2.cvtColor(np.ascontiguousarray(lab, np.float32), cv2.COLOR_Lab2RGB), 0, 1)


def filter_image(image: Image, kernel: np.ndarray) -> Image:
    """Convolve every channel with ``kernel`` (mirrored borders, like KADID's)."""
    out = cv2.filter2D(to_float(image), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT)
    return to_uint8(out)


def through_lut(image: Image, curve: Callable[[np.ndarray], np.ndarray]) -> Image:
    """Apply a tone curve on [0, 1] through a 256-entry table (exact for uint8 input)."""
    table = to_uint8(np.clip(curve(np.arange(256, dtype=np.float64) / 255.0), 0, 1))
    return cv2.LUT(image, table)


def patch_geometry(shape: tuple[int, ...], base_side: int, base_count: float) -> tuple[int, int]:
    """Patch side and count for an image of ``shape`` covering KADID's fraction.

    KADID places ``base_count`` patches of ``base_side`` pixels on 512 x 384
    images. Small crops get smaller patches (at least 4 pixels) and the count
    that keeps the covered area fraction the same.
    """
    area = shape[0] * shape[1]
    fraction = area / KADID_AREA
    side = max(4, min(base_side, int(round(base_side * math.sqrt(fraction)))))
    count = max(1, int(round(base_count * fraction * (base_side / side) ** 2)))
    return side, count


def supersampled_kernel(radius: int, inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
                        samples: int = 8) -> np.ndarray:
    """Kernel whose weights are the fraction of each pixel where ``inside`` holds."""
    size = 2 * radius + 1
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    grid = np.arange(size) - radius
    y = (grid[:, None] + offsets[None, :]).reshape(-1)
    x = y.copy()
    mask = inside(y[:, None], x[None, :]).astype(np.float64)
    kernel = mask.reshape(size, samples, size, samples).mean(axis=(1, 3))
    return kernel / kernel.sum()


# ---------------------------------------------------------------- blurs

def gaussian_blur(image: Image, sigma: float, rng: np.random.Generator) -> Image:
    """Type 1: Gaussian low-pass filter with standard deviation ``sigma``."""
    radius = max(1, int(math.ceil(3 * sigma)))
    out = cv2.GaussianBlur(to_float(image), (2 * radius + 1, 2 * radius + 1), sigma,
                           borderType=cv2.BORDER_REFLECT)
    return to_uint8(out)


def lens_blur(image: Image, radius: float, rng: np.random.Generator) -> Image:
    """Type 2: circular (pill-box) kernel of ``radius`` pixels, anti-aliased edge."""
    kernel = supersampled_kernel(int(math.ceil(radius)), lambda y, x: y ** 2 + x ** 2 <= radius ** 2)
    return filter_image(image, kernel)


def motion_blur(image: Image, length: float, rng: np.random.Generator) -> Image:
    """Type 3: a line kernel of ``length`` pixels at a random angle."""
    angle = rng.uniform(0.0, math.pi)
    direction = np.array([math.sin(angle), math.cos(angle)])
    half = max(length, 1.0) / 2.0

    def inside(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        along = y * direction[0] + x * direction[1]
        across = -y * direction[1] + x * direction[0]
        return (np.abs(along) <= half) & (np.abs(across) <= 0.5)

    return filter_image(image, supersampled_kernel(int(math.ceil(half + 0.5)), inside))


# ---------------------------------------------------------------- colour

def colour_diffusion(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 4: blur the Lab colour channels (sigma 1.5 a + 2) and amplify them by a."""
    lab = rgb_to_lab(to_float(image))
    sigma = 1.5 * amount + 2.0
    chroma = cv2.GaussianBlur(lab[..., 1:], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    lab[..., 1:] = chroma * amount
    return to_uint8(lab_to_rgb(lab))


def edge_weight(grey: np.ndarray) -> np.ndarray:
    """Smoothed gradient magnitude in [0, 1], robust to outliers (1 % clipped)."""
    gy, gx = np.gradient(grey)
    edges = cv2.GaussianBlur(np.hypot(gx, gy).astype(np.float32), (0, 0), 4.0,
                             borderType=cv2.BORDER_REFLECT)

    def stretch(values: np.ndarray) -> np.ndarray:
        low, high = float(values.min()), float(values.max())
        return (values - low) / (high - low) if high > low else np.zeros_like(values)

    edges = stretch(np.clip(stretch(edges), 0.1, 1.0))
    low, high = np.percentile(edges, [1, 99])
    return stretch(np.clip(edges, low, high))


def colour_shift(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 5: shift the green channel by ``amount`` pixels, blended in at edges."""
    rgb = to_float(image)
    grey = rgb @ np.array([0.2989, 0.5870, 0.1140], np.float32)
    weight = edge_weight(grey)
    angle = rng.uniform(0.0, 2 * math.pi)
    shift = np.array([[1, 0, amount * math.cos(angle)], [0, 1, amount * math.sin(angle)]], np.float32)
    green = rgb[..., 1]
    moved = cv2.warpAffine(green, shift, (green.shape[1], green.shape[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    rgb[..., 1] = moved * weight + green * (1 - weight)
    return to_uint8(rgb)


def kmeans_colours(pixels: np.ndarray, count: int, rng: np.random.Generator,
                   iterations: int = 10, sample: int = 4096) -> np.ndarray:
    """Palette of ``count`` colours by k-means on a seeded pixel sample."""
    chosen = pixels[rng.choice(len(pixels), size=min(sample, len(pixels)), replace=False)]
    centres = chosen[rng.choice(len(chosen), size=min(count, len(chosen)), replace=False)].copy()
    for _ in range(iterations):
        labels = nearest(chosen, centres)
        sums = np.stack([np.bincount(labels, chosen[:, c], len(centres)) for c in range(3)], axis=1)
        sizes = np.bincount(labels, minlength=len(centres))[:, None]
        centres = np.where(sizes > 0, sums / np.maximum(sizes, 1), centres).astype(np.float32)
    return centres


def nearest(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for every pixel (Euclidean, k-d tree)."""
    return cKDTree(centres).query(pixels, k=1)[1]


def colour_quantization(image: Image, colours: float, rng: np.random.Generator) -> Image:
    """Type 6: reduce the image to ``colours`` colours (k-means palette, no dithering).

    KADID used MATLAB's rgb2ind (minimum-variance quantisation); k-means finds
    a palette of the same kind.
    """
    pixels = to_float(image).reshape(-1, 3)
    palette = kmeans_colours(pixels, int(colours), rng)
    return to_uint8(palette[nearest(pixels, palette)].reshape(image.shape))


def saturation_hsv(image: Image, factor: float, rng: np.random.Generator) -> Image:
    """Type 7: multiply HSV saturation by ``factor`` (negative flips the hue).

    Scaling S with H and V fixed moves every channel towards V = max(R, G, B)
    linearly: c' = V + factor (c - V); no HSV round trip is needed.
    """
    rgb = to_float(image)
    value = rgb.max(axis=2, keepdims=True)
    return to_uint8(value + factor * (rgb - value))


def saturation_lab(image: Image, factor: float, rng: np.random.Generator) -> Image:
    """Type 8: multiply the Lab colour channels a and b by ``factor``."""
    lab = rgb_to_lab(to_float(image))
    lab[..., 1:] *= factor
    return to_uint8(lab_to_rgb(lab))


# ---------------------------------------------------------------- compression

CODEC_NAMES = {".jp2": "JPEG 2000", ".jpg": "JPEG"}  # for the error message


def codec_round_trip(image: Image, ext: str, params: Sequence[int]) -> Image:
    """Encode a uint8 RGB image with OpenCV's ``ext`` codec and ``params``, and decode it back."""
    ok, data = cv2.imencode(ext, image[..., ::-1], list(params))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {CODEC_NAMES.get(ext, ext)}")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


JPEG2000_HEADER_BYTES = 250  # OpenCV 5 / OpenJPEG .jp2 boxes and main header, measured


def jpeg2000(image: Image, ratio: float, rng: np.random.Generator) -> Image:
    """Type 9: JPEG 2000 at compression ratio ``ratio`` (OpenCV / OpenJPEG).

    The file's fixed headers are added to the budget, so small crops get the
    bits per pixel that ``ratio`` means instead of little more than headers.
    """
    raw = image.size
    rate = min(1000, int(math.ceil(1000.0 * (raw / ratio + JPEG2000_HEADER_BYTES) / raw)))
    return codec_round_trip(image, ".jp2", [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, rate])


def jpeg(image: Image, quality: float, rng: np.random.Generator) -> Image:
    """Type 10: JPEG at ``quality`` (OpenCV / libjpeg, 4:2:0 chroma)."""
    return codec_round_trip(image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)])


# ---------------------------------------------------------------- noise

def white_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    """Type 11: additive Gaussian noise of ``variance`` on [0, 1] RGB."""
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return to_uint8(to_float(image) + math.sqrt(variance) * noise)


# MATLAB's rgb2ycbcr (ITU-R BT.601, studio range), on [0, 1] values.
YCBCR = np.array([[65.481, 128.553, 24.966],
                  [-37.797, -74.203, 112.0],
                  [112.0, -93.786, -18.214]], np.float64) / 255.0
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0


def ycbcr_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    """Type 12: Gaussian noise of ``variance`` added in YCbCr, converted back to RGB."""
    ycbcr = to_float(image).astype(np.float64) @ YCBCR.T + YCBCR_OFFSET
    ycbcr += math.sqrt(variance) * rng.standard_normal(image.shape)
    rgb = (ycbcr - YCBCR_OFFSET) @ np.linalg.inv(YCBCR).T
    return to_uint8(rgb)


def impulse_noise(image: Image, density: float, rng: np.random.Generator) -> Image:
    """Type 13: salt and pepper on a ``density`` fraction of the values (per channel)."""
    draw = rng.random(image.shape, dtype=np.float32)
    out = image.copy()
    out[draw < density / 2] = 0
    out[draw > 1 - density / 2] = 255
    return out


def multiplicative_noise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    """Type 14: speckle, I + n I with Gaussian n of ``variance``."""
    rgb = to_float(image)
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return to_uint8(rgb + rgb * math.sqrt(variance) * noise)


def denoise(image: Image, variance: float, rng: np.random.Generator) -> Image:
    """Type 15: white noise of ``variance``, then removed by a denoiser.

    KADID denoised with DnCNN; non-local means (OpenCV) with its strength set
    to the noise level leaves the same kind of smoothed, detail-poor result.
    """
    noisy = white_noise(image, variance, rng)
    strength = 255.0 * math.sqrt(variance)
    return cv2.fastNlMeansDenoisingColored(noisy, None, strength, strength, 5, 11)


# ---------------------------------------------------------------- brightness

def quadratic_curve(middle: float) -> Callable[[np.ndarray], np.ndarray]:
    """Tone curve y = a x^2 + b x through (0, 0), (0.5, middle), (1, 1)."""
    a, b = 2.0 - 4.0 * middle, 4.0 * middle - 1.0
    return lambda x: np.clip(a * x * x + b * x, 0.0, 1.0)


def tone_change(image: Image, middle: float) -> Image:
    """A tone curve applied to RGB and to Lab lightness, mixed 2:1 (KADID's recipe)."""
    curve = quadratic_curve(middle)
    direct = to_float(through_lut(image, curve))
    lab = rgb_to_lab(to_float(image))
    lab[..., 0] = 100.0 * curve(lab[..., 0] / 100.0)
    return to_uint8((2.0 * direct + lab_to_rgb(lab)) / 3.0)


def brighten(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 16: lift the tone curve's middle to 0.5 + 0.5 amount."""
    return tone_change(image, 0.5 + 0.5 * amount)


def darken(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 17: drop the tone curve's middle to 0.5 - 0.5 amount."""
    return tone_change(image, 0.5 - 0.5 * amount)


def mean_shift(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 18: add ``amount`` (fraction of the range) to every value, clipped."""
    return through_lut(image, lambda x: x + amount)


# ---------------------------------------------------------------- spatial

def jitter(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 19: five random per-pixel warps, displacement N(0, amount^2) pixels."""
    height, width = image.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = to_float(image)
    for _ in range(5):
        shift = rng.standard_normal((2, height, width), dtype=np.float32) * np.float32(amount)
        out = cv2.remap(out, grid_x - shift[1], grid_y - shift[0], cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT)
    return to_uint8(out)


def non_eccentricity_patch(image: Image, count: float, rng: np.random.Generator) -> Image:
    """Type 20: copy small patches to a random nearby place (KADID: 16 px, 16 px away)."""
    side, patches = patch_geometry(image.shape, 16, count)
    height, width = image.shape[:2]
    out = image.copy()
    for _ in range(patches):
        y = int(rng.integers(0, height - side + 1))
        x = int(rng.integers(0, width - side + 1))
        dy, dx = (rng.uniform(-0.5, 0.5, size=2) * side).round().astype(int)
        ty, tx = int(np.clip(y + dy, 0, height - side)), int(np.clip(x + dx, 0, width - side))
        out[ty:ty + side, tx:tx + side] = image[y:y + side, x:x + side]
    return out


def pixelate(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 21: nearest-neighbour down to z = 0.95 - amount^0.6 of the size and back."""
    height, width = image.shape[:2]
    zoom = 0.95 - amount ** 0.6
    small = cv2.resize(image, (max(1, round(width * zoom)), max(1, round(height * zoom))),
                       interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def lloyd_max_levels(image: Image, levels: int, iterations: int = 30) -> np.ndarray:
    """Output value (0..255) for every input value: optimal ``levels``-level quantiser.

    KADID used MATLAB's multithresh (multi-level Otsu), whose thresholds
    minimise the within-class variance; Lloyd-Max on the histogram does the same.
    """
    histogram = np.bincount(image.reshape(-1), minlength=256).astype(np.float64)
    values = np.arange(256, dtype=np.float64)
    cumulative = np.cumsum(histogram) / histogram.sum()
    centres = np.interp((np.arange(levels) + 0.5) / levels, cumulative, values)
    for _ in range(iterations):
        thresholds = (centres[1:] + centres[:-1]) / 2
        labels = np.searchsorted(thresholds, values)
        weights = np.bincount(labels, weights=histogram, minlength=levels)
        sums = np.bincount(labels, weights=histogram * values, minlength=levels)
        centres = np.where(weights > 0, sums / np.maximum(weights, 1e-12), centres)
        centres = np.sort(centres)
    labels = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
    return np.clip(np.rint(centres[labels]), 0, 255).astype(np.uint8)


def quantization(image: Image, levels: float, rng: np.random.Generator) -> Image:
    """Type 22: quantise all values to ``levels`` grey levels (thresholds from the image)."""
    return cv2.LUT(image, lloyd_max_levels(image, int(levels)))


def colour_block(image: Image, count: float, rng: np.random.Generator) -> Image:
    """Type 23: paste uniformly coloured square blocks (KADID: 32 px) at random places."""
    side, blocks = patch_geometry(image.shape, 32, count)
    height, width = image.shape[:2]
    out = image.copy()
    for _ in range(blocks):
        colour = rng.integers(0, 256, size=3)
        y = int(rng.integers(0, height - side + 1))
        x = int(rng.integers(0, width - side + 1))
        out[y:y + side, x:x + side] = colour.astype(np.uint8)
    return out


# ---------------------------------------------------------------- sharpness and contrast

def high_sharpen(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 24: unsharp masking of Lab lightness (radius 1) with gain ``amount``."""
    lab = rgb_to_lab(to_float(image))
    lightness = lab[..., 0]
    blurred = cv2.GaussianBlur(lightness, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    lab[..., 0] = np.clip(lightness + amount * (lightness - blurred), 0, 100)
    return to_uint8(lab_to_rgb(lab))


def contrast_change(image: Image, amount: float, rng: np.random.Generator) -> Image:
    """Type 25: monotone S-curve through (0.25, 0.25 - a/4) and (0.75, 0.75 + a/4).

    Positive ``amount`` raises contrast, negative lowers it, zero is identity.
    """
    curve = PchipInterpolator([0.0, 0.25, 0.5, 0.75, 1.0],
                              [0.0, 0.25 - amount / 4, 0.5, 0.75 + amount / 4, 1.0])
    return through_lut(image, curve)


# ---------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class DistortionType:
    """One KADID-10k type: id, table name, the five level parameters, the function."""

    type_id: int
    name: str
    parameters: tuple[float, float, float, float, float]
    apply: Apply
    colour_only: bool = False  # no effect on grey images (skipped for them)


DISTORTIONS: tuple[DistortionType, ...] = (
    DistortionType(1, "GBLUR", (0.1, 0.5, 1, 2, 5), gaussian_blur),
    DistortionType(2, "Lens_Blur", (1, 2, 4, 6, 8), lens_blur),
    DistortionType(3, "Motion_Blur", (1, 2, 4, 6, 10), motion_blur),
    DistortionType(4, "Color_Diffusion", (1, 3, 6, 8, 12), colour_diffusion, colour_only=True),
    DistortionType(5, "Color_Shift", (1, 3, 6, 8, 12), colour_shift),
    DistortionType(6, "Color_Quantization", (64, 48, 32, 16, 8), colour_quantization),
    DistortionType(7, "Saturation_Dist._HSV", (0.4, 0.2, 0.1, 0, -0.4), saturation_hsv, colour_only=True),
    DistortionType(8, "Saturation_Dist._Lab", (1, 2, 3, 6, 9), saturation_lab, colour_only=True),
    DistortionType(9, "JP2K", (16, 32, 45, 120, 170), jpeg2000),
    DistortionType(10, "JPEG", (43, 36, 24, 7, 4), jpeg),
    DistortionType(11, "AWGN", (0.001, 0.002, 0.003, 0.005, 0.01), white_noise),
    DistortionType(12, "AWGN_YCbCr", (0.0001, 0.0005, 0.001, 0.002, 0.003), ycbcr_noise),
    DistortionType(13, "Impulse_Noise", (0.001, 0.005, 0.01, 0.02, 0.03), impulse_noise),
    DistortionType(14, "Multiplicative_Noise", (0.001, 0.005, 0.01, 0.02, 0.05), multiplicative_noise),
    DistortionType(15, "Denoising", (0.001, 0.002, 0.003, 0.005, 0.01), denoise),
    DistortionType(16, "Brighten", (0.1, 0.2, 0.4, 0.7, 1.1), brighten),
    DistortionType(17, "Darken", (0.05, 0.1, 0.2, 0.4, 0.8), darken),
    DistortionType(18, "Mean_Shift", (0.15, 0.08, 0, -0.08, -0.15), mean_shift),
    DistortionType(19, "Jitter", (0.05, 0.1, 0.2, 0.5, 1), jitter),
    DistortionType(20, "Non-eccentricity_patch", (20, 40, 60, 80, 100), non_eccentricity_patch),
    DistortionType(21, "Pixelate", (0.01, 0.05, 0.1, 0.2, 0.5), pixelate),
    DistortionType(22, "Quantization", (20, 16, 13, 10, 7), quantization),
    DistortionType(23, "Color_Block", (2, 4, 6, 8, 10), colour_block),
    DistortionType(24, "High_Sharpen", (1, 2, 3, 6, 12), high_sharpen),
    DistortionType(25, "Contrast Dist.", (0.3, 0.15, 0, -0.4, -0.6), contrast_change),
)
BY_ID = {d.type_id: d for d in DISTORTIONS}


JITTER_STREAM = 7  # keeps the jitter draw apart from the distortion's own random draws


def level_parameter(type_id: int, position: float) -> float:
    """The type's parameter at a fractional level ``position`` (1-5), linear between KADID's levels."""
    return float(np.interp(min(max(position, LEVELS[0]), LEVELS[-1]), LEVELS, BY_ID[type_id].parameters))


def jittered_parameter(type_id: int, level: int, seed: Sequence[int], jitter: float) -> float:
    """The level's parameter moved a seeded U(-jitter, +jitter) levels towards a neighbour.

    Positions past levels 1 and 5 are clipped, so every parameter lies within
    KADID's range. ``jitter`` 0 gives the level's own parameter.
    """
    if jitter <= 0:
        return float(BY_ID[type_id].parameters[level - 1])
    offset = np.random.default_rng([*map(int, seed), type_id, level, JITTER_STREAM]).uniform(-jitter, jitter)
    return level_parameter(type_id, level + offset)


def distort(image: Image, type_id: int, level: int, seed: Sequence[int] = (0,), jitter: float = 0.0) -> Image:
    """Distort a uint8 RGB image with KADID type ``type_id`` at ``level`` (1-5).

    The random generator is seeded with ``(*seed, type_id)`` and not the level,
    so the five levels of one type share their random draws. ``jitter`` > 0
    draws the strength around the level (``jittered_parameter``), so a training
    set does not pair each label with one exact parameter.
    """
    kind = BY_ID[type_id]
    if level not in LEVELS:
        raise ValueError(f"level must be 1-5, got {level}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image, got {image.dtype} {image.shape}")
    rng = np.random.default_rng([*map(int, seed), type_id])
    out = kind.apply(np.ascontiguousarray(image), jittered_parameter(type_id, level, seed, jitter), rng)
    return np.ascontiguousarray(out, dtype=np.uint8)


@dataclass(frozen=True)
class MosEntry:
    """KADID-10k's mean opinion score of one (type, level)."""

    type_id: int
    name: str
    level: int
    mos_mean: float
    mos_std: float
    n_images: int


def read_mos_table(path: str | Path = MOS_TABLE_PATH) -> dict[tuple[int, int], MosEntry]:
    """The (type_id, level) -> MOS table shipped beside this module."""
    with open(path, encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        table = {}
        for row in rows:
            entry = MosEntry(int(row["type_id"]), row["type"], int(row["level"]),
                             float(row["mos_mean"]), float(row["mos_std"]), int(row["n_images"]))
            table[(entry.type_id, entry.level)] = entry
    return table


def mos_standardization(type_ids: Sequence[int], table: dict[tuple[int, int], MosEntry]) -> tuple[float, float]:
    """Mean and population std of the table's MOS over the given types' 5 levels."""
    values = np.array([table[(t, level)].mos_mean for t in type_ids for level in LEVELS])
    return float(values.mean()), float(values.std())
