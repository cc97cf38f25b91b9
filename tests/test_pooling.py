"""Tile pooling (mean, worst, structure), the whole-image fit of free-size models, and fit auto.

Pooling maths on hand examples and on the scorer's tiles (``FakeModel`` of
test_evaluation: the mean absolute difference); then two untrained tiny
networks saved with sidecars as training writes them: a flatten ``simple``
network and a pooled-head ``attention`` network, both 32 px. ``whole`` must be
the Keras model called on the central crop to multiples of 16; ``auto`` must
pick ``whole`` for the pooled head and ``tile`` for the flatten one.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from asna.core import metrics
from asna.core.errors import UserError
from asna.evaluation import DEFAULT_POOL, POOL_METHODS, pooling, scorer as scoring
import asna
from conftest import error_lines, run_in_process, run_script

IMAGE_SIZE = 32
MEAN, STD = 3.0, 0.5
SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+\.\d+) \(TTA \w+: \d+ variants?\)$", re.MULTILINE)


class FakeModel:
    """Mean absolute difference of each pair times ``gain``: tiles with more damage score higher."""

    def __init__(self, gain: float = 0.01):
        self.gain = gain

    def predict_on_batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        references, distorted = (np.asarray(x, np.float64) for x in inputs)
        return (np.abs(references - distorted).mean(axis=(1, 2, 3)) * self.gain)[:, None]


def fake_scorer(head: str = "flatten") -> scoring.QualityScorer:
    info = scoring.ModelInfo(Path(f"{head}.keras"), "simple", IMAGE_SIZE, {"synthetic": (MEAN, STD)}, head)
    return scoring.QualityScorer([FakeModel()], [info])


def random_pair(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


# ----------------------------------------------------------------------------- pooling maths


def test_pooling_numbers_on_a_hand_example():
    scores = np.array([1.0, -1.0, 3.0, 0.5])
    assert pooling.pool_scores(scores, "mean") == pytest.approx(0.875)
    assert pooling.pool_scores(scores, "worst") == pytest.approx(-0.25)  # the lower half: -1 and 0.5
    assert pooling.pool_scores(np.array([3.0, 1.0, 2.0]), "worst") == pytest.approx(1.5)  # ceil(3 / 2) = 2
    structure = np.array([0.0, 10.0, 30.0, 0.0])  # mean 10: flat tiles floored at 0.2 x 10 = 2
    np.testing.assert_allclose(pooling.structure_weights(structure), np.array([2, 10, 30, 2]) / 44)
    assert pooling.pool_scores(scores, "structure", structure) == pytest.approx(83 / 44)
    assert pooling.pool_scores(scores, "structure", np.zeros(4)) == pytest.approx(0.875)  # all flat: the mean
    assert pooling.pool_scores(np.array([2.5]), "worst") == 2.5  # one tile (whole, center): that tile
    per_model = pooling.pool_scores(np.stack([scores, 2 * scores]), "worst")
    np.testing.assert_allclose(per_model, [-0.25, -0.5])  # tiles on the last axis, one value per model
    with pytest.raises(ValueError, match="unknown tile pooling 'max'"):
        pooling.pool_scores(scores, "max")


def test_gradient_magnitude_of_a_ramp_and_textured_tiles_weigh_more():
    def ramp(step: int) -> np.ndarray:
        return np.repeat(np.repeat(np.arange(0, 32 * step, step, dtype=np.uint8)[None, :, None], 32, 0), 3, 2)

    assert pooling.gradient_magnitude(ramp(2)) == pytest.approx(2.0)  # 2 grey levels a column
    flat = np.full((32, 32, 3), 128, np.uint8)
    structure = pooling.tile_structure([flat, ramp(2), ramp(8)])
    np.testing.assert_allclose(structure, [0.0, 2.0, 8.0])
    weights = pooling.structure_weights(structure)  # floor: 0.2 x 10 / 3
    np.testing.assert_allclose(weights, np.array([2 / 3, 2, 8]) / (32 / 3))  # the flat tile counts a little
    textured = random_pair(32, 32)[0]
    scores = np.array([1.0, -2.0])  # the textured tile scores worse: it pulls the pooled score down
    assert pooling.pool_tiles(scores, [flat, textured], "structure") < pooling.pool_scores(scores, "mean")


def test_worst_is_at_most_the_mean_and_structure_lies_between_the_tiles():
    rng = np.random.default_rng(4)
    for count in range(1, 12):
        scores = rng.normal(size=count)
        structure = rng.exponential(size=count)
        assert pooling.pool_scores(scores, "worst") <= pooling.pool_scores(scores, "mean") + 1e-12
        assert scores.min() - 1e-12 <= pooling.pool_scores(scores, "structure", structure) <= scores.max() + 1e-12


def test_mean_pooling_is_todays_tiled_score_bit_for_bit():
    quality = fake_scorer()
    pairs = [random_pair(100, 70, 1), random_pair(40, 48, 2), random_pair(32, 32, 3)]  # 12, 4 and 1 tiles
    references, distorted = [r for r, _ in pairs], [d for _, d in pairs]
    cut = [(scoring.cut_tiles(r, quality.image_size, "tile"), scoring.cut_tiles(d, quality.image_size, "tile"))
           for r, d in zip(references, distorted)]
    tiles_r, tiles_d = [t for r, _ in cut for t in r], [t for _, d in cut for t in d]
    owners = np.repeat(np.arange(3), [len(r) for r, _ in cut])
    per_tile = quality.predict_standardized(np.stack(tiles_r), np.stack(tiles_d))
    counts = np.bincount(owners, minlength=3)
    before = np.stack([np.bincount(owners, weights=row, minlength=3) / counts for row in per_tile])
    assert np.array_equal(quality.score_pairs(references, distorted, pool="mean"), quality.to_scale(before))
    worst = quality.score_pairs(references, distorted, pool="worst")
    assert np.all(worst <= quality.score_pairs(references, distorted) + 1e-12)
    assert worst[2] == quality.score_pairs(references, distorted, pool="structure")[2]  # one tile: no choice


def test_pooling_applies_to_tiles_after_the_tta_mean():
    quality = fake_scorer()
    reference, distorted = random_pair(40, 48, 5)
    (pair,) = quality.tile_scores([reference], [distorted], tta="flips")
    assert pair.scores.shape == (1, 4) and len(pair.reference_tiles) == 4
    expected = quality.to_scale(pooling.pool_tiles(pair.scores, pair.reference_tiles, "structure")[:, None])
    np.testing.assert_array_equal(quality.score_pairs([reference], [distorted], "flips", pool="structure"),
                                  expected)


# ----------------------------------------------------------------------------- fit auto and whole


def test_auto_picks_whole_for_free_size_models_and_tile_for_the_others():
    fixed, free = fake_scorer().infos[0], fake_scorer("pooled").infos[0]
    assert scoring.resolve_fit("auto", [free]) == "whole" and scoring.resolve_fit("auto", [fixed]) == "tile"
    assert scoring.resolve_fit("tile", [free]) == "tile" and scoring.resolve_fit("center", [fixed]) == "center"
    with pytest.raises(UserError, match=r"^flatten.keras: the ensemble mixes free-size \(pooled.keras\) and "
                                        r"fixed-size models.*--fit tile or center$"):
        scoring.resolve_fit("auto", [free, fixed])
    with pytest.raises(UserError, match=r"^flatten.keras: --fit whole needs free-size models"):
        scoring.resolve_fit("whole", [fixed])


def test_whole_crops_centrally_to_multiples_of_16_and_refuses_small_images():
    image = np.arange(70 * 53 * 3, dtype=np.uint32).reshape(70, 53, 3)
    (whole,) = scoring.cut_tiles(image, IMAGE_SIZE, "whole")
    assert np.array_equal(whole, image[3:67, 2:50])  # 64 x 48
    with pytest.raises(UserError, match=r"^small.png: image is 40x31, smaller than the "
                                        r"models' 32x32 input"):
        scoring.cut_tiles(np.zeros((31, 40, 3), np.uint8), IMAGE_SIZE, "whole", "small.png")
    with pytest.raises(ValueError, match="unknown fit 'auto'"):
        scoring.cut_tiles(image, IMAGE_SIZE, "auto")


# ----------------------------------------------------------------------------- real tiny networks


def save_model(model, path: Path, network: str, head: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({"network": network, "image_size": IMAGE_SIZE, "head": head,
                                                     "standardization": {"synthetic": [MEAN, STD]}}))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """``flatten``: a simple network; ``pooled``: an attention network with the pooled head; untrained."""
    from asna.models import build_model

    root = tmp_path_factory.mktemp("pooling")
    flatten = build_model({"network": "simple", "image_size": IMAGE_SIZE, "nfs": [8] * 10, "dense_num": 8})
    pooled = build_model({"network": "attention", "image_size": IMAGE_SIZE, "head": "pooled"})
    return {"flatten": save_model(flatten, root / "flatten" / "model.keras", "simple", "flatten"),
            "pooled": save_model(pooled, root / "pooled" / "model.keras", "attention", "pooled")}


def test_whole_fit_is_the_keras_model_on_the_cropped_image(models):
    quality = scoring.QualityScorer.from_paths([models["pooled"]])
    assert quality.infos[0].free_size
    first, second = random_pair(70, 53, 7), random_pair(48, 40, 8)
    crops = [(first[0][3:67, 2:50], first[1][3:67, 2:50]), (second[0][:, 4:36], second[1][:, 4:36])]
    expected = [float(np.asarray(quality.models[0]([r[None], d[None]], training=False))[0, 0]) * STD + MEAN
                for r, d in crops]
    both = quality.score_pairs([first[0], second[0]], [first[1], second[1]], fit="whole")  # two sizes, one call
    np.testing.assert_allclose(both, expected, rtol=1e-5)
    np.testing.assert_array_equal(quality.score_pairs([first[0]], [first[1]], fit="auto"), both[:1])
    tiled = quality.score_pairs([first[0]], [first[1]])  # the default: tiles, for a pooled head too
    np.testing.assert_array_equal(tiled, quality.score_pairs([first[0]], [first[1]], fit="tile"))
    assert tiled.shape == (1,) and np.isfinite(tiled).all() and tiled[0] != both[0]



def write_pair(folder: Path, reference: np.ndarray, distorted: np.ndarray) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "ref.png"), reference)
    cv2.imwrite(str(folder / "dis.png"), distorted)
    return str(folder / "ref.png"), str(folder / "dis.png")


def test_pool_through_the_single_image_script(models, monkeypatch, capsys, tmp_path):
    reference, distorted = random_pair(40, 72, 9)  # 2 x 3 tiles
    ref_file, dis_file = write_pair(tmp_path, reference, distorted)
    quality = scoring.QualityScorer.from_paths([models["flatten"]])
    rgb = [cv2.imread(name)[..., ::-1] for name in (ref_file, dis_file)]
    for pool in POOL_METHODS:
        code, out, _ = run_in_process("evaluation_single_image.py", [
            "--ref", ref_file, "--distorted", dis_file, "--models", str(models["flatten"]), "--tta", "none",
            "--pool", pool], monkeypatch, capsys, tmp_path)
        assert code == 0
        expected = quality.score_pairs([rgb[0]], [rgb[1]], pool=pool)[0]
        assert float(SCORE_LINE.search(out).group(1)) == pytest.approx(expected, abs=1e-4), pool


def test_scripts_refuse_small_images_and_whole_for_fixed_models_in_one_line(models, tmp_path):
    small_ref, small_dis = write_pair(tmp_path / "small", *random_pair(24, 40, 1))
    result = run_script("evaluation_single_image.py", "--ref", small_ref, "--distorted", small_dis,
                        "--models", str(models["pooled"]), cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert error_lines(result) == [f"error: {small_dis}: image is 40x24, smaller than the "
                                   "models' 32x32 input (images are never resized)"]
    ref_file, dis_file = write_pair(tmp_path / "big", *random_pair(48, 48, 2))
    result = run_script("evaluation_single_image.py", "--ref", ref_file, "--distorted", dis_file,
                        "--models", str(models["flatten"]), "--fit", "whole", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert error_lines(result) == [f"error: {models['flatten']}: --fit whole needs free-size models "
                                   "(head = pooled), this one takes only 32x32; use --fit tile or center"]


def test_help_says_pooling_is_meaningless_for_whole():
    from asna.api.console import single_image_parser

    text = " ".join(single_image_parser().format_help().split())
    assert "--pool {mean,worst,structure}" in text and "Meaningless for --fit whole and center" in text
    assert "--fit {auto,whole,tile,center}" in text and "'tile' (default) cuts it" in text
    assert "'auto' is 'whole' for free-size models" in text


def test_api_defaults_tile_fit_and_the_default_pool(models):
    parameters = inspect.signature(asna.load_metric).parameters
    assert parameters["fit"].default == "tile" and parameters["pool"].default == DEFAULT_POOL == "worst"
    free = asna.load_metric(models=models["pooled"], fit="auto")
    assert free.fit == "whole" and free.input_size is None and "fit whole;" in repr(free)
    assert asna.load_metric(models=models["pooled"]).fit == "tile"
    fixed = asna.load_metric(models=models["flatten"], pool="worst")
    assert fixed.fit == "tile" and "fit tile, pool worst;" in repr(fixed)
    reference, distorted = random_pair(40, 72, 3)
    expected = fixed.scorer.score_pairs([reference], [distorted], pool="worst")[0]
    assert fixed.score(reference, distorted) == pytest.approx(expected)
    with pytest.raises(asna.InputError, match=r"^distorted: image is 40x24, smaller than the network's 32x32 least input"):
        free.score(*random_pair(24, 40))
    with pytest.raises(UserError, match="pool='max': choose one of 'mean', 'worst', 'structure'"):
        asna.load_metric(models=models["flatten"], pool="max")
    with pytest.raises(UserError, match="--fit whole needs free-size models"):
        asna.load_metric(models=models["flatten"], fit="whole")


def test_the_benchmark_pools_one_tile_pass_every_way(models, tmp_path, capsys):
    from asna.evaluation import folders
    from asna.studies import tile_pooling as pooling_benchmark

    (tmp_path / "val" / "Ref").mkdir(parents=True)
    (tmp_path / "val" / "Dis").mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for index in range(4):
        reference = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / "val" / "Ref" / f"A{index:04d}.png"), reference)
        noisy = np.clip(reference + rng.normal(0, 10 + 10 * index, reference.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "val" / "Dis" / f"A{index:04d}_01_01.png"), noisy)
        lines.append(f"A{index:04d}_01_01.png,{5 - index}")
    (tmp_path / "val" / "labels.txt").write_text("\n".join(lines) + "\n")
    result = pooling_benchmark.run(str(models["pooled"]), str(tmp_path / "val"), json_path=str(tmp_path / "p.json"))
    assert set(result["methods"]) == {"tile/mean", "tile/worst", "tile/structure", "whole"}
    assert result["pairs"] == 4 and result["tiles"] == 4 * 6 and result["best_pool"] in POOL_METHODS
    assert json.loads((tmp_path / "p.json").read_text())["methods"] == result["methods"]
    # the names carry type 1: every column's SRCC over that type's pairs, here all of them
    assert list(result["by_type"]) == ["1"] and result["by_type"]["1"]["pairs"] == 4
    assert result["by_type"]["1"]["whole"] == pytest.approx(result["methods"]["whole"]["srcc"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tiles"] == 24
    quality = scoring.QualityScorer.from_paths([models["pooled"]])
    pairs, truth = pooling_benchmark.folder_pairs(tmp_path / "val")
    for fit, name in (("tile", f"tile/{DEFAULT_POOL}"), ("whole", "whole")):  # the scorer pools by the default
        scores = folders.score_folder_pairs(quality, pairs, "none", fit, None, progress=False)
        assert result["methods"][name]["srcc"] == pytest.approx(metrics.srcc(truth, scores))
