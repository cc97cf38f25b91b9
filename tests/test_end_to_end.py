"""The whole user path, script by script, at 32 x 32: build the built-in set, train, evaluate.

One test, run from a scratch folder (not the repository) the way the README's
commands are run: each step uses the files the step before it wrote. The
network trains on the training photographs, keeps its best epoch on the
validation ones and must rank the test photographs' pairs clearly better than
a constant would (SRCC 0.516 on the 2-core development machine, seeded; the
test asks for 0.3); the HDF5 path and the challenge-folder path must give the
same score to every test pair.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest

from conftest import REPO_ROOT, run_script

SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+(?:\.\d+)?) \(TTA \w+: \d+ variants?\)$", re.MULTILINE)
NTIRE_LINE = re.compile(r"A\d{4}_\d\d_\d\d\.bmp,-?\d+\.\d+")
METRIC_KEYS = ["srcc", "plcc", "krcc", "rmse", "main_score"]
MIN_TEST_SRCC = 0.3  # a constant scores 0 (undefined); the seeded tiny run reaches 0.516


def run_step(timings: dict[str, float], name: str, script: str, *arguments: str, cwd: Path):
    """Run one script from ``cwd``; fail with the end of its output unless it exits 0."""
    started = time.perf_counter()
    result = run_script(script, *arguments, cwd=cwd, timeout=600)
    timings[name] = time.perf_counter() - started
    assert result.returncode == 0, (f"{script} exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
                                    f"\n--- stderr\n{result.stderr[-3000:]}")
    return result


def pair_count(path: Path) -> int:
    with h5py.File(path, "r") as handle:
        return int(handle["x"].shape[0])


@pytest.mark.slow
def test_build_train_and_evaluate_with_the_scripts(tmp_path):
    timings: dict[str, float] = {}
    data, export, run = tmp_path / "data", tmp_path / "export", tmp_path / "run"
    model = run / "model.keras"

    # (1) the built-in synthetic set, also exported as a challenge-style folder
    run_step(timings, "create_data_synthetic", "prepare_dataset/create_data_synthetic.py",
             "--out", str(data), "--image-size", "32", "--crops-per-image", "1", "--workers", "1",
             "--export-images", str(export), "--no-full", cwd=tmp_path)
    train_file, val_file, test_file = (data / f"synthetic_{split}.h5" for split in ("train", "val", "test"))
    train_pairs, val_pairs, test_pairs = pair_count(train_file), pair_count(val_file), pair_count(test_file)
    assert train_pairs > 0 and val_pairs > 0 and test_pairs > 0
    assert pair_count(data / "synthetic_xtest.h5") == test_pairs
    references = sorted(path.name for path in (export / "Ref").iterdir())
    distorted = sorted(path.name for path in (export / "Dis").iterdir())
    assert references[0] == "A0001.bmp" and all(name.endswith(".bmp") for name in references + distorted)
    assert len(distorted) == train_pairs + val_pairs + test_pairs
    labels = (export / "labels.txt").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in labels) == distorted
    assert all(1.0 <= float(line.split(",")[1]) <= 5.0 for line in labels)

    # (2) train the attention network for four short epochs, the best one chosen on validation
    result = run_step(timings, "train_attention", "train_attention.py",
                      "--config", str(REPO_ROOT / "configs" / "attention_synthetic.txt"),
                      "--set", f"data.train='{train_file}'", "--set", f"data.val='{val_file}'",
                      "--set", "model.image_size=32", "--set", "training.epochs=4",
                      "--set", "training.steps_per_epoch=40", "--set", f"training.model_path='{model}'",
                      cwd=tmp_path)
    assert "best model on validation loss" in result.stdout
    assert model.is_file() and model.stat().st_size > 0
    info = json.loads((run / "model.json").read_text())
    assert info["network"] == "attention" and info["image_size"] == 32
    assert set(info["standardization"]) == {"synthetic"}
    log = pd.read_csv(run / "log.csv")
    assert list(log["epoch"]) == [0, 1, 2, 3] and {"loss", "val_loss", "val_srcc"} <= set(log.columns)
    assert all(math.isfinite(value) for value in log["loss"])
    assert (run / "training_curves.png").stat().st_size > 0

    # (3) the labelled test set: the model beside PSNR, SSIM, MS-SSIM, GMSD and HaarPSI; it has learned to rank
    out = tmp_path / "out"
    report, table, scatter = out / "report.json", out / "pairs.csv", out / "scatter.png"
    result = run_step(timings, "evaluation_dataset", "evaluation_dataset.py", "--data", str(test_file),
                      "--models", str(model), "--tta", "none", "--json", str(report), "--csv", str(table),
                      "--plot", str(scatter), cwd=tmp_path)
    assert "main score" in result.stdout
    blocks = json.loads(report.read_text())
    by_type = blocks.pop("by_type")
    assert list(blocks) == ["model", "psnr", "ssim", "ms_ssim", "gmsd", "haarpsi"]
    # per-type SRCC for the model and every baseline, one entry per stored distortion type
    assert len(by_type) >= 2
    assert all({"name", "pairs", *blocks} == set(block) and block["pairs"] > 0 for block in by_type.values())
    for method, numbers in blocks.items():
        assert list(numbers) == METRIC_KEYS, method
        assert all(numbers[key] is not None and math.isfinite(numbers[key]) for key in METRIC_KEYS), method
    assert blocks["model"]["srcc"] > MIN_TEST_SRCC, blocks["model"]
    rows = pd.read_csv(table)
    assert len(rows) == test_pairs and rows["model"].std() > 0.1
    assert list(rows.columns) == ["name", "reference", "source", "mos", "model", "psnr", "ssim", "ms_ssim",
                                  "gmsd", "haarpsi"]
    assert scatter.stat().st_size > 0

    # (4) the challenge folder: one name,score line per distorted image, sorted by name
    output = out / "output.txt"
    run_step(timings, "evaluation_ntire", "evaluation_ntire.py", "--ref-dir", str(export / "Ref"),
             "--dis-dir", str(export / "Dis"), "--out", str(output), "--models", str(model), "--tta", "none",
             cwd=tmp_path)
    lines = output.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == distorted
    assert all(NTIRE_LINE.fullmatch(line) for line in lines), lines[:3]
    # the same test pairs scored from the HDF5 file and from the folder agree (4 decimals are written)
    folder_scores = dict(line.split(",") for line in lines)
    from_folder = rows["name"].map(lambda name: float(folder_scores[name]))
    assert (from_folder - rows["model"]).abs().max() < 2e-3

    # (5) one pair with flip test-time augmentation
    first = sorted((export / "Dis").glob("A0001_*"))[0]
    result = run_step(timings, "evaluation_single_image", "evaluation_single_image.py",
                      "--ref", str(export / "Ref" / "A0001.bmp"), "--distorted", str(first),
                      "--models", str(model), "--tta", "flips", cwd=tmp_path)
    match = SCORE_LINE.search(result.stdout)
    assert match, result.stdout
    assert math.isfinite(float(match.group(1)))
    print("step seconds: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))


def test_demo_verdict_names_every_baseline_of_the_report():
    from asna.studies.demo import verdict

    def report(model: float, **baselines: float | None) -> dict:
        return {"model": {"srcc": model}, **{name: {"srcc": value} for name, value in baselines.items()}}

    line = verdict({"test": report(0.8, psnr=0.6, ssim=0.7, ms_ssim=0.76, gmsd=0.79),
                    "xtest": report(0.81, psnr=0.65, ssim=0.72, ms_ssim=0.8, gmsd=0.8)})
    assert line.endswith("-> the network beats PSNR, SSIM, MS-SSIM, -GMSD on test and xtest")
    assert "test network 0.8000, PSNR 0.6000" in line and "xtest network 0.8100" in line
    line = verdict({"test": report(0.8, psnr=0.6, ms_ssim=0.85), "xtest": report(0.7, psnr=0.75, ms_ssim=None)})
    assert line.endswith("-> the network does NOT beat MS-SSIM on test, PSNR on xtest")
