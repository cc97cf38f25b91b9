"""NumPy and in-graph metrics agree with SciPy to 1e-6, ties included."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from asna.core import metrics
from asna.training.tf_metrics import abs_plcc_plus_abs_srcc, plcc_loss, tf_average_ranks, tf_plcc, tf_srcc

RNG = np.random.default_rng(7)
CASES = {
    "random": (RNG.normal(size=200), RNG.normal(size=200)),
    "correlated": (np.arange(50.0), np.arange(50.0) ** 1.5 + RNG.normal(size=50)),
    "ties": (np.array([1, 2, 2, 3, 3, 3, 4, 5, 5, 6.0]), np.array([2, 1, 2, 2, 5, 3, 3, 4, 4, 4.0])),
    "anti": (np.arange(16.0), -np.arange(16.0) + RNG.normal(scale=3, size=16)),
}


@pytest.mark.parametrize("name", CASES)
def test_numpy_metrics_match_scipy(name):
    true, pred = CASES[name]
    assert metrics.srcc(true, pred) == pytest.approx(stats.spearmanr(true, pred).statistic, abs=1e-6)
    assert metrics.plcc(true, pred) == pytest.approx(stats.pearsonr(true, pred).statistic, abs=1e-6)
    assert metrics.krcc(true, pred) == pytest.approx(stats.kendalltau(true, pred).statistic, abs=1e-6)
    assert metrics.rmse(true, pred) == pytest.approx(np.sqrt(np.mean((true - pred) ** 2)), abs=1e-6)
    assert metrics.main_score(true, pred) == pytest.approx(
        stats.spearmanr(true, pred).statistic + stats.pearsonr(true, pred).statistic, abs=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_graph_metrics_match_scipy(name):
    true, pred = (np.asarray(v, np.float32) for v in CASES[name])
    assert float(tf_plcc(true, pred)) == pytest.approx(stats.pearsonr(true, pred).statistic, abs=1e-6)
    assert float(tf_srcc(true, pred)) == pytest.approx(stats.spearmanr(true, pred).statistic, abs=1e-6)
    np.testing.assert_allclose(tf_average_ranks(pred).numpy(), stats.rankdata(pred), atol=1e-6)
    expected_main = abs(stats.pearsonr(true, pred).statistic) + abs(stats.spearmanr(true, pred).statistic)
    assert float(abs_plcc_plus_abs_srcc(true, pred)) == pytest.approx(expected_main, abs=1e-6)
    assert float(plcc_loss(true, pred)) == pytest.approx(1 - stats.pearsonr(true, pred).statistic ** 2,
                                                         abs=1e-6)


def test_graph_metrics_compile():
    compiled = tf.function(lambda a, b: abs_plcc_plus_abs_srcc(a, b), jit_compile=False)
    true, pred = CASES["ties"]
    assert float(compiled(tf.constant(true, tf.float32), tf.constant(pred, tf.float32))) > 0


def test_plcc_loss_is_differentiable_and_zero_for_linear_maps():
    true = tf.constant(np.arange(8.0), tf.float32)
    pred = tf.Variable(3.0 * np.arange(8.0) + 1.0, dtype=tf.float32)
    with tf.GradientTape() as tape:
        value = plcc_loss(true, pred)
    assert float(value) == pytest.approx(0.0, abs=1e-6)
    assert tape.gradient(value, pred) is not None


def test_metrics_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.srcc([1, 2, 3], [1, 2])


def test_correlations_with_a_constant_are_undefined_not_zero():
    true, constant = np.arange(6.0), np.full(6, 2.5)
    numbers = metrics.all_metrics(true, constant)
    for key in ("srcc", "plcc", "krcc", "main_score"):
        assert np.isnan(numbers[key]), key
    assert numbers["rmse"] == pytest.approx(np.sqrt(np.mean((true - 2.5) ** 2)))
    assert np.isnan(metrics.srcc(constant, true))
