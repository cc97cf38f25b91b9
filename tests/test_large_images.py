"""Large pairs: scored a chunk of tiles at a time (bounded memory) with a progress bar of tiles.

The memory test scores a 6000 x 6000 pair (35,344 tiles of the tiny model's
32 px) in a fresh process and bounds how far its peak resident memory rises
during the call: stacking every tile of the pair at once, as scoring did
before, raised it by about 440 MB; a chunk at a time raises it by about 20 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import asna
from asna.evaluation import scorer as scoring
from conftest import REPO_ROOT
from tiny_models import IMAGE_SIZE, noisy_pairs, tiny_trained_model

SIDE = 6000
RISE_LIMIT_MB = 120
"""Peak-memory rise allowed while the large pair is scored; all its tiles at once take 217 MB uint8 alone."""

PROBE = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import asna

    model, side = sys.argv[1], int(sys.argv[2])
    metric = asna.load_metric(models=model)
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    distorted = reference.copy()
    distorted[::7] = 255 - distorted[::7]
    small = metric.score(reference[:64, :64], distorted[:64, :64])  # traced and warm before the measure
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    score = metric.score(reference, distorted)
    rise = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"score": score, "rise_mb": rise, "seconds": time.perf_counter() - start}))
""")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_trained_model(tmp_path_factory.getbasetemp())


@pytest.mark.slow
def test_a_6000_pixel_pair_is_scored_in_bounded_memory(model_path):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE, str(model_path), str(SIDE)], capture_output=True,
                            text=True, timeout=300, env=environment, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert np.isfinite(figures["score"])
    assert figures["rise_mb"] < RISE_LIMIT_MB, figures


def test_chunks_give_the_scores_of_one_stack(model_path, monkeypatch):
    """Tiles cut and scored a few at a time (across pairs and shapes) score as all at once."""
    metric = asna.load_metric(models=model_path, tta="flips")
    rng = np.random.default_rng(3)
    references = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((100, 70, 3), (64, 64, 3), (40, 90, 3))]
    distorted = [np.clip(r + rng.normal(0, 20, r.shape), 0, 255).astype(np.uint8) for r in references]
    whole = metric.scorer.tile_scores(references, distorted, "flips", "tile")
    monkeypatch.setattr(scoring, "CHUNK_PIXELS", 3 * IMAGE_SIZE * IMAGE_SIZE)  # 3 tiles a chunk
    chunked = metric.scorer.tile_scores(references, distorted, "flips", "tile")
    assert [pair.scores.shape[1] for pair in chunked] == [12, 4, 6]
    for one, other in zip(whole, chunked):
        np.testing.assert_allclose(one.scores, other.scores, rtol=1e-5, atol=1e-6)


def test_a_slow_pair_shows_tiles_scored_and_time_left(model_path, monkeypatch, capsys):
    metric = asna.load_metric(models=model_path)
    references, distorted = noisy_pairs(1, size=IMAGE_SIZE * 4)
    capsys.readouterr()
    monkeypatch.setattr(scoring, "PROGRESS_DELAY", 0.0)
    metric.scorer.score_pairs(references, distorted, progress=True)
    shown = capsys.readouterr().err
    assert "scoring" in shown and "16/16" in shown and "tile/s" in shown
    metric.scorer.score_pairs(references, distorted, progress=False)
    assert capsys.readouterr().err == ""


def test_a_quick_pair_shows_no_bar(model_path, capsys):
    metric = asna.load_metric(models=model_path)
    references, distorted = noisy_pairs(1, size=IMAGE_SIZE * 2)
    capsys.readouterr()
    metric.scorer.score_pairs(references, distorted, progress=True)  # done well inside PROGRESS_DELAY
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_the_benchmark_prints_seconds_and_memory_of_each_case(model_path):
    from conftest import run_script

    result = run_script("benchmarks/single_pair_memory.py", "--sizes", "96x64", "--tta", "none",
                        "--models", str(model_path), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (case,) = json.loads(result.stdout.strip().splitlines()[-1])["cases"]
    assert case["size"] == "96x64" and case["tta"] == "none" and case["seconds"] >= 0
    assert case["peak_mib"] >= case["rise_mib"] >= 0 and np.isfinite(case["score"])
    assert "96x64" in result.stdout.splitlines()[1] and "peak" in result.stdout.splitlines()[1]
    refused = run_script("benchmarks/single_pair_memory.py", "--sizes", "96by64", timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        "error: '96by64': give a size as WIDTHxHEIGHT, e.g. 1920x1080")
