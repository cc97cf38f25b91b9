"""Evaluation: scorer, TTA, classic metrics, folders, report and the three scripts.

A tiny ``simple`` network (32 x 32 input) is saved with a sidecar the way
training writes it; a challenge folder and an HDF5 file of six noisy pairs are
built beside it. The scripts run as a user would (``sys.executable``); the
runs that load TensorFlow start together to share the two cores, the bad-input
runs that stop before TensorFlow loads are cheap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from asna.core.errors import UserError
from asna.evaluation import classic, folders, report, scorer as scoring, tta
from conftest import REPO_ROOT, error_lines, run_in_process

IMAGE_SIZE = 32
MEAN, STD = 3.0, 0.5
SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+\.\d+) \(TTA \w+: \d+ variants?\)$", re.MULTILINE)


# ----------------------------------------------------------------------------- fixtures


def write_sidecar(model_path: Path, standardization: dict | None = None) -> None:
    """The sidecar training writes beside a model."""
    info = {"network": "simple", "image_size": IMAGE_SIZE,
            "standardization": standardization or {"synthetic": [MEAN, STD]}}
    model_path.with_suffix(".json").write_text(json.dumps(info))


def make_images(folder: Path) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """Ref/A000r.bmp (48 x 40: tiles overlap) and Dis/A000r_TT_01.bmp with rising noise."""
    rng = np.random.default_rng(0)
    (folder / "Ref").mkdir(parents=True)
    (folder / "Dis").mkdir()
    pairs = []
    for r in (1, 2):
        reference = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / "Ref" / f"A{r:04d}.bmp"), reference)
        for level in (1, 2, 3):
            noise = rng.normal(0, 12 * level, reference.shape)
            distorted = np.clip(reference + noise, 0, 255).astype(np.uint8)
            name = f"A{r:04d}_{level:02d}_01.bmp"
            cv2.imwrite(str(folder / "Dis" / name), distorted)
            pairs.append((name, reference, distorted, 6.0 - level))
    labels = "".join(f"{name},{score}\n" for name, _, _, score in pairs)
    (folder / "labels.txt").write_text(labels)
    (folder / "Dis" / "labels.txt").write_text(labels)  # a non-image file in the folder is ignored
    return pairs


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """models/a.keras + a.json, a challenge folder and a prepared HDF5 file."""
    from asna.core.config import load_config
    from asna.data.layout import PairWriter
    from asna.models import build_model

    root = tmp_path_factory.mktemp("evaluation")
    config = load_config(None, [f"model.image_size={IMAGE_SIZE}", "model.network=simple"])
    model = build_model(config.model)
    (root / "models").mkdir()
    model.save(root / "models" / "a.keras")
    write_sidecar(root / "models" / "a.keras")
    pairs = make_images(root / "challenge")
    with PairWriter(root / "data.h5", IMAGE_SIZE, {"synthetic": (MEAN, STD)}, "val", 0) as writer:
        for name, reference, distorted, score in pairs:
            writer.append(reference[:IMAGE_SIZE, :IMAGE_SIZE], distorted[:IMAGE_SIZE, :IMAGE_SIZE],
                          score, name, name[:5], "synthetic")
    return root


def start_script(script: str, *arguments: str, cwd: Path) -> subprocess.Popen:
    """Start a repository script with this Python; collect it with ``finish``."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(REPO_ROOT / script), *arguments], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)


