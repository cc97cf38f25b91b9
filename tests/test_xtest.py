"""The cross-implementation test set: a second, independent way to make each KADID type."""

from __future__ import annotations

import ast
import inspect
import re

import cv2
import numpy as np
import pytest

from asna.data import distortions, synthetic, xtest_distortions
from asna.data.layout import decode_strings, open_pairs

# PSNR must not rise with the level for these (mean shift and contrast go both ways by design,
# colour shift and the patch swap move random content, so they are only roughly monotone)
MONOTONE_TYPES = (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 21, 22, 24)
CHEAP_TYPES = (1, 4, 10, 13, 16)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - image) ** 2)
    return 100.0 if error == 0 else 10 * np.log10(255.0 ** 2 / error)


@pytest.fixture(scope="module")
def crops() -> dict[int, np.ndarray]:
    """A natural colour crop (chelsea, a test photograph) at the sizes the tests use."""
    photo = synthetic.load_photograph("chelsea", None)
    return {size: np.ascontiguousarray(cv2.resize(photo, (size * 3 // 2, size * 3 // 2),
                                                  interpolation=cv2.INTER_AREA)[:size, :size])
            for size in (32, 64, 96)}


def test_every_type_has_a_second_implementation_that_differs_from_the_first(crops):
    image = crops[64]
    assert set(xtest_distortions.TYPE_IDS) | set(xtest_distortions.SKIPPED) == set(distortions.BY_ID)
    assert not xtest_distortions.SKIPPED  # Pillow here has JPEG 2000
    for type_id in xtest_distortions.TYPE_IDS:
        differs = []
        for level in (4, 5):  # (some levels agree by definition: HSV saturation 0 is V in both)
            second = xtest_distortions.distort(image, type_id, level, (0, 1))
            assert second.shape == image.shape and second.dtype == np.uint8
            differs.append(not np.array_equal(second, distortions.distort(image, type_id, level, (0, 1))))
        assert any(differs), type_id


def test_every_type_changes_the_image(crops):
    image = crops[64]
    for type_id in xtest_distortions.TYPE_IDS:
        worst = min(psnr(image, xtest_distortions.distort(image, type_id, level, (0, 3))) for level in range(1, 6))
        assert worst < 35, type_id
    for type_id in (18, 25):  # their middle level is no change, as in KADID
        np.testing.assert_array_equal(xtest_distortions.distort(image, type_id, 3), image)


@pytest.mark.parametrize("size", [64, 96])
def test_damage_grows_with_the_level(crops, size):
    image = crops[size]
    for type_id in MONOTONE_TYPES:
        values = [psnr(image, xtest_distortions.distort(image, type_id, level, (0, 3))) for level in range(1, 6)]
        assert all(later <= earlier + 0.05 for earlier, later in zip(values, values[1:])), \
            (type_id, [round(v, 2) for v in values])
        assert values[-1] < 40, type_id


def test_strengths_are_of_the_main_generators_order(crops):
    """Matched to KADID's levels: at the strongest level, within 8 dB of the main set for most types."""
    image = crops[64]
    gaps = [abs(psnr(image, xtest_distortions.distort(image, t, 5, (0, 3)))
                - psnr(image, distortions.distort(image, t, 5, (0, 3)))) for t in xtest_distortions.TYPE_IDS]
    assert np.median(gaps) < 2.0 and sum(gap > 8 for gap in gaps) <= 2, np.round(gaps, 1)


def test_seeded_and_fast(crops):
    image = crops[32]
    for type_id in (3, 5, 11, 13, 19, 20, 23):
        first = xtest_distortions.distort(image, type_id, 4, (5, 2))
        np.testing.assert_array_equal(first, xtest_distortions.distort(image, type_id, 4, (5, 2)))
    assert any(not np.array_equal(xtest_distortions.distort(image, t, 4, (5, 2)),
                                  xtest_distortions.distort(image, t, 4, (6, 2))) for t in (11, 13, 23))
    with pytest.raises(ValueError, match="level"):
        xtest_distortions.distort(image, 1, 6)


def test_no_distortion_code_of_the_main_generator_is_used():
    tree = ast.parse(inspect.getsource(xtest_distortions))
    imported = [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if node.module and node.module.startswith("asna")]
    assert imported == [("asna.data.distortions", "BY_ID")]  # the level table only
    source = inspect.getsource(xtest_distortions)
    assert "BY_ID[type_id].parameters" in source and ".apply" not in source and "cv2" not in source


# ---------------------------------------------------------------- the file

@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("xtest")
    synthetic.create_synthetic(out, image_size=32, crops_per_image=1, seed=2, type_ids=CHEAP_TYPES,
                               train_crops_per_image=1)
    return out


def read(path):
    with open_pairs(path) as handle:
        return {"names": decode_strings(handle["dist_name"][:]), "refs": decode_strings(handle["ref_id"][:]),
                "mos": handle["mos"][:], "y": handle["y"][:], "x": handle["x"][:], "attrs": dict(handle.attrs)}


def test_xtest_has_the_test_references_and_labels(tiny_set):
    test, xtest = read(tiny_set / "synthetic_test.h5"), read(tiny_set / "synthetic_xtest.h5")
    assert xtest["names"] == test["names"] and xtest["refs"] == test["refs"]
    np.testing.assert_array_equal(xtest["mos"], test["mos"])
    np.testing.assert_array_equal(xtest["y"], test["y"])
    np.testing.assert_array_equal(xtest["x"][:, 0], test["x"][:, 0])  # the same reference crops
    assert not np.array_equal(xtest["x"][:, 1], test["x"][:, 1])
    assert xtest["attrs"]["references"] == test["attrs"]["references"]
    assert xtest["attrs"]["standardization"] == test["attrs"]["standardization"]
    assert "xtest_distortions" in xtest["attrs"]["generator"] and xtest["attrs"]["split"] == "xtest"
    for name in xtest["names"]:
        assert re.fullmatch(r"A\d{4}_(01|04|10|13|16)_0[1-5]\.bmp", name)


def test_xtest_photographs_are_disjoint_from_training(tiny_set):
    xtest = set(synthetic.file_photographs(tiny_set / "synthetic_xtest.h5"))
    assert xtest == set(synthetic.TEST_PHOTOGRAPHS)
    for split in ("train", "val"):
        assert not xtest & set(synthetic.file_photographs(tiny_set / f"synthetic_{split}.h5"))
    train_refs = set(read(tiny_set / "synthetic_train.h5")["refs"])
    assert not train_refs & set(read(tiny_set / "synthetic_xtest.h5")["refs"])
