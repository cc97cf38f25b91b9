"""A ranker that needs no training: the soft rank of every element.

``rank_i = 1/2 + sum_j sigmoid((z_i - z_j) / temperature)`` with ``z`` the values
standardised along the ranked axis (``(x - mean) / (std + 1e-6)``); the ``j = i``
term adds 1/2, so exact ranks 1..L come out as the temperature goes to zero.
Standardising first makes the temperature relative to the spread of the values,
so predictions with a standard deviation of 0.01 are ranked as sharply as ones
with 1 (ranks never change under a positive affine map). It works for any batch
size, unlike the learned ranker's fixed length.
"""

from __future__ import annotations

import keras
import tensorflow as tf

STANDARDIZE_EPSILON = 1e-6


def soft_rank(values: tf.Tensor, temperature: float) -> tf.Tensor:
    """Soft ranks along the last axis of ``values`` (any leading shape)."""
    values = tf.cast(values, tf.float32)
    mean, variance = tf.nn.moments(values, axes=[-1], keepdims=True)
    values = (values - mean) / (tf.sqrt(variance) + STANDARDIZE_EPSILON)
    differences = (values[..., :, None] - values[..., None, :]) / temperature
    return 0.5 + tf.reduce_sum(tf.sigmoid(differences), axis=-1)


@keras.saving.register_keras_serializable(package="asna")
class SoftRank(keras.layers.Layer):
    """``soft_rank`` as a layer, so it can be used wherever a ranker model is."""

    def __init__(self, temperature: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"softrank temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def call(self, inputs):
        return soft_rank(inputs, self.temperature)

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature}
