"""benchmarks/per_reference.py: the pooled SRCC split into each reference's ranking and its offset."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_script


def write_predictions(path, shift: float):
    """Two references with the same five conditions; the model orders each perfectly, but scores
    every pair of ``b`` ``shift`` higher; GMSD (a distortion) is the labels' exact mirror."""
    labels = np.array([1.0, 2.0, 3.0, 4.0, 5.0] * 2)
    references = ["a.png"] * 5 + ["b.png"] * 5
    model = labels + np.array([0.0] * 5 + [shift] * 5)
    pd.DataFrame({"name": [f"{r[0]}_{i}.png" for i, r in enumerate(references)], "reference": references,
                  "source": "", "mos": labels, "model": model, "gmsd": -labels}).to_csv(path, index=False)


def test_an_offset_between_references_costs_the_pooled_srcc_not_the_within_one(tmp_path):
    from asna.evaluation.per_reference import per_reference, read_predictions

    write_predictions(tmp_path / "p.csv", shift=2.5)
    report = per_reference(*read_predictions(tmp_path / "p.csv"))
    model, gmsd = report["model"], report["-gmsd"]
    assert model["within"] == pytest.approx(1.0) and model["pooled"] < 0.95
    assert gmsd["pooled"] == pytest.approx(1.0) and gmsd["within"] == pytest.approx(1.0)  # negated, as in tables
    assert {name: row["srcc"] for name, row in model["references"].items()} == pytest.approx({"a.png": 1, "b.png": 1})
    assert model["references"]["b.png"]["offset"] > 0 > model["references"]["a.png"]["offset"]
    assert model["references"]["a.png"]["offset"] == pytest.approx(-model["references"]["b.png"]["offset"])
    assert gmsd["references"]["b.png"]["offset"] == pytest.approx(0.0)


def test_the_script_prints_each_file_then_the_models_spread_and_refuses_a_csv_without_labels(tmp_path):
    for shift in (0.0, 2.5):
        write_predictions(tmp_path / f"shift{shift}.csv", shift)
    files = [str(tmp_path / "shift0.0.csv"), str(tmp_path / "shift2.5.csv")]
    result = run_script("benchmarks/per_reference.py", *files, "--json", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "model over 2 files: pooled" in result.stdout and "within 1.0000 ± 0.0000" in result.stdout
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved[files[0]]["model"]["pooled"] == pytest.approx(1.0)
    pd.DataFrame({"reference": ["a.png"], "model": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    bad = run_script("benchmarks/per_reference.py", str(tmp_path / "bad.csv"))
    assert bad.returncode != 0 and f"{tmp_path / 'bad.csv'}: no mos column" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
