"""GMSD and HaarPSI: the strongest hand-crafted full-reference baselines the reports carry.

Both are written from their papers with the published constants, for RGB
images on the 0-255 scale, a batch of equally sized pairs at a time. Filters
use zero padding and MATLAB's ``conv2(..., 'same')`` alignment (the window of an
even k x k filter at pixel i covers i - k/2 + 1 .. i + k/2), which is
TensorFlow's ``SAME`` padding.

* **GMSD** (Xue, Zhang, Mou and Bovik, "Gradient Magnitude Similarity Deviation",
  IEEE TIP 2014): luminance ``Y = 0.299 R + 0.587 G + 0.114 B``; a 2 x 2 mean
  filter and 2x down-sampling; gradient magnitudes with the 3 x 3 Prewitt filters
  (``[1 0 -1] / 3`` in each row, and its transpose); the per-pixel similarity
  ``GMS = (2 m_r m_d + c) / (m_r^2 + m_d^2 + c)`` with ``c = 170``; GMSD is the
  standard deviation of GMS over the pixels (1/N). It is a *distortion*: 0 for
  identical images, larger is worse.
* **HaarPSI** (Reisenhofer, Bosse, Kutyniok and Wiegand, "A Haar wavelet-based
  perceptual similarity index", Signal Processing: Image Communication 2018):
  YIQ channels; Y, I and Q 2 x 2 mean-filtered and 2x down-sampled; Haar filters
  of scales j = 1, 2, 3 (2^j x 2^j, entries +-2^-j, one half negative) in the
  horizontal and vertical direction on Y; per direction the local similarity is
  the mean over scales 1 and 2 of ``(2 |a| |b| + C) / (a^2 + b^2 + C)``, weighted
  by the larger scale-3 magnitude of the two images; the chroma similarity is
  the mean of the same expression on ``|2 x 2 mean of I|`` and ``|... of Q|``,
  weighted by the mean of the two directional weights. The index is
  ``(logit_a(sum w sigmoid_a(s) / sum w))^2`` with ``C = 30`` and ``a = 4.2``. It
  is a *similarity*: 1 for identical images, smaller is worse.
"""

from __future__ import annotations

import numpy as np

GMSD_C = 170.0
HAARPSI_C = 30.0
HAARPSI_ALPHA = 4.2
HAARPSI_SCALES = 3
LUMA = (0.299, 0.587, 0.114)
YIQ_I = (0.596, -0.274, -0.322)
YIQ_Q = (0.211, -0.523, 0.312)
PREWITT_X = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0


def _channel(images: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    """A weighted sum of the RGB channels, (N, H, W) float64."""
    return np.asarray(images, np.float64) @ np.asarray(weights, np.float64)


def _filter(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every (H, W) image with ``kernel``, zero padding, output the input's size."""
    import tensorflow as tf

    kernel = np.asarray(kernel, np.float64)[:, :, None, None]
    result = tf.nn.conv2d(np.asarray(images, np.float64)[..., None], kernel, strides=1, padding="SAME")
    return result.numpy()[..., 0]


def _downsample(images: np.ndarray) -> np.ndarray:
    """The 2 x 2 mean, then every second row and column."""
    return _filter(images, np.full((2, 2), 0.25))[:, ::2, ::2]


def gmsd(reference_batch: np.ndarray, distorted_batch: np.ndarray) -> np.ndarray:
    """GMSD of each pair of a batch (N, H, W, 3) on 0-255: (N,), 0 for identical images."""
    magnitudes = []
    for batch in (reference_batch, distorted_batch):
        luminance = _downsample(_channel(batch, LUMA))
        magnitudes.append(np.hypot(_filter(luminance, PREWITT_X), _filter(luminance, PREWITT_X.T)))
    reference, distorted = magnitudes
    similarity = (2 * reference * distorted + GMSD_C) / (reference ** 2 + distorted ** 2 + GMSD_C)
    return similarity.reshape(len(similarity), -1).std(axis=1)


def haar_filter(scale: int) -> np.ndarray:
    """The 2^j x 2^j Haar filter of scale j: entries 2^-j, the upper half negated."""
    size = 2 ** scale
    kernel = np.full((size, size), 2.0 ** -scale)
    kernel[: size // 2] *= -1.0
    return kernel


def _haar_coefficients(luminance: np.ndarray) -> list[list[np.ndarray]]:
    """[horizontal, vertical] lists of the scale 1..3 coefficients."""
    kernels = [haar_filter(scale) for scale in range(1, HAARPSI_SCALES + 1)]
    return [[_filter(luminance, k) for k in kernels], [_filter(luminance, k.T) for k in kernels]]


def _similarity(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    first, second = np.abs(first), np.abs(second)
    return (2 * first * second + HAARPSI_C) / (first ** 2 + second ** 2 + HAARPSI_C)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-HAARPSI_ALPHA * values))


def _logit(values: np.ndarray) -> np.ndarray:
    return np.log(values / (1.0 - values)) / HAARPSI_ALPHA


def haarpsi(reference_batch: np.ndarray, distorted_batch: np.ndarray) -> np.ndarray:
    """HaarPSI of each pair of a batch (N, H, W, 3) on 0-255: (N,), 1 for identical images.

    NaN where both images are flat (every scale-3 weight is zero), since the
    weighted mean is then undefined.
    """
    channels = []
    for batch in (reference_batch, distorted_batch):
        channels.append([_downsample(_channel(batch, weights)) for weights in (LUMA, YIQ_I, YIQ_Q)])
    (y_ref, i_ref, q_ref), (y_dis, i_dis, q_dis) = channels
    ref_coefficients, dis_coefficients = _haar_coefficients(y_ref), _haar_coefficients(y_dis)
    similarities, weights = [], []
    for ref, dis in zip(ref_coefficients, dis_coefficients):  # horizontal, then vertical
        weights.append(np.maximum(np.abs(ref[2]), np.abs(dis[2])))
        similarities.append((_similarity(ref[0], dis[0]) + _similarity(ref[1], dis[1])) / 2)
    mean = np.full((2, 2), 0.25)
    chroma = [_similarity(_filter(r, mean), _filter(d, mean)) for r, d in ((i_ref, i_dis), (q_ref, q_dis))]
    similarities.append((chroma[0] + chroma[1]) / 2)
    weights.append((weights[0] + weights[1]) / 2)
    similarities, weights = np.stack(similarities, 1), np.stack(weights, 1)
    count = len(similarities)
    weight_sums = weights.reshape(count, -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (_sigmoid(similarities) * weights).reshape(count, -1).sum(axis=1) / weight_sums
        return _logit(pooled) ** 2
