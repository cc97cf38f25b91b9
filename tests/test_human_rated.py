"""Human-rated folders: where live_dev is found, named types (LIVE-, CSIQ-style), and the studies that report it.

The folders here are tiny synthetic ones that only borrow the naming of the
rated sets (random textures, blur, JPEG and noise at known strengths, labels
that fall with the strength); no rated image is read.
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pandas as pd
import pytest

from asna.core.errors import UserError
from asna.data import human_rated
from asna.evaluation.per_type import folder_type, folder_types
from tiny_models import tiny_trained_model

SIZE = 48  # not the tiny model's 32: scored in tiles, as a photograph is


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_trained_model(tmp_path_factory.getbasetemp())


def distort(image: np.ndarray, kind: str, strength: int) -> np.ndarray:
    """Blur, JPEG or noise, stronger with ``strength`` (1-3)."""
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), 0.6 * strength)
    if kind == "jpeg":
        _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 60 - 18 * strength])
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    noise = np.random.default_rng(strength).normal(0, 12 * strength, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def rated_folder(root, style: str):
    """Two references, three types at three strengths, named LIVE-style or CSIQ-style; labels higher = better."""
    (root / "Ref").mkdir(parents=True)
    (root / "Dis").mkdir()
    lines, kinds = [], {"blur": ("gblur", "BLUR"), "jpeg": ("jpeg", "JPEG"), "noise": ("wn", "AWGN")}
    rng = np.random.default_rng(0)
    for ref in ("L01", "L03") if style == "live" else ("1600", "bridge"):
        image = cv2.GaussianBlur(rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8), (0, 0), 1.0)
        cv2.imwrite(str(root / "Ref" / f"{ref}.png"), image)
        for kind, (live_name, csiq_name) in kinds.items():
            for strength in (1, 2, 3):
                name = (f"{ref}_{live_name}_img{strength * 7}.png" if style == "live"
                        else f"{ref}.{csiq_name}.{strength}.png")
                cv2.imwrite(str(root / "Dis" / name), distort(image, kind, strength))
                lines.append(f"{name},{-10.0 * strength - rng.uniform(0, 1):.3f}")
    (root / "labels.txt").write_text("\n".join(lines) + "\n")
    (root / "COPYRIGHT.txt").write_text("the notice that travels with the labels\n")
    return root


def test_named_types_come_from_live_and_csiq_style_names():
    assert folder_type("L01_gblur_img7.png") == "gblur"  # the third part is the set's own name, not a level
    assert folder_type("1600.AWGN.1.png") == "AWGN"
    assert folder_type("1600.jpeg2000.5.png") == "jpeg2000"
    assert folder_type("A0001_10_03.bmp") == "10"  # numbered types first
    for name in ("A0001.bmp", "1600.AWGN.png", "distort_1_jpeg_2.png", "L01_7_img.png"):
        assert folder_type(name) == "", name
    types = folder_types(["L01_wn_img3.png", "L03_gblur_img9.png", "1600.AWGN.1.png"])
    assert types.keys == ["wn", "gblur", "AWGN"] and types.names == {"wn": None, "gblur": None, "AWGN": None}
    odd = folder_types(["L01_wn_img3.png", "L01.png"])
    assert not odd.any and odd.note.startswith("no per-type figures: L01.png follows none of")


def test_the_folder_is_found_by_option_variable_or_default_and_skipped_in_one_line(tmp_path, monkeypatch):
    folder = rated_folder(tmp_path / "rated", "live")
    assert human_rated.live_dev_folder(str(folder)) == (folder, "")
    assert human_rated.live_dev_folder("none") == (None, "live_dev: not scored (--live-dev none)")
    with pytest.raises(UserError, match="--live-dev wants a folder with Ref, Dis, labels.txt"):
        human_rated.live_dev_folder(str(tmp_path / "absent"))
    monkeypatch.setenv(human_rated.ENVIRONMENT, str(folder))
    assert human_rated.live_dev_folder() == (folder, "")
    monkeypatch.setenv(human_rated.ENVIRONMENT, str(tmp_path / "absent"))
    folder_found, note = human_rated.live_dev_folder()
    assert folder_found is None and note == (f"live_dev: not scored, no labelled folder at {tmp_path / 'absent'} "
                                             f"(set ASNA_LIVE_DEV or --live-dev)")
    monkeypatch.delenv(human_rated.ENVIRONMENT)
    assert human_rated.DEFAULT == human_rated.REPO_ROOT.parent / "shared" / "real" / "live_dev"


@pytest.mark.parametrize("style, keys", [("live", ["gblur", "jpeg", "wn"]), ("csiq", ["AWGN", "BLUR", "JPEG"])])
def test_a_rated_folder_gets_per_type_figures_for_the_model_and_every_baseline(tmp_path, tiny_model, style, keys):
    from asna.evaluation.report import run_dataset

    folder = rated_folder(tmp_path / style, style)
    report = run_dataset(None, str(folder / "Ref"), str(folder / "Dis"), str(folder / "labels.txt"),
                         [str(tiny_model)], "none", "tile", None, 8, None, None, None)
    assert list(report["by_type"]) == keys
    for block in report["by_type"].values():
        assert block["pairs"] == 6 and block["name"] is None
        assert set(block) == {"name", "pairs", "model", "psnr", "ssim", "ms_ssim", "gmsd", "haarpsi"}
        assert all(math.isfinite(block[m]) and -1 <= block[m] <= 1 for m in block if m not in ("name", "pairs"))
    # PSNR falls with every strength of noise here, on both references, and the labels fall with it
    noise = "wn" if style == "live" else "AWGN"
    assert report["by_type"][noise]["psnr"] > 0.8


def test_a_finished_study_gains_live_dev_without_training_and_its_summary_shows_it(tmp_path, tiny_model):
    import shutil

    from asna.studies.recipe import DemoRecipe
    from asna.studies.seed_study import run_study

    folder = rated_folder(tmp_path / "rated", "live")
    out = tmp_path / "study"
    for seed, test_srcc in enumerate((0.80, 0.84)):
        run = out / f"float32_seed{seed}"
        run.mkdir(parents=True)
        shutil.copyfile(tiny_model, run / "model.keras")
        shutil.copyfile(tiny_model.with_suffix(".json"), run / "model.json")
        blocks = {"model": {"srcc": test_srcc, "plcc": test_srcc}, "gmsd": {"srcc": 0.8, "plcc": 0.7}}
        (run / "metrics.json").write_text(json.dumps({**blocks, "split": "test", "sets": ["test"]}))
        (run / "log.csv").write_text("epoch,val_loss,val_srcc\n0,1.0,0.5\n")
        (run / "minutes.txt").write_text("1.00\n")
    data_dir = tmp_path / "data"
    recipe = DemoRecipe(str(data_dir), "configs/attention_synthetic.txt", 32, 4, live_dev=str(folder))
    summary = run_study(recipe, str(out), 2, ["float32"], [], "study").read_text()
    metrics = json.loads((out / "float32_seed0" / "metrics.json").read_text())
    assert metrics["sets"] == ["test", "live_dev"] and list(metrics["live_dev"]["by_type"]) == ["gblur", "jpeg", "wn"]
    assert (out / "float32_seed0" / "live_dev_COPYRIGHT.txt").read_text() == "the notice that travels with the labels\n"
    assert (out / "float32_seed0" / "live_dev_predictions.csv").is_file()  # the labels' copy, beside its notice
    assert (data_dir / ".classic_scores" / "rated.json").is_file()  # the cache is not written beside the folder
    assert not (tmp_path / ".classic_scores").exists()
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns) == ["precision", "seed", "val_srcc", "test_srcc", "test_plcc", "live_dev_srcc",
                                   "live_dev_plcc", "minutes"]
    assert table["live_dev_srcc"].iloc[0] == pytest.approx(table["live_dev_srcc"].iloc[1])  # one model, twice
    assert "| method | test SRCC | live_dev SRCC |" in summary
    haarpsi = metrics["live_dev"]["haarpsi"]["srcc"]
    assert f"| HaarPSI | n/a | {haarpsi:.4f} |" in summary
    part = summary.split("## live_dev: SRCC per distortion type")[1]
    assert "| type | pairs | network, float32 | PSNR | SSIM | MS-SSIM | -GMSD | HaarPSI |" in part
    assert "| gblur | 6 |" in part and "| wn | 6 |" in part
    mtime = (out / "float32_seed0" / "metrics.json").stat().st_mtime_ns
    run_study(recipe, str(out), 2, ["float32"], [], "study")
    assert (out / "float32_seed0" / "metrics.json").stat().st_mtime_ns == mtime  # scored once, then kept


def test_the_demo_reports_live_dev_last_as_a_folder_with_named_types(tmp_path):
    from asna.studies.demo import reported_sets

    folder = rated_folder(tmp_path / "rated", "live")
    assert list(reported_sets(tmp_path / "data")) == ["test", "xtest", "full"]  # no folder: as before
    chosen = reported_sets(tmp_path / "data", folder)["live_dev"]
    assert list(reported_sets(tmp_path / "data", folder)) == ["test", "xtest", "full", "live_dev"]
    assert chosen.folder == folder and chosen.fit == "tile" and chosen.type_names is None
    assert chosen.classic_cache() == tmp_path / "data" / ".classic_scores" / "rated.json"
    assert chosen.photographs() is None
