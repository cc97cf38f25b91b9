"""The IQA training loss: MSE, the PLCC term and the surrogate Spearman term.

``loss = mse_factor * MSE(y, p) + (1 - mse_factor) * (1 - PLCC(y, p)^2)
         + spearman_factor * mean((R(y) - R(p))^2)``

``R`` is either the frozen learned ranker, applied to consecutive groups of its
length L (so a batch must be a multiple of L), or the soft rank, which takes any
batch. Everything is computed in float32, also under mixed precision.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from asna.errors import UserError
from asna.paths import resolve_repo_path
from asna.ranker.models import load_ranker, ranker_length
from asna.ranker.softrank import soft_rank
from asna.tf_metrics import plcc_loss

RankFunction = Callable[[tf.Tensor], tf.Tensor]


def grouped_ranks(ranker: keras.Model, length: int, batch_size: int | None = None) -> RankFunction:
    """Apply a fixed-length ranker to each consecutive group of ``length`` scores."""
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
        return tf.reshape(ranker(groups, training=False), [-1])

    return rank


def softrank_ranks(temperature: float) -> RankFunction:
    """The soft rank over the whole batch, as one group."""
    def rank(scores: tf.Tensor) -> tf.Tensor:
        return soft_rank(tf.reshape(tf.cast(scores, tf.float32), [-1]), temperature)

    return rank


class SurrogateRankingLoss(keras.losses.Loss):
    """The loss in the module docstring, with the rank function chosen by the ``[loss]`` section."""

    def __init__(self, rank_function: RankFunction, mse_factor: float, spearman_factor: float,
                 name: str = "surrogate_ranking_loss"):
        super().__init__(name=name, reduction="sum_over_batch_size")
        self.rank_function = rank_function
        self.mse_factor = float(mse_factor)
        self.spearman_factor = float(spearman_factor)

    def call(self, y_true, y_pred):
        true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        pred = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        mse = tf.reduce_mean(tf.square(true - pred))
        total = self.mse_factor * mse + (1.0 - self.mse_factor) * plcc_loss(true, pred)
        if self.spearman_factor:
            rank_gap = self.rank_function(true) - self.rank_function(pred)
            total += self.spearman_factor * tf.reduce_mean(tf.square(rank_gap))
        # Keras reduces a per-sample loss; give every sample the batch value.
        return tf.fill(tf.shape(true), total)


def build_loss(loss_section, batch_size: int | None = None) -> SurrogateRankingLoss:
    """The loss from a config's ``[loss]`` section (``Section`` or dict)."""
    values = loss_section.as_dict() if hasattr(loss_section, "as_dict") else dict(loss_section)
    if values["ranker"] == "learned":
        ranker = load_ranker(resolve_repo_path(values["ranking_model"]))
        rank_function = grouped_ranks(ranker, ranker_length(ranker), batch_size)
    else:
        if values["softrank_temperature"] <= 0:
            raise UserError("loss.softrank_temperature must be positive")
        rank_function = softrank_ranks(values["softrank_temperature"])
    return SurrogateRankingLoss(rank_function, values["mse_factor"], values["spearman_factor"])
