"""GMSD and HaarPSI against values worked out by hand from their published definitions."""

from __future__ import annotations

import numpy as np
import pytest

from asna.evaluation.similarity import GMSD_C, gmsd, haar_filter, haarpsi


def grey(blocks: np.ndarray) -> np.ndarray:
    """A grey RGB image whose 2 x 2 blocks hold ``blocks`` (Y = R = G = B, as 0.299 + 0.587 + 0.114 = 1)."""
    image = np.kron(np.asarray(blocks, np.float64), np.ones((2, 2)))
    return np.repeat(image[:, :, None], 3, axis=2)


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255)


def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()[100:164, 100:164].astype(np.float64)


def test_gmsd_of_a_hand_computed_pair():
    """4 x 4 images of 2 x 2 blocks: after the 2 x 2 mean and 2x down-sampling, 2 x 2 images.

    With zero padding, the Prewitt gradients of the 2 x 2 image [[a, b], [c, d]] are
    |gx| = |b + d| / 3 and |gy| = |c + d| / 3 at the top-left pixel, and likewise by
    symmetry elsewhere. Reference: all 100, so every magnitude is 2 sqrt(2) 100 / 3.
    Distorted: [[90, 0], [0, 0]]: magnitudes 0 (top left), 90 / 3 (top right and
    bottom left) and sqrt(2) 90 / 3 (bottom right).
    """
    reference, distorted = grey(np.full((2, 2), 100.0)), grey([[90.0, 0.0], [0.0, 0.0]])
    m_ref = 2 * np.sqrt(2) * 100 / 3
    m_dis = np.array([0.0, 30.0, 30.0, np.sqrt(2) * 30.0])
    gms = (2 * m_ref * m_dis + GMSD_C) / (m_ref ** 2 + m_dis ** 2 + GMSD_C)
    expected = np.sqrt(np.mean((gms - gms.mean()) ** 2))
    assert gmsd(reference[None], distorted[None])[0] == pytest.approx(expected, rel=1e-9)
    assert expected > 0.1  # the case is not trivially zero


def test_gmsd_is_zero_for_identical_images_and_grows_with_noise():
    image = photo()
    values = gmsd(np.stack([image] * 4), np.stack([image] + [noisy(image, s) for s in (5, 20, 60)]))
    assert values[0] == 0.0
    assert np.all(np.diff(values) > 0), values
    assert 0 < values[-1] < 0.5  # GMS lies in (0, 1], so its deviation stays below 1


def test_haar_filters_follow_the_definition():
    np.testing.assert_array_equal(haar_filter(1), [[-0.5, -0.5], [0.5, 0.5]])
    scale3 = haar_filter(3)
    assert scale3.shape == (8, 8) and np.all(scale3[:4] == -0.125) and np.all(scale3[4:] == 0.125)


def test_haarpsi_is_one_for_identical_images_symmetric_and_falls_with_noise():
    image = photo()
    distorted = [image] + [noisy(image, s) for s in (5, 20, 60)]
    values = haarpsi(np.stack([image] * 4), np.stack(distorted))
    assert values[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(values) < 0) and np.all(values > 0), values
    backwards = haarpsi(np.stack(distorted), np.stack([image] * 4))
    np.testing.assert_allclose(backwards, values, rtol=1e-12)


def test_haarpsi_sees_a_colour_change_that_gmsd_misses():
    """Grey images have I = Q = 0, so the chroma similarity is (0 + C) / (0 + C) = 1 and a
    grey copy scores exactly 1. A tint that keeps Y (R + 20, G - 20 * 0.299 / 0.587) leaves
    every luminance term, hence GMSD, unchanged; only HaarPSI's chroma term drops.
    """
    image = grey(np.arange(16.0).reshape(4, 4) * 10 + 50)
    assert haarpsi(image[None], image[None])[0] == pytest.approx(1.0, abs=1e-12)
    tinted = image + np.array([20.0, -20.0 * 0.299 / 0.587, 0.0])
    assert gmsd(image[None], tinted[None])[0] == pytest.approx(0.0, abs=1e-12)
    assert haarpsi(image[None], tinted[None])[0] < 1.0
