"""The IQA training loss: MSE, the PLCC term and the surrogate Spearman term.

``loss = mse_factor * MSE(y, p) + (1 - mse_factor) * (1 - PLCC(y, p)^2)
         + spearman_factor * mean(((R(y) - R(p)) / L)^2)``

``R`` maps each group of ``L`` scores to ranks 1..L: either the frozen learned
ranker, applied to consecutive groups of its length L (so a batch must be a
multiple of L), or the soft rank, which takes the whole batch as one group
(L = batch size) and standardises it first. Dividing the rank gap by ``L``
puts ranks on (0, 1], so the term does not grow with the group: for two
unrelated orders its expected value is ``(L^2 - 1) / (6 L^2)``, about 1/6 at
any L, and ``spearman_factor`` means the same at any batch size. (The original
used ``mean((R(y) - R(p))^2)``; at L = 16 a factor ``f`` there is ``256 f`` here,
which is how the shipped configs' factors were converted.) Everything is
computed in float32, also under mixed precision.

The loss is registered with Keras, so ``keras.models.load_model`` reloads a
compiled model after ``import asna.models``; the ranker is rebuilt from the saved
``[loss]`` settings.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from asna.core.errors import UserError
from asna.core.paths import resolve_repo_path
from asna.ranker.models import load_ranker, ranker_length
from asna.ranker.softrank import soft_rank
from asna.training.tf_metrics import plcc_loss

RankFunction = Callable[[tf.Tensor], tf.Tensor]
RANKER_KEYS = ("ranker", "ranking_model", "softrank_temperature")


def grouped_ranks(ranker: keras.Model, length: int, batch_size: int | None = None) -> RankFunction:
    """Apply a fixed-length ranker to each consecutive group of ``length`` scores; ranks / length."""
    if batch_size is not None and batch_size % length != 0:
        raise UserError(f"batch size {batch_size} is not a multiple of the learned ranker's length "
                        f"{length}: set training.batch_size to a multiple of {length}, "
                        f"or use loss.ranker = softrank")

    def rank(scores: tf.Tensor) -> tf.Tensor:
        flat = tf.reshape(tf.cast(scores, tf.float32), [-1])
        tf.debugging.assert_equal(tf.size(flat) % length, 0, message=(
            f"the learned ranker needs batches that are a multiple of {length}; "
            f"use drop_remainder batching or loss.ranker = softrank"))
        groups = tf.reshape(flat, [-1, length])
        return tf.reshape(ranker(groups, training=False), [-1]) / float(length)

    return rank


def softrank_ranks(temperature: float) -> RankFunction:
    """The soft rank over the whole batch, as one group; ranks / batch size."""
    def rank(scores: tf.Tensor) -> tf.Tensor:
        flat = tf.reshape(tf.cast(scores, tf.float32), [-1])
        return soft_rank(flat, temperature) / tf.cast(tf.size(flat), tf.float32)

    return rank


def make_rank_function(loss_values: dict[str, Any], batch_size: int | None = None) -> RankFunction:
    """The rank function the ``[loss]`` values name (``ranker`` and its settings)."""
    if loss_values["ranker"] == "learned":
        ranker = load_ranker(resolve_repo_path(loss_values["ranking_model"]))
        return grouped_ranks(ranker, ranker_length(ranker), batch_size)
    if loss_values["softrank_temperature"] <= 0:
        raise UserError("loss.softrank_temperature must be positive")
    return softrank_ranks(loss_values["softrank_temperature"])


@keras.saving.register_keras_serializable(package="asna")
class SurrogateRankingLoss(keras.losses.Loss):
    """The loss in the module docstring, with the rank function chosen by the ``[loss]`` section.

    ``rank_function`` returns ranks divided by their group length. ``ranker``
    holds the ``[loss]`` settings it was made from (``ranker``, ``ranking_model``,
    ``softrank_temperature``); with them the loss can be saved and rebuilt.
    """

    def __init__(self, rank_function: RankFunction | None = None, mse_factor: float = 1.0,
                 spearman_factor: float = 0.0, name: str = "surrogate_ranking_loss",
                 ranker: dict[str, Any] | None = None, **kwargs):
        kwargs.setdefault("reduction", "sum_over_batch_size")
        super().__init__(name=name, **kwargs)
        self.mse_factor = float(mse_factor)
        self.spearman_factor = float(spearman_factor)
        self.ranker = dict(ranker) if ranker else None
        self.rank_function = rank_function
        self._missing_ranker = ""
        if rank_function is None and self.spearman_factor and self.ranker:
            try:
                self.rank_function = make_rank_function(self.ranker)
            except UserError as error:  # scoring a reloaded model needs no ranker; training does
                self._missing_ranker = str(error)

    def call(self, y_true, y_pred):
        true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        pred = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        mse = tf.reduce_mean(tf.square(true - pred))
        total = self.mse_factor * mse + (1.0 - self.mse_factor) * plcc_loss(true, pred)
        if self.spearman_factor:
            if self.rank_function is None:
                raise UserError(self._missing_ranker or "this loss was saved without its ranker settings")
            rank_gap = self.rank_function(true) - self.rank_function(pred)
            total += self.spearman_factor * tf.reduce_mean(tf.square(rank_gap))
        # Keras reduces a per-sample loss; give every sample the batch value.
        return tf.fill(tf.shape(true), total)

    def get_config(self) -> dict:
        return {**super().get_config(), "mse_factor": self.mse_factor,
                "spearman_factor": self.spearman_factor, "ranker": self.ranker}


def build_loss(loss_section, batch_size: int | None = None) -> SurrogateRankingLoss:
    """The loss from a config's ``[loss]`` section (``Section`` or dict)."""
    values = loss_section.as_dict() if hasattr(loss_section, "as_dict") else dict(loss_section)
    settings = {key: values[key] for key in RANKER_KEYS}
    ranks = make_rank_function(settings, batch_size) if values["spearman_factor"] else None
    return SurrogateRankingLoss(ranks, values["mse_factor"], values["spearman_factor"], ranker=settings)
