"""Procedural training images (dead leaves, textured leaves) and the built-in set's --procedural option."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from asna.core.errors import UserError
from asna.data import procedural, synthetic
from asna.data.layout import decode_strings, open_pairs
from conftest import error_lines, run_script

TYPES = (1, 4)  # one colour-only type, which grey references skip
SIDE = 128


def spectrum_slope(image: np.ndarray, low: int = 4, high: float = 0.25) -> float:
    """Slope of the radially averaged power spectrum of the grey image in log-log, from ``low`` cycles per
    image to ``high`` x the side (Hann window): about -2 for photographs, 0 for white noise."""
    grey = image.astype(np.float64).mean(axis=2)
    grey -= grey.mean()
    side = grey.shape[0]
    window = np.hanning(side)[:, None] * np.hanning(side)[None, :]
    power = np.abs(np.fft.fft2(grey * window)) ** 2
    frequency = np.rint(np.hypot(np.fft.fftfreq(side)[:, None], np.fft.fftfreq(side)[None, :]) * side).astype(int)
    radial = np.bincount(frequency.ravel(), power.ravel()) / np.maximum(np.bincount(frequency.ravel()), 1)
    chosen = np.arange(low, int(side * high))
    return float(np.polyfit(np.log(chosen), np.log(radial[chosen] + 1e-12), 1)[0])


def test_images_are_seeded_and_differ_across_indices_kinds_and_seeds():
    first = procedural.procedural_image("leaves", 0, seed=0, side=SIDE)
    assert first.shape == (SIDE, SIDE, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, procedural.procedural_image("leaves", 0, seed=0, side=SIDE))
    others = [procedural.procedural_image("leaves", 2, seed=0, side=SIDE),
              procedural.procedural_image("texture", 0, seed=0, side=SIDE),
              procedural.procedural_image("leaves", 0, seed=1, side=SIDE)]
    assert all(np.abs(first.astype(int) - other).mean() > 10 for other in others)
    assert [procedural.procedural_name(k) for k in range(4)] == ["leaves_00", "texture_01", "leaves_02",
                                                                 "texture_03"]
    assert procedural.is_procedural("texture_01") and not procedural.is_procedural("astronaut")
    assert not any(procedural.is_procedural(name) for name, *_ in synthetic.PHOTOGRAPHS)
    colour, grey = procedural.procedural_images(4, 0, SIDE)[2:]
    assert not colour[2] and colour[1].std(axis=2).mean() > 1  # colour images have colour
    assert grey[2] and np.all(grey[1] == grey[1][..., :1])  # every fourth is grey
    with pytest.raises(ValueError):
        procedural.procedural_image("clouds", 0)


def test_statistics_are_natural_not_flat_or_white():
    for index in range(4):
        image = procedural.procedural_image(procedural.kind_of(index), index, seed=0, side=SIDE)
        slope = spectrum_slope(image)
        assert -3.5 < slope < -1.5, (procedural.procedural_name(index), slope)
        grey = image.mean(axis=2)
        assert grey.std() > 15 and np.ptp(grey) > 100  # a scene, not a flat patch
        assert np.mean(image == 255) < 0.05 and np.mean(image == 0) < 0.05  # little clipping
        # edges at several scales: strong gradients remain after halving and after halving again
        for level in range(3):
            edges = np.hypot(*np.gradient(grey))
            assert np.mean(edges > 8) > 0.01, (index, level)
            grey = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    assert spectrum_slope(rng.integers(0, 256, (SIDE, SIDE, 3))) > -0.5  # the measure tells white noise apart


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[int, Path]:
    """The tiny built-in set without and with two procedural images."""
    out = {}
    for count in (0, 2):
        out[count] = tmp_path_factory.mktemp(f"procedural{count}")
        synthetic.create_synthetic(out[count], image_size=32, crops_per_image=1, seed=5, type_ids=TYPES,
                                   procedural=count)
    return out


def read(path: Path) -> tuple[np.ndarray, list[str], dict]:
    with open_pairs(path) as handle:
        return handle["x"][:], decode_strings(handle["ref_id"][:]), json.loads(handle.attrs["references"])


def test_procedural_images_go_to_training_only_and_leave_the_photographs_alone(built):
    plain_x, plain_refs, plain_records = read(built[0] / "synthetic_train.h5")
    more_x, more_refs, more_records = read(built[2] / "synthetic_train.h5")
    # the photographs' pairs first, identical; then the procedural references' pairs
    np.testing.assert_array_equal(more_x[:len(plain_x)], plain_x)
    assert more_refs[:len(plain_refs)] == plain_refs
    added = {record["photo"] for ref_id, record in more_records.items() if ref_id not in plain_records}
    assert added == {"leaves_00", "texture_01"}
    crops = synthetic.make_variation(1).crops_per_image
    assert len(more_records) == len(plain_records) + 2 * crops
    assert len(more_x) == len(plain_x) + 2 * crops * (len(TYPES) * 5)  # both colour: every type
    assert set(synthetic.file_photographs(built[2] / "synthetic_train.h5")) == \
        set(synthetic.file_photographs(built[0] / "synthetic_train.h5")) | added
    for name in ("val", "test", "xtest"):
        x, refs, records = read(built[2] / f"synthetic_{name}.h5")
        plain = read(built[0] / f"synthetic_{name}.h5")
        np.testing.assert_array_equal(x, plain[0])
        assert refs == plain[1] and records == plain[2]
        assert not any(procedural.is_procedural(photo) for photo in synthetic.file_photographs(
            built[2] / f"synthetic_{name}.h5"))


def test_the_options_tell_a_rebuild_is_due(built):
    variation = synthetic.make_variation(1)
    before = synthetic.generator_options(32, 1, 5, variation, synthetic.DEFAULT_JITTER, TYPES)
    assert "procedural" not in before  # sets made before the option still match
    assert synthetic.generator_options(32, 1, 5, variation, synthetic.DEFAULT_JITTER, TYPES, 0) == before
    assert synthetic.built_options(built[0]) == before
    assert synthetic.built_options(built[2]) == {**before, "procedural": 2} != before
    with open_pairs(built[2] / "synthetic_train.h5") as handle:
        assert "2 procedural images" in handle.attrs["generator"]
    with open_pairs(built[2] / "synthetic_val.h5") as handle:
        assert "procedural" not in handle.attrs["generator"]


def test_summary_counts_the_procedural_images():
    names = ["astronaut", "brick", *(procedural.procedural_name(k) for k in range(12))]
    assert synthetic.sources_text(sorted(names)) == "astronaut, brick, 12 procedural (leaves_00 ... texture_11)"
    assert synthetic.sources_text(["astronaut", "leaves_00"]) == "astronaut, 1 procedural (leaves_00)"
    assert synthetic.sources_text(["astronaut"]) == "astronaut"


@pytest.mark.parametrize("count", [-1, procedural.MAX_COUNT + 1])
def test_a_bad_count_is_a_user_error(tmp_path, count):
    with pytest.raises(UserError, match=f"--procedural {count}"):
        synthetic.create_synthetic(tmp_path, image_size=32, type_ids=(1,), procedural=count)


def test_the_demo_rebuilds_when_the_count_changes(tmp_path, monkeypatch):
    from asna.data import full_resolution
    from asna.studies import demo

    calls = []
    monkeypatch.setattr(synthetic, "create_synthetic", lambda *a, **k: calls.append(k) or synthetic.Summary())
    monkeypatch.setattr(full_resolution, "build_full_resolution", lambda *a, **k: [])
    wanted = synthetic.generator_options(32, 1, 0, synthetic.make_variation(1), synthetic.DEFAULT_JITTER,
                                         synthetic.ALL_TYPES, 3)
    monkeypatch.setattr(synthetic, "built_options", lambda folder: wanted)
    demo.build_data(tmp_path, 32, 1, 0, procedural=3)
    assert calls == []  # made with these options: reused
    demo.build_data(tmp_path, 32, 1, 0, procedural=0)
    assert len(calls) == 1 and calls[0]["procedural"] == 0


def test_script_options(tmp_path):
    figure = tmp_path / "procedural.png"
    result = run_script("prepare_dataset/create_data_synthetic.py", "--procedural-figure", str(figure), timeout=120)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(figure))
    assert image is not None and image.shape[1] > 4 * 200
    result = run_script("prepare_dataset/create_data_synthetic.py", "--out", str(tmp_path / "out"),
                        "--procedural", "-2", timeout=120)
    assert result.returncode == 2 and error_lines(result) == ["error: --procedural -2: must be between 0 and 1000"]
