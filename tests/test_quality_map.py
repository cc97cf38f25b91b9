"""Quality maps: the local scores a pair's score is pooled from, at the image's size.

The shipped model must put a photograph's blurred half below its sharp half.
A tiny flatten-head network's map must be its tile scores exactly (overlaps
averaged, uncovered pixels NaN), and a pooled head's per-position scores must
be what the head pools: ``f`` of their weighted mean is the network's output.
The script's ``--map`` and ``Metric.quality_map`` are checked as a user calls them.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

import asna
from asna.core.errors import UserError
from asna.evaluation import quality_map as maps, scorer as scoring, tta
from conftest import REPO_ROOT, error_lines, run_script
from tiny_models import IMAGE_SIZE, MEAN, STD, tiny_trained_model

SHIPPED = REPO_ROOT / "models" / "asna_built_in.keras"


def half_blurred(sigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A 128 x 256 crop of scikit-image's cat photograph, and a copy whose left half is blurred."""
    reference = np.ascontiguousarray(skimage.data.chelsea()[40:168, 60:316])
    distorted = reference.copy()
    distorted[:, :128] = cv2.GaussianBlur(reference, (0, 0), sigma)[:, :128]
    return reference, distorted


def write_rgb(path: Path, image: np.ndarray) -> str:
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_trained_model(tmp_path_factory.getbasetemp())


# ----------------------------------------------------------------------------- the shipped model on a photograph


@pytest.mark.parametrize("fit", ["tile", "whole"])
def test_the_blurred_half_of_a_photograph_is_worse_on_the_map(fit):
    metric = asna.load_metric(models=SHIPPED, fit=fit)
    reference, distorted = half_blurred()
    values = metric.quality_map(reference, distorted)
    assert values.shape == (128, 256) and np.isfinite(values).all()
    blurred, sharp = values[:, :128].mean(), values[:, 128:].mean()
    assert blurred < sharp - 0.3, (blurred, sharp)
    untouched = metric.quality_map(reference, reference)
    assert np.nanmean(untouched[:, :128]) > blurred + 0.3  # the blur, not the content, makes the left half worse


# ----------------------------------------------------------------------------- a flatten head: tile scores


def test_a_flatten_heads_map_is_its_tile_scores(tiny):
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    distorted = np.clip(reference + rng.normal(0, 30, reference.shape), 0, 255).astype(np.uint8)
    distorted[:, 64:] = reference[:, 64:]  # the right column of tiles is untouched
    metric = asna.load_metric(models=tiny, pool="mean")
    quality = scoring.QualityScorer.from_paths([tiny])
    tiles = quality.tile_scores([reference], [distorted])[0].scores[0] * STD + MEAN  # 2 x 3 tiles, row by row
    drawn = maps.quality_map(quality, reference, distorted, pool="mean")
    assert drawn.kind == "tiles" and drawn.values.shape == (64, 96)
    for index, (top, left) in enumerate([(t, l) for t in (0, 32) for l in (0, 32, 64)]):
        block = drawn.values[top:top + 32, left:left + 32]
        assert np.all(block == tiles[index])
    assert drawn.score == pytest.approx(metric.score(reference, distorted), abs=1e-12)
    assert drawn.score == pytest.approx(tiles.mean(), abs=1e-9)  # pool mean: the score is the map's mean
    assert drawn.values[:, 64:].mean() > drawn.values[:, :64].mean()
    assert np.array_equal(metric.quality_map(reference, distorted), drawn.values)


def test_overlapping_tiles_are_averaged_and_uncovered_pixels_are_nan(tiny):
    quality = scoring.QualityScorer.from_paths([tiny])
    rng = np.random.default_rng(4)
    reference = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    distorted = np.clip(reference + rng.normal(0, 20, reference.shape), 0, 255).astype(np.uint8)
    tiles = quality.tile_scores([reference], [distorted])[0].scores[0] * STD + MEAN  # starts 0, 8 and 0, 16
    values = maps.quality_map(quality, reference, distorted).values
    assert values[0, 0] == tiles[0] and values[39, 47] == tiles[3]
    assert values[20, 24] == pytest.approx(tiles.mean(), abs=1e-12)  # all four tiles cover the middle
    assert values[0, 24] == pytest.approx((tiles[0] + tiles[1]) / 2, abs=1e-12)
    centre = maps.quality_map(quality, reference, distorted, fit="center")
    assert np.isnan(centre.values[:4]).all() and np.isnan(centre.values[:, :8]).all()
    assert np.isfinite(centre.values[4:36, 8:40]).all() and np.isnan(centre.values).sum() == 40 * 48 - 32 * 32


def test_paint_and_windows_follow_the_tiles_the_scorer_cuts():
    image = np.zeros((70, 53, 3), np.uint8)
    for fit in ("tile", "center", "whole"):
        placed = scoring.tile_windows((70, 53), 32, fit)
        cut = scoring.cut_tiles(image, 32, fit)
        assert [(h, w) for *_, h, w in placed] == [tile.shape[:2] for tile in cut]
    painted = maps.paint((4, 6), [(0, 0, 4, 4), (0, 2, 4, 4)], [np.array([[1.0, 2.0], [3.0, 4.0]]), 5.0])
    assert painted[0].tolist() == [1.0, 1.0, 3.5, 3.5, 5.0, 5.0]
    assert painted[3].tolist() == [3.0, 3.0, 4.5, 4.5, 5.0, 5.0]