def finish(process: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


class Runs:
    """Scripts started together; each result is collected when a test first asks for it."""

    def __init__(self, started: dict[str, subprocess.Popen]):
        self.started = started
        self.results: dict[str, subprocess.CompletedProcess] = {}

    def __getitem__(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.results:
            self.results[name] = finish(self.started[name])
        return self.results[name]

    def close(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.fixture(scope="module")
def script_runs(workspace: Path, bad_workspace: Path):
    """Every script run of this file, started at once; collected by the tests at the end of the file.

    The in-process tests that load models ask for it too, so the runs start with
    the first of them and overlap them. The three successful runs load
    TensorFlow; the bad-input runs stop before it loads.
    """
    challenge = workspace / "challenge"
    started = {
        "single": start_script("evaluation_single_image.py", "--ref", "challenge/Ref/A0001.bmp",
                               "--distorted", "challenge/Dis/A0001_02_01.bmp", "--figure", "out/pair.png",
                               "--models", "models", cwd=workspace),
        "ntire": start_script("evaluation_ntire.py", "--ref-dir", str(challenge / "Ref"), "--dis-dir",
                              str(challenge / "Dis"), "--out", "out/output.txt", "--models", "models",
                              "--tta", "flips", "--batch-size", "4", cwd=workspace),
        "dataset": start_script("evaluation_dataset.py", "--data", "data.h5", "--models", "models", "--tta", "none",
                                "--json", "out/report.json", "--csv", "out/pairs.csv",
                                "--plot", "out/scatter.png", "--type-plot", "out/types.png", cwd=workspace),
    }
    for name, (script, arguments, _) in bad_input_cases(workspace).items():
        started[f"bad: {name}"] = start_script(script, *arguments, cwd=workspace)
    runs = Runs(started)
    yield runs
    runs.close()


class FakeModel:
    """Stands in for a Keras model: mean absolute difference of each pair, times ``gain``."""

    def __init__(self, gain: float = 0.01):
        self.gain = gain
        self.pairs_seen = 0

    def predict_on_batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        references, distorted = (np.asarray(x, np.float64) for x in inputs)
        self.pairs_seen += len(references)
        return (np.abs(references - distorted).mean(axis=(1, 2, 3)) * self.gain)[:, None]


def fake_info(path: str = "fake.keras", standardization: dict | None = None) -> scoring.ModelInfo:
    return scoring.ModelInfo(Path(path), "simple", IMAGE_SIZE, standardization or {"synthetic": (MEAN, STD)})


def random_pairs(count: int, size: int = IMAGE_SIZE, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
            rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8))


# ----------------------------------------------------------------------------- TTA, scorer


def test_tta_variant_counts_and_names():
    assert len(tta.variants("full")) == 22
    assert len(tta.variants("flips")) == 4
    assert len(tta.variants("none")) == 1
    names = [v.name for v in tta.variants("full")]
    assert names[:7] == ["rotate_0", "rotate_90", "rotate_180", "rotate_270",
                         "flip_vertical", "flip_horizontal", "flip_both"]
    assert names[7:] == [f"lightness_{0.1 * i:.1f}" for i in range(1, 16)]


def test_tta_transforms_both_images_alike():
    references, distorted = random_pairs(2)
    for variant in tta.variants("full"):
        new_r, new_d = variant.apply(references, distorted)
        assert new_r.shape == references.shape and new_r.dtype == np.uint8
        assert np.array_equal(new_r, variant.transform(references))
        assert np.array_equal(new_d, variant.transform(distorted))
    rotated, _ = tta.variants("full")[1].apply(references, distorted)
    assert np.array_equal(rotated[0], np.rot90(references[0]))


def test_full_tta_scores_every_pair_22_times():
    model = FakeModel()
    quality = scoring.QualityScorer([model], [fake_info()], batch_size=5)
    references, distorted = random_pairs(3)
    quality.score_pairs(references, distorted, tta="full")
    assert model.pairs_seen == 3 * 22


def test_scores_are_mapped_back_to_the_dataset_scale():
    model = FakeModel()
    quality = scoring.QualityScorer([model], [fake_info()])
    references, distorted = random_pairs(4)
    standardized = model.predict_on_batch([references, distorted]).reshape(-1)
    scores = quality.score_pairs(references, distorted)
    np.testing.assert_allclose(scores, standardized * STD + MEAN)
    # geometric variants keep the mean absolute difference, so flips change nothing here
    np.testing.assert_allclose(quality.score_pairs(references, distorted, tta="flips"), scores)


def test_ensemble_is_the_mean_of_models_each_on_its_own_scale():
    first, second = FakeModel(0.01), FakeModel(0.03)
    info_two = fake_info("b.keras", {"synthetic": (10.0, 2.0)})
    ensemble = scoring.QualityScorer([first, second], [fake_info(), info_two])
    references, distorted = random_pairs(3)
    alone = [scoring.QualityScorer([m], [i]).score_pairs(references, distorted)
             for m, i in ((first, fake_info()), (second, info_two))]
    np.testing.assert_allclose(ensemble.score_pairs(references, distorted), np.mean(alone, axis=0))


def test_several_sources_need_a_choice():
    info = fake_info(standardization={"pieapp": (0.5, 0.2), "tid2013": (4.5, 1.2)})
    quality = scoring.QualityScorer([FakeModel()], [info])
    references, distorted = random_pairs(2)
    with pytest.raises(UserError, match="several sources"):
        quality.score_pairs(references, distorted)
    standardized = FakeModel().predict_on_batch([references, distorted]).reshape(-1)
    np.testing.assert_allclose(quality.score_pairs(references, distorted, source="tid2013"),
                               standardized * 1.2 + 4.5)
    per_pair = quality.score_pairs(references, distorted, source=["pieapp", "tid2013"])
    np.testing.assert_allclose(per_pair, standardized * [0.2, 1.2] + [0.5, 4.5])
    with pytest.raises(UserError, match="no source 'pipal'"):
        quality.score_pairs(references, distorted, source="pipal")


def test_tiles_cover_the_image_and_center_crops_once():
    assert scoring.tile_starts(32, 32) == [0]
    assert scoring.tile_starts(48, 32) == [0, 16]
    assert scoring.tile_starts(100, 32) == [0, 23, 45, 68]
    image = np.arange(40 * 48 * 3, dtype=np.uint8).reshape(40, 48, 3)
    assert len(scoring.cut_tiles(image, 32, "tile")) == 4
    (crop,) = scoring.cut_tiles(image, 32, "center")
    assert np.array_equal(crop, image[4:36, 8:40])
    with pytest.raises(UserError, match="smaller than"):
        scoring.cut_tiles(image[:20], 32, "tile", "small.png")


def test_tiled_score_is_the_mean_over_tiles():
    model = FakeModel()
    quality = scoring.QualityScorer([model], [fake_info()])
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    distorted = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    tiles = list(zip(scoring.cut_tiles(reference, 32, "tile"), scoring.cut_tiles(distorted, 32, "tile")))
    expected = np.mean([quality.score_pairs([r], [d])[0] for r, d in tiles])
    assert quality.score_pairs([reference], [distorted], pool="mean")[0] == pytest.approx(expected)
    with pytest.raises(UserError, match="a pair must have one size"):
        quality.score_pairs([reference], [distorted[:, :40]])


def test_ensemble_of_two_copies_equals_the_model(workspace, script_runs, tmp_path):
    for name in ("a", "b"):
        shutil.copy(workspace / "models" / "a.keras", tmp_path / f"{name}.keras")
        write_sidecar(tmp_path / f"{name}.keras")
    ensemble = scoring.QualityScorer.from_paths([tmp_path])
    assert [info.path.name for info in ensemble.infos] == ["a.keras", "b.keras"]
    single = scoring.QualityScorer(ensemble.models[:1], ensemble.infos[:1])
    references, distorted = random_pairs(3)
    expected = ensemble.models[0].predict_on_batch([references, distorted]).reshape(-1) * STD + MEAN
    np.testing.assert_allclose(single.score_pairs(references, distorted, tta="none"), expected, rtol=1e-5)
    np.testing.assert_allclose(ensemble.score_pairs(references, distorted, tta="flips"),
                               single.score_pairs(references, distorted, tta="flips"), rtol=1e-5)


# ----------------------------------------------------------------------------- classic, folders, report


def test_ms_ssim_scales_shrink_with_the_image():
    assert classic.ms_ssim_scales(288, 288) == 5
    assert classic.ms_ssim_scales(161, 400) == 5
    assert classic.ms_ssim_scales(160, 160) == 4
    assert classic.ms_ssim_scales(32, 32) == 2
    assert classic.ms_ssim_scales(10, 10) == 0
    assert sum(classic.power_factors(2)) == pytest.approx(1.0)


def test_classic_scores_rank_noise_and_cap_identical_psnr():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    noisy = [np.clip(reference + rng.normal(0, s, reference.shape), 0, 255).astype(np.uint8) for s in (5, 30)]
    scores = classic.classic_scores_for_pairs([reference] * 3, [reference, *noisy])
    assert scores["psnr"][0] == classic.PSNR_CAP
    for method in classic.METHODS:
        sign = -1 if method == "gmsd" else 1  # GMSD is a distortion: it grows with the noise
        assert sign * scores[method][1] > sign * scores[method][2], method
    assert scores["gmsd"][0] == 0.0 and scores["haarpsi"][0] == pytest.approx(1.0)
    small = classic.classic_scores_for_pairs([reference[:8, :8]], [noisy[0][:8, :8]])
    assert np.isnan(small["ssim"][0]) and np.isfinite(small["psnr"][0])


def test_folder_pairs_labels_and_bad_names(workspace, tmp_path):
    challenge = workspace / "challenge"
    pairs = folders.match_pairs(challenge / "Ref", challenge / "Dis")
    assert [p.name for p in pairs] == sorted(p.name for p in pairs)
    assert len(pairs) == 6 and pairs[0].reference.name == "A0001.bmp"
    labels = folders.read_labels(challenge / "labels.txt")
    _, mos = folders.labelled_pairs(pairs, labels, "labels.txt")
    assert list(mos[:3]) == [5.0, 4.0, 3.0]
    (tmp_path / "Ref").mkdir()
    (tmp_path / "Dis").mkdir()
    shutil.copy(challenge / "Ref" / "A0001.bmp", tmp_path / "Ref" / "A0001.PNG")  # any case, any extension
    shutil.copy(challenge / "Dis" / "A0001_01_01.bmp", tmp_path / "Dis" / "A0001_01_01.bmp")
    assert folders.match_pairs(tmp_path / "Ref", tmp_path / "Dis")[0].reference.name == "A0001.PNG"
    with pytest.raises(UserError, match="is labelled but not in"):
        folders.labelled_pairs(folders.match_pairs(tmp_path / "Ref", tmp_path / "Dis"), labels, "labels.txt")


def test_report_blocks_and_linear_fit_rmse():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    predictions = {"model": truth + 0.5, "psnr": truth * 10.0, "ssim": np.array([0.1, 0.2, 0.3, 0.5]),
                   "ms_ssim": np.array([np.nan, 0.2, 0.3, 0.4])}
    blocks = report.build_report(truth, predictions)
    assert list(blocks) == ["model", "psnr", "ssim", "ms_ssim"]
    assert blocks["model"]["rmse"] == pytest.approx(0.5)
    assert blocks["psnr"]["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert blocks["psnr"]["main_score"] == pytest.approx(2.0)
    assert all(np.isnan(value) for value in blocks["ms_ssim"].values())
    assert "n/a" in report.format_table(blocks, 4)


def test_report_negates_gmsd_and_writes_undefined_as_null(tmp_path):
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    blocks = report.build_report(truth, {"model": np.full(4, 2.0), "gmsd": np.array([0.3, 0.2, 0.1, 0.0])})
    assert blocks["gmsd"]["srcc"] == pytest.approx(1.0) and blocks["gmsd"]["plcc"] == pytest.approx(1.0)
    assert np.isnan(blocks["model"]["srcc"]) and blocks["model"]["rmse"] == pytest.approx(np.sqrt(1.5))
    table = report.format_table(blocks, 4)
    assert "-gmsd" in table and "lower = better" in table
    written = json.loads(report.write_json(tmp_path / "r.json", blocks).read_text())
    assert written["model"]["srcc"] is None and written["gmsd"]["srcc"] == pytest.approx(1.0)


def test_multi_source_report_gives_each_source_and_the_pooled_figures(tmp_path):
    # Within each source the model ranks perfectly; the offset between the scales spoils the pool.
    truth = np.array([0.1, 0.2, 0.3, 0.4, 5.0, 6.0, 7.0, 8.0])
    sources = ["pieapp"] * 4 + ["tid2013"] * 4
    model = np.array([10.0, 11.0, 12.0, 13.0, 1.0, 2.0, 3.0, 4.0])
    blocks = report.build_report(truth, {"model": model}, sources)
    assert blocks["model"]["srcc"] < 0
    assert set(blocks[report.BY_SOURCE]) == {"pieapp", "tid2013"}
    for name in ("pieapp", "tid2013"):
        assert blocks[report.BY_SOURCE][name]["model"]["srcc"] == pytest.approx(1.0)
    table = report.format_table(blocks, 8, sources)
    assert "source pieapp (4 pairs)" in table and "all sources pooled" in table
    written = json.loads(report.write_json(tmp_path / "r.json", blocks).read_text())
    assert written[report.BY_SOURCE]["tid2013"]["model"]["plcc"] == pytest.approx(1.0)
    assert report.BY_SOURCE not in report.build_report(truth[:4], {"model": model[:4]}, sources[:4])


# ----------------------------------------------------------------------------- scripts run in this process



def test_dataset_script_on_a_challenge_folder(workspace, script_runs, monkeypatch, capsys, tmp_path):
    challenge = workspace / "challenge"
    code, out, _ = run_in_process("evaluation_dataset.py", [
        "--ref-dir", str(challenge / "Ref"), "--dis-dir", str(challenge / "Dis"),
        "--labels", str(challenge / "labels.txt"), "--models", str(workspace / "models"),
        "--tta", "none", "--json", str(tmp_path / "r.json")], monkeypatch, capsys, workspace)
    assert code == 0
    assert "6 pairs" in out
    assert set(json.loads((tmp_path / "r.json").read_text())) == {*report.METHODS, "by_type"}
    assert "SRCC per distortion type (3 types)" in out


def noisy_typed_folder(folder: Path) -> None:
    """One reference; type 1: labels fall as noise grows, type 3: they rise; type 10: two pairs; 4: one label."""
    rng = np.random.default_rng(5)
    (folder / "Ref").mkdir(parents=True)
    (folder / "Dis").mkdir()
    reference = rng.integers(40, 216, (40, 48, 3)).astype(np.uint8)
    cv2.imwrite(str(folder / "Ref" / "A0001.png"), reference)
    lines = []
    for kind, levels, label in ((1, 4, lambda level: 5 - level), (3, 4, lambda level: level),
                                (10, 2, lambda level: level), (4, 3, lambda level: 2.0)):
        for level in range(1, levels + 1):
            noisy = np.clip(reference + rng.normal(0, 6 * 2 ** level, reference.shape), 0, 255).astype(np.uint8)
            name = f"A0001_{kind:02d}_{level:02d}.png"
            cv2.imwrite(str(folder / "Dis" / name), noisy)
            lines.append(f"{name},{label(level)}")
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")


def test_folder_report_per_type_figures_through_the_real_path(workspace, script_runs, tmp_path, capsys):
    folder = tmp_path / "typed"
    noisy_typed_folder(folder)
    blocks = report.run_dataset(None, str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"),
                                [str(workspace / "models")], "none", "tile", None, 4, str(tmp_path / "r.json"),
                                None, None, type_plot=str(tmp_path / "types.png"), type_names="kadid")
    by_type = json.loads((tmp_path / "r.json").read_text())["by_type"]
    assert list(by_type) == ["1", "3", "4", "10"] and by_type["3"]["name"] == "Motion Blur"
    for method in ("psnr", "ssim", "gmsd", "haarpsi"):  # noise that doubles per level: every baseline ranks it
        assert by_type["1"][method] == pytest.approx(1.0), method
        assert by_type["3"][method] == pytest.approx(-1.0), method  # labels that rise with the damage
    assert by_type["1"]["pairs"] == 4 and -1.0 <= by_type["1"]["model"] <= 1.0
    assert by_type["10"]["psnr"] is None and by_type["4"]["psnr"] is None  # 2 pairs; constant labels
    assert blocks["psnr"]["srcc"] == pytest.approx(json.loads((tmp_path / "r.json").read_text())["psnr"]["srcc"])
    out = capsys.readouterr().out
    assert "SRCC per distortion type (4 types)" in out and "1 GBLUR" in out
    assert cv2.imread(str(tmp_path / "types.png")) is not None


def test_classic_scores_are_kept_for_an_unchanged_set_and_recomputed_for_a_changed_one(workspace, script_runs,
                                                                                       tmp_path, capsys):
    import cv2

    folder, cache = tmp_path / "cached", tmp_path / "cache" / "scores.json"
    noisy_typed_folder(folder)

    def run() -> dict:
        return report.run_dataset(None, str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"),
                                  [str(workspace / "models")], "none", "tile", None, 4, None, None, None,
                                  classic_cache=str(cache))

    first = run()
    assert cache.is_file() and "classic metrics' scores from" not in capsys.readouterr().out
    again = run()
    assert f"classic metrics' scores from {cache}" in capsys.readouterr().out
    assert json.dumps(again) == json.dumps(first)  # the same report (NaN cells too), the baselines read back
    # a distorted image replaced by another: the fingerprint changes, the baselines are computed anew
    changed = sorted((folder / "Dis").glob("*.png"))[0]
    image = cv2.imread(str(changed))
    cv2.imwrite(str(changed), 255 - image)
    third = run()
    assert "classic metrics' scores from" not in capsys.readouterr().out
    assert third["psnr"]["srcc"] != first["psnr"]["srcc"]


def test_folder_names_without_types_give_one_line(workspace, script_runs, tmp_path, capsys):
    folder = tmp_path / "plain"
    shutil.copytree(workspace / "challenge", folder)
    for path in (folder / "Dis").glob("A0002_*.bmp"):
        path.rename(path.with_name(path.name.replace("_01.bmp", ".bmp")))  # A0002_02.bmp: no level
    lines = (folder / "labels.txt").read_text().splitlines()
    (folder / "labels.txt").write_text("".join(
        (line.replace("_01.bmp", ".bmp") if line.startswith("A0002") else line) + "\n" for line in lines))
    blocks = report.run_dataset(None, str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"),
                                [str(workspace / "models")], "none", "tile", None, 4, None, None, None,
                                type_plot=str(tmp_path / "types.png"))
    out = capsys.readouterr().out
    assert "by_type" not in blocks and not (tmp_path / "types.png").exists()
    assert ("no per-type figures: A0002_01.bmp follows none of <ref>_<type>_<level>.<ext>, "
            "<ref>_<named type>_<name>.<ext> or <ref>.<named type>.<level>.<ext> (nor do 2 other names)") in out
    assert f"{tmp_path / 'types.png'} not written: no per-type figures" in out


# ----------------------------------------------------------------------------- bad input


def bad_input_cases(workspace: Path) -> dict[str, tuple[str, list[str], str]]:
    """Name -> (script, arguments, text the error line must hold); all stop before TensorFlow loads."""
    bad = workspace / "bad"
    challenge = workspace / "challenge"
    ntire = ["evaluation_ntire.py", "--ref-dir", str(challenge / "Ref"), "--dis-dir", str(challenge / "Dis"),
             "--out", str(bad / "output.txt")]
    return {
        "sizes differ": ("evaluation_single_image.py", [
            "--ref", str(bad / "big.bmp"), "--distorted", str(challenge / "Dis" / "A0001_01_01.bmp"),
            "--figure", str(bad / "fig.png")], "a pair must have one size"),
        "missing reference": ("evaluation_ntire.py", [
            "--ref-dir", str(bad / "Ref"), "--dis-dir", str(challenge / "Dis"),
            "--out", str(bad / "output.txt")], "is missing in"),
        "unreadable image": ("evaluation_single_image.py", [
            "--ref", str(bad / "broken.bmp"), "--distorted", str(challenge / "Dis" / "A0001_01_01.bmp")],
            "not a readable image"),
        "empty models folder": (ntire[0], [*ntire[1:], "--models", str(bad / "empty")], "no model files"),
        "missing models folder": (ntire[0], [*ntire[1:], "--models", str(bad / "nowhere")], "not found"),
        "not a model": (ntire[0], [*ntire[1:], "--models", str(bad / "text.keras")], "not a Keras model"),
        "missing sidecar": (ntire[0], [*ntire[1:], "--models", str(bad / "lonely")], "no sidecar"),
        "labels and data": ("evaluation_dataset.py", [
            "--data", str(workspace / "data.h5"), "--labels", str(challenge / "labels.txt"),
            "--json", str(bad / "r.json")], "either --data"),
        "type names for a file": ("evaluation_dataset.py", [
            "--data", str(workspace / "data.h5"), "--type-names", "kadid"], "--type-names is for folders"),
        "type plot format": ("evaluation_dataset.py", [
            "--data", str(workspace / "data.h5"), "--type-plot", str(bad / "types.xyz")],
            "--type-plot needs one of the extensions"),
    }


@pytest.fixture(scope="module")
def bad_workspace(workspace: Path) -> Path:
    bad = workspace / "bad"
    (bad / "Ref").mkdir(parents=True)
    (bad / "empty").mkdir()
    (bad / "lonely").mkdir()
    cv2.imwrite(str(bad / "big.bmp"), np.zeros((50, 50, 3), np.uint8))
    (bad / "broken.bmp").write_bytes(b"BM not really a bitmap")
    (bad / "text.keras").write_text("not a model")
    write_sidecar(bad / "text.keras")
    shutil.copy(workspace / "models" / "a.keras", bad / "lonely" / "a.keras")
    shutil.copy(workspace / "challenge" / "Ref" / "A0001.bmp", bad / "Ref" / "A0001.bmp")  # no A0002
    return bad


def test_unreadable_image_in_the_folder_stops_the_run(workspace, script_runs, monkeypatch, capsys, tmp_path):
    challenge = tmp_path / "challenge"
    shutil.copytree(workspace / "challenge", challenge)
    (challenge / "Dis" / "A0002_09_09.png").write_bytes(b"\x89PNG truncated")
    code, out, err = run_in_process("evaluation_ntire.py", [
        "--ref-dir", str(challenge / "Ref"), "--dis-dir", str(challenge / "Dis"), "--out",
        str(tmp_path / "output.txt"), "--models", str(workspace / "models"), "--tta", "none"],
        monkeypatch, capsys, workspace)
    assert code == 2
    assert err.strip().splitlines() == [f"error: {challenge / 'Dis' / 'A0002_09_09.png'}: not a readable image "
                                        "(corrupt, truncated or an unknown format)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["challenge"]


def test_a_zip_that_is_not_a_model_is_one_error(workspace, script_runs, monkeypatch, capsys, tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "fake.keras", "w") as archive:
        archive.writestr("hello.txt", "not a model")
    write_sidecar(tmp_path / "fake.keras")
    code, _, err = run_in_process("evaluation_single_image.py", [
        "--ref", str(workspace / "challenge" / "Ref" / "A0001.bmp"), "--distorted",
        str(workspace / "challenge" / "Dis" / "A0001_01_01.bmp"), "--models", str(tmp_path / "fake.keras")],
        monkeypatch, capsys, workspace)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not a Keras model" in err


# ----------------------------------------------------------------------------- the script runs


@pytest.mark.slow
def test_single_image_script_prints_the_score_and_saves_the_figure(script_runs, workspace):
    result = script_runs["single"]
    assert result.returncode == 0, result.stderr
    match = SCORE_LINE.search(result.stdout)
    assert match, result.stdout
    assert (workspace / "out" / "pair.png").stat().st_size > 0
    quality = scoring.QualityScorer.from_paths([workspace / "models"])
    challenge = workspace / "challenge"
    expected = quality.score_files(challenge / "Ref" / "A0001.bmp", challenge / "Dis" / "A0001_02_01.bmp",
                                   tta="full")
    assert float(match.group(1)) == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_ntire_script_writes_one_sorted_line_per_distorted_image(script_runs, workspace):
    result = script_runs["ntire"]
    assert result.returncode == 0, result.stderr
    lines = (workspace / "out" / "output.txt").read_text().splitlines()
    names = sorted(p.name for p in (workspace / "challenge" / "Dis").glob("*.bmp"))
    assert [line.split(",")[0] for line in lines] == names
    assert all(re.fullmatch(r"A\d{4}_\d\d_01\.bmp,-?\d+\.\d+", line) for line in lines)
    assert not list((workspace / "out").glob(".*partial*"))


@pytest.mark.slow
def test_dataset_script_reports_every_method(script_runs, workspace):
    result = script_runs["dataset"]
    assert result.returncode == 0, result.stderr
    assert "ms_ssim" in result.stdout and "main score" in result.stdout
    blocks = json.loads((workspace / "out" / "report.json").read_text())
    assert list(blocks) == ["model", "psnr", "ssim", "ms_ssim", "gmsd", "haarpsi", "by_type"]
    for method in report.METHODS:
        assert list(blocks[method]) == ["srcc", "plcc", "krcc", "rmse", "main_score"]
    # types from the names A000r_TT_01.bmp (source synthetic: KADID's names); two pairs each, too few
    assert blocks["by_type"]["2"] == {"name": "Lens Blur", "pairs": 2, **dict.fromkeys(report.METHODS)}
    assert list(blocks["by_type"]) == ["1", "2", "3"] and (workspace / "out" / "types.png").stat().st_size > 0
    for method in ("psnr", "gmsd", "haarpsi"):  # more noise, lower label; GMSD reported negated
        assert blocks[method]["srcc"] > 0.9, method
    rows = (workspace / "out" / "pairs.csv").read_text().splitlines()
    assert rows[0] == "name,reference,source,mos,model,psnr,ssim,ms_ssim,gmsd,haarpsi" and len(rows) == 7
    assert (workspace / "out" / "scatter.png").stat().st_size > 0


def test_bad_input_gives_one_error_line_and_no_output(workspace, bad_workspace, script_runs):
    for name, (_, _, expected) in bad_input_cases(workspace).items():
        result = script_runs[f"bad: {name}"]
        lines = error_lines(result)
        assert result.returncode == 2, (name, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (name, lines)
    assert sorted(p.name for p in bad_workspace.iterdir() if p.is_file()) == ["big.bmp", "broken.bmp",
                                                                             "text.json", "text.keras"]
