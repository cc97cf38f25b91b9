"""PSNR, SSIM, MS-SSIM, GMSD and HaarPSI per pair: the hand-crafted baselines of every report.

Computed with ``tf.image`` on the RGB images as given (pixel range 0-255, the
mean over the three channels), on the same pairs the models score: the stored
S x S images of an HDF5 file, or the whole images of a folder.

* PSNR of identical images is infinite; it is capped at ``PSNR_CAP`` dB so
  correlations stay defined (the ranking is kept).
* SSIM uses the usual 11 x 11 Gaussian window (sigma 1.5); images smaller than
  11 pixels on a side get NaN (reported as null).
* MS-SSIM uses 5 scales with the weights of Wang et al. (2003) when the image
  is at least 161 pixels on its shorter side (the fifth scale, 1/16 of the
  side, still holds the 11-pixel window). Smaller images use as many scales as
  fit, with the first weights renormalised to sum to 1 (e.g. 32 x 32: 2 scales,
  weights 0.136 and 0.864); below 11 pixels, NaN.
* GMSD and HaarPSI are defined in :mod:`asna.evaluation.similarity`. GMSD is a
  distortion (0 for identical images, larger is worse); the others grow with
  quality.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

PSNR_CAP = 100.0
SSIM_WINDOW = 11
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
METHODS = ("psnr", "ssim", "ms_ssim", "gmsd", "haarpsi")


def ms_ssim_scales(height: int, width: int) -> int:
    """How many of the 5 scales keep at least an 11-pixel side (TensorFlow halves, rounding up)."""
    side, scales = min(height, width), 0
    while scales < len(MS_SSIM_WEIGHTS) and math.ceil(side / 2 ** scales) >= SSIM_WINDOW:
        scales += 1
    return scales


def power_factors(scales: int) -> tuple[float, ...]:
    """The first ``scales`` MS-SSIM weights, renormalised to sum to 1."""
    weights = MS_SSIM_WEIGHTS[:scales]
    total = sum(weights)
    return tuple(w / total for w in weights)


def classic_scores(reference_batch: np.ndarray, distorted_batch: np.ndarray) -> dict[str, np.ndarray]:
    """Every method in ``METHODS`` for a batch of equally sized pairs, (N,) each."""
    import tensorflow as tf

    from asna.evaluation.similarity import gmsd, haarpsi

    references = tf.convert_to_tensor(np.asarray(reference_batch), dtype=tf.float32)
    distorted = tf.convert_to_tensor(np.asarray(distorted_batch), dtype=tf.float32)
    count, height, width = references.shape[:3]
    psnr = np.minimum(tf.image.psnr(references, distorted, max_val=255.0).numpy(), PSNR_CAP)
    similarity = {"gmsd": gmsd(reference_batch, distorted_batch),
                  "haarpsi": haarpsi(reference_batch, distorted_batch)}
    nan = np.full(count, np.nan)
    if min(height, width) < SSIM_WINDOW:
        return {"psnr": psnr.astype(np.float64), "ssim": nan, "ms_ssim": nan.copy(), **similarity}
    ssim = tf.image.ssim(references, distorted, max_val=255.0).numpy()
    factors = power_factors(ms_ssim_scales(height, width))
    ms_ssim = tf.image.ssim_multiscale(references, distorted, max_val=255.0,
                                       power_factors=factors).numpy()
    return {"psnr": psnr.astype(np.float64), "ssim": ssim.astype(np.float64),
            "ms_ssim": ms_ssim.astype(np.float64), **similarity}


def classic_scores_for_pairs(references: Sequence[np.ndarray],
                             distorted: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Same as :func:`classic_scores` for pairs of any sizes: pairs are grouped by shape."""
    count = len(references)
    results = {method: np.full(count, np.nan) for method in METHODS}
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(references):
        groups.setdefault(image.shape, []).append(index)
    for indices in groups.values():
        scores = classic_scores(np.stack([references[i] for i in indices]),
                                np.stack([distorted[i] for i in indices]))
        for method in METHODS:
            results[method][indices] = scores[method]
    return results