# ----------------------------------------------------------------------------- a pooled head: per-position scores


@pytest.fixture(scope="module")
def pooled(tmp_path_factory) -> Path:
    from asna.models import build_model

    import keras

    keras.utils.set_random_seed(5)
    path = tmp_path_factory.mktemp("pooled") / "model.keras"
    build_model({"network": "attention", "image_size": IMAGE_SIZE, "head": "pooled"}).save(path)
    path.with_suffix(".json").write_text(json.dumps({"network": "attention", "image_size": IMAGE_SIZE,
                                                     "head": "pooled", "standardization": {"s": [MEAN, STD]}}))
    return path


def test_the_pooled_head_pools_what_the_map_shows(pooled):
    import keras

    quality = scoring.QualityScorer.from_paths([pooled])
    model = quality.models[0]
    rng = np.random.default_rng(6)
    reference = rng.integers(0, 256, (2, 64, 48, 3), dtype=np.uint8)
    distorted = np.clip(reference + rng.normal(0, 25, reference.shape), 0, 255).astype(np.uint8)
    heads = keras.Model(model.inputs, [model.get_layer("head_quality").output, model.get_layer("head_weight").output])
    q, w = (np.asarray(t, np.float64)[..., 0] for t in heads([reference, distorted], training=False))
    pooled_q = (q * w).sum(axis=(1, 2)) / (w.sum(axis=(1, 2)) + 1e-6)
    output = np.asarray(model([reference, distorted], training=False), np.float64)[:, 0]
    assert maps.head_function(model, pooled_q) == pytest.approx(output, abs=1e-5)
    per_position = maps.head_function(model, q)
    assert np.all(per_position.min(axis=(1, 2)) - 1e-6 <= output)  # f is monotone: the score lies between
    assert np.all(output <= per_position.max(axis=(1, 2)) + 1e-6)
    drawn = maps.quality_map(quality, reference[0], distorted[0], fit="whole")
    assert drawn.kind == "positions" and drawn.values.shape == (64, 48)
    assert drawn.values[::8, ::8] == pytest.approx(per_position[0] * STD + MEAN, abs=1e-5)
    assert drawn.score == pytest.approx(output[0] * STD + MEAN, abs=1e-5)


def test_tta_maps_are_turned_back_before_the_mean():
    grid = np.arange(2 * 4 * 6, dtype=np.float64).reshape(2, 4, 6)
    image = np.repeat(grid[..., None], 3, axis=-1)
    for variant in tta.variants("full"):
        if variant.factor is None:
            assert np.array_equal(maps.undo_variant(variant.name, variant.transform(image)[..., 0]), grid)


def test_a_flipped_pair_gets_the_flipped_map(pooled):
    quality = scoring.QualityScorer.from_paths([pooled])
    rng = np.random.default_rng(8)
    reference = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    distorted = reference.copy()
    distorted[:, :32] = np.clip(reference[:, :32] + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
    plain = maps.quality_map(quality, reference, distorted, "flips", fit="whole").values
    mirrored = maps.quality_map(quality, reference[:, ::-1], distorted[:, ::-1], "flips", fit="whole").values
    assert mirrored[:, ::-1] == pytest.approx(plain, abs=1e-4)  # the flips' mean is the same set of variants


# ----------------------------------------------------------------------------- as a user calls it


def test_the_script_draws_the_map_and_prints_the_same_score(tmp_path):
    reference, distorted = half_blurred()
    ref_file, dis_file = write_rgb(tmp_path / "r.png", reference), write_rgb(tmp_path / "d.png", distorted)
    before = Path(dis_file).read_bytes()
    result = run_script("evaluation_single_image.py", "--models", str(SHIPPED), "--ref", ref_file,
                        "--distorted", dis_file, "--tta", "none", "--map", str(tmp_path / "out" / "map.png"),
                        timeout=300)
    assert result.returncode == 0, result.stderr
    score = float(result.stdout.split("Image Quality Score: ")[1].split()[0])
    assert score == pytest.approx(asna.load_metric(models=SHIPPED).score(reference, distorted), abs=1e-4)
    drawn = cv2.imread(str(tmp_path / "out" / "map.png"))
    assert drawn is not None and drawn.shape[0] > 200 and drawn.std() > 10
    assert f"map: {tmp_path / 'out' / 'map.png'}" in result.stdout
    refused = run_script("evaluation_single_image.py", "--models", str(SHIPPED), "--ref", ref_file,
                         "--distorted", dis_file, "--map", dis_file, timeout=120)
    assert refused.returncode == 2
    assert error_lines(refused) == [f"error: {dis_file}: --map is the input --distorted ({dis_file}); an output is "
                                    f"never written over an input, choose another --map"]
    assert Path(dis_file).read_bytes() == before
    wrong = run_script("evaluation_single_image.py", "--models", str(SHIPPED), "--ref", ref_file,
                       "--distorted", dis_file, "--map", str(tmp_path / "map.txt"), timeout=120)
    assert wrong.returncode == 2 and error_lines(wrong)[0].startswith(f"error: {tmp_path / 'map.txt'}: --map needs")


def test_the_api_takes_one_pair_only(tiny):
    metric = asna.load_metric(models=tiny)
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(asna.InputError, match="^quality_map takes one pair"):
        metric.quality_map([image, image], [image, image])
    with pytest.raises(UserError, match=r"smaller than the network's 32x32 input"):
        metric.quality_map(image[:20], image[:20])
