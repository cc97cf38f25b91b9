"""The model shipped in models/: what the card says, and the scripts and the API use it with no --models."""

import json
import re

import numpy as np
import pytest

from conftest import REPO_ROOT, run_script

MODELS = REPO_ROOT / "models"
SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+(?:\.\d+)?) \(TTA \w+: \d+ variants?\)$", re.MULTILINE)


def test_models_holds_one_pooled_network_with_its_sidecar_and_card():
    models = sorted(MODELS.glob("*.keras"))
    assert [path.name for path in models] == ["asna_built_in.keras"]
    info = json.loads((MODELS / "asna_built_in.json").read_text())
    assert info["network"] == "attention" and info["head"] == "pooled" and info["image_size"] == 64
    card = (MODELS / "README.md").read_text()
    assert "make model" in card or "demo_seeds.py" in card
    assert "What it is not" in card and "| full |" in card


@pytest.fixture(scope="module")
def photograph_pair(tmp_path_factory):
    """A test photograph at its own resolution (a 256 x 192 window of clock) and its blurred versions."""
    import cv2
    import skimage.data

    from asna.data.distortions import distort

    folder = tmp_path_factory.mktemp("shipped")
    reference = np.repeat(skimage.data.clock()[54:246, 72:328, None], 3, axis=2)
    cv2.imwrite(str(folder / "reference.png"), reference[..., ::-1])
    for level in (1, 3, 5):
        blurred = distort(reference, 1, level, seed=(0,))
        cv2.imwrite(str(folder / f"blur_{level}.png"), blurred[..., ::-1])
    return folder


def test_the_single_image_script_scores_with_the_shipped_model_by_default(photograph_pair):
    import asna

    reference, distorted = photograph_pair / "reference.png", photograph_pair / "blur_3.png"
    result = run_script("evaluation_single_image.py", "--ref", str(reference), "--distorted", str(distorted),
                        cwd=photograph_pair)
    assert result.returncode == 0, result.stderr[-2000:]
    match = SCORE_LINE.search(result.stdout)
    assert match, result.stdout
    # the script's defaults: the shipped model, 22-variant TTA, tiles pooled by the worse half
    metric = asna.load_metric(tta="full")
    assert [path.resolve() for path in metric.model_paths] == [(MODELS / "asna_built_in.keras").resolve()]
    assert float(match.group(1)) == pytest.approx(metric.score(str(reference), str(distorted)), abs=1e-3)
    # stronger blur, lower quality, on a photograph the model never trained on, at its own size
    scores = [metric.score(str(reference), str(photograph_pair / f"blur_{level}.png")) for level in (1, 3, 5)]
    assert scores[0] > scores[1] > scores[2], scores


def test_asna_score_uses_the_shipped_model_and_the_apis_tta_whatever_the_current_folder_holds(
        photograph_pair, tmp_path):
    """A models/ folder where the command starts is not a default: it may hold anything."""
    import os
    import subprocess
    import sys

    import asna

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "unrelated.keras").write_bytes(b"not a model")
    (tmp_path / "models" / "unrelated.json").write_text("{ not json")
    reference, distorted = photograph_pair / "reference.png", photograph_pair / "blur_3.png"
    code = ("import sys; from asna.api.console import score_pair; "
            f"sys.argv = ['asna-score', {str(reference)!r}, {str(distorted)!r}]; score_pair()")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    match = SCORE_LINE.search(result.stdout)
    assert match and match.group(0).endswith("(TTA none: 1 variant)"), result.stdout
    metric = asna.load_metric()  # the API's defaults are the command's
    assert metric.tta == "none"
    assert float(match.group(1)) == pytest.approx(metric.score(str(reference), str(distorted)), abs=1e-4)
