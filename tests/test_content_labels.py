"""Content-aware labels: a condition keeps its mean, pairs within it move with the metric, only mos and y change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from asna.core.errors import UserError
from asna.data.content_labels import condition_keys, content_aware, content_copy, relabel
from asna.data.layout import PairWriter, open_pairs


def test_a_condition_keeps_its_mean_and_its_pairs_follow_the_metric():
    mos = np.array([4.0, 4.0, 4.0, 2.0, 2.0, 2.0])
    quality = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    keys = ["1_1"] * 3 + ["1_3"] * 3
    labels, slope, offset = content_aware(mos, quality, keys, weight=1.0)
    # least squares over all six: slope = 1.8 / 0.58, through the means (0.5, 3)
    assert slope == pytest.approx(1.8 / 0.58) and offset == pytest.approx(3 - 0.5 * 1.8 / 0.58)
    assert labels[:3].mean() == pytest.approx(4.0) and labels[3:].mean() == pytest.approx(2.0)
    assert labels[0] - labels[1] == pytest.approx(0.18 / 0.58) and labels[0] > 4.0  # not clipped
    half, _, _ = content_aware(mos, quality, keys, weight=0.5)
    assert half[0] - half[1] == pytest.approx(0.09 / 0.58)
    same, _, _ = content_aware(mos, quality, keys, weight=0.0)
    assert np.array_equal(same, mos)
    fitted = 1.8 / 0.58 * (quality - 0.5) + 3
    assert np.allclose(content_aware(mos, quality, keys, weight=1.0, across=1.0)[0], fitted)  # the metric itself
    # across 0.5: each condition's mean moves half way to the metric's mean of it
    moved, _, _ = content_aware(mos, quality, keys, weight=0.0, across=0.5)
    assert moved[:3] == pytest.approx([(4.0 + fitted[:3].mean()) / 2] * 3)


def test_conditions_come_from_the_names_and_a_name_without_one_is_refused():
    assert condition_keys(["A0001_10_03.bmp", "bird_01_5.png"]) == ["10_3", "1_5"]
    with pytest.raises(UserError, match="p0001.png: no <type>_<level> in the name"):
        condition_keys(["p0001.png"])


def small_source(tmp_path):
    """A prepared file of four references, one type at two levels."""
    rng = np.random.default_rng(0)
    source = tmp_path / "train.h5"
    with PairWriter(source, 32, {"synthetic": (3.0, 2.0)}, split="train", split_seed=0) as writer:
        for ref in range(4):
            smooth = cv2.GaussianBlur(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8), (0, 0), 0.5 + ref)
            for level, mos in ((1, 4.5), (3, 2.5)):
                distorted = np.clip(smooth + rng.normal(0, 8 * level, smooth.shape), 0, 255).astype(np.uint8)
                writer.append(smooth, distorted, mos, f"A{ref:04d}_11_{level:02d}.bmp", f"A{ref:04d}", "synthetic",
                              dist_type="11")
    return source


def test_the_copy_changes_only_mos_and_y_and_keeps_the_standardisation(tmp_path):
    source = small_source(tmp_path)
    done = relabel(source, tmp_path / "content.h5", weight=1.0)
    assert (done.pairs, done.conditions) == (8, 2) and done.slope > 0 and done.within_sd > 0
    with open_pairs(source) as old, open_pairs(done.path) as new:
        assert np.array_equal(old["x"][:], new["x"][:])
        assert list(old["dist_name"][:]) == list(new["dist_name"][:])
        mos = new["mos"][:]
        assert np.allclose(new["y"][:], (mos - 3.0) / 2.0, atol=1e-6)
        for level in (slice(0, 8, 2), slice(1, 8, 2)):  # each condition keeps its mean
            assert mos[level].mean() == pytest.approx(old["mos"][level].mean(), abs=1e-5)
        assert not np.allclose(mos, old["mos"][:])
        assert new.attrs["labels"] == "content-aware: haarpsi, weight 1, across 0"
    with pytest.raises(UserError, match="must not replace its source"):
        relabel(source, source)


def test_a_study_makes_the_copy_once_and_again_when_its_source_or_settings_change(tmp_path):
    import os

    source = small_source(tmp_path)
    copy = content_copy(source, 1.0)
    assert copy == tmp_path / "train_content_w1.h5"
    made = copy.stat().st_mtime_ns
    assert content_copy(source, 1.0) == copy and copy.stat().st_mtime_ns == made  # reused
    half = content_copy(source, 0.5)
    assert half.name == "train_content_w0.5.h5" and half != copy
    with open_pairs(half) as handle:
        assert handle.attrs["labels"] == "content-aware: haarpsi, weight 0.5, across 0"
    later = made + 10**9
    os.utime(source, ns=(later, later))  # the source was rebuilt after the copy
    assert content_copy(source, 1.0) == copy and copy.stat().st_mtime_ns > made
