"""The loss matches its formula on hand-computed numbers, for both rankers."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from asna.core.config import load_config
from asna.core.errors import UserError
from asna.ranker.softrank import soft_rank
from asna.training.losses import SurrogateRankingLoss, build_loss, softrank_ranks

Y = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
P = np.array([1.0, 3.0, 2.0, 5.0], np.float32)
# MSE = 3/4; PLCC^2 = 5.5^2 / (5 * 8.75) = 30.25 / 43.75; rank gaps (0, 1, 1, 0) / L = 4
# -> mean of squares 0.5 / 16.
MSE, ONE_MINUS_PLCC2, RANK_TERM = 0.75, 1 - 30.25 / 43.75, 0.5 / 16


@pytest.mark.parametrize("mse_factor, spearman_factor", [(0.5, 0.1), (1.0, 0.0), (0.0, 1.0), (0.1, 0.01)])
def test_loss_matches_hand_computed_value(mse_factor, spearman_factor):
    loss = SurrogateRankingLoss(softrank_ranks(1e-3), mse_factor, spearman_factor)
    expected = mse_factor * MSE + (1 - mse_factor) * ONE_MINUS_PLCC2 + spearman_factor * RANK_TERM
    assert float(loss(Y[:, None], P[:, None])) == pytest.approx(expected, abs=1e-5)


def test_learned_ranker_loss_close_to_exact_ranks():
    config = load_config(None, ["loss.mse_factor=0.5", "loss.spearman_factor=0.1"])
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=32).astype(np.float32), rng.normal(size=32).astype(np.float32)
    learned = build_loss(config.loss, batch_size=32)(y, p)
    def exact_ranks_per_group(scores):  # the learned ranker ranks each group of 16 on its own
        return tf.reshape(soft_rank(tf.reshape(scores, [-1, 16]), 1e-4), [-1]) / 16.0

    exact = SurrogateRankingLoss(exact_ranks_per_group, 0.5, 0.1)(y, p)
    assert float(learned) == pytest.approx(float(exact), rel=0.05)


def test_loss_gradient_flows_through_the_learned_ranker():
    config = load_config(None, ["loss.mse_factor=0.0", "loss.spearman_factor=1.0"])
    loss = build_loss(config.loss, batch_size=16)
    y = tf.constant(np.linspace(-1, 1, 16), tf.float32)
    p = tf.Variable(np.random.default_rng(1).normal(size=16), dtype=tf.float32)
    with tf.GradientTape() as tape:
        value = loss(y, p)
    gradient = tape.gradient(value, p)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_learned_ranker_refuses_batches_not_multiple_of_its_length():
    config = load_config(None)
    with pytest.raises(UserError, match="batch size 20 is not a multiple of the learned ranker's length 16"):
        build_loss(config.loss, batch_size=20)


def test_softrank_takes_any_batch_size():
    config = load_config(None, ["loss.ranker=softrank"])
    value = build_loss(config.loss, batch_size=20)(np.arange(20.0), np.arange(20.0)[::-1])
    assert np.isfinite(float(value))


def test_missing_learned_ranker_is_a_user_error(tmp_path):
    config = load_config(None, [f"loss.ranking_model='{tmp_path / 'none.keras'}'"])
    with pytest.raises(UserError, match="ranking model not found"):
        build_loss(config.loss, batch_size=16)


def rank_term(loss_values: dict, y, p) -> float:
    """The loss with only its rank term (mse_factor 1 and y == p elsewhere would hide nothing)."""
    loss = build_loss({"mse_factor": 1.0, "spearman_factor": 1.0, **loss_values}, batch_size=len(y))
    return float(loss(y, p)) - float(np.mean((np.asarray(y) - np.asarray(p)) ** 2))


SOFTRANK = {"ranker": "softrank", "ranking_model": "", "softrank_temperature": 0.02}
LEARNED = {"ranker": "learned", "ranking_model": "ranking_model/ranker.keras", "softrank_temperature": 0.02}


@pytest.mark.parametrize("settings", [SOFTRANK, LEARNED], ids=["softrank", "learned"])
def test_rank_term_is_scale_invariant(settings):
    rng = np.random.default_rng(3)
    y, p = rng.normal(size=16).astype(np.float32), rng.normal(size=16).astype(np.float32)
    wide = rank_term(settings, y, p)
    assert wide == pytest.approx(rank_term(settings, y, 0.01 * p + 5.0), abs=0.01)
    exact = np.mean(((stats.rankdata(y) - stats.rankdata(p)) / 16) ** 2)
    assert wide == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("settings, sizes", [(SOFTRANK, (16, 64, 256)), (LEARNED, (16, 64))],
                         ids=["softrank", "learned"])
def test_rank_term_does_not_grow_with_the_batch(settings, sizes):
    """Unrelated orders: E[((R(y) - R(p)) / L)^2] = (L^2 - 1) / (6 L^2), about 1/6 at any L."""
    rng = np.random.default_rng(4)
    for size in sizes:
        values = [rank_term(settings, rng.normal(size=size).astype(np.float32),
                            rng.normal(size=size).astype(np.float32)) for _ in range(20)]
        assert np.mean(values) == pytest.approx((size ** 2 - 1) / (6 * size ** 2), rel=0.25), size


def test_compiled_model_reloads_after_import_asna(tmp_path, tiny_data):
    """A model compiled by training's compile_model, trained and saved, loads with plain Keras."""
    import keras

    from asna.data.layout import open_pairs
    from asna.training.loop import compile_model
    import asna.models  # noqa: F401  (registers the layers, the loss and the metrics)

    config = load_config(None, ["model.network=simple", "model.image_size=32", "model.dense_num=4",
                                "model.nfs=[4, 4, 4, 4, 4, 4, 4, 4, 4, 4]", "training.batch_size=16"])
    model = compile_model(config)
    with open_pairs(tiny_data[0]) as handle:
        pairs, targets = handle["x"][:16], handle["y"][:16]
    model.fit([pairs[:, 0], pairs[:, 1]], targets, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict([pairs[:, 0], pairs[:, 1]], verbose=0),
                               model.predict([pairs[:, 0], pairs[:, 1]], verbose=0), rtol=1e-5, atol=1e-6)
    assert isinstance(reloaded.loss, SurrogateRankingLoss) and reloaded.loss.spearman_factor == 0.01 * 256
    reloaded.fit([pairs[:, 0], pairs[:, 1]], targets, batch_size=16, epochs=1, verbose=0)  # trains on
