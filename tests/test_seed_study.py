"""The demo-over-seeds study: its figures, and that finished runs are kept, not trained again."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from asna.seed_study import run_study


def finished_run(folder, test_srcc: float, xtest_srcc: float, val_srccs: list[float], val_losses: list[float]):
    """A run folder as demo.py leaves it: the parts of metrics.json and log.csv the study reads."""
    folder.mkdir(parents=True)
    blocks = {"model": {"srcc": test_srcc, "plcc": test_srcc - 0.02},
              "psnr": {"srcc": 0.60, "plcc": 0.5}, "gmsd": {"srcc": 0.80, "plcc": 0.7}}
    xtest = {"model": {"srcc": xtest_srcc, "plcc": xtest_srcc - 0.01},
             "psnr": {"srcc": 0.65, "plcc": 0.5}, "gmsd": {"srcc": 0.81, "plcc": 0.7}}
    (folder / "metrics.json").write_text(json.dumps({**blocks, "split": "test", "xtest": xtest}))
    pd.DataFrame({"epoch": range(len(val_losses)), "val_loss": val_losses, "val_srcc": val_srccs}).to_csv(
        folder / "log.csv", index=False)
    (folder / "minutes.txt").write_text("4.00\n")


def test_finished_runs_are_summarised_without_training(tmp_path):
    out = tmp_path / "study"
    finished_run(out / "float32_seed0", 0.80, 0.82, [0.5, 0.7, 0.6], [1.0, 0.5, 0.6])
    finished_run(out / "float32_seed1", 0.84, 0.86, [0.4, 0.8], [1.0, 0.9])
    summary = run_study(str(tmp_path / "no_data_needed"), str(out), "configs/attention_synthetic.txt", 64, 4,
                        2, ["float32"], [], "python benchmarks/demo_seeds.py --seeds 2")
    assert not (tmp_path / "no_data_needed").exists()  # nothing was built or trained
    table = pd.read_csv(out / "results.csv")
    assert list(table["seed"]) == [0, 1]
    assert list(table["val_srcc"]) == [0.7, 0.8]  # the epoch kept: lowest val_loss
    text = summary.read_text()
    # mean 0.82, sample sd of (0.80, 0.84) = 0.0283
    assert "| float32 | 2 | 0.7500 ± 0.0707 | 0.8200 ± 0.0283 |" in text
    assert "| -GMSD | 0.8000 | 0.8100 |" in text and "| PSNR | 0.6000 | 0.6500 |" in text


def test_zero_seeds_is_refused(tmp_path):
    from asna.errors import UserError

    with pytest.raises(UserError, match="--seeds 0 --precisions float32: need at least one of each"):
        run_study(str(tmp_path), str(tmp_path / "out"), "configs/attention_synthetic.txt", 64, 4, 0,
                  ["float32"], [], "")
