"""The surrogate ranker: data, both architectures, soft rank, scripts and the committed model."""

import json

import numpy as np
import pytest
from scipy import stats

from asna.ranker.data import make_rank_vectors, ranks_of
from asna.ranker.evaluation import surrogate_spearman, true_spearman
from asna.ranker.models import build_ranker
from asna.ranker.softrank import soft_rank
from conftest import REPO_ROOT, error_lines, run_script


def test_generated_ranks_match_scipy_and_mix_both_distributions():
    vectors, ranks = make_rank_vectors(1000, 16, np.random.default_rng(0))
    expected = np.stack([stats.rankdata(row) for row in vectors])
    np.testing.assert_array_equal(ranks, expected)
    assert ranks.dtype == np.float32
    assert np.abs(vectors[1::2]).max() <= 10.0  # the uniform half
    assert np.abs(vectors[0::2]).max() > 4.0  # the N(0, 2) half has tails
    assert vectors[0::2].std() == pytest.approx(2.0, rel=0.05)


def test_ranks_of_small_example():
    np.testing.assert_array_equal(ranks_of(np.array([[0.3, -1.0, 2.0, 0.1]])), [[3, 1, 4, 2]])


@pytest.mark.parametrize("architecture", ["original", "pairwise"])
def test_architectures_map_length_to_length(architecture):
    model = build_ranker(architecture, 16)
    assert model.predict(np.zeros((3, 16), np.float32), verbose=0).shape == (3, 16)


def test_soft_rank_approaches_exact_ranks():
    values = np.array([[0.5, -2.0, 1.0, 3.0]], np.float32)
    np.testing.assert_allclose(soft_rank(values, 1e-3).numpy(), [[2, 1, 3, 4]], atol=1e-5)
    assert float(soft_rank(values, 10.0).numpy().std()) < 0.2  # very smooth: nearly all equal


def test_surrogate_spearman_is_exact_for_exact_ranks():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 16)), rng.normal(size=(50, 16))
    np.testing.assert_allclose(surrogate_spearman(ranks_of(a), ranks_of(b)), true_spearman(a, b), atol=1e-6)


def test_train_script_writes_a_loadable_ranker(tmp_path):
    out = tmp_path / "tiny.keras"
    result = run_script("ranking_model/train.py", "--architecture", "pairwise", "--num-data", "2000",
                        "--epochs", "2", "--batch-size", "256", "--fresh-data", "--schedule", "cosine",
                        "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file()
    assert (tmp_path / "tiny.log.csv").read_text().count("\n") == 3  # header + 2 epochs
    assert not list(tmp_path.glob(".tiny*"))  # no temporary files left
    check = run_script("ranking_model/test.py", "--model", str(out), "--num-tests", "50", "--json")
    assert check.returncode == 0, check.stderr[-2000:]
    assert set(json.loads(check.stdout.strip().splitlines()[-1])) >= {"learned_mae", "softrank_mae"}


def test_committed_ranker_meets_the_required_accuracy():
    result = run_script("ranking_model/test.py", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["num_tests"] == 1000 and figures["length"] == 16
    assert figures["learned_mae"] <= 0.02
    assert figures["softrank_mae"] <= 0.02


@pytest.mark.parametrize("content", [None, b"not a keras archive"])
def test_missing_or_unreadable_model_is_one_line(tmp_path, content):
    path = tmp_path / "ranker.keras"
    if content is not None:
        path.write_bytes(content)
    result = run_script("ranking_model/test.py", "--model", str(path))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")


def test_committed_ranker_is_in_the_repository():
    assert (REPO_ROOT / "ranking_model" / "ranker.keras").is_file()
